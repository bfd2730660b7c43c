//! The closed loop over time (`docs/model.md`, "The world"): each period a new
//! cohort of persons meets that period's spends; the period's log is
//! stitched and credited by one model, and the fixed total budget moves
//! toward equal marginal ROI *as that model sees it* (a Hill curve fitted to
//! the model's own spend-vs-credited-revenue history; its average ROI until
//! three periods exist), by a bounded step. The `oracle` uses the true
//! marginal ROI (re-runs at ±10 % spend on the same draws). Every model's loop
//! sees the same cohorts (the cohort of period p of replicate r is the world
//! `r · PERIOD_STRIDE + p`), so differences in profit are the cost of
//! misattribution.
//! Must never: let a model see the truth (only the oracle does, by name).

use crate::attribute::{self, Journeys};
use crate::base::stats::Stats;
use crate::experiment;
use crate::experiment::budget;
use crate::scenario::Scenario;
use crate::spec::{AttributorSpec, StitcherSpec};
use crate::stitch;
use rayon::prelude::*;
use serde::Serialize;

/// Cohort indices of one replicate are `replicate · PERIOD_STRIDE + period`.
pub const PERIOD_STRIDE: u32 = 10_000;

/// The model steering a loop.
#[derive(Clone, Debug, PartialEq)]
pub enum Steering {
    /// An attribution model's credit.
    Model(AttributorSpec),
    /// The true marginal ROI.
    Oracle,
}

impl Steering {
    /// Id in reports (`oracle` for the truth).
    pub fn id(&self) -> String {
        match self {
            Steering::Model(spec) => spec.id(),
            Steering::Oracle => experiment::ORACLE.to_string(),
        }
    }
}

/// One period of one model's loop.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Period {
    /// Period index (0 = the scenario's spends).
    pub period: u32,
    /// Spends per channel (scenario order) in this period.
    pub spends: Vec<f64>,
    /// True leads of the cohort.
    pub leads: f64,
    /// True revenue.
    pub revenue: f64,
    /// True profit (revenue × margin − spend).
    pub profit: f64,
    /// The ROI per paid channel the steering model measured (credited
    /// revenue, or true marginal revenue for the oracle, per unit spend).
    pub measured_roi: Vec<f64>,
}

/// One model's loop in one replicate.
#[derive(Clone, Debug, PartialEq)]
pub struct LoopRun {
    /// Replicate index.
    pub replicate: u32,
    /// Steering model id.
    pub model: String,
    /// The periods in order.
    pub periods: Vec<Period>,
}

/// The scenario with `spends` as its channels' spends.
fn with_spends(sc: &Scenario, spends: &[f64]) -> Scenario {
    let mut s = sc.clone();
    for (ch, &x) in s.channels.iter_mut().zip(spends) {
        if ch.spend.is_some() {
            ch.spend = Some(x);
        }
    }
    s
}

/// a and K of revenue = a·s / (K + s) fitted by least squares to a
/// channel's (spend, revenue) history: K on a log grid around the spends, a
/// in closed form for each K.
pub fn fit_hill(history: &[(f64, f64)]) -> Option<(f64, f64)> {
    let mean_s = history.iter().map(|h| h.0).sum::<f64>() / history.len().max(1) as f64;
    if history.len() < 3 || mean_s <= 0.0 {
        return None;
    }
    let mut best: Option<(f64, f64, f64)> = None;
    for g in 0..41 {
        let k = mean_s * 2f64.powf(-4.0 + 0.25 * g as f64);
        let (sxy, sxx) = history.iter().fold((0.0, 0.0), |(sxy, sxx), &(s, y)| {
            let x = s / (k + s);
            (sxy + x * y, sxx + x * x)
        });
        if sxx <= 0.0 {
            continue;
        }
        let a = (sxy / sxx).max(0.0);
        let sse: f64 = history
            .iter()
            .map(|&(s, y)| (y - a * s / (k + s)).powi(2))
            .sum();
        if best.is_none_or(|b| sse < b.2) {
            best = Some((a, k, sse));
        }
    }
    best.map(|(a, k, _)| (a, k))
}

/// Next period's spends: each paid channel moves by at most `step_limit` of
/// its spend toward equal marginal ROI (up where its marginal ROI is above
/// the spend-weighted mean, down where below), then all are rescaled so the
/// total stays the same. Spends stay ≥ 0.
pub fn reallocate(spends: &[f64], marginal: &[Option<f64>], step_limit: f64) -> Vec<f64> {
    let total: f64 = spends.iter().sum();
    let paid: Vec<usize> = (0..spends.len())
        .filter(|&i| marginal[i].is_some() && spends[i] > 0.0)
        .collect();
    let weight: f64 = paid.iter().map(|&i| spends[i]).sum();
    if paid.is_empty() || weight <= 0.0 {
        return spends.to_vec();
    }
    let mean = paid
        .iter()
        .map(|&i| marginal[i].unwrap_or(0.0) * spends[i])
        .sum::<f64>()
        / weight;
    let mut next = spends.to_vec();
    for &i in &paid {
        let m = marginal[i].unwrap_or(0.0);
        let rel = if mean.abs() > 1e-12 {
            (m - mean) / mean.abs()
        } else {
            0.0
        };
        next[i] = spends[i] * (1.0 + rel.clamp(-step_limit, step_limit));
    }
    // Keep the paid total; the rescale keeps every step within the limit
    // only approximately, so clamp again around the old spends after it.
    let new_total: f64 = paid.iter().map(|&i| next[i]).sum();
    if new_total > 0.0 {
        for &i in &paid {
            next[i] *= weight / new_total;
        }
    }
    for &i in &paid {
        next[i] = next[i]
            .clamp(
                spends[i] * (1.0 - step_limit),
                spends[i] * (1.0 + step_limit),
            )
            .max(0.0);
    }
    // Whatever the clamp took or gave goes to (or comes from) the channel
    // with the most room, pro rata: the total is exact.
    let diff = total - next.iter().sum::<f64>();
    if diff.abs() > 0.0 {
        let room: Vec<f64> = paid
            .iter()
            .map(|&i| {
                if diff > 0.0 {
                    spends[i] * (1.0 + step_limit) - next[i]
                } else {
                    next[i] - spends[i] * (1.0 - step_limit)
                }
            })
            .collect();
        let total_room: f64 = room.iter().sum();
        if total_room > 0.0 {
            for (&i, r) in paid.iter().zip(&room) {
                next[i] += diff * r / total_room;
            }
        }
    }
    next
}

/// One model's loop over `periods` cohorts of replicate `r`.
fn run_one(
    sc: &Scenario,
    r: u32,
    steering: &Steering,
    stitcher: &StitcherSpec,
    periods: u32,
    step_limit: f64,
) -> LoopRun {
    let n = sc.channels.len();
    let paid: Vec<bool> = sc.channels.iter().map(|c| c.paid()).collect();
    let mut spends = crate::world::scenario_spends(sc);
    let mut history: Vec<Vec<(f64, f64)>> = vec![Vec::new(); n];
    let mut out = Vec::with_capacity(periods as usize);
    let scale = sc.persons as f64 / 1000.0;
    for p in 0..periods {
        let cohort = r * PERIOD_STRIDE + p;
        let sc_p = with_spends(sc, &spends);
        let (w, obs, truth) = experiment::simulate(&sc_p, cohort);
        let outcome = budget::outcome(&sc_p, &w, &spends);
        drop(w);
        // What the steering model measures: credited revenue per channel
        // (period totals), or the true marginal revenue for the oracle.
        let (credited, marginal_now): (Vec<f64>, Vec<Option<f64>>) = match steering {
            Steering::Model(spec) => {
                let ids = stitch::build(stitcher).stitch(&obs.log);
                let journeys = Journeys::build(&obs.log, &ids);
                let credit = attribute::build(spec).attribute(&journeys);
                let credited = sc
                    .channels
                    .iter()
                    .map(|c| credit.revenue.get(&c.id).copied().unwrap_or(0.0))
                    .collect();
                (credited, vec![None; n])
            }
            Steering::Oracle => {
                let mut marginal = vec![None; n];
                for i in (0..n).filter(|&i| paid[i] && spends[i] > 0.0) {
                    let at = |m: f64| {
                        let mut s = spends.clone();
                        s[i] = spends[i] * m;
                        let w = crate::world::generate_with_spends(&sc_p, cohort, &s);
                        w.leads()
                            .map(|(_, l)| l.deal.map_or(0.0, |d| d.1))
                            .sum::<f64>()
                    };
                    let d_spend = 0.2 * spends[i] * scale;
                    marginal[i] = Some((at(1.1) - at(0.9)) / d_spend);
                }
                let credited = sc
                    .channels
                    .iter()
                    .map(|c| truth.incremental.revenue.get(&c.id).copied().unwrap_or(0.0))
                    .collect();
                (credited, marginal)
            }
        };
        let measured_roi: Vec<f64> = (0..n)
            .map(|i| {
                if paid[i] && spends[i] > 0.0 {
                    marginal_now[i].unwrap_or(credited[i] / (spends[i] * scale))
                } else {
                    0.0
                }
            })
            .collect();
        for i in (0..n).filter(|&i| paid[i]) {
            history[i].push((spends[i] * scale, credited[i]));
        }
        out.push(Period {
            period: p,
            spends: spends.clone(),
            leads: outcome.leads,
            revenue: outcome.revenue,
            profit: outcome.profit,
            measured_roi: measured_roi.clone(),
        });
        // Marginal ROI as the steering model sees it.
        let marginal: Vec<Option<f64>> = (0..n)
            .map(|i| {
                if !paid[i] {
                    return None;
                }
                if let Some(m) = marginal_now[i] {
                    return Some(m);
                }
                match fit_hill(&history[i]) {
                    Some((a, k)) => {
                        let s = spends[i] * scale;
                        Some(a * k / ((k + s) * (k + s)))
                    }
                    None => Some(measured_roi[i]),
                }
            })
            .collect();
        spends = reallocate(&spends, &marginal, step_limit);
    }
    LoopRun {
        replicate: r,
        model: steering.id(),
        periods: out,
    }
}

/// Every (replicate, model) loop, in parallel, in (replicate, model) order.
pub fn run(
    sc: &Scenario,
    models: &[Steering],
    stitcher: &StitcherSpec,
    periods: u32,
    step_limit: f64,
    replicates: u32,
) -> Vec<LoopRun> {
    run_with_progress(
        sc,
        models,
        stitcher,
        periods,
        step_limit,
        replicates,
        &|| {},
    )
}

/// [`run`], calling `done` after each (replicate, model) loop.
pub fn run_with_progress(
    sc: &Scenario,
    models: &[Steering],
    stitcher: &StitcherSpec,
    periods: u32,
    step_limit: f64,
    replicates: u32,
    done: &(dyn Fn() + Sync),
) -> Vec<LoopRun> {
    let jobs: Vec<(u32, &Steering)> = (0..replicates)
        .flat_map(|r| models.iter().map(move |m| (r, m)))
        .collect();
    jobs.par_iter()
        .map(|&(r, m)| {
            let run = run_one(sc, r, m, stitcher, periods, step_limit);
            done();
            run
        })
        .collect()
}

/// Share of the paid budget spent differently from `target`:
/// Σ |spend − target| ÷ (2 · Σ spend), in 0..=1.
pub fn distance(spends: &[f64], target: &[f64]) -> f64 {
    let total: f64 = spends.iter().sum();
    if total <= 0.0 {
        return 0.0;
    }
    spends
        .iter()
        .zip(target)
        .map(|(a, b)| (a - b).abs())
        .sum::<f64>()
        / (2.0 * total)
}

/// One steering model's loop summarised over replicates (report.json
/// `loop.summary`): what following its credit earned and cost.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LoopSummary {
    /// Steering model id.
    pub model: String,
    /// Share of the last period's budget spent differently from the optimal split.
    pub final_distance_to_optimal: Stats,
    /// True profit summed over the periods.
    pub cumulative_profit: Stats,
    /// The oracle's cumulative profit minus this model's (same replicate).
    pub cost_of_misattribution: Stats,
    /// Per period: the oracle's profit minus this model's.
    pub regret: Vec<Stats>,
}

/// One loop run with each period's distance to the optimal split
/// (report.json `loop.runs`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LoopRunReport {
    /// Replicate index.
    pub replicate: u32,
    /// Steering model id.
    pub model: String,
    /// The periods in order.
    pub periods: Vec<Period>,
    /// Per period: [`distance`] of its spends to the optimal split.
    pub distance_to_optimal: Vec<f64>,
}

/// A whole loop study: every run, the optimal split and the summaries.
#[derive(Clone, Debug, PartialEq)]
pub struct LoopStudy {
    /// Steering ids in order (the oracle last).
    pub models: Vec<String>,
    /// The split the true response curves call best (replicate 0 of the
    /// scenario's own spends), spends in scenario order.
    pub optimal_split: Vec<f64>,
    /// Every (replicate, model) run, in (replicate, model) order.
    pub runs: Vec<LoopRun>,
    /// Per steering model, in `models` order.
    pub summary: Vec<LoopSummary>,
}

/// Total true profit of a run over its periods.
fn cumulative(run: &LoopRun) -> f64 {
    run.periods.iter().map(|p| p.profit).sum::<f64>()
}

/// Every loop of `models` (see [`run_with_progress`]), the optimal split
/// and each model's summary against the oracle; `done` is called after
/// each (replicate, model) loop and once after the optimal split.
pub fn study(
    sc: &Scenario,
    models: &[Steering],
    stitcher: &StitcherSpec,
    periods: u32,
    step_limit: f64,
    done: &(dyn Fn() + Sync),
) -> LoopStudy {
    let runs = run_with_progress(
        sc,
        models,
        stitcher,
        periods,
        step_limit,
        sc.replicates,
        done,
    );
    let optimal_split = budget::optimal_split(sc, &budget::curves(sc, 1));
    done();
    let models: Vec<String> = models.iter().map(Steering::id).collect();
    let summary = models
        .iter()
        .map(|m| summarise(&runs, m, sc.replicates, periods, &optimal_split))
        .collect();
    LoopStudy {
        models,
        optimal_split,
        runs,
        summary,
    }
}

/// One model's [`LoopSummary`] over `replicates` against the oracle's runs.
pub fn summarise(
    runs: &[LoopRun],
    model: &str,
    replicates: u32,
    periods: u32,
    optimal: &[f64],
) -> LoopSummary {
    let of = |r: u32, m: &str| runs.iter().find(|x| x.replicate == r && x.model == m);
    let oracle = experiment::ORACLE;
    let reps: Vec<&LoopRun> = (0..replicates).filter_map(|r| of(r, model)).collect();
    let profit: Vec<f64> = reps.iter().map(|x| cumulative(x)).collect();
    let cost: Vec<f64> = reps
        .iter()
        .filter_map(|x| of(x.replicate, oracle).map(|o| cumulative(o) - cumulative(x)))
        .collect();
    let regret: Vec<Stats> = (0..periods as usize)
        .map(|p| {
            Stats::of(
                &reps
                    .iter()
                    .filter_map(|x| {
                        of(x.replicate, oracle).map(|o| o.periods[p].profit - x.periods[p].profit)
                    })
                    .collect::<Vec<f64>>(),
            )
        })
        .collect();
    let last_distance: Vec<f64> = reps
        .iter()
        .filter_map(|x| x.periods.last())
        .map(|p| distance(&p.spends, optimal))
        .collect();
    LoopSummary {
        model: model.to_string(),
        final_distance_to_optimal: Stats::of(&last_distance),
        cumulative_profit: Stats::of(&profit),
        cost_of_misattribution: Stats::of(&cost),
        regret,
    }
}

impl LoopStudy {
    /// The runs as reported: each with its distance to the optimal split per period.
    pub fn run_reports(&self) -> Vec<LoopRunReport> {
        self.runs
            .iter()
            .map(|x| LoopRunReport {
                replicate: x.replicate,
                model: x.model.clone(),
                periods: x.periods.clone(),
                distance_to_optimal: x
                    .periods
                    .iter()
                    .map(|p| distance(&p.spends, &self.optimal_split))
                    .collect(),
            })
            .collect()
    }

    /// Per model and period, means over replicates of the true outcomes and
    /// spends, and the regret (the oracle's mean profit minus the model's).
    pub fn period_means(&self) -> Vec<PeriodMeans> {
        let periods = self.runs.first().map_or(0, |r| r.periods.len());
        let mut out = Vec::new();
        for m in &self.models {
            for p in 0..periods {
                let of = |model: &str| -> Vec<&Period> {
                    self.runs
                        .iter()
                        .filter(|r| r.model == model)
                        .map(|r| &r.periods[p])
                        .collect()
                };
                let (mine, oracle) = (of(m), of(experiment::ORACLE));
                let n = mine.len().max(1) as f64;
                let mean = |f: &dyn Fn(&Period) -> f64, v: &[&Period]| {
                    v.iter().map(|x| f(x)).sum::<f64>() / v.len().max(1) as f64
                };
                let channels = mine.first().map_or(0, |x| x.spends.len());
                out.push(PeriodMeans {
                    model: m.clone(),
                    period: p as u32,
                    leads: mine.iter().map(|x| x.leads).sum::<f64>() / n,
                    revenue: mine.iter().map(|x| x.revenue).sum::<f64>() / n,
                    profit: mine.iter().map(|x| x.profit).sum::<f64>() / n,
                    regret: mean(&|x| x.profit, &oracle) - mean(&|x| x.profit, &mine),
                    spends: (0..channels)
                        .map(|i| mine.iter().map(|x| x.spends[i]).sum::<f64>() / n)
                        .collect(),
                });
            }
        }
        out
    }
}

/// One model's period, means over replicates (a row of loop.csv).
#[derive(Clone, Debug, PartialEq)]
pub struct PeriodMeans {
    /// Steering model id.
    pub model: String,
    /// Period index.
    pub period: u32,
    /// Mean true leads.
    pub leads: f64,
    /// Mean true revenue.
    pub revenue: f64,
    /// Mean true profit.
    pub profit: f64,
    /// The oracle's mean profit minus this model's.
    pub regret: f64,
    /// Mean spend per channel (scenario order).
    pub spends: Vec<f64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hill_curve_is_recovered_from_its_own_points() {
        let (a, k) = (5000.0, 800.0);
        let history: Vec<(f64, f64)> = [400.0, 800.0, 1200.0, 1600.0]
            .iter()
            .map(|&s| (s, a * s / (k + s)))
            .collect();
        let (fa, fk) = fit_hill(&history).unwrap();
        // K on a 2^(1/4) grid: the fit is the grid point nearest the truth.
        assert!((fk / k).log2().abs() <= 0.125 + 1e-9, "K {fk}");
        assert!((fa / a - 1.0).abs() < 0.1, "a {fa}");
        assert!(fit_hill(&history[..2]).is_none(), "three periods needed");
    }

    /// A run whose periods earn `profits`, spending `spends` in each.
    fn toy_run(replicate: u32, model: &str, profits: &[f64], spends: [f64; 2]) -> LoopRun {
        let periods = profits
            .iter()
            .enumerate()
            .map(|(p, &profit)| Period {
                period: p as u32,
                spends: spends.to_vec(),
                leads: 0.0,
                revenue: 0.0,
                profit,
                measured_roi: Vec::new(),
            })
            .collect();
        LoopRun {
            replicate,
            model: model.to_string(),
            periods,
        }
    }

    #[test]
    fn regret_and_cost_of_misattribution_are_the_oracle_minus_the_model_per_replicate() {
        let oracle = experiment::ORACLE;
        let runs = [
            toy_run(0, "m", &[7.0, 15.0], [50.0, 50.0]),
            toy_run(0, oracle, &[10.0, 20.0], [100.0, 0.0]),
            toy_run(1, "m", &[9.0, 11.0], [100.0, 0.0]),
            toy_run(1, oracle, &[10.0, 20.0], [100.0, 0.0]),
        ];
        let optimal = [100.0, 0.0];
        let s = summarise(&runs, "m", 2, 2, &optimal);
        // Per period: oracle − model, replicate by replicate.
        assert_eq!(s.regret.len(), 2);
        assert_eq!((s.regret[0].mean, s.regret[0].n), (2.0, 2)); // (3 + 1) / 2
        assert_eq!(s.regret[1].mean, 7.0); // (5 + 9) / 2
        // Cumulative: 30 − 22 and 30 − 20.
        assert_eq!(s.cost_of_misattribution.mean, 9.0);
        assert_eq!(s.cumulative_profit.mean, 21.0);
        // Replicate 0 spends half its budget off the optimum, replicate 1 none.
        assert_eq!(s.final_distance_to_optimal.mean, 0.25);
        let o = summarise(&runs, oracle, 2, 2, &optimal);
        assert_eq!(o.cost_of_misattribution.mean, 0.0);
        assert_eq!(o.final_distance_to_optimal.mean, 0.0);
    }

    #[test]
    fn distance_is_the_share_of_budget_moved() {
        assert_eq!(distance(&[100.0, 100.0], &[100.0, 100.0]), 0.0);
        assert_eq!(distance(&[100.0, 100.0], &[150.0, 50.0]), 0.25);
        assert_eq!(distance(&[200.0, 0.0], &[0.0, 200.0]), 1.0);
    }

    #[test]
    fn reallocation_keeps_the_total_the_limit_and_the_sign() {
        let spends = [100.0, 300.0, 600.0, 50.0];
        let marginal = [Some(3.0), Some(1.0), Some(0.2), None];
        let next = reallocate(&spends, &marginal, 0.2);
        let total = |s: &[f64]| s.iter().sum::<f64>();
        assert!((total(&next) - total(&spends)).abs() < 1e-9);
        for i in 0..3 {
            assert!(next[i] >= 0.0);
            assert!(
                (next[i] - spends[i]).abs() <= 0.2 * spends[i] + 1e-9,
                "{i}: {next:?}"
            );
        }
        assert_eq!(next[3], 50.0, "an unpaid channel keeps its value");
        assert!(next[0] > spends[0] && next[2] < spends[2]);
        // Equal marginal ROI everywhere: nothing moves.
        let flat = reallocate(&spends, &[Some(1.0), Some(1.0), Some(1.0), None], 0.2);
        assert_eq!(flat, spends.to_vec());
    }
}
