//! A store in a local directory:
//!
//! ```text
//! <root>/objects/<cid>     one file per artifact, read-only, named by its CIDv1 string
//! <root>/tmp/              files being written (renamed into objects/ when complete)
//! <root>/corrupt/          stored files found corrupted by a later put, moved aside
//! ```

use std::fs;
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::{cid_of, verify, ArtifactStore, Cid, Error, Result};

/// A content-addressed store in a directory.
#[derive(Debug, Clone)]
pub struct LocalStore {
    root: PathBuf,
}

static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn set_readonly(path: &Path) {
    if let Ok(m) = fs::metadata(path) {
        let mut perm = m.permissions();
        perm.set_readonly(true);
        let _ = fs::set_permissions(path, perm);
    }
}

fn nanos() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}

impl LocalStore {
    /// Opens (creating if needed) the store at `root`.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self> {
        let store = LocalStore { root: root.into() };
        for d in [store.objects(), store.tmp()] {
            fs::create_dir_all(&d).map_err(io(&d))?;
        }
        Ok(store)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where the artifact `cid` is (or would be) stored.
    pub fn path_of(&self, cid: &Cid) -> PathBuf {
        self.objects().join(cid.to_string())
    }

    fn objects(&self) -> PathBuf {
        self.root.join("objects")
    }

    fn tmp(&self) -> PathBuf {
        self.root.join("tmp")
    }

    /// Reads and checks the stored file of `cid`.
    fn read_checked(&self, cid: &Cid, path: &Path) -> Result<Vec<u8>> {
        let bytes = match fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == ErrorKind::NotFound => {
                return Err(Error::NotFound {
                    cid: *cid,
                    location: format!("local store {}", self.root.display()),
                })
            }
            Err(e) => return Err(io(path)(e)),
        };
        verify(cid, &bytes, &path.display().to_string())?;
        Ok(bytes)
    }

    /// Whether `dst`, the object of `cid`, is there and intact; a corrupted one is moved aside.
    fn holds_intact(&self, cid: &Cid, dst: &Path) -> Result<bool> {
        if !dst.exists() {
            return Ok(false);
        }
        match self.read_checked(cid, dst) {
            Ok(_) => {
                tracing::debug!(%cid, "already stored");
                Ok(true)
            }
            Err(Error::Mismatch { .. }) => {
                self.quarantine(cid, dst)?;
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }

    fn sync_objects(&self) {
        if let Ok(d) = fs::File::open(self.objects()) {
            let _ = d.sync_all();
        }
    }

    /// Moves a corrupted stored file aside (never deletes it).
    fn quarantine(&self, cid: &Cid, path: &Path) -> Result<()> {
        let dir = self.root.join("corrupt");
        fs::create_dir_all(&dir).map_err(io(&dir))?;
        let to = dir.join(format!("{cid}.{}", nanos()));
        fs::rename(path, &to).map_err(io(path))?;
        tracing::warn!(%cid, from = %path.display(), to = %to.display(),
            "stored artifact was corrupted; moved aside and rewriting it");
        Ok(())
    }

    fn write_tmp(&self, cid: &Cid, bytes: &[u8]) -> Result<PathBuf> {
        let tmp = self.tmp().join(format!(
            "{cid}.{}.{}.{}",
            std::process::id(),
            nanos(),
            TMP_COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .map_err(io(&tmp))?;
        let written = f
            .write_all(bytes)
            .and_then(|()| f.sync_all())
            .and_then(|()| {
                let mut perm = f.metadata()?.permissions();
                perm.set_readonly(true);
                fs::set_permissions(&tmp, perm)
            });
        if let Err(e) = written {
            let _ = fs::remove_file(&tmp);
            return Err(io(&tmp)(e));
        }
        Ok(tmp)
    }
}

impl ArtifactStore for LocalStore {
    fn put(&self, bytes: &[u8]) -> Result<Cid> {
        let cid = cid_of(bytes);
        let dst = self.path_of(&cid);
        if self.holds_intact(&cid, &dst)? {
            return Ok(cid);
        }
        let tmp = self.write_tmp(&cid, bytes)?;
        // A hard link never replaces an existing file (unlike rename): if another writer got
        // there first, keep its file once it checks out.
        let linked = fs::hard_link(&tmp, &dst);
        let _ = fs::remove_file(&tmp);
        match linked {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                self.read_checked(&cid, &dst)?;
            }
            Err(e) => return Err(io(&dst)(e)),
        }
        self.sync_objects();
        tracing::debug!(%cid, size = bytes.len(), path = %dst.display(), "stored");
        Ok(cid)
    }

    fn put_file(&self, path: &Path) -> Result<Cid> {
        let bytes = fs::read(path).map_err(io(path))?;
        let cid = cid_of(&bytes);
        let dst = self.path_of(&cid);
        if self.holds_intact(&cid, &dst)? {
            return Ok(cid);
        }
        match fs::hard_link(path, &dst) {
            Ok(()) => {
                // the file may have been replaced since it was read: the link must hold `cid`
                match self.read_checked(&cid, &dst) {
                    Ok(_) => {
                        // read-only, as every stored object: the keys dir's name is the same file
                        set_readonly(&dst);
                        self.sync_objects();
                        tracing::debug!(%cid, from = %path.display(), "stored as a link");
                        return Ok(cid);
                    }
                    Err(Error::Mismatch { .. }) => self.quarantine(&cid, &dst)?,
                    Err(e) => return Err(e),
                }
            }
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                if self.read_checked(&cid, &dst).is_ok() {
                    return Ok(cid);
                }
            }
            // another filesystem, or one without links: copy
            Err(_) => {}
        }
        self.put(&bytes)
    }

    fn get_to_file(&self, cid: &Cid, dest: &Path) -> Result<()> {
        use std::os::unix::fs::MetadataExt;
        let src = self.path_of(cid);
        let bytes = self.read_checked(cid, &src)?;
        let same_file =
            |a: &fs::Metadata, b: &fs::Metadata| a.dev() == b.dev() && a.ino() == b.ino();
        if let (Ok(d), Ok(s)) = (fs::metadata(dest), fs::metadata(&src)) {
            if same_file(&d, &s) {
                return Ok(());
            }
        }
        crate::write_replacing(dest, |tmp| match fs::hard_link(&src, tmp) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == ErrorKind::AlreadyExists => Err(e),
            // another filesystem, or one without links: a copy
            Err(_) => crate::create_new(tmp, &bytes),
        })
    }

    fn get(&self, cid: &Cid) -> Result<Vec<u8>> {
        self.read_checked(cid, &self.path_of(cid))
    }

    fn has(&self, cid: &Cid) -> Result<bool> {
        let p = self.path_of(cid);
        p.try_exists().map_err(io(&p))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tempdir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "zkopml-store-{tag}-{}-{}",
            std::process::id(),
            nanos()
        ));
        fs::create_dir_all(&d).unwrap();
        d
    }

    fn make_writable(p: &Path) {
        let mut perm = fs::metadata(p).unwrap().permissions();
        #[allow(clippy::permissions_set_readonly_false)]
        perm.set_readonly(false);
        fs::set_permissions(p, perm).unwrap();
    }

    #[test]
    fn round_trip_and_idempotent() {
        let dir = tempdir("rt");
        let s = LocalStore::open(&dir).unwrap();
        let data: Vec<u8> = (0..600_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let cid = s.put(&data).unwrap();
        assert_eq!(cid, cid_of(&data));
        assert!(s.has(&cid).unwrap());
        assert_eq!(s.get(&cid).unwrap(), data);
        assert_eq!(s.put(&data).unwrap(), cid);
        assert_eq!(fs::read_dir(s.tmp()).unwrap().count(), 0);
        let empty = s.put(b"").unwrap();
        assert_eq!(s.get(&empty).unwrap(), b"");
        let missing = cid_of(b"never stored");
        assert!(!s.has(&missing).unwrap());
        let err = s.get(&missing).unwrap_err();
        assert!(matches!(err, Error::NotFound { .. }), "{err}");
        assert!(err.to_string().contains(&missing.to_string()));
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn corruption_detected_and_repaired_by_put() {
        let dir = tempdir("corrupt");
        let s = LocalStore::open(&dir).unwrap();
        let data = b"proving key bytes".repeat(1000);
        let cid = s.put(&data).unwrap();
        let p = s.path_of(&cid);
        make_writable(&p);
        let mut bad = data.clone();
        bad[100] ^= 1;
        fs::write(&p, &bad).unwrap();
        let err = s.get(&cid).unwrap_err();
        assert!(matches!(err, Error::Mismatch { .. }), "{err}");
        let msg = err.to_string();
        assert!(
            msg.contains(&cid.to_string()) && msg.contains("corrupted"),
            "{msg}"
        );
        // A later put of the right bytes moves the bad file aside (kept) and restores it.
        assert_eq!(s.put(&data).unwrap(), cid);
        assert_eq!(s.get(&cid).unwrap(), data);
        let kept: Vec<_> = fs::read_dir(dir.join("corrupt")).unwrap().collect();
        assert_eq!(kept.len(), 1);
        let kept = kept[0].as_ref().unwrap().path();
        assert_eq!(fs::read(&kept).unwrap(), bad);
        make_writable(&kept);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn files_are_linked_in_and_out_not_copied() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempdir("link");
        let s = LocalStore::open(dir.join("store")).unwrap();
        let src = dir.join("c0.pk");
        let data = b"a proving key of many gigabytes".repeat(5000);
        fs::write(&src, &data).unwrap();
        let cid = s.put_file(&src).unwrap();
        assert_eq!(cid, cid_of(&data));
        let ino = |p: &Path| fs::metadata(p).unwrap().ino();
        assert_eq!(ino(&s.path_of(&cid)), ino(&src), "stored as a link");
        assert_eq!(s.put_file(&src).unwrap(), cid, "idempotent");
        let out = dir.join("cache").join("c0.pk");
        fs::create_dir_all(out.parent().unwrap()).unwrap();
        fs::write(&out, b"a stale key").unwrap();
        s.get_to_file(&cid, &out).unwrap();
        assert_eq!(fs::read(&out).unwrap(), data);
        assert_eq!(ino(&out), ino(&src), "fetched as a link");
        // fetching onto a link of the same file changes nothing and leaves no temporary name
        s.get_to_file(&cid, &out).unwrap();
        let names: Vec<_> = fs::read_dir(out.parent().unwrap()).unwrap().collect();
        assert_eq!(names.len(), 1, "{names:?}");
        assert!(
            fs::metadata(s.path_of(&cid))
                .unwrap()
                .permissions()
                .readonly(),
            "a linked object is read-only like every stored one"
        );
        // a corrupted object is never linked out
        let p = s.path_of(&cid);
        make_writable(&p);
        let mut bad = data.clone();
        bad[7] ^= 1;
        fs::write(&p, &bad).unwrap();
        let err = s.get_to_file(&cid, &dir.join("other.pk")).unwrap_err();
        assert!(matches!(err, Error::Mismatch { .. }), "{err}");
        assert!(!dir.join("other.pk").exists());
        // and a put of the right file repairs the store from it
        let fresh = dir.join("c0-again.pk");
        fs::write(&fresh, &data).unwrap();
        assert_eq!(s.put_file(&fresh).unwrap(), cid);
        assert_eq!(s.get(&cid).unwrap(), data);
        for e in fs::read_dir(dir.join("store/corrupt")).unwrap() {
            make_writable(&e.unwrap().path());
        }
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn truncated_file_detected() {
        let dir = tempdir("trunc");
        let s = LocalStore::open(&dir).unwrap();
        let cid = s.put(b"verifying key").unwrap();
        let p = s.path_of(&cid);
        make_writable(&p);
        fs::write(&p, b"verifying").unwrap();
        assert!(matches!(s.get(&cid), Err(Error::Mismatch { .. })));
        fs::remove_dir_all(&dir).unwrap();
    }
}
