//! The commands: one clap `Args` struct and one `cmd_*` function each, plus
//! what they share — errors with their exit code, loading a scenario,
//! parsing strategy lists, writing an output folder, the progress bar and
//! the standard-output buffer.
//!
//! Standard output is collected in a `String` (`put!`/`putln!`) and written
//! once at the end, so a closed pipe (`closedloop run … | head`) ends the
//! command quietly instead of panicking inside `println!`.

use anyhow::Context;
use clap::{Parser, Subcommand};
use closedloop::report;
use closedloop::scenario::Scenario;
use closedloop::spec::{self, AttributorSpec, StitcherSpec};
use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;
use std::sync::mpsc;
use std::time::Duration;

/// Append formatted text to a command's standard output (a `String`).
macro_rules! put {
    ($stdout:expr, $($arg:tt)*) => {{
        use std::fmt::Write as _;
        let _ = write!($stdout, $($arg)*);
    }};
}

/// Append a formatted line to a command's standard output (a `String`).
macro_rules! putln {
    ($stdout:expr) => {
        $stdout.push('\n')
    };
    ($stdout:expr, $($arg:tt)*) => {{
        use std::fmt::Write as _;
        let _ = writeln!($stdout, $($arg)*);
    }};
}

mod catalog;
mod data;
mod explain;
mod explain_text;
mod run;
mod strategist;

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
    Run(run::RunArgs),
    /// Run strategies on your own data: attribution models on a path file
    /// (ChannelAttribution's format), or stitchers and models on an event log.
    Attribute(data::AttributeArgs),
    /// Simulate a scenario (replicate 0), stitch it and write its journeys as a path file.
    Export(data::ExportArgs),
    /// What a spend change really does (the world re-run on the same draws)
    /// next to what each attribution model predicts.
    Budget(strategist::BudgetArgs),
    /// The closed loop over periods: the budget follows each model's credit;
    /// what that costs against the oracle (true marginal ROI).
    Loop(strategist::LoopArgs),
    /// Score an external model's credit against an exported truth.
    Score(data::ScoreArgs),
    /// Tell the four-step loop person by person: visits, cookies set and
    /// lost, the form, the deal, and the credit each report gives next to
    /// the truth (for teaching).
    Explain(explain::ExplainArgs),
    /// Check scenario files; every problem is listed.
    Validate(catalog::ValidateArgs),
    /// List the registered stitchers and models with their parameters.
    List(catalog::ListArgs),
}

/// Parse the command line, run the command, write its output, exit.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut stdout = String::new();
    let result = match &cli.command {
        Command::Run(args) => run::cmd_run(args, &mut stdout),
        Command::Attribute(args) => data::cmd_attribute(args, &mut stdout),
        Command::Export(args) => data::cmd_export(args),
        Command::Budget(args) => strategist::cmd_budget(args, &mut stdout),
        Command::Loop(args) => strategist::cmd_loop(args, &mut stdout),
        Command::Score(args) => data::cmd_score(args, &mut stdout),
        Command::Explain(args) => explain::cmd_explain(args, &mut stdout),
        Command::Validate(args) => catalog::cmd_validate(args, &mut stdout),
        Command::List(args) => catalog::cmd_list(args, &mut stdout),
    };
    let result = result.and_then(|code| {
        flush(&stdout).context("writing to stdout")?;
        Ok(code)
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            let _ = flush(&stdout);
            eprintln!("error: {e:#}");
            if e.downcast_ref::<BadInput>().is_some() {
                ExitCode::from(2)
            } else {
                ExitCode::from(1)
            }
        }
    }
}

/// Write a command's standard output; a closed pipe is not an error.
fn flush(text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
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

/// A bad-input error (exit 2).
fn bad(msg: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(BadInput(msg.into()))
}

/// Load a scenario file; its problems are bad input.
fn load(path: &Path) -> anyhow::Result<Scenario> {
    Scenario::from_path(path).map_err(|e| bad(e.to_string()))
}

/// Load a scenario and apply `--seed` and `--replicates`.
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

/// `--stitchers LIST` (ids, or `all`).
fn parse_stitchers(list: &str) -> anyhow::Result<Vec<StitcherSpec>> {
    spec::parse_list(list, StitcherSpec::all, StitcherSpec::parse)
        .map_err(|e| bad(format!("--stitchers: {e}")))
}

/// `--models LIST` (ids, or `all`).
fn parse_models(list: &str) -> anyhow::Result<Vec<AttributorSpec>> {
    spec::parse_list(list, AttributorSpec::all, AttributorSpec::parse)
        .map_err(|e| bad(format!("--models: {e}")))
}

/// `--stitchers` naming exactly one stitcher, for `command`.
fn one_stitcher(list: &str, command: &str) -> anyhow::Result<StitcherSpec> {
    let stitchers = parse_stitchers(list)?;
    match stitchers.as_slice() {
        [one] => Ok(one.clone()),
        more => Err(bad(format!(
            "--stitchers: `{command}` uses exactly one stitcher, got {}",
            more.len()
        ))),
    }
}

/// Write an output folder atomically; refusing to replace a folder that is
/// not a previous output is bad input.
fn write_folder(dir: &Path, files: &[(&str, Vec<u8>)]) -> anyhow::Result<()> {
    report::write_run(dir, files).map_err(|e| match e {
        report::WriteError::NotARunFolder { .. } => bad(e.to_string()),
        other => anyhow::Error::new(other),
    })
}

/// A folder's files with its pictures (charts and report.html) added.
fn with_pictures<'a>(
    mut files: Vec<(&'a str, Vec<u8>)>,
    pictures: &'a [(String, Vec<u8>)],
) -> Vec<(&'a str, Vec<u8>)> {
    files.extend(pictures.iter().map(|(n, b)| (n.as_str(), b.clone())));
    files
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
