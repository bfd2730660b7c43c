//! Experiments (docs/model.md §5.3, §6.2): paired differences, sweeps and their
//! tables, determinism across thread counts, bad sweep keys. The CI formula
//! and its coverage are tested next to it in `src/report`.

mod common;

use closedloop::experiment::{self, RunConfig};
use closedloop::report::{self, sweep as tables};
use closedloop::scenario::Scenario;
use closedloop::spec::{self, AttributorSpec, StitcherSpec};
use closedloop::truth::{SHAPLEY, TRUTHS};
use common::{Scratch, closedloop};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn scenario(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(format!("{name}.toml"))
}

const STITCHERS: &str = "deterministic,cookie_only";
const MODELS: &str = "last_touch,linear,markov";

/// The quickstart at 3,000 persons with a few strategies: small and fast,
/// every loss on.
fn small_run(replicates: u32) -> (Scenario, Vec<experiment::ReplicateResult>) {
    let mut sc = Scenario::from_path(&scenario("quickstart")).unwrap();
    sc.persons = 3_000;
    let cfg = RunConfig {
        stitchers: spec::parse_list(STITCHERS, StitcherSpec::all, StitcherSpec::parse).unwrap(),
        models: spec::parse_list(MODELS, AttributorSpec::all, AttributorSpec::parse).unwrap(),
        replicates,
    };
    let results = experiment::run(&sc, &cfg);
    (sc, results)
}

#[test]
fn paired_differences_are_per_replicate_differences() {
    let (sc, results) = small_run(4);
    let paired = report::paired(&results);
    let stitchers: Vec<&str> = results[0]
        .stitching
        .iter()
        .map(|(s, _)| s.as_str())
        .collect();
    assert_eq!(stitchers, ["deterministic", "cookie_only", "oracle"]);
    assert_eq!(paired.best_models.len(), 3);
    let tvd = |r: &experiment::ReplicateResult, s: &str, m: &str, t: usize| {
        r.attribution
            .iter()
            .find(|a| a.stitcher == s && a.model == m)
            .unwrap()
            .error[t]
            .conversions
            .tvd
    };
    for (stitcher, best) in &paired.best_models {
        for (t, truth) in TRUTHS.iter().enumerate() {
            // A model against itself: exactly 0, sd 0, CI [0, 0].
            for reference in ["last_touch", best.as_str()] {
                let d = paired.model(stitcher, reference, reference, truth).unwrap();
                assert_eq!(d.diff.mean, 0.0);
                assert_eq!(d.diff.sd, Some(0.0));
                assert_eq!((d.diff.ci95_low, d.diff.ci95_high), (Some(0.0), Some(0.0)));
                assert_eq!(d.diff.n, 4);
            }
            // Anything else: the mean of the replicates' own differences.
            for model in ["linear", "markov_1"] {
                let d = paired.model(stitcher, model, "last_touch", truth).unwrap();
                let xs: Vec<f64> = results
                    .iter()
                    .map(|r| tvd(r, stitcher, model, t) - tvd(r, stitcher, "last_touch", t))
                    .collect();
                let mean = xs.iter().sum::<f64>() / xs.len() as f64;
                assert!(
                    (d.diff.mean - mean).abs() < 1e-15,
                    "{stitcher} {model} {truth}"
                );
                let (lo, hi) = (d.diff.ci95_low.unwrap(), d.diff.ci95_high.unwrap());
                assert!(lo <= mean && mean <= hi);
            }
        }
        // The best model is the one with the lowest mean error against
        // shapley; the runner-up the next, and their paired difference is
        // the runner-up's minus the best's (never negative on average).
        let mean_of = |m: &str| {
            results
                .iter()
                .map(|r| tvd(r, stitcher, m, SHAPLEY))
                .sum::<f64>()
        };
        for model in ["last_touch", "linear", "markov_1"] {
            assert!(
                mean_of(best) <= mean_of(model),
                "{stitcher}: {best} vs {model}"
            );
        }
        let (named_best, margin) = paired.best_margin(stitcher).unwrap();
        assert_eq!(named_best, best);
        assert_eq!(
            (margin.versus.as_str(), margin.truth),
            (best.as_str(), "shapley")
        );
        assert_ne!(margin.model, *best);
        for model in ["last_touch", "linear", "markov_1"] {
            if model != best {
                assert!(
                    mean_of(&margin.model) <= mean_of(model),
                    "{stitcher}: runner-up"
                );
            }
        }
        let xs: Vec<f64> = results
            .iter()
            .map(|r| tvd(r, stitcher, &margin.model, SHAPLEY) - tvd(r, stitcher, best, SHAPLEY))
            .collect();
        assert!((margin.diff.mean - xs.iter().sum::<f64>() / 4.0).abs() < 1e-15);
        assert!(margin.diff.mean >= 0.0);
    }
    let best_stitcher = paired.best_stitcher.clone().unwrap();
    assert_ne!(best_stitcher, "oracle");
    let own = paired
        .stitchers
        .iter()
        .find(|d| d.stitcher == best_stitcher)
        .unwrap();
    assert_eq!((own.diff.mean, own.diff.sd), (0.0, Some(0.0)));
    assert!(paired.stitchers.iter().all(|d| d.diff.mean <= 0.0));

    // The same numbers reach report.json, under the documented paths.
    let json = report::report_json(&sc, &results);
    let p = &json["paired"];
    assert_eq!(p["metric"], "conversions.tvd");
    let cell = &p["models"]["deterministic"]["minus"]["last_touch"]["last_touch"]["incremental"];
    assert_eq!(cell["mean"], 0.0);
    assert_eq!(cell["sd"], 0.0);
    let linear = paired
        .model("cookie_only", "linear", "last_touch", "shapley")
        .unwrap();
    assert_eq!(
        p["models"]["cookie_only"]["minus"]["last_touch"]["linear"]["shapley"]["mean"]
            .as_f64()
            .unwrap(),
        linear.diff.mean
    );
    assert_eq!(p["stitchers"]["best"], best_stitcher.as_str());
}

fn run_sweep(cwd: &Scratch, out: &Path, threads: &str) {
    closedloop(cwd.path())
        .env("RAYON_NUM_THREADS", threads)
        .arg("run")
        .arg(scenario("quickstart"))
        .args([
            "--quiet",
            "--replicates",
            "2",
            "--stitchers",
            STITCHERS,
            "--models",
            MODELS,
            "--sweep",
            "persons=2000",
            "--sweep",
            "observe.cookie_deletion_scale=0,2",
            "--out",
        ])
        .arg(out)
        .assert()
        .success()
        .stdout("");
}

#[test]
fn sweeps_hold_every_point_and_metric_once_whatever_the_thread_count() {
    let scratch = Scratch::new("exp", "sweep");
    let (two, one) = (scratch.join("two"), scratch.join("one"));
    run_sweep(&scratch, &two, "2");
    let csv = std::fs::read_to_string(two.join("sweep.csv")).unwrap();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next().unwrap(),
        "point,persons,observe.cookie_deletion_scale,stitcher,model,truth,metric,mean,sd,ci95_low,ci95_high,n"
    );
    let mut seen = BTreeSet::new();
    let mut rows = 0;
    for line in lines {
        let f: Vec<&str> = line.split(',').collect();
        assert_eq!(f.len(), 12, "{line}");
        let point: usize = f[0].parse().unwrap();
        assert_eq!(f[1], "2000");
        assert_eq!(f[2], ["0", "2"][point], "{line}");
        assert_eq!(f[11], "2", "n: {line}");
        let mean: f64 = f[7].parse().unwrap();
        let (lo, hi): (f64, f64) = (f[9].parse().unwrap(), f[10].parse().unwrap());
        assert!(lo <= mean && mean <= hi, "{line}");
        let key = (
            point,
            f[3].to_string(),
            f[4].to_string(),
            f[5].to_string(),
            f[6].to_string(),
        );
        assert!(seen.insert(key), "row twice: {line}");
        rows += 1;
    }
    // What must be there, built from the run's strategies and the documented
    // metric set.
    let mut expected = BTreeSet::new();
    let s = |x: &str| x.to_string();
    for point in 0..2 {
        for (m, _) in tables::WORLD_METRICS {
            expected.insert((point, s(""), s(""), s(""), s(m)));
        }
        for stitcher in ["deterministic", "cookie_only", "oracle"] {
            for (m, _) in tables::STITCH_METRICS {
                expected.insert((point, s(stitcher), s(""), s(""), s(m)));
            }
            for model in ["last_touch", "linear", "markov_1"] {
                for truth in TRUTHS {
                    for (m, _) in tables::ATTRIBUTION_METRICS {
                        expected.insert((point, s(stitcher), s(model), s(truth), s(m)));
                    }
                    expected.insert((
                        point,
                        s(stitcher),
                        s(model),
                        s(truth),
                        s(tables::PAIRED_METRIC),
                    ));
                }
            }
        }
        for truth in TRUTHS {
            for (m, _) in tables::ATTRIBUTION_METRICS {
                expected.insert((point, s("oracle"), s("oracle"), s(truth), s(m)));
                // The platforms' claims (the scenario has paid channels).
                expected.insert((point, s("none"), s("platform_reported"), s(truth), s(m)));
            }
        }
    }
    let missing: Vec<_> = expected.difference(&seen).collect();
    let extra: Vec<_> = seen.difference(&expected).collect();
    assert!(missing.is_empty(), "missing rows: {missing:?}");
    assert!(extra.is_empty(), "unexpected rows: {extra:?}");

    // report.json's sweep section holds the same rows.
    let report: Value =
        serde_json::from_slice(&std::fs::read(two.join("report.json")).unwrap()).unwrap();
    let sweep = &report["sweep"];
    assert_eq!(
        sweep["keys"],
        serde_json::json!(["persons", "observe.cookie_deletion_scale"])
    );
    let points = sweep["points"].as_array().unwrap();
    assert_eq!(points.len(), 2);
    assert_eq!(points[1]["values"]["observe.cookie_deletion_scale"], 2);
    let json_rows: usize = points
        .iter()
        .map(|p| p["rows"].as_array().unwrap().len())
        .sum();
    assert_eq!(json_rows, rows);

    // Cookie deletion only changes the record, never the world.
    let leads = |p: &Value| {
        p["rows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["metric"] == "world.leads")
            .unwrap()["mean"]
            .clone()
    };
    assert_eq!(leads(&points[0]), leads(&points[1]));

    run_sweep(&scratch, &one, "1");
    for file in ["sweep.csv", "report.json"] {
        assert!(
            std::fs::read(one.join(file)).unwrap() == std::fs::read(two.join(file)).unwrap(),
            "{file} differs between RAYON_NUM_THREADS=1 and 2"
        );
    }
}

#[test]
fn a_sweep_key_that_does_not_exist_is_bad_input_naming_it() {
    let scratch = Scratch::new("exp", "badkey");
    for (arg, needles) in [
        (
            "observe.cookie_deletion_scal=0,1",
            &[
                "observe.cookie_deletion_scal",
                "sweep point 0",
                "unknown key",
            ][..],
        ),
        (
            "channels.tv.conversion_rate=0.1",
            &["channels.tv.conversion_rate", "no element with id `tv`"][..],
        ),
        (
            "observe.cookie_deletion_scale=1,99",
            &["observe.cookie_deletion_scale = 99", "sweep point 1"][..],
        ),
        (
            "observe.cookie_deletion_scale",
            &["--sweep", "KEY=V1,V2"][..],
        ),
    ] {
        let out = closedloop(scratch.path())
            .arg("run")
            .arg(scenario("classroom"))
            .args(["--quiet", "--sweep", arg, "--out"])
            .arg(scratch.join("out"))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{arg}: {stderr}");
        for n in needles {
            assert!(stderr.contains(n), "{arg}: `{n}` not in {stderr}");
        }
        assert!(!scratch.join("out").exists(), "{arg}: output written");
    }
}

#[test]
fn a_sweep_table_in_the_scenario_runs_and_the_cli_replaces_its_keys() {
    let scratch = Scratch::new("exp", "table");
    let text = std::fs::read_to_string(scenario("classroom")).unwrap();
    let file = scratch.join("swept.toml");
    std::fs::write(
        &file,
        format!("{text}\n[sweep]\nobserve.cookie_deletion_scale = [0, 1]\n\"channels.brand_search.intent_exponent\" = [1.0]\n"),
    )
    .unwrap();
    closedloop(scratch.path())
        .arg("validate")
        .arg(&file)
        .assert()
        .success();
    let out = scratch.join("out");
    closedloop(scratch.path())
        .arg("run")
        .arg(&file)
        .args([
            "--quiet",
            "--models",
            "last_touch",
            "--stitchers",
            "deterministic",
            "--out",
        ])
        .arg(&out)
        .assert()
        .success();
    let csv = std::fs::read_to_string(out.join("sweep.csv")).unwrap();
    assert!(csv.starts_with(
        "point,channels.brand_search.intent_exponent,observe.cookie_deletion_scale,stitcher,"
    ));
    assert!(csv.lines().any(|l| l.starts_with("1,1.0,1,")), "{csv}");
    closedloop(scratch.path())
        .arg("run")
        .arg(&file)
        .args([
            "--quiet",
            "--models",
            "last_touch",
            "--stitchers",
            "deterministic",
        ])
        .args(["--sweep", "observe.cookie_deletion_scale=0,0.5,2", "--out"])
        .arg(&out)
        .assert()
        .success();
    let csv = std::fs::read_to_string(out.join("sweep.csv")).unwrap();
    let points: BTreeSet<&str> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap())
        .collect();
    assert_eq!(points.into_iter().collect::<Vec<_>>(), ["0", "1", "2"]);

    // A bad key in the table is caught by `validate` too.
    std::fs::write(
        &file,
        format!("{text}\n[sweep]\nobserve.no_such_key = [0, 1]\n"),
    )
    .unwrap();
    let o = closedloop(scratch.path())
        .arg("validate")
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("observe.no_such_key"));
}

#[test]
fn replicated_runs_print_paired_verdicts_and_no_progress_bar_off_a_terminal() {
    let scratch = Scratch::new("exp", "verdicts");
    let out = closedloop(scratch.path())
        .arg("run")
        .arg(scenario("classroom"))
        .args([
            "--replicates",
            "3",
            "--models",
            "last_touch,linear,first_touch",
        ])
        .args(["--stitchers", "deterministic", "--out"])
        .arg(scratch.join("out"))
        .output()
        .unwrap();
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("Paired vs last_touch"), "{stdout}");
    for model in ["linear", "first_touch"] {
        let line = stdout
            .lines()
            .find(|l| l.trim_start().starts_with(model) && l.contains("last_touch"))
            .unwrap_or_else(|| panic!("no verdict for {model}: {stdout}"));
        assert!(
            ["beats", "loses to", "no clear difference"]
                .iter()
                .any(|v| line.contains(v)),
            "{line}"
        );
    }
    // stderr is a pipe here: the header line only, no bar.
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("replicate runs"), "{stderr}");
}

/// Ctrl-C (SIGINT) during the work leaves the output folder as it was: the
/// run folder is written only at the end, through a temporary sibling and a
/// rename (`report::write_run`), so no half-written folder and no temporary
/// folder remains, and a previous run stays intact.
#[cfg(unix)]
#[test]
fn an_interrupted_run_leaves_the_previous_run_intact() {
    let scratch = Scratch::new("exp", "interrupt");
    let out = scratch.join("out");
    closedloop(scratch.path())
        .arg("run")
        .arg(scenario("classroom"))
        .args(["--quiet", "--out"])
        .arg(&out)
        .assert()
        .success();
    let before = std::fs::read(out.join("report.json")).unwrap();
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin!("closedloop"))
        .current_dir(scratch.path())
        .arg("run")
        .arg(scenario("quickstart"))
        .args(["--quiet", "--replicates", "4", "--out"])
        .arg(&out)
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(400));
    let killed = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = child.wait().unwrap();
    assert!(!status.success(), "the run finished before the interrupt");
    assert_eq!(std::fs::read(out.join("report.json")).unwrap(), before);
    let entries: Vec<String> = std::fs::read_dir(scratch.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    assert_eq!(entries, ["out"], "left behind: {entries:?}");
}

/// A strategy parameter is a scenario key like any other: each point runs
/// its own strategy list (strategy-list elements are addressed by `kind`).
#[test]
fn a_sweep_can_vary_a_model_parameter() {
    let scratch = Scratch::new("exp", "model-param");
    let text = std::fs::read_to_string(scenario("classroom")).unwrap();
    let file = scratch.join("models.toml");
    std::fs::write(
        &file,
        format!("{text}\n[[attributors]]\nkind = \"markov\"\norder = 1\n"),
    )
    .unwrap();
    let out = scratch.join("out");
    closedloop(scratch.path())
        .arg("run")
        .arg(&file)
        .args([
            "--quiet",
            "--sweep",
            "attributors.markov.order=1,2",
            "--out",
        ])
        .arg(&out)
        .assert()
        .success();
    let csv = std::fs::read_to_string(out.join("sweep.csv")).unwrap();
    let models: BTreeSet<(String, String)> = csv
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[0].to_string(), f[3].to_string())
        })
        .filter(|(_, m)| m.starts_with("markov"))
        .collect();
    let expected: BTreeSet<(String, String)> = [("0", "markov_1"), ("1", "markov_2")]
        .iter()
        .map(|(p, m)| (p.to_string(), m.to_string()))
        .collect();
    assert_eq!(models, expected);
}

/// The HTML and the charts read the typed report; the numbers they show
/// must be the `summary` means report.json holds.
#[test]
fn the_typed_reports_means_are_the_summarys_means() {
    let (sc, results) = small_run(3);
    let typed = report::schema::RunReport::new(&sc, &results);
    let json = report::report_json(&sc, &results);
    let summary = &json["summary"];
    let mean_of = |v: &Value| v["mean"].as_f64().unwrap_or(0.0);
    assert_eq!(
        typed.mean(|r| Some(r.world.visits as f64)),
        mean_of(&summary["world"]["visits"])
    );
    for (name, _) in &results[0].stitching {
        let f1 = typed.mean(|r| r.stitching.get(name).map(|m| m.metrics.pairwise.f1));
        assert_eq!(
            f1,
            mean_of(&summary["stitching"][name]["pairwise"]["f1"]),
            "{name}"
        );
    }
    for (i, a) in results[0].attribution.iter().enumerate() {
        for (t, truth) in TRUTHS.iter().enumerate() {
            let tvd = typed.mean(|r| r.attribution.get(i).map(|x| x.error_of(t).conversions.tvd));
            let want = mean_of(&summary["attribution"][i]["error"][truth]["conversions"]["tvd"]);
            assert_eq!(tvd, want, "{} on {} vs {truth}", a.model, a.stitcher);
        }
    }
}

#[test]
fn a_kept_run_returns_the_same_result_and_the_partitions_it_scored() {
    let (sc, plain) = small_run(1);
    let cfg = RunConfig {
        stitchers: spec::parse_list(STITCHERS, StitcherSpec::all, StitcherSpec::parse).unwrap(),
        models: spec::parse_list(MODELS, AttributorSpec::all, AttributorSpec::parse).unwrap(),
        replicates: 1,
    };
    let (kept_result, kept) = experiment::run_replicate_keeping(&sc, &cfg, 0);
    let strip = |r: &experiment::ReplicateResult| {
        let mut r = r.clone();
        r.timings.clear();
        format!("{r:?}")
    };
    assert_eq!(strip(&kept_result), strip(&plain[0]));
    // The kept simulation is the run's: same world size and log as a fresh one.
    let (world, obs, truth) = experiment::simulate(&sc, 0);
    assert_eq!(kept.world.persons.len(), world.persons.len());
    assert_eq!(kept.observation.log.visits, obs.log.visits);
    assert_eq!(kept.truth.events.visit_person, truth.events.visit_person);
    // One partition per configured stitcher, in order, equal to stitching the log again.
    let ids: Vec<String> = kept.partitions.iter().map(|(s, _)| s.id()).collect();
    assert_eq!(ids, ["deterministic", "cookie_only"]);
    for (spec, partition) in &kept.partitions {
        let again = closedloop::stitch::build(spec).stitch(&obs.log);
        assert_eq!(partition, &again, "{}", spec.id());
    }
}
