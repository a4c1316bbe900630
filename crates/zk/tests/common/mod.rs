//! Helpers shared by the integration tests of this crate.

use std::path::PathBuf;

/// A fresh directory under the system's temp dir for this process (keys, sets).
pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("zkopml-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
