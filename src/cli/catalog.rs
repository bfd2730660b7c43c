//! `closedloop validate` (scenario files, every problem listed) and
//! `closedloop list` (the registered stitchers and models).

use super::run::sweep_points;
use closedloop::experiment::sweep;
use closedloop::report;
use closedloop::scenario::Scenario;
use closedloop::spec;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `closedloop validate`.
#[derive(clap::Args)]
pub struct ValidateArgs {
    /// Scenario files.
    #[arg(required = true)]
    files: Vec<PathBuf>,
}

/// Arguments of `closedloop list`.
#[derive(clap::Args)]
pub struct ListArgs {
    /// Machine-readable output.
    #[arg(long)]
    json: bool,
}

/// Check every file (a scenario's `[sweep]` table too: every grid point
/// loads); exit 2 when one fails.
pub fn cmd_validate(args: &ValidateArgs, stdout: &mut String) -> anyhow::Result<ExitCode> {
    let mut failed = false;
    for f in &args.files {
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
            Ok(s) => putln!(
                stdout,
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

/// The registry: each stitcher and model with its parameters.
pub fn cmd_list(args: &ListArgs, stdout: &mut String) -> anyhow::Result<ExitCode> {
    if args.json {
        let text = report::schema::to_json_without_newline(&report::schema::Catalog::registered())?;
        putln!(stdout, "{}", String::from_utf8(text)?);
        return Ok(ExitCode::SUCCESS);
    }
    for (title, list) in [
        ("Stitchers (--stitchers)", spec::STITCHERS),
        ("Attribution models (--models)", spec::ATTRIBUTORS),
    ] {
        putln!(stdout, "{title}:");
        for d in list {
            putln!(stdout, "  {:<18} {}", d.kind, d.summary);
            for p in d.params {
                putln!(
                    stdout,
                    "  {:<18}   {} = {} — {}",
                    "",
                    p.name,
                    p.default,
                    p.help
                );
            }
        }
        putln!(stdout);
    }
    putln!(
        stdout,
        "References always added to a run: the `oracle` partition (true persons) and the `oracle` model (the shapley truth, the headline every model is scored against)."
    );
    Ok(ExitCode::SUCCESS)
}
