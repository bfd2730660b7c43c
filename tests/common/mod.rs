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

    /// A copy of the shipped quickstart with `persons` persons, written here.
    #[allow(dead_code)] // not every test binary writes one
    pub fn quickstart_file(&self, persons: u32) -> PathBuf {
        let text = std::fs::read_to_string(quickstart_path())
            .expect("read quickstart")
            .replace("persons = 20_000", &format!("persons = {persons}"));
        let file = self.join("quickstart.toml");
        std::fs::write(&file, text).expect("write the scenario copy");
        file
    }
}

/// The shipped quickstart scenario file.
pub fn quickstart_path() -> &'static Path {
    Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scenarios/quickstart.toml"
    ))
}

/// Every shipped scenario file under `scenarios/` (the classroom variants aside).
#[allow(dead_code)] // not every test binary reads them all
pub const SHIPPED: [&str; 7] = [
    "quickstart.toml",
    "classroom.toml",
    "b2b_saas.toml",
    "ecommerce.toml",
    "privacy_eu.toml",
    "stitching_stress.toml",
    "budget_shift.toml",
];

/// A shipped scenario (`scenarios/NAME`), with `persons` persons if given.
#[allow(dead_code)] // not every test binary loads one
pub fn shipped(name: &str, persons: Option<u32>) -> closedloop::scenario::Scenario {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(name);
    let mut sc = closedloop::scenario::Scenario::from_path(&path).unwrap_or_else(|e| panic!("{e}"));
    if let Some(n) = persons {
        sc.persons = n;
    }
    sc
}

/// The shipped quickstart with `persons` persons.
#[allow(dead_code)] // not every test binary loads one
pub fn quickstart(persons: u32) -> closedloop::scenario::Scenario {
    let mut sc =
        closedloop::scenario::Scenario::from_path(quickstart_path()).expect("quickstart loads");
    sc.persons = persons;
    sc
}

impl Scratch {
    /// `closedloop export SCENARIO --events DIR` into `name` here (asserted to
    /// succeed); the folder.
    #[allow(dead_code)] // not every test binary exports
    pub fn export_events(&self, scenario: &Path, name: &str) -> PathBuf {
        let dir = self.join(name);
        let out = closedloop(self.path())
            .arg("export")
            .arg(scenario)
            .arg("--events")
            .arg(&dir)
            .output()
            .expect("the command runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        dir
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

/// Run the command, assert it succeeded (showing its stderr if not) and
/// parse its stdout as one JSON value.
#[allow(dead_code)] // not every test binary reads JSON
pub fn json_of(cmd: &mut Command) -> serde_json::Value {
    let out = cmd.output().expect("the command runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("stdout is one JSON value")
}

/// Compare `got` with `tests/golden/{name}` line by line and fail listing
/// every changed line; with `GOLDEN_UPDATE` set, write `got` there first.
/// `test` is the test target the message tells to re-run.
#[allow(dead_code)] // only the golden tests compare
pub fn assert_golden(name: &str, got: &str, test: &str) {
    let file = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    if std::env::var_os("GOLDEN_UPDATE").is_some() {
        std::fs::write(&file, got).unwrap();
    }
    let expected = std::fs::read_to_string(&file).unwrap_or_default();
    let changed: Vec<String> = expected
        .lines()
        .zip(got.lines())
        .filter(|(e, g)| e != g)
        .map(|(e, g)| format!("  - {e}\n  + {g}"))
        .collect();
    assert!(
        changed.is_empty() && expected.lines().count() == got.lines().count(),
        "tests/golden/{name} changed ({} lines differ; {} expected vs {} got); if intended, \
         GOLDEN_UPDATE=1 cargo test --release --test {test}:\n{}",
        changed.len(),
        expected.lines().count(),
        got.lines().count(),
        changed.join("\n")
    );
}
