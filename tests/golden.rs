//! Value stability: a tiny scenario's key numbers, pinned. A change to the
//! model, the random streams, the observation layer or any strategy shows up
//! here as a visible one-line diff: the world's counts and the three truths,
//! then per stitcher its pairwise F1 and a digest of its partition, then per
//! model (on the true persons' journeys and on `deterministic` ones) its
//! `tvd` against each truth and its lead shares.
//!
//! After an intended change: `GOLDEN_UPDATE=1 cargo test --release --test
//! golden`, then review `git diff tests/golden/tiny.txt` and say why in the
//! commit.

#[allow(dead_code)] // only `assert_golden` is used here
mod common;

use closedloop::experiment::{self, RunConfig};
use closedloop::scenario::Scenario;
use closedloop::spec::{AttributorSpec, StitcherSpec};
use closedloop::stitch::Identities;
use closedloop::truth::TRUTHS;
use std::fmt::Write;

const TINY: &str = r#"
name = "golden"
seed = 2026
persons = 400
warmup_days = 30
horizon_days = 60
[population]
baseline_rate = 0.03
[[channels]]
id = "search"
spend = 100
max_rate = 0.06
half_saturation = 100
conversion_rate = 0.05
[[channels]]
id = "brand_search"
spend = 50
max_rate = 0.03
half_saturation = 50
conversion_rate = 0.01
intent_exponent = 2.0
[[channels]]
id = "display"
kind = "impression"
rate = 0.05
conversion_rate = 0.01
[[channels]]
id = "retargeting"
trigger = "retargeting"
spend = 60
max_rate = 0.2
half_saturation = 60
conversion_rate = 0.04
[[synergy]]
from = "display"
to = "search"
multiplier = 2.0
[form_fill]
path = { direct = 0.5, brand_search = 0.3, cause = 0.2 }
"#;

/// FNV-1a over a partition in canonical form (clusters renumbered in order
/// of first appearance over visits, form fills, CRM leads, opportunities,
/// deals), so two equal partitions have one digest whatever their keys.
fn partition_digest(ids: &Identities) -> String {
    let mut renumber = std::collections::HashMap::new();
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for table in [
        &ids.visit,
        &ids.form_fill,
        &ids.crm_lead,
        &ids.opportunity,
        &ids.deal,
    ] {
        for key in table {
            let next = renumber.len() as u32;
            let canonical = *renumber.entry(*key).or_insert(next);
            for b in canonical.to_le_bytes() {
                h = (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3);
            }
        }
        // A table boundary, so moving an event between tables changes the digest.
        h = (h ^ 0xff).wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{h:016x} clusters={}", renumber.len())
}

/// Per stitcher its F1 and partition digest; per model on oracle and
/// `deterministic` journeys its `tvd` (leads) against each truth and its
/// lead shares (share of all credited leads, by label).
fn strategies(sc: &Scenario) -> String {
    let cfg = RunConfig {
        stitchers: StitcherSpec::all(),
        models: AttributorSpec::all(),
        replicates: 1,
    };
    let r = experiment::run_replicate(sc, &cfg, 0);
    let (_, obs, _) = experiment::simulate(sc, 0);
    let mut out = String::new();
    for spec in &cfg.stitchers {
        let stitcher = closedloop::stitch::build(spec);
        let name = stitcher.name();
        let f1 = r
            .stitching
            .iter()
            .find(|(s, _)| *s == name)
            .map(|(_, m)| m.pairwise.f1)
            .unwrap_or_else(|| panic!("no stitching row for {name}"));
        let ids = stitcher.stitch(&obs.log);
        writeln!(
            out,
            "stitcher {name} f1 = {f1:.9e} partition = {}",
            partition_digest(&ids)
        )
        .unwrap();
    }
    for a in &r.attribution {
        if a.stitcher != "oracle" && a.stitcher != "deterministic" {
            continue;
        }
        let errors: Vec<String> = TRUTHS
            .iter()
            .zip(&a.error)
            .map(|(t, e)| format!("{t} {:.9e}", e.conversions.tvd))
            .collect();
        let total: f64 = a.credit.conversions.values().sum();
        let shares: Vec<String> = a
            .credit
            .conversions
            .iter()
            .map(|(label, v)| format!("{label} {:.6}", v / total))
            .collect();
        writeln!(
            out,
            "model {} on {}: tvd {}; shares {}",
            a.model,
            a.stitcher,
            errors.join(", "),
            shares.join(", ")
        )
        .unwrap();
    }
    out
}

/// The numbers that matter, as one string (floats to 9 significant digits).
fn digest() -> String {
    let sc = Scenario::from_toml_str("golden.toml", TINY).unwrap();
    let (w, obs, truth) = experiment::simulate(&sc, 0);
    let mut out = format!(
        "touches={} leads={} visits={} form_fills={} crm_leads={} opportunities={} deals={}\n",
        w.touches.len(),
        truth.leads.len(),
        obs.log.visits.len(),
        obs.log.form_fills.len(),
        obs.log.crm_leads.len(),
        obs.log.opportunities.len(),
        obs.log.deals.len()
    );
    for (name, c) in closedloop::truth::TRUTHS.iter().zip(truth.in_order()) {
        for (label, v) in &c.conversions {
            out.push_str(&format!(
                "{name}.{label} = {:.9e} / {:.9e}\n",
                v, c.revenue[label]
            ));
        }
    }
    out.push_str(&strategies(&sc));
    out
}

#[test]
fn tiny_scenario_numbers_are_pinned() {
    common::assert_golden("tiny.txt", &digest(), "golden");
}
