//! `additive_hazard`: the survival model of Zhang, Wei & Ren (2014),
//! "Multi-touch attribution in online advertising with survival theory",
//! ICDM 2014, pp. 687–696: additive hazard with exponentially decaying
//! touch effects, fit by maximum likelihood; a converting user's credit is
//! each touch's share of the hazard at the conversion. The paper's (and the
//! `mta` package's) touch effect is β_k·ω_k·e^{−ω_k Δt} with cumulative
//! β_k·(1 − e^{−ω_k Δt}); ours is the same family with β_c = β_k·ω_k.
//! (Section and equation numbers not cited: checked against the abstract and
//! the `mta` package's implementation, not the full text.) docs/model.md §4.4: close to, not exactly, the simulation's clock
//! family (whose hazard is p·f/(1 − p·F)).
//!
//! **Model.** Time in days. A journey's hazard at time t is
//! λ(t) = β₀ + Σ_j β_{c_j}·e^{−ω_{c_j}(t − t_j)} over its touches j with
//! 0 < t − t_j ≤ L (L = `lookback_days`: a touch acts for L days, so the
//! touches that can explain a lead are exactly those of the look-back
//! window; a touch at the lead instant — the form-fill visit — cannot have
//! caused it). β₀ (baseline, organic demand) is our addition to the paper's
//! model; every touch label (`direct`, `unassigned` too) has its own β, ω.
//! A journey is at risk from its first touch s. Λ(T) = β₀·(T − s) +
//! Σ_j (β/ω)·(1 − e^{−ω·min(T − t_j, L)}) in closed form.
//!
//! **Likelihood.** A converting journey (weight = its conversions) has its
//! event at the lead T: log λ(T) − Λ(T). A non-converting one (weight = its
//! nulls) is censored at C = min(last touch + L, end of observation), the end
//! of observation being the latest touch or lead time over all journeys:
//! after last touch + L nothing it did can act any more, and after the end of
//! observation nothing was seen. A converting journey with no touch in the
//! window still enters the fit (its event is the baseline's); one with no
//! touch at all does not (no time at risk is known). With more than 200,000
//! journeys with touches, the fit uses a deterministic uniform subsample of
//! 200,000 of them (journey index hashed with a fixed key), which leaves the
//! likelihood's maximiser unbiased.
//!
//! **Fit.** Parameters are log β₀, log β_c, log ω_c (positive by
//! construction), boxed to log β ∈ [−30, 10], log ω ∈ [−10, 10] per day.
//! Projected L-BFGS (memory 8) with Armijo backtracking on the mean negative
//! log-likelihood; at most 300 iterations; stops when the objective falls by
//! less than 1e-12 relative for 3 iterations in a row or the projected
//! gradient's largest entry is below 1e-9. Start: β₀ = β_c = half the pooled
//! event rate, ω_c = 1/7 per day. Sums run over fixed chunks in journey order
//! and parameters are ordered by the label's first appearance, so the fit is
//! bit-identical for any thread count and under any renaming of labels.
//!
//! **Credit.** A converting journey's conversion and revenue go to its
//! window's touches in proportion to β_c·e^{−ω_c(T − t_j)} (touch j's hazard
//! at the lead, the "hazard contribution / total hazard" reading). The
//! baseline's share β₀/λ(T) has no label (`baseline` is truth-only): it is
//! spread over the touches by the same proportions, i.e. the credit is the
//! hazard share *among touches* (as in the paper's p_k^u); so one channel
//! gets 100 % and `unknown` stays what it is for every model, the leads with
//! no touch in the window. A journey whose touches all sit at the lead
//! instant (or whose labels have no fitted effect), and a journey with
//! revenue but no lead, split evenly over the window's touches. A label seen
//! only on non-converting journeys gets a fitted β (near 0) but no credit:
//! only converting journeys' touches are credited.
//! Must never: name the world, the observation layer or the truth ledger.

use super::{
    Attributor, DEFAULT_LOOKBACK_DAYS, Journey, Journeys, LOOKBACK, credit_by_journey_rule,
};
use crate::base::credit::Credit;
use crate::log::LabelId;
use crate::strategy::{Needs, Strategy, StrategyDescriptor};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Additive hazard model (Zhang, Wei & Ren 2014) with a baseline.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default = "crate::strategy::default")]
pub struct AdditiveHazard {
    /// Touches older than this before the lead are ignored (and a touch acts
    /// for this long).
    pub lookback_days: f64,
}

/// Fitted parameters, per day.
#[derive(Clone, Debug, PartialEq)]
pub struct HazardFit {
    /// Baseline hazard β₀.
    pub baseline: f64,
    /// Hazard a touch of each label adds right after it (labels on no fitted journey are absent).
    pub beta: BTreeMap<String, f64>,
    /// Decay rate of each label's effect.
    pub omega: BTreeMap<String, f64>,
    /// L-BFGS iterations run.
    pub iterations: u32,
    /// Whether a stopping rule (not the iteration cap) ended the fit.
    pub converged: bool,
    /// Journeys the likelihood was computed on.
    pub journeys_fitted: usize,
}

const MS_PER_DAY: f64 = 86_400_000.0;
/// Most journeys the likelihood is computed on.
pub const FIT_MAX_JOURNEYS: usize = 200_000;
/// Key of the subsample hash.
const SUBSAMPLE_KEY: u64 = 0x2014_1CD3;
const LOG_BETA: (f64, f64) = (-30.0, 10.0);
const LOG_OMEGA: (f64, f64) = (-10.0, 10.0);
const MAX_ITER: u32 = 300;
const MEMORY: usize = 8;
const REL_TOL: f64 = 1e-12;
const GRAD_TOL: f64 = 1e-9;
/// Terms per chunk of a likelihood evaluation (fixed: results never depend
/// on the thread count).
const CHUNK: usize = 4096;

/// One touch as a likelihood term sees it.
#[derive(Clone, Copy)]
struct KernelTouch {
    /// Parameter slot of its label.
    slot: u32,
    /// min(T − t_j, L) in days: how long it has acted.
    acted: f64,
    /// Whether it acts at T (0 < T − t_j ≤ L): it then adds to λ(T), and
    /// `acted` = T − t_j.
    live: bool,
}

/// One weighted likelihood term: an event at T or a censoring at T.
struct Term {
    weight: f64,
    event: bool,
    /// T − s, days at risk.
    exposure: f64,
    touches: std::ops::Range<u32>,
}

struct FitData {
    terms: Vec<Term>,
    touches: Vec<KernelTouch>,
    /// Label of each parameter slot.
    slot_label: Vec<LabelId>,
    journeys: usize,
}

fn lookback_ms(lookback_days: f64) -> i64 {
    (lookback_days * MS_PER_DAY) as i64
}

impl FitData {
    fn build(journeys: &Journeys, lookback_days: f64) -> FitData {
        let l_ms = lookback_ms(lookback_days);
        let end_ms = journeys
            .journeys
            .iter()
            .filter_map(|j| {
                let last = journeys.touches_of(j).last().map(|t| t.time_ms);
                match (last, j.lead_ms) {
                    (Some(a), Some(b)) => Some(a.max(b)),
                    (a, b) => a.or(b),
                }
            })
            .max()
            .unwrap_or(0);
        let eligible = journeys.journeys.iter().filter(|j| j.end > j.start).count();
        let threshold = if eligible > FIT_MAX_JOURNEYS {
            ((FIT_MAX_JOURNEYS as f64 / eligible as f64) * u64::MAX as f64) as u64
        } else {
            u64::MAX
        };
        let mut slot_of: Vec<u32> = vec![u32::MAX; journeys.labels.len()];
        let mut data = FitData {
            terms: Vec::new(),
            touches: Vec::new(),
            slot_label: Vec::new(),
            journeys: 0,
        };
        for (i, j) in journeys.journeys.iter().enumerate() {
            let all = journeys.touches_of(j);
            if all.is_empty()
                || (threshold != u64::MAX
                    && crate::base::rng::mix64(SUBSAMPLE_KEY ^ i as u64) >= threshold)
            {
                continue;
            }
            data.journeys += 1;
            let start = all[0].time_ms;
            let mut add = |data: &mut FitData, t_ms: i64, weight: f64, event: bool| {
                let from = data.touches.len() as u32;
                for t in all.iter().take_while(|t| t.time_ms <= t_ms) {
                    let slot = &mut slot_of[t.label as usize];
                    if *slot == u32::MAX {
                        *slot = data.slot_label.len() as u32;
                        data.slot_label.push(t.label);
                    }
                    let age = t_ms - t.time_ms;
                    let live = age > 0 && age <= l_ms;
                    data.touches.push(KernelTouch {
                        slot: *slot,
                        acted: age.min(l_ms) as f64 / MS_PER_DAY,
                        live,
                    });
                }
                data.terms.push(Term {
                    weight,
                    event,
                    exposure: (t_ms - start).max(0) as f64 / MS_PER_DAY,
                    touches: from..data.touches.len() as u32,
                });
            };
            if let Some(lead) = j.lead_ms
                && j.conversions > 0.0
            {
                add(&mut data, lead, j.conversions, true);
            }
            if j.nulls > 0.0 {
                let last = all[all.len() - 1].time_ms;
                let censor = last.saturating_add(l_ms).min(end_ms).max(last);
                add(&mut data, censor, j.nulls, false);
            }
        }
        data
    }

    fn slots(&self) -> usize {
        self.slot_label.len()
    }

    /// Mean negative log-likelihood and its gradient in θ = (log β₀,
    /// log β per slot, log ω per slot).
    fn evaluate(&self, theta: &[f64]) -> (f64, Vec<f64>) {
        let m = self.slots();
        let beta0 = theta[0].exp();
        let beta: Vec<f64> = theta[1..=m].iter().map(|x| x.exp()).collect();
        let omega: Vec<f64> = theta[m + 1..].iter().map(|x| x.exp()).collect();
        let parts: Vec<(f64, f64, Vec<f64>)> = self
            .terms
            .par_chunks(CHUNK)
            .map(|terms| {
                let mut f = 0.0;
                let mut w_total = 0.0;
                let mut g = vec![0.0f64; 1 + 2 * m];
                let mut dl_beta = vec![0.0f64; m];
                let mut dl_omega = vec![0.0f64; m];
                let mut used: Vec<u32> = Vec::new();
                for term in terms {
                    let w = term.weight;
                    w_total += w;
                    // Λ and its gradient.
                    f += w * beta0 * term.exposure;
                    g[0] += w * beta0 * term.exposure;
                    let mut lambda = beta0;
                    used.clear();
                    for kt in &self.touches[term.touches.start as usize..term.touches.end as usize]
                    {
                        if kt.acted <= 0.0 {
                            continue;
                        }
                        let s = kt.slot as usize;
                        let (b, o) = (beta[s], omega[s]);
                        let em = (-o * kt.acted).exp_m1(); // e − 1
                        let decay = 1.0 + em;
                        let cum = -em * b / o;
                        f += w * cum;
                        g[1 + s] += w * cum;
                        g[1 + m + s] += w * (-cum + b * kt.acted * decay);
                        if term.event && kt.live {
                            let h = b * decay;
                            lambda += h;
                            if dl_beta[s] == 0.0 && dl_omega[s] == 0.0 {
                                used.push(s as u32);
                            }
                            dl_beta[s] += h;
                            dl_omega[s] -= h * o * kt.acted;
                        }
                    }
                    if term.event {
                        f -= w * lambda.ln();
                        g[0] -= w * beta0 / lambda;
                        for &s in &used {
                            let s = s as usize;
                            g[1 + s] -= w * dl_beta[s] / lambda;
                            g[1 + m + s] -= w * dl_omega[s] / lambda;
                            dl_beta[s] = 0.0;
                            dl_omega[s] = 0.0;
                        }
                    }
                }
                (f, w_total, g)
            })
            .collect();
        let mut f = 0.0;
        let mut w_total = 0.0;
        let mut g = vec![0.0f64; 1 + 2 * m];
        for (pf, pw, pg) in &parts {
            f += pf;
            w_total += pw;
            g.iter_mut().zip(pg).for_each(|(a, b)| *a += b);
        }
        let scale = 1.0 / w_total.max(f64::MIN_POSITIVE);
        g.iter_mut().for_each(|x| *x *= scale);
        (f * scale, g)
    }

    fn bounds(&self, i: usize) -> (f64, f64) {
        if i <= self.slots() {
            LOG_BETA
        } else {
            LOG_OMEGA
        }
    }

    fn project(&self, theta: &mut [f64]) {
        for (i, x) in theta.iter_mut().enumerate() {
            let (lo, hi) = self.bounds(i);
            *x = x.clamp(lo, hi);
        }
    }

    /// Largest gradient entry that could still move (not pushing against a bound).
    fn projected_gradient(&self, theta: &[f64], g: &[f64]) -> f64 {
        theta
            .iter()
            .zip(g)
            .enumerate()
            .map(|(i, (&x, &gi))| {
                let (lo, hi) = self.bounds(i);
                if (x <= lo && gi > 0.0) || (x >= hi && gi < 0.0) {
                    0.0
                } else {
                    gi.abs()
                }
            })
            .fold(0.0, f64::max)
    }

    fn initial(&self) -> Vec<f64> {
        let m = self.slots();
        let (events, exposure) = self.terms.iter().fold((0.0, 0.0), |(e, x), t| {
            (
                e + if t.event { t.weight } else { 0.0 },
                x + t.weight * t.exposure,
            )
        });
        let rate = if exposure > 0.0 {
            events / exposure
        } else {
            1.0
        };
        let log_rate = (0.5 * rate)
            .max(f64::MIN_POSITIVE)
            .ln()
            .clamp(LOG_BETA.0, LOG_BETA.1);
        let mut theta = vec![log_rate; 1 + 2 * m];
        theta[1 + m..]
            .iter_mut()
            .for_each(|x| *x = (1.0f64 / 7.0).ln());
        theta
    }

    /// Projected L-BFGS; returns θ, iterations and whether it converged.
    fn minimise(&self) -> (Vec<f64>, u32, bool) {
        let mut theta = self.initial();
        let (mut f, mut g) = self.evaluate(&theta);
        let mut memory: std::collections::VecDeque<(Vec<f64>, Vec<f64>, f64)> =
            std::collections::VecDeque::new();
        let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>();
        let mut small_steps = 0;
        let mut iterations = 0;
        while iterations < MAX_ITER {
            if self.projected_gradient(&theta, &g) < GRAD_TOL {
                return (theta, iterations, true);
            }
            iterations += 1;
            // Two-loop recursion: d = −H g.
            let mut q = g.clone();
            let mut alphas = Vec::with_capacity(memory.len());
            for (s, y, rho) in memory.iter().rev() {
                let a = rho * dot(s, &q);
                q.iter_mut().zip(y).for_each(|(qi, yi)| *qi -= a * yi);
                alphas.push(a);
            }
            if let Some((s, y, _)) = memory.back() {
                let gamma = dot(s, y) / dot(y, y);
                q.iter_mut().for_each(|x| *x *= gamma);
            } else {
                let norm = g.iter().fold(0.0f64, |m, x| m.max(x.abs()));
                q.iter_mut().for_each(|x| *x /= norm.max(1.0));
            }
            for ((s, y, rho), a) in memory.iter().zip(alphas.iter().rev()) {
                let b = rho * dot(y, &q);
                q.iter_mut().zip(s).for_each(|(qi, si)| *qi += (a - b) * si);
            }
            let mut direction: Vec<f64> = q.iter().map(|x| -x).collect();
            if dot(&direction, &g) >= 0.0 {
                memory.clear();
                direction = g.iter().map(|x| -x).collect();
            }
            // Armijo backtracking on the projected path.
            let mut t = 1.0;
            let mut accepted = None;
            for _ in 0..50 {
                let mut trial: Vec<f64> = theta
                    .iter()
                    .zip(&direction)
                    .map(|(x, d)| x + t * d)
                    .collect();
                self.project(&mut trial);
                let step: Vec<f64> = trial.iter().zip(&theta).map(|(a, b)| a - b).collect();
                let decrease = dot(&g, &step);
                let (ft, gt) = self.evaluate(&trial);
                if ft.is_finite() && decrease < 0.0 && ft <= f + 1e-4 * decrease {
                    accepted = Some((trial, step, ft, gt));
                    break;
                }
                t *= 0.5;
            }
            let Some((trial, step, ft, gt)) = accepted else {
                if memory.is_empty() {
                    // Not even a gradient step helps: a (boxed) optimum.
                    return (theta, iterations, true);
                }
                memory.clear();
                continue;
            };
            let y: Vec<f64> = gt.iter().zip(&g).map(|(a, b)| a - b).collect();
            let sy = dot(&step, &y);
            if sy > 1e-12 * dot(&step, &step).sqrt() * dot(&y, &y).sqrt() && sy > 0.0 {
                if memory.len() == MEMORY {
                    memory.pop_front();
                }
                memory.push_back((step, y, 1.0 / sy));
            }
            let rel = (f - ft) / f.abs().max(1e-300);
            theta = trial;
            f = ft;
            g = gt;
            small_steps = if rel < REL_TOL { small_steps + 1 } else { 0 };
            if small_steps >= 3 {
                return (theta, iterations, true);
            }
        }
        (theta, iterations, false)
    }
}

/// Per-label parameters (by label id; `None` for a label with no fitted effect).
struct Params {
    beta: Vec<Option<(f64, f64)>>,
}

impl HazardFit {
    fn params(&self, journeys: &Journeys) -> Params {
        Params {
            beta: journeys
                .labels
                .iter()
                .map(|l| match (self.beta.get(l), self.omega.get(l)) {
                    (Some(&b), Some(&o)) if b > 0.0 => Some((b.ln(), o)),
                    _ => None,
                })
                .collect(),
        }
    }

    /// Credit `journeys` with these parameters (the model's credit rule).
    pub fn credit(&self, journeys: &Journeys, lookback_days: f64) -> Credit {
        let params = self.params(journeys);
        let mut log_h: Vec<f64> = Vec::new();
        credit_by_journey_rule(journeys, lookback_days, |j: &Journey, touches, w| {
            let even = 1.0 / touches.len() as f64;
            let Some(lead) = j.lead_ms else {
                w.iter_mut().for_each(|x| *x = even);
                return;
            };
            log_h.clear();
            log_h.extend(touches.iter().map(|t| match params.beta[t.label as usize] {
                Some((log_b, o)) if t.time_ms < lead => {
                    log_b - o * (lead - t.time_ms) as f64 / MS_PER_DAY
                }
                _ => f64::NEG_INFINITY,
            }));
            let top = log_h.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            if top == f64::NEG_INFINITY || !top.is_finite() {
                w.iter_mut().for_each(|x| *x = even);
                return;
            }
            let mut sum = 0.0;
            for (x, &lh) in w.iter_mut().zip(&log_h) {
                *x = (lh - top).exp();
                sum += *x;
            }
            w.iter_mut().for_each(|x| *x /= sum);
        })
    }
}

impl AdditiveHazard {
    /// Fit the model's parameters on `journeys` by maximum likelihood.
    pub fn fit(&self, journeys: &Journeys) -> HazardFit {
        let data = FitData::build(journeys, self.lookback_days);
        let m = data.slots();
        let has_event = data.terms.iter().any(|t| t.event && t.weight > 0.0);
        let (theta, iterations, converged) = if has_event {
            data.minimise()
        } else {
            // No conversion: every rate's maximum likelihood is 0.
            let mut theta = vec![LOG_BETA.0; 1 + 2 * m];
            theta[1 + m..].iter_mut().for_each(|x| *x = 0.0);
            (theta, 0, true)
        };
        let label = |s: usize| journeys.labels[data.slot_label[s] as usize].clone();
        HazardFit {
            baseline: theta[0].exp(),
            beta: (0..m).map(|s| (label(s), theta[1 + s].exp())).collect(),
            omega: (0..m).map(|s| (label(s), theta[1 + m + s].exp())).collect(),
            iterations,
            converged,
            journeys_fitted: data.journeys,
        }
    }
}

impl Strategy for AdditiveHazard {
    const DESCRIPTOR: StrategyDescriptor = StrategyDescriptor {
        kind: "additive_hazard",
        summary: "additive hazard, touch effects beta*exp(-omega*age) plus a baseline, fit by maximum likelihood (Zhang, Wei & Ren 2014); needs touch times",
        params: &[LOOKBACK],
        needs: Needs {
            touch_times: true,
            opportunities: false,
        },
    };
    const DEFAULT: Self = AdditiveHazard {
        lookback_days: DEFAULT_LOOKBACK_DAYS,
    };
}

impl Attributor for AdditiveHazard {
    fn name(&self) -> String {
        super::model_id(self.id(), self.lookback_days)
    }

    fn lookback_days(&self) -> f64 {
        self.lookback_days
    }

    fn attribute(&self, journeys: &Journeys) -> Credit {
        if !journeys.converting().any(|_| true) {
            return credit_by_journey_rule(journeys, self.lookback_days, |_, _, _| {});
        }
        self.fit(journeys).credit(journeys, self.lookback_days)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attribute::tests::close;
    use crate::base::rng::{Stream, StreamKind};

    const DAY: i64 = 86_400_000;

    fn labels() -> Journeys {
        Journeys::new(
            ["a", "b", "direct", "unassigned", "unknown"]
                .map(String::from)
                .to_vec(),
            2,
        )
    }

    #[test]
    fn credit_matches_a_hand_computation() {
        // a 2 days and b 1 day before the lead; β_a = 0.3, ω_a = 0.5,
        // β_b = 0.1, ω_b = 2, baseline 0.05 (not credited).
        let mut js = labels();
        js.push(&[(0, 0), (DAY, 1), (2 * DAY, 2)], Some(2 * DAY), 1.0, 10.0);
        let fit = HazardFit {
            baseline: 0.05,
            beta: [("a".into(), 0.3), ("b".into(), 0.1), ("direct".into(), 5.0)].into(),
            omega: [("a".into(), 0.5), ("b".into(), 2.0), ("direct".into(), 1.0)].into(),
            iterations: 0,
            converged: true,
            journeys_fitted: 0,
        };
        let cr = fit.credit(&js, 90.0);
        let ha = 0.3 * (-0.5f64 * 2.0).exp();
        let hb = 0.1 * (-2.0f64).exp();
        // The direct visit at the lead instant has no hazard at the lead.
        assert!(
            close(cr.conversions["a"], ha / (ha + hb)),
            "{:?}",
            cr.conversions
        );
        assert!(close(cr.conversions["b"], hb / (ha + hb)));
        assert!(close(cr.revenue["a"], 10.0 * ha / (ha + hb)));
        assert_eq!(cr.conversions["direct"], 0.0);
        // Outside a 1.5-day look-back only b (and the lead-instant visit) remain.
        let cr = fit.credit(&js, 1.5);
        assert!(close(cr.conversions["b"], 1.0));
    }

    /// Journeys simulated from the model itself: 1–4 touches of a or b at
    /// uniform times in the first 20 days, each touch a competing clock with
    /// cumulative hazard (β/ω)(1 − e^{−ωΔ}) (defective: fires with
    /// probability 1 − e^{−β/ω}), the baseline from the first touch.
    fn simulate(n: usize, beta0: f64, params: [(f64, f64); 2]) -> Journeys {
        let mut js = labels();
        let horizon = 60.0;
        let lookback = 90.0;
        let mut touches: Vec<(i64, u16)> = Vec::new();
        for i in 0..n {
            let mut rng = Stream::new(7, 0, StreamKind::Experiment, 99, i as u64, 0);
            let k = 1 + (rng.uniform() * 4.0) as usize;
            let mut times: Vec<(f64, u16)> = (0..k)
                .map(|_| (rng.uniform() * 20.0, (rng.uniform() < 0.5) as u16))
                .collect();
            times.sort_by(|a, b| a.0.total_cmp(&b.0));
            let mut fire = times[0].0 + rng.exp(beta0);
            for &(t, l) in &times {
                let (b, o) = params[l as usize];
                let e = rng.exp(1.0);
                if e < b / o {
                    let delay = -(1.0 - e * o / b).ln() / o;
                    if delay <= lookback {
                        fire = fire.min(t + delay);
                    }
                }
            }
            let converts = fire <= horizon;
            touches.clear();
            touches.extend(
                times
                    .iter()
                    .filter(|(t, _)| !converts || *t <= fire)
                    .map(|&(t, l)| ((t * DAY as f64) as i64, l)),
            );
            let lead = converts.then_some((fire * DAY as f64) as i64);
            js.push(&touches, lead, converts as u8 as f64, 0.0);
        }
        // A journey reaching the horizon fixes the end of observation.
        js.push(
            &[(0, 0), ((horizon * DAY as f64) as i64, 1)],
            None,
            0.0,
            0.0,
        );
        js
    }

    #[test]
    fn recovers_planted_parameters() {
        let planted = [(0.08, 0.5), (0.03, 0.1)];
        let js = simulate(40_000, 0.004, planted);
        let fit = AdditiveHazard {
            lookback_days: 90.0,
        }
        .fit(&js);
        assert!(fit.converged, "{fit:?}");
        let within = |got: f64, want: f64, tol: f64| (got / want - 1.0).abs() < tol;
        // 40,000 journeys: each estimate within 10 % (15 % for the rarer
        // b's decay and the baseline; all were within 2 % when written).
        assert!(within(fit.beta["a"], 0.08, 0.1), "{fit:?}");
        assert!(within(fit.omega["a"], 0.5, 0.1), "{fit:?}");
        assert!(within(fit.beta["b"], 0.03, 0.1), "{fit:?}");
        assert!(within(fit.omega["b"], 0.1, 0.15), "{fit:?}");
        assert!(within(fit.baseline, 0.004, 0.15), "{fit:?}");
    }

    #[test]
    fn the_fit_is_the_same_for_any_thread_count() {
        let js = simulate(12_000, 0.004, [(0.08, 0.5), (0.03, 0.1)]);
        let model = AdditiveHazard {
            lookback_days: 90.0,
        };
        let run = |threads: usize| {
            crate::attribute::tests::on_threads(threads, || (model.fit(&js), model.attribute(&js)))
        };
        let one = run(1);
        assert_eq!(one, run(2));
        assert_eq!(one, run(3));
    }

    #[test]
    fn no_conversion_fits_zero_rates_and_credits_nothing() {
        let mut js = labels();
        js.push(&[(0, 0), (DAY, 1)], None, 0.0, 0.0);
        let m = AdditiveHazard {
            lookback_days: 90.0,
        };
        let cr = m.attribute(&js);
        assert!(cr.conversions.values().all(|&v| v == 0.0));
        assert!(m.fit(&js).baseline < 1e-12);
    }
}
