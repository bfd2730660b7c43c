//! `closedloop export --events DIR` (docs/event-log.md): every table of the
//! log, one row per event with a unique id, and the truth apart under truth/.

mod common;

use closedloop::experiment;
use closedloop::scenario::Scenario;
use common::{Scratch, closedloop, json_of};
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
    // Shapley and proximate credit each sum to the leads.
    for name in ["shapley", "proximate"] {
        let total: f64 = read("truth/credit.csv")
            .lines()
            .skip(1)
            .filter(|l| l.starts_with(&format!("{name},")))
            .map(|l| l.split(',').nth(2).unwrap().parse::<f64>().unwrap())
            .sum();
        assert!((total - truth.leads.len() as f64).abs() < 1e-9, "{name}");
    }
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
    let dir = scratch.export_events(&file, "log");

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
                "tvd_channels",
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

#[test]
fn attribute_on_an_exported_log_reproduces_the_run_and_score_reproduces_its_stitching() {
    // Export → attribute --events gives `run`'s credit for every stitcher ×
    // model, bit for bit (platform claims included); each stitcher's
    // clusters fed back through `score --clusters` give `run`'s stitching
    // metrics, bit for bit.
    let scratch = Scratch::new("events", "byod");
    let file = scratch.quickstart_file(4_000);
    let dir = scratch.export_events(&file, "log");
    let out_dir = scratch.join("out");
    let sc = Scenario::from_path(&file).unwrap();
    let mut cfg = experiment::RunConfig::from_scenario(&sc);
    cfg.stitchers = closedloop::spec::StitcherSpec::all();
    cfg.models = closedloop::spec::AttributorSpec::all();
    let r = experiment::run_replicate(&sc, &cfg, 0);
    let run = closedloop::report::replicate_json(&r);

    let started = std::time::Instant::now();
    let report = json_of(
        closedloop(scratch.path())
            .args(["attribute", "--events"])
            .arg(&dir)
            .arg("--out")
            .arg(&out_dir)
            .arg("--json"),
    );
    let wall_s = started.elapsed().as_secs_f64();
    let rep = &report["replicates"][0];
    assert!(rep.get("truth").is_none(), "a log has no truth");
    let ours = rep["attribution"].as_array().unwrap();
    let mut compared = 0;
    for want in run["attribution"].as_array().unwrap() {
        if want["stitcher"] == "oracle" {
            continue;
        }
        let got = ours
            .iter()
            .find(|a| a["stitcher"] == want["stitcher"] && a["model"] == want["model"])
            .unwrap_or_else(|| panic!("no row for {} × {}", want["stitcher"], want["model"]));
        assert!(got.get("error").is_none());
        assert_eq!(
            got["credit"], want["credit"],
            "{} × {}",
            want["stitcher"], want["model"]
        );
        compared += 1;
    }
    assert_eq!(
        compared,
        ours.len(),
        "attribute --events has rows run lacks"
    );
    assert!(compared > 20 && ours.iter().any(|a| a["model"] == "platform_reported"));
    // Wall-clock seconds go to timings.json, never to report.json: the read
    // and, per stitcher, its stitching and its journeys + models, each a
    // non-negative number of seconds, one entry per stitcher run and no
    // other, together within the command's own wall time (so a stage timed
    // in milliseconds, counted twice or left out shows).
    let timings: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out_dir.join("timings.json")).unwrap()).unwrap();
    assert!(!serde_json::to_string(&report).unwrap().contains("_s\""));
    let seconds = |v: &serde_json::Value, what: &str| -> f64 {
        let s = v
            .as_f64()
            .unwrap_or_else(|| panic!("{what} is not a number: {v}"));
        assert!(s.is_finite() && s >= 0.0, "{what} = {s}");
        s
    };
    let mut staged = seconds(&timings["read_s"], "read_s");
    let stages = timings["stitchers"].as_object().unwrap();
    let ids: Vec<String> = cfg
        .stitchers
        .iter()
        .map(|spec| closedloop::stitch::build(spec).name())
        .collect();
    let mut timed: Vec<&String> = stages.keys().collect();
    timed.sort();
    let mut want: Vec<&String> = ids.iter().collect();
    want.sort();
    assert_eq!(timed, want, "timings.json stitchers");
    for (id, stage) in stages {
        assert_eq!(stage.as_object().unwrap().len(), 2, "{id}: {stage}");
        staged += seconds(&stage["stitch_s"], &format!("{id}.stitch_s"));
        staged += seconds(
            &stage["journeys_and_models_s"],
            &format!("{id}.journeys_and_models_s"),
        );
    }
    assert!(
        staged <= wall_s,
        "the stages took {staged} s, the whole command {wall_s} s"
    );
    assert!(staged > 0.0, "no stage took any time");
    for id in &ids {
        assert_eq!(
            rep["stitching"][&id]["path_lengths"], run["stitching"][&id]["path_lengths"],
            "{id}"
        );
        let mut metrics = json_of(
            closedloop(scratch.path())
                .args(["score", "--truth"])
                .arg(dir.join("truth"))
                .arg("--clusters")
                .arg(out_dir.join(format!("clusters/{id}.csv")))
                .arg("--json"),
        );
        metrics["path_lengths"] = run["stitching"][&id]["path_lengths"].clone();
        assert_eq!(metrics, run["stitching"][&id], "{id}");
    }
    // An external partition that leaves out a visit is refused, naming it.
    let clusters = std::fs::read_to_string(out_dir.join("clusters/deterministic.csv")).unwrap();
    let cut: String = clusters
        .lines()
        .take(1)
        .chain(clusters.lines().skip(2))
        .map(|l| format!("{l}\n"))
        .collect();
    let partial = scratch.join("partial.csv");
    std::fs::write(&partial, cut).unwrap();
    let refused = closedloop(scratch.path())
        .args(["score", "--truth"])
        .arg(dir.join("truth"))
        .arg("--clusters")
        .arg(&partial)
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&refused.stderr)
            .contains("1 event(s) of visits.csv have no cluster"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
}

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/event-log");

#[test]
fn a_hand_made_export_is_read_and_credited_as_worked_out_by_hand() {
    // tests/fixtures/event-log/ok: two cookies; anna (cookie 11) came by
    // paid_search then email, then filled the form; bo (cookie 12) came
    // direct then from display. Channels are the labels used, alphabetically.
    let scratch = Scratch::new("events", "fixture-ok");
    let report = json_of(
        closedloop(scratch.path())
            .args(["attribute", "--events", &format!("{FIXTURES}/ok")])
            .args([
                "--stitchers",
                "cookie_only",
                "--models",
                "last_touch,first_touch,linear",
                "--json",
            ]),
    );
    assert_eq!(
        report["channels"],
        serde_json::json!(["display", "email", "paid_search"])
    );
    let credit = |model: &str| -> serde_json::Value {
        report["replicates"][0]["attribution"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["model"] == model)
            .unwrap()["credit"]["conversions"]
            .as_object()
            .unwrap()
            .iter()
            .filter(|(_, v)| v.as_f64() != Some(0.0))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect::<serde_json::Map<_, _>>()
            .into()
    };
    assert_eq!(
        credit("last_touch"),
        serde_json::json!({"display": 1.0, "email": 1.0})
    );
    assert_eq!(
        credit("first_touch"),
        serde_json::json!({"direct": 1.0, "paid_search": 1.0})
    );
    assert_eq!(
        credit("linear"),
        serde_json::json!({"direct": 0.5, "display": 0.5, "email": 0.5, "paid_search": 0.5})
    );
    let stats = &report["replicates"][0]["stitching"]["cookie_only"];
    assert_eq!(stats["clusters"], 2);
    assert_eq!(stats["converting_clusters"], 2);
}

#[test]
fn each_kind_of_broken_log_is_refused_naming_file_line_and_column() {
    let scratch = Scratch::new("events", "fixtures");
    for (fixture, expected) in [
        ("missing_table", "crm_leads.csv: missing"),
        (
            "missing_column",
            "visits.csv:1 (cookie_id): missing column `cookie_id`",
        ),
        (
            "bad_timestamp",
            "visits.csv:4:2 (time_ms): `2026-01-03T00:00:00Z` is not a time",
        ),
        ("unknown_table", "pageviews.csv: unknown table"),
        (
            "unknown_touch_kind",
            "platform_touches.csv:3:5 (kind): unknown touch kind `impression`",
        ),
        (
            "duplicate_event_id",
            "deals.csv:2:1 (event_id): duplicate event_id 3 (first used in visits.csv line 4)",
        ),
        (
            "missing_reference",
            "opportunities.csv:2:3 (crm_lead_id): refers to event 70",
        ),
        ("bad_quote", "crm_leads.csv:3:5: unterminated quote"),
    ] {
        let out_dir = scratch.join(fixture);
        let out = closedloop(scratch.path())
            .args(["attribute", "--events", &format!("{FIXTURES}/{fixture}")])
            .arg("--out")
            .arg(&out_dir)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{fixture}: {stderr}");
        assert!(stderr.contains(expected), "{fixture}: {stderr}");
        assert!(
            stderr.contains("1 problem(s)"),
            "{fixture}: one problem only: {stderr}"
        );
        assert!(!out_dir.exists(), "{fixture}: something was written");
        assert!(out.stdout.is_empty(), "{fixture}");
    }
}

/// A documented file: name, (column, optional) in order, example row.
type DocTable = (String, Vec<(String, bool)>, Option<String>);

/// The columns `docs/event-log.md` documents per file: `## \`file\`` then a
/// `| column | type | meaning |` table; also the optional marks and example rows.
fn documented() -> Vec<DocTable> {
    let doc =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/event-log.md")).unwrap();
    let mut out: Vec<DocTable> = Vec::new();
    for line in doc.lines() {
        if let Some(name) = line.strip_prefix("## `").and_then(|l| l.strip_suffix('`')) {
            out.push((name.to_string(), Vec::new(), None));
        } else if let Some(last) = out.last_mut() {
            if let Some(ex) = line
                .strip_prefix("Example: `")
                .and_then(|l| l.strip_suffix('`'))
            {
                last.2 = Some(ex.to_string());
            } else if line.starts_with("| ") && !line.starts_with("| column") {
                let cells: Vec<&str> = line.split('|').map(str::trim).collect();
                let ty =
                    closedloop::io::event_log::column_type(&last.0, cells[1]).map(|t| t.name());
                assert_eq!(
                    ty,
                    Some(cells[2]),
                    "{}.{}: documented type vs event_log::column_type (the Parquet schema)",
                    last.0,
                    cells[1]
                );
                last.1
                    .push((cells[1].to_string(), cells[3].starts_with("*optional*")));
            }
        }
    }
    out
}

#[test]
fn the_schema_doc_the_writer_and_the_reader_cannot_drift() {
    let sc = common::quickstart(1_500);
    let (_, obs, truth) = experiment::simulate(&sc, 0);
    assert!(
        !obs.log.platforms.is_empty(),
        "the quickstart has platform logs"
    );
    let written: Vec<(&str, String)> = closedloop::io::event_log::log_tables(&obs.log)
        .into_iter()
        .chain(closedloop::io::event_log::truth_tables(&obs.log, &truth))
        .collect();
    let doc = documented();
    assert_eq!(
        doc.iter().map(|d| d.0.as_str()).collect::<Vec<_>>(),
        written.iter().map(|w| w.0).collect::<Vec<_>>(),
        "the documented files are the written files, in order"
    );
    for ((file, text), (_, columns, example)) in written.iter().zip(&doc) {
        let header: Vec<&str> = text.lines().next().unwrap().split(',').collect();
        let documented: Vec<&str> = columns.iter().map(|c| c.0.as_str()).collect();
        assert_eq!(header, documented, "{file}: header vs docs/event-log.md");
        if let Some(ex) = example {
            assert_eq!(ex.split(',').count(), header.len(), "{file}: example row");
        }
        if let Some(spec) = closedloop::io::event_log::schema::TABLES
            .iter()
            .find(|t| t.file == *file)
        {
            let read: Vec<(String, bool)> = spec
                .columns
                .iter()
                .map(|&(c, req)| (c.to_string(), !req))
                .collect();
            assert_eq!(
                &read, columns,
                "{file}: the reader's columns and optional marks vs the doc"
            );
        } else {
            assert!(file.starts_with("truth/"), "{file}: written but never read");
        }
    }
    assert_eq!(
        closedloop::io::event_log::schema::TABLES.len(),
        written
            .iter()
            .filter(|w| !w.0.starts_with("truth/"))
            .count(),
        "the reader knows a table the writer never writes"
    );
}

#[cfg(feature = "parquet")]
#[test]
fn a_parquet_export_reads_back_as_the_csv_export_does() {
    // Same world exported twice; attribute --events and score --clusters
    // give identical output on either format.
    let scratch = Scratch::new("events", "parquet");
    let file = scratch.quickstart_file(2_000);
    for (format, dir) in [("csv", "log-csv"), ("parquet", "log-pq")] {
        let out = closedloop(scratch.path())
            .args([
                "export",
                file.to_str().unwrap(),
                "--events",
                dir,
                "--format",
                format,
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert!(scratch.join("log-pq/visits.parquet").exists());
    assert!(!scratch.join("log-pq/visits.csv").exists());
    let report = |dir: &str| {
        let mut v = json_of(closedloop(scratch.path()).args([
            "attribute",
            "--events",
            dir,
            "--out",
            &format!("{dir}-out"),
            "--json",
        ]));
        v["source"]["events"] = serde_json::Value::Null;
        v
    };
    assert_eq!(report("log-csv"), report("log-pq"));
    let score = |dir: &str| {
        json_of(
            closedloop(scratch.path())
                .args(["score", "--truth", &format!("{dir}/truth"), "--clusters"])
                .arg("log-csv-out/clusters/deterministic.csv")
                .arg("--json"),
        )
    };
    assert_eq!(score("log-csv"), score("log-pq"));
}

mod mutated_logs {
    //! Whatever bytes a user's export holds, the reader answers with a log
    //! that keeps the format's promises or with problems naming a file —
    //! never a panic.
    use super::FIXTURES;
    use proptest::prelude::*;

    const FILES: [&str; 5] = [
        "visits.csv",
        "form_fills.csv",
        "crm_leads.csv",
        "opportunities.csv",
        "deals.csv",
    ];

    fn edit() -> impl Strategy<Value = (usize, usize, usize, Vec<u8>)> {
        let bytes = prop::collection::vec(
            prop::sample::select(vec![
                b'"', b',', b'\n', b'\r', b'0', b'7', b'-', b'a', b' ', 0xff, 0xc3,
            ]),
            0..4,
        );
        (0..FILES.len(), any::<usize>(), 0..4usize, bytes)
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]
        #[test]
        fn never_panics_and_a_log_it_returns_keeps_the_format_s_promises(
            edits in prop::collection::vec(edit(), 1..4)
        ) {
            let dir = std::env::temp_dir().join(format!(
                "closedloop-events-mutated-{}-{:?}",
                std::process::id(),
                std::thread::current().id()
            ));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            let mut files: Vec<Vec<u8>> = FILES
                .iter()
                .map(|f| std::fs::read(format!("{FIXTURES}/ok/{f}")).unwrap())
                .collect();
            for (file, at, delete, insert) in edits {
                let text = &mut files[file];
                let at = at % (text.len() + 1);
                let end = (at + delete).min(text.len());
                text.splice(at..end, insert);
            }
            for (name, bytes) in FILES.iter().zip(&files) {
                std::fs::write(dir.join(name), bytes).unwrap();
            }
            match closedloop::io::event_log::read_dir(&dir) {
                Ok(log) => {
                    let mut ids: Vec<u64> = log.visits.iter().map(|v| v.event_id)
                        .chain(log.form_fills.iter().map(|f| f.event_id))
                        .chain(log.crm_leads.iter().map(|l| l.event_id))
                        .chain(log.opportunities.iter().map(|o| o.event_id))
                        .chain(log.deals.iter().map(|d| d.event_id))
                        .collect();
                    let n = ids.len();
                    ids.sort_unstable();
                    ids.dedup();
                    prop_assert_eq!(ids.len(), n, "event ids are unique");
                    for l in &log.crm_leads {
                        prop_assert!(log.form_fills.iter().any(|f| f.event_id == l.form_fill_id));
                    }
                    prop_assert!(log.visits.is_sorted_by_key(|v| (v.time_ms, v.event_id)));
                    prop_assert!(log.labels.len() == log.n_channels + 3);
                }
                Err(e) => {
                    prop_assert!(e.total >= e.problems.len() && !e.problems.is_empty());
                    for p in &e.problems {
                        prop_assert!(FILES.iter().any(|f| p.file.ends_with(f)), "{}", p);
                    }
                }
            }
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
}

#[test]
fn problems_planted_far_apart_are_reported_at_their_lines_in_order() {
    let scratch = Scratch::new("events", "lines");
    let file = scratch.quickstart_file(2_000);
    let dir = scratch.export_events(&file, "log");
    let visits = std::fs::read_to_string(dir.join("visits.csv")).unwrap();
    let mut lines: Vec<String> = visits.lines().map(String::from).collect();
    for at in [300, 2_500, 7_000] {
        let mut f: Vec<&str> = lines[at - 1].split(',').collect();
        f[1] = "yesterday";
        lines[at - 1] = f.join(",");
    }
    std::fs::write(dir.join("visits.csv"), lines.join("\n") + "\n").unwrap();
    let e = closedloop::io::event_log::read_dir(&dir).unwrap_err();
    let at: Vec<Option<usize>> = e.problems.iter().map(|p| p.line).collect();
    assert_eq!(at, [Some(300), Some(2_500), Some(7_000)], "{e}");
    assert!(e.problems.iter().all(|p| p.column == Some(2)));
}
