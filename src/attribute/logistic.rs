//! `logistic{bags, sample_fraction}`: bagged logistic regression on label
//! presence, after Shao & Li (2011), "Data-driven multi-touch attribution
//! models", KDD 2011, the bagged logistic regression model: one binary
//! covariate per channel, "1" if the user saw the channel, response =
//! conversion; many fits on samples of the rows (and, there, of the
//! covariates), coefficients averaged. (Section and equation numbers not
//! cited: checked against the abstract and the `mta` package's
//! implementation, not the full text.)
//!
//! **Data.** One row per observed label set (the distinct labels of a
//! journey's touches inside the look-back window; `direct` and `unassigned`
//! are labels like the channels), from the distinct-path counting pass
//! ([`DistinctPaths`]) grouped by set, in order of first appearance. A row
//! carries its conversions and its non-converting journeys as weights (a
//! path-file row stands for many journeys). Features are ordered by label id
//! (channel ids first); a label on no path is no feature and gets 0.
//!
//! **Fit.** Each bag b thins every row's conversion weight and null weight to
//! a Binomial(weight, f) draw (f = `sample_fraction`: the journeys the bag
//! samples, without replacement; exact Bernoulli sums up to 64 journeys, the
//! rounded normal approximation above; a fractional weight part is kept with
//! probability f) and fits P(conversion) = σ(β₀ + Σ_c β_c x_c) by Newton's
//! method on the weighted log-likelihood with an L2 penalty ½·λ·Σ β_c²,
//! λ = 1 (scikit-learn's default `C = 1`; it keeps a label that is on
//! converting paths only finite), intercept unpenalised; at most 100 Newton
//! steps (halved while the loss rises, full once every entry is below
//! 1e-3), stopping when no parameter moves by more than 1e-10. A bag whose draws hold no conversion or no non-converting journey
//! has no finite fit and is skipped (if all are, every coefficient is 0).
//! The bag's draws come from the seeded stream (`rng::Stream`, kind
//! `Experiment`, key (`SEED`, bag)) taken in row order, so they never depend on
//! how labels are numbered or on the thread count; bags run in parallel and
//! are averaged in bag order. Shao & Li also sample covariates per bag; we
//! do not (a dropped covariate's effect would load onto the ones kept).
//!
//! **Credit.** β̄_c = mean of β_c over the bags. Shao & Li use the model for
//! its accuracy and stability and give no credit rule; the `mta` package
//! normalises squared coefficients over all channels, which would pay a
//! channel for *lowering* conversion. We split each converting set T's
//! conversions (and revenue) among its labels in proportion to
//! max(β̄_c, 0) (below 1e-9 counts as 0, so rounding never flips a share),
//! evenly if no label of T has a positive coefficient. A label on no
//! converting path therefore gets 0, one label gets everything, and credit
//! sums to the conversions exactly. Journeys with no touch in the window
//! credit `unknown`.
//!
//! **Symmetry.** Renaming labels permutes the features; draws follow rows,
//! not labels, so the fits are the same up to floating-point rounding in the
//! Newton solve: credit is equal within 1e-12 of the total (tested so;
//! 1,500 random cases passed at 1e-13).
//! Must never: name the world, the observation layer or the truth ledger.

use super::shapley_rate::{SetStats, label_sets};
use super::{Attributor, DEFAULT_LOOKBACK_DAYS, DistinctPaths, Journeys, LOOKBACK, credit_from};
use crate::base::credit::Credit;
use crate::base::rng::{Stream, StreamKind};
use crate::strategy::{
    Needs, ParamDescriptor, ParamProblem, ParamValue, SpecError, Strategy, StrategyDescriptor,
    at_most, number, spec_err,
};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Bagged logistic regression on label presence (Shao & Li 2011).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default = "crate::strategy::default")]
pub struct Logistic {
    /// Bags averaged (≥ 1).
    pub bags: u32,
    /// Share of the journeys each bag draws (0 < f ≤ 1).
    pub sample_fraction: f64,
    /// Touches older than this before the lead are ignored.
    pub lookback_days: f64,
}

/// What a fit found: mean coefficients by label.
#[derive(Clone, Debug, PartialEq)]
pub struct LogisticFit {
    /// Mean coefficient of each label over the bags (0 for a label on no path).
    pub coefficients: BTreeMap<String, f64>,
    /// Mean intercept.
    pub intercept: f64,
    /// Bags that had data to fit.
    pub bags_fitted: u32,
    /// Observed label sets (rows of the regression).
    pub sets: usize,
}

/// Seed of the bagging streams (fixed: a model's output is a function of its
/// input; `Experiment` streams are keyed by purpose, this is logistic's).
const SEED: u64 = 0x5A0_2011;
/// Purpose index of the bagging streams.
const PURPOSE: u64 = 2011;
/// L2 penalty on the coefficients (not the intercept).
const RIDGE: f64 = 1.0;
/// Keeps the intercept's Hessian entry positive when every p saturates.
const INTERCEPT_RIDGE: f64 = 1e-8;
/// Most Newton steps per bag.
const MAX_NEWTON: usize = 100;
/// Newton stops when no parameter moves by more than this.
const STEP_TOL: f64 = 1e-10;
/// Mean coefficients at or below this count as non-positive.
const COEF_EPS: f64 = 1e-9;

/// Binomial(n, p): exact for n ≤ 64, rounded normal approximation above.
fn binomial(rng: &mut Stream, n: u64, p: f64) -> f64 {
    if n <= 64 {
        (0..n).filter(|_| rng.uniform() < p).count() as f64
    } else {
        let (n, q) = (n as f64, 1.0 - p);
        (n * p + (n * p * q).sqrt() * rng.normal())
            .round()
            .clamp(0.0, n)
    }
}

/// A weight thinned to the journeys a bag keeps.
fn thin(rng: &mut Stream, weight: f64, f: f64) -> f64 {
    if f >= 1.0 || weight <= 0.0 {
        return weight.max(0.0);
    }
    let whole = weight.floor();
    let part = weight - whole;
    let mut kept = binomial(rng, whole as u64, f);
    if part > 0.0 && rng.uniform() < f {
        kept += part;
    }
    kept
}

/// The regression's rows: feature columns (1-based; 0 is the intercept) and weights.
struct Rows {
    cols: Vec<Vec<usize>>,
    conversions: Vec<f64>,
    nulls: Vec<f64>,
    /// Features (present labels), in label order.
    features: Vec<usize>,
}

impl Rows {
    fn new(sets: &[SetStats], n_labels: usize) -> Rows {
        let mut column = vec![0usize; n_labels];
        for s in sets {
            for &l in s.labels.iter() {
                column[l as usize] = 1;
            }
        }
        let mut features = Vec::new();
        for (l, c) in column.iter_mut().enumerate() {
            if *c == 1 {
                features.push(l);
                *c = features.len();
            }
        }
        Rows {
            cols: sets
                .iter()
                .map(|s| s.labels.iter().map(|&l| column[l as usize]).collect())
                .collect(),
            conversions: sets.iter().map(|s| s.conversions.max(0.0)).collect(),
            nulls: sets
                .iter()
                .map(|s| (s.journeys - s.conversions).max(0.0))
                .collect(),
            features,
        }
    }
}

/// log(1 + e^x) without overflow.
fn softplus(x: f64) -> f64 {
    if x > 0.0 {
        x + (-x).exp().ln_1p()
    } else {
        x.exp().ln_1p()
    }
}

fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

/// Penalised negative log-likelihood.
fn loss(theta: &[f64], rows: &Rows, y1: &[f64], y0: &[f64]) -> f64 {
    let mut l = 0.0;
    for (r, cols) in rows.cols.iter().enumerate() {
        if y1[r] + y0[r] == 0.0 {
            continue;
        }
        let eta = theta[0] + cols.iter().map(|&c| theta[c]).sum::<f64>();
        l += y1[r] * softplus(-eta) + y0[r] * softplus(eta);
    }
    l + 0.5 * RIDGE * theta[1..].iter().map(|b| b * b).sum::<f64>()
}

/// Solve `h x = g` for a symmetric positive definite `h` (row-major, n×n) by
/// Cholesky; `None` if it is not positive definite.
fn cholesky_solve(h: &[f64], g: &[f64], n: usize) -> Option<Vec<f64>> {
    let mut l = vec![0.0f64; n * n];
    for i in 0..n {
        for j in 0..=i {
            let mut s = h[i * n + j];
            for k in 0..j {
                s -= l[i * n + k] * l[j * n + k];
            }
            if i == j {
                if s <= 0.0 || !s.is_finite() {
                    return None;
                }
                l[i * n + i] = s.sqrt();
            } else {
                l[i * n + j] = s / l[j * n + j];
            }
        }
    }
    let mut y = vec![0.0f64; n];
    for i in 0..n {
        let mut s = g[i];
        for k in 0..i {
            s -= l[i * n + k] * y[k];
        }
        y[i] = s / l[i * n + i];
    }
    let mut x = vec![0.0f64; n];
    for i in (0..n).rev() {
        let mut s = y[i];
        for k in i + 1..n {
            s -= l[k * n + i] * x[k];
        }
        x[i] = s / l[i * n + i];
    }
    Some(x)
}

/// One penalised logistic fit by Newton's method; `None` when the bag holds
/// no conversion or no non-converting journey (the intercept's maximum
/// likelihood is then infinite).
fn newton(rows: &Rows, y1: &[f64], y0: &[f64]) -> Option<Vec<f64>> {
    let n = rows.features.len() + 1;
    let (pos, neg) = y1
        .iter()
        .zip(y0)
        .fold((0.0, 0.0), |(p, q), (a, b)| (p + a, q + b));
    if pos <= 0.0 || neg <= 0.0 {
        return None;
    }
    let rate = pos / (pos + neg);
    let mut theta = vec![0.0f64; n];
    theta[0] = (rate / (1.0 - rate)).ln();
    let mut current = loss(&theta, rows, y1, y0);
    let mut g = vec![0.0f64; n];
    let mut h = vec![0.0f64; n * n];
    let mut cols = Vec::new();
    for _ in 0..MAX_NEWTON {
        g.iter_mut().for_each(|x| *x = 0.0);
        h.iter_mut().for_each(|x| *x = 0.0);
        for (r, row_cols) in rows.cols.iter().enumerate() {
            let w = y1[r] + y0[r];
            if w == 0.0 {
                continue;
            }
            cols.clear();
            cols.push(0);
            cols.extend_from_slice(row_cols);
            let eta: f64 = cols.iter().map(|&c| theta[c]).sum();
            let p = sigmoid(eta);
            let resid = w * p - y1[r];
            let curv = w * p * (1.0 - p);
            for (a, &ca) in cols.iter().enumerate() {
                g[ca] += resid;
                for &cb in &cols[..=a] {
                    h[ca * n + cb] += curv;
                }
            }
        }
        for i in 0..n {
            for j in 0..i {
                h[j * n + i] = h[i * n + j];
            }
        }
        h[0] += INTERCEPT_RIDGE;
        for c in 1..n {
            g[c] += RIDGE * theta[c];
            h[c * n + c] += RIDGE;
        }
        let Some(step) = cholesky_solve(&h, &g, n) else {
            break;
        };
        // Near the optimum (full step < 1e-3) take the Newton step as is:
        // the loss cannot resolve steps below ~1e-8 in rounding, but the
        // penalised loss is strictly convex there and Newton converges
        // quadratically. Farther away, halve until the loss does not rise.
        let largest = step.iter().fold(0.0f64, |m, s| m.max(s.abs()));
        if largest < 1e-3 {
            theta.iter_mut().zip(&step).for_each(|(x, s)| *x -= s);
            if largest <= STEP_TOL {
                break;
            }
            current = loss(&theta, rows, y1, y0);
            continue;
        }
        let mut t = 1.0;
        let mut moved = false;
        for _ in 0..40 {
            let trial: Vec<f64> = theta.iter().zip(&step).map(|(x, s)| x - t * s).collect();
            let l = loss(&trial, rows, y1, y0);
            if l <= current {
                let largest = step.iter().fold(0.0f64, |m, s| m.max((t * s).abs()));
                theta = trial;
                current = l;
                moved = largest > STEP_TOL;
                break;
            }
            t *= 0.5;
        }
        if !moved {
            break;
        }
    }
    Some(theta)
}

impl Logistic {
    /// Mean coefficients (by label id) and intercept over the bags, and the
    /// bags fitted.
    fn coefficients(&self, sets: &[SetStats], n_labels: usize) -> (Vec<f64>, f64, u32) {
        let rows = Rows::new(sets, n_labels);
        let f = self.sample_fraction;
        let fits: Vec<Option<Vec<f64>>> = (0..self.bags.max(1))
            .into_par_iter()
            .map(|bag| {
                let mut rng = Stream::new(SEED, 0, StreamKind::Experiment, PURPOSE, bag as u64, 0);
                let mut y1 = Vec::with_capacity(rows.cols.len());
                let mut y0 = Vec::with_capacity(rows.cols.len());
                for (c, n) in rows.conversions.iter().zip(&rows.nulls) {
                    y1.push(thin(&mut rng, *c, f));
                    y0.push(thin(&mut rng, *n, f));
                }
                newton(&rows, &y1, &y0)
            })
            .collect();
        let mut sum = vec![0.0f64; rows.features.len() + 1];
        let mut fitted = 0u32;
        for theta in fits.iter().flatten() {
            fitted += 1;
            sum.iter_mut().zip(theta).for_each(|(s, t)| *s += t);
        }
        let mut by_label = vec![0.0f64; n_labels];
        if fitted == 0 {
            return (by_label, 0.0, 0);
        }
        for (i, &l) in rows.features.iter().enumerate() {
            by_label[l] = sum[i + 1] / fitted as f64;
        }
        (by_label, sum[0] / fitted as f64, fitted)
    }

    /// Fit the bagged regression on `journeys` and report its coefficients.
    pub fn fit(&self, journeys: &Journeys) -> LogisticFit {
        let paths = DistinctPaths::count(journeys, self.lookback_days);
        let sets = label_sets(&paths, journeys.labels.len());
        let (beta, intercept, bags_fitted) = self.coefficients(&sets, journeys.labels.len());
        LogisticFit {
            coefficients: journeys.labels.iter().cloned().zip(beta).collect(),
            intercept,
            bags_fitted,
            sets: sets.len(),
        }
    }
}

/// Most bags of `logistic`.
pub const MAX_LOGISTIC_BAGS: u32 = 10_000;

impl Strategy for Logistic {
    const DESCRIPTOR: StrategyDescriptor = StrategyDescriptor {
        kind: "logistic",
        summary: "bagged logistic regression on channel presence (Shao & Li 2011); each converting set split by positive mean coefficients, seeded (CLI logistic:BAGS:FRACTION)",
        params: &[
            ParamDescriptor {
                name: "bags",
                help: "logistic fits on resampled journeys, averaged (1..=10000)",
                default: ParamValue::Count(Self::DEFAULT.bags),
            },
            ParamDescriptor {
                name: "sample_fraction",
                help: "share of the journeys each bag draws (0 < f <= 1)",
                default: ParamValue::Number(Self::DEFAULT.sample_fraction),
            },
            LOOKBACK,
        ],
        needs: Needs::NOTHING,
    };
    /// 50 bags of half the journeys (Shao & Li 2011 and the `mta` package use 0.5).
    const DEFAULT: Self = Logistic {
        bags: 50,
        sample_fraction: 0.5,
        lookback_days: DEFAULT_LOOKBACK_DAYS,
    };

    fn from_cli(given: &str, parts: &[&str]) -> Result<Self, SpecError> {
        let usage = "logistic:BAGS:FRACTION";
        at_most(given, parts, 2, usage)?;
        let d = Self::DEFAULT;
        let bags = match parts.get(1) {
            None => d.bags,
            Some(p) => p.parse::<u32>().map_err(|_| {
                spec_err(
                    given,
                    format!("{usage} takes a whole number of bags 1..={MAX_LOGISTIC_BAGS}"),
                )
            })?,
        };
        Ok(Logistic {
            bags,
            sample_fraction: number(given, parts, 2, d.sample_fraction, usage)?,
            ..d
        })
    }

    fn id(&self) -> String {
        format!("logistic_{}_{}", self.bags, self.sample_fraction)
    }

    fn param_problems(&self) -> Vec<ParamProblem> {
        let mut out = Vec::new();
        if !(1..=MAX_LOGISTIC_BAGS).contains(&self.bags) {
            out.push((
                "bags",
                self.bags as f64,
                format!("must be within 1..={MAX_LOGISTIC_BAGS}"),
            ));
        }
        let f = self.sample_fraction;
        if !(f.is_finite() && f > 0.0 && f <= 1.0) {
            out.push(("sample_fraction", f, "must be within 0 < f <= 1".into()));
        }
        out
    }
}

impl Attributor for Logistic {
    fn name(&self) -> String {
        super::model_id(self.id(), self.lookback_days)
    }

    fn lookback_days(&self) -> f64 {
        self.lookback_days
    }

    fn attribute(&self, journeys: &Journeys) -> Credit {
        let n_labels = journeys.labels.len();
        let paths = DistinctPaths::count(journeys, self.lookback_days);
        let sets = label_sets(&paths, n_labels);
        let mut conv = vec![0.0; n_labels];
        let mut rev = vec![0.0; n_labels];
        conv[journeys.unknown as usize] += paths.empty_conversions;
        rev[journeys.unknown as usize] += paths.empty_revenue;
        let any_conversion = sets.iter().any(|s| s.conversions > 0.0);
        let beta = if any_conversion {
            self.coefficients(&sets, n_labels).0
        } else {
            vec![0.0; n_labels]
        };
        let mut weights = Vec::new();
        for s in &sets {
            if s.conversions == 0.0 && s.revenue == 0.0 {
                continue;
            }
            weights.clear();
            weights.extend(s.labels.iter().map(|&l| {
                let b = beta[l as usize];
                if b > COEF_EPS { b } else { 0.0 }
            }));
            let total: f64 = weights.iter().sum();
            if total > 0.0 && total.is_finite() {
                weights.iter_mut().for_each(|w| *w /= total);
            } else {
                let even = 1.0 / weights.len() as f64;
                weights.iter_mut().for_each(|w| *w = even);
            }
            for (&l, w) in s.labels.iter().zip(&weights) {
                conv[l as usize] += w * s.conversions;
                rev[l as usize] += w * s.revenue;
            }
        }
        credit_from(journeys, &conv, &rev)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attribute::tests::{close, paths};

    fn model(bags: u32, f: f64) -> Logistic {
        Logistic {
            bags,
            sample_fraction: f,
            lookback_days: 90.0,
        }
    }

    #[test]
    fn binomial_thinning_keeps_about_the_fraction() {
        let mut rng = Stream::new(1, 0, StreamKind::Experiment, PURPOSE, 0, 0);
        for (w, f) in [(10.0, 0.5), (1000.0, 0.3), (1e6, 0.5), (7.5, 0.2)] {
            let n = 400;
            let mean: f64 = (0..n).map(|_| thin(&mut rng, w, f)).sum::<f64>() / n as f64;
            let sd = (w * f * (1.0 - f) / n as f64).sqrt();
            assert!((mean - w * f).abs() < 5.0 * sd + 0.2, "{w} {f}: {mean}");
            assert!((0..50).all(|_| {
                let k = thin(&mut rng, w, f);
                (0.0..=w).contains(&k)
            }));
        }
        assert_eq!(thin(&mut rng, 12.0, 1.0), 12.0);
    }

    #[test]
    fn recovers_a_positive_a_null_and_a_negative_effect() {
        // a raises conversion from 5 % to 20 %; b does nothing; c lowers it
        // to 2 %. One aggregated row per set, 20,000 journeys each.
        let rows = [
            ("a", 0.20),
            ("b", 0.05),
            ("c", 0.02),
            ("a>b", 0.20),
            ("b>c", 0.02),
            ("a>c", 0.08),
        ];
        let mut js = paths(&["a", "b", "c"], &[]);
        for (set, rate) in rows {
            let touches: Vec<(i64, u16)> = set
                .split('>')
                .enumerate()
                .map(|(i, l)| {
                    let label = js.labels.iter().position(|x| x == l).unwrap();
                    (i as i64 * 1000, label as u16)
                })
                .collect();
            let lead = Some(touches.len() as i64 * 1000);
            let c = 20_000.0 * rate;
            js.push_journey(&touches, lead, None, c, 20_000.0 - c, c * 10.0);
        }
        let fit = model(20, 0.5).fit(&js);
        let b = &fit.coefficients;
        assert_eq!((fit.bags_fitted, fit.sets), (20, 6));
        // ln(0.20/0.80) − ln(0.05/0.95) ≈ 1.56.
        assert!(b["a"] > 1.2 && b["a"] < 1.9, "{b:?}");
        assert!(b["b"].abs() < 0.15, "{b:?}");
        assert!(b["c"] < -0.6, "{b:?}");
        assert_eq!(b["direct"], 0.0);
        // Every set holding a gives a all its conversions (b's and c's
        // coefficients are not meaningfully positive next to a's).
        let cr = model(20, 0.5).attribute(&js);
        let with_a: f64 = rows
            .iter()
            .filter(|r| r.0.contains('a'))
            .map(|r| 20_000.0 * r.1)
            .sum();
        let total: f64 = rows.iter().map(|r| 20_000.0 * r.1).sum();
        assert!(cr.conversions["a"] > with_a * 0.9, "{:?}", cr.conversions);
        assert!(close(cr.total_conversions(), total));
        assert!(close(cr.total_revenue(), 10.0 * total));
    }

    #[test]
    fn the_fit_is_the_same_for_any_thread_count() {
        let js = paths(
            &["a", "b", "c"],
            &[
                ("a>b", 1.0, 5.0),
                ("a", 0.0, 0.0),
                ("b>c", 1.0, 2.0),
                ("c", 0.0, 0.0),
                ("a>c", 1.0, 1.0),
                ("b", 0.0, 0.0),
            ],
        );
        let run = |threads: usize| {
            crate::attribute::tests::on_threads(threads, || model(30, 0.5).fit(&js))
        };
        let one = run(1);
        assert_eq!(one, run(2));
        assert_eq!(one, run(3));
    }

    #[test]
    fn labels_always_seen_together_split_evenly() {
        // Every journey converts: no bag has a finite fit, every
        // coefficient is 0 and the split is even.
        let js = paths(&["a", "b"], &[("a>b", 1.0, 4.0), ("a>b", 1.0, 4.0)]);
        assert_eq!(model(5, 0.5).fit(&js).bags_fitted, 0);
        let cr = model(5, 0.5).attribute(&js);
        assert!(close(cr.conversions["a"], 1.0) && close(cr.conversions["b"], 1.0));
        assert!(close(cr.revenue["a"], 4.0));
    }
}
