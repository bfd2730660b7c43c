//! End-to-end tests of the `closedloop` binary (STYLE §5 "CLI"): every shipped
//! scenario runs and validates, broken input exits 2 with every problem named,
//! the registry is listed, reports are deterministic across thread counts, and
//! the output folder is written atomically.

use assert_cmd::Command;
use closedloop::spec::{ATTRIBUTORS, STITCHERS};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// Scenarios with more person-replicates than this are run with `--replicates 1`
/// so the suite stays fast as replicates are added to shipped scenarios.
const MAX_PERSON_REPLICATES: i64 = 50_000;

/// A scratch folder under the system temp dir, removed when dropped (also on panic).
struct Scratch(PathBuf);

impl Scratch {
    fn new(test_name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!(
            "closedloop-cli-{}-{}",
            test_name,
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create scratch dir");
        Scratch(dir)
    }

    fn path(&self) -> &Path {
        &self.0
    }

    fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The binary, run from `cwd` so a forgotten `--out` cannot litter the repository.
fn closedloop(cwd: &Path) -> Command {
    let mut cmd = Command::cargo_bin("closedloop").expect("the closedloop binary is built");
    cmd.current_dir(cwd);
    cmd
}

fn scenarios_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios")
}

/// Every shipped scenario, sorted, found at test time.
fn shipped_scenarios() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(scenarios_dir())
        .expect("read scenarios/")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no scenarios/*.toml found");
    files
}

fn quickstart() -> PathBuf {
    scenarios_dir().join("quickstart.toml")
}

fn classroom() -> PathBuf {
    scenarios_dir().join("classroom.toml")
}

/// What a scenario file says, read from the raw TOML (independently of the library).
struct ScenarioFacts {
    name: String,
    seed: i64,
    replicates: i64,
    persons: i64,
    channels: Vec<String>,
}

fn scenario_facts(path: &Path) -> ScenarioFacts {
    let text = std::fs::read_to_string(path).expect("read scenario");
    let table: toml::Table = toml::from_str(&text).expect("scenario is TOML");
    let int = |key: &str, default: i64| {
        table
            .get(key)
            .and_then(|v| v.as_integer())
            .unwrap_or(default)
    };
    let channels = table
        .get("channels")
        .and_then(|v| v.as_array())
        .map(|list| {
            list.iter()
                .map(|c| c["id"].as_str().expect("channel id").to_string())
                .collect()
        })
        .unwrap_or_default();
    ScenarioFacts {
        name: table
            .get("name")
            .and_then(|v| v.as_str())
            .unwrap_or("scenario")
            .to_string(),
        seed: int("seed", 42),
        replicates: int("replicates", 1),
        persons: int("persons", 10_000),
        channels,
    }
}

fn read_report(out: &Path) -> Value {
    let path = out.join("report.json");
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

/// Problems with a report against what the scenario asked for (empty if none).
fn report_problems(report: &Value, facts: &ScenarioFacts, replicates: i64) -> Vec<String> {
    let mut problems = Vec::new();
    if report["schema_version"] != 1 {
        problems.push(format!("schema_version = {}", report["schema_version"]));
    }
    if report["scenario"]["name"] != facts.name.as_str() {
        problems.push(format!(
            "scenario.name = {}, expected {:?}",
            report["scenario"]["name"], facts.name
        ));
    }
    if report["scenario"]["seed"] != facts.seed {
        problems.push(format!(
            "scenario.seed = {}, expected {}",
            report["scenario"]["seed"], facts.seed
        ));
    }
    if report["scenario"]["replicates"] != replicates {
        problems.push(format!(
            "scenario.replicates = {}, expected {replicates}",
            report["scenario"]["replicates"]
        ));
    }
    let channels: Option<Vec<&str>> = report["channels"]
        .as_array()
        .map(|l| l.iter().filter_map(Value::as_str).collect());
    if channels != Some(facts.channels.iter().map(String::as_str).collect()) {
        problems.push(format!(
            "channels = {}, expected {:?}",
            report["channels"], facts.channels
        ));
    }
    match report["replicates"].as_array() {
        Some(reps) if reps.len() as i64 == replicates => {
            for (i, r) in reps.iter().enumerate() {
                for key in ["world", "truth", "stitching", "attribution"] {
                    if r.get(key).is_none() {
                        problems.push(format!("replicates[{i}] has no `{key}`"));
                    }
                }
                for a in r["attribution"].as_array().into_iter().flatten() {
                    let row = format!("replicates[{i}] {}/{}", a["stitcher"], a["model"]);
                    for truth in ["causal", "incremental", "shapley"] {
                        for measure in ["conversions", "revenue"] {
                            let e = &a["error"][truth][measure];
                            let at = format!("{row} error.{truth}.{measure}");
                            // Revenue incrementality is signed (DESIGN §3.3):
                            // its shares are not bounded by 0..=1.
                            let signed = truth == "incremental" && measure == "revenue";
                            let ch = &facts.channels;
                            problems.extend(credit_error_problems(e, ch, signed, &at));
                        }
                    }
                }
            }
        }
        _ => problems.push(format!(
            "replicates is not a list of {replicates}: {}",
            report["replicates"]
                .to_string()
                .chars()
                .take(80)
                .collect::<String>()
        )),
    }
    let summary = &report["summary"];
    if !summary.is_object() {
        problems.push("no `summary` object".into());
    } else if summary["world"]["persons"]["n"] != replicates {
        problems.push(format!(
            "summary.world.persons = {}, expected stats with n = {replicates}",
            summary["world"]["persons"]
        ));
    }
    problems
}

/// Problems with one credit-error object (DESIGN §13): every metric present,
/// per-channel maps over every channel, and the metrics consistent with each
/// other (Σ|bias| = 2·tvd, max_miss = max |bias|, shares within 0..=1
/// unless the truth is `signed`).
fn credit_error_problems(e: &Value, channels: &[String], signed: bool, at: &str) -> Vec<String> {
    let mut problems = Vec::new();
    for key in [
        "tvd",
        "tvd_all",
        "max_miss",
        "non_channel_share",
        "baseline_share",
    ] {
        match e[key].as_f64() {
            Some(x) if signed || (-1e-9..=1.0 + 1e-9).contains(&x) => {}
            _ => problems.push(format!(
                "{at}.{key} = {}, expected a number in 0..=1",
                e[key]
            )),
        }
    }
    if !(e["spearman_roi"].is_null()
        || e["spearman_roi"]
            .as_f64()
            .is_some_and(|r| r.abs() <= 1.0 + 1e-9))
    {
        problems.push(format!("{at}.spearman_roi = {}", e["spearman_roi"]));
    }
    let biases: Vec<f64> = channels
        .iter()
        .filter_map(|c| e["bias"][c].as_f64())
        .collect();
    if biases.len() != channels.len()
        || e["bias"].as_object().map(|m| m.len()) != Some(channels.len())
    {
        problems.push(format!(
            "{at}.bias is not one number per channel: {}",
            e["bias"]
        ));
        return problems;
    }
    for c in channels {
        if !(e["rel_error"][c].is_null() || e["rel_error"][c].is_f64()) {
            problems.push(format!("{at}.rel_error.{c} = {}", e["rel_error"][c]));
        }
    }
    let (tvd, max_miss) = (
        e["tvd"].as_f64().unwrap_or(f64::NAN),
        e["max_miss"].as_f64().unwrap_or(f64::NAN),
    );
    let half_sum = biases.iter().map(|b| b.abs()).sum::<f64>() / 2.0;
    // A side with no channel credit has tvd 1 by convention, whatever the bias.
    if (half_sum - tvd).abs() > 1e-9 && tvd != 1.0 {
        problems.push(format!("{at}: Σ|bias|/2 = {half_sum} but tvd = {tvd}"));
    }
    let largest = biases.iter().fold(0.0f64, |m, b| m.max(b.abs()));
    if (largest - max_miss).abs() > 1e-12 {
        problems.push(format!(
            "{at}: max |bias| = {largest} but max_miss = {max_miss}"
        ));
    }
    problems
}

/// Hidden temporary or backup folders a run left beside its output folder.
fn leftovers(parent: &Path) -> Vec<String> {
    std::fs::read_dir(parent)
        .expect("read output parent")
        .map(|e| {
            e.expect("dir entry")
                .file_name()
                .to_string_lossy()
                .to_string()
        })
        .filter(|n| n.starts_with('.') && (n.contains(".tmp-") || n.contains(".old-")))
        .collect()
}

fn stderr_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).to_string()
}

#[test]
fn run_succeeds_on_every_shipped_scenario() {
    let scratch = Scratch::new("run-shipped");
    let mut failures = Vec::new();
    for file in shipped_scenarios() {
        let facts = scenario_facts(&file);
        let stem = file.file_stem().unwrap().to_string_lossy().to_string();
        let out = scratch.join(&stem);
        let mut cmd = closedloop(scratch.path());
        cmd.arg("run")
            .arg(&file)
            .arg("--quiet")
            .arg("--out")
            .arg(&out);
        let mut replicates = facts.replicates;
        if facts.persons * facts.replicates > MAX_PERSON_REPLICATES {
            cmd.args(["--replicates", "1"]);
            replicates = 1;
        }
        let output = cmd.output().expect("spawn closedloop");
        if !output.status.success() {
            failures.push(format!(
                "{stem}: exit {:?}\n{}",
                output.status.code(),
                stderr_of(&output)
            ));
            continue;
        }
        if !output.stdout.is_empty() {
            failures.push(format!(
                "{stem}: --quiet printed on stdout: {}",
                String::from_utf8_lossy(&output.stdout)
            ));
        }
        for p in report_problems(&read_report(&out), &facts, replicates) {
            failures.push(format!("{stem}: {p}"));
        }
    }
    let left = leftovers(scratch.path());
    assert!(left.is_empty(), "temporary folders left behind: {left:?}");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn validate_accepts_every_shipped_scenario() {
    let scratch = Scratch::new("validate-shipped");
    let files = shipped_scenarios();
    let output = closedloop(scratch.path())
        .arg("validate")
        .args(&files)
        .output()
        .expect("spawn closedloop");
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    for f in &files {
        assert!(
            stdout.contains(&f.display().to_string()),
            "validate did not report on {}:\n{stdout}",
            f.display()
        );
    }
}

/// A small scenario: valid with `("household_size_mean", 100.0, 0.01)`.
fn small_scenario(household_key: &str, display_spend: f64, display_conversion_rate: f64) -> String {
    format!(
        r#"
name = "broken"
persons = 100

[population]
{household_key} = 2.0

[[channels]]
id = "paid_search"
kind = "click"
spend = 100.0
max_rate = 0.05
half_saturation = 100.0
conversion_rate = 0.02

[[channels]]
id = "display"
kind = "impression"
spend = {display_spend:?}
max_rate = 0.05
half_saturation = 100.0
conversion_rate = {display_conversion_rate:?}
"#
    )
}

#[test]
fn validate_lists_every_problem_with_its_key_path() {
    let scratch = Scratch::new("validate-broken");

    // The unbroken file is valid, so every error below comes from a mistake.
    let good = scratch.join("good.toml");
    std::fs::write(&good, small_scenario("household_size_mean", 100.0, 0.01)).unwrap();
    let output = closedloop(scratch.path())
        .arg("validate")
        .arg(&good)
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "the base scenario should be valid:\n{}",
        stderr_of(&output)
    );

    // An unknown key, a negative spend and a rate of 1.5: all three are named.
    let bad = scratch.join("bad.toml");
    std::fs::write(&bad, small_scenario("househld_size_mean", -5.0, 1.5)).unwrap();
    let output = closedloop(scratch.path())
        .arg("validate")
        .arg(&bad)
        .output()
        .unwrap();
    let stderr = stderr_of(&output);
    assert_eq!(output.status.code(), Some(2), "stderr:\n{stderr}");
    for key in [
        "population.househld_size_mean",
        "channels.display.spend",
        "channels.display.conversion_rate",
        "bad.toml",
    ] {
        assert!(
            stderr.contains(key),
            "stderr does not name {key}:\n{stderr}"
        );
    }
}

#[test]
fn a_missing_scenario_file_is_bad_input() {
    let scratch = Scratch::new("missing");
    let missing = scratch.join("no-such-scenario.toml");
    for command in ["validate", "run"] {
        let output = closedloop(scratch.path())
            .arg(command)
            .arg(&missing)
            .args(if command == "run" {
                &["--quiet", "--out", "o"][..]
            } else {
                &[]
            })
            .output()
            .unwrap();
        let stderr = stderr_of(&output);
        assert_eq!(
            output.status.code(),
            Some(2),
            "{command}: stderr:\n{stderr}"
        );
        assert!(
            stderr.contains(&missing.display().to_string()),
            "{command}: stderr does not name the path:\n{stderr}"
        );
    }
}

#[test]
fn bad_strategy_lists_and_zero_replicates_are_bad_input() {
    let scratch = Scratch::new("bad-flags");
    let out = scratch.join("out");
    let run = |extra: &[&str]| {
        closedloop(scratch.path())
            .arg("run")
            .arg(classroom())
            .args(["--quiet", "--out"])
            .arg(&out)
            .args(extra)
            .output()
            .unwrap()
    };

    let output = run(&["--models", "nonsense"]);
    let stderr = stderr_of(&output);
    assert_eq!(output.status.code(), Some(2), "stderr:\n{stderr}");
    assert!(stderr.contains("nonsense"), "{stderr}");
    for d in ATTRIBUTORS {
        assert!(
            stderr.contains(d.kind),
            "choice {} not listed:\n{stderr}",
            d.kind
        );
    }

    let output = run(&["--stitchers", "nonsense"]);
    let stderr = stderr_of(&output);
    assert_eq!(output.status.code(), Some(2), "stderr:\n{stderr}");
    for d in STITCHERS {
        assert!(
            stderr.contains(d.kind),
            "choice {} not listed:\n{stderr}",
            d.kind
        );
    }

    let output = run(&["--replicates", "0"]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr_of(&output));

    assert!(!out.exists(), "a rejected run wrote its output folder");
}

#[test]
fn list_names_every_registered_strategy() {
    let scratch = Scratch::new("list");
    let output = closedloop(scratch.path()).arg("list").output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    for d in STITCHERS.iter().chain(ATTRIBUTORS) {
        assert!(
            stdout.contains(d.kind),
            "`list` misses {}:\n{stdout}",
            d.kind
        );
    }

    let output = closedloop(scratch.path())
        .args(["list", "--json"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    let v: Value = serde_json::from_slice(&output.stdout).expect("`list --json` is JSON");
    for (key, registry) in [("stitchers", STITCHERS), ("attributors", ATTRIBUTORS)] {
        let kinds: Vec<&str> = v[key]
            .as_array()
            .unwrap_or_else(|| panic!("`list --json` has no `{key}` list"))
            .iter()
            .filter_map(|d| d["kind"].as_str())
            .collect();
        let expected: Vec<&str> = registry.iter().map(|d| d.kind).collect();
        assert_eq!(kinds, expected, "`list --json` {key}");
    }
}

#[test]
fn reports_do_not_depend_on_the_thread_count() {
    let scratch = Scratch::new("threads");
    let mut reports = Vec::new();
    for (i, threads) in ["1", "2", "2"].into_iter().enumerate() {
        let out = scratch.join(&format!("run{i}-threads{threads}"));
        closedloop(scratch.path())
            .env("RAYON_NUM_THREADS", threads)
            .arg("run")
            .arg(quickstart())
            .args(["--quiet", "--out"])
            .arg(&out)
            .assert()
            .success();
        reports.push((threads, std::fs::read(out.join("report.json")).unwrap()));
    }
    for (threads, bytes) in &reports[1..] {
        assert!(
            *bytes == reports[0].1,
            "report.json with RAYON_NUM_THREADS={threads} differs from RAYON_NUM_THREADS=1"
        );
    }
}

#[test]
fn the_seed_changes_the_report() {
    let scratch = Scratch::new("seed");
    let mut reports = Vec::new();
    for seed in ["7", "8"] {
        let out = scratch.join(&format!("seed{seed}"));
        closedloop(scratch.path())
            .arg("run")
            .arg(quickstart())
            .args(["--quiet", "--seed", seed, "--out"])
            .arg(&out)
            .assert()
            .success();
        let report = read_report(&out);
        assert_eq!(report["scenario"]["seed"], seed.parse::<u64>().unwrap());
        reports.push(std::fs::read(out.join("report.json")).unwrap());
    }
    assert!(
        reports[0] != reports[1],
        "--seed 7 and --seed 8 gave the same report"
    );
}

#[test]
fn json_flag_prints_the_report_on_stdout() {
    let scratch = Scratch::new("json");
    let out = scratch.join("out");
    let output = closedloop(scratch.path())
        .arg("run")
        .arg(classroom())
        .args(["--json", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    let printed: Value = serde_json::from_slice(&output.stdout).expect("stdout is JSON");
    assert_eq!(printed["schema_version"], 1);
    assert_eq!(
        printed,
        read_report(&out),
        "stdout differs from report.json"
    );
}

#[test]
fn a_second_run_into_the_same_folder_replaces_the_first() {
    let scratch = Scratch::new("rerun");
    let out = scratch.join("out");
    let facts = scenario_facts(&classroom());
    for seed in ["1", "2"] {
        closedloop(scratch.path())
            .arg("run")
            .arg(classroom())
            .args(["--quiet", "--seed", seed, "--out"])
            .arg(&out)
            .assert()
            .success();
    }
    let report = read_report(&out);
    let facts = ScenarioFacts { seed: 2, ..facts };
    let problems = report_problems(&report, &facts, facts.replicates);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    let left = leftovers(scratch.path());
    assert!(left.is_empty(), "temporary folders left behind: {left:?}");
}
