//! Write the attribution bench's 1M journeys (`benches/support/journeys.rs`)
//! as a path file, aggregated by distinct path, to time `closedloop attribute
//! --paths` as a whole process (BENCHMARKS.md):
//! `cargo run --release --example paths_file -- /tmp/bench_paths.csv`.

#[path = "../benches/support/journeys.rs"]
mod support;

use closedloop::io::pathfile;
use closedloop::{report, spec};

fn main() {
    let Some(out) = std::env::args_os().nth(1) else {
        eprintln!("usage: paths_file OUT.csv");
        std::process::exit(2);
    };
    let journeys = support::journeys();
    let rows = journeys.to_paths(spec::DEFAULT_LOOKBACK_DAYS);
    let bytes = pathfile::write(&rows);
    if let Err(e) = report::write_file(std::path::Path::new(&out), &bytes) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
    eprintln!(
        "wrote {} rows ({} bytes) from {} journeys",
        rows.len(),
        bytes.len(),
        journeys.journeys.len()
    );
}
