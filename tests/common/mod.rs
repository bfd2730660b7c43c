//! Helpers shared by the integration tests that drive the binary: a scratch
//! folder and the `closedloop` command run from it.

use assert_cmd::Command;
use std::path::{Path, PathBuf};

/// A scratch folder under the system temp dir, removed when dropped (also on panic).
pub struct Scratch(PathBuf);

impl Scratch {
    /// A fresh, empty folder named after the test binary and `name`.
    pub fn new(prefix: &str, name: &str) -> Scratch {
        let dir =
            std::env::temp_dir().join(format!("closedloop-{prefix}-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create scratch dir");
        Scratch(dir)
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        &self.0
    }

    /// A path inside the folder.
    pub fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The binary, run from `cwd` so a forgotten `--out` cannot litter the repository.
pub fn closedloop(cwd: &Path) -> Command {
    let mut cmd = Command::cargo_bin("closedloop").expect("the closedloop binary is built");
    cmd.current_dir(cwd);
    cmd
}
