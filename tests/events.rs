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
