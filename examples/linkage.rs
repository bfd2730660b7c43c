//! Prints the Fellegi–Sunter model the `probabilistic` stitcher fits on a
//! scenario's log (m, u, p, candidate pairs) and, since this is a simulation,
//! the true match share of each comparison pattern next to its weight:
//! `cargo run --release --example linkage -- SCENARIO`.
use closedloop::{experiment, scenario::Scenario, stitch::Linkage};
use std::collections::HashMap;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let sc = Scenario::from_path(std::path::Path::new(&args[1])).expect("scenario");
    let (_w, obs, truth) = experiment::simulate(&sc, 0);
    let log = &obs.log;
    let t = std::time::Instant::now();
    let link = Linkage::fit(log);
    println!(
        "fit in {:.3} s: {} cookies, {} visits, {} candidate pairs ({:.2} per visit), {} EM iterations, p = {:.4}",
        t.elapsed().as_secs_f64(),
        link.n_cookies,
        log.visits.len(),
        link.pairs.len(),
        link.pairs.len() as f64 / log.visits.len().max(1) as f64,
        link.iterations,
        link.p
    );
    for (k, name) in ["ip", "ua", "gap", "campaign"].iter().enumerate() {
        println!(
            "{name:>9}  m {:.4?}\n{:>9}  u {:.4?}",
            link.m[k], "", link.u[k]
        );
    }
    // True person of each dense cookie (first visit's person).
    let mut cookie_person: Vec<u32> = Vec::new();
    let mut seen: HashMap<u64, ()> = HashMap::new();
    for (i, v) in log.visits.iter().enumerate() {
        if seen.insert(v.cookie_id, ()).is_none() {
            cookie_person.push(truth.events.visit_person[i]);
        }
    }
    let mut by_weight: std::collections::BTreeMap<i64, (u64, u64)> = Default::default();
    for &(w, a, b) in &link.pairs {
        let e = by_weight.entry((w * 100.0).round() as i64).or_default();
        e.0 += 1;
        e.1 += u64::from(cookie_person[a as usize] == cookie_person[b as usize]);
    }
    println!("{:>8} {:>9} {:>10}", "weight", "pairs", "true match");
    for (w, (n, m)) in by_weight.iter().rev() {
        println!(
            "{:>8.2} {:>9} {:>10.3}",
            *w as f64 / 100.0,
            n,
            *m as f64 / *n as f64
        );
    }
}
