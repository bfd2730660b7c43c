//! `closedloop export --events DIR` (issue 10, first half): every table of the
//! log, one row per event with a unique id, and the truth apart under truth/.

mod common;

use closedloop::experiment;
use closedloop::scenario::Scenario;
use common::{Scratch, closedloop};
use std::collections::HashSet;

#[test]
fn export_events_writes_the_log_and_keeps_the_truth_apart() {
    let scratch = Scratch::new("events", "export");
    let scenario = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/classroom.toml");
    let dir = scratch.join("log");
    let out = closedloop(scratch.path())
        .args(["export", scenario, "--events"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let sc = Scenario::from_path(std::path::Path::new(scenario)).unwrap();
    let (_, obs, truth) = experiment::simulate(&sc, 0);
    let log = &obs.log;
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap();
    let mut ids = HashSet::new();
    for (name, rows) in [
        ("visits.csv", log.visits.len()),
        ("form_fills.csv", log.form_fills.len()),
        ("crm_leads.csv", log.crm_leads.len()),
        ("opportunities.csv", log.opportunities.len()),
        ("deals.csv", log.deals.len()),
        ("conversion_imports.csv", log.conversion_imports.len()),
    ] {
        let text = read(name);
        let mut lines = text.lines();
        let header = lines.next().unwrap();
        assert!(header.starts_with("event_id,time_ms"), "{name}: {header}");
        assert!(!header.contains("person"), "{name} names the true person");
        let body: Vec<&str> = lines.collect();
        assert_eq!(body.len(), rows, "{name}");
        for line in body {
            let id: u64 = line.split(',').next().unwrap().parse().unwrap();
            assert!(ids.insert(id), "{name}: event id {id} twice");
        }
    }
    // The truth: every event's person exactly once, the leads, the credit.
    let events = read("truth/events.csv");
    let listed: Vec<u64> = events
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(listed.len(), ids.len());
    assert_eq!(listed.iter().copied().collect::<HashSet<u64>>(), ids);
    assert_eq!(
        read("truth/leads.csv").lines().count() - 1,
        truth.leads.len()
    );
    let causal: f64 = read("truth/credit.csv")
        .lines()
        .skip(1)
        .filter(|l| l.starts_with("causal,"))
        .map(|l| l.split(',').nth(2).unwrap().parse::<f64>().unwrap())
        .sum();
    assert!((causal - truth.leads.len() as f64).abs() < 1e-9);
    // A second export replaces the first; a folder of other things is refused.
    let again = closedloop(scratch.path())
        .args(["export", scenario, "--events"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(again.status.success());
    let precious = scratch.join("precious");
    std::fs::create_dir_all(&precious).unwrap();
    std::fs::write(precious.join("notes.txt"), "keep").unwrap();
    let refused = closedloop(scratch.path())
        .args(["export", scenario, "--events"])
        .arg(&precious)
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(2));
    assert!(precious.join("notes.txt").exists());
}

#[test]
fn scoring_closedloops_own_credit_reproduces_the_run() {
    // Round trip: export the world, feed `markov_1`'s credit on
    // `deterministic` journeys back through `score`, get the run's errors.
    let scratch = Scratch::new("events", "score");
    let file = scratch.quickstart_file(4_000);
    let dir = scratch.join("log");
    let out = closedloop(scratch.path())
        .args(["export", file.to_str().unwrap(), "--events"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let sc = Scenario::from_path(&file).unwrap();
    let mut cfg = experiment::RunConfig::from_scenario(&sc);
    cfg.stitchers = vec![closedloop::spec::StitcherSpec::Deterministic];
    cfg.models = vec![closedloop::spec::AttributorSpec::parse("markov_1").unwrap()];
    let r = experiment::run_replicate(&sc, &cfg, 0);
    let row = r
        .attribution
        .iter()
        .find(|a| a.stitcher == "deterministic" && a.model == "markov_1")
        .unwrap();
    let mut csv = String::from("label,conversions,revenue\n");
    for (label, conv) in &row.credit.conversions {
        // Shortest round-trip float formatting keeps every bit.
        csv.push_str(&format!(
            "{label},{conv:?},{:?}\n",
            row.credit.revenue[label]
        ));
    }
    let credit_file = scratch.join("credit.csv");
    std::fs::write(&credit_file, csv).unwrap();
    let out = closedloop(scratch.path())
        .args(["score", "--truth"])
        .arg(dir.join("truth"))
        .arg("--credit")
        .arg(&credit_file)
        .arg("--json")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for (t, name) in closedloop::truth::TRUTHS.iter().enumerate() {
        let want = serde_json::to_value(&row.error[t]).unwrap();
        for measure in ["conversions", "revenue"] {
            for key in [
                "tvd",
                "tvd_all",
                "max_miss",
                "non_channel_share",
                "baseline_share",
            ] {
                let (a, b) = (
                    v[name][measure][key].as_f64().unwrap(),
                    want[measure][key].as_f64().unwrap(),
                );
                assert!((a - b).abs() < 1e-9, "{name}.{measure}.{key}: {a} vs {b}");
            }
            assert_eq!(
                v[name][measure]["spearman_roi"],
                want[measure]["spearman_roi"]
            );
        }
    }
    // A broken credit file is bad input naming line and column.
    std::fs::write(&credit_file, "label,conversions\npaid_search,many\n").unwrap();
    let bad = closedloop(scratch.path())
        .args(["score", "--truth"])
        .arg(dir.join("truth"))
        .arg("--credit")
        .arg(&credit_file)
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("credit.csv:2:2"));
}
