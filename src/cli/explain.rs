//! `closedloop explain`: the four-step loop told person by person; the
//! stories come from `closedloop::explain`, the text from `explain_text`.

use super::explain_text;
use super::{bad, load};
use anyhow::Context;
use closedloop::scenario::Scenario;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// `explain`'s default scenario (built into the binary as well).
const CLASSROOM: &str = "scenarios/classroom.toml";

/// Arguments of `closedloop explain`.
#[derive(clap::Args)]
pub struct ExplainArgs {
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
}

/// Tell the stories (or the answer key) as text, Markdown or JSON.
pub fn cmd_explain(args: &ExplainArgs, stdout: &mut String) -> anyhow::Result<ExitCode> {
    use closedloop::explain;
    let path = args.scenario.as_path();
    let mut sc = if path == Path::new(CLASSROOM) && !path.exists() {
        // The default scenario, wherever closedloop is run from.
        Scenario::from_toml_str(
            "classroom.toml (built in)",
            include_str!("../../scenarios/classroom.toml"),
        )
        .map_err(|e| bad(e.to_string()))?
    } else {
        load(path)?
    };
    if let Some(s) = args.seed {
        sc.seed = s;
    }
    let opts = explain::ExplainOptions {
        replicate: 0,
        visitors: args.visitors,
        persons: args.persons.clone(),
    };
    let explained = explain::explain(&sc, &opts).map_err(|e| bad(e.to_string()))?;
    let style = explain_text::Style {
        markdown: args.markdown,
        colour: !args.markdown
            && !args.json
            && std::io::stdout().is_terminal()
            && std::env::var_os("NO_COLOR").is_none(),
    };
    if args.json {
        let text = if args.answers {
            serde_json::to_string_pretty(&explained.answers)
        } else {
            serde_json::to_string_pretty(&explained.explanation)
        }
        .context("serialising the explanation")?;
        putln!(stdout, "{text}");
    } else if args.answers {
        let text = explain_text::render_answers(&explained.answers, &sc.channel_ids(), style);
        stdout.push_str(&text);
    } else {
        stdout.push_str(&explain_text::render(&explained.explanation, style));
    }
    Ok(ExitCode::SUCCESS)
}
