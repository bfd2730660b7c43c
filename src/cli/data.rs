//! Your own data in and out: `closedloop attribute` (path files, event
//! logs), `export` (path files, event logs) and `score` (an external
//! model's credit or stitcher's clusters against an exported truth).

use super::{bad, load, parse_models, parse_stitchers, write_folder};
use anyhow::Context;
use closedloop::attribute::Journeys;
use closedloop::experiment::{self, ORACLE, on_log};
use closedloop::io::pathfile;
use closedloop::report;
use closedloop::spec::{self, AttributorSpec, StitcherSpec};
use closedloop::{stitch, truth};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Arguments of `closedloop attribute`.
#[derive(clap::Args)]
pub struct AttributeArgs {
    /// Path file: CSV with columns `path` (steps joined by ` > `),
    /// `total_conversions` and optionally `total_conversion_value`, `total_null`.
    #[arg(
        long,
        value_name = "FILE.csv",
        required_unless_present = "events",
        conflicts_with = "events"
    )]
    paths: Option<PathBuf>,
    /// Event-log folder (docs/event-log.md: visits.csv, form_fills.csv,
    /// crm_leads.csv, …), e.g. your tracker + CRM export.
    #[arg(long, value_name = "DIR")]
    events: Option<PathBuf>,
    /// With --events: comma-separated stitcher ids, or `all` (the default).
    #[arg(long, requires = "events")]
    stitchers: Option<String>,
    /// Comma-separated model ids, or `all` (the default); on a path file, models
    /// that need touch times or opportunities are skipped with a note.
    #[arg(long)]
    models: Option<String>,
    /// With --events: a journey is every `visit` (default) or every `session`.
    #[arg(long, requires = "events", default_value = "visit", value_parser = ["visit", "session"])]
    journey_unit: String,
    /// With --events: write report.json, credit.csv and each stitcher's
    /// clusters (clusters/ID.csv) here, atomically.
    #[arg(long, requires = "events")]
    out: Option<PathBuf>,
    /// Print JSON on stdout instead of the table.
    #[arg(long)]
    json: bool,
}

/// Arguments of `closedloop export`.
#[derive(clap::Args)]
pub struct ExportArgs {
    /// Scenario file (TOML).
    scenario: PathBuf,
    /// Path file to write (ChannelAttribution's format), atomically.
    #[arg(
        long,
        value_name = "FILE.csv",
        required_unless_present = "events",
        conflicts_with = "events"
    )]
    paths: Option<PathBuf>,
    /// Folder to write the event log into (CSV per table, `truth/` apart), atomically.
    #[arg(long, value_name = "DIR")]
    events: Option<PathBuf>,
    /// With --events: `csv` (default) or `parquet` (the same columns and
    /// types; needs the `parquet` cargo feature).
    #[arg(long, requires = "events", default_value = "csv", value_parser = ["csv", "parquet"])]
    format: String,
    /// One stitcher id, or `oracle` for the true persons.
    #[arg(long, default_value = "deterministic")]
    stitchers: String,
    /// Master seed (overrides the scenario's).
    #[arg(long)]
    seed: Option<u64>,
}

/// Arguments of `closedloop score`.
#[derive(clap::Args)]
pub struct ScoreArgs {
    /// The `truth/` folder of `closedloop export --events DIR`.
    #[arg(long, value_name = "DIR/truth")]
    truth: PathBuf,
    /// An external model's credit table: columns `label,conversions[,revenue]`.
    #[arg(
        long,
        value_name = "FILE.csv",
        required_unless_present = "clusters",
        conflicts_with = "clusters"
    )]
    credit: Option<PathBuf>,
    /// An external stitcher's clusters: columns `event_id,cluster_id` over
    /// visits, form fills, CRM leads and deals (opportunities optional).
    #[arg(long, value_name = "FILE.csv")]
    clusters: Option<PathBuf>,
    /// Also write the scores as JSON to this file (atomically).
    #[arg(long, value_name = "FILE.json")]
    out: Option<PathBuf>,
    /// Print the scores as JSON on stdout.
    #[arg(long)]
    json: bool,
}

/// `attribute --paths FILE` or `attribute --events DIR`.
pub fn cmd_attribute(args: &AttributeArgs, stdout: &mut String) -> anyhow::Result<ExitCode> {
    let models = args.models.as_deref();
    match (&args.paths, &args.events) {
        (Some(paths), _) => attribute_paths(paths, models, args.json, stdout),
        (None, Some(dir)) => attribute_events(args, dir, stdout),
        (None, None) => Err(bad("attribute needs --paths FILE.csv or --events DIR")),
    }
}

/// `export --paths FILE` or `export --events DIR`.
pub fn cmd_export(args: &ExportArgs) -> anyhow::Result<ExitCode> {
    match (&args.paths, &args.events) {
        (Some(paths), _) => export_paths(&args.scenario, paths, &args.stitchers, args.seed),
        (None, Some(dir)) => {
            export_events(&args.scenario, dir, args.seed, args.format == "parquet")
        }
        (None, None) => Err(bad("export needs --paths FILE.csv or --events DIR")),
    }
}

/// `score --credit FILE` or `score --clusters FILE`.
pub fn cmd_score(args: &ScoreArgs, stdout: &mut String) -> anyhow::Result<ExitCode> {
    let (truth, out) = (&args.truth, args.out.as_deref());
    match (&args.credit, &args.clusters) {
        (Some(credit), _) => score_credit(truth, credit, out, args.json, stdout),
        (None, Some(clusters)) => score_clusters(truth, clusters, out, args.json, stdout),
        (None, None) => Err(bad("score needs --credit FILE.csv or --clusters FILE.csv")),
    }
}

/// `attribute --paths FILE`: every model that can run on a path file.
fn attribute_paths(
    file: &Path,
    models: Option<&str>,
    json: bool,
    stdout: &mut String,
) -> anyhow::Result<ExitCode> {
    let requested = match models {
        Some(list) => parse_models(list)?,
        None => AttributorSpec::all(),
    };
    let mut specs: Vec<AttributorSpec> = Vec::new();
    for s in requested {
        if let Some(why) = s.path_file_gap() {
            eprintln!("note: skipping {}: {why}", s.id());
        } else if !specs.iter().any(|x| x.id() == s.id()) {
            specs.push(s);
        }
    }
    if specs.is_empty() {
        return Err(bad("--models: no model left that can run on a path file"));
    }
    let bytes = std::fs::read(file).map_err(|e| bad(format!("{}: {e}", file.display())))?;
    let journeys =
        pathfile::parse_journeys(&bytes).map_err(|e| bad(format!("{}: {e}", file.display())))?;
    drop(bytes);
    let results = on_log::attribute_paths(&journeys, &specs, json);
    if json {
        let report = report::schema::path_credit_report(&results);
        let text = report::schema::to_json(&report)?;
        stdout.push_str(&String::from_utf8(text)?);
        return Ok(ExitCode::SUCCESS);
    }
    // Channels, then the other labels that received credit.
    let labels: Vec<&String> = journeys
        .labels
        .iter()
        .enumerate()
        .filter(|&(i, l)| {
            i < journeys.n_channels
                || results.iter().any(|r| {
                    r.credit.conversions.get(l).is_some_and(|&x| x != 0.0)
                        || r.credit.revenue.get(l).is_some_and(|&x| x != 0.0)
                })
        })
        .map(|(_, l)| l)
        .collect();
    let width = labels.iter().map(|l| l.len()).max().unwrap_or(5).max(7);
    let ids: Vec<&str> = results.iter().map(|r| r.model.as_str()).collect();
    let col = ids.iter().map(|id| id.len()).max().unwrap_or(0).max(12);
    let mut text = String::new();
    let (conversions, revenue) = on_log::path_totals(&journeys);
    let _ = writeln!(
        text,
        "{}: {} paths, {} conversions, revenue {}",
        file.display(),
        journeys.journeys.len(),
        conversions,
        revenue
    );
    for (title, pick) in [("conversions", 0usize), ("revenue", 1usize)] {
        let _ = write!(text, "\n{title:<width$}");
        for id in &ids {
            let _ = write!(text, "  {id:>col$}");
        }
        text.push('\n');
        for l in &labels {
            let _ = write!(text, "{l:<width$}");
            for c in results.iter().map(|r| &r.credit) {
                let map = if pick == 0 {
                    &c.conversions
                } else {
                    &c.revenue
                };
                let _ = write!(text, "  {:>col$.3}", map.get(*l).copied().unwrap_or(0.0));
            }
            text.push('\n');
        }
    }
    stdout.push_str(&text);
    Ok(ExitCode::SUCCESS)
}

/// `attribute --events DIR`: stitchers and models on an event log with no
/// truth (a user's own export); report.json (schema 1, no `truth`, no
/// `error`), credit.csv and clusters/ID.csv with `--out`.
fn attribute_events(
    args: &AttributeArgs,
    dir: &Path,
    stdout: &mut String,
) -> anyhow::Result<ExitCode> {
    let (stitchers, models) = (args.stitchers.as_deref(), args.models.as_deref());
    let (journey_unit, out, json) = (args.journey_unit.as_str(), args.out.as_deref(), args.json);
    let stitchers = match stitchers {
        Some(list) => parse_stitchers(list)?,
        None => StitcherSpec::all(),
    };
    let models = match models {
        Some(list) => parse_models(list)?,
        None => AttributorSpec::all(),
    };
    let unit = match journey_unit {
        "session" => closedloop::scenario::JourneyUnit::Session,
        _ => closedloop::scenario::JourneyUnit::Visit,
    };
    let clock = std::time::Instant::now();
    let log = closedloop::io::event_log::read_dir(dir)
        .map_err(|e| bad(format!("{}: {e}", dir.display())))?;
    let read_s = clock.elapsed().as_secs_f64();
    eprintln!(
        "read {}: {} visits, {} form fills, {} CRM leads, {} opportunities, {} deals; channels: {}",
        dir.display(),
        log.visits.len(),
        log.form_fills.len(),
        log.crm_leads.len(),
        log.opportunities.len(),
        log.deals.len(),
        log.labels[..log.n_channels].join(", ")
    );
    let mut clusters: Vec<(String, Vec<u8>)> = Vec::new();
    let run = on_log::run_on_log(
        &log,
        &stitchers,
        &models,
        unit,
        &closedloop::log::SessionRule::default(),
        |name, ids| {
            if out.is_some() {
                clusters.push((
                    format!("clusters/{name}.csv"),
                    closedloop::io::event_log::clusters_csv(&log, ids).into_bytes(),
                ));
            }
        },
    );
    let source =
        report::schema::LogSource::new(dir.display().to_string(), journey_unit.to_string(), &log);
    let rows = source.rows();
    let report = report::schema::LogReport::new(source, &log, &run);
    let report_text = String::from_utf8(report::schema::to_json(&report)?)?;
    if let Some(out) = out {
        let timings = report::schema::LogTimings::new(read_s, &run);
        let mut files: Vec<(&str, Vec<u8>)> = vec![
            ("report.json", report_text.clone().into_bytes()),
            ("credit.csv", report::csv::log_credit_csv(&run).into_bytes()),
            (
                "timings.json",
                report::schema::to_json_without_newline(&timings).context("serialising timings")?,
            ),
        ];
        files.extend(clusters.iter().map(|(n, b)| (n.as_str(), b.clone())));
        let channels = &log.labels[..log.n_channels];
        let charts = report::own::log_charts(channels, &run).map_err(anyhow::Error::msg)?;
        let html =
            report::own::log_html(&dir.display().to_string(), &rows, channels, &run, &charts);
        files.push(("report.html", html.into_bytes()));
        let chart_files = report::figures::chart_files(&charts);
        files.extend(chart_files.iter().map(|(n, b)| (n.as_str(), b.clone())));
        write_folder(out, &files)?;
        eprintln!("wrote {}", out.display());
    }
    if json {
        stdout.push_str(&report_text);
        return Ok(ExitCode::SUCCESS);
    }
    let mut text = String::new();
    let _ = writeln!(
        text,
        "{:<16} {:>9} {:>9} {:>14} {:>12} {:>11} {:>10}",
        "stitcher", "clusters", "cookies", "cookies/clust", "one-cookie", "converting", "conv path"
    );
    for s in &run.stitching {
        let _ = writeln!(
            text,
            "{:<16} {:>9} {:>9} {:>14.2} {:>11.1}% {:>11} {:>10.2}",
            s.stitcher,
            s.stats.clusters,
            s.stats.cookies,
            s.stats.cookies_per_cluster.mean,
            s.stats.single_cookie_share * 100.0,
            s.stats.converting_clusters,
            s.path_lengths.converting.mean
        );
    }
    for a in &run.attribution {
        let _ = write!(text, "\n{} × {} (lead shares)\n", a.stitcher, a.model);
        for label in log.labels.iter() {
            let c = a.credit.conversions.get(label).copied().unwrap_or(0.0);
            if c != 0.0 || log.label_id(label).is_some_and(|l| log.is_channel(l)) {
                let share = report::tables::lead_share(&a.credit, label) * 100.0;
                let _ = writeln!(text, "  {label:<20} {c:>10.2} {share:>6.1}%");
            }
        }
    }
    stdout.push_str(&text);
    Ok(ExitCode::SUCCESS)
}

/// `score --truth DIR/truth --credit FILE.csv`: an external model's credit
/// error against each truth (the `tvd` family and per-channel metrics of `score`).
fn score_credit(
    truth_dir: &Path,
    credit_file: &Path,
    out: Option<&Path>,
    json: bool,
    stdout: &mut String,
) -> anyhow::Result<ExitCode> {
    use closedloop::io::external::read_credit;
    let read =
        |p: &Path| std::fs::read_to_string(p).map_err(|e| bad(format!("{}: {e}", p.display())));
    let manifest_path = truth_dir
        .parent()
        .unwrap_or(Path::new("."))
        .join("events.json");
    let manifest: report::schema::ManifestChannels = serde_json::from_str(&read(&manifest_path)?)
        .map_err(|e| {
        bad(format!(
            "{}: {e} (expected the events.json `export --events` writes beside truth/)",
            manifest_path.display()
        ))
    })?;
    if manifest.channels.is_empty() {
        return Err(bad(format!(
            "{}: no `channels` list",
            manifest_path.display()
        )));
    }
    let channels = manifest.scored();
    let credit_text = read(credit_file)?;
    let model = read_credit(&credit_text, &credit_file.display().to_string(), None).map_err(bad)?;
    let (truth_path, truth_text) = match closedloop::io::event_log::open_table(truth_dir, "credit")
    {
        Ok(Some((path, mut r))) => {
            let mut text = String::new();
            r.read_to_string(&mut text)
                .map_err(|e| bad(format!("{}: {e}", path.display())))?;
            (path, text)
        }
        Ok(None) => {
            return Err(bad(format!(
                "{}: missing",
                truth_dir.join("credit.csv").display()
            )));
        }
        Err((path, e)) => return Err(bad(format!("{}: {e}", path.display()))),
    };
    let errors = report::schema::score_report(
        &model,
        &truth_text,
        &truth_path.display().to_string(),
        &channels,
    )
    .map_err(bad)?;
    let text = String::from_utf8(report::schema::to_json(&errors).context("serialising errors")?)?;
    if let Some(out) = out {
        report::write_file(out, text.as_bytes())?;
    }
    if json {
        put!(stdout, "{text}");
    } else {
        putln!(
            stdout,
            "Credit error of {} against each truth (tvd: shares of all leads, channels + no channel)",
            credit_file.display()
        );
        putln!(
            stdout,
            "{:<12} {:>8} {:>12} {:>8} {:>9} {:>13} {:>15}",
            "truth",
            "tvd",
            "tvd_channels",
            "tvd_all",
            "max_miss",
            "spearman_roi",
            "non_channel"
        );
        // Numbers that are not finite print as NaN, as report.json's null.
        let n = |x: f64| if x.is_finite() { x } else { f64::NAN };
        for name in truth::TRUTHS {
            let e = &errors[name].conversions;
            putln!(
                stdout,
                "{:<12} {:>8.3} {:>12.3} {:>8.3} {:>9.3} {:>13} {:>14.1}%",
                name,
                n(e.tvd),
                n(e.tvd_channels),
                n(e.tvd_all),
                n(e.max_miss),
                e.spearman_roi
                    .filter(|x| x.is_finite())
                    .map_or("-".into(), |x| format!("{x:.3}")),
                n(e.non_channel_share) * 100.0
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `score --truth DIR/truth --clusters FILE.csv`: every stitching metric of
/// an external stitcher's partition of the exported log beside `truth/`.
fn score_clusters(
    truth_dir: &Path,
    clusters: &Path,
    out: Option<&Path>,
    json: bool,
    stdout: &mut String,
) -> anyhow::Result<ExitCode> {
    let log_dir = truth_dir.parent().unwrap_or(Path::new("."));
    let log = closedloop::io::event_log::read_dir(log_dir)
        .map_err(|e| bad(format!("{}: {e}", log_dir.display())))?;
    let truth = closedloop::io::external::read_stitch_truth(truth_dir, &log).map_err(bad)?;
    let ids = closedloop::io::external::read_clusters(clusters, &log).map_err(bad)?;
    let m = closedloop::score::score_partition(&log, &ids, &truth);
    let text = serde_json::to_string_pretty(&m).context("serialising metrics")? + "\n";
    if let Some(out) = out {
        report::write_file(out, text.as_bytes())?;
    }
    if json {
        put!(stdout, "{text}");
        return Ok(ExitCode::SUCCESS);
    }
    putln!(
        stdout,
        "Stitching of {} against the truth ({} clusters over {} visits)",
        clusters.display(),
        ids.n_clusters,
        log.visits.len()
    );
    putln!(
        stdout,
        "pairwise     precision {:.4}  recall {:.4}  F1 {:.4}",
        m.pairwise.precision,
        m.pairwise.recall,
        m.pairwise.f1
    );
    putln!(
        stdout,
        "B-cubed      precision {:.4}  recall {:.4}",
        m.bcubed.precision,
        m.bcubed.recall
    );
    putln!(
        stdout,
        "splits {}  merges {}  largest cluster {} visits",
        m.splits,
        m.merges,
        m.largest_cluster
    );
    putln!(
        stdout,
        "clusters per converted person: mean {:.3}, p95 {}",
        m.clusters_per_person.mean,
        m.clusters_per_person.p95
    );
    putln!(
        stdout,
        "completeness {:.1}%  cause in journey {:.1}%",
        m.completeness * 100.0,
        m.cause_in_journey * 100.0
    );
    Ok(ExitCode::SUCCESS)
}

/// `export --events DIR`: the observed log as CSV tables, the truth apart
/// under `DIR/truth/`, and `events.json` (what was written).
fn export_events(
    scenario: &Path,
    dir: &Path,
    seed: Option<u64>,
    parquet: bool,
) -> anyhow::Result<ExitCode> {
    if parquet && !cfg!(feature = "parquet") {
        return Err(bad(
            "--format parquet: this closedloop was built without the `parquet` feature \
             (cargo build --release --features parquet)",
        ));
    }
    let mut sc = load(scenario)?;
    if let Some(s) = seed {
        sc.seed = s;
    }
    let (_, obs, truth) = experiment::simulate(&sc, 0);
    let log_tables = closedloop::io::event_log::log_tables(&obs.log);
    let truth_tables = closedloop::io::event_log::truth_tables(&obs.log, &truth);
    let tables: Vec<(&str, &str)> = log_tables
        .iter()
        .chain(&truth_tables)
        .map(|(name, text)| (*name, text.as_str()))
        .collect();
    let manifest = report::schema::EventsManifest::new(&sc, &obs.log, &tables, parquet);
    let mut files: Vec<(&str, Vec<u8>)> = vec![(
        "events.json",
        report::schema::to_json_without_newline(&manifest).context("serialising events.json")?,
    )];
    let names: Vec<String> = log_tables
        .iter()
        .chain(&truth_tables)
        .map(|(name, _)| {
            if parquet {
                name.replace(".csv", ".parquet")
            } else {
                name.to_string()
            }
        })
        .collect();
    for ((_, text), name) in log_tables.into_iter().chain(truth_tables).zip(&names) {
        files.push((name, table_bytes(name, text)?));
    }
    write_folder(dir, &files)?;
    eprintln!(
        "wrote the event log of {} (replicate 0) to {} ({} visits; the truth apart under truth/)",
        sc.name,
        dir.display(),
        obs.log.visits.len()
    );
    Ok(ExitCode::SUCCESS)
}

/// A table's bytes as written: its CSV text, or Parquet for `*.parquet`.
fn table_bytes(name: &str, csv: String) -> anyhow::Result<Vec<u8>> {
    #[cfg(feature = "parquet")]
    if name.ends_with(".parquet") {
        return closedloop::io::event_log::parquet::to_parquet(
            &name.replace(".parquet", ".csv"),
            &csv,
        )
        .map_err(anyhow::Error::msg);
    }
    let _ = name;
    Ok(csv.into_bytes())
}

/// `export --paths FILE`: one stitcher's journeys of replicate 0 as a path file.
fn export_paths(
    scenario: &Path,
    file: &Path,
    stitcher: &str,
    seed: Option<u64>,
) -> anyhow::Result<ExitCode> {
    let mut sc = load(scenario)?;
    if let Some(s) = seed {
        sc.seed = s;
    }
    if file.is_dir() {
        return Err(bad(format!(
            "--paths {}: it is a folder; name the file to write",
            file.display()
        )));
    }
    let spec = if stitcher.trim() == ORACLE {
        None
    } else {
        match parse_stitchers(stitcher)?.as_slice() {
            [one] => Some(one.clone()),
            more => {
                return Err(bad(format!(
                    "--stitchers: export takes one stitcher, got {}",
                    more.len()
                )));
            }
        }
    };
    let (_, obs, truth) = experiment::simulate(&sc, 0);
    let ids = match &spec {
        Some(s) => stitch::build(s).stitch(&obs.log),
        None => experiment::oracle_identities(&truth),
    };
    let journeys = Journeys::build(&obs.log, &ids);
    let rows = journeys.to_paths(spec::DEFAULT_LOOKBACK_DAYS);
    report::write_file(file, &pathfile::write(&rows))?;
    let no_touch = rows
        .iter()
        .find(|r| r.steps.is_empty())
        .map_or(0.0, |r| r.conversions + r.nulls);
    eprintln!(
        "wrote {}: {} distinct paths from {} journeys ({} stitching, seed {}, replicate 0)",
        file.display(),
        rows.len(),
        journeys.journeys.len(),
        spec.as_ref().map_or(ORACLE.to_string(), |s| s.id()),
        sc.seed
    );
    if no_touch > 0.0 {
        eprintln!(
            "note: {no_touch} journey(s) with no touch in the look-back window written as path `{}`",
            pathfile::NO_TOUCH_PATH
        );
    }
    Ok(ExitCode::SUCCESS)
}
