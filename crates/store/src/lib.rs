//! Content-addressed artifact store for models, compiled models and proving/verifying keys.
//!
//! Every artifact is addressed by the CIDv1 that Kubo's `ipfs add --cid-version=1` gives the
//! same bytes with default settings (see [`unixfs`]), so an artifact put in the local store and
//! one added to any IPFS node have the same name. Reads always recompute the CID of what was
//! read and fail, naming the CID, when it differs.
//!
//! Backends: [`LocalStore`] (a directory; the embedded default) and [`KuboStore`] (a Kubo node's
//! RPC API); [`TieredStore`] is what the node uses: the local directory in front of an optional
//! Kubo node. See docs/store.md.

pub mod cid;
mod kubo;
mod local;
mod tiered;
pub mod unixfs;

pub use cid::Cid;
pub use kubo::KuboStore;
pub use local::LocalStore;
pub use tiered::TieredStore;

use std::path::{Path, PathBuf};

/// Errors of the store.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid CID {input:?}: {reason}")]
    InvalidCid { input: String, reason: String },
    #[error("{cid} not found in {location}")]
    NotFound { cid: Cid, location: String },
    #[error(
        "integrity check failed for {cid}: the data read from {location} has CID {actual}; \
         it is corrupted and was not returned"
    )]
    Mismatch {
        cid: Cid,
        actual: Cid,
        location: String,
    },
    #[error("I/O error on {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("Kubo RPC request to {url} failed: {reason}")]
    Http { url: String, reason: String },
    #[error("Kubo at {url} answered CID {kubo} for data whose CID is {ours} (Kubo's add settings differ from the defaults?)")]
    KuboCidMismatch {
        url: String,
        kubo: String,
        ours: Cid,
    },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The CID of `bytes` as `ipfs add --cid-version=1` computes it with default settings.
pub fn cid_of(bytes: &[u8]) -> Cid {
    unixfs::cid_of(bytes, unixfs::Layout::V1RawLeaves)
}

/// Checks that `bytes` are the content of `cid` (read from `location`).
pub fn verify(cid: &Cid, bytes: &[u8], location: &str) -> Result<()> {
    let layout = if cid.version() == 0 {
        unixfs::Layout::V0
    } else {
        unixfs::Layout::V1RawLeaves
    };
    let actual = unixfs::cid_of(bytes, layout);
    if actual == *cid {
        Ok(())
    } else {
        Err(Error::Mismatch {
            cid: *cid,
            actual,
            location: location.to_string(),
        })
    }
}

/// A content-addressed store of byte strings.
pub trait ArtifactStore {
    /// Stores `bytes` and returns their CID. Idempotent.
    fn put(&self, bytes: &[u8]) -> Result<Cid>;
    /// The bytes of `cid`, checked against it: a mismatch is an error, never returned data.
    fn get(&self, cid: &Cid) -> Result<Vec<u8>>;
    /// Whether the store holds `cid` (without reading it back).
    fn has(&self, cid: &Cid) -> Result<bool>;

    /// Stores the file at `path` and returns its CID. A local store links the file instead of
    /// copying it where the filesystem allows: proving keys are gigabytes, and a copy per store
    /// fills a disk. The file must only ever be replaced by rename, never rewritten in place.
    fn put_file(&self, path: &Path) -> Result<Cid> {
        let bytes = std::fs::read(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        self.put(&bytes)
    }

    /// Writes the bytes of `cid`, checked against it, to `dest` (replacing `dest` by rename,
    /// never in place). A local store links its own copy where the filesystem allows.
    fn get_to_file(&self, cid: &Cid, dest: &Path) -> Result<()> {
        let bytes = self.get(cid)?;
        write_replacing(dest, |tmp| create_new(tmp, &bytes))
    }
}

/// Makes `dest` by `make` on a fresh temporary name beside it (`make` must create the file,
/// never open an existing one), then renames it into place, so that a reader never sees a
/// partial file and a file linked elsewhere is never rewritten.
pub(crate) fn write_replacing(
    dest: &Path,
    make: impl FnOnce(&Path) -> std::io::Result<()>,
) -> Result<()> {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let mut name = dest.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".tmp{}-{nanos}-{n}", std::process::id()));
    let tmp = dest.with_file_name(name);
    let io = |p: &Path| {
        let p = p.to_path_buf();
        move |source| Error::Io { path: p, source }
    };
    if let Err(e) = make(&tmp) {
        let _ = std::fs::remove_file(&tmp);
        return Err(io(&tmp)(e));
    }
    let renamed = std::fs::rename(&tmp, dest).map_err(io(dest));
    // a rename onto another link of the same file does nothing and leaves `tmp` behind
    let _ = std::fs::remove_file(&tmp);
    renamed
}

/// Creates `path` (which must not exist) holding `bytes`.
pub(crate) fn create_new(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}
