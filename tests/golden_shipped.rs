//! The leaderboard of every shipped scenario at its own seed and size,
//! pinned: each stitcher's pairwise F1 and each model's headline `tvd`
//! against the Shapley truth, on `deterministic` journeys and on the true
//! persons' journeys (replicate 0). A change to any strategy, the world or
//! the observation shows up here as a one-line diff per number.
//!
//! After an intended change: `GOLDEN_UPDATE=1 cargo test --release --test
//! golden_shipped`, then review `git diff tests/golden/shipped.txt` and say
//! why in the commit.

use closedloop::experiment::{self, RunConfig};
use closedloop::spec::{AttributorSpec, StitcherSpec};
use closedloop::truth::TRUTHS;
use std::fmt::Write;

#[allow(dead_code)] // the binary-driving helpers are not used here
mod common;
use common::SHIPPED;

fn digest() -> String {
    let shapley = TRUTHS.iter().position(|t| *t == "shapley").unwrap();
    let mut out = String::new();
    for name in SHIPPED {
        let sc = common::shipped(name, None);
        let cfg = RunConfig {
            stitchers: StitcherSpec::all(),
            models: AttributorSpec::all(),
            replicates: 1,
        };
        let r = experiment::run_replicate(&sc, &cfg, 0);
        let id = format!("{}@{}", sc.name, sc.seed);
        for (stitcher, m) in &r.stitching {
            writeln!(out, "{id} stitcher {stitcher} f1 = {:.6}", m.pairwise.f1).unwrap();
        }
        for a in &r.attribution {
            if a.stitcher == "deterministic" || a.stitcher == "oracle" {
                writeln!(
                    out,
                    "{id} model {} on {} tvd_shapley = {:.6}",
                    a.model, a.stitcher, a.error[shapley].conversions.tvd
                )
                .unwrap();
            }
        }
    }
    out
}

#[test]
fn shipped_leaderboards_are_pinned() {
    common::assert_golden("shipped.txt", &digest(), "golden_shipped");
}
