//! Explain: the four-step loop of DESIGN §2 told person by person, from one
//! replicate's world, observation and truth — for teaching.
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

use crate::attribute::{self, Journeys};
use crate::base::credit::Credit;
use crate::experiment::{self, ORACLE, RunConfig};
use crate::log::EventLog;
use crate::observe::{CookieLoss, Observation};
use crate::scenario::{BROWSERS, DEVICE_TYPES, JourneyUnit, Scenario};
use crate::spec::{AttributorSpec, StitcherSpec};
use crate::stitch::{self, Identities};
use crate::truth::{BASELINE, INCREMENTAL, PROXIMATE, SHAPLEY, TRUTHS, Truth};
use crate::world::{Cause, Outcome, Source, World};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

/// Why a person was picked to be narrated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StoryKind {
    /// Converted with every pre-lead visit on one device and no cookie loss.
    Clean,
    /// A cookie was lost (deleted, ITP, private window, consent, blocked) before the form.
    CookieLost,
    /// Visited on two or more devices before the lead.
    SecondDevice,
    /// Visited but never became a lead.
    NeverConverted,
    /// Became a lead that sales did not turn into a deal.
    SalesDropped,
    /// Touched by the high-intent (brand search) channel before the lead,
    /// which would have come without it (its incremental credit is 0).
    WouldHaveBoughtAnyway,
    /// Asked for with `--person`, or filling up `--visitors`.
    Chosen,
}

impl StoryKind {
    /// The default mix, in narration order.
    pub const MIX: [StoryKind; 6] = [
        StoryKind::Clean,
        StoryKind::CookieLost,
        StoryKind::SecondDevice,
        StoryKind::NeverConverted,
        StoryKind::SalesDropped,
        StoryKind::WouldHaveBoughtAnyway,
    ];
}

/// What to narrate.
#[derive(Clone, Debug)]
pub struct ExplainOptions {
    /// The replicate world.
    pub replicate: u32,
    /// How many persons (the default mix first, then other leads, then visitors).
    pub visitors: usize,
    /// Narrate exactly these persons instead (indices).
    pub persons: Vec<u32>,
}

impl Default for ExplainOptions {
    fn default() -> Self {
        ExplainOptions {
            replicate: 0,
            visitors: StoryKind::MIX.len(),
            persons: Vec::new(),
        }
    }
}

/// A request that cannot be narrated.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ExplainError {
    /// `--person` outside the world.
    #[error("person {person} does not exist: this world has persons 0..={last}")]
    NoSuchPerson {
        /// The id asked for.
        person: u32,
        /// The largest id.
        last: u32,
    },
    /// Zero persons asked for.
    #[error("--visitors must be at least 1")]
    NoVisitors,
}

/// One report the stories compare with the truth.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ReportSpec {
    /// `ga_style`, `hubspot_style` or `best_model`.
    pub role: String,
    /// Stitcher id.
    pub stitcher: String,
    /// Model id.
    pub model: String,
}

/// A device of the person.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DeviceInfo {
    /// Global device index.
    pub device: u32,
    /// `desktop`, `mobile`, `tablet`.
    pub device_type: String,
    /// Browser family.
    pub browser: String,
    /// Used by the whole household.
    pub shared: bool,
}

/// What the tracker could join to a form fill.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Join {
    /// Visits on the form's own cookie up to the form (a `cookie_only` journey).
    pub on_cookie: usize,
    /// Visits in the `deterministic` cluster of the form up to the form.
    pub by_email: usize,
    /// Of those, visits of other persons (shared devices).
    pub of_others: usize,
    /// This person's recorded visits up to the form.
    pub own_recorded: usize,
    /// Of those, visits the `deterministic` cluster missed.
    pub missed: usize,
    /// This person's visits up to the form the tracker never recorded.
    pub unrecorded: usize,
}

/// One event of a story.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum What {
    /// A site visit (recorded or not).
    Visit {
        /// The true source: a channel id, `return` (typed URL, bookmark) or
        /// `direct` (a form-fill visit arriving directly).
        source: String,
        /// The label the tracker recorded (None: not recorded).
        recorded_as: Option<String>,
        /// The URL as the tracker saw it (None: not recorded).
        url: Option<String>,
        /// The cookie as it would look (`_ga`-style), None if not recorded.
        cookie: Option<String>,
        /// The same cookie as a `hubspotutk`-style id.
        hubspotutk: Option<String>,
        /// The cookie was first seen on this visit (set now).
        new_cookie: bool,
        /// Device index.
        device: u32,
        /// Landing page.
        landing_page: String,
        /// Pages viewed.
        pages: u16,
        /// Dwell time, seconds.
        dwell_s: u16,
        /// Campaign recorded.
        campaign: Option<String>,
        /// Click id parameter and value carried, e.g. (`gclid`, `…`).
        click_id: Option<(String, String)>,
        /// Log event id.
        event_id: Option<u64>,
        /// This touch armed a conversion clock.
        armed: bool,
        /// This touch's clock fired first: the true cause of the lead.
        caused_lead: bool,
    },
    /// An ad seen, no visit.
    Impression {
        /// Channel id.
        channel: String,
        /// Device index.
        device: u32,
        /// This touch armed a conversion clock.
        armed: bool,
        /// The true cause of the lead.
        caused_lead: bool,
    },
    /// The cookie the device held was lost, or the visit went unrecorded.
    CookieLost {
        /// Why.
        cause: CookieLoss,
        /// Device index.
        device: u32,
        /// The cookie it held before, if any.
        previous_cookie: Option<String>,
    },
    /// A form filled.
    FormFill {
        /// Log event id.
        event_id: Option<u64>,
        /// The email as typed.
        email: String,
        /// The cookie of the form's visit (`_ga`-style; None: not tracked).
        cookie: Option<String>,
        /// The CRM lead record it created (None: the email was seen before).
        crm_lead_id: Option<u64>,
        /// It created a second CRM record (a second address) that sales never works.
        duplicate_record: bool,
        /// What could be joined to it.
        joined: Join,
    },
    /// The organic baseline clock fired (no marketing touch caused the lead).
    BaselineFired,
    /// Sales qualified the lead.
    Opportunity {
        /// Log event id.
        event_id: Option<u64>,
    },
    /// A deal closed.
    Deal {
        /// Revenue.
        revenue: f64,
        /// Log event id.
        event_id: Option<u64>,
    },
    /// Sales did not turn the lead into a deal.
    SalesDropped {
        /// `not_contacted`, `not_qualified` or `not_closed`.
        reason: String,
    },
}

/// An event with its time and its step of the loop (1–4).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StoryEvent {
    /// ms UTC.
    pub time_ms: i64,
    /// Step of the four-step loop (DESIGN §2).
    pub step: u8,
    /// What happened.
    #[serde(flatten)]
    pub what: What,
}

/// The person's lead, as the truth knows it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LeadInfo {
    /// ms UTC.
    pub time_ms: i64,
    /// The true cause (a channel id or `baseline`).
    pub cause: String,
    /// Time of the causing touch.
    pub cause_time_ms: Option<i64>,
    /// Revenue of the deal (0 if none).
    pub revenue: f64,
}

/// What happened on the web after the lead, counted.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct AfterLead {
    /// Visits and impressions.
    pub touches: usize,
    /// Cookie losses.
    pub cookie_losses: usize,
    /// Repeat form fills.
    pub form_fills: usize,
}

/// Credit of the person's lead under a truth or a report.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CreditLine {
    /// `shapley`, `incremental`, `proximate`, or a report role.
    pub source: String,
    /// Stitcher (reports only).
    pub stitcher: Option<String>,
    /// Model (reports only).
    pub model: Option<String>,
    /// The recorded labels of the journey the report credited (reports only).
    pub journey: Vec<String>,
    /// Leads per label (non-zero entries).
    pub conversions: BTreeMap<String, f64>,
    /// Revenue per label (non-zero entries).
    pub revenue: BTreeMap<String, f64>,
}

/// One person's story.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Story {
    /// Person index.
    pub person: u32,
    /// Why this person.
    pub kind: StoryKind,
    /// Segment id.
    pub segment: String,
    /// Intent frailty z (mean 1).
    pub intent: f64,
    /// A newsletter subscriber.
    pub newsletter: bool,
    /// Persons in the household or office.
    pub group_size: u32,
    /// The person's devices.
    pub devices: Vec<DeviceInfo>,
    /// Events in time order.
    pub events: Vec<StoryEvent>,
    /// The lead, if any.
    pub lead: Option<LeadInfo>,
    /// Web events after the lead (left out of `events`: no journey holds them).
    pub after_lead: AfterLead,
    /// Credit of the lead: the truths, then the reports.
    pub credit: Vec<CreditLine>,
}

/// Stories of one replicate.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Explanation {
    /// Scenario name.
    pub scenario: String,
    /// Seed.
    pub seed: u64,
    /// Replicate narrated.
    pub replicate: u32,
    /// `start_date` of the window.
    pub start_date: String,
    /// Window length, days.
    pub horizon_days: f64,
    /// Persons in the world.
    pub persons: u32,
    /// True leads in the world.
    pub leads: u32,
    /// The reports set against the truth.
    pub reports: Vec<ReportSpec>,
    /// Kinds of the default mix nobody in this world fits.
    pub missing: Vec<StoryKind>,
    /// The stories.
    pub stories: Vec<Story>,
}

/// One row of the answer key: a model's share of leads per channel.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AnswerRow {
    /// Report roles the row plays (`ga_style`, `hubspot_style`,
    /// `best_model`, `truth`; the best model can also be HubSpot-style).
    pub roles: Vec<String>,
    /// Stitcher id (`oracle` = true persons).
    pub stitcher: String,
    /// Model id (`oracle` = shapley truth).
    pub model: String,
    /// Leads credited per label (as in report.json's `credit.conversions`).
    pub conversions: BTreeMap<String, f64>,
    /// Headline error against shapley truth (report.json's `error.shapley.conversions.tvd`).
    pub tvd: f64,
    /// The channel it misses most (`max_miss_channel`) and by how much (share points).
    pub max_miss_channel: Option<String>,
    /// Model share − true share on that channel.
    pub max_miss_bias: f64,
}

/// The answer key: the run's numbers for the same scenario and seed.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AnswerKey {
    /// Scenario name.
    pub scenario: String,
    /// Seed.
    pub seed: u64,
    /// Replicate.
    pub replicate: u32,
    /// True leads, customers, revenue.
    pub leads: u64,
    /// Closed deals.
    pub customers: u64,
    /// Revenue.
    pub revenue: f64,
    /// Shapley truth (the headline): leads per label.
    pub shapley: BTreeMap<String, f64>,
    /// Incremental truth: leads per label.
    pub incremental: BTreeMap<String, f64>,
    /// Proximate truth (the clock that fired): leads per label.
    pub proximate: BTreeMap<String, f64>,
    /// Best stitcher (highest pairwise F1, oracle excluded) and its F1.
    pub best_stitcher: (String, f64),
    /// Lowest-error model on it (lowest `tvd` against shapley in this
    /// replicate, oracle excluded).
    pub best_model: String,
    /// Every attribution row of the run (as `closedloop run`), plus roles.
    pub rows: Vec<AnswerRow>,
    /// Loss events by mechanism in the window.
    pub losses: BTreeMap<String, u64>,
}

/// The stories and the answer key of one replicate.
#[derive(Clone, Debug)]
pub struct Explained {
    /// The stories.
    pub explanation: Explanation,
    /// The answer key.
    pub answers: AnswerKey,
}

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

fn ga_model() -> AttributorSpec {
    AttributorSpec::parse("last_non_direct").expect("a registered model id")
}

fn hubspot_model() -> AttributorSpec {
    AttributorSpec::parse("first_touch").expect("a registered model id")
}

/// Simulate one replicate, run the scenario's strategies on it, and tell
/// the chosen persons' stories; the answer key comes from the same run.
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
    let result = experiment::run_replicate(sc, &cfg, opts.replicate);
    let (world, obs, truth) = experiment::simulate(sc, opts.replicate);
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
    let ctx = Context::new(sc, &world, &obs, &truth);
    let report_runs: Vec<ReportRun> = reports
        .iter()
        .map(|(role, s, m)| ReportRun::new(sc, &obs.log, role, s, m))
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

/// The answer key from a replicate's run.
fn answer_key(sc: &Scenario, r: &experiment::ReplicateResult) -> AnswerKey {
    let best_stitcher = r
        .stitching
        .iter()
        .filter(|(name, _)| name != ORACLE)
        .fold(None::<(String, f64)>, |best, (name, m)| {
            let f1 = m.pairwise.f1;
            match best {
                Some((_, b)) if b >= f1 => best,
                _ => Some((name.clone(), f1)),
            }
        })
        .unwrap_or_else(|| (ORACLE.to_string(), 1.0));
    let best_model = r
        .attribution
        .iter()
        .filter(|a| a.stitcher == best_stitcher.0 && a.model != ORACLE)
        .fold(None::<(&str, f64)>, |best, a| {
            let tvd = a.error[SHAPLEY].conversions.tvd;
            match best {
                Some((_, b)) if b <= tvd => best,
                _ => Some((&a.model, tvd)),
            }
        })
        .map_or_else(String::new, |(m, _)| m.to_string());
    let ga = attribute::build(&ga_model()).name();
    let hubspot = attribute::build(&hubspot_model()).name();
    let roles_of = |stitcher: &str, model: &str| -> Vec<String> {
        let mut roles = Vec::new();
        if stitcher == StitcherSpec::CookieOnly.id() && model == ga {
            roles.push("ga_style".to_string());
        }
        if stitcher == StitcherSpec::Deterministic.id() && model == hubspot {
            roles.push("hubspot_style".to_string());
        }
        if stitcher == best_stitcher.0 && model == best_model {
            roles.push("best_model".to_string());
        }
        if stitcher == ORACLE && model == ORACLE {
            roles.push("truth".to_string());
        }
        roles
    };
    AnswerKey {
        scenario: sc.name.clone(),
        seed: sc.seed,
        replicate: r.replicate,
        leads: r.world.leads,
        customers: r.world.customers,
        revenue: r.world.revenue,
        shapley: r.truth[SHAPLEY].conversions.clone(),
        incremental: r.truth[INCREMENTAL].conversions.clone(),
        proximate: r.truth[PROXIMATE].conversions.clone(),
        best_model: best_model.clone(),
        rows: r
            .attribution
            .iter()
            .map(|a| {
                let e = &a.error[SHAPLEY].conversions;
                AnswerRow {
                    roles: roles_of(&a.stitcher, &a.model),
                    stitcher: a.stitcher.clone(),
                    model: a.model.clone(),
                    conversions: a.credit.conversions.clone(),
                    tvd: e.tvd,
                    max_miss_channel: e.max_miss_channel.clone(),
                    max_miss_bias: e
                        .max_miss_channel
                        .as_ref()
                        .and_then(|c| e.bias.get(c).copied())
                        .unwrap_or(0.0),
                }
            })
            .collect(),
        best_stitcher,
        losses: r
            .world
            .loss
            .counts
            .iter()
            .map(|(k, v)| (k.to_string(), *v))
            .collect(),
    }
}

/// One report's partition and journeys, and each cluster's journey index.
struct ReportRun {
    role: String,
    stitcher: String,
    model: String,
    spec: AttributorSpec,
    ids: Identities,
    journeys: Journeys,
    /// Journey index per cluster (None: the cluster makes no journey).
    journey_of: Vec<Option<u32>>,
    /// The model's credit on all journeys.
    total: Credit,
}

impl ReportRun {
    fn new(
        sc: &Scenario,
        log: &EventLog,
        role: &str,
        stitcher: &StitcherSpec,
        model: &AttributorSpec,
    ) -> ReportRun {
        let ids = stitch::build(stitcher).stitch(log);
        let (journeys, kept) = match sc.journey_unit {
            JourneyUnit::Visit => (Journeys::build(log, &ids), None),
            JourneyUnit::Session => {
                let starts = log.session_starts(&sc.sessions);
                let js = Journeys::build_sessions(log, &ids, &sc.sessions);
                (js, Some(starts))
            }
        };
        // `Journeys::build` makes a journey of every cluster with a kept
        // visit up to its lead, a lead or revenue, in cluster order.
        let n = ids.n_clusters as usize;
        let mut lead_ms: Vec<Option<i64>> = vec![None; n];
        for (l, &c) in log.crm_leads.iter().zip(&ids.crm_lead) {
            let e = &mut lead_ms[c as usize];
            *e = Some(e.map_or(l.time_ms, |t| t.min(l.time_ms)));
        }
        let mut has = vec![false; n];
        for (i, (v, &c)) in log.visits.iter().zip(&ids.visit).enumerate() {
            let kept_visit = kept.as_ref().is_none_or(|k| k[i]);
            if kept_visit && lead_ms[c as usize].is_none_or(|t| v.time_ms <= t) {
                has[c as usize] = true;
            }
        }
        for (d, &c) in log.deals.iter().zip(&ids.deal) {
            if d.revenue != 0.0 {
                has[c as usize] = true;
            }
        }
        let mut journey_of = vec![None; n];
        let mut next = 0u32;
        for c in 0..n {
            if has[c] || lead_ms[c].is_some() {
                journey_of[c] = Some(next);
                next += 1;
            }
        }
        assert_eq!(
            next as usize,
            journeys.journeys.len(),
            "journey numbering follows Journeys::build"
        );
        let m = attribute::build(model);
        let total = m.attribute(&journeys);
        ReportRun {
            role: role.to_string(),
            stitcher: stitcher.id(),
            model: m.name(),
            spec: model.clone(),
            ids,
            journeys,
            journey_of,
            total,
        }
    }

    /// The journey holding a CRM lead record, if any.
    fn journey_of_lead(&self, crm_lead: usize) -> Option<usize> {
        self.journey_of[self.ids.crm_lead[crm_lead] as usize].map(|j| j as usize)
    }

    /// What journey `j` adds to the model's report.
    fn credit_of(&self, j: usize) -> Credit {
        journey_credit(&self.spec, &self.journeys, j, Some(&self.total))
    }
}

/// What journey `j` adds to a model's report: credit on all journeys minus
/// credit on all but `j` (`total` = credit on all, when already computed).
pub fn journey_credit(
    model: &AttributorSpec,
    journeys: &Journeys,
    j: usize,
    total: Option<&Credit>,
) -> Credit {
    let m = attribute::build(model);
    let all = match total {
        Some(t) => t.clone(),
        None => m.attribute(journeys),
    };
    let without = m.attribute(&without_journey(journeys, j));
    let mut out = Credit::default();
    for (label, v) in &all.conversions {
        let rest = without.conversions.get(label).copied().unwrap_or(0.0);
        let rev = all.revenue.get(label).copied().unwrap_or(0.0)
            - without.revenue.get(label).copied().unwrap_or(0.0);
        out.add(label, v - rest, rev);
    }
    for (label, v) in &without.conversions {
        if !all.conversions.contains_key(label) {
            let rev = without.revenue.get(label).copied().unwrap_or(0.0);
            out.add(label, -v, -rev);
        }
    }
    out
}

/// The journeys with journey `j` left out.
pub fn without_journey(journeys: &Journeys, j: usize) -> Journeys {
    let mut out = Journeys::new(journeys.labels.clone(), journeys.n_channels);
    for i in (0..journeys.journeys.len()).filter(|&i| i != j) {
        out.push_copy(journeys, i);
    }
    out
}

/// Only journey `j`.
pub fn only_journey(journeys: &Journeys, j: usize) -> Journeys {
    let mut out = Journeys::new(journeys.labels.clone(), journeys.n_channels);
    out.push_copy(journeys, j);
    out
}

/// Everything the narrator reads, indexed.
struct Context<'a> {
    sc: &'a Scenario,
    world: &'a World,
    obs: &'a Observation,
    truth: &'a Truth,
    /// World touch → log visit index.
    visit_of_touch: HashMap<u32, usize>,
    /// Cookie id → time (ms) it was first seen in the log.
    cookie_first_ms: HashMap<u64, i64>,
    /// Form fills and CRM leads per person, by time.
    forms_of: HashMap<u32, Vec<usize>>,
    crm_of: HashMap<u32, Vec<usize>>,
    /// Person → index in `World::credit`.
    credit_of: HashMap<u32, usize>,
    start_ms: i64,
}

fn to_ms(start_ms: i64, days: f64) -> i64 {
    start_ms + (days * 86_400_000.0).round() as i64
}

/// A cookie id as a `_ga` cookie would show it: `GA1.1.<random>.<first seen, s>`.
pub fn ga_cookie(cookie_id: u64, first_seen_ms: i64) -> String {
    format!(
        "GA1.1.{:010}.{}",
        cookie_id % 10_000_000_000,
        first_seen_ms.div_euclid(1000)
    )
}

/// A cookie id as a `hubspotutk` cookie would show it (32 hex digits).
pub fn hubspot_cookie(cookie_id: u64) -> String {
    format!(
        "{:016x}{:016x}",
        cookie_id,
        crate::base::rng::mix64(cookie_id ^ 0x0068_7562_7370_6f74)
    )
}

impl<'a> Context<'a> {
    fn new(sc: &'a Scenario, world: &'a World, obs: &'a Observation, truth: &'a Truth) -> Self {
        let ev = &truth.events;
        let visit_of_touch = ev
            .visit_touch
            .iter()
            .enumerate()
            .map(|(i, &t)| (t, i))
            .collect();
        let mut cookie_first_ms = HashMap::new();
        for v in &obs.log.visits {
            cookie_first_ms.entry(v.cookie_id).or_insert(v.time_ms);
        }
        let mut forms_of: HashMap<u32, Vec<usize>> = HashMap::new();
        for (i, &p) in ev.form_fill_person.iter().enumerate() {
            forms_of.entry(p).or_default().push(i);
        }
        let mut crm_of: HashMap<u32, Vec<usize>> = HashMap::new();
        for (i, &p) in ev.crm_lead_person.iter().enumerate() {
            crm_of.entry(p).or_default().push(i);
        }
        Context {
            sc,
            world,
            obs,
            truth,
            visit_of_touch,
            cookie_first_ms,
            forms_of,
            crm_of,
            credit_of: world
                .credit
                .iter()
                .enumerate()
                .map(|(i, c)| (c.person, i))
                .collect(),
            start_ms: sc.start_epoch_ms(),
        }
    }

    fn cookie_text(&self, cookie_id: u64) -> String {
        let first = self.cookie_first_ms.get(&cookie_id).copied().unwrap_or(0);
        ga_cookie(cookie_id, first)
    }

    fn label(&self, l: u16) -> String {
        self.obs.log.labels[l as usize].clone()
    }

    /// The person's touches in the window.
    fn window_touches(&self, person: u32) -> impl Iterator<Item = (u32, &'a crate::world::Touch)> {
        let (a, b) = self.world.persons[person as usize].touches;
        let horizon = self.sc.horizon_days;
        (a..b)
            .map(|ti| (ti, &self.world.touches[ti as usize]))
            .filter(move |(_, t)| t.time >= 0.0 && t.time <= horizon)
    }

    /// Cookie losses on the person's touches.
    fn losses_of(&self, person: u32) -> &'a [(u32, CookieLoss)] {
        let (a, b) = self.world.persons[person as usize].touches;
        let l = &self.obs.cookie_losses;
        let from = l.partition_point(|x| x.0 < a);
        let to = l.partition_point(|x| x.0 < b);
        &l[from..to]
    }

    fn lead_of(&self, person: u32) -> Option<&'a crate::world::Lead> {
        match &self.world.persons[person as usize].outcome {
            Outcome::Lead(l) => Some(l),
            _ => None,
        }
    }

    /// The channel that reaches high-intent persons most (brand search).
    fn intent_channel(&self) -> Option<u16> {
        self.sc
            .channels
            .iter()
            .enumerate()
            .filter(|(_, c)| c.intent_exponent > 0.0)
            .max_by(|a, b| a.1.intent_exponent.total_cmp(&b.1.intent_exponent))
            .map(|(i, _)| i as u16)
    }

    /// Incremental leads of a label for a person (0 when absent).
    fn incremental(&self, person: u32, label: u16) -> f64 {
        self.credit_of
            .get(&person)
            .map(|&i| &self.world.credit[i])
            .and_then(|c| c.incremental.iter().find(|x| x.0 == label))
            .map_or(0.0, |x| x.1)
    }

    /// Whether a person fits a kind of the mix.
    fn fits(&self, person: u32, kind: StoryKind) -> bool {
        let lead = self.lead_of(person);
        let before = |t: f64| lead.is_none_or(|l| t <= l.time);
        let visits: Vec<&crate::world::Touch> = self
            .window_touches(person)
            .map(|(_, t)| t)
            .filter(|t| t.is_visit && before(t.time))
            .collect();
        let mut devices: Vec<u32> = visits.iter().map(|t| t.device).collect();
        devices.sort_unstable();
        devices.dedup();
        let lost = self
            .losses_of(person)
            .iter()
            .any(|&(ti, _)| before(self.world.touches[ti as usize].time));
        match kind {
            StoryKind::Clean => {
                lead.is_some_and(|l| {
                    l.cause_touch
                        .is_some_and(|c| self.world.touches[c as usize].is_visit)
                }) && !lost
                    && devices.len() == 1
            }
            StoryKind::CookieLost => lead.is_some() && lost,
            StoryKind::SecondDevice => lead.is_some() && devices.len() >= 2,
            StoryKind::NeverConverted => lead.is_none() && !visits.is_empty(),
            StoryKind::SalesDropped => lead.is_some_and(|l| l.deal.is_none()),
            StoryKind::WouldHaveBoughtAnyway => match (lead, self.intent_channel()) {
                (Some(l), Some(c)) => {
                    self.window_touches(person)
                        .any(|(_, t)| t.source == Source::Channel(c) && t.time <= l.time)
                        && self.incremental(person, c) == 0.0
                }
                _ => false,
            },
            StoryKind::Chosen => true,
        }
    }

    /// Before the lead, a recorded visit came with a new cookie because the
    /// one set on an earlier recorded visit was deleted, expired by ITP or
    /// hidden by a private window: a history the tracker saw, then lost.
    fn replaced_cookie_before_lead(&self, person: u32) -> bool {
        let Some(l) = self.lead_of(person) else {
            return false;
        };
        let first_recorded = self
            .window_touches(person)
            .find(|(ti, _)| self.visit_of_touch.contains_key(ti))
            .map(|(ti, _)| ti);
        self.losses_of(person).iter().any(|&(ti, why)| {
            matches!(
                why,
                CookieLoss::Deleted | CookieLoss::ItpExpired | CookieLoss::PrivateWindow
            ) && self.world.touches[ti as usize].time <= l.time
                && self.visit_of_touch.contains_key(&ti)
                && first_recorded.is_some_and(|f| f < ti)
        })
    }

    /// The causing touch and the form-fill visit are on different devices.
    fn cause_on_other_device(&self, person: u32) -> bool {
        let Some(l) = self.lead_of(person) else {
            return false;
        };
        let device = |t: u32| self.world.touches[t as usize].device;
        l.cause_touch
            .is_some_and(|c| device(c) != device(l.form_visit))
    }

    /// The default mix: one person per kind — preferring a replaced cookie
    /// for `cookie_lost`, the cause on another device than the form for
    /// `second_device`, the most visits for `never_converted`, then a deal,
    /// then the lowest index — then other leads and other visitors up to `n`.
    fn pick(&self, n: usize) -> (Vec<(u32, StoryKind)>, Vec<StoryKind>) {
        let persons = self.world.persons.len() as u32;
        let mut chosen: Vec<(u32, StoryKind)> = Vec::new();
        let mut missing = Vec::new();
        for kind in StoryKind::MIX.into_iter().take(n) {
            let taken = |p: u32, chosen: &[(u32, StoryKind)]| chosen.iter().any(|c| c.0 == p);
            let score = |p: u32| -> (i64, i64, u32) {
                let deal = i64::from(self.lead_of(p).is_none_or(|l| l.deal.is_none()));
                let rank = match kind {
                    StoryKind::NeverConverted => {
                        -(self.window_touches(p).filter(|(_, t)| t.is_visit).count() as i64)
                    }
                    StoryKind::SalesDropped => 0,
                    // A cookie that existed and was replaced, before one never set.
                    StoryKind::CookieLost => i64::from(!self.replaced_cookie_before_lead(p)),
                    // The causing click on another device than the form.
                    StoryKind::SecondDevice => i64::from(!self.cause_on_other_device(p)),
                    _ => 0,
                };
                (rank, deal, p)
            };
            match (0..persons)
                .filter(|&p| !taken(p, &chosen) && self.fits(p, kind))
                .min_by_key(|&p| score(p))
            {
                Some(p) => chosen.push((p, kind)),
                None => missing.push(kind),
            }
        }
        let extra_leads = self.truth.leads.iter().map(|l| l.person);
        let visitors = (0..persons).filter(|&p| self.window_touches(p).any(|(_, t)| t.is_visit));
        for p in extra_leads.chain(visitors) {
            if chosen.len() >= n {
                break;
            }
            if !chosen.iter().any(|c| c.0 == p) {
                chosen.push((p, StoryKind::Chosen));
            }
        }
        (chosen, missing)
    }

    fn story(
        &self,
        person: u32,
        kind: StoryKind,
        deterministic: &ReportRun,
        reports: &[ReportRun],
    ) -> Story {
        let w = self.world;
        let p = &w.persons[person as usize];
        let log = &self.obs.log;
        let lead = self.lead_of(person);
        let devices = w
            .devices_of(person)
            .iter()
            .map(|&d| {
                let dev = &w.devices[d as usize];
                DeviceInfo {
                    device: d,
                    device_type: DEVICE_TYPES[dev.device_type as usize].to_string(),
                    browser: BROWSERS[dev.browser as usize].to_string(),
                    shared: dev.shared,
                }
            })
            .collect();
        let mut events: Vec<(i64, u32, StoryEvent)> = Vec::new();
        let mut order = 0u32;
        let mut push = |events: &mut Vec<(i64, u32, StoryEvent)>, time_ms, step, what| {
            events.push((
                time_ms,
                order,
                StoryEvent {
                    time_ms,
                    step,
                    what,
                },
            ));
            order += 1;
        };
        let losses = self.losses_of(person);
        // The cookie each device held last in this story (for "previous cookie").
        let mut held: HashMap<u32, u64> = HashMap::new();
        for (ti, t) in self.window_touches(person) {
            let time_ms = to_ms(self.start_ms, t.time);
            let caused = lead.is_some_and(|l| l.cause_touch == Some(ti));
            let visit = self.visit_of_touch.get(&ti).map(|&i| &log.visits[i]);
            for &(_, why) in losses.iter().filter(|x| x.0 == ti) {
                push(
                    &mut events,
                    time_ms,
                    2,
                    What::CookieLost {
                        cause: why,
                        device: t.device,
                        previous_cookie: held.get(&t.device).map(|&c| self.cookie_text(c)),
                    },
                );
            }
            if !t.is_visit {
                if let Source::Channel(c) = t.source {
                    push(
                        &mut events,
                        time_ms,
                        1,
                        What::Impression {
                            channel: self.sc.channels[c as usize].id.clone(),
                            device: t.device,
                            armed: t.armed,
                            caused_lead: caused,
                        },
                    );
                }
                continue;
            }
            let source = match t.source {
                Source::Channel(c) => self.sc.channels[c as usize].id.clone(),
                Source::Return => "return".to_string(),
                Source::FormFill(Some(c)) => self.sc.channels[c as usize].id.clone(),
                Source::FormFill(None) => "direct".to_string(),
            };
            let true_channel = match t.source {
                Source::Channel(c) | Source::FormFill(Some(c)) => Some(c),
                _ => None,
            };
            let (landing, new_cookie) = match visit {
                Some(v) => (
                    log.pages[v.landing_page as usize].clone(),
                    self.cookie_first_ms.get(&v.cookie_id) == Some(&v.time_ms)
                        && held.get(&t.device) != Some(&v.cookie_id),
                ),
                None => (String::new(), false),
            };
            let click_id = visit.and_then(|v| {
                let id = v.click_id?;
                let param = true_channel
                    .and_then(|c| self.sc.channels[c as usize].click_id.clone())
                    .unwrap_or_else(|| "click_id".into());
                Some((param, format!("{:016x}", id.get())))
            });
            let url = visit.map(|v| {
                let mut url = format!(
                    "https://www.example.com{}",
                    log.pages[v.landing_page as usize]
                );
                let mut params: Vec<String> = Vec::new();
                if (v.channel as usize) < log.n_channels {
                    params.push(format!("utm_source={}", self.label(v.channel)));
                    if let Some(c) = v.campaign {
                        params.push(format!("utm_campaign={}", log.campaigns[c as usize]));
                    }
                }
                if let Some((k, val)) = &click_id {
                    params.push(format!("{k}={val}"));
                }
                if !params.is_empty() {
                    url.push('?');
                    url.push_str(&params.join("&"));
                }
                url
            });
            let step = if visit.is_none() || new_cookie { 1 } else { 2 };
            push(
                &mut events,
                time_ms,
                step,
                What::Visit {
                    source,
                    recorded_as: visit.map(|v| self.label(v.channel)),
                    url,
                    cookie: visit.map(|v| self.cookie_text(v.cookie_id)),
                    hubspotutk: visit.map(|v| hubspot_cookie(v.cookie_id)),
                    new_cookie,
                    device: t.device,
                    landing_page: landing,
                    pages: t.pages,
                    dwell_s: t.dwell_s,
                    campaign: visit
                        .and_then(|v| v.campaign)
                        .map(|c| log.campaigns[c as usize].clone()),
                    click_id,
                    event_id: visit.map(|v| v.event_id),
                    armed: t.armed,
                    caused_lead: caused,
                },
            );
            if let Some(v) = visit {
                held.insert(t.device, v.cookie_id);
            }
        }
        // Form fills (step 3), with what the tracker could join.
        let crm = self.crm_of.get(&person).cloned().unwrap_or_default();
        for &fi in self.forms_of.get(&person).map_or(&[][..], |v| v.as_slice()) {
            let f = &log.form_fills[fi];
            let record = crm
                .iter()
                .copied()
                .find(|&ci| log.crm_leads[ci].form_fill_id == f.event_id);
            let joined = self.join(person, f, deterministic);
            push(
                &mut events,
                f.time_ms,
                3,
                What::FormFill {
                    event_id: Some(f.event_id),
                    email: f.email.clone(),
                    cookie: f.cookie_id.map(|c| self.cookie_text(c)),
                    crm_lead_id: record.map(|ci| log.crm_leads[ci].event_id),
                    duplicate_record: record.is_some() && crm.first() != record.as_ref(),
                    joined,
                },
            );
        }
        // The baseline, and sales (step 4).
        let ev = &self.truth.events;
        if let Some(l) = lead {
            let lead_ms = to_ms(self.start_ms, l.time);
            if l.cause == Cause::Baseline {
                push(&mut events, lead_ms, 3, What::BaselineFired);
            }
            let opp = ev
                .opportunity_person
                .iter()
                .position(|&x| x == person)
                .map(|i| &log.opportunities[i]);
            let deal = ev
                .deal_person
                .iter()
                .position(|&x| x == person)
                .map(|i| &log.deals[i]);
            if let Some(t) = l.opportunity {
                push(
                    &mut events,
                    to_ms(self.start_ms, t),
                    4,
                    What::Opportunity {
                        event_id: opp.map(|o| o.event_id),
                    },
                );
            }
            match l.deal {
                Some((t, revenue)) => push(
                    &mut events,
                    to_ms(self.start_ms, t),
                    4,
                    What::Deal {
                        revenue,
                        event_id: deal.map(|d| d.event_id),
                    },
                ),
                None => {
                    let (t, reason) = if !l.contacted {
                        (lead_ms, "not_contacted")
                    } else if let Some(t) = l.opportunity {
                        (to_ms(self.start_ms, t), "not_closed")
                    } else {
                        (lead_ms, "not_qualified")
                    };
                    push(
                        &mut events,
                        t,
                        4,
                        What::SalesDropped {
                            reason: reason.into(),
                        },
                    );
                }
            }
        }
        events.sort_by_key(|e| (e.0, e.1));
        // Web events after the lead belong to no journey: count them only.
        let mut after_lead = AfterLead::default();
        if let Some(l) = lead {
            let lead_ms = to_ms(self.start_ms, l.time);
            events.retain(|(t, _, e)| {
                if *t <= lead_ms || e.step == 4 || matches!(e.what, What::BaselineFired) {
                    return true;
                }
                match e.what {
                    What::CookieLost { .. } => after_lead.cookie_losses += 1,
                    What::FormFill { .. } => after_lead.form_fills += 1,
                    _ => after_lead.touches += 1,
                }
                false
            });
        }
        let lead_info = lead.map(|l| LeadInfo {
            time_ms: to_ms(self.start_ms, l.time),
            cause: match l.cause {
                Cause::Channel(c) => self.sc.channels[c as usize].id.clone(),
                Cause::Baseline => BASELINE.to_string(),
            },
            cause_time_ms: l
                .cause_touch
                .map(|t| to_ms(self.start_ms, w.touches[t as usize].time)),
            revenue: l.deal.map_or(0.0, |d| d.1),
        });
        let credit = match lead {
            Some(_) => self.credit_lines(person, &crm, reports),
            None => Vec::new(),
        };
        Story {
            person,
            kind,
            segment: self.sc.segments[p.segment as usize].id.clone(),
            intent: p.z,
            newsletter: p.newsletter,
            group_size: w.groups[p.group as usize].n_persons,
            devices,
            events: events.into_iter().map(|e| e.2).collect(),
            lead: lead_info,
            after_lead,
            credit,
        }
    }

    /// What the tracker could join to a form fill.
    fn join(&self, person: u32, f: &crate::log::FormFill, det: &ReportRun) -> Join {
        let log = &self.obs.log;
        let ev = &self.truth.events;
        let upto = |i: usize| log.visits[i].time_ms <= f.time_ms;
        let on_cookie = f.cookie_id.map_or(0, |c| {
            (0..log.visits.len())
                .filter(|&i| upto(i) && log.visits[i].cookie_id == c)
                .count()
        });
        let fi = log
            .form_fills
            .iter()
            .position(|x| x.event_id == f.event_id)
            .expect("the form fill is in the log");
        let cluster = det.ids.form_fill[fi];
        let in_cluster = |i: usize| det.ids.visit[i] == cluster;
        let mine = |i: usize| ev.visit_person[i] == person;
        let by_email = (0..log.visits.len())
            .filter(|&i| upto(i) && in_cluster(i))
            .count();
        let of_others = (0..log.visits.len())
            .filter(|&i| upto(i) && in_cluster(i) && !mine(i))
            .count();
        let own_recorded = (0..log.visits.len())
            .filter(|&i| upto(i) && mine(i))
            .count();
        let missed = (0..log.visits.len())
            .filter(|&i| upto(i) && mine(i) && !in_cluster(i))
            .count();
        let unrecorded = self
            .window_touches(person)
            .filter(|(ti, t)| {
                t.is_visit
                    && to_ms(self.start_ms, t.time) <= f.time_ms
                    && !self.visit_of_touch.contains_key(ti)
            })
            .count();
        Join {
            on_cookie,
            by_email,
            of_others,
            own_recorded,
            missed,
            unrecorded,
        }
    }

    /// The truths' credit of the person's lead, then each report's.
    fn credit_lines(&self, person: u32, crm: &[usize], reports: &[ReportRun]) -> Vec<CreditLine> {
        let mut lines = Vec::new();
        let n_ch = self.sc.channels.len() as u16;
        let name = |l: u16| {
            if l == n_ch {
                BASELINE.to_string()
            } else {
                self.sc.channels[l as usize].id.clone()
            }
        };
        // In TRUTHS order: shapley and incremental from the world's
        // per-person games, proximate from the ledger's true cause.
        let pc = self.credit_of.get(&person).map(|&i| &self.world.credit[i]);
        for (t, truth) in TRUTHS.iter().enumerate() {
            let mut c = Credit::default();
            if t == PROXIMATE {
                let Some(tl) = self.truth.leads.iter().find(|l| l.person == person) else {
                    continue;
                };
                c.add(&tl.cause, 1.0, tl.revenue);
            } else if let Some(pc) = pc {
                let entries = if t == SHAPLEY {
                    &pc.shapley
                } else {
                    &pc.incremental
                };
                for &(l, conv, rev) in entries {
                    c.add(&name(l), conv, rev);
                }
            }
            lines.push(line(truth, None, None, Vec::new(), &c));
        }
        let Some(&first_record) = crm.first() else {
            return lines;
        };
        for r in reports {
            let Some(j) = r.journey_of_lead(first_record) else {
                continue;
            };
            let journey = &r.journeys.journeys[j];
            let labels = r
                .journeys
                .touches_of(journey)
                .iter()
                .map(|t| r.journeys.labels[t.label as usize].clone())
                .collect();
            let c = r.credit_of(j);
            lines.push(line(
                &r.role,
                Some(r.stitcher.clone()),
                Some(r.model.clone()),
                labels,
                &c,
            ));
        }
        lines.extend(self.platform_line(person));
        lines
    }

    /// What the ad platforms claim of this person's lead: the real
    /// `platform_reported` on the platform logs cut to this person's form
    /// fills (their pixel conversions and the platforms' touches of them)
    /// and the deals imported for them. None without paid platforms.
    fn platform_line(&self, person: u32) -> Option<CreditLine> {
        let log = &self.obs.log;
        if log.platforms.is_empty() {
            return None;
        }
        let forms: Vec<u64> = self
            .forms_of
            .get(&person)
            .map(|v| v.iter().map(|&i| log.form_fills[i].event_id).collect())
            .unwrap_or_default();
        let mut own = EventLog {
            labels: log.labels.clone(),
            n_channels: log.n_channels,
            ..Default::default()
        };
        for p in &log.platforms {
            let conversions: Vec<crate::log::PixelConversion> = p
                .conversions
                .iter()
                .filter(|c| forms.contains(&c.form_fill_id))
                .copied()
                .collect();
            let touches = p
                .touches
                .iter()
                .filter(|t| conversions.iter().any(|c| c.user == t.user))
                .copied()
                .collect();
            own.platforms.push(crate::log::PlatformLog {
                channel: p.channel,
                click_window_days: p.click_window_days,
                view_window_days: p.view_window_days,
                touches,
                conversions,
            });
        }
        own.conversion_imports = log
            .conversion_imports
            .iter()
            .zip(&self.truth.events.import_person)
            .filter(|(_, p)| **p == person)
            .map(|(i, _)| i.clone())
            .collect();
        let claims = attribute::platform_reported(&own);
        Some(line(
            "platforms",
            Some(experiment::NO_STITCHING.to_string()),
            Some(attribute::PLATFORM_REPORTED.to_string()),
            Vec::new(),
            &claims.credit,
        ))
    }
}

fn line(
    source: &str,
    stitcher: Option<String>,
    model: Option<String>,
    journey: Vec<String>,
    c: &Credit,
) -> CreditLine {
    let nonzero = |m: &BTreeMap<String, f64>| {
        m.iter()
            .filter(|(_, v)| v.abs() > 1e-9)
            .map(|(k, v)| (k.clone(), *v))
            .collect()
    };
    CreditLine {
        source: source.to_string(),
        stitcher,
        model,
        journey,
        conversions: nonzero(&c.conversions),
        revenue: nonzero(&c.revenue),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_look_like_the_trackers() {
        let ga = ga_cookie(12_345_678_901_234, 1_772_409_600_123);
        assert_eq!(ga, "GA1.1.5678901234.1772409600");
        let hs = hubspot_cookie(0xabc);
        assert_eq!(hs.len(), 32);
        assert!(hs.starts_with("0000000000000abc"));
    }
}
