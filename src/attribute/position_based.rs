//! `position_based{first, last}` (U-shaped): share `first` to the first touch
//! in the look-back window, `last` to the last, and the rest split equally
//! over the touches between. One touch takes everything; with two touches the
//! first and last shares are normalised to sum to 1 (equal halves when both
//! are 0).
//! Must never: name the world, the observation layer or the truth ledger.

use super::{Attributor, Journeys, credit_by_rule};
use crate::base::credit::Credit;

/// Fixed shares for the first and last touches.
#[derive(Clone, Copy, Debug)]
pub struct PositionBased {
    /// Share of the first touch (0..=1, `first + last <= 1`).
    pub first: f64,
    /// Share of the last touch.
    pub last: f64,
    /// Touches older than this before the lead are ignored.
    pub lookback_days: f64,
}

/// U-shaped weights over `n` touches (summing to 1).
pub(crate) fn u_shaped(first: f64, last: f64, w: &mut [f64]) {
    let n = w.len();
    match n {
        0 => {}
        1 => w[0] = 1.0,
        2 => {
            let sum = first + last;
            if sum > 0.0 {
                w[0] = first / sum;
                w[1] = last / sum;
            } else {
                w.fill(0.5);
            }
        }
        _ => {
            let middle = (1.0 - first - last).max(0.0) / (n - 2) as f64;
            w.fill(middle);
            w[0] = first;
            w[n - 1] = last;
            // When first + last < 1 the shares already sum to 1; renormalise
            // only against rounding.
            let sum: f64 = w.iter().sum();
            w.iter_mut().for_each(|x| *x /= sum);
        }
    }
}

impl Attributor for PositionBased {
    fn name(&self) -> String {
        crate::spec::AttributorSpec::PositionBased {
            first: self.first,
            last: self.last,
            lookback_days: self.lookback_days,
        }
        .id()
    }

    fn attribute(&self, journeys: &Journeys) -> Credit {
        credit_by_rule(journeys, self.lookback_days, |_, w| {
            u_shaped(self.first, self.last, w)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attribute::tests::{close, paths};

    #[test]
    fn shares_by_position() {
        let js = paths(
            &["a", "b", "c", "d"],
            &[("a>b>c>d", 1.0, 10.0), ("a>b", 1.0, 0.0), ("c", 1.0, 0.0)],
        );
        let cr = PositionBased {
            first: 0.4,
            last: 0.4,
            lookback_days: 90.0,
        }
        .attribute(&js);
        // a: 0.4 + 0.5; b: 0.1 + 0.5; c: 0.1 + 1; d: 0.4.
        assert!(close(cr.conversions["a"], 0.9));
        assert!(close(cr.conversions["b"], 0.6));
        assert!(close(cr.conversions["c"], 1.1));
        assert!(close(cr.conversions["d"], 0.4));
        assert!(close(cr.revenue["b"], 1.0));
        let cr = PositionBased {
            first: 0.3,
            last: 0.1,
            lookback_days: 90.0,
        }
        .attribute(&js);
        // Two touches: 0.3 : 0.1 normalised.
        assert!(close(cr.conversions["a"], 0.3 + 0.75));
        assert!(close(cr.conversions["b"], 0.3 + 0.25));
        let cr = PositionBased {
            first: 0.0,
            last: 0.0,
            lookback_days: 90.0,
        }
        .attribute(&js);
        assert!(close(cr.conversions["a"], 0.5) && close(cr.conversions["b"], 1.0));
    }
}
