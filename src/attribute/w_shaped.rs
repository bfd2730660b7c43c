//! `w_shaped` as published: 30 % to the first touch, 30 % to the
//! lead-creating touch, 30 % to the opportunity-creating touch, and the
//! other 10 % spread equally over the remaining touches.
//!
//! **The journey it reads** is the converting journey's touches in the
//! look-back window before the lead, followed by the touches after the lead
//! up to the cluster's earliest opportunity ([`Journeys::post_lead_of`]; no
//! other model sees those). Roles:
//! - first touch: the first touch in the look-back window;
//! - lead-creating touch: the last touch at or before the lead;
//! - opportunity-creating touch: the last touch at or before the
//!   opportunity (a post-lead touch when there is one, else a touch before
//!   the lead).
//!
//! **Edge cases.**
//! - Roles that coincide add their shares on one touch (no post-lead touch:
//!   the lead touch is also the opportunity touch, 60 %).
//! - Fewer than 4 touches, or every touch holding a role: the role shares
//!   are normalised to sum to 1 (3 touches, one role each: ⅓ each; first =
//!   lead plus an opportunity touch: ⅔ and ⅓; one touch: 100 %).
//! - No opportunity (or one before every touch in the window): U-shaped,
//!   40 % to the first and 40 % to the lead touch, 20 % over the rest, same
//!   normalisation.
//! - No touch in the look-back window before the lead: `unknown`, as in
//!   every model (post-lead touches alone did not create the lead).
//! - Revenue follows the same weights. A path file has no opportunity, so
//!   this model does not run on one.
//!
//! Must never: name the world, the observation layer or the truth ledger.

use super::{Attributor, DEFAULT_LOOKBACK_DAYS, Journeys, LOOKBACK, Touch, credit_from};
use crate::base::credit::Credit;
use crate::strategy::{Needs, Strategy, StrategyDescriptor};
use serde::{Deserialize, Serialize};

/// W-shaped (first, lead, opportunity) weights.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default = "crate::strategy::default")]
pub struct WShaped {
    /// Touches older than this before the lead are ignored.
    pub lookback_days: f64,
}

/// Share of each role with an opportunity, and without one.
const W_ROLE: f64 = 0.3;
const U_ROLE: f64 = 0.4;

/// Weights over `before` (touches in the window up to the lead) then
/// `after` (post-lead touches up to the opportunity), into `w`.
fn weights(before: &[Touch], after: &[Touch], opp_ms: Option<i64>, w: &mut Vec<f64>) {
    let n = before.len() + after.len();
    w.clear();
    w.resize(n, 0.0);
    let lead = before.len() - 1;
    let opp = match opp_ms {
        Some(_) if !after.is_empty() => Some(n - 1),
        Some(t) => before.partition_point(|x| x.time_ms <= t).checked_sub(1),
        None => None,
    };
    let role_share = if opp.is_some() { W_ROLE } else { U_ROLE };
    for i in [Some(0), Some(lead), opp].into_iter().flatten() {
        w[i] += role_share;
    }
    let free = w.iter().filter(|&&x| x == 0.0).count();
    if free > 0 {
        let role_total: f64 = w.iter().sum();
        let rest = (1.0 - role_total) / free as f64;
        w.iter_mut().filter(|x| **x == 0.0).for_each(|x| *x = rest);
    }
    let sum: f64 = w.iter().sum();
    w.iter_mut().for_each(|x| *x /= sum);
}

impl Strategy for WShaped {
    const DESCRIPTOR: StrategyDescriptor = StrategyDescriptor {
        kind: "w_shaped",
        summary: "30% each to the first, lead-creating and opportunity-creating touches (the journey read up to the opportunity), 10% over the rest",
        params: &[LOOKBACK],
        needs: Needs {
            touch_times: false,
            opportunities: true,
        },
    };
    const DEFAULT: Self = WShaped {
        lookback_days: DEFAULT_LOOKBACK_DAYS,
    };
}

impl Attributor for WShaped {
    fn name(&self) -> String {
        super::model_id(self.id(), self.lookback_days)
    }

    fn lookback_days(&self) -> f64 {
        self.lookback_days
    }

    fn attribute(&self, journeys: &Journeys) -> Credit {
        let mut conv = vec![0.0; journeys.labels.len()];
        let mut rev = vec![0.0; journeys.labels.len()];
        let unknown = journeys.unknown as usize;
        let mut w = Vec::new();
        for (index, j) in journeys.journeys.iter().enumerate() {
            if !(j.conversions > 0.0 || j.revenue != 0.0) {
                continue;
            }
            let before = journeys.in_lookback(j, self.lookback_days);
            if before.is_empty() {
                conv[unknown] += j.conversions;
                rev[unknown] += j.revenue;
                continue;
            }
            let after = match j.opp_ms {
                Some(_) => journeys.post_lead_of(index),
                None => &[],
            };
            weights(before, after, j.opp_ms, &mut w);
            for (t, x) in before.iter().chain(after).zip(&w) {
                conv[t.label as usize] += x * j.conversions;
                rev[t.label as usize] += x * j.revenue;
            }
        }
        credit_from(journeys, &conv, &rev)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attribute::tests::close;

    fn journeys() -> Journeys {
        Journeys::new(
            ["a", "b", "c", "d", "e", "direct", "unassigned", "unknown"]
                .map(String::from)
                .to_vec(),
            5,
        )
    }

    #[test]
    fn an_opportunity_among_the_pre_lead_touches() {
        let mut js = journeys();
        let t = |i: i64| i * 1000;
        // An opportunity after the third touch, lead after the fifth (a
        // hand-made order; a log opens opportunities on leads).
        js.push_journey(
            &[(t(0), 0), (t(1), 1), (t(2), 2), (t(3), 3), (t(4), 4)],
            Some(t(5)),
            Some(t(2)),
            1.0,
            0.0,
            10.0,
        );
        let cr = WShaped {
            lookback_days: 90.0,
        }
        .attribute(&js);
        for (l, want) in [("a", 0.3), ("b", 0.05), ("c", 0.3), ("d", 0.05), ("e", 0.3)] {
            assert!(close(cr.conversions[l], want), "{l}");
            assert!(close(cr.revenue[l], 10.0 * want), "{l}");
        }
    }

    #[test]
    fn no_post_lead_touch_no_opportunity_and_short_journeys() {
        let mut js = journeys();
        // Opportunity after the lead, no touch in between: the lead touch
        // is also the opportunity touch (0.6).
        js.push_journey(&[(0, 0), (1, 1), (2, 2)], Some(3), Some(9), 1.0, 0.0, 0.0);
        // No opportunity: U-shaped 0.4 / 0.2 / 0.4.
        js.push_journey(&[(0, 3), (1, 1), (2, 4)], Some(3), None, 1.0, 0.0, 0.0);
        // Two touches with an opportunity: 0.3 : 0.6 normalised.
        js.push_journey(&[(0, 3), (1, 4)], Some(3), Some(5), 1.0, 0.0, 0.0);
        // One touch: everything.
        js.push_journey(&[(0, 2)], Some(3), Some(5), 1.0, 0.0, 0.0);
        let cr = WShaped {
            lookback_days: 90.0,
        }
        .attribute(&js);
        assert!(close(cr.conversions["a"], 0.3));
        assert!(close(cr.conversions["b"], 0.1 + 0.2));
        assert!(close(cr.conversions["c"], 0.6 + 1.0));
        assert!(close(cr.conversions["d"], 0.4 + 1.0 / 3.0));
        assert!(close(cr.conversions["e"], 0.4 + 2.0 / 3.0));
        assert!(close(cr.total_conversions(), 4.0));
    }

    #[test]
    fn post_lead_touches_without_an_opportunity_are_ignored() {
        // Post-lead touches only count up to an opportunity; a journey
        // pushed with some but no opportunity is U-shaped over the rest.
        let mut js = journeys();
        js.push_with_post_lead(&[(0, 0), (1, 1)], &[(5, 2)], Some(2), None, 1.0, 0.0, 0.0);
        let cr = WShaped {
            lookback_days: 90.0,
        }
        .attribute(&js);
        assert!(close(cr.conversions["a"], 0.5) && close(cr.conversions["b"], 0.5));
        assert_eq!(cr.conversions["c"], 0.0);
    }
}
