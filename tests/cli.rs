//! End-to-end tests of the `closedloop` binary: every shipped scenario runs
//! and validates, broken input exits 2 with every problem named, the registry
//! is listed, reports are deterministic across thread counts and change with
//! the seed, and the output folder is written atomically. Path files:
//! `attribute --paths` on the worked examples of docs/model.md §4.6, malformed
//! files, and `export` round trips.

mod common;

use closedloop::spec::{ATTRIBUTORS, STITCHERS};
use common::{Scratch, closedloop};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// Scenarios with more person-replicates than this are run with `--replicates 1`
/// so the suite stays fast as replicates are added to shipped scenarios.
const MAX_PERSON_REPLICATES: i64 = 50_000;

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
    if report["schema_version"] != 2 {
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
                    for truth in ["shapley", "incremental", "proximate"] {
                        for measure in ["conversions", "revenue"] {
                            let e = &a["error"][truth][measure];
                            let at = format!("{row} error.{truth}.{measure}");
                            // Incremental and Shapley revenue are signed
                            // (docs/model.md §3.2: removing a low-quality cause
                            // can let a better one fire): shares not bounded by 0..=1.
                            let signed = truth != "proximate" && measure == "revenue";
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

/// Problems with one credit-error object (docs/model.md §5.2): every metric present,
/// per-channel maps over every channel, and the metrics consistent with each
/// other (Σ|bias| = 2·tvd_channels, max_miss = max |bias|, the headline
/// `tvd` at least the gap between the no-channel and baseline shares, shares
/// within 0..=1 unless the truth is `signed`).
fn credit_error_problems(e: &Value, channels: &[String], signed: bool, at: &str) -> Vec<String> {
    let mut problems = Vec::new();
    for key in [
        "tvd",
        "tvd_channels",
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
    let num = |key: &str| e[key].as_f64().unwrap_or(f64::NAN);
    let (tvd, tvd_channels, max_miss) = (num("tvd"), num("tvd_channels"), num("max_miss"));
    let half_sum = biases.iter().map(|b| b.abs()).sum::<f64>() / 2.0;
    // A side with no channel credit has tvd_channels 1 by convention, whatever the bias.
    if (half_sum - tvd_channels).abs() > 1e-9 && tvd_channels != 1.0 {
        problems.push(format!(
            "{at}: Σ|bias|/2 = {half_sum} but tvd_channels = {tvd_channels}"
        ));
    }
    // The headline sees credit parked off the channels: the no-channel
    // bucket alone contributes |model share − baseline share| to it.
    let gap = (num("non_channel_share") - num("baseline_share")).abs();
    if tvd < gap - 1e-9 {
        problems.push(format!("{at}: tvd = {tvd} below the no-channel gap {gap}"));
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
    let scratch = Scratch::new("cli", "run-shipped");
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
    let scratch = Scratch::new("cli", "validate-shipped");
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
    let scratch = Scratch::new("cli", "validate-broken");

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
    let scratch = Scratch::new("cli", "missing");
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
    let scratch = Scratch::new("cli", "bad-flags");
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
    let scratch = Scratch::new("cli", "list");
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
    let scratch = Scratch::new("cli", "threads");
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
    // What the engine computes from the seed must change with it: the
    // world's counts, the truths, every stitcher's scores and every model's
    // credit. `scenario.seed` only echoes the flag, so it proves nothing and
    // is left out: this fails if `--seed` reached the report but not the
    // random streams.
    let scratch = Scratch::new("cli", "seed");
    let mut replicates = Vec::new();
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
        replicates.push(report["replicates"][0].clone());
    }
    let (a, b) = (&replicates[0], &replicates[1]);
    assert_eq!(
        a["world"]["persons"], b["world"]["persons"],
        "the population size is the scenario's, not the seed's"
    );
    for count in ["devices", "visits", "recorded_visits", "leads", "revenue"] {
        assert_ne!(
            a["world"][count], b["world"][count],
            "world.{count} is the same under --seed 7 and --seed 8"
        );
    }
    assert_ne!(a["truth"], b["truth"], "the truths ignore the seed");
    let stitchers = a["stitching"].as_object().unwrap();
    assert!(stitchers.len() > 2);
    for (name, metrics) in stitchers {
        if name == "oracle" {
            continue; // the true partition scores 1 under every seed
        }
        assert_ne!(
            metrics["pairwise"], b["stitching"][name]["pairwise"],
            "{name}'s pairwise scores ignore the seed"
        );
    }
    let rows = a["attribution"].as_array().unwrap();
    assert!(rows.len() > 20);
    for row in rows {
        let other = b["attribution"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["stitcher"] == row["stitcher"] && x["model"] == row["model"])
            .unwrap();
        assert_ne!(
            row["credit"], other["credit"],
            "{} × {}: credit ignores the seed",
            row["stitcher"], row["model"]
        );
    }
}

#[test]
fn json_flag_prints_the_report_on_stdout() {
    let scratch = Scratch::new("cli", "json");
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
    assert_eq!(printed["schema_version"], 2);
    assert_eq!(
        printed,
        read_report(&out),
        "stdout differs from report.json"
    );
}

#[test]
fn a_second_run_into_the_same_folder_replaces_the_first() {
    let scratch = Scratch::new("cli", "rerun");
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

// ---- path files: `attribute --paths` and `export` ----------------------------

const PATH_HEADER: &str = "path,total_conversions,total_conversion_value,total_null\n";

/// `closedloop attribute --paths FILE --json [--models LIST]`: the output and JSON.
fn attribute_json(dir: &Path, file: &Path, models: &str) -> (std::process::Output, Value) {
    let output = closedloop(dir)
        .args(["attribute", "--json", "--models", models, "--paths"])
        .arg(file)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    let v: Value = serde_json::from_slice(&output.stdout).expect("stdout is one JSON object");
    (output, v)
}

/// `v[model][what][label]`, 0 when the label is absent.
fn credit_of(v: &Value, model: &str, what: &str, label: &str) -> f64 {
    assert!(v[model].is_object(), "no `{model}` in {v}");
    v[model][what][label].as_f64().unwrap_or(0.0)
}

fn expect(v: &Value, model: &str, what: &str, want: &[(&str, f64)]) {
    for &(label, x) in want {
        let got = credit_of(v, model, what, label);
        assert!(
            (got - x).abs() < 1e-9,
            "{model} {what} {label}: {got}, expected {x}"
        );
    }
}

#[test]
fn attribute_paths_reproduces_the_worked_examples() {
    let scratch = Scratch::new("cli", "paths-design");
    let models = "markov_1,shapley_count,shapley_rate,first_touch,last_touch,linear";
    let third = 1.0 / 3.0;

    // (a): C1>C2>C3 → conv, C1 → null, C2>C3 → null. CRLF, quoted paths.
    let a = scratch.join("a.csv");
    std::fs::write(
        &a,
        "path,total_conversions,total_conversion_value,total_null\r\n\
         \"C1 > C2 > C3\",1,0,0\r\nC1,0,0,1\r\n\" C2>C3 \",0,0,1\r\n",
    )
    .unwrap();
    let (_, v) = attribute_json(scratch.path(), &a, models);
    expect(
        &v,
        "markov_1",
        "removal_effects",
        &[("C1", 0.5), ("C2", 1.0), ("C3", 1.0)],
    );
    expect(
        &v,
        "markov_1",
        "conversions",
        &[("C1", 0.2), ("C2", 0.4), ("C3", 0.4)],
    );
    for m in ["shapley_count", "shapley_rate", "linear"] {
        expect(
            &v,
            m,
            "conversions",
            &[("C1", third), ("C2", third), ("C3", third)],
        );
    }
    expect(
        &v,
        "first_touch",
        "conversions",
        &[("C1", 1.0), ("C3", 0.0)],
    );
    expect(&v, "last_touch", "conversions", &[("C1", 0.0), ("C3", 1.0)]);

    // (b): A → conv ×2, A → null, B → conv, A>B → conv; revenue 10 a
    // conversion; columns in another order, one extra column.
    let b = scratch.join("b.csv");
    std::fs::write(
        &b,
        "total_null,note,path,total_conversions,total_conversion_value\n\
         1,x,A,2,20\n0,,B,1,10\n0,\"y, z\",A > B,1,10\n",
    )
    .unwrap();
    let (_, v) = attribute_json(scratch.path(), &b, models);
    expect(
        &v,
        "markov_1",
        "removal_effects",
        &[("A", 0.75), ("B", 0.5)],
    );
    expect(&v, "markov_1", "conversions", &[("A", 2.4), ("B", 1.6)]);
    expect(&v, "markov_1", "revenue", &[("A", 24.0), ("B", 16.0)]);
    expect(
        &v,
        "shapley_count",
        "conversions",
        &[("A", 2.5), ("B", 1.5)],
    );
    expect(
        &v,
        "shapley_rate",
        "conversions",
        &[("A", 7.0 / 3.0), ("B", 5.0 / 3.0)],
    );
    expect(
        &v,
        "shapley_rate",
        "revenue",
        &[("A", 70.0 / 3.0), ("B", 50.0 / 3.0)],
    );
    expect(&v, "first_touch", "conversions", &[("A", 3.0), ("B", 1.0)]);
    expect(&v, "last_touch", "conversions", &[("A", 2.0), ("B", 2.0)]);
    expect(&v, "linear", "conversions", &[("A", 2.5), ("B", 1.5)]);
    expect(&v, "linear", "revenue", &[("A", 25.0), ("B", 15.0)]);

    // (d): B>A → null, A → conv; no value or null column… but nulls are
    // needed here, so only the value column is left out.
    let d = scratch.join("d.csv");
    std::fs::write(&d, "path,total_conversions,total_null\nB > A,0,1\nA,1,0\n").unwrap();
    let (_, v) = attribute_json(scratch.path(), &d, models);
    expect(&v, "markov_1", "removal_effects", &[("A", 1.0), ("B", 0.5)]);
    expect(
        &v,
        "markov_1",
        "conversions",
        &[("A", 2.0 / 3.0), ("B", third)],
    );
    for m in [
        "shapley_count",
        "shapley_rate",
        "first_touch",
        "last_touch",
        "linear",
    ] {
        expect(&v, m, "conversions", &[("A", 1.0), ("B", 0.0)]);
    }
    let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
    assert_eq!(keys.len(), 6, "one entry per model: {keys:?}");
    assert!(v["linear"].get("removal_effects").is_none());
}

#[test]
fn malformed_path_files_exit_2_naming_file_line_and_column() {
    let scratch = Scratch::new("cli", "paths-bad");
    let cases: &[(&str, String, &[&str])] = &[
        (
            "non_numeric",
            format!("{PATH_HEADER}a,1,0,0\na > b,two,0,0\n"),
            &["line 3, column 2", "total_conversions", "`two`"],
        ),
        (
            "negative_and_nan",
            format!("{PATH_HEADER}a,1,-5,0\nb,1,0,NaN\n"),
            &["line 2, column 3", "line 3, column 4", "`-5`", "`NaN`"],
        ),
        (
            "missing_column",
            "path,total_null\na,1\n".to_string(),
            &["line 1", "missing header column `total_conversions`"],
        ),
        (
            "field_count",
            format!("{PATH_HEADER}a,1,0\n"),
            &["line 2, column 4", "wrong field count"],
        ),
        (
            "empty_step",
            format!("{PATH_HEADER}\"a >  > b\",1,0,0\n"),
            &["line 2, column 1", "empty step 2"],
        ),
    ];
    for (name, text, wanted) in cases {
        let file = scratch.join(&format!("{name}.csv"));
        std::fs::write(&file, text).unwrap();
        let output = closedloop(scratch.path())
            .args(["attribute", "--paths"])
            .arg(&file)
            .output()
            .unwrap();
        let stderr = stderr_of(&output);
        assert_eq!(output.status.code(), Some(2), "{name}: {stderr}");
        assert!(output.stdout.is_empty(), "{name}: wrote to stdout");
        assert!(stderr.contains(&format!("{name}.csv")), "{name}: {stderr}");
        for w in *wanted {
            assert!(stderr.contains(w), "{name}: `{w}` not in\n{stderr}");
        }
        assert!(!stderr.contains("panicked"), "{name}: {stderr}");
    }
    // Many problems: the first 20 are listed, the rest counted.
    let file = scratch.join("many.csv");
    std::fs::write(&file, format!("{PATH_HEADER}{}", "a,x,0,0\n".repeat(25))).unwrap();
    let output = closedloop(scratch.path())
        .args(["attribute", "--paths"])
        .arg(&file)
        .output()
        .unwrap();
    let stderr = stderr_of(&output);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("line 21, column 2") && !stderr.contains("line 22,"));
    assert!(stderr.contains("and 5 more"), "{stderr}");
    // A missing file and an unknown model are bad input too.
    let output = closedloop(scratch.path())
        .args(["attribute", "--paths", "nowhere.csv"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", stderr_of(&output));
    assert!(stderr_of(&output).contains("nowhere.csv"));
    let output = closedloop(scratch.path())
        .args(["attribute", "--models", "nonsense", "--paths"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", stderr_of(&output));
    assert!(stderr_of(&output).contains("nonsense"));
}

#[test]
fn models_that_need_touch_times_are_skipped_with_a_note() {
    let scratch = Scratch::new("cli", "paths-skip");
    let file = scratch.join("p.csv");
    std::fs::write(&file, format!("{PATH_HEADER}a > b,1,5,2\nb,0,0,1\n")).unwrap();
    let (output, v) = attribute_json(scratch.path(), &file, "time_decay,linear");
    let stderr = stderr_of(&output);
    assert!(
        stderr.contains("note: skipping time_decay_7: needs touch times"),
        "{stderr}"
    );
    assert_eq!(v.as_object().unwrap().len(), 1, "{v}");
    expect(&v, "linear", "conversions", &[("a", 0.5), ("b", 0.5)]);

    // The default set skips them too, with the same note.
    let output = closedloop(scratch.path())
        .args(["attribute", "--paths"])
        .arg(&file)
        .output()
        .unwrap();
    let stderr = stderr_of(&output);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("note: skipping time_decay_7: needs touch times"));
    assert!(stderr.contains("note: skipping w_shaped: needs the opportunity"));
    assert!(String::from_utf8_lossy(&output.stdout).contains("markov_1"));

    // Nothing left to run: the note, then bad input.
    let output = closedloop(scratch.path())
        .args(["attribute", "--models", "time_decay", "--paths"])
        .arg(&file)
        .output()
        .unwrap();
    let stderr = stderr_of(&output);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("note: skipping time_decay_7: needs touch times"));
}

#[test]
fn export_round_trips_through_attribute_and_is_deterministic() {
    use closedloop::attribute::{Attributor, Journeys, Linear, Markov};
    let scratch = Scratch::new("cli", "export");
    let export = |file: &Path, seed: &str, threads: &str| {
        closedloop(scratch.path())
            .env("RAYON_NUM_THREADS", threads)
            .arg("export")
            .arg(quickstart())
            .args(["--seed", seed, "--paths"])
            .arg(file)
            .assert()
            .success();
        std::fs::read(file).unwrap()
    };
    let file = scratch.join("quickstart.csv");
    let first = export(&file, "42", "1");
    assert!(first.starts_with(PATH_HEADER.as_bytes()));
    assert_eq!(first, export(&scratch.join("again.csv"), "42", "2"));
    assert_ne!(first, export(&scratch.join("other.csv"), "43", "2"));
    assert!(leftovers(scratch.path()).is_empty(), "temporary files left");

    // The library on the same journeys.
    let mut sc = closedloop::scenario::Scenario::from_path(&quickstart()).unwrap();
    sc.seed = 42;
    let (_, obs, _) = closedloop::experiment::simulate(&sc, 0);
    let spec = closedloop::spec::StitcherSpec::parse("deterministic").unwrap();
    let ids = closedloop::stitch::build(&spec).stitch(&obs.log);
    let journeys = Journeys::build(&obs.log, &ids);
    let lookback_days = closedloop::spec::DEFAULT_LOOKBACK_DAYS;
    let markov = Markov {
        order: 1,
        lookback_days,
        revenue: closedloop::spec::MarkovRevenue::Share,
    };
    let library = [
        ("markov_1", markov.attribute(&journeys)),
        ("linear", Linear { lookback_days }.attribute(&journeys)),
    ];
    let fit = markov.fit(&journeys);

    let (_, v) = attribute_json(scratch.path(), &file, "markov_1,linear");
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0);
    for (model, credit) in &library {
        assert!(
            credit.conversions["unknown"] > 0.0,
            "journeys with no touch"
        );
        for (what, map) in [
            ("conversions", &credit.conversions),
            ("revenue", &credit.revenue),
        ] {
            for (label, &want) in map {
                let got = credit_of(&v, model, what, label);
                assert!(
                    close(got, want),
                    "{model} {what} {label}: file {got}, library {want}"
                );
            }
            let file_total: f64 = v[model][what]
                .as_object()
                .unwrap()
                .values()
                .map(|x| x.as_f64().unwrap())
                .sum();
            let total: f64 = map.values().sum();
            assert!(
                close(file_total, total),
                "{model} {what}: {file_total} vs {total}"
            );
        }
    }
    for (label, &want) in &fit.removal_effects {
        let got = credit_of(&v, "markov_1", "removal_effects", label);
        assert!(close(got, want), "removal effect {label}: {got} vs {want}");
    }
}

/// `run`'s printed text for a small quickstart: stdout and report.json.
fn run_text(scratch: &Scratch, replicates: &str) -> (String, Value) {
    let file = scratch.quickstart_file(3_000);
    let out = scratch.join(&format!("out_{replicates}"));
    let output = closedloop(scratch.path())
        .arg("run")
        .arg(&file)
        .args(["--replicates", replicates, "--quiet"])
        .args(["--stitchers", "deterministic", "--models"])
        .args(["last_touch,first_touch,linear,markov_1", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    // --quiet keeps the tables off; run again without it for the text.
    let text = closedloop(scratch.path())
        .arg("run")
        .arg(&file)
        .args(["--replicates", replicates])
        .args(["--stitchers", "deterministic", "--models"])
        .args(["last_touch,first_touch,linear,markov_1", "--out"])
        .arg(scratch.join(&format!("again_{replicates}")))
        .output()
        .unwrap();
    assert_eq!(text.status.code(), Some(0), "{}", stderr_of(&text));
    (String::from_utf8(text.stdout).unwrap(), read_report(&out))
}

#[test]
fn run_prints_the_leaderboard_against_shapley_with_intervals_and_no_unsupported_best() {
    let scratch = Scratch::new("cli", "claims");
    let (text, report) = run_text(&scratch, "3");
    let lines: Vec<&str> = text.lines().collect();
    let at = |prefix: &str| {
        lines
            .iter()
            .position(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no line starting {prefix:?} in\n{text}"))
    };
    // The leaderboard: headline truth first, every cell a mean ± half-width.
    let board = at("Leaderboard:");
    assert!(lines[board].contains("sorted by the error against shapley"));
    let header = lines[board + 2];
    let pos = |t: &str| header.find(t).unwrap_or_else(|| panic!("{header}"));
    assert!(pos("shapley") < pos("incremental") && pos("incremental") < pos("proximate"));
    let rows: Vec<&str> = lines[board + 3..]
        .iter()
        .take_while(|l| !l.starts_with("(shapley truth)"))
        .copied()
        .collect();
    // Four models and the platforms' own claims.
    assert_eq!(rows.len(), 5, "{text}");
    for row in &rows {
        assert_eq!(row.matches('±').count(), 6, "{row}");
    }
    // The lowest-error line says what the paired CI of runner-up − lowest says.
    let lowest = lines[at("Lowest error against shapley on `deterministic`:")];
    let paired = &report["paired"]["models"]["deterministic"];
    let (best, runner_up) = (
        paired["best"].as_str().unwrap(),
        paired["runner_up"].as_str().unwrap(),
    );
    assert!(lowest.contains(&format!(": {best} (")), "{lowest}");
    assert!(lowest.contains(runner_up), "{lowest}");
    let margin = &paired["minus"][best][runner_up]["shapley"];
    let (lo, hi) = (
        margin["ci95_low"].as_f64().unwrap(),
        margin["ci95_high"].as_f64().unwrap(),
    );
    let significant = lo > 0.0 || hi < 0.0;
    assert_eq!(lowest.ends_with(": significant)"), significant, "{lowest}");
    assert_eq!(
        lowest.ends_with(": not significant)"),
        !significant,
        "{lowest}"
    );
    // Verdicts are against shapley; nothing is called best or closest.
    assert!(lines[at("Paired vs last_touch:")].contains("against shapley"));
    for word in ["best model", "closest", "causal"] {
        assert!(!text.contains(word), "`{word}` in\n{text}");
    }

    // One replicate: no interval anywhere, so no model is ahead of another.
    let (one, _) = run_text(&scratch, "1");
    assert!(one.contains("±-"), "{one}");
    assert!(!one.contains("Paired vs"), "{one}");
    assert!(one.contains("one replicate, no interval"), "{one}");
}
