//! `w_shaped`: three roles — the first touch in the look-back window, the
//! lead-creating touch (the last touch at or before the lead) and the
//! opportunity touch (the last touch at or before the cluster's earliest
//! opportunity) — get 30 % each; the other 10 % is split equally over the
//! touches holding no role. A touch holding several roles adds their shares;
//! when every touch holds a role, the role shares are normalised to 1.
//! A journey without an opportunity is U-shaped over the first and the lead
//! touch: 40 % each, 20 % over the rest (same normalisation).
//!
//! Journeys keep no touch after the lead (credit never goes there), and an
//! opportunity is opened on a lead, so in journeys built from a log the
//! opportunity touch is the lead touch: with an opportunity the lead touch
//! gets 60 %. A path file has no opportunities (every journey is U-shaped).
//! Must never: name the world, the observation layer or the truth ledger.

use super::{Attributor, Journeys, credit_by_journey_rule};
use crate::credit::Credit;

/// W-shaped (first, lead, opportunity) weights.
#[derive(Clone, Copy, Debug)]
pub struct WShaped {
    /// Touches older than this before the lead are ignored.
    pub lookback_days: f64,
}

/// Share of each role with an opportunity, and without one.
const W_ROLE: f64 = 0.3;
const U_ROLE: f64 = 0.4;

impl Attributor for WShaped {
    fn name(&self) -> String {
        crate::spec::AttributorSpec::WShaped {
            lookback_days: self.lookback_days,
        }
        .id()
    }

    fn attribute(&self, journeys: &Journeys) -> Credit {
        credit_by_journey_rule(journeys, self.lookback_days, |j, touches, w| {
            let n = touches.len();
            let opp = j.opp_ms.and_then(|t| {
                // Last touch at or before the opportunity, if any.
                touches.partition_point(|x| x.time_ms <= t).checked_sub(1)
            });
            let (role_share, roles) = match opp {
                Some(i) => (W_ROLE, [Some(0), Some(n - 1), Some(i)]),
                None => (U_ROLE, [Some(0), Some(n - 1), None]),
            };
            w.fill(0.0);
            for i in roles.into_iter().flatten() {
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
        })
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
    fn first_lead_and_opportunity_touches() {
        let mut js = journeys();
        let t = |i: i64| i * 1000;
        // An opportunity after the third touch, lead after the fifth: the
        // general rule (a journey from a log never has this order).
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
    fn opportunity_after_the_lead_and_no_opportunity() {
        let mut js = journeys();
        // Opportunity after the lead: its touch is the lead touch (0.6).
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
}
