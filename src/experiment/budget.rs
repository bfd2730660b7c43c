//! Budget scenarios (`docs/model.md`, "The world"): what a spend change really does
//! — the world re-run on the same draws at the new spends (common random
//! numbers) — next to what each attribution model predicts from the base
//! period (its credited leads and revenue per unit spend × the change).
//! Must never: let a model see the re-run world or the truth; predictions
//! come from the base period's event log and one stitcher's partition only.

use crate::attribute::{self, Journeys};
use crate::base::stats::Stats;
use crate::experiment;
use crate::scenario::Scenario;
use crate::spec::{AttributorSpec, StitcherSpec};
use crate::stitch;
use crate::world::{self, World};
use rayon::prelude::*;
use serde::Serialize;

/// One requested change of a paid channel's spend.
#[derive(Clone, Debug, PartialEq)]
pub struct SpendChange {
    /// Channel id.
    pub channel: String,
    /// The change.
    pub by: Change,
}

/// How a spend changes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Change {
    /// By a percentage of the current spend (−100 removes it).
    Percent(f64),
    /// By an absolute amount per period per 1,000 persons.
    Absolute(f64),
}

/// A bad `--change`: what was given and what was expected.
#[derive(Debug, thiserror::Error)]
#[error("--change {given}: {expected}")]
pub struct ChangeError {
    /// The argument as given.
    pub given: String,
    /// What was expected.
    pub expected: String,
}

impl SpendChange {
    /// Parse `display=-20%`, `paid_search=+20%` or `email=+500`.
    pub fn parse(given: &str) -> Result<SpendChange, ChangeError> {
        let err = |expected: &str| ChangeError {
            given: given.to_string(),
            expected: expected.to_string(),
        };
        let (channel, amount) = given
            .split_once('=')
            .ok_or_else(|| err("expected CHANNEL=±N% or CHANNEL=±AMOUNT"))?;
        let amount = amount.trim();
        let (number, percent) = match amount.strip_suffix('%') {
            Some(n) => (n, true),
            None => (amount, false),
        };
        let v: f64 = number
            .trim()
            .parse()
            .ok()
            .filter(|v: &f64| v.is_finite())
            .ok_or_else(|| err("the amount must be a finite number, e.g. -20% or +500"))?;
        Ok(SpendChange {
            channel: channel.trim().to_string(),
            by: if percent {
                Change::Percent(v)
            } else {
                Change::Absolute(v)
            },
        })
    }
}

/// The spends after the changes: every changed channel must be a paid
/// channel of the scenario and end at a spend ≥ 0.
pub fn new_spends(sc: &Scenario, changes: &[SpendChange]) -> Result<Vec<f64>, ChangeError> {
    let mut spends = world::scenario_spends(sc);
    for ch in changes {
        let err = |expected: String| ChangeError {
            given: format!(
                "{}={}",
                ch.channel,
                match ch.by {
                    Change::Percent(p) => format!("{p:+}%"),
                    Change::Absolute(a) => format!("{a:+}"),
                }
            ),
            expected,
        };
        let paid: Vec<&str> = sc
            .channels
            .iter()
            .filter(|c| c.paid())
            .map(|c| c.id.as_str())
            .collect();
        let i = sc
            .channel_index(&ch.channel)
            .filter(|&i| sc.channels[i].paid())
            .ok_or_else(|| {
                err(format!(
                    "not a paid channel; paid channels: {}",
                    paid.join(", ")
                ))
            })?;
        let new = match ch.by {
            Change::Percent(p) => spends[i] * (1.0 + p / 100.0),
            Change::Absolute(a) => spends[i] + a,
        };
        if new.is_nan() || new < -1e-9 {
            return Err(err(format!(
                "the spend would be {new} (current {}); it must stay >= 0",
                spends[i]
            )));
        }
        spends[i] = new.max(0.0);
    }
    Ok(spends)
}

/// Leads, customers, revenue, spend and profit of one world (one period),
/// in total and per channel (the incremental truth: what the channel's
/// window touches added, so a change of one channel's spend changes its
/// figure by what the world gained or lost).
#[derive(Clone, Debug, PartialEq)]
pub struct PeriodOutcome {
    /// Leads in the window.
    pub leads: f64,
    /// Closed deals.
    pub customers: f64,
    /// Revenue of closed deals.
    pub revenue: f64,
    /// Total spend of the period (Σ spend × persons / 1,000).
    pub spend: f64,
    /// Revenue × gross margin − spend.
    pub profit: f64,
    /// Per channel (scenario order): incremental leads (lost without it).
    pub channel_leads: Vec<f64>,
    /// Per channel: incremental revenue.
    pub channel_revenue: Vec<f64>,
    /// Per channel: spend per period per 1,000 persons.
    pub channel_spend: Vec<f64>,
}

/// What a world produced.
pub fn outcome(sc: &Scenario, w: &World, spends: &[f64]) -> PeriodOutcome {
    let n = sc.channels.len();
    let (mut leads, mut customers, mut revenue) = (0.0, 0.0, 0.0);
    let mut channel_leads = vec![0.0; n];
    let mut channel_revenue = vec![0.0; n];
    for (_, l) in w.leads() {
        leads += 1.0;
        if l.deal.is_some() {
            customers += 1.0;
        }
        revenue += l.deal.map_or(0.0, |d| d.1);
    }
    // Incremental credit, labels in scenario order then the baseline.
    for pc in &w.credit {
        for &(label, c, r) in &pc.incremental {
            if (label as usize) < n {
                channel_leads[label as usize] += c;
                channel_revenue[label as usize] += r;
            }
        }
    }
    let spend = spends.iter().sum::<f64>() * sc.persons as f64 / 1000.0;
    PeriodOutcome {
        leads,
        customers,
        revenue,
        spend,
        profit: revenue * sc.gross_margin - spend,
        channel_leads,
        channel_revenue,
        channel_spend: spends.to_vec(),
    }
}

/// One replicate of a budget scenario.
#[derive(Clone, Debug, PartialEq)]
pub struct BudgetReplicate {
    /// The base period.
    pub base: PeriodOutcome,
    /// The period re-run at the new spends, on the same draws.
    pub changed: PeriodOutcome,
    /// Per model id: predicted change in (leads, revenue) per channel.
    pub predicted: Vec<(String, Vec<(f64, f64)>)>,
}

/// Run a budget scenario: per replicate, the base world, its log stitched by
/// `stitcher` and credited by each model, and the world re-run at `spends`.
pub fn run(
    sc: &Scenario,
    spends: &[f64],
    stitcher: &StitcherSpec,
    models: &[AttributorSpec],
    replicates: u32,
) -> Vec<BudgetReplicate> {
    run_with_progress(sc, spends, stitcher, models, replicates, &|| {})
}

/// [`run`], calling `done` after each replicate.
pub fn run_with_progress(
    sc: &Scenario,
    spends: &[f64],
    stitcher: &StitcherSpec,
    models: &[AttributorSpec],
    replicates: u32,
    done: &(dyn Fn() + Sync),
) -> Vec<BudgetReplicate> {
    let base_spends = world::scenario_spends(sc);
    (0..replicates)
        .into_par_iter()
        .map(|r| {
            let (base_world, obs, truth) = experiment::simulate(sc, r);
            let base = outcome(sc, &base_world, &base_spends);
            drop(base_world);
            drop(truth);
            let ids = stitch::build(stitcher).stitch(&obs.log);
            let journeys = Journeys::build(&obs.log, &ids);
            let predicted = models
                .iter()
                .map(|spec| {
                    let credit = attribute::build(spec).attribute(&journeys);
                    let per_channel = sc
                        .channels
                        .iter()
                        .zip(&base_spends)
                        .zip(spends)
                        .map(|((ch, &old), &new)| {
                            if old <= 0.0 {
                                return (0.0, 0.0);
                            }
                            let get = |m: &std::collections::BTreeMap<String, f64>| {
                                m.get(&ch.id).copied().unwrap_or(0.0)
                            };
                            let delta = new - old;
                            // (+ 0.0: no −0.0 for a channel with no credit)
                            (
                                get(&credit.conversions) / old * delta + 0.0,
                                get(&credit.revenue) / old * delta + 0.0,
                            )
                        })
                        .collect();
                    (spec.id(), per_channel)
                })
                .collect();
            let changed_world = world::generate_with_spends(sc, r, spends);
            let changed = outcome(sc, &changed_world, spends);
            done();
            BudgetReplicate {
                base,
                changed,
                predicted,
            }
        })
        .collect()
}

/// One row of the budget table: a channel (or `total`), a measure, the
/// actual change and each model's prediction, summarised over replicates.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BudgetRow {
    /// Channel id, or `total`.
    pub channel: String,
    /// `leads`, `customers`, `revenue`, `profit` (and `spend` for the total).
    pub measure: String,
    /// The actual change (re-run − base).
    pub actual: Stats,
    /// Per model id: its predicted change.
    pub predicted: Vec<(String, Stats)>,
    /// Per model id: predicted − actual.
    pub error: Vec<(String, Stats)>,
}

impl BudgetRow {
    /// Each model's error (predicted − actual), smallest in size first.
    pub fn errors_smallest_first(&self) -> Vec<&(String, Stats)> {
        let mut errs: Vec<&(String, Stats)> = self.error.iter().collect();
        errs.sort_by(|a, b| a.1.mean.abs().total_cmp(&b.1.mean.abs()));
        errs
    }
}

/// A model's predicted change in one replicate, by model index.
type Prediction<'a> = dyn Fn(&BudgetReplicate, usize) -> f64 + 'a;

/// The budget table: per paid channel leads, revenue and profit (the change
/// of its incremental truth: per-lead deals have no incremental split, so
/// customers are counted in the total only), then the totals.
pub fn table(sc: &Scenario, reps: &[BudgetReplicate]) -> Vec<BudgetRow> {
    let Some(first) = reps.first() else {
        return Vec::new();
    };
    let models: Vec<&String> = first.predicted.iter().map(|(m, _)| m).collect();
    let row = |channel: &str,
               measure: &str,
               actual: &dyn Fn(&BudgetReplicate) -> f64,
               predicted: Option<&Prediction<'_>>| {
        let a: Vec<f64> = reps.iter().map(actual).collect();
        let (mut pred, mut err) = (Vec::new(), Vec::new());
        if let Some(p) = predicted {
            for (k, m) in models.iter().enumerate() {
                let ps: Vec<f64> = reps.iter().map(|r| p(r, k)).collect();
                let es: Vec<f64> = ps.iter().zip(&a).map(|(p, a)| p - a).collect();
                pred.push(((*m).clone(), Stats::of(&ps)));
                err.push(((*m).clone(), Stats::of(&es)));
            }
        }
        BudgetRow {
            channel: channel.to_string(),
            measure: measure.to_string(),
            actual: Stats::of(&a),
            predicted: pred,
            error: err,
        }
    };
    let mut rows = Vec::new();
    for (i, ch) in sc.channels.iter().enumerate().filter(|(_, c)| c.paid()) {
        rows.push(row(
            &ch.id,
            "leads",
            &|r| r.changed.channel_leads[i] - r.base.channel_leads[i],
            Some(&|r, k| r.predicted[k].1[i].0),
        ));
        rows.push(row(
            &ch.id,
            "revenue",
            &|r| r.changed.channel_revenue[i] - r.base.channel_revenue[i],
            Some(&|r, k| r.predicted[k].1[i].1),
        ));
        // Profit of the channel: its incremental revenue × margin − its spend change.
        let d_spend = |r: &BudgetReplicate| {
            (r.changed.channel_spend[i] - r.base.channel_spend[i]) * sc.persons as f64 / 1000.0
        };
        rows.push(row(
            &ch.id,
            "profit",
            &|r| {
                (r.changed.channel_revenue[i] - r.base.channel_revenue[i]) * sc.gross_margin
                    - d_spend(r)
            },
            Some(&|r, k| r.predicted[k].1[i].1 * sc.gross_margin - d_spend(r)),
        ));
    }
    let total =
        |f: fn(&PeriodOutcome) -> f64| move |r: &BudgetReplicate| f(&r.changed) - f(&r.base);
    rows.push(row(
        "total",
        "leads",
        &total(|o| o.leads),
        Some(&|r, k| r.predicted[k].1.iter().map(|p| p.0).sum()),
    ));
    rows.push(row("total", "customers", &total(|o| o.customers), None));
    rows.push(row(
        "total",
        "revenue",
        &total(|o| o.revenue),
        Some(&|r, k| r.predicted[k].1.iter().map(|p| p.1).sum()),
    ));
    rows.push(row("total", "spend", &total(|o| o.spend), None));
    rows.push(row(
        "total",
        "profit",
        &total(|o| o.profit),
        Some(&|r, k| {
            let revenue: f64 = r.predicted[k].1.iter().map(|p| p.1).sum();
            revenue * sc.gross_margin - (r.changed.spend - r.base.spend)
        }),
    ));
    rows
}

/// Spend multipliers of the response curves (share of current spend).
pub const CURVE_POINTS: [f64; 9] = [0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0];

/// Spend changes (±) at which the true marginal ROI is measured.
pub const MARGINAL_STEP: f64 = 0.1;

/// One paid channel's true response: incremental revenue over the channel
/// switched off at each of [`CURVE_POINTS`], its marginal ROI at the current
/// spend, and the share of its (shapley) leads that would have come anyway.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ChannelCurve {
    /// Channel id.
    pub channel: String,
    /// Current spend per period per 1,000 persons.
    pub spend: f64,
    /// Per point of [`CURVE_POINTS`]: (spend, true incremental revenue).
    pub curve: Vec<(f64, Stats)>,
    /// Δ revenue ÷ Δ spend (period totals) between −10 % and +10 % spend.
    pub marginal_roi: Stats,
    /// 1 − incremental ÷ shapley leads at the current spend: the share of
    /// its fair share of leads that would have come without it.
    pub converted_anyway: Stats,
}

/// One replicate's responses: per paid channel the revenue at each
/// multiplier, and the base truth's (shapley, incremental) leads.
type ReplicateResponse = (Vec<Vec<f64>>, Vec<(f64, f64)>);

/// Total revenue of the world re-run at `spends`.
fn revenue_at(sc: &Scenario, r: u32, spends: &[f64]) -> f64 {
    let w = world::generate_with_spends(sc, r, spends);
    w.leads().map(|(_, l)| l.deal.map_or(0.0, |d| d.1)).sum()
}

/// Every paid channel's true response curve and marginal ROI (replicates in
/// parallel; every point a re-run on the same draws).
pub fn curves(sc: &Scenario, replicates: u32) -> Vec<ChannelCurve> {
    curves_with_progress(sc, replicates, &|| {})
}

/// [`curves`], calling `done` after each replicate.
pub fn curves_with_progress(
    sc: &Scenario,
    replicates: u32,
    done: &(dyn Fn() + Sync),
) -> Vec<ChannelCurve> {
    let base = world::scenario_spends(sc);
    let paid: Vec<usize> = (0..sc.channels.len())
        .filter(|&i| sc.channels[i].paid())
        .collect();
    let mut multipliers: Vec<f64> = CURVE_POINTS.to_vec();
    multipliers.extend([1.0 - MARGINAL_STEP, 1.0 + MARGINAL_STEP]);
    // Per replicate: per paid channel, revenue at each multiplier; and the
    // base truth's (shapley, incremental) leads per channel.
    let per_rep: Vec<ReplicateResponse> = (0..replicates)
        .into_par_iter()
        .map(|r| {
            let revenue: Vec<Vec<f64>> = paid
                .iter()
                .map(|&i| {
                    multipliers
                        .iter()
                        .map(|&m| {
                            let mut s = base.clone();
                            s[i] = base[i] * m;
                            revenue_at(sc, r, &s)
                        })
                        .collect()
                })
                .collect();
            let (_, _, truth) = experiment::simulate(sc, r);
            let leads = paid
                .iter()
                .map(|&i| {
                    let id = &sc.channels[i].id;
                    (
                        truth.shapley.conversions.get(id).copied().unwrap_or(0.0),
                        truth
                            .incremental
                            .conversions
                            .get(id)
                            .copied()
                            .unwrap_or(0.0),
                    )
                })
                .collect();
            done();
            (revenue, leads)
        })
        .collect();
    let scale = sc.persons as f64 / 1000.0;
    paid.iter()
        .enumerate()
        .map(|(k, &i)| {
            let at = |rep: &ReplicateResponse, j: usize| rep.0[k][j];
            let curve = CURVE_POINTS
                .iter()
                .enumerate()
                .map(|(j, &m)| {
                    let xs: Vec<f64> = per_rep.iter().map(|rep| at(rep, j) - at(rep, 0)).collect();
                    (base[i] * m, Stats::of(&xs))
                })
                .collect();
            let (lo, hi) = (CURVE_POINTS.len(), CURVE_POINTS.len() + 1);
            let d_spend = 2.0 * MARGINAL_STEP * base[i] * scale;
            let mroi: Vec<f64> = per_rep
                .iter()
                .map(|rep| (at(rep, hi) - at(rep, lo)) / d_spend)
                .collect();
            let anyway: Vec<f64> = per_rep
                .iter()
                .filter(|rep| rep.1[k].0 > 0.0)
                .map(|rep| 1.0 - rep.1[k].1 / rep.1[k].0)
                .collect();
            ChannelCurve {
                channel: sc.channels[i].id.clone(),
                spend: base[i],
                curve,
                marginal_roi: Stats::of(&mroi),
                converted_anyway: Stats::of(&anyway),
            }
        })
        .collect()
}

/// The split of the current total paid budget that maximises revenue on the
/// (mean, piecewise-linear) response curves: budget handed out in 1 % steps
/// to the channel whose curve gains most from it, each channel capped at the
/// curve's end (2× its spend) — equal marginal ROI in the limit. Channels are
/// treated as separable (synergies between them are not in the curves).
/// Returns spends in scenario order.
pub fn optimal_split(sc: &Scenario, curves: &[ChannelCurve]) -> Vec<f64> {
    let base = world::scenario_spends(sc);
    let total: f64 = curves.iter().map(|c| c.spend).sum();
    let value = |c: &ChannelCurve, s: f64| -> f64 {
        let pts: Vec<(f64, f64)> = c.curve.iter().map(|(x, st)| (*x, st.mean)).collect();
        for w in pts.windows(2) {
            let ((x0, y0), (x1, y1)) = (w[0], w[1]);
            if s <= x1 || x1 <= x0 {
                if x1 <= x0 {
                    return y0;
                }
                return y0 + (y1 - y0) * ((s - x0) / (x1 - x0)).clamp(0.0, 1.0);
            }
        }
        pts.last().map_or(0.0, |p| p.1)
    };
    let step = total / 100.0;
    let mut alloc = vec![0.0; curves.len()];
    if step > 0.0 {
        for _ in 0..100 {
            let best = curves
                .iter()
                .enumerate()
                .filter(|(k, c)| alloc[*k] + step <= 2.0 * c.spend + 1e-9)
                .map(|(k, c)| (k, value(c, alloc[k] + step) - value(c, alloc[k])))
                .max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)));
            match best {
                Some((k, _)) => alloc[k] += step,
                None => break,
            }
        }
    }
    let mut spends = base;
    for (c, a) in curves.iter().zip(alloc) {
        if let Some(i) = sc.channel_index(&c.channel) {
            spends[i] = a;
        }
    }
    spends
}

/// A whole budget study: the spend change's actual and predicted effects,
/// the true response curves and the optimal split checked by a re-run.
#[derive(Clone, Debug, PartialEq)]
pub struct BudgetStudy {
    /// The scenario's spends per channel (scenario order).
    pub current: Vec<f64>,
    /// The changed spends per channel (scenario order).
    pub new: Vec<f64>,
    /// The budget table (see [`table`]).
    pub rows: Vec<BudgetRow>,
    /// Every paid channel's true response (see [`curves`]).
    pub curves: Vec<ChannelCurve>,
    /// The split of the current budget the curves call best (scenario order).
    pub optimal: Vec<f64>,
    /// Profit change per period of moving to `optimal`, re-run on the same draws.
    pub optimal_profit: Stats,
}

/// Run a budget study over the scenario's replicates: base and re-run
/// worlds at `spends` with each model's prediction, the response curves, and
/// the re-run at the optimal split; `done` is called after each replicate of
/// each of the three.
pub fn study(
    sc: &Scenario,
    spends: &[f64],
    stitcher: &StitcherSpec,
    models: &[AttributorSpec],
    done: &(dyn Fn() + Sync),
) -> BudgetStudy {
    let reps = run_with_progress(sc, spends, stitcher, models, sc.replicates, done);
    let rows = table(sc, &reps);
    let curves = curves_with_progress(sc, sc.replicates, done);
    let optimal = optimal_split(sc, &curves);
    let optimal_reps = run_with_progress(sc, &optimal, stitcher, &[], sc.replicates, done);
    let optimal_profit = Stats::of(
        &optimal_reps
            .iter()
            .map(|r| r.changed.profit - r.base.profit)
            .collect::<Vec<f64>>(),
    );
    BudgetStudy {
        current: world::scenario_spends(sc),
        new: spends.to_vec(),
        rows,
        curves,
        optimal,
        optimal_profit,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_parse_and_bad_ones_say_what_was_expected() {
        assert_eq!(
            SpendChange::parse("display=-20%").unwrap(),
            SpendChange {
                channel: "display".into(),
                by: Change::Percent(-20.0)
            }
        );
        assert_eq!(
            SpendChange::parse(" paid_search = +500 ").unwrap().by,
            Change::Absolute(500.0)
        );
        for bad in ["display", "display=lots", "display=NaN%", "display=inf"] {
            let e = SpendChange::parse(bad).unwrap_err().to_string();
            assert!(e.starts_with(&format!("--change {bad}")), "{e}");
        }
    }
}
