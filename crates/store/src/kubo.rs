//! A store backed by a Kubo node's RPC API (e.g. `http://127.0.0.1:5001`).
//!
//! * `put`: `POST /api/v0/add?cid-version=1&pin=true` (multipart, one file part); the CID that
//!   Kubo answers must equal [`crate::cid_of`] of the bytes, or the put fails.
//! * `get`: `POST /api/v0/cat?arg=<cid>`; the CID of the bytes is recomputed and checked.
//! * `has`: `POST /api/v0/pin/ls?arg=<cid>&type=recursive` (what `put` pinned; never fetches
//!   from the network).

use std::time::Duration;

use ureq::Agent;

use crate::{cid_of, verify, ArtifactStore, Cid, Error, Result};

/// Default time limit for one RPC request.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);

/// A content-addressed store on a Kubo node.
#[derive(Debug, Clone)]
pub struct KuboStore {
    base: String,
    agent: Agent,
}

impl KuboStore {
    /// `api` is the RPC API's base URL, e.g. `http://127.0.0.1:5001` (plain HTTP).
    pub fn new(api: &str) -> Self {
        Self::with_timeout(api, DEFAULT_TIMEOUT)
    }

    pub fn with_timeout(api: &str, timeout: Duration) -> Self {
        let agent: Agent = Agent::config_builder()
            .timeout_global(Some(timeout))
            .http_status_as_error(false)
            .build()
            .into();
        KuboStore {
            base: api.trim_end_matches('/').to_string(),
            agent,
        }
    }

    pub fn url(&self) -> &str {
        &self.base
    }

    /// POSTs to `/api/v0/<cmd>?<query>` and returns (status, body).
    fn post(
        &self,
        cmd_query: &str,
        content_type: Option<&str>,
        body: &[u8],
    ) -> Result<(u16, Vec<u8>)> {
        let url = format!("{}/api/v0/{cmd_query}", self.base);
        let http_err = |e: ureq::Error| Error::Http {
            url: url.clone(),
            reason: e.to_string(),
        };
        let req = self.agent.post(&url);
        let mut resp = match content_type {
            Some(ct) => req.header("Content-Type", ct).send(body),
            None => req.send_empty(),
        }
        .map_err(http_err)?;
        let status = resp.status().as_u16();
        let bytes = resp
            .body_mut()
            .with_config()
            .limit(u64::MAX)
            .read_to_vec()
            .map_err(http_err)?;
        Ok((status, bytes))
    }

    fn status_error(&self, cmd: &str, status: u16, body: &[u8]) -> Error {
        Error::Http {
            url: format!("{}/api/v0/{cmd}", self.base),
            reason: format!("HTTP {status}: {}", String::from_utf8_lossy(body).trim()),
        }
    }
}

fn multipart(boundary: &str, bytes: &[u8]) -> Vec<u8> {
    let mut body = Vec::with_capacity(bytes.len() + 256);
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"artifact\"\r\n\
             Content-Type: application/octet-stream\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    body
}

impl ArtifactStore for KuboStore {
    fn put(&self, bytes: &[u8]) -> Result<Cid> {
        let ours = cid_of(bytes);
        // The boundary must not occur in the payload; derive it from the content's digest.
        let boundary = format!("zkopml-{}", &ours.to_string()[4..36]);
        let ct = format!("multipart/form-data; boundary={boundary}");
        let cmd = "add?cid-version=1&pin=true&quieter=true";
        let (status, body) = self.post(cmd, Some(&ct), &multipart(&boundary, bytes))?;
        if status != 200 {
            return Err(self.status_error(cmd, status, &body));
        }
        // One JSON object per line; with `quieter` only the root: {"Name":..,"Hash":..,"Size":..}.
        let text = String::from_utf8_lossy(&body);
        let hash = text
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter_map(|v| v.get("Hash").and_then(|h| h.as_str()).map(str::to_string))
            .next_back()
            .ok_or_else(|| Error::Http {
                url: format!("{}/api/v0/add", self.base),
                reason: format!("no \"Hash\" in the answer: {}", text.trim()),
            })?;
        if hash != ours.to_string() {
            return Err(Error::KuboCidMismatch {
                url: self.base.clone(),
                kubo: hash,
                ours,
            });
        }
        tracing::debug!(cid = %ours, size = bytes.len(), api = %self.base, "added to Kubo");
        Ok(ours)
    }

    fn get(&self, cid: &Cid) -> Result<Vec<u8>> {
        let cmd = format!("cat?arg={cid}");
        let (status, body) = self.post(&cmd, None, b"")?;
        if status != 200 {
            return Err(self.status_error(&cmd, status, &body));
        }
        verify(cid, &body, &format!("Kubo at {}", self.base))?;
        Ok(body)
    }

    fn has(&self, cid: &Cid) -> Result<bool> {
        let cmd = format!("pin/ls?arg={cid}&type=recursive");
        let (status, body) = self.post(&cmd, None, b"")?;
        match status {
            200 => Ok(true),
            // Kubo answers 500 with `... is not pinned` for a CID it does not pin.
            500 if String::from_utf8_lossy(&body).contains("not pinned") => Ok(false),
            _ => Err(self.status_error(&cmd, status, &body)),
        }
    }
}
