//! The `funnel` family (docs/model.md §1.8): a hidden stage per person —
//! unaware, aware, considering, intent. Each active touch moves its person up
//! one stage with a channel × stage probability (checked against the touch's
//! own arming uniform); a person with no touch for `decay_days` falls one
//! stage back per such span; reaching intent makes the lead after the
//! person's own delay. The touch that moved the person into intent is the
//! proximate cause.
//!
//! With the same draws, removing touches never raises a person's stage at any
//! time (fewer touches mean as much decay or more, and a lower stage can only
//! climb to where the higher one was), so leads only come later or not at
//! all: the monotonicity the truths and the account settlement rely on.
//! Pure: draws nothing.

use crate::scenario::{Funnel, Scenario};

/// A funnel's constants, per channel.
#[derive(Clone, Debug)]
pub struct FunnelModel {
    /// Stages below intent.
    pub steps: u8,
    /// Days without a touch per stage lost (infinite: never).
    pub decay_days: f64,
    /// Mean days from intent to the lead.
    pub lead_delay_days: f64,
    /// Per channel, the probability of moving up from each stage below intent.
    pub advance: Vec<Vec<f64>>,
}

impl FunnelModel {
    /// The constants of `sc`'s funnel table.
    pub fn new(sc: &Scenario, f: &Funnel) -> FunnelModel {
        FunnelModel {
            steps: f.steps as u8,
            decay_days: f.decay_days,
            lead_delay_days: f.lead_delay_days,
            advance: sc.channels.iter().map(|c| f.advance_of(&c.id)).collect(),
        }
    }
}

/// One person's walk through the funnel.
#[derive(Clone, Copy, Debug)]
pub(super) struct Stage {
    level: u8,
    last_touch: f64,
}

impl Stage {
    pub(super) fn start() -> Stage {
        Stage {
            level: 0,
            last_touch: f64::NEG_INFINITY,
        }
    }

    /// An active touch of `channel` at `time`: decay since the last touch,
    /// then a move up if `arm_u` < the stage's probability × `scale`.
    /// Returns (moved up, moved into intent).
    pub(super) fn touch(
        &mut self,
        f: &FunnelModel,
        channel: usize,
        time: f64,
        arm_u: f64,
        scale: f64,
    ) -> (bool, bool) {
        if self.level >= f.steps {
            return (false, false);
        }
        if self.level > 0 {
            let lost = ((time - self.last_touch) / f.decay_days).floor();
            self.level = if lost >= self.level as f64 {
                0
            } else {
                self.level - lost as u8
            };
        }
        self.last_touch = time;
        let p = (f.advance[channel][self.level as usize] * scale).min(1.0);
        if arm_u < p {
            self.level += 1;
            return (true, self.level == f.steps);
        }
        (false, false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(decay_days: f64) -> FunnelModel {
        FunnelModel {
            steps: 3,
            decay_days,
            lead_delay_days: 0.0,
            advance: vec![vec![0.9, 0.0, 0.0], vec![0.0, 0.9, 0.9]],
        }
    }

    #[test]
    fn each_stage_needs_its_own_channel_and_intent_is_reached_once() {
        let f = model(f64::INFINITY);
        let mut s = Stage::start();
        // The lower-funnel channel cannot move an unaware person.
        assert_eq!(s.touch(&f, 1, 0.0, 0.1, 1.0), (false, false));
        assert_eq!(s.level, 0);
        assert_eq!(s.touch(&f, 0, 1.0, 0.1, 1.0), (true, false));
        assert_eq!(s.touch(&f, 1, 2.0, 0.1, 1.0), (true, false));
        assert_eq!(
            s.touch(&f, 1, 3.0, 0.1, 1.0),
            (true, true),
            "third step reaches intent"
        );
        assert_eq!(
            s.touch(&f, 1, 4.0, 0.0, 1.0),
            (false, false),
            "intent is reached once"
        );
        // A uniform above the probability moves nobody.
        let mut s = Stage::start();
        assert_eq!(s.touch(&f, 0, 0.0, 0.95, 1.0), (false, false));
        assert_eq!(s.level, 0);
    }

    #[test]
    fn a_quiet_spell_costs_a_stage_per_decay_span() {
        let f = model(10.0);
        let mut s = Stage::start();
        s.touch(&f, 0, 0.0, 0.1, 1.0);
        s.touch(&f, 1, 1.0, 0.1, 1.0);
        assert_eq!(s.level, 2);
        // 25 days later: two spans lost (2 → 0), then this touch of the
        // lower-funnel channel cannot move an unaware person.
        s.touch(&f, 1, 26.0, 0.1, 1.0);
        assert_eq!(s.level, 0);
        // 9.9 days: nothing lost.
        s.touch(&f, 0, 30.0, 0.1, 1.0);
        s.touch(&f, 1, 39.9, 0.1, 1.0);
        assert_eq!(s.level, 2);
    }
}
