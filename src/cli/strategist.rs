//! `closedloop budget` and `closedloop loop`: the strategist's commands —
//! argument handling, tables, CSV and the output folder; the work is in
//! `closedloop::experiment::budget` and `closedloop::experiment::closed_loop`.

use super::{Progress, bad, load_with, one_stitcher, parse_models, with_pictures, write_folder};
use anyhow::Context;
use closedloop::experiment::RunConfig;
use closedloop::report;
use closedloop::scenario::Scenario;
use closedloop::spec::StitcherSpec;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

/// Arguments of `closedloop budget`.
#[derive(clap::Args)]
pub struct BudgetArgs {
    /// Scenario file (TOML).
    scenario: PathBuf,
    /// A spend change, e.g. `display=-20%`, `paid_search=+20%` or
    /// `email=+500` (per period per 1,000 persons); repeat for several.
    #[arg(long = "change", required = true)]
    changes: Vec<String>,
    /// Number of replicate worlds (overrides the scenario's).
    #[arg(long)]
    replicates: Option<u32>,
    /// Master seed (overrides the scenario's).
    #[arg(long)]
    seed: Option<u64>,
    /// The one stitcher whose journeys the models credit.
    #[arg(long, default_value = "deterministic")]
    stitchers: String,
    /// Comma-separated model ids, or `all` (default: the scenario's list, else all).
    #[arg(long)]
    models: Option<String>,
    /// Also write report.json (with a `budget` section) and budget.csv here.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Print the budget report as JSON on stdout instead of the table.
    #[arg(long)]
    json: bool,
    /// Print nothing but errors.
    #[arg(long)]
    quiet: bool,
}

/// Arguments of `closedloop loop`.
#[derive(clap::Args)]
pub struct LoopArgs {
    /// Scenario file (TOML).
    scenario: PathBuf,
    /// Number of periods (each a new cohort of persons).
    #[arg(long, default_value_t = 12)]
    periods: u32,
    /// Comma-separated model ids, or `all` (default: last_touch,linear,markov_1); the oracle is always added.
    #[arg(long)]
    models: Option<String>,
    /// The one stitcher whose journeys the models credit.
    #[arg(long, default_value = "deterministic")]
    stitchers: String,
    /// Largest relative change of a channel's spend from one period to the next.
    #[arg(long, default_value_t = 0.2)]
    step_limit: f64,
    /// Number of replicate runs (overrides the scenario's).
    #[arg(long)]
    replicates: Option<u32>,
    /// Master seed (overrides the scenario's).
    #[arg(long)]
    seed: Option<u64>,
    /// Also write report.json (with a `loop` section) and loop.csv here.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Print the loop report as JSON on stdout instead of the table.
    #[arg(long)]
    json: bool,
    /// Print nothing but errors.
    #[arg(long)]
    quiet: bool,
}

/// The loop per steering model (the oracle added), its table, its folder.
pub fn cmd_loop(args: &LoopArgs, stdout: &mut String) -> anyhow::Result<ExitCode> {
    use closedloop::experiment::closed_loop::{self, Steering};
    let (periods, step_limit, json, quiet) = (args.periods, args.step_limit, args.json, args.quiet);
    let sc = load_with(&args.scenario, args.seed, args.replicates)?;
    if periods == 0 || periods > 1000 {
        return Err(bad(format!("--periods {periods}: expected 1..=1000")));
    }
    if !(step_limit.is_finite() && step_limit > 0.0 && step_limit <= 1.0) {
        return Err(bad(format!(
            "--step-limit {step_limit}: expected a number in (0, 1]"
        )));
    }
    let stitcher = &one_stitcher(&args.stitchers, "loop")?;
    let models = args.models.as_deref();
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
    let study = closed_loop::study(&sc, &steering, stitcher, periods, step_limit, &|| bar.inc());
    bar.finish();
    let report = report::schema::LoopReport::new(&sc, &study, periods, step_limit, stitcher.id());
    let bytes = report::schema::to_json(&report).context("serialising the loop report")?;
    if let Some(dir) = &args.out {
        let files = vec![
            ("report.json", bytes.clone()),
            ("loop.csv", report::csv::loop_csv(&sc, &study).into_bytes()),
        ];
        let pictures = report::loop_pictures(&sc, &study)?;
        let files = with_pictures(files, &pictures);
        write_folder(dir, &files)?;
    }
    if json {
        put!(stdout, "{}", String::from_utf8_lossy(&bytes));
    } else if !quiet {
        putln!(
            stdout,
            "The budget following each model for {periods} periods (step limit {:.0} %), `{}` journeys; true profit summed over periods",
            step_limit * 100.0,
            stitcher.id()
        );
        putln!(
            stdout,
            "{:<18} {:>30} {:>34} {:>12}",
            "model",
            "cumulative profit [95 % CI]",
            "cost of misattribution [95 % CI]",
            "off-optimal"
        );
        for s in &study.summary {
            let off = s.final_distance_to_optimal.mean;
            putln!(
                stdout,
                "{:<18} {:>30} {:>34} {:>11.1}%",
                s.model,
                whole_ci(&s.cumulative_profit),
                whole_ci(&s.cost_of_misattribution),
                if off.is_finite() { off } else { f64::NAN } * 100.0
            );
        }
        putln!(
            stdout,
            "(off-optimal: share of the budget the last period spends differently from the split the true response curves call best)"
        );
        putln!(stdout, "\n({:.1} s)", t0.elapsed().as_secs_f64());
    }
    Ok(ExitCode::SUCCESS)
}

/// `1234 [1100, 1368]`: a mean and its 95 % CI in whole units (`-` for no number).
fn whole_ci(s: &report::Stats) -> String {
    let finite = |x: Option<f64>| x.filter(|v| v.is_finite());
    match (
        finite(Some(s.mean)),
        finite(s.ci95_low),
        finite(s.ci95_high),
    ) {
        (Some(m), Some(l), Some(h)) => format!("{m:.0} [{l:.0}, {h:.0}]"),
        (Some(m), _, _) => format!("{m:.0}"),
        _ => "-".into(),
    }
}

/// A spend change's actual and predicted effects, the response curves
/// and the optimal split: tables, report, folder.
pub fn cmd_budget(args: &BudgetArgs, stdout: &mut String) -> anyhow::Result<ExitCode> {
    use closedloop::experiment::budget;
    let (out, json, quiet) = (&args.out, args.json, args.quiet);
    let sc = load_with(&args.scenario, args.seed, args.replicates)?;
    let changes: Vec<budget::SpendChange> = args
        .changes
        .iter()
        .map(|c| budget::SpendChange::parse(c))
        .collect::<Result<_, _>>()
        .map_err(|e| bad(e.to_string()))?;
    let spends = budget::new_spends(&sc, &changes).map_err(|e| bad(e.to_string()))?;
    let stitcher = &one_stitcher(&args.stitchers, "budget")?;
    let models = match &args.models {
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
    let study = budget::study(&sc, &spends, stitcher, &models, &|| bar.inc());
    bar.finish();
    let report = report::schema::BudgetReport::new(&sc, &study, stitcher.id());
    let bytes = report::schema::to_json(&report).context("serialising the budget report")?;
    if let Some(dir) = &out {
        let files = vec![
            ("report.json", bytes.clone()),
            (
                "budget.csv",
                report::csv::budget_csv(&study.rows).into_bytes(),
            ),
            (
                "curves.csv",
                report::csv::curves_csv(&study.curves).into_bytes(),
            ),
        ];
        let pictures = report::budget_pictures(&sc, &study.rows, &study.curves)?;
        let files = with_pictures(files, &pictures);
        write_folder(dir, &files)?;
    }
    if json {
        put!(stdout, "{}", String::from_utf8_lossy(&bytes));
    } else if !quiet {
        print_budget(stdout, &sc, &study.current, &spends, stitcher, &study.rows);
        print_curves(
            stdout,
            &study.curves,
            &study.optimal,
            &sc,
            &study.optimal_profit,
        );
        putln!(stdout, "\n({:.1} s)", t0.elapsed().as_secs_f64());
    }
    Ok(ExitCode::SUCCESS)
}

/// Each paid channel's true marginal ROI, the share that would have
/// converted anyway, and the optimal split of the current budget.
fn print_curves(
    stdout: &mut String,
    curves: &[closedloop::experiment::budget::ChannelCurve],
    optimal: &[f64],
    sc: &Scenario,
    profit: &report::Stats,
) {
    let cell = |s: &report::Stats, digits: usize| match (s.ci95_low, s.ci95_high) {
        (Some(l), Some(h)) => format!("{:.digits$} [{:.digits$}, {:.digits$}]", s.mean, l, h),
        _ => format!("{:.digits$}", s.mean),
    };
    putln!(
        stdout,
        "\nTrue response per paid channel (re-runs on the same draws; revenue per unit spend)"
    );
    putln!(
        stdout,
        "{:<14} {:>8} {:>26} {:>22} {:>12}",
        "channel",
        "spend",
        "marginal ROI [95 % CI]",
        "would convert anyway",
        "optimal"
    );
    for c in curves {
        let i = sc.channel_index(&c.channel).unwrap_or(0);
        putln!(
            stdout,
            "{:<14} {:>8.0} {:>26} {:>21.0}% {:>12.0}",
            c.channel,
            c.spend,
            cell(&c.marginal_roi, 2),
            c.converted_anyway.mean * 100.0,
            optimal[i]
        );
    }
    putln!(
        stdout,
        "(A negative \"would convert anyway\" share: removing the channel loses more leads than its shapley share — it feeds leads credited to other channels.)"
    );
    putln!(
        stdout,
        "Moving the same total budget to the optimal split changes profit by {} per period.",
        cell(profit, 0)
    );
}

/// The budget table: actual change with its CI, each model's prediction.
fn print_budget(
    stdout: &mut String,
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
    putln!(
        stdout,
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
    put!(
        stdout,
        "\n{:<width$} {:<9} {:>30}",
        "channel",
        "measure",
        "actual change [95 % CI]"
    );
    for m in &models {
        put!(stdout, " {:>14}", m);
    }
    putln!(stdout);
    for r in rows {
        put!(
            stdout,
            "{:<width$} {:<9} {:>30}",
            r.channel,
            r.measure,
            cell(&r.actual)
        );
        for (_, st) in &r.predicted {
            put!(stdout, " {:>14.1}", st.mean);
        }
        putln!(stdout);
    }
    if let Some(total) = rows
        .iter()
        .find(|r| r.channel == "total" && r.measure == "revenue")
    {
        putln!(
            stdout,
            "\nError of each model's predicted total revenue change (predicted − actual), mean [95 % CI]:"
        );
        for (m, st) in total.errors_smallest_first() {
            putln!(stdout, "  {:<24} {}", m, cell(st));
        }
    }
}
