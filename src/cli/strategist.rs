//! `closedloop budget` and `closedloop loop`: the strategist's commands —
//! argument handling, tables, CSV and the output folder; the work is in
//! `closedloop::experiment::budget` and `closedloop::experiment::closed_loop`.

use super::*;

#[allow(clippy::too_many_arguments)]
pub(super) fn cmd_loop(
    path: &Path,
    periods: u32,
    models: Option<&str>,
    stitcher: &str,
    step_limit: f64,
    replicates: Option<u32>,
    seed: Option<u64>,
    out: Option<PathBuf>,
    json: bool,
    quiet: bool,
) -> anyhow::Result<ExitCode> {
    use closedloop::experiment::closed_loop::{self, Steering};
    let sc = load_with(path, seed, replicates)?;
    if periods == 0 || periods > 1000 {
        return Err(bad(format!("--periods {periods}: expected 1..=1000")));
    }
    if !(step_limit.is_finite() && step_limit > 0.0 && step_limit <= 1.0) {
        return Err(bad(format!(
            "--step-limit {step_limit}: expected a number in (0, 1]"
        )));
    }
    let stitchers = parse_stitchers(stitcher)?;
    let [stitcher] = stitchers.as_slice() else {
        return Err(bad(format!(
            "--stitchers: `loop` uses exactly one stitcher, got {}",
            stitchers.len()
        )));
    };
    let mut steering: Vec<Steering> = parse_models(models.unwrap_or("last_touch,linear,markov_1"))?
        .into_iter()
        .map(Steering::Model)
        .collect();
    steering.push(Steering::Oracle);
    if !quiet && !json {
        eprintln!(
            "closedloop loop: {} — {} periods × {} model(s) (+ oracle) × {} replicate(s), {} persons a cohort",
            sc.name,
            periods,
            steering.len() - 1,
            sc.replicates,
            sc.persons
        );
    }
    let t0 = Instant::now();
    let bar = Progress::start(
        sc.replicates as u64 * steering.len() as u64 + 1,
        !quiet && !json,
    );
    let runs = closed_loop::run_with_progress(
        &sc,
        &steering,
        stitcher,
        periods,
        step_limit,
        sc.replicates,
        &|| bar.inc(),
    );
    // The split the true response curves call best (replicate 0 of the
    // scenario's own spends), to report each period's distance to it.
    let optimal = closedloop::experiment::budget::optimal_split(
        &sc,
        &closedloop::experiment::budget::curves(&sc, 1),
    );
    bar.inc();
    bar.finish();
    let ids: Vec<String> = steering.iter().map(|s| s.id()).collect();
    let oracle_id = ORACLE.to_string();
    let of = |r: u32, m: &str| runs.iter().find(|x| x.replicate == r && x.model == m);
    let cumulative = |run: &closed_loop::LoopRun| run.periods.iter().map(|p| p.profit).sum::<f64>();
    let summary: Vec<serde_json::Value> = ids
        .iter()
        .map(|m| {
            let reps: Vec<&closed_loop::LoopRun> =
                (0..sc.replicates).filter_map(|r| of(r, m)).collect();
            let profit: Vec<f64> = reps.iter().map(|x| cumulative(x)).collect();
            let cost: Vec<f64> = reps
                .iter()
                .filter_map(|x| of(x.replicate, &oracle_id).map(|o| cumulative(o) - cumulative(x)))
                .collect();
            let regret: Vec<report::Stats> = (0..periods as usize)
                .map(|p| {
                    report::Stats::of(
                        &reps
                            .iter()
                            .filter_map(|x| {
                                of(x.replicate, &oracle_id)
                                    .map(|o| o.periods[p].profit - x.periods[p].profit)
                            })
                            .collect::<Vec<f64>>(),
                    )
                })
                .collect();
            let last_distance: Vec<f64> = reps
                .iter()
                .filter_map(|x| x.periods.last())
                .map(|p| closed_loop::distance(&p.spends, &optimal))
                .collect();
            serde_json::json!({
                "model": m,
                "final_distance_to_optimal": report::Stats::of(&last_distance),
                "cumulative_profit": report::Stats::of(&profit),
                "cost_of_misattribution": report::Stats::of(&cost),
                "regret": regret,
            })
        })
        .collect();
    let runs_json: Vec<serde_json::Value> = runs
        .iter()
        .map(|x| {
            let distance: Vec<f64> = x
                .periods
                .iter()
                .map(|p| closed_loop::distance(&p.spends, &optimal))
                .collect();
            serde_json::json!({
                "replicate": x.replicate,
                "model": x.model,
                "periods": x.periods,
                "distance_to_optimal": distance,
            })
        })
        .collect();
    let report = serde_json::json!({
        "schema_version": report::SCHEMA_VERSION,
        "scenario": { "name": sc.name, "seed": sc.seed, "replicates": sc.replicates },
        "channels": sc.channel_ids(),
        "loop": {
            "periods": periods,
            "step_limit": step_limit,
            "stitcher": stitcher.id(),
            "optimal_split": optimal,
            "summary": summary,
            "runs": runs_json,
        },
    });
    let mut bytes = serde_json::to_vec_pretty(&report).context("serialising the loop report")?;
    bytes.push(b'\n');
    if let Some(dir) = &out {
        let files = vec![
            ("report.json", bytes.clone()),
            ("loop.csv", loop_csv(&sc, &runs, &ids, periods).into_bytes()),
        ];
        let pictures = report::loop_pictures(&sc, &runs, &ids, &summary)?;
        let files = with_pictures(files, &pictures);
        write_folder(dir, &files)?;
    }
    if json {
        print!("{}", String::from_utf8_lossy(&bytes));
    } else if !quiet {
        let cell = |s: &serde_json::Value| {
            let f = |k: &str| s[k].as_f64();
            match (f("mean"), f("ci95_low"), f("ci95_high")) {
                (Some(m), Some(l), Some(h)) => format!("{m:.0} [{l:.0}, {h:.0}]"),
                (Some(m), _, _) => format!("{m:.0}"),
                _ => "-".into(),
            }
        };
        println!(
            "The budget following each model for {periods} periods (step limit {:.0} %), `{}` journeys; true profit summed over periods",
            step_limit * 100.0,
            stitcher.id()
        );
        println!(
            "{:<18} {:>30} {:>34} {:>12}",
            "model",
            "cumulative profit [95 % CI]",
            "cost of misattribution [95 % CI]",
            "off-optimal"
        );
        for s in &summary {
            println!(
                "{:<18} {:>30} {:>34} {:>11.1}%",
                s["model"].as_str().unwrap_or(""),
                cell(&s["cumulative_profit"]),
                cell(&s["cost_of_misattribution"]),
                s["final_distance_to_optimal"]["mean"]
                    .as_f64()
                    .unwrap_or(f64::NAN)
                    * 100.0
            );
        }
        println!(
            "(off-optimal: share of the budget the last period spends differently from the split the true response curves call best)"
        );
        println!("\n({:.1} s)", t0.elapsed().as_secs_f64());
    }
    Ok(ExitCode::SUCCESS)
}

/// One row per model × period, means over replicates: true outcomes, regret
/// against the oracle, and the spends per paid channel.
pub(super) fn loop_csv(
    sc: &Scenario,
    runs: &[closedloop::experiment::closed_loop::LoopRun],
    ids: &[String],
    periods: u32,
) -> String {
    let paid: Vec<usize> = (0..sc.channels.len())
        .filter(|&i| sc.channels[i].paid())
        .collect();
    let mut s = String::from("model,period,leads,revenue,profit,regret");
    for &i in &paid {
        let _ = write!(s, ",spend_{}", sc.channels[i].id);
    }
    s.push('\n');
    for m in ids {
        for p in 0..periods as usize {
            let of = |model: &str| -> Vec<&closedloop::experiment::closed_loop::Period> {
                runs.iter()
                    .filter(|r| r.model == model)
                    .map(|r| &r.periods[p])
                    .collect()
            };
            let (mine, oracle) = (of(m), of(ORACLE));
            let n = mine.len().max(1) as f64;
            let mean = |f: &dyn Fn(&closedloop::experiment::closed_loop::Period) -> f64,
                        v: &[&closedloop::experiment::closed_loop::Period]| {
                v.iter().map(|x| f(x)).sum::<f64>() / v.len().max(1) as f64
            };
            let regret = mean(&|x| x.profit, &oracle) - mean(&|x| x.profit, &mine);
            let _ = write!(
                s,
                "{},{},{},{},{},{}",
                m,
                p,
                mine.iter().map(|x| x.leads).sum::<f64>() / n,
                mine.iter().map(|x| x.revenue).sum::<f64>() / n,
                mine.iter().map(|x| x.profit).sum::<f64>() / n,
                regret
            );
            for &i in &paid {
                let _ = write!(s, ",{}", mine.iter().map(|x| x.spends[i]).sum::<f64>() / n);
            }
            s.push('\n');
        }
    }
    s
}

#[allow(clippy::too_many_arguments)]
pub(super) fn cmd_budget(
    path: &Path,
    changes: &[String],
    replicates: Option<u32>,
    seed: Option<u64>,
    stitcher: &str,
    models: Option<&str>,
    out: Option<PathBuf>,
    json: bool,
    quiet: bool,
) -> anyhow::Result<ExitCode> {
    use closedloop::experiment::budget;
    let sc = load_with(path, seed, replicates)?;
    let changes: Vec<budget::SpendChange> = changes
        .iter()
        .map(|c| budget::SpendChange::parse(c))
        .collect::<Result<_, _>>()
        .map_err(|e| bad(e.to_string()))?;
    let spends = budget::new_spends(&sc, &changes).map_err(|e| bad(e.to_string()))?;
    let stitchers = parse_stitchers(stitcher)?;
    let [stitcher] = stitchers.as_slice() else {
        return Err(bad(format!(
            "--stitchers: `budget` uses exactly one stitcher, got {}",
            stitchers.len()
        )));
    };
    let models = match models {
        Some(list) => parse_models(list)?,
        None => RunConfig::from_scenario(&sc).models,
    };
    if !quiet && !json {
        eprintln!(
            "closedloop budget: {} — {} persons × {} replicate(s), base and re-run worlds, {} model(s) on `{}`",
            sc.name,
            sc.persons,
            sc.replicates,
            models.len(),
            stitcher.id()
        );
    }
    let t0 = Instant::now();
    // Base and re-run, the response curves, the re-run at the optimal split.
    let bar = Progress::start(3 * sc.replicates as u64, !quiet && !json);
    let reps = budget::run_with_progress(&sc, &spends, stitcher, &models, sc.replicates, &|| {
        bar.inc()
    });
    let rows = budget::table(&sc, &reps);
    // The true response of every paid channel, and the split of the current
    // budget it says is best, checked by a re-run at that split.
    let curves = budget::curves_with_progress(&sc, sc.replicates, &|| bar.inc());
    let optimal = budget::optimal_split(&sc, &curves);
    let optimal_reps =
        budget::run_with_progress(&sc, &optimal, stitcher, &[], sc.replicates, &|| bar.inc());
    bar.finish();
    let optimal_profit = report::Stats::of(
        &optimal_reps
            .iter()
            .map(|r| r.changed.profit - r.base.profit)
            .collect::<Vec<f64>>(),
    );
    let old = closedloop::world::scenario_spends(&sc);
    let spend_json: serde_json::Map<String, serde_json::Value> = sc
        .channels
        .iter()
        .enumerate()
        .filter(|(_, c)| c.paid())
        .map(|(i, c)| {
            (
                c.id.clone(),
                serde_json::json!({ "current": old[i], "new": spends[i] }),
            )
        })
        .collect();
    let report = serde_json::json!({
        "schema_version": report::SCHEMA_VERSION,
        "scenario": { "name": sc.name, "seed": sc.seed, "replicates": sc.replicates },
        "channels": sc.channel_ids(),
        "budget": {
            "stitcher": stitcher.id(),
            "spends": spend_json,
            "rows": rows,
            "curves": curves,
            "optimal_split": {
                "spends": sc.channels.iter().zip(&optimal).filter(|(c, _)| c.paid()).map(|(c, s)| (c.id.clone(), serde_json::json!(s))).collect::<serde_json::Map<String, serde_json::Value>>(),
                "profit_change": optimal_profit,
            },
        },
    });
    let mut bytes = serde_json::to_vec_pretty(&report).context("serialising the budget report")?;
    bytes.push(b'\n');
    if let Some(dir) = &out {
        let files = vec![
            ("report.json", bytes.clone()),
            ("budget.csv", budget_csv(&rows).into_bytes()),
            ("curves.csv", curves_csv(&curves).into_bytes()),
        ];
        let pictures = report::budget_pictures(&sc, &rows, &curves)?;
        let files = with_pictures(files, &pictures);
        write_folder(dir, &files)?;
    }
    if json {
        print!("{}", String::from_utf8_lossy(&bytes));
    } else if !quiet {
        print_budget(&sc, &old, &spends, stitcher, &rows);
        print_curves(&curves, &optimal, &sc, &optimal_profit);
        println!("\n({:.1} s)", t0.elapsed().as_secs_f64());
    }
    Ok(ExitCode::SUCCESS)
}

/// Chart-ready response curves: channel, share of current spend, spend, true
/// incremental revenue over the channel switched off.
pub(super) fn curves_csv(curves: &[closedloop::experiment::budget::ChannelCurve]) -> String {
    let mut s = String::from("channel,spend_share,spend,mean,sd,ci95_low,ci95_high,n\n");
    let opt = |x: Option<f64>| x.map_or(String::new(), |v| v.to_string());
    for c in curves {
        for ((spend, st), share) in c
            .curve
            .iter()
            .zip(closedloop::experiment::budget::CURVE_POINTS)
        {
            let _ = writeln!(
                s,
                "{},{},{},{},{},{},{},{}",
                c.channel,
                share,
                spend,
                st.mean,
                opt(st.sd),
                opt(st.ci95_low),
                opt(st.ci95_high),
                st.n
            );
        }
    }
    s
}

/// Tidy budget table: channel, measure, series (actual or model), statistic.
pub(super) fn budget_csv(rows: &[closedloop::experiment::budget::BudgetRow]) -> String {
    let mut s = String::from("channel,measure,series,kind,mean,sd,ci95_low,ci95_high,n\n");
    let opt = |x: Option<f64>| x.map_or(String::new(), |v| v.to_string());
    for r in rows {
        let mut line = |series: &str, kind: &str, st: &report::Stats| {
            let _ = writeln!(
                s,
                "{},{},{},{},{},{},{},{},{}",
                r.channel,
                r.measure,
                series,
                kind,
                st.mean,
                opt(st.sd),
                opt(st.ci95_low),
                opt(st.ci95_high),
                st.n
            );
        };
        line("actual", "change", &r.actual);
        for (m, st) in &r.predicted {
            line(m, "predicted", st);
        }
        for (m, st) in &r.error {
            line(m, "error", st);
        }
    }
    s
}

/// Each paid channel's true marginal ROI, the share that would have
/// converted anyway, and the optimal split of the current budget.
pub(super) fn print_curves(
    curves: &[closedloop::experiment::budget::ChannelCurve],
    optimal: &[f64],
    sc: &Scenario,
    profit: &report::Stats,
) {
    let cell = |s: &report::Stats, digits: usize| match (s.ci95_low, s.ci95_high) {
        (Some(l), Some(h)) => format!("{:.digits$} [{:.digits$}, {:.digits$}]", s.mean, l, h),
        _ => format!("{:.digits$}", s.mean),
    };
    println!(
        "\nTrue response per paid channel (re-runs on the same draws; revenue per unit spend)"
    );
    println!(
        "{:<14} {:>8} {:>26} {:>22} {:>12}",
        "channel", "spend", "marginal ROI [95 % CI]", "would convert anyway", "optimal"
    );
    for c in curves {
        let i = sc.channel_index(&c.channel).unwrap_or(0);
        println!(
            "{:<14} {:>8.0} {:>26} {:>21.0}% {:>12.0}",
            c.channel,
            c.spend,
            cell(&c.marginal_roi, 2),
            c.converted_anyway.mean * 100.0,
            optimal[i]
        );
    }
    println!(
        "(A negative \"would convert anyway\" share: removing the channel loses more leads than its shapley share — it feeds leads credited to other channels.)"
    );
    println!(
        "Moving the same total budget to the optimal split changes profit by {} per period.",
        cell(profit, 0)
    );
}

/// The budget table: actual change with its CI, each model's prediction.
pub(super) fn print_budget(
    sc: &Scenario,
    old: &[f64],
    new: &[f64],
    stitcher: &StitcherSpec,
    rows: &[closedloop::experiment::budget::BudgetRow],
) {
    let changed: Vec<String> = sc
        .channels
        .iter()
        .enumerate()
        .filter(|(i, _)| old[*i] != new[*i])
        .map(|(i, c)| format!("{} {} → {}", c.id, old[i], new[i]))
        .collect();
    let n = rows.first().map_or(0, |r| r.actual.n);
    println!(
        "Spend change (per period per 1,000 persons): {}; {} replicate(s); models credit the base period on `{}` journeys",
        changed.join(", "),
        n,
        stitcher.id()
    );
    let cell = |s: &report::Stats| match (s.ci95_low, s.ci95_high) {
        (Some(l), Some(h)) => format!("{:.1} [{:.1}, {:.1}]", s.mean, l, h),
        _ => format!("{:.1}", s.mean),
    };
    let models: Vec<&String> = rows
        .iter()
        .find(|r| !r.predicted.is_empty())
        .map(|r| r.predicted.iter().map(|(m, _)| m).collect())
        .unwrap_or_default();
    let width = rows
        .iter()
        .map(|r| r.channel.len())
        .max()
        .unwrap_or(7)
        .max(7);
    print!(
        "\n{:<width$} {:<9} {:>30}",
        "channel", "measure", "actual change [95 % CI]"
    );
    for m in &models {
        print!(" {:>14}", m);
    }
    println!();
    for r in rows {
        print!(
            "{:<width$} {:<9} {:>30}",
            r.channel,
            r.measure,
            cell(&r.actual)
        );
        for (_, st) in &r.predicted {
            print!(" {:>14.1}", st.mean);
        }
        println!();
    }
    if let Some(total) = rows
        .iter()
        .find(|r| r.channel == "total" && r.measure == "revenue")
    {
        println!(
            "\nError of each model's predicted total revenue change (predicted − actual), mean [95 % CI]:"
        );
        let mut errs: Vec<&(String, report::Stats)> = total.error.iter().collect();
        errs.sort_by(|a, b| a.1.mean.abs().total_cmp(&b.1.mean.abs()));
        for (m, st) in errs {
            println!("  {:<24} {}", m, cell(st));
        }
    }
}
