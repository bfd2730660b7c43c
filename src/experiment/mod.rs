//! Experiments: a scenario × replicates × stitchers × models, every strategy
//! scored on the same replicate world (paired). Replicates and strategies run
//! in parallel; results are collected in index order, so they are identical
//! whatever the thread count.
//!
//! The oracle partition and the `oracle` credit row are built here from the
//! truth ledger: they are references, not strategies.
//! Must never: hand the truth to a stitcher or an attributor.

use crate::attribute::{self, Journeys};
use crate::base::credit::Credit;
use crate::observe::{self, Losses};
use crate::scenario::{JourneyUnit, Scenario};
use crate::score::{self, CreditErrors, ScoredChannels, StitchMetrics};
use crate::spec::{AttributorSpec, StitcherSpec};
use crate::stitch::{self, Identities};
use crate::truth::{SHAPLEY, Truth};
use crate::world::{self, Outcome};
use rayon::prelude::*;

pub use ablation::{ABLATIONS, Ablation, AblationRow, LossMechanism, without_loss};

pub mod ablation;
pub mod budget;
pub mod closed_loop;
pub mod on_log;
pub mod pictures;
pub mod sweep;

/// Name of the reference rows built from the truth.
pub const ORACLE: &str = "oracle";

/// What to run.
#[derive(Clone, Debug)]
pub struct RunConfig {
    /// Stitchers (the oracle partition is always added).
    pub stitchers: Vec<StitcherSpec>,
    /// Models (the oracle credit row is always added).
    pub models: Vec<AttributorSpec>,
    /// Number of replicates.
    pub replicates: u32,
}

impl RunConfig {
    /// The scenario's own choices.
    pub fn from_scenario(sc: &Scenario) -> RunConfig {
        RunConfig {
            stitchers: sc.stitcher_specs(),
            models: sc.attributor_specs(),
            replicates: sc.replicates,
        }
    }
}

/// Counts describing one replicate's world and what was observed of it
/// (report.json's `world`).
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct WorldSummary {
    /// Persons.
    pub persons: u64,
    /// Devices.
    pub devices: u64,
    /// Distinct cookie ids recorded.
    pub cookies: u64,
    /// True site visits in the window.
    pub visits: u64,
    /// Visits the tracker recorded.
    pub recorded_visits: u64,
    /// Form fills recorded.
    pub form_fills: u64,
    /// True leads.
    pub leads: u64,
    /// Opportunities.
    pub opportunities: u64,
    /// Closed deals.
    pub customers: u64,
    /// Revenue of closed deals.
    pub revenue: f64,
    /// Persons who were already customers when the window opened.
    pub existing_customers: u64,
    /// CRM lead records (duplicates included).
    pub crm_leads: u64,
    /// Sessions of the recorded visits (under the scenario's session rule).
    pub recorded_sessions: u64,
    /// CRM lead records carrying a platform click id.
    pub leads_with_click_id: u64,
    /// Deals imported back to an ad platform by click id.
    pub conversion_imports: u64,
    /// Loss events by mechanism (`handoff_loss` from the world, the rest observed).
    pub loss: Losses,
    /// Accounts' true paths before their first lead (None without accounts).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_path: Option<AccountPathStats>,
}

/// Mean and nearest-rank percentiles of a count per unit.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize)]
pub struct CountDist {
    /// Mean (0 when there are no units).
    pub mean: f64,
    /// Median (nearest rank).
    pub p50: f64,
    /// 90th percentile (nearest rank).
    pub p90: f64,
}

impl CountDist {
    /// The distribution of `counts` (any order).
    pub fn of(mut counts: Vec<u32>) -> CountDist {
        let n = counts.len();
        if n == 0 {
            return CountDist::default();
        }
        counts.sort_unstable();
        let rank = |q: f64| counts[((q * n as f64).ceil() as usize).clamp(1, n) - 1] as f64;
        CountDist {
            mean: counts.iter().map(|&c| c as f64).sum::<f64>() / n as f64,
            p50: rank(0.5),
            p90: rank(0.9),
        }
    }
}

/// True touches (channel touches and return visits) by all members of an
/// account before the account's first lead, over the accounts with a window
/// lead ([`World::account_paths`](world::World::account_paths)). Truth side:
/// never in the event log.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize)]
pub struct AccountPathStats {
    /// Accounts with a window lead.
    pub accounts: u64,
    /// Window touches only (what a tracker could at best have seen).
    pub window: CountDist,
    /// Warm-up touches too (the whole true path).
    pub with_warmup: CountDist,
}

impl AccountPathStats {
    /// The statistics of one world's account paths.
    pub fn of(paths: &[world::AccountPath]) -> AccountPathStats {
        AccountPathStats {
            accounts: paths.len() as u64,
            window: CountDist::of(paths.iter().map(|p| p.window).collect()),
            with_warmup: CountDist::of(paths.iter().map(|p| p.with_warmup).collect()),
        }
    }
}

/// One model's credit on one stitcher's journeys, scored against each truth.
#[derive(Clone, Debug)]
pub struct AttributionResult {
    /// Stitcher id (or `oracle`).
    pub stitcher: String,
    /// Model id (or `oracle`).
    pub model: String,
    /// The credit given.
    pub credit: Credit,
    /// Error against each truth, in [`TRUTHS`](crate::truth::TRUTHS) order (shapley, incremental,
    /// proximate): index with [`SHAPLEY`](crate::truth::SHAPLEY) & co.
    pub error: [CreditErrors; 3],
}

/// Everything one replicate produced.
#[derive(Clone, Debug)]
pub struct ReplicateResult {
    /// Replicate index.
    pub replicate: u32,
    /// World counts.
    pub world: WorldSummary,
    /// The three truths, in [`TRUTHS`](crate::truth::TRUTHS) order.
    pub truth: [Credit; 3],
    /// Share of the leads a Shapley game over the whole window would give to
    /// channels that matter only after the lead (left out of `shapley`).
    pub shapley_post_lead_share: f64,
    /// Stitching metrics per stitcher id, in run order (oracle last).
    pub stitching: Vec<(String, StitchMetrics)>,
    /// Path-length distributions per stitcher id (oracle last: the true one).
    pub path_lengths: Vec<(String, score::PathLengths)>,
    /// `probabilistic` scored at each of [`THRESHOLD_SWEEP`] (empty when not run).
    pub threshold_sweep: Vec<ThresholdPoint>,
    /// What the ad platforms claim (None without paid channels).
    pub platforms: Option<PlatformsSummary>,
    /// Each loss mechanism switched off in turn (empty unless the scenario
    /// asks for `loss_ablation`).
    pub loss_ablation: Vec<AblationRow>,
    /// Attribution rows, stitcher-major, in run order.
    pub attribution: Vec<AttributionResult>,
    /// Wall-clock seconds per stage (for `timings.json` only; never in report.json).
    pub timings: Vec<(&'static str, f64)>,
    /// The tools' reports, the cause → recorded flows and (replicate 0) a few
    /// journeys, for the HTML report and the charts.
    pub pictures: pictures::Pictures,
}

/// The oracle partition: true persons.
pub fn oracle_identities(truth: &Truth) -> Identities {
    let e = &truth.events;
    let tables = [
        e.visit_person.clone(),
        e.form_fill_person.clone(),
        e.crm_lead_person.clone(),
        e.opportunity_person.clone(),
        e.deal_person.clone(),
    ];
    let n = tables.iter().flatten().max().map_or(0, |&m| m as usize + 1);
    Identities::from_dense_keys(tables, n)
}

/// Simulate, observe and assemble the truth of one replicate.
pub fn simulate(sc: &Scenario, replicate: u32) -> (world::World, observe::Observation, Truth) {
    simulate_timed(sc, replicate, &mut Vec::new())
}

/// [`simulate`], recording the wall-clock seconds of each stage.
fn simulate_timed(
    sc: &Scenario,
    replicate: u32,
    timings: &mut Vec<(&'static str, f64)>,
) -> (world::World, observe::Observation, Truth) {
    let clock = std::time::Instant::now();
    let w = world::generate(sc, replicate);
    timings.push(("world", clock.elapsed().as_secs_f64()));
    let clock = std::time::Instant::now();
    let mut obs = observe::observe(sc, &w);
    timings.push(("observe", clock.elapsed().as_secs_f64()));
    let clock = std::time::Instant::now();
    let events = std::mem::take(&mut obs.persons);
    let truth = Truth::assemble(sc, &w, events);
    timings.push(("truth", clock.elapsed().as_secs_f64()));
    (w, obs, truth)
}

/// The scenario's channels with their spend, as credit scoring reads them.
pub fn scored_channels(sc: &Scenario) -> ScoredChannels {
    ScoredChannels {
        ids: sc.channel_ids(),
        spend: sc.channels.iter().map(|c| c.spend.unwrap_or(0.0)).collect(),
    }
}

/// A credit's error against each truth, in [`TRUTHS`](crate::truth::TRUTHS) order.
fn errors_against(credit: &Credit, truth: &Truth, channels: &ScoredChannels) -> [CreditErrors; 3] {
    truth
        .in_order()
        .map(|t| score::credit_errors(credit, t, channels))
}

fn summarize_world(sc: &Scenario, w: &world::World, obs: &observe::Observation) -> WorldSummary {
    let horizon = sc.horizon_days;
    let mut cookies: Vec<u64> = obs.log.visits.iter().map(|v| v.cookie_id).collect();
    cookies.extend(obs.log.form_fills.iter().filter_map(|f| f.cookie_id));
    cookies.sort_unstable();
    cookies.dedup();
    let mut s = WorldSummary {
        persons: w.persons.len() as u64,
        devices: w.devices.len() as u64,
        cookies: cookies.len() as u64,
        visits: w
            .touches
            .iter()
            .filter(|t| t.is_visit && t.time >= 0.0 && t.time <= horizon)
            .count() as u64,
        recorded_visits: obs.log.visits.len() as u64,
        form_fills: obs.log.form_fills.len() as u64,
        leads: 0,
        opportunities: 0,
        customers: 0,
        revenue: 0.0,
        existing_customers: 0,
        crm_leads: obs.log.crm_leads.len() as u64,
        recorded_sessions: obs
            .log
            .session_starts(&sc.sessions)
            .iter()
            .filter(|s| **s)
            .count() as u64,
        leads_with_click_id: obs
            .log
            .crm_leads
            .iter()
            .filter(|l| l.click_id.is_some())
            .count() as u64,
        conversion_imports: obs.log.conversion_imports.len() as u64,
        loss: obs.losses.clone(),
        account_path: w
            .account_paths(sc)
            .map(|paths| AccountPathStats::of(&paths)),
    };
    let mut handoff = 0;
    for p in &w.persons {
        match &p.outcome {
            Outcome::Lead(l) => {
                s.leads += 1;
                s.opportunities += l.opportunity.is_some() as u64;
                if let Some((_, r)) = l.deal {
                    s.customers += 1;
                    s.revenue += r;
                }
                handoff += (!l.contacted) as u64;
            }
            Outcome::ExistingCustomer { .. } => s.existing_customers += 1,
            Outcome::None => {}
        }
    }
    s.loss.counts.insert("handoff_loss", handoff);
    s
}

/// Score every model on one partition's journeys.
fn attribute_all(
    stitcher: &str,
    journeys: &Journeys,
    models: &[AttributorSpec],
    truth: &Truth,
    channels: &ScoredChannels,
) -> Vec<AttributionResult> {
    models
        .par_iter()
        .map(|spec| {
            let model = attribute::build(spec);
            let credit = model.attribute(journeys);
            let error = errors_against(&credit, truth, channels);
            AttributionResult {
                stitcher: stitcher.to_string(),
                model: model.name(),
                credit,
                error,
            }
        })
        .collect()
}

/// What a replicate's run can leave behind for a caller that tells its
/// stories (`explain`): the simulation and each configured stitcher's
/// partition, so nothing is simulated or stitched twice.
pub struct Kept {
    /// The world as simulated.
    pub world: world::World,
    /// What the tracker and CRM recorded (its per-person events moved into `truth`).
    pub observation: observe::Observation,
    /// The truth ledger.
    pub truth: Truth,
    /// Each of the run's stitchers with the partition it produced, in `cfg` order.
    pub partitions: Vec<(StitcherSpec, Identities)>,
}

/// Run one replicate end to end.
pub fn run_replicate(sc: &Scenario, cfg: &RunConfig, replicate: u32) -> ReplicateResult {
    run_one(sc, cfg, replicate, false).0
}

/// [`run_replicate`], also returning the simulation and the partitions it made.
pub fn run_replicate_keeping(
    sc: &Scenario,
    cfg: &RunConfig,
    replicate: u32,
) -> (ReplicateResult, Kept) {
    let (result, kept) = run_one(sc, cfg, replicate, true);
    (result, kept.expect("kept on request"))
}

/// One replicate; the world is dropped as soon as it has been summarised
/// unless `keep` (then it is returned with the observation, truth and partitions).
fn run_one(
    sc: &Scenario,
    cfg: &RunConfig,
    replicate: u32,
    keep: bool,
) -> (ReplicateResult, Option<Kept>) {
    let mut timings = Vec::new();
    let (w, obs, truth) = simulate_timed(sc, replicate, &mut timings);
    let clock = std::time::Instant::now();
    let channels = scored_channels(sc);
    let world = summarize_world(sc, &w, &obs);
    let loss_ablation = if sc.loss_ablation {
        ablation::loss_ablation(sc, &w, &obs.log, &truth)
    } else {
        Vec::new()
    };
    let timelines = if replicate == 0 {
        pictures::timelines(sc, &w, &obs.log, &truth.events)
    } else {
        Vec::new()
    };
    let w = keep.then_some(w);
    let mut partitions = Vec::new();
    let log = &obs.log;

    // One partition at a time — stitch, score, build journeys, run the
    // models, drop it — so memory holds one partition whatever the number of
    // stitchers; the work inside each runs in parallel.
    let score_partition = |name: &str, ids: &Identities| {
        rayon::join(
            || score::score_stitching(log, ids, &truth),
            || {
                let journeys = match sc.journey_unit {
                    JourneyUnit::Visit => Journeys::build(log, ids),
                    JourneyUnit::Session => Journeys::build_sessions(log, ids, &sc.sessions),
                };
                (
                    score::path_lengths(&journeys),
                    attribute_all(name, &journeys, &cfg.models, &truth, &channels),
                )
            },
        )
    };
    let mut stitching = Vec::new();
    let mut attribution = Vec::new();
    let mut path_lengths = Vec::new();
    for spec in &cfg.stitchers {
        let stitcher = stitch::build(spec);
        let ids = stitcher.stitch(log);
        let (metrics, (paths, rows)) = score_partition(&stitcher.name(), &ids);
        stitching.push((stitcher.name(), metrics));
        path_lengths.push((stitcher.name(), paths));
        attribution.extend(rows);
        if keep {
            partitions.push((spec.clone(), ids));
        }
    }
    let oracle = oracle_identities(&truth);
    let (metrics, (paths, rows)) = score_partition(ORACLE, &oracle);
    stitching.push((ORACLE.to_string(), metrics));
    path_lengths.push((ORACLE.to_string(), paths));
    attribution.extend(rows);
    drop(oracle);
    // One Fellegi–Sunter fit, scored at every threshold of the sweep.
    let threshold_sweep = if cfg
        .stitchers
        .iter()
        .any(|s| matches!(s, StitcherSpec::Probabilistic { .. }))
    {
        let linkage = stitch::Linkage::fit(log);
        stitch::stitch_linkage(log, &linkage, &THRESHOLD_SWEEP)
            .iter()
            .zip(THRESHOLD_SWEEP)
            .map(|(ids, threshold)| {
                let c = score::contingency(&truth.events.visit_person, &ids.visit);
                ThresholdPoint {
                    threshold,
                    pairwise: c.pairwise,
                    merges: c.merges,
                    splits: c.splits,
                }
            })
            .collect()
    } else {
        Vec::new()
    };
    let pictures = pictures::Pictures {
        tools: pictures::tools(sc, log, &truth, &attribution),
        flows: pictures::flows(log, &truth),
        timelines,
    };
    timings.push(("stitch_attribute_score", clock.elapsed().as_secs_f64()));
    attribution.push(AttributionResult {
        stitcher: ORACLE.into(),
        model: ORACLE.into(),
        credit: truth.shapley.clone(),
        error: errors_against(&truth.shapley, &truth, &channels),
    });
    let platforms = (!log.platforms.is_empty()).then(|| {
        let claims = attribute::platform_reported(log);
        attribution.push(AttributionResult {
            stitcher: NO_STITCHING.into(),
            model: attribute::PLATFORM_REPORTED.into(),
            credit: claims.credit.clone(),
            error: errors_against(&claims.credit, &truth, &channels),
        });
        platforms_summary(&claims, &truth)
    });
    let result = ReplicateResult {
        replicate,
        world,
        truth: truth.in_order().map(Credit::clone),
        shapley_post_lead_share: truth.shapley_post_lead_share,
        stitching,
        path_lengths,
        threshold_sweep,
        platforms,
        loss_ablation,
        attribution,
        timings,
        pictures,
    };
    let kept = w.map(|world| Kept {
        world,
        observation: obs,
        truth,
        partitions,
    });
    (result, kept)
}

/// The `stitcher` of attribution rows computed without journeys
/// (`platform_reported`).
pub const NO_STITCHING: &str = "none";

/// One platform's claim next to the truth.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct PlatformRow {
    /// Channel id.
    pub channel: String,
    /// Conversions the platform claims.
    pub claimed_conversions: f64,
    /// Revenue it claims (imported deals).
    pub claimed_revenue: f64,
    /// Its shapley credit (the headline truth).
    pub shapley_conversions: f64,
    /// Its incremental credit (leads lost without it).
    pub incremental_conversions: f64,
    /// Its incremental revenue.
    pub incremental_revenue: f64,
    /// Claimed ÷ incremental conversions (null when incremental is 0).
    pub claim_over_incremental: Option<f64>,
}

/// The `platforms` section: every platform's claim and how they overlap.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct PlatformsSummary {
    /// Per paid platform.
    pub platforms: Vec<PlatformRow>,
    /// Σ claimed conversions.
    pub sum_of_claims: f64,
    /// Conversions at least one platform claims.
    pub distinct_claimed: u64,
    /// True leads in the window.
    pub real_conversions: u64,
    /// Σ claims ÷ real conversions (null without conversions).
    pub claims_over_real: Option<f64>,
    /// Σ claims ÷ distinct claimed conversions: how often a conversion is
    /// claimed (null when nothing is claimed).
    pub double_counting_ratio: Option<f64>,
}

fn platforms_summary(claims: &attribute::PlatformClaims, truth: &Truth) -> PlatformsSummary {
    let get =
        |m: &std::collections::BTreeMap<String, f64>, k: &str| m.get(k).copied().unwrap_or(0.0);
    let real = truth.leads.len() as u64;
    let ratio = |a: f64, b: f64| (b != 0.0).then(|| a / b);
    PlatformsSummary {
        platforms: claims
            .claims
            .iter()
            .map(|c| {
                let incremental = get(&truth.incremental.conversions, &c.channel);
                PlatformRow {
                    channel: c.channel.clone(),
                    claimed_conversions: c.conversions,
                    claimed_revenue: c.revenue,
                    shapley_conversions: get(&truth.shapley.conversions, &c.channel),
                    incremental_conversions: incremental,
                    incremental_revenue: get(&truth.incremental.revenue, &c.channel),
                    claim_over_incremental: ratio(c.conversions, incremental),
                }
            })
            .collect(),
        sum_of_claims: claims.sum_of_claims,
        distinct_claimed: claims.distinct_claimed,
        real_conversions: real,
        claims_over_real: ratio(claims.sum_of_claims, real as f64),
        double_counting_ratio: ratio(claims.sum_of_claims, claims.distinct_claimed as f64),
    }
}

/// Thresholds at which `probabilistic` is scored in every run that includes it.
pub const THRESHOLD_SWEEP: [f64; 11] = [-4.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0];

/// The `probabilistic` stitcher scored at one match-weight threshold.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct ThresholdPoint {
    /// Match-weight threshold (log2 units).
    pub threshold: f64,
    /// Pairwise scores over visits.
    pub pairwise: score::Pairwise,
    /// Clusters holding more than one person.
    pub merges: u64,
    /// Extra pieces of split persons.
    pub splits: u64,
}

/// How much of a model's credit error is the stitcher's fault: the headline
/// error (`tvd` of lead shares against shapley truth) of a model on
/// a stitcher's journeys and on oracle journeys.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Downstream {
    /// Model id.
    pub model: String,
    /// Error on this stitcher's journeys.
    pub tvd: f64,
    /// Error of the same model on oracle journeys.
    pub oracle_tvd: f64,
    /// `tvd − oracle_tvd`: the part of the error the stitching adds.
    pub stitching_part: f64,
}

/// Per stitcher (oracle excluded): `last_touch`, `linear` and the best model
/// — the one with the least error on oracle journeys — each where it was run.
pub fn downstream(r: &ReplicateResult) -> Vec<(String, Vec<Downstream>)> {
    let tvd = |stitcher: &str, model: &str| {
        r.attribution
            .iter()
            .find(|a| a.stitcher == stitcher && a.model == model)
            .map(|a| a.error[SHAPLEY].conversions.tvd)
    };
    let best = r
        .attribution
        .iter()
        .filter(|a| a.stitcher == ORACLE && a.model != ORACLE)
        .min_by(|a, b| {
            a.error[SHAPLEY]
                .conversions
                .tvd
                .total_cmp(&b.error[SHAPLEY].conversions.tvd)
                .then(a.model.cmp(&b.model))
        })
        .map(|a| a.model.clone());
    let mut models: Vec<String> = ["last_touch", "linear"].map(String::from).to_vec();
    if let Some(b) = best {
        if !models.contains(&b) {
            models.push(b);
        }
    }
    r.stitching
        .iter()
        .filter(|(name, _)| name != ORACLE)
        .map(|(name, _)| {
            let rows = models
                .iter()
                .filter_map(|m| {
                    let (t, o) = (tvd(name, m)?, tvd(ORACLE, m)?);
                    Some(Downstream {
                        model: m.clone(),
                        tvd: t,
                        oracle_tvd: o,
                        stitching_part: t - o,
                    })
                })
                .collect();
            (name.clone(), rows)
        })
        .collect()
}

/// Run every replicate (in parallel, results in replicate order).
pub fn run(sc: &Scenario, cfg: &RunConfig) -> Vec<ReplicateResult> {
    run_with_progress(sc, cfg, &|| {})
}

/// [`run`], calling `progress` once per finished replicate (from any thread).
pub fn run_with_progress(
    sc: &Scenario,
    cfg: &RunConfig,
    progress: &(dyn Fn() + Sync),
) -> Vec<ReplicateResult> {
    (0..cfg.replicates)
        .into_par_iter()
        .map(|r| {
            let result = run_replicate(sc, cfg, r);
            progress();
            result
        })
        .collect()
}
