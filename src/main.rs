//! The `closedloop` command line: argument parsing, printing and exit codes
//! (0 ok, 1 runtime failure, 2 bad input or usage). All work is in the library.

use anyhow::Context;
use clap::{Parser, Subcommand};
use closedloop::attribute::Journeys;
use closedloop::experiment::{self, ORACLE, RunConfig, sweep};
use closedloop::io::pathfile;
use closedloop::scenario::Scenario;
use closedloop::spec::{self, AttributorSpec, StitcherSpec};
use closedloop::{report, stitch, truth};
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

#[path = "cli/data.rs"]
mod data_cmd;
#[path = "cli/run.rs"]
mod run_cmd;
#[path = "cli/strategist.rs"]
mod strategist_cmd;
use data_cmd::{
    cmd_attribute, cmd_attribute_events, cmd_export, cmd_export_events, cmd_score,
    cmd_score_clusters,
};
use run_cmd::{cmd_run, sweep_points};
use strategist_cmd::{cmd_budget, cmd_loop};

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
        "References always added to a run: the `oracle` partition (true persons) and the `oracle` model (the shapley truth, the headline every model is scored against)."
    );
    Ok(ExitCode::SUCCESS)
}
