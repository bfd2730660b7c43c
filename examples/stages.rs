//! Times each stage of one replicate: `cargo run --release --example stages -- SCENARIO [PERSONS]`.
use closedloop::{observe, scenario::Scenario, truth::Truth, world};
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mut sc = Scenario::from_path(std::path::Path::new(&args[1])).expect("scenario");
    if let Some(n) = args.get(2) {
        sc.persons = n.parse().expect("persons");
    }
    let t = Instant::now();
    let w = world::generate(&sc, 0);
    let tw = t.elapsed().as_secs_f64();
    println!("peak after world: {:.0} MB", peak_rss_mb());
    let t = Instant::now();
    let mut obs = observe::observe(&sc, &w);
    let to = t.elapsed().as_secs_f64();
    println!("peak after observe: {:.0} MB", peak_rss_mb());
    let t = Instant::now();
    let truth = Truth::assemble(&sc, &w, std::mem::take(&mut obs.persons));
    let tt = t.elapsed().as_secs_f64();
    println!(
        "persons {} devices {} candidates {} kept {} return-visit candidates {} stored touches {} recorded visits {} leads {}",
        sc.persons,
        w.devices.len(),
        w.candidates,
        w.kept_candidates,
        w.return_candidates,
        w.touches.len(),
        obs.log.visits.len(),
        truth.leads.len()
    );
    // Distribution samples (uniform, exponential, gamma, normal, Poisson) drawn,
    // counted from the code path: per person ~19 + 2 per device; per candidate 2
    // (gap, keep); per kept candidate 8 (arm, delay, pages, dwell, 2 device,
    // campaign, repeat); per return candidate 1 (gap), +5 if materialised
    // (counted as 6: an upper bound); per visit 3 and per device 2 (observation).
    let draws = 19.0 * sc.persons as f64
        + 2.0 * w.devices.len() as f64
        + 2.0 * w.candidates as f64
        + 8.0 * w.kept_candidates as f64
        + 6.0 * w.return_candidates as f64
        + 5.0 * obs.log.visits.len() as f64;
    println!(
        "≈ {:.1} samples per person (upper bound)",
        draws / sc.persons as f64
    );
    println!(
        "world {tw:.3}s observe {to:.3}s truth {tt:.3}s total {:.3}s → {:.0} persons/s",
        tw + to + tt,
        sc.persons as f64 / (tw + to + tt)
    );
}

/// Peak resident memory so far (Linux), for the figures in BENCHMARKS.md.
fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .map(|l| l.to_string())
        })
        .and_then(|l| {
            l.split_whitespace()
                .nth(1)
                .and_then(|v| v.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}
