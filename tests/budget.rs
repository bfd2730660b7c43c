//! Budget scenarios (docs/model.md §6.4): the re-run on the same draws is
//! exact where the truth says what must happen, and bad changes are bad input.

mod common;

use closedloop::experiment;
use closedloop::experiment::budget::{self, SpendChange};
use closedloop::scenario::Scenario;
use closedloop::spec::{AttributorSpec, StitcherSpec};
use common::{Scratch, closedloop, json_of, quickstart};
use serde_json::Value;

fn changes(list: &[&str]) -> Vec<SpendChange> {
    list.iter()
        .map(|c| SpendChange::parse(c).unwrap())
        .collect()
}

#[test]
fn a_zero_change_re_run_changes_nothing_in_any_replicate() {
    let sc = quickstart(4000);
    let spends = budget::new_spends(&sc, &changes(&["display=+0%", "paid_search=+0"])).unwrap();
    let models = [AttributorSpec::parse("linear").unwrap()];
    let reps = budget::run(&sc, &spends, &StitcherSpec::Deterministic, &models, 3);
    assert_eq!(reps.len(), 3);
    for r in &reps {
        assert!(r.base.leads > 50.0);
        assert_eq!(r.base, r.changed, "a real re-run at the same spends");
        assert!(r.predicted[0].1.iter().all(|p| *p == (0.0, 0.0)));
    }
}

#[test]
fn removing_a_channel_loses_exactly_its_incremental_leads() {
    // Two routes to "what the channel is worth" agree exactly: the re-run
    // without its budget, and the base world's incremental truth.
    let sc = quickstart(4000);
    for channel in ["paid_search", "display", "retargeting"] {
        let spends = budget::new_spends(&sc, &changes(&[&format!("{channel}=-100%")])).unwrap();
        let reps = budget::run(&sc, &spends, &StitcherSpec::Deterministic, &[], 2);
        for (r, rep) in reps.iter().enumerate() {
            let (_, _, truth) = experiment::simulate(&sc, r as u32);
            let incremental = truth.incremental.conversions[channel];
            assert_eq!(
                rep.base.leads - rep.changed.leads,
                incremental,
                "{channel}, replicate {r}"
            );
            assert!(rep.changed.spend < rep.base.spend);
        }
        // The table's per-channel change reads the incremental truth, so it
        // is the whole world's change here (a channel's proximate leads would
        // miss the leads it triggered and count those that came anyway).
        let rows = budget::table(&sc, &reps);
        let actual = |ch: &str, measure: &str| {
            let r = rows
                .iter()
                .find(|r| r.channel == ch && r.measure == measure);
            r.unwrap().actual.mean
        };
        for measure in ["leads", "revenue"] {
            let (one, total) = (actual(channel, measure), actual("total", measure));
            assert!(
                (one - total).abs() < 1e-9,
                "{channel} {measure}: {one} vs total {total}"
            );
        }
        assert!(actual(channel, "leads") < 0.0, "{channel}");
    }
}

#[test]
fn the_budget_table_has_every_paid_channel_and_the_totals() {
    let sc = quickstart(3000);
    let spends = budget::new_spends(&sc, &changes(&["display=-50%"])).unwrap();
    let models = [
        AttributorSpec::parse("last_touch").unwrap(),
        AttributorSpec::parse("markov_1").unwrap(),
    ];
    let reps = budget::run(&sc, &spends, &StitcherSpec::Deterministic, &models, 2);
    let rows = budget::table(&sc, &reps);
    let paid = sc.channels.iter().filter(|c| c.paid()).count();
    // Per paid channel leads, revenue, profit; then five totals.
    assert_eq!(rows.len(), 3 * paid + 5);
    let total_leads = rows
        .iter()
        .find(|r| r.channel == "total" && r.measure == "leads")
        .unwrap();
    // Errors are predictions minus the actual change, replicate by replicate.
    for ((_, p), (_, e)) in total_leads.predicted.iter().zip(&total_leads.error) {
        assert!((p.mean - total_leads.actual.mean - e.mean).abs() < 1e-9);
    }
    let spend = rows
        .iter()
        .find(|r| r.channel == "total" && r.measure == "spend")
        .unwrap();
    let display = sc.channel_index("display").unwrap();
    let want = -0.5 * sc.channels[display].spend.unwrap() * sc.persons as f64 / 1000.0;
    assert!((spend.actual.mean - want).abs() < 1e-9);
}

#[test]
fn bad_changes_are_bad_input_naming_the_change() {
    let scratch = Scratch::new("budget", "bad");
    let qs = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/quickstart.toml");
    for (change, needle) in [
        ("organic_search=+10%", "not a paid channel"),
        ("nowhere=+10%", "not a paid channel"),
        ("display=-150%", "must stay >= 0"),
        ("display", "expected CHANNEL"),
    ] {
        let out = closedloop(scratch.path())
            .args(["budget", qs, "--change", change])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{change}: {err}");
        assert!(err.contains(needle), "{change}: {err}");
        assert!(out.stdout.is_empty());
    }
}

fn rows_of(v: &Value) -> Vec<Value> {
    v["budget"]["rows"].as_array().unwrap().clone()
}

#[test]
fn budget_json_and_out_folder() {
    let scratch = Scratch::new("budget", "json");
    let file = scratch.quickstart_file(2_000);
    let out_dir = scratch.join("out");
    let v: Value = json_of(
        closedloop(scratch.path())
            .args([
                "budget",
                file.to_str().unwrap(),
                "--change",
                "paid_search=+20%",
            ])
            .args(["--models", "linear", "--replicates", "2", "--json", "--out"])
            .arg(&out_dir),
    );
    assert_eq!(
        v["schema_version"], 2,
        "the same schema as run's report.json"
    );
    assert_eq!(v["budget"]["stitcher"], "deterministic");
    assert_eq!(v["budget"]["spends"]["paid_search"]["new"], 1800.0);
    // Per channel: leads, revenue, profit (customers only in the total).
    assert!(
        !rows_of(&v)
            .iter()
            .any(|r| r["channel"] != "total" && r["measure"] == "customers")
    );
    let rows = v["budget"]["rows"].as_array().unwrap();
    assert!(
        rows.iter()
            .any(|r| r["channel"] == "total" && r["measure"] == "profit")
    );
    let curves = v["budget"]["curves"].as_array().unwrap();
    assert_eq!(curves.len(), 5, "one curve per paid channel");
    assert!(
        curves
            .iter()
            .all(|c| c["curve"].as_array().unwrap().len() == 9)
    );
    assert!(v["budget"]["optimal_split"]["profit_change"]["mean"].is_number());
    assert!(out_dir.join("report.json").exists() && out_dir.join("budget.csv").exists());
    let curves_csv = std::fs::read_to_string(out_dir.join("curves.csv")).unwrap();
    assert_eq!(
        curves_csv.lines().count(),
        1 + 5 * 9,
        "header + 9 points per paid channel"
    );
    let csv = std::fs::read_to_string(out_dir.join("budget.csv")).unwrap();
    assert!(csv.starts_with("channel,measure,series,kind,mean,sd,ci95_low,ci95_high,n\n"));
    assert!(csv.contains("total,revenue,linear,error,"));
}

/// One paid channel, no synergy, no triggers, a fixed deal size and every
/// lead closing: more spend can only add touches (common random numbers), so
/// revenue can only grow along the curve.
const ONE_CHANNEL: &str = r#"
name = "one_channel"
persons = 3000
warmup_days = 0
horizon_days = 60
sales_tail_days = 365
[population]
baseline_rate = 0.02
return_visit_rate = 0.0
[[segments]]
id = "all"
share = 1.0
qualify_rate = 1.0
close_rate = 1.0
deal_size = { median = 1000.0, sigma = 0.0 }
[sales]
handoff_loss_rate = 0.0
[[channels]]
id = "search"
spend = 100
max_rate = 0.06
half_saturation = 100
conversion_rate = 0.05
"#;

#[test]
fn response_curves_never_fall_with_spend_in_any_replicate() {
    for seed in 1..=4 {
        let mut sc = Scenario::from_toml_str("one.toml", ONE_CHANNEL).expect("valid");
        sc.seed = seed;
        let curves = budget::curves(&sc, 1);
        assert_eq!(curves.len(), 1);
        let points: Vec<f64> = curves[0].curve.iter().map(|(_, s)| s.mean).collect();
        assert_eq!(points.len(), budget::CURVE_POINTS.len());
        assert_eq!(points[0], 0.0, "incremental over the channel switched off");
        for w in points.windows(2) {
            assert!(w[1] >= w[0], "seed {seed}: {points:?}");
        }
        assert!(
            points[8] > points[4] && points[4] > 0.0,
            "seed {seed}: {points:?}"
        );
    }
}

#[test]
fn the_optimal_split_spends_the_same_budget_within_the_curves() {
    let sc = quickstart(2000);
    let curves = budget::curves(&sc, 1);
    let split = budget::optimal_split(&sc, &curves);
    let base = closedloop::world::scenario_spends(&sc);
    let total = |s: &[f64]| -> f64 {
        sc.channels
            .iter()
            .zip(s)
            .filter(|(c, _)| c.paid())
            .map(|(_, x)| x)
            .sum()
    };
    assert!((total(&split) - total(&base)).abs() < 1e-6 * total(&base));
    for (i, c) in sc.channels.iter().enumerate() {
        if c.paid() {
            assert!(
                split[i] >= 0.0 && split[i] <= 2.0 * base[i] + 1e-9,
                "{}",
                c.id
            );
        } else {
            assert_eq!(split[i], base[i], "unpaid channels keep their rate");
        }
    }
}

#[test]
fn budget_shift_makes_last_touch_and_the_truth_disagree() {
    // The shipped scenario's claim, at its seed: moving display and video
    // budget into brand search looks like a gain to last touch and is a loss.
    let sc = Scenario::from_path(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scenarios/budget_shift.toml"
    )))
    .expect("budget_shift loads");
    let change = changes(&["display=-50%", "video=-50%", "brand_search=+900"]);
    let spends = budget::new_spends(&sc, &change).unwrap();
    let models = [AttributorSpec::parse("last_touch").unwrap()];
    let reps = budget::run(&sc, &spends, &StitcherSpec::Deterministic, &models, 2);
    for (r, rep) in reps.iter().enumerate() {
        let predicted: f64 = rep.predicted[0].1.iter().map(|p| p.1).sum();
        let actual = rep.changed.revenue - rep.base.revenue;
        assert!(
            predicted > 0.0,
            "replicate {r}: last touch predicts {predicted}"
        );
        assert!(
            actual < 0.0,
            "replicate {r}: the re-run changed revenue by {actual}"
        );
        // Same total spend: the move is a reallocation.
        assert!((rep.changed.spend - rep.base.spend).abs() < 1e-6);
    }
}
