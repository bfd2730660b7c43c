//! The closed loop over periods (issue 7 §3): budget invariants every period,
//! the same cohorts for every model, and the CLI's outputs.

mod common;

use closedloop::experiment::closed_loop::{self, Steering};
use closedloop::spec::{AttributorSpec, StitcherSpec};
use common::{Scratch, closedloop, json_of, quickstart};
use serde_json::Value;

#[test]
fn every_period_keeps_the_budget_the_step_limit_and_the_cohorts() {
    let sc = quickstart(3000);
    let models = [
        Steering::Model(AttributorSpec::parse("last_touch").unwrap()),
        Steering::Model(AttributorSpec::parse("markov_1").unwrap()),
        Steering::Oracle,
    ];
    let limit = 0.2;
    let runs = closed_loop::run(&sc, &models, &StitcherSpec::Deterministic, 6, limit, 2);
    assert_eq!(runs.len(), 2 * models.len());
    let total = |s: &[f64]| s.iter().sum::<f64>();
    let start = closedloop::world::scenario_spends(&sc);
    let mut moved = false;
    for run in &runs {
        assert_eq!(run.periods.len(), 6);
        for w in run.periods.windows(2) {
            let (a, b) = (&w[0].spends, &w[1].spends);
            assert!(
                (total(a) - total(b)).abs() < 1e-6 * total(a),
                "{}: total changed",
                run.model
            );
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                assert!(*y >= 0.0, "{}: negative spend", run.model);
                assert!(
                    (y - x).abs() <= limit * x + 1e-9,
                    "{} channel {i}: {x} → {y}",
                    run.model
                );
                moved |= (y - x).abs() > 1e-9;
            }
        }
        // Every model starts at the scenario's spends on the same cohort.
        assert_eq!(run.periods[0].spends, start);
    }
    assert!(moved, "no loop ever moved money");
    for r in 0..2 {
        let firsts: Vec<(f64, f64)> = runs
            .iter()
            .filter(|x| x.replicate == r)
            .map(|x| (x.periods[0].leads, x.periods[0].revenue))
            .collect();
        assert!(
            firsts.windows(2).all(|w| w[0] == w[1]),
            "replicate {r}: {firsts:?}"
        );
    }
    // Deterministic: the same loop again gives the same periods.
    let again = closed_loop::run(&sc, &models[..1], &StitcherSpec::Deterministic, 6, limit, 1);
    assert_eq!(again[0].periods, runs[0].periods);
}

#[test]
fn the_loop_command_reports_the_cost_of_misattribution() {
    let scratch = Scratch::new("loop", "cli");
    let file = scratch.quickstart_file(2_000);
    let out_dir = scratch.join("out");
    let v: Value = json_of(
        closedloop(scratch.path())
            .args([
                "loop",
                file.to_str().unwrap(),
                "--periods",
                "4",
                "--models",
                "last_touch",
            ])
            .args(["--replicates", "2", "--json", "--out"])
            .arg(&out_dir),
    );
    let summary = v["loop"]["summary"].as_array().unwrap();
    assert_eq!(summary.len(), 2, "last_touch and the oracle");
    let oracle = summary.iter().find(|s| s["model"] == "oracle").unwrap();
    assert_eq!(oracle["cost_of_misattribution"]["mean"], 0.0);
    assert_eq!(summary[0]["regret"].as_array().unwrap().len(), 4);
    let runs = v["loop"]["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 2 * 2);
    for run in runs {
        let d = run["distance_to_optimal"].as_array().unwrap();
        assert_eq!(d.len(), 4);
        assert!(d.iter().all(|x| (0.0..=1.0).contains(&x.as_f64().unwrap())));
    }
    let csv = std::fs::read_to_string(out_dir.join("loop.csv")).unwrap();
    assert!(csv.starts_with("model,period,leads,revenue,profit,regret,spend_paid_search,"));
    assert_eq!(csv.lines().count(), 1 + 2 * 4, "header + models × periods");
    // Bad arguments are bad input.
    for args in [["--periods", "0"], ["--step-limit", "1.5"]] {
        let out = closedloop(scratch.path())
            .args(["loop", file.to_str().unwrap()])
            .args(args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
    }
}
