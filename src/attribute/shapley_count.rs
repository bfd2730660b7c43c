//! `shapley_count`: the Shapley value of v(S) = conversions (revenue) of the
//! journeys whose label set lies inside S. Each journey is a unanimity game
//! on its distinct labels, so the closed form is: each converting journey's
//! conversions and revenue split equally among its distinct labels in the
//! look-back window — deduplicated linear. The subset-sum (zeta transform)
//! version lives in the tests as the oracle this closed form must equal.
//! A journey with no touch in the window credits `unknown`.
//! Must never: name the world, the observation layer or the truth ledger.

use super::{Attributor, DEFAULT_LOOKBACK_DAYS, Journeys, LOOKBACK, credit_by_rule};
use crate::base::credit::Credit;
use crate::strategy::{Needs, Strategy, StrategyDescriptor};
use serde::{Deserialize, Serialize};

/// Shapley value of the "conversions inside S" game.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default = "crate::strategy::default")]
pub struct ShapleyCount {
    /// Touches older than this before the lead are ignored.
    pub lookback_days: f64,
}

impl Strategy for ShapleyCount {
    const DESCRIPTOR: StrategyDescriptor = StrategyDescriptor {
        kind: "shapley_count",
        summary: "Shapley value of conversions inside a channel set (= deduplicated linear)",
        params: &[LOOKBACK],
        needs: Needs::NOTHING,
    };
    const DEFAULT: Self = ShapleyCount {
        lookback_days: DEFAULT_LOOKBACK_DAYS,
    };
}

impl Attributor for ShapleyCount {
    fn name(&self) -> String {
        super::model_id(self.id(), self.lookback_days)
    }

    fn lookback_days(&self) -> f64 {
        self.lookback_days
    }

    fn attribute(&self, journeys: &Journeys) -> Credit {
        // Times each label occurs in the current journey (reset after use).
        let mut seen = vec![0u32; journeys.labels.len()];
        credit_by_rule(journeys, self.lookback_days, |touches, w| {
            let mut distinct = 0u32;
            for t in touches {
                let s = &mut seen[t.label as usize];
                distinct += (*s == 0) as u32;
                *s += 1;
            }
            for (t, x) in touches.iter().zip(w.iter_mut()) {
                *x = 1.0 / (distinct as f64 * seen[t.label as usize] as f64);
            }
            for t in touches {
                seen[t.label as usize] = 0;
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attribute::tests::{close, paths};
    use proptest::prelude::*;

    /// The definition: v(S) = Σ conversions of journeys whose label set ⊆ S,
    /// computed for every S by a zeta (subset-sum) transform, then the
    /// Shapley value by enumeration over all subsets.
    fn oracle(js: &Journeys, lookback_days: f64, revenue: bool) -> Vec<f64> {
        let n = js.labels.len();
        assert!(n <= 16);
        let mut v = vec![0.0; 1 << n];
        let mut unknown = 0.0;
        for j in js.converting() {
            let amount = if revenue { j.revenue } else { j.conversions };
            let set = js
                .in_lookback(j, lookback_days)
                .iter()
                .fold(0usize, |m, t| m | 1 << t.label);
            if set == 0 {
                unknown += amount;
            } else {
                v[set] += amount;
            }
        }
        for i in 0..n {
            for s in 0..1usize << n {
                if s & (1 << i) != 0 {
                    v[s] += v[s ^ (1 << i)];
                }
            }
        }
        let fact = |k: usize| (1..=k).map(|x| x as f64).product::<f64>();
        let mut phi = vec![0.0; n];
        for (i, p) in phi.iter_mut().enumerate() {
            for s in 0..1usize << n {
                if s & (1 << i) == 0 {
                    let k = s.count_ones() as usize;
                    *p += fact(k) * fact(n - k - 1) / fact(n) * (v[s | 1 << i] - v[s]);
                }
            }
        }
        phi[js.unknown as usize] += unknown;
        phi
    }

    #[test]
    fn design_examples() {
        // §10 (a): 1/3 each; (b): A 2.5, B 1.5.
        let a = paths(
            &["c1", "c2", "c3"],
            &[
                ("c1>c2>c3", 1.0, 0.0),
                ("c1", 0.0, 0.0),
                ("c2>c3", 0.0, 0.0),
            ],
        );
        let cr = ShapleyCount {
            lookback_days: 90.0,
        }
        .attribute(&a);
        for c in ["c1", "c2", "c3"] {
            assert!(close(cr.conversions[c], 1.0 / 3.0));
        }
        let b = paths(
            &["a", "b"],
            &[
                ("a", 1.0, 1.0),
                ("a", 1.0, 1.0),
                ("a", 0.0, 0.0),
                ("b", 1.0, 1.0),
                ("a>b>a", 1.0, 1.0),
            ],
        );
        let cr = ShapleyCount {
            lookback_days: 90.0,
        }
        .attribute(&b);
        assert!(close(cr.conversions["a"], 2.5) && close(cr.conversions["b"], 1.5));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn closed_form_equals_the_subset_sum_oracle(
            n in 1usize..=8,
            raw in prop::collection::vec(
                (prop::collection::vec(0usize..8, 0..7), 0u8..3, 0u8..50),
                1..25,
            ),
        ) {
            let names: Vec<String> = (0..n).map(|i| format!("ch{i}")).collect();
            let labels: Vec<&str> = names.iter().map(String::as_str).collect();
            let items: Vec<(String, f64, f64)> = raw
                .iter()
                .map(|(p, c, r)| {
                    let path = p.iter().map(|&i| names[i % n].clone()).collect::<Vec<_>>().join(">");
                    (path, *c as f64, if *c > 0 { *r as f64 } else { 0.0 })
                })
                .collect();
            let items: Vec<(&str, f64, f64)> =
                items.iter().map(|(p, c, r)| (p.as_str(), *c, *r)).collect();
            let js = paths(&labels, &items);
            let cr = ShapleyCount { lookback_days: 90.0 }.attribute(&js);
            let conv = oracle(&js, 90.0, false);
            let rev = oracle(&js, 90.0, true);
            for (i, l) in js.labels.iter().enumerate() {
                prop_assert!((cr.conversions[l] - conv[i]).abs() < 1e-9, "{l}");
                prop_assert!((cr.revenue[l] - rev[i]).abs() < 1e-9, "{l}");
            }
        }
    }
}
