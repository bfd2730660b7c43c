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
    let t = Instant::now();
    let mut obs = observe::observe(&sc, &w);
    let to = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let truth = Truth::assemble(&sc, &w, std::mem::take(&mut obs.persons));
    let tt = t.elapsed().as_secs_f64();
    println!(
        "persons {} candidates {} touches {} visits {} leads {}",
        sc.persons,
        w.candidates,
        w.touches.len(),
        obs.log.visits.len(),
        truth.leads.len()
    );
    println!(
        "world {tw:.3}s observe {to:.3}s truth {tt:.3}s total {:.3}s → {:.0} persons/s",
        tw + to + tt,
        sc.persons as f64 / (tw + to + tt)
    );
}
