//! The closed loop over periods (docs/model.md §6.5): budget invariants every
//! period, the same cohorts for every model, and the CLI's outputs, whose
//! summary figures are recomputed from the periods it reports.

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
    // Every figure of the summary is recomputed from the per-period
    // outcomes the same report lists, so a wrong sum, a swapped model, an
    // oracle taken from another replicate or a mislabelled period fails.
    let scratch = Scratch::new("loop", "cli");
    let file = scratch.quickstart_file(2_000);
    let out_dir = scratch.join("out");
    let periods = 4;
    let replicates = 2;
    let v: Value = json_of(
        closedloop(scratch.path())
            .args([
                "loop",
                file.to_str().unwrap(),
                "--periods",
                "4",
                "--models",
                "last_touch,first_touch",
            ])
            .args(["--replicates", "2", "--json", "--out"])
            .arg(&out_dir),
    );
    let lp = &v["loop"];
    let runs = lp["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 3 * replicates, "two models and the oracle");
    let run = |r: usize, m: &str| {
        runs.iter()
            .find(|x| x["replicate"] == r && x["model"] == m)
            .unwrap_or_else(|| panic!("no run of {m} in replicate {r}"))
    };
    let num = |x: &Value| x.as_f64().unwrap();
    let profits = |x: &Value| -> Vec<f64> {
        let ps = x["periods"].as_array().unwrap();
        assert_eq!(ps.len(), periods);
        for (p, period) in ps.iter().enumerate() {
            assert_eq!(period["period"], p, "periods out of order");
        }
        ps.iter().map(|p| num(&p["profit"])).collect()
    };
    let mean = |xs: &[f64]| xs.iter().sum::<f64>() / xs.len() as f64;
    let close = |a: f64, b: f64, what: &str| {
        assert!(
            (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0),
            "{what}: reported {a}, recomputed {b}"
        )
    };
    let optimal: Vec<f64> = lp["optimal_split"]
        .as_array()
        .unwrap()
        .iter()
        .map(num)
        .collect();
    let summary = lp["summary"].as_array().unwrap();
    assert_eq!(summary.len(), 3);
    let mut costs = Vec::new();
    for s in summary {
        let m = s["model"].as_str().unwrap();
        let mine: Vec<Vec<f64>> = (0..replicates).map(|r| profits(run(r, m))).collect();
        let oracle: Vec<Vec<f64>> = (0..replicates).map(|r| profits(run(r, "oracle"))).collect();
        let cumulative: Vec<f64> = mine.iter().map(|p| p.iter().sum()).collect();
        let cost: Vec<f64> = (0..replicates)
            .map(|r| oracle[r].iter().sum::<f64>() - cumulative[r])
            .collect();
        close(
            num(&s["cumulative_profit"]["mean"]),
            mean(&cumulative),
            &format!("{m} cumulative profit"),
        );
        close(
            num(&s["cost_of_misattribution"]["mean"]),
            mean(&cost),
            &format!("{m} cost of misattribution"),
        );
        assert_eq!(s["cost_of_misattribution"]["n"], replicates);
        let regret = s["regret"].as_array().unwrap();
        assert_eq!(regret.len(), periods);
        for (p, reg) in regret.iter().enumerate() {
            let per_rep: Vec<f64> = (0..replicates).map(|r| oracle[r][p] - mine[r][p]).collect();
            close(
                num(&reg["mean"]),
                mean(&per_rep),
                &format!("{m} regret in period {p}"),
            );
        }
        // The regrets add up to the cost: one figure, two views.
        close(
            regret.iter().map(|r| num(&r["mean"])).sum(),
            mean(&cost),
            &format!("{m} Σ regret"),
        );
        // Distances are those of the reported spends to the reported optimum.
        let mut last = Vec::new();
        for r in 0..replicates {
            let x = run(r, m);
            let d = x["distance_to_optimal"].as_array().unwrap();
            for (period, dist) in x["periods"].as_array().unwrap().iter().zip(d) {
                let spends: Vec<f64> = period["spends"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(num)
                    .collect();
                let moved: f64 = spends
                    .iter()
                    .zip(&optimal)
                    .map(|(a, b)| (a - b).abs())
                    .sum();
                close(
                    num(dist),
                    moved / (2.0 * spends.iter().sum::<f64>()),
                    &format!("{m} distance"),
                );
            }
            last.push(num(d.last().unwrap()));
        }
        close(
            num(&s["final_distance_to_optimal"]["mean"]),
            mean(&last),
            &format!("{m} final distance"),
        );
        costs.push((m.to_string(), mean(&cost)));
    }
    assert!(
        costs.iter().any(|(m, c)| m != "oracle" && *c != 0.0),
        "no model's loop differs from the oracle's: {costs:?}"
    );
    // loop.csv: per model × period the mean outcomes and the regret.
    let csv = std::fs::read_to_string(out_dir.join("loop.csv")).unwrap();
    assert!(csv.starts_with("model,period,leads,revenue,profit,regret,spend_paid_search,"));
    assert_eq!(
        csv.lines().count(),
        1 + 3 * periods,
        "header + models × periods"
    );
    for line in csv.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        let (m, p): (&str, usize) = (f[0], f[1].parse().unwrap());
        let s = summary.iter().find(|s| s["model"] == m).unwrap();
        close(
            f[5].parse().unwrap(),
            num(&s["regret"][p]["mean"]),
            &format!("loop.csv regret of {m} in period {p}"),
        );
    }
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
