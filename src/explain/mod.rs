//! Explain: the four-step loop (docs/teaching.md) told person by person, from
//! one replicate's world, observation and truth — for teaching.
//!
//! A narrator, not a strategy: it reads the truth (which touch caused the
//! lead, why a cookie was lost) and sets beside it what the tracker and the
//! reports made of the same person. The reports' credit comes from running
//! the real strategies on the observed log — GA-style (`last_non_direct` on
//! `cookie_only` journeys), HubSpot-style (`first_touch` on `deterministic`
//! journeys) and the run's lowest-error model (lowest `tvd` against shapley
//! on the best stitcher's journeys, in this one replicate: a ranking, not a
//! claim that it is better) — never from re-implementing them.
//!
//! A person's credit under a model is what the person's journey adds to the
//! model's report: credit(all journeys) − credit(all journeys but this one).
//! For models that credit each journey on its own (the rules) that is the
//! model applied to the journey alone; for fitted models (Markov, Shapley
//! rate, logistic, additive hazard) it is the journey's marginal effect on
//! the report and can be negative for a label.
//!
//! The library builds data (`Explanation`, `AnswerKey`); the binary writes
//! the sentences. Must never: print, or feed the truth to a strategy.

mod answer_key;
mod model;
mod pick;
mod report_credit;
mod story;

use answer_key::answer_key;
pub use model::*;
use pick::Context;
use report_credit::ReportRun;
pub use report_credit::{journey_credit, only_journey, without_journey};
pub use story::{ga_cookie, hubspot_cookie};

use crate::attribute::{self};
use crate::experiment::{self, RunConfig};
use crate::scenario::Scenario;
use crate::spec::{AttributorSpec, StitcherSpec};

/// The run configuration `explain` uses: the scenario's own, plus the
/// GA-style and HubSpot-style strategies when the scenario leaves them out.
pub fn run_config(sc: &Scenario) -> RunConfig {
    let mut cfg = RunConfig::from_scenario(sc);
    for s in [StitcherSpec::CookieOnly, StitcherSpec::Deterministic] {
        if !cfg.stitchers.iter().any(|x| x.id() == s.id()) {
            cfg.stitchers.push(s);
        }
    }
    for m in [ga_model(), hubspot_model()] {
        if !cfg.models.iter().any(|x| x.id() == m.id()) {
            cfg.models.push(m);
        }
    }
    cfg
}

pub(super) fn ga_model() -> AttributorSpec {
    AttributorSpec::parse("last_non_direct").expect("a registered model id")
}

pub(super) fn hubspot_model() -> AttributorSpec {
    AttributorSpec::parse("first_touch").expect("a registered model id")
}

/// Simulate one replicate, run the scenario's strategies on it, and tell
/// the chosen persons' stories; the answer key, the world and the reports'
/// partitions all come from that one run (nothing is simulated or stitched twice).
pub fn explain(sc: &Scenario, opts: &ExplainOptions) -> Result<Explained, ExplainError> {
    if opts.persons.is_empty() && opts.visitors == 0 {
        return Err(ExplainError::NoVisitors);
    }
    if let Some(&p) = opts.persons.iter().find(|&&p| p >= sc.persons) {
        return Err(ExplainError::NoSuchPerson {
            person: p,
            last: sc.persons.saturating_sub(1),
        });
    }
    let cfg = run_config(sc);
    let (result, kept) = experiment::run_replicate_keeping(sc, &cfg, opts.replicate);
    let (world, obs, truth) = (&kept.world, &kept.observation, &kept.truth);
    let answers = answer_key(sc, &result);

    let mut reports = vec![
        ("ga_style".to_string(), StitcherSpec::CookieOnly, ga_model()),
        (
            "hubspot_style".to_string(),
            StitcherSpec::Deterministic,
            hubspot_model(),
        ),
    ];
    let best_stitcher = cfg
        .stitchers
        .iter()
        .find(|s| s.id() == answers.best_stitcher.0)
        .cloned();
    let best_model = cfg
        .models
        .iter()
        .find(|m| attribute::build(*m).name() == answers.best_model)
        .cloned();
    if let (Some(s), Some(m)) = (best_stitcher, best_model) {
        reports.push(("best_model".to_string(), s, m));
    }
    let ctx = Context::new(sc, world, obs, truth);
    let partition = |s: &StitcherSpec| {
        let (_, ids) = kept
            .partitions
            .iter()
            .find(|(k, _)| k.id() == s.id())
            .expect("every report's stitcher is one of the run's");
        ids
    };
    let report_runs: Vec<ReportRun> = reports
        .iter()
        .map(|(role, s, m)| ReportRun::new(sc, &obs.log, role, s, partition(s).clone(), m))
        .collect();
    let deterministic = report_runs
        .iter()
        .find(|r| r.stitcher == StitcherSpec::Deterministic.id())
        .expect("the HubSpot-style report stitches deterministically");

    let (chosen, missing) = if opts.persons.is_empty() {
        ctx.pick(opts.visitors)
    } else {
        (
            opts.persons
                .iter()
                .map(|&p| (p, StoryKind::Chosen))
                .collect(),
            Vec::new(),
        )
    };
    let stories = chosen
        .into_iter()
        .map(|(p, kind)| ctx.story(p, kind, deterministic, &report_runs))
        .collect();
    let explanation = Explanation {
        scenario: sc.name.clone(),
        seed: sc.seed,
        replicate: opts.replicate,
        start_date: sc.start_date.clone(),
        horizon_days: sc.horizon_days,
        persons: sc.persons,
        leads: truth.leads.len() as u32,
        reports: report_runs
            .iter()
            .map(|r| ReportSpec {
                role: r.role.clone(),
                stitcher: r.stitcher.clone(),
                model: r.model.clone(),
            })
            .collect(),
        missing,
        stories,
    };
    Ok(Explained {
        explanation,
        answers,
    })
}
