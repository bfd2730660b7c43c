//! `closedloop run` (and its sweeps): the run, its tables on stdout, its
//! output folder; the work is in `closedloop::experiment` and `report`.

use super::{Progress, bad, load_with, parse_models, parse_stitchers, with_pictures, write_folder};
use anyhow::Context;
use closedloop::experiment::{self, RunConfig, sweep};
use closedloop::report;
use closedloop::report::tables::Verdict;
use closedloop::scenario::Scenario;
use closedloop::truth::{self, SHAPLEY};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

/// Arguments of `closedloop run`.
#[derive(clap::Args)]
pub struct RunArgs {
    /// Scenario file (TOML).
    scenario: PathBuf,
    /// Output folder (default: out/<scenario name>/).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Master seed (overrides the scenario's).
    #[arg(long)]
    seed: Option<u64>,
    /// Number of replicate worlds (overrides the scenario's).
    #[arg(long)]
    replicates: Option<u32>,
    /// Comma-separated stitcher ids, or `all` (default: the scenario's list, else all).
    #[arg(long)]
    stitchers: Option<String>,
    /// Comma-separated model ids, or `all` (default: the scenario's list, else all).
    #[arg(long)]
    models: Option<String>,
    /// Print report.json on stdout instead of the table.
    #[arg(long)]
    json: bool,
    /// Print nothing but errors (and no progress bar).
    #[arg(long)]
    quiet: bool,
    /// Sweep a scenario key over values: `KEY=V1,V2,…` (dotted key, array
    /// elements by id, e.g. `channels.brand_search.intent_exponent=0,1,2`).
    /// Repeat for a grid; adds to (or replaces keys of) the scenario's
    /// `[sweep]` table. Writes sweep.csv and the report's `sweep` section.
    #[arg(long, value_name = "KEY=V1,V2,…")]
    sweep: Vec<String>,
}

/// Run every replicate (or every sweep point), write the folder, print the tables.
pub fn cmd_run(args: &RunArgs, stdout: &mut String) -> anyhow::Result<ExitCode> {
    let (json, quiet) = (args.json, args.quiet);
    let sc = load_with(&args.scenario, args.seed, args.replicates)?;
    let stitchers = args.stitchers.as_deref().map(parse_stitchers).transpose()?;
    let models = args.models.as_deref().map(parse_models).transpose()?;
    let choose = |sc: &Scenario| {
        let mut cfg = RunConfig::from_scenario(sc);
        if let Some(list) = &stitchers {
            cfg.stitchers = list.clone();
        }
        if let Some(list) = &models {
            cfg.models = list.clone();
        }
        cfg
    };
    let cfg = choose(&sc);
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| Path::new("out").join(&sc.name));
    let mut cli_axes = Vec::new();
    for a in &args.sweep {
        cli_axes.push(sweep::parse_axis(a).map_err(|e| bad(format!("--sweep: {e}")))?);
    }
    let file_axes = sweep::axes_from_table(&sc.sweep).map_err(|e| bad(e.to_string()))?;
    let axes = sweep::merge_axes(file_axes, cli_axes);
    if !axes.is_empty() {
        return cmd_sweep(args, &sc, &choose, &axes, &out, stdout);
    }
    if !quiet && !json {
        eprintln!(
            "closedloop: {} — {} persons × {} replicate(s), {} stitcher(s) × {} model(s)",
            sc.name,
            sc.persons,
            cfg.replicates,
            cfg.stitchers.len() + 1,
            cfg.models.len() + 1
        );
    }
    let t0 = Instant::now();
    let bar = Progress::start(cfg.replicates as u64, !quiet);
    let results = experiment::run_with_progress(&sc, &cfg, &|| bar.inc());
    bar.finish();
    let run_s = t0.elapsed().as_secs_f64();
    let report = report::schema::RunReport::new(&sc, &results);
    let bytes = report::schema::to_json(&report).context("serialising report.json")?;
    let clock = Instant::now();
    let pictures = report::run_pictures(&sc, &report, &results)?;
    let pictures_s = clock.elapsed().as_secs_f64();
    let timings =
        report::schema::RunTimings::new(run_s, pictures_s, rayon::current_num_threads(), &results);
    let files = vec![
        ("report.json", bytes.clone()),
        (
            "timings.json",
            report::schema::to_json_without_newline(&timings).context("serialising timings")?,
        ),
        (
            "credit.csv",
            report::csv::run_credit_csv(&results).into_bytes(),
        ),
    ];
    let files = with_pictures(files, &pictures);
    write_folder(&out, &files)?;
    if json {
        put!(stdout, "{}", String::from_utf8_lossy(&bytes));
    } else if !quiet {
        print_table(stdout, &sc, &results);
        putln!(
            stdout,
            "\nwrote {} ({:.1} s)",
            out.join("report.json").display(),
            run_s
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// How much of each model's error the stitching adds (replicate 0).
fn print_downstream(stdout: &mut String, r: &experiment::ReplicateResult) {
    let rows = experiment::downstream(r);
    let Some((_, first)) = rows.first() else {
        return;
    };
    if first.is_empty() {
        return;
    }
    putln!(
        stdout,
        "\nHeadline error (tvd of lead shares vs shapley) on each stitcher's journeys / on oracle journeys (replicate 0)"
    );
    put!(stdout, "{:<16}", "stitcher");
    for d in first {
        put!(stdout, " {:>24}", d.model);
    }
    putln!(stdout);
    for (name, ds) in &rows {
        put!(stdout, "{name:<16}");
        for d in ds {
            put!(
                stdout,
                " {:>24}",
                format!(
                    "{:.3} / {:.3} ({:+.3})",
                    d.tvd, d.oracle_tvd, d.stitching_part
                )
            );
        }
        putln!(stdout);
    }
}

/// The tables of a run: the world, stitching, shares, leaderboard,
/// platforms, ablation and paired verdicts.
fn print_table(stdout: &mut String, sc: &Scenario, results: &[experiment::ReplicateResult]) {
    let channels = sc.channel_ids();
    let first = &results[0];
    let Some((best, best_f1)) = report::tables::best_stitcher(results) else {
        return;
    };
    let w = &first.world;
    putln!(
        stdout,
        "{} persons, {} leads, {} customers, revenue {:.0} (replicate 0)",
        w.persons,
        w.leads,
        w.customers,
        w.revenue
    );
    print_stitching(stdout, first);
    print_shares(stdout, results, &channels, &best, best_f1);
    print_model_errors(stdout, results, &best);
    print_platforms(stdout, first);
    print_ablation(stdout, first);
    print_paired(stdout, results, &best);
}

/// Each stitcher's metrics (replicate 0), best F1 first, what the stitching
/// adds to each model's error, and `probabilistic` at each threshold.
fn print_stitching(stdout: &mut String, first: &experiment::ReplicateResult) {
    putln!(
        stdout,
        "\n{:<16} {:>6} {:>9} {:>7} {:>9} {:>9} {:>7} {:>7} {:>9} {:>8} {:>8} {:>8} {:>8}",
        "stitcher",
        "F1",
        "precision",
        "recall",
        "B3 prec",
        "B3 recall",
        "splits",
        "merges",
        "clusters",
        "complete",
        "cause_in",
        "conv_len",
        "null_len"
    );
    for (name, m, paths) in report::tables::stitchers_by_f1(first) {
        putln!(
            stdout,
            "{:<16} {:>6.3} {:>9.3} {:>7.3} {:>9.3} {:>9.3} {:>7} {:>7} {:>9.2} {:>8.3} {:>8.3} {:>8.2} {:>8.2}",
            name,
            m.pairwise.f1,
            m.pairwise.precision,
            m.pairwise.recall,
            m.bcubed.precision,
            m.bcubed.recall,
            m.splits,
            m.merges,
            m.clusters_per_person.mean,
            m.completeness,
            m.cause_in_journey,
            paths.converting.mean,
            paths.non_converting.mean
        );
    }
    print_downstream(stdout, first);
    if !first.threshold_sweep.is_empty() {
        putln!(
            stdout,
            "\n`probabilistic` at each match-weight threshold (replicate 0)"
        );
        putln!(
            stdout,
            "{:>9} {:>9} {:>7} {:>6} {:>7} {:>7}",
            "threshold",
            "precision",
            "recall",
            "F1",
            "splits",
            "merges"
        );
        for p in &first.threshold_sweep {
            putln!(
                stdout,
                "{:>9} {:>9.3} {:>7.3} {:>6.3} {:>7} {:>7}",
                p.threshold,
                p.pairwise.precision,
                p.pairwise.recall,
                p.pairwise.f1,
                p.splits,
                p.merges
            );
        }
    }
}

/// Shapley truth's and each model's share of the leads per channel on
/// `best`'s journeys, then the no-channel and unknown shares and the errors.
fn print_shares(
    stdout: &mut String,
    results: &[experiment::ReplicateResult],
    channels: &[String],
    best: &str,
    best_f1: f64,
) {
    putln!(
        stdout,
        "\nShare of channel credit per channel: shapley truth vs each model on `{best}` stitching (F1 {best_f1:.3}), mean over {} replicate(s)",
        results.len()
    );
    let shares = report::tables::share_table(results, channels, best);
    let width = channels.iter().map(|c| c.len()).max().unwrap_or(7).max(7);
    put!(stdout, "{:<width$}  {:>8}", "channel", "shapley");
    for (m, _) in &shares.models {
        put!(stdout, "  {:>15}", m);
    }
    putln!(stdout);
    for (i, ch) in channels.iter().enumerate() {
        put!(stdout, "{:<width$}  {:>7.1}%", ch, shares.truth[i] * 100.0);
        for (_, s) in &shares.models {
            put!(stdout, "  {:>14.1}%", s[i] * 100.0);
        }
        putln!(stdout);
    }
    // Below the channels, shares of *all* leads: what went to no channel
    // (truth: the baseline), and to `unknown` (leads with no web history).
    put!(
        stdout,
        "{:<width$}  {:>7.1}%",
        "(no channel)",
        shares.truth_no_channel * 100.0
    );
    for share in &shares.no_channel {
        put!(stdout, "  {:>14.1}%", share * 100.0);
    }
    putln!(stdout);
    put!(stdout, "{:<width$}  {:>8}", "(unknown)", "");
    for share in &shares.unknown {
        put!(stdout, "  {:>14.1}%", share * 100.0);
    }
    putln!(stdout);
    // Errors against shapley, mean ±95 % CI half-width over replicates.
    for (name, per_model) in &shares.errors {
        put!(stdout, "{:<width$}  {:>8}", name, "");
        for st in per_model {
            put!(stdout, "  {:>15}", plus_minus(st));
        }
        putln!(stdout);
    }
}

/// What each loss mechanism costs: the same world re-observed with it off.
fn print_ablation(stdout: &mut String, r: &experiment::ReplicateResult) {
    let Some(base) = r.loss_ablation.first() else {
        return;
    };
    putln!(
        stdout,
        "\nWhat each loss costs (replicate 0): the same world re-observed with one mechanism off; `{}` stitching, headline error vs shapley",
        base.stitcher
    );
    put!(
        stdout,
        "{:<16} {:>15} {:>7}",
        "switched off",
        "F1 (gain)",
        "recall"
    );
    for m in base.tvd.keys() {
        put!(stdout, " {:>22}", format!("{m} (change)"));
    }
    putln!(stdout);
    for row in &r.loss_ablation {
        put!(
            stdout,
            "{:<16} {:>15} {:>7.3}",
            row.switched_off,
            format!("{:.3} ({:+.3})", row.f1, row.f1 - base.f1),
            row.recall
        );
        for (m, t) in &row.tvd {
            put!(
                stdout,
                " {:>22}",
                format!("{t:.3} ({:+.3})", t - base.tvd[m])
            );
        }
        putln!(stdout);
    }
}

/// What each ad platform claims vs the truth (replicate 0).
fn print_platforms(stdout: &mut String, r: &experiment::ReplicateResult) {
    let Some(p) = &r.platforms else { return };
    putln!(
        stdout,
        "\nWhat the ad platforms claim (leads, replicate 0): {:.0} claims for {} distinct leads of {} real ones — double counting ×{}",
        p.sum_of_claims,
        p.distinct_claimed,
        p.real_conversions,
        p.double_counting_ratio
            .map_or("-".into(), |x| format!("{x:.2}"))
    );
    putln!(
        stdout,
        "{:<16} {:>8} {:>8} {:>12} {:>14} {:>12}",
        "platform",
        "claimed",
        "shapley",
        "incremental",
        "claim/increm.",
        "imported rev"
    );
    for row in &p.platforms {
        putln!(
            stdout,
            "{:<16} {:>8.0} {:>8.0} {:>12.0} {:>14} {:>12.0}",
            row.channel,
            row.claimed_conversions,
            row.shapley_conversions,
            row.incremental_conversions,
            row.claim_over_incremental
                .map_or("-".into(), |x| format!("{x:.2}")),
            row.claimed_revenue
        );
    }
}

/// "A beats B" per model vs `last_touch` (`tvd` of lead shares against
/// shapley on the best stitcher's journeys, paired over replicates), when R ≥ 2.
fn print_paired(stdout: &mut String, results: &[experiment::ReplicateResult], best: &str) {
    use report::paired::REFERENCE_MODEL as REF;
    if results.len() < 2 {
        return;
    }
    let paired = report::paired(results);
    let diffs = report::tables::versus_reference(&paired, best);
    if diffs.is_empty() {
        return;
    }
    putln!(
        stdout,
        "\nPaired vs {REF}: tvd of lead shares against shapley on `{best}` journeys, difference per replicate over {} replicates, 95 % CI",
        results.len()
    );
    let width = diffs.iter().map(|(d, _)| d.model.len()).max().unwrap_or(8);
    for (d, verdict) in diffs {
        let s = &d.diff;
        let (lo, hi) = (
            s.ci95_low.unwrap_or(f64::NAN),
            s.ci95_high.unwrap_or(f64::NAN),
        );
        let line = match verdict {
            Verdict::Beats => format!(
                "beats {REF} by {:.3} (CI {:.3} to {:.3})",
                -s.mean, -hi, -lo
            ),
            Verdict::LosesTo => format!(
                "loses to {REF} by {:.3} (CI {:.3} to {:.3})",
                s.mean, lo, hi
            ),
            Verdict::NoClearDifference => format!(
                "no clear difference from {REF}: {:+.3} (CI {:+.3} to {:+.3})",
                s.mean, lo, hi
            ),
        };
        putln!(stdout, "  {:<width$}  {line}", d.model);
    }
}

/// `run` with sweep axes: every grid point × replicate, written as
/// `sweep.csv` and a report.json holding the `sweep` section.
fn cmd_sweep(
    args: &RunArgs,
    sc: &Scenario,
    choose: &dyn Fn(&Scenario) -> RunConfig,
    axes: &[sweep::SweepAxis],
    out: &Path,
    stdout: &mut String,
) -> anyhow::Result<ExitCode> {
    let (seed, replicates, json, quiet) = (args.seed, args.replicates, args.json, args.quiet);
    let mut points = sweep_points(&args.scenario, axes)?;
    let swept = |key: &str| axes.iter().any(|a| a.key == key);
    for p in &mut points {
        if let (Some(s), false) = (seed, swept("seed")) {
            p.scenario.seed = s;
        }
        if let (Some(r), false) = (replicates, swept("replicates")) {
            p.scenario.replicates = r;
        }
    }
    // Each point's own strategy lists (a sweep may change a model's
    // parameter), unless the command line chose them.
    let configs: Vec<RunConfig> = points.iter().map(|p| choose(&p.scenario)).collect();
    let cfg = &configs[0];
    let units = sweep::units(&points);
    if !quiet && !json {
        eprintln!(
            "closedloop: {} — sweep of {} point(s) ({}), {} replicate run(s), {} stitcher(s) × {} model(s)",
            sc.name,
            points.len(),
            axes.iter()
                .map(|a| a.to_string())
                .collect::<Vec<_>>()
                .join("; "),
            units,
            cfg.stitchers.len() + 1,
            cfg.models.len() + 1
        );
    }
    let t0 = Instant::now();
    let bar = Progress::start(units, !quiet);
    let results = sweep::run_sweep(&points, &configs, &|| bar.inc());
    bar.finish();
    let run_s = t0.elapsed().as_secs_f64();
    let rows = report::sweep_rows(&results);
    let report = report::schema::SweepReport::new(sc, &points, &rows);
    let bytes = report::schema::to_json(&report).context("serialising report.json")?;
    let timings = report::schema::SweepTimings {
        run_seconds: run_s,
        threads: rayon::current_num_threads(),
        points: points.len(),
        replicate_runs: units,
    };
    let files = vec![
        ("report.json", bytes.clone()),
        ("sweep.csv", report::sweep_csv(&points, &rows).into_bytes()),
        (
            "timings.json",
            report::schema::to_json_without_newline(&timings).context("serialising timings")?,
        ),
    ];
    let pictures = report::sweep_pictures(sc, &points, &rows)?;
    let files = with_pictures(files, &pictures);
    write_folder(out, &files)?;
    if json {
        put!(stdout, "{}", String::from_utf8_lossy(&bytes));
    } else if !quiet {
        print_sweep(stdout, &points, &results, &rows);
        putln!(
            stdout,
            "\nwrote {} and sweep.csv ({:.1} s)",
            out.join("report.json").display(),
            run_s
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Every grid point of `axes` over the scenario file, each validated.
pub(super) fn sweep_points(
    path: &Path,
    axes: &[sweep::SweepAxis],
) -> anyhow::Result<Vec<sweep::SweepPoint>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let raw: toml::Value = toml::from_str::<toml::Table>(&text)
        .map(toml::Value::Table)
        .map_err(|e| bad(format!("{}: {e}", path.display())))?;
    sweep::build_points(&path.display().to_string(), &raw, axes).map_err(|e| bad(e.to_string()))
}

/// One line per grid point: the best stitcher's F1 and, on its journeys,
/// `last_touch`'s and the lowest-error model's `tvd` against shapley, mean
/// [95 % CI], and whether that model's lead over the runner-up is significant
/// (paired CI of runner-up − lowest excludes 0).
fn print_sweep(
    stdout: &mut String,

    points: &[sweep::SweepPoint],
    results: &[Vec<experiment::ReplicateResult>],
    rows: &[report::SweepRow],
) {
    let cell = |s: &report::Stats| match (s.ci95_low, s.ci95_high) {
        (Some(l), Some(h)) => format!("{:.3} [{:.3}, {:.3}]", s.mean, l, h),
        _ => format!("{:.3}", s.mean),
    };
    let find = |p: usize, stitcher: &str, model: &str, truth: &str, metric: &str| {
        report::sweep::find_row(rows, p, stitcher, model, truth, metric)
            .map(|r| cell(&r.stats))
            .unwrap_or_else(|| "-".into())
    };
    let label_w = points
        .iter()
        .map(|p| p.label().len())
        .max()
        .unwrap_or(5)
        .max(6);
    putln!(
        stdout,
        "\n{:<5} {:<label_w$}  {:<16} {:<24} {:<24} lowest-error model on its journeys (vs runner-up)",
        "point",
        "values",
        "best stitcher",
        "F1",
        "last_touch tvd (shapley)"
    );
    for (p, rs) in points.iter().zip(results) {
        let paired = report::paired(rs);
        let Some(best) = paired.best_stitcher.clone() else {
            continue;
        };
        let best_model = paired.best_model(&best).unwrap_or_default().to_string();
        let shapley = truth::TRUTHS[SHAPLEY];
        putln!(
            stdout,
            "{:<5} {:<label_w$}  {:<16} {:<24} {:<24} {} {} ({})",
            p.index,
            p.label(),
            best,
            find(p.index, &best, "", "", "pairwise.f1"),
            find(p.index, &best, "last_touch", shapley, "conversions.tvd"),
            best_model,
            find(p.index, &best, &best_model, shapley, "conversions.tvd"),
            margin_text(&paired, &best),
        );
    }
}

/// `0.148 ±0.012`: the mean and the half-width of its 95 % CI (`±-` with
/// one replicate).
fn plus_minus(s: &report::Stats) -> String {
    match s.half_width() {
        Some(h) => format!("{:.3} ±{h:.3}", s.mean),
        None => format!("{:.3} ±-", s.mean),
    }
}

/// Whether the lowest-error model on `stitcher`'s journeys is ahead of the
/// runner-up: the paired CI of (runner-up − lowest) against shapley.
fn margin_text(paired: &report::Paired, stitcher: &str) -> String {
    let Some((_, d)) = paired.best_margin(stitcher) else {
        return "no runner-up".into();
    };
    let s = &d.diff;
    match (s.ci95_low, s.ci95_high) {
        (Some(l), Some(h)) if s.excludes_zero() => format!(
            "ahead of {} by {:.3}, CI {l:.3} to {h:.3}: significant",
            d.model, s.mean
        ),
        (Some(l), Some(h)) => format!(
            "vs {}: {:+.3}, CI {l:+.3} to {h:+.3}: not significant",
            d.model, s.mean
        ),
        _ => format!("vs {}: one replicate, no interval", d.model),
    }
}

/// The model × truth table of headline error (mean ±95 % CI half-width) on
/// the best stitcher's journeys and on oracle journeys, sorted by the error
/// against shapley on the best stitcher; then whether the first is ahead of
/// the second.
fn print_model_errors(stdout: &mut String, results: &[experiment::ReplicateResult], best: &str) {
    let models = report::tables::leaderboard(results, best);
    if models.is_empty() {
        return;
    }
    putln!(
        stdout,
        "\nLeaderboard: headline error (tvd of shares of all leads, channels + no channel) against each truth, mean ±95 % CI half-width over {} replicate(s); sorted by the error against shapley on `{best}`",
        results.len()
    );
    let width = models
        .iter()
        .map(|m| m.model.len())
        .max()
        .unwrap_or(5)
        .max(16);
    let group = |title: &str| format!("{title:^44}");
    putln!(
        stdout,
        "{:<width$}  {}  {}",
        "",
        group(&format!("on `{best}`")),
        group("on oracle journeys")
    );
    let heads = truth::TRUTHS.map(|t| format!("{t:>14}")).join(" ");
    putln!(stdout, "{:<width$}  {heads}  {heads}", "model");
    let cells = |e: &Option<report::tables::TruthErrors>| match e {
        Some(e) => e
            .iter()
            .map(|s| format!("{:>14}", plus_minus(s)))
            .collect::<Vec<_>>()
            .join(" "),
        None => ["-"; 3].map(|x| format!("{x:>14}")).join(" "),
    };
    for row in &models {
        putln!(
            stdout,
            "{:<width$}  {}  {}",
            row.model,
            cells(&row.on_best),
            cells(&row.on_oracle)
        );
    }
    let paired = report::paired(results);
    if let Some((lowest, _)) = paired.best_margin(best) {
        putln!(
            stdout,
            "Lowest error against shapley on `{best}`: {lowest} ({})",
            margin_text(&paired, best)
        );
    }
}
