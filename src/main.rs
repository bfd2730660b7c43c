//! The `closedloop` command line: argument parsing, printing and exit codes
//! (0 ok, 1 runtime failure, 2 bad input or usage). All work is in the library.

use anyhow::Context;
use clap::{Parser, Subcommand};
use closedloop::attribute::{self, Journeys, Markov, MarkovFit};
use closedloop::credit::Credit;
use closedloop::experiment::{self, ORACLE, RunConfig, sweep};
use closedloop::scenario::Scenario;
use closedloop::spec::{self, AttributorSpec, StitcherSpec};
use closedloop::{pathfile, report, stitch, truth};
use std::fmt::Write as _;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::mpsc;
use std::time::{Duration, Instant};

#[path = "cli/explain.rs"]
mod explain_text;

// Standard output is collected and written once at the end (`flush_stdout`),
// so a closed pipe (`closedloop run … | head`) ends the command quietly
// instead of panicking inside `println!`. These shadow the std macros.
thread_local! {
    static STDOUT: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
}

macro_rules! print {
    ($($arg:tt)*) => {{
        let text = format!($($arg)*);
        STDOUT.with(|o| o.borrow_mut().push_str(&text));
    }};
}

macro_rules! println {
    () => {
        print!("\n")
    };
    ($($arg:tt)*) => {{
        let mut text = format!($($arg)*);
        text.push('\n');
        STDOUT.with(|o| o.borrow_mut().push_str(&text));
    }};
}

/// Write the collected standard output; a closed pipe is not an error.
fn flush_stdout() -> std::io::Result<()> {
    use std::io::Write;
    let text = STDOUT.with(|o| std::mem::take(&mut *o.borrow_mut()));
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

#[derive(Parser)]
#[command(
    name = "closedloop",
    version,
    about = "Simulate closed-loop marketing; score identity stitching and attribution against the truth."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Simulate a scenario, run every stitcher and model, score them, write report.json.
    Run {
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
    },
    /// Run strategies on your own data: attribution models on a path file
    /// (ChannelAttribution's format), or stitchers and models on an event log.
    Attribute {
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
    },
    /// Simulate a scenario (replicate 0), stitch it and write its journeys as a path file.
    Export {
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
    },
    /// What a spend change really does (the world re-run on the same draws)
    /// next to what each attribution model predicts.
    Budget {
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
    },
    /// The closed loop over periods: the budget follows each model's credit;
    /// what that costs against the oracle (true marginal ROI).
    Loop {
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
    },
    /// Score an external model's credit against an exported truth.
    Score {
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
    },
    /// Tell the four-step loop person by person: visits, cookies set and
    /// lost, the form, the deal, and the credit each report gives next to
    /// the truth (for teaching).
    Explain {
        /// Scenario file (TOML); default scenarios/classroom.toml, or the
        /// copy built into closedloop when run outside the repository.
        #[arg(default_value = CLASSROOM)]
        scenario: PathBuf,
        /// How many persons (default: the mix — clean, cookie lost, second
        /// device, never converted, dropped by sales, would have come anyway).
        #[arg(long, default_value_t = 6)]
        visitors: usize,
        /// Master seed (overrides the scenario's).
        #[arg(long)]
        seed: Option<u64>,
        /// Tell this person's story (person index; repeat for several).
        #[arg(long = "person", value_name = "ID")]
        persons: Vec<u32>,
        /// Markdown, for handouts.
        #[arg(long, conflicts_with = "json")]
        markdown: bool,
        /// The same content as JSON (events, per-person credit by model and truth).
        #[arg(long)]
        json: bool,
        /// Print the answer key computed from the run instead of the stories.
        #[arg(long)]
        answers: bool,
    },
    /// Check scenario files; every problem is listed.
    Validate {
        /// Scenario files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// List the registered stitchers and models with their parameters.
    List {
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
}

/// An error that is the user's input, not a runtime failure (exit 2).
#[derive(Debug)]
struct BadInput(String);
impl std::fmt::Display for BadInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for BadInput {}

fn bad(msg: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(BadInput(msg.into()))
}

/// `explain`'s default scenario (built into the binary as well).
const CLASSROOM: &str = "scenarios/classroom.toml";

fn load(path: &Path) -> anyhow::Result<Scenario> {
    Scenario::from_path(path).map_err(|e| bad(e.to_string()))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run {
            scenario,
            out,
            seed,
            replicates,
            stitchers,
            models,
            json,
            quiet,
            sweep,
        } => cmd_run(
            &scenario, out, seed, replicates, stitchers, models, json, quiet, &sweep,
        ),
        Command::Attribute {
            paths,
            events,
            stitchers,
            models,
            journey_unit,
            out,
            json,
        } => match (paths, events) {
            (Some(paths), _) => cmd_attribute(&paths, models.as_deref(), json),
            (None, Some(dir)) => cmd_attribute_events(
                &dir,
                stitchers.as_deref(),
                models.as_deref(),
                &journey_unit,
                out.as_deref(),
                json,
            ),
            (None, None) => Err(bad("attribute needs --paths FILE.csv or --events DIR")),
        },
        Command::Export {
            scenario,
            paths,
            events,
            format,
            stitchers,
            seed,
        } => match (paths, events) {
            (Some(paths), _) => cmd_export(&scenario, &paths, &stitchers, seed),
            (None, Some(dir)) => cmd_export_events(&scenario, &dir, seed, format == "parquet"),
            (None, None) => Err(bad("export needs --paths FILE.csv or --events DIR")),
        },
        Command::Budget {
            scenario,
            changes,
            replicates,
            seed,
            stitchers,
            models,
            out,
            json,
            quiet,
        } => cmd_budget(
            &scenario,
            &changes,
            replicates,
            seed,
            &stitchers,
            models.as_deref(),
            out,
            json,
            quiet,
        ),
        Command::Loop {
            scenario,
            periods,
            models,
            stitchers,
            step_limit,
            replicates,
            seed,
            out,
            json,
            quiet,
        } => cmd_loop(
            &scenario,
            periods,
            models.as_deref(),
            &stitchers,
            step_limit,
            replicates,
            seed,
            out,
            json,
            quiet,
        ),
        Command::Score {
            truth,
            credit,
            clusters,
            out,
            json,
        } => match (credit, clusters) {
            (Some(credit), _) => cmd_score(&truth, &credit, out.as_deref(), json),
            (None, Some(clusters)) => cmd_score_clusters(&truth, &clusters, out.as_deref(), json),
            (None, None) => Err(bad("score needs --credit FILE.csv or --clusters FILE.csv")),
        },
        Command::Explain {
            scenario,
            visitors,
            seed,
            persons,
            markdown,
            json,
            answers,
        } => cmd_explain(&scenario, visitors, seed, persons, markdown, json, answers),
        Command::Validate { files } => cmd_validate(&files),
        Command::List { json } => cmd_list(json),
    };
    let result = result.and_then(|code| {
        flush_stdout().context("writing to stdout")?;
        Ok(code)
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            let _ = flush_stdout();
            eprintln!("error: {e:#}");
            if e.downcast_ref::<BadInput>().is_some() {
                ExitCode::from(2)
            } else {
                ExitCode::from(1)
            }
        }
    }
}

/// `--stitchers LIST` (ids, or `all`).
fn parse_stitchers(list: &str) -> anyhow::Result<Vec<StitcherSpec>> {
    spec::parse_list(list, StitcherSpec::all, StitcherSpec::parse)
        .map_err(|e| bad(format!("--stitchers: {e}")))
}

/// Write an output folder atomically; refusing to replace a folder that is
/// not a previous output is bad input.
fn write_folder(dir: &Path, files: &[(&str, Vec<u8>)]) -> anyhow::Result<()> {
    report::write_run(dir, files).map_err(|e| match e {
        report::WriteError::NotARunFolder { .. } => bad(e.to_string()),
        other => anyhow::Error::new(other),
    })
}

/// Load a scenario and apply `--seed` and `--replicates`.
/// A folder's files with its pictures (charts and report.html) added.
fn with_pictures<'a>(
    mut files: Vec<(&'a str, Vec<u8>)>,
    pictures: &'a [(String, Vec<u8>)],
) -> Vec<(&'a str, Vec<u8>)> {
    files.extend(pictures.iter().map(|(n, b)| (n.as_str(), b.clone())));
    files
}

fn load_with(path: &Path, seed: Option<u64>, replicates: Option<u32>) -> anyhow::Result<Scenario> {
    let mut sc = load(path)?;
    if let Some(s) = seed {
        sc.seed = s;
    }
    if let Some(r) = replicates {
        if r == 0 {
            return Err(bad("--replicates must be at least 1"));
        }
        sc.replicates = r;
    }
    Ok(sc)
}

fn cmd_explain(
    path: &Path,
    visitors: usize,
    seed: Option<u64>,
    persons: Vec<u32>,
    markdown: bool,
    json: bool,
    answers: bool,
) -> anyhow::Result<ExitCode> {
    use closedloop::explain;
    let mut sc = if path == Path::new(CLASSROOM) && !path.exists() {
        // The default scenario, wherever closedloop is run from.
        Scenario::from_toml_str(
            "classroom.toml (built in)",
            include_str!("../scenarios/classroom.toml"),
        )
        .map_err(|e| bad(e.to_string()))?
    } else {
        load(path)?
    };
    if let Some(s) = seed {
        sc.seed = s;
    }
    let opts = explain::ExplainOptions {
        replicate: 0,
        visitors,
        persons,
    };
    let explained = explain::explain(&sc, &opts).map_err(|e| bad(e.to_string()))?;
    let style = explain_text::Style {
        markdown,
        colour: !markdown
            && !json
            && std::io::stdout().is_terminal()
            && std::env::var_os("NO_COLOR").is_none(),
    };
    if json {
        let text = if answers {
            serde_json::to_string_pretty(&explained.answers)
        } else {
            serde_json::to_string_pretty(&explained.explanation)
        }
        .context("serialising the explanation")?;
        println!("{text}");
    } else if answers {
        print!(
            "{}",
            explain_text::render_answers(&explained.answers, &sc.channel_ids(), style)
        );
    } else {
        print!("{}", explain_text::render(&explained.explanation, style));
    }
    Ok(ExitCode::SUCCESS)
}

/// `--models LIST` (ids, or `all`).
fn parse_models(list: &str) -> anyhow::Result<Vec<AttributorSpec>> {
    spec::parse_list(list, AttributorSpec::all, AttributorSpec::parse)
        .map_err(|e| bad(format!("--models: {e}")))
}

#[allow(clippy::too_many_arguments)]
fn cmd_loop(
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
    use closedloop::feedback::{self, Steering};
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
    let runs = feedback::run_with_progress(
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
    let optimal = closedloop::budget::optimal_split(&sc, &closedloop::budget::curves(&sc, 1));
    bar.inc();
    bar.finish();
    let ids: Vec<String> = steering.iter().map(|s| s.id()).collect();
    let oracle_id = ORACLE.to_string();
    let of = |r: u32, m: &str| runs.iter().find(|x| x.replicate == r && x.model == m);
    let cumulative = |run: &feedback::LoopRun| run.periods.iter().map(|p| p.profit).sum::<f64>();
    let summary: Vec<serde_json::Value> = ids
        .iter()
        .map(|m| {
            let reps: Vec<&feedback::LoopRun> =
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
                .map(|p| feedback::distance(&p.spends, &optimal))
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
                .map(|p| feedback::distance(&p.spends, &optimal))
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
        "schema_version": 1,
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
fn loop_csv(
    sc: &Scenario,
    runs: &[closedloop::feedback::LoopRun],
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
            let of = |model: &str| -> Vec<&closedloop::feedback::Period> {
                runs.iter()
                    .filter(|r| r.model == model)
                    .map(|r| &r.periods[p])
                    .collect()
            };
            let (mine, oracle) = (of(m), of(ORACLE));
            let n = mine.len().max(1) as f64;
            let mean = |f: &dyn Fn(&closedloop::feedback::Period) -> f64,
                        v: &[&closedloop::feedback::Period]| {
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
fn cmd_budget(
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
    use closedloop::budget;
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
        "schema_version": 1,
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
fn curves_csv(curves: &[closedloop::budget::ChannelCurve]) -> String {
    let mut s = String::from("channel,spend_share,spend,mean,sd,ci95_low,ci95_high,n\n");
    let opt = |x: Option<f64>| x.map_or(String::new(), |v| v.to_string());
    for c in curves {
        for ((spend, st), share) in c.curve.iter().zip(closedloop::budget::CURVE_POINTS) {
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
fn budget_csv(rows: &[closedloop::budget::BudgetRow]) -> String {
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
fn print_curves(
    curves: &[closedloop::budget::ChannelCurve],
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
        "(A negative \"would convert anyway\" share: removing the channel loses more leads than it causes — it feeds leads credited to other channels.)"
    );
    println!(
        "Moving the same total budget to the optimal split changes profit by {} per period.",
        cell(profit, 0)
    );
}

/// The budget table: actual change with its CI, each model's prediction.
fn print_budget(
    sc: &Scenario,
    old: &[f64],
    new: &[f64],
    stitcher: &StitcherSpec,
    rows: &[closedloop::budget::BudgetRow],
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

#[allow(clippy::too_many_arguments)]
fn cmd_run(
    path: &Path,
    out: Option<PathBuf>,
    seed: Option<u64>,
    replicates: Option<u32>,
    stitchers: Option<String>,
    models: Option<String>,
    json: bool,
    quiet: bool,
    sweep_args: &[String],
) -> anyhow::Result<ExitCode> {
    let sc = load_with(path, seed, replicates)?;
    let stitchers = stitchers.map(|list| parse_stitchers(&list)).transpose()?;
    let models = models.map(|list| parse_models(&list)).transpose()?;
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
    let out = out.unwrap_or_else(|| Path::new("out").join(&sc.name));
    let mut cli_axes = Vec::new();
    for a in sweep_args {
        cli_axes.push(sweep::parse_axis(a).map_err(|e| bad(format!("--sweep: {e}")))?);
    }
    let file_axes = sweep::axes_from_table(&sc.sweep).map_err(|e| bad(e.to_string()))?;
    let axes = sweep::merge_axes(file_axes, cli_axes);
    if !axes.is_empty() {
        return cmd_sweep(
            path, &sc, &choose, &axes, &out, seed, replicates, json, quiet,
        );
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
    let report = report::report_json(&sc, &results);
    let mut bytes = serde_json::to_vec_pretty(&report).context("serialising report.json")?;
    bytes.push(b'\n');
    let stages: Vec<serde_json::Value> = results
        .iter()
        .map(|r| {
            serde_json::Value::Object(
                r.timings
                    .iter()
                    .map(|(k, v)| (k.to_string(), (*v).into()))
                    .collect(),
            )
        })
        .collect();
    let clock = Instant::now();
    let pictures = report::run_pictures(&sc, &report, &results)?;
    let pictures_s = clock.elapsed().as_secs_f64();
    let timings = serde_json::json!({ "run_seconds": run_s, "pictures_seconds": pictures_s, "threads": rayon::current_num_threads(), "replicates": stages });
    let files = vec![
        ("report.json", bytes.clone()),
        (
            "timings.json",
            serde_json::to_vec_pretty(&timings).context("serialising timings")?,
        ),
        ("credit.csv", credit_csv(&results).into_bytes()),
    ];
    let files = with_pictures(files, &pictures);
    write_folder(&out, &files)?;
    if json {
        print!("{}", String::from_utf8_lossy(&bytes));
    } else if !quiet {
        print_table(&sc, &results);
        println!(
            "\nwrote {} ({:.1} s)",
            out.join("report.json").display(),
            run_s
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Tidy credit table: replicate, source (truth or stitcher/model), label, conversions, revenue.
fn credit_csv(results: &[experiment::ReplicateResult]) -> String {
    let mut s = String::from("replicate,stitcher,model,label,conversions,revenue\n");
    for r in results {
        for (name, c) in truth::TRUTHS.iter().zip(&r.truth) {
            for (label, conv) in &c.conversions {
                s.push_str(&format!(
                    "{},truth,{},{},{},{}\n",
                    r.replicate, name, label, conv, c.revenue[label]
                ));
            }
        }
        for a in &r.attribution {
            for (label, conv) in &a.credit.conversions {
                s.push_str(&format!(
                    "{},{},{},{},{},{}\n",
                    r.replicate, a.stitcher, a.model, label, conv, a.credit.revenue[label]
                ));
            }
        }
    }
    s
}

fn share_table(c: &closedloop::credit::Credit, channels: &[String]) -> Vec<f64> {
    let v: Vec<f64> = channels
        .iter()
        .map(|ch| c.conversions.get(ch).copied().unwrap_or(0.0))
        .collect();
    let total: f64 = v.iter().sum();
    v.iter()
        .map(|x| if total != 0.0 { x / total } else { 0.0 })
        .collect()
}

/// How much of each model's error the stitching adds (replicate 0).
fn print_downstream(r: &experiment::ReplicateResult) {
    let rows = experiment::downstream(r);
    let Some((_, first)) = rows.first() else {
        return;
    };
    if first.is_empty() {
        return;
    }
    println!(
        "\nHeadline error (TVD of lead shares vs causal) on each stitcher's journeys / on oracle journeys (replicate 0)"
    );
    print!("{:<16}", "stitcher");
    for d in first {
        print!(" {:>24}", d.model);
    }
    println!();
    for (name, ds) in &rows {
        print!("{name:<16}");
        for d in ds {
            print!(
                " {:>24}",
                format!(
                    "{:.3} / {:.3} ({:+.3})",
                    d.tvd, d.oracle_tvd, d.stitching_part
                )
            );
        }
        println!();
    }
}

fn print_table(sc: &Scenario, results: &[experiment::ReplicateResult]) {
    let channels = sc.channel_ids();
    let n = results.len() as f64;
    let first = &results[0];
    // Best stitcher: highest mean pairwise F1, oracle excluded.
    let mut best: Option<(String, f64)> = None;
    for (i, (name, _)) in first.stitching.iter().enumerate() {
        if name == ORACLE {
            continue;
        }
        let f1 = results
            .iter()
            .map(|r| r.stitching[i].1.pairwise.f1)
            .sum::<f64>()
            / n;
        if best.as_ref().is_none_or(|b| f1 > b.1) {
            best = Some((name.clone(), f1));
        }
    }
    let Some((best, best_f1)) = best else { return };
    let w = &first.world;
    println!(
        "{} persons, {} leads, {} customers, revenue {:.0} (replicate 0)",
        w.persons, w.leads, w.customers, w.revenue
    );
    println!(
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
    let mut by_f1: Vec<&(String, closedloop::score::StitchMetrics)> =
        first.stitching.iter().collect();
    by_f1.sort_by(|a, b| {
        b.1.pairwise
            .f1
            .total_cmp(&a.1.pairwise.f1)
            .then(a.0.cmp(&b.0))
    });
    for (name, m) in by_f1 {
        let paths = first
            .path_lengths
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, p)| *p)
            .unwrap_or_default();
        println!(
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
    print_downstream(first);
    if !first.threshold_sweep.is_empty() {
        println!("\n`probabilistic` at each match-weight threshold (replicate 0)");
        println!(
            "{:>9} {:>9} {:>7} {:>6} {:>7} {:>7}",
            "threshold", "precision", "recall", "F1", "splits", "merges"
        );
        for p in &first.threshold_sweep {
            println!(
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
    println!(
        "\nShare of leads per channel: true causal vs each model on `{best}` stitching (F1 {best_f1:.3}), mean over {} replicate(s)",
        results.len()
    );
    let rows: Vec<usize> = (0..first.attribution.len())
        .filter(|&i| first.attribution[i].stitcher == best)
        .collect();
    let mean_shares = |get: &dyn Fn(&experiment::ReplicateResult) -> Vec<f64>| -> Vec<f64> {
        let mut acc = vec![0.0; channels.len()];
        for r in results {
            for (a, x) in acc.iter_mut().zip(get(r)) {
                *a += x / n;
            }
        }
        acc
    };
    let truth_sh = mean_shares(&|r| share_table(&r.truth[0], &channels));
    let model_sh: Vec<(String, Vec<f64>)> = rows
        .iter()
        .map(|&i| {
            (
                first.attribution[i].model.clone(),
                mean_shares(&|r| share_table(&r.attribution[i].credit, &channels)),
            )
        })
        .collect();
    let width = channels.iter().map(|c| c.len()).max().unwrap_or(7).max(7);
    print!("{:<width$}  {:>8}", "channel", "causal");
    for (m, _) in &model_sh {
        print!("  {:>15}", m);
    }
    println!();
    for (i, ch) in channels.iter().enumerate() {
        print!("{:<width$}  {:>7.1}%", ch, truth_sh[i] * 100.0);
        for (_, s) in &model_sh {
            print!("  {:>14.1}%", s[i] * 100.0);
        }
        println!();
    }
    // Below the channels, shares of *all* leads: what went to no channel
    // (truth: the baseline), and to `unknown` (leads with no web history).
    let mean_of =
        |f: &dyn Fn(&experiment::ReplicateResult) -> f64| results.iter().map(f).sum::<f64>() / n;
    let unknown_share = |c: &closedloop::credit::Credit| {
        let total = c.total_conversions();
        let unknown = c.conversions.get("unknown").copied().unwrap_or(0.0);
        if total > 0.0 { unknown / total } else { 0.0 }
    };
    print!(
        "{:<width$}  {:>7.1}%",
        "(no channel)",
        mean_of(&|r| r.attribution[rows[0]].error[0].conversions.baseline_share) * 100.0
    );
    for &i in &rows {
        let share = mean_of(&|r| r.attribution[i].error[0].conversions.non_channel_share);
        print!("  {:>14.1}%", share * 100.0);
    }
    println!();
    print!("{:<width$}  {:>8}", "(unknown)", "");
    for &i in &rows {
        let share = mean_of(&|r| unknown_share(&r.attribution[i].credit));
        print!("  {:>14.1}%", share * 100.0);
    }
    println!();
    print!("{:<width$}  {:>8}", "tvd", "");
    for &i in &rows {
        print!("  {:>15.3}", mean_tvd(results, i, 0));
    }
    println!();
    print_model_errors(results, &best);
    print_platforms(first);
    print_ablation(first);
    print_paired(results, &best);
}

/// What each loss mechanism costs: the same world re-observed with it off.
fn print_ablation(r: &experiment::ReplicateResult) {
    let Some(base) = r.loss_ablation.first() else {
        return;
    };
    println!(
        "\nWhat each loss costs (replicate 0): the same world re-observed with one mechanism off; `{}` stitching, headline error vs causal",
        base.stitcher
    );
    print!("{:<16} {:>15} {:>7}", "switched off", "F1 (gain)", "recall");
    for m in base.tvd.keys() {
        print!(" {:>22}", format!("{m} (change)"));
    }
    println!();
    for row in &r.loss_ablation {
        print!(
            "{:<16} {:>15} {:>7.3}",
            row.switched_off,
            format!("{:.3} ({:+.3})", row.f1, row.f1 - base.f1),
            row.recall
        );
        for (m, t) in &row.tvd {
            print!(" {:>22}", format!("{t:.3} ({:+.3})", t - base.tvd[m]));
        }
        println!();
    }
}

/// What each ad platform claims vs the truth (replicate 0).
fn print_platforms(r: &experiment::ReplicateResult) {
    let Some(p) = &r.platforms else { return };
    println!(
        "\nWhat the ad platforms claim (leads, replicate 0): {:.0} claims for {} distinct leads of {} real ones — double counting ×{}",
        p.sum_of_claims,
        p.distinct_claimed,
        p.real_conversions,
        p.double_counting_ratio
            .map_or("-".into(), |x| format!("{x:.2}"))
    );
    println!(
        "{:<16} {:>8} {:>8} {:>12} {:>14} {:>12}",
        "platform", "claimed", "causal", "incremental", "claim/increm.", "imported rev"
    );
    for row in &p.platforms {
        println!(
            "{:<16} {:>8.0} {:>8.0} {:>12.0} {:>14} {:>12.0}",
            row.channel,
            row.claimed_conversions,
            row.causal_conversions,
            row.incremental_conversions,
            row.claim_over_incremental
                .map_or("-".into(), |x| format!("{x:.2}")),
            row.claimed_revenue
        );
    }
}

/// "A beats B" per model vs `last_touch` (causal TVD of lead shares on the
/// best stitcher's journeys, paired over replicates), when R ≥ 2.
fn print_paired(results: &[experiment::ReplicateResult], best: &str) {
    use report::paired::REFERENCE_MODEL as REF;
    if results.len() < 2 {
        return;
    }
    let paired = report::paired(results);
    let mut diffs: Vec<&report::paired::ModelDifference> = paired
        .models
        .iter()
        .filter(|d| d.stitcher == best && d.versus == REF && d.truth == "causal" && d.model != REF)
        .collect();
    if diffs.is_empty() {
        return;
    }
    diffs.sort_by(|a, b| {
        a.diff
            .mean
            .total_cmp(&b.diff.mean)
            .then(a.model.cmp(&b.model))
    });
    println!(
        "\nPaired vs {REF}: causal TVD of lead shares on `{best}` journeys, difference per replicate over {} replicates, 95 % CI",
        results.len()
    );
    let width = diffs.iter().map(|d| d.model.len()).max().unwrap_or(8);
    for d in diffs {
        let s = &d.diff;
        let (lo, hi) = (
            s.ci95_low.unwrap_or(f64::NAN),
            s.ci95_high.unwrap_or(f64::NAN),
        );
        let line = if hi < 0.0 {
            format!(
                "beats {REF} by {:.3} (CI {:.3} to {:.3})",
                -s.mean, -hi, -lo
            )
        } else if lo > 0.0 {
            format!(
                "loses to {REF} by {:.3} (CI {:.3} to {:.3})",
                s.mean, lo, hi
            )
        } else {
            format!(
                "no clear difference from {REF}: {:+.3} (CI {:+.3} to {:+.3})",
                s.mean, lo, hi
            )
        };
        println!("  {:<width$}  {line}", d.model);
    }
}

/// A progress bar on stderr (done / total replicate runs, ETA) that appears
/// only once the work has run for a second, and never when stderr is not a
/// terminal or with `--quiet`.
struct Progress {
    bar: indicatif::ProgressBar,
    reveal: Option<(mpsc::Sender<()>, std::thread::JoinHandle<()>)>,
}

impl Progress {
    fn start(total: u64, wanted: bool) -> Progress {
        use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::hidden());
        if let Ok(style) = ProgressStyle::with_template(
            "{spinner} [{bar:30}] {pos}/{len} runs, {elapsed} elapsed, ETA {eta}",
        ) {
            bar.set_style(style.progress_chars("=> "));
        }
        let reveal = (wanted && std::io::stderr().is_terminal()).then(|| {
            let (done, wait) = mpsc::channel::<()>();
            let shown = bar.clone();
            let handle = std::thread::spawn(move || {
                if let Err(mpsc::RecvTimeoutError::Timeout) =
                    wait.recv_timeout(Duration::from_secs(1))
                {
                    shown.set_draw_target(ProgressDrawTarget::stderr());
                    shown.enable_steady_tick(Duration::from_millis(200));
                }
            });
            (done, handle)
        });
        Progress { bar, reveal }
    }

    fn inc(&self) {
        self.bar.inc(1);
    }

    fn finish(self) {
        if let Some((done, handle)) = self.reveal {
            let _ = done.send(());
            let _ = handle.join();
        }
        self.bar.finish_and_clear();
    }
}

/// `run` with sweep axes: every grid point × replicate, written as
/// `sweep.csv` and a report.json holding the `sweep` section.
#[allow(clippy::too_many_arguments)]
fn cmd_sweep(
    path: &Path,
    sc: &Scenario,
    choose: &dyn Fn(&Scenario) -> RunConfig,
    axes: &[sweep::SweepAxis],
    out: &Path,
    seed: Option<u64>,
    replicates: Option<u32>,
    json: bool,
    quiet: bool,
) -> anyhow::Result<ExitCode> {
    let mut points = sweep_points(path, axes)?;
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
    let report = report::sweep_report_json(sc, &points, &rows);
    let mut bytes = serde_json::to_vec_pretty(&report).context("serialising report.json")?;
    bytes.push(b'\n');
    let timings = serde_json::json!({
        "run_seconds": run_s,
        "threads": rayon::current_num_threads(),
        "points": points.len(),
        "replicate_runs": units,
    });
    let files = vec![
        ("report.json", bytes.clone()),
        ("sweep.csv", report::sweep_csv(&points, &rows).into_bytes()),
        (
            "timings.json",
            serde_json::to_vec_pretty(&timings).context("serialising timings")?,
        ),
    ];
    let pictures = report::sweep_pictures(sc, &points, &rows)?;
    let files = with_pictures(files, &pictures);
    write_folder(out, &files)?;
    if json {
        print!("{}", String::from_utf8_lossy(&bytes));
    } else if !quiet {
        print_sweep(&points, &results, &rows);
        println!(
            "\nwrote {} and sweep.csv ({:.1} s)",
            out.join("report.json").display(),
            run_s
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Every grid point of `axes` over the scenario file, each validated.
fn sweep_points(path: &Path, axes: &[sweep::SweepAxis]) -> anyhow::Result<Vec<sweep::SweepPoint>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let raw: toml::Value = toml::from_str::<toml::Table>(&text)
        .map(toml::Value::Table)
        .map_err(|e| bad(format!("{}: {e}", path.display())))?;
    sweep::build_points(&path.display().to_string(), &raw, axes).map_err(|e| bad(e.to_string()))
}

/// One line per grid point: the best stitcher's F1 and, on its journeys,
/// `last_touch`'s and the best model's causal TVD, mean [95 % CI].
fn print_sweep(
    points: &[sweep::SweepPoint],
    results: &[Vec<experiment::ReplicateResult>],
    rows: &[report::SweepRow],
) {
    let cell = |s: &report::Stats| match (s.ci95_low, s.ci95_high) {
        (Some(l), Some(h)) => format!("{:.3} [{:.3}, {:.3}]", s.mean, l, h),
        _ => format!("{:.3}", s.mean),
    };
    let find = |p: usize, stitcher: &str, model: &str, truth: &str, metric: &str| {
        rows.iter()
            .find(|r| {
                r.point == p
                    && r.stitcher == stitcher
                    && r.model == model
                    && r.truth == truth
                    && r.metric == metric
            })
            .map(|r| cell(&r.stats))
            .unwrap_or_else(|| "-".into())
    };
    let label_w = points
        .iter()
        .map(|p| p.label().len())
        .max()
        .unwrap_or(5)
        .max(6);
    println!(
        "\n{:<5} {:<label_w$}  {:<16} {:<24} {:<24} best model on its journeys",
        "point", "values", "best stitcher", "F1", "last_touch causal TVD"
    );
    for (p, rs) in points.iter().zip(results) {
        let paired = report::paired(rs);
        let Some(best) = paired.best_stitcher.clone() else {
            continue;
        };
        let best_model = paired
            .best_models
            .iter()
            .find(|(s, _)| *s == best)
            .map(|(_, m)| m.clone())
            .unwrap_or_default();
        println!(
            "{:<5} {:<label_w$}  {:<16} {:<24} {:<24} {} {}",
            p.index,
            p.label(),
            best,
            find(p.index, &best, "", "", "pairwise.f1"),
            find(p.index, &best, "last_touch", "causal", "conversions.tvd"),
            best_model,
            find(p.index, &best, &best_model, "causal", "conversions.tvd"),
        );
    }
}

/// Mean over replicates of attribution row `i`'s headline error (lead
/// shares) against truth `t` (0 causal, 1 incremental, 2 Shapley).
fn mean_tvd(results: &[experiment::ReplicateResult], i: usize, t: usize) -> f64 {
    results
        .iter()
        .map(|r| r.attribution[i].error[t].conversions.tvd)
        .sum::<f64>()
        / results.len() as f64
}

/// The model × truth table of headline error on the best stitcher's journeys
/// and on oracle journeys, sorted by the causal error on the best stitcher.
fn print_model_errors(results: &[experiment::ReplicateResult], best: &str) {
    let first = &results[0];
    let find = |stitcher: &str, model: &str| {
        first
            .attribution
            .iter()
            .position(|a| a.stitcher == stitcher && a.model == model)
    };
    // (model, errors on the best stitcher, errors on oracle journeys)
    type Row = (String, Option<[f64; 3]>, Option<[f64; 3]>);
    let mut models: Vec<Row> = first
        .attribution
        .iter()
        .filter(|a| a.stitcher == best || a.stitcher == experiment::NO_STITCHING)
        .map(|a| {
            let errs =
                |s: &str| find(s, &a.model).map(|i| [0, 1, 2].map(|t| mean_tvd(results, i, t)));
            // Rows computed without journeys read the same on both sides.
            if a.stitcher == experiment::NO_STITCHING {
                let e = errs(experiment::NO_STITCHING);
                (a.model.clone(), e, e)
            } else {
                (a.model.clone(), errs(best), errs(ORACLE))
            }
        })
        .collect();
    if models.is_empty() {
        return;
    }
    models.sort_by(|a, b| {
        let key = |m: &Option<[f64; 3]>| m.map_or(f64::INFINITY, |e| e[0]);
        key(&a.1).total_cmp(&key(&b.1)).then(a.0.cmp(&b.0))
    });
    if let Some(i) = find(ORACLE, ORACLE) {
        models.push((
            "(causal truth)".into(),
            None,
            Some([0, 1, 2].map(|t| mean_tvd(results, i, t))),
        ));
    }
    println!(
        "\nHeadline error (TVD of lead shares over channels) against each truth, mean over {} replicate(s); sorted by causal error on `{best}`",
        results.len()
    );
    let width = models.iter().map(|m| m.0.len()).max().unwrap_or(5).max(16);
    let group = |title: &str| format!("{title:^32}");
    println!(
        "{:<width$}  {}  {}",
        "",
        group(&format!("on `{best}`")),
        group("on oracle journeys")
    );
    let heads = format!("{:>8} {:>12} {:>10}", "causal", "incremental", "shapley");
    println!("{:<width$}  {heads}  {heads}", "model");
    let cells = |e: &Option<[f64; 3]>| match e {
        Some(e) => format!("{:>8.3} {:>12.3} {:>10.3}", e[0], e[1], e[2]),
        None => format!("{:>8} {:>12} {:>10}", "-", "-", "-"),
    };
    for (m, on_best, on_oracle) in &models {
        println!("{m:<width$}  {}  {}", cells(on_best), cells(on_oracle));
    }
}

fn cmd_attribute(file: &Path, models: Option<&str>, json: bool) -> anyhow::Result<ExitCode> {
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
    let results: Vec<(String, Credit, Option<MarkovFit>)> = specs
        .iter()
        .map(|s| {
            let credit = attribute::build(s).attribute(&journeys);
            let fit = match *s {
                AttributorSpec::Markov {
                    order,
                    lookback_days,
                } if json => Some(
                    Markov {
                        order,
                        lookback_days,
                    }
                    .fit(&journeys),
                ),
                _ => None,
            };
            (s.id(), credit, fit)
        })
        .collect();
    if json {
        let mut out = serde_json::Map::new();
        for (id, credit, fit) in &results {
            let mut v = serde_json::json!({
                "conversions": credit.conversions,
                "revenue": credit.revenue,
            });
            if let Some(fit) = fit {
                v["removal_effects"] = serde_json::json!(fit.removal_effects);
            }
            out.insert(id.clone(), v);
        }
        let mut text = serde_json::to_string_pretty(&out)?;
        text.push('\n');
        return emit(&text);
    }
    // Channels, then the other labels that received credit.
    let labels: Vec<&String> = journeys
        .labels
        .iter()
        .enumerate()
        .filter(|&(i, l)| {
            i < journeys.n_channels
                || results.iter().any(|(_, c, _)| {
                    c.conversions.get(l).is_some_and(|&x| x != 0.0)
                        || c.revenue.get(l).is_some_and(|&x| x != 0.0)
                })
        })
        .map(|(_, l)| l)
        .collect();
    let width = labels.iter().map(|l| l.len()).max().unwrap_or(5).max(7);
    let ids: Vec<&str> = results.iter().map(|(id, _, _)| id.as_str()).collect();
    let col = ids.iter().map(|id| id.len()).max().unwrap_or(0).max(12);
    let mut text = String::new();
    let _ = writeln!(
        text,
        "{}: {} paths, {} conversions, revenue {}",
        file.display(),
        journeys.journeys.len(),
        journeys.journeys.iter().map(|j| j.conversions).sum::<f64>(),
        journeys.journeys.iter().map(|j| j.revenue).sum::<f64>()
    );
    for (title, pick) in [("conversions", 0usize), ("revenue", 1usize)] {
        let _ = write!(text, "\n{title:<width$}");
        for id in &ids {
            let _ = write!(text, "  {id:>col$}");
        }
        text.push('\n');
        for l in &labels {
            let _ = write!(text, "{l:<width$}");
            for (_, c, _) in &results {
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
    emit(&text)
}

/// `attribute --events DIR`: stitchers and models on an event log with no
/// truth (a user's own export); report.json (schema 1, no `truth`, no
/// `error`), credit.csv and clusters/ID.csv with `--out`.
fn cmd_attribute_events(
    dir: &Path,
    stitchers: Option<&str>,
    models: Option<&str>,
    journey_unit: &str,
    out: Option<&Path>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    use closedloop::experiment::on_log;
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
    let log =
        closedloop::events::read_dir(dir).map_err(|e| bad(format!("{}: {e}", dir.display())))?;
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
                    closedloop::events::clusters_csv(&log, ids).into_bytes(),
                ));
            }
        },
    );
    let credit_json =
        |c: &Credit| serde_json::json!({ "conversions": c.conversions, "revenue": c.revenue });
    let mut stitching = serde_json::Map::new();
    for s in &run.stitching {
        let mut v = serde_json::to_value(s.stats).context("serialising stitching")?;
        v["path_lengths"] = serde_json::to_value(s.path_lengths).context("serialising paths")?;
        stitching.insert(s.stitcher.clone(), v);
    }
    let attribution: Vec<serde_json::Value> = run
        .attribution
        .iter()
        .map(|a| serde_json::json!({ "stitcher": a.stitcher, "model": a.model, "credit": credit_json(&a.credit) }))
        .collect();
    let report = serde_json::json!({
        "schema_version": report::SCHEMA_VERSION,
        "source": {
            "events": dir.display().to_string(),
            "journey_unit": journey_unit,
            "visits": log.visits.len(),
            "form_fills": log.form_fills.len(),
            "crm_leads": log.crm_leads.len(),
            "opportunities": log.opportunities.len(),
            "deals": log.deals.len(),
        },
        "channels": &log.labels[..log.n_channels],
        "replicates": [{ "replicate": 0, "stitching": stitching, "attribution": attribution }],
    });
    let mut report_text = serde_json::to_string_pretty(&report).context("serialising report")?;
    report_text.push('\n');
    if let Some(out) = out {
        let mut credit_csv = String::from("stitcher,model,label,conversions,revenue\n");
        for a in &run.attribution {
            for (label, conv) in &a.credit.conversions {
                let _ = writeln!(
                    credit_csv,
                    "{},{},{},{conv},{}",
                    a.stitcher,
                    a.model,
                    label,
                    a.credit.revenue.get(label).copied().unwrap_or(0.0)
                );
            }
        }
        // Wall-clock seconds apart from report.json (they vary run to run).
        let stages: serde_json::Map<String, serde_json::Value> = run
            .stitching
            .iter()
            .map(|s| {
                let v = serde_json::json!({ "stitch_s": s.seconds[0], "journeys_and_models_s": s.seconds[1] });
                (s.stitcher.clone(), v)
            })
            .collect();
        let timings = serde_json::json!({ "read_s": read_s, "stitchers": stages });
        let mut files: Vec<(&str, Vec<u8>)> = vec![
            ("report.json", report_text.clone().into_bytes()),
            ("credit.csv", credit_csv.into_bytes()),
            (
                "timings.json",
                serde_json::to_vec_pretty(&timings).context("serialising timings")?,
            ),
        ];
        files.extend(clusters.iter().map(|(n, b)| (n.as_str(), b.clone())));
        write_folder(out, &files)?;
        eprintln!("wrote {}", out.display());
    }
    if json {
        return emit(&report_text);
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
        let total: f64 = a.credit.conversions.values().sum();
        let _ = write!(text, "\n{} × {} (lead shares)\n", a.stitcher, a.model);
        for label in log.labels.iter() {
            let c = a.credit.conversions.get(label).copied().unwrap_or(0.0);
            if c != 0.0 || log.label_id(label).is_some_and(|l| log.is_channel(l)) {
                let share = if total > 0.0 { c / total * 100.0 } else { 0.0 };
                let _ = writeln!(text, "  {label:<20} {c:>10.2} {share:>6.1}%");
            }
        }
    }
    emit(&text)
}

/// Print a command's output; a closed pipe (`| head`) ends it quietly.
fn emit(text: &str) -> anyhow::Result<ExitCode> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(ExitCode::SUCCESS),
        Err(e) => Err(anyhow::Error::new(e).context("writing to stdout")),
    }
}

/// `score --truth DIR/truth --credit FILE.csv`: an external model's credit
/// error against each truth (DESIGN §13 metrics).
fn cmd_score(
    truth_dir: &Path,
    credit_file: &Path,
    out: Option<&Path>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    use closedloop::external::read_credit;
    let read =
        |p: &Path| std::fs::read_to_string(p).map_err(|e| bad(format!("{}: {e}", p.display())));
    let manifest_path = truth_dir
        .parent()
        .unwrap_or(Path::new("."))
        .join("events.json");
    let manifest: serde_json::Value =
        serde_json::from_str(&read(&manifest_path)?).map_err(|e| {
            bad(format!(
                "{}: {e} (expected the events.json `export --events` writes beside truth/)",
                manifest_path.display()
            ))
        })?;
    let ids: Vec<String> = manifest["channels"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|c| c.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    if ids.is_empty() {
        return Err(bad(format!(
            "{}: no `channels` list",
            manifest_path.display()
        )));
    }
    let spend: Vec<f64> = manifest["spend"]
        .as_array()
        .map(|a| a.iter().map(|x| x.as_f64().unwrap_or(0.0)).collect())
        .unwrap_or_else(|| vec![0.0; ids.len()]);
    let channels = closedloop::score::ScoredChannels { ids, spend };
    let credit_text = read(credit_file)?;
    let model = read_credit(&credit_text, &credit_file.display().to_string(), None).map_err(bad)?;
    let (truth_path, truth_text) = match closedloop::events::open_table(truth_dir, "credit") {
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
    let mut errors = serde_json::Map::new();
    for name in truth::TRUTHS {
        let t =
            read_credit(&truth_text, &truth_path.display().to_string(), Some(name)).map_err(bad)?;
        let e = closedloop::score::credit_errors(&model, &t, &channels);
        errors.insert(
            name.to_string(),
            serde_json::to_value(e).context("serialising errors")?,
        );
    }
    let text = serde_json::to_string_pretty(&errors).context("serialising errors")? + "\n";
    if let Some(out) = out {
        report::write_file(out, text.as_bytes())?;
    }
    if json {
        print!("{text}");
    } else {
        println!(
            "Credit error of {} against each truth (lead shares over channels)",
            credit_file.display()
        );
        println!(
            "{:<12} {:>8} {:>8} {:>9} {:>13} {:>15}",
            "truth", "tvd", "tvd_all", "max_miss", "spearman_roi", "non_channel"
        );
        for name in truth::TRUTHS {
            let e = &errors[name]["conversions"];
            println!(
                "{:<12} {:>8.3} {:>8.3} {:>9.3} {:>13} {:>14.1}%",
                name,
                e["tvd"].as_f64().unwrap_or(f64::NAN),
                e["tvd_all"].as_f64().unwrap_or(f64::NAN),
                e["max_miss"].as_f64().unwrap_or(f64::NAN),
                e["spearman_roi"]
                    .as_f64()
                    .map_or("-".into(), |x| format!("{x:.3}")),
                e["non_channel_share"].as_f64().unwrap_or(f64::NAN) * 100.0
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `score --truth DIR/truth --clusters FILE.csv`: every stitching metric of
/// an external stitcher's partition of the exported log beside `truth/`.
fn cmd_score_clusters(
    truth_dir: &Path,
    clusters: &Path,
    out: Option<&Path>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let log_dir = truth_dir.parent().unwrap_or(Path::new("."));
    let log = closedloop::events::read_dir(log_dir)
        .map_err(|e| bad(format!("{}: {e}", log_dir.display())))?;
    let truth = closedloop::external::read_stitch_truth(truth_dir, &log).map_err(bad)?;
    let ids = closedloop::external::read_clusters(clusters, &log).map_err(bad)?;
    let m = closedloop::score::score_partition(&log, &ids, &truth);
    let text = serde_json::to_string_pretty(&m).context("serialising metrics")? + "\n";
    if let Some(out) = out {
        report::write_file(out, text.as_bytes())?;
    }
    if json {
        print!("{text}");
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "Stitching of {} against the truth ({} clusters over {} visits)",
        clusters.display(),
        ids.n_clusters,
        log.visits.len()
    );
    println!(
        "pairwise     precision {:.4}  recall {:.4}  F1 {:.4}",
        m.pairwise.precision, m.pairwise.recall, m.pairwise.f1
    );
    println!(
        "B-cubed      precision {:.4}  recall {:.4}",
        m.bcubed.precision, m.bcubed.recall
    );
    println!(
        "splits {}  merges {}  largest cluster {} visits",
        m.splits, m.merges, m.largest_cluster
    );
    println!(
        "clusters per converted person: mean {:.3}, p95 {}",
        m.clusters_per_person.mean, m.clusters_per_person.p95
    );
    println!(
        "completeness {:.1}%  cause in journey {:.1}%",
        m.completeness * 100.0,
        m.cause_in_journey * 100.0
    );
    Ok(ExitCode::SUCCESS)
}

/// `export --events DIR`: the observed log as CSV tables, the truth apart
/// under `DIR/truth/`, and `events.json` (what was written).
fn cmd_export_events(
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
    let log_tables = closedloop::events::log_tables(&obs.log);
    let truth_tables = closedloop::events::truth_tables(&obs.log, &truth);
    let rows: serde_json::Map<String, serde_json::Value> = log_tables
        .iter()
        .chain(&truth_tables)
        .map(|(name, text)| (name.to_string(), (text.lines().count() - 1).into()))
        .collect();
    let manifest = serde_json::json!({
        "schema_version": 1,
        "scenario": { "name": sc.name, "seed": sc.seed, "replicate": 0 },
        "channels": sc.channel_ids(),
        "spend": closedloop::world::scenario_spends(&sc),
        "window_ms": [obs.log.window_start_ms, obs.log.window_end_ms],
        "format": if parquet { "parquet" } else { "csv" },
        "rows": rows,
    });
    let mut files: Vec<(&str, Vec<u8>)> = vec![(
        "events.json",
        serde_json::to_vec_pretty(&manifest).context("serialising events.json")?,
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
        return closedloop::events::parquet::to_parquet(&name.replace(".parquet", ".csv"), &csv)
            .map_err(anyhow::Error::msg);
    }
    let _ = name;
    Ok(csv.into_bytes())
}

fn cmd_export(
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

fn cmd_validate(files: &[PathBuf]) -> anyhow::Result<ExitCode> {
    let mut failed = false;
    for f in files {
        // A scenario's [sweep] table is checked too: every grid point loads.
        let checked = Scenario::from_path(f)
            .map_err(|e| e.to_string())
            .and_then(|s| {
                let axes = sweep::axes_from_table(&s.sweep).map_err(|e| e.to_string())?;
                if !axes.is_empty() {
                    sweep_points(f, &axes).map_err(|e| e.to_string())?;
                }
                Ok(s)
            });
        match checked {
            Ok(s) => println!(
                "ok: {} ({}: {} persons, {} channels)",
                f.display(),
                s.name,
                s.persons,
                s.channels.len()
            ),
            Err(e) => {
                failed = true;
                eprintln!("error: {e}");
            }
        }
    }
    Ok(if failed {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

fn cmd_list(json: bool) -> anyhow::Result<ExitCode> {
    if json {
        let v =
            serde_json::json!({ "stitchers": spec::STITCHERS, "attributors": spec::ATTRIBUTORS });
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(ExitCode::SUCCESS);
    }
    for (title, list) in [
        ("Stitchers (--stitchers)", spec::STITCHERS),
        ("Attribution models (--models)", spec::ATTRIBUTORS),
    ] {
        println!("{title}:");
        for d in list {
            println!("  {:<18} {}", d.kind, d.summary);
            for p in d.params {
                println!("  {:<18}   {} = {} — {}", "", p.name, p.default, p.help);
            }
        }
        println!();
    }
    println!(
        "References always added to a run: the `oracle` partition (true persons) and the `oracle` model (causal truth)."
    );
    Ok(ExitCode::SUCCESS)
}
