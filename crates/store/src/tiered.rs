//! The node's store: the local directory in front of an optional Kubo node.

use crate::{ArtifactStore, Cid, Error, KuboStore, LocalStore, Result};

/// The local store, and behind it (when the user points the node at one) a Kubo node. A put
/// goes to both, so that other nodes can fetch the artifact over IPFS; a get is served by the
/// local copy when there is one, else by Kubo (checked against the CID by [`KuboStore`]) and
/// then kept locally, so each artifact crosses the network once.
#[derive(Debug, Clone)]
pub struct TieredStore {
    local: LocalStore,
    kubo: Option<KuboStore>,
}

impl TieredStore {
    pub fn new(local: LocalStore, kubo: Option<KuboStore>) -> Self {
        TieredStore { local, kubo }
    }

    pub fn local(&self) -> &LocalStore {
        &self.local
    }

    pub fn kubo(&self) -> Option<&KuboStore> {
        self.kubo.as_ref()
    }
}

impl ArtifactStore for TieredStore {
    fn put(&self, bytes: &[u8]) -> Result<Cid> {
        let cid = self.local.put(bytes)?;
        if let Some(k) = &self.kubo {
            k.put(bytes)?;
        }
        Ok(cid)
    }

    fn put_file(&self, path: &std::path::Path) -> Result<Cid> {
        let cid = self.local.put_file(path)?;
        if let Some(k) = &self.kubo {
            k.put(&self.local.get(&cid)?)?;
        }
        Ok(cid)
    }

    fn get_to_file(&self, cid: &Cid, dest: &std::path::Path) -> Result<()> {
        if !self.local.has(cid)? {
            // fetched over IPFS and kept locally
            self.get(cid)?;
        }
        self.local.get_to_file(cid, dest)
    }

    fn get(&self, cid: &Cid) -> Result<Vec<u8>> {
        match self.local.get(cid) {
            Err(Error::NotFound { .. }) if self.kubo.is_some() => {}
            other => return other,
        }
        let bytes = self.kubo.as_ref().expect("checked above").get(cid)?;
        self.local.put(&bytes)?;
        Ok(bytes)
    }

    fn has(&self, cid: &Cid) -> Result<bool> {
        if self.local.has(cid)? {
            return Ok(true);
        }
        match &self.kubo {
            Some(k) => k.has(cid),
            None => Ok(false),
        }
    }
}
