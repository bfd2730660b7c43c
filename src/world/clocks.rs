//! The conversion mechanism evaluated for one person and any set of present
//! channels: which touches were active (targeting and triggers), which one
//! makes the lead and when — the first clock to fire (family `clocks`) or
//! the touch into intent (family `funnel`, `funnel.rs`). Pure: the
//! candidates and the person carry every draw it needs.

use super::funnel::Stage;
use super::*;
use crate::scenario::Trigger;

/// The channel index a return visit candidate carries (no channel brought it).
pub(super) const RETURN: u16 = u16::MAX;

/// A kept candidate event of one person (channel touch or return visit).
#[derive(Clone, Debug)]
pub(super) struct Cand {
    pub(super) time: f64,
    pub(super) channel: u16,
    pub(super) key: u32,
    pub(super) arm_u: f64,
    pub(super) delay: f64,
    pub(super) g: f64,
    pub(super) device: u32,
    pub(super) pages: u16,
    pub(super) dwell_s: u16,
    pub(super) campaign: u8,
    pub(super) repeat_u: f64,
}

/// Which touches a counterfactual keeps: the window touches of the channels
/// in `mask` (bit c), the baseline clock, the warm-up history (every
/// counterfactual keeps it; only the closed-form Shapley turns it off to
/// find a player's own firing), and nothing at or after `cutoff` (the
/// Shapley game: touches after the real lead play no part).
#[derive(Clone, Copy, Debug)]
pub(super) struct Present {
    pub(super) mask: u32,
    pub(super) baseline: bool,
    pub(super) history: bool,
    pub(super) cutoff: f64,
}

impl Present {
    /// The channels in `mask` and the baseline if asked, with the history, no cutoff.
    pub(super) fn window(mask: u32, baseline: bool) -> Present {
        Present {
            mask,
            baseline,
            history: true,
            cutoff: f64::INFINITY,
        }
    }

    /// The same, cut before `cutoff`.
    pub(super) fn before(self, cutoff: f64) -> Present {
        Present { cutoff, ..self }
    }
}

/// The result of evaluating the clock model for one set of present players.
#[derive(Clone, Copy, Debug)]
pub(super) struct Firing {
    /// Earliest firing time (infinite if none).
    pub(super) time: f64,
    /// Channel of the cause, or None for the baseline.
    pub(super) cause: Option<u16>,
    /// Index in the candidate list of the causing touch.
    pub(super) cause_idx: Option<usize>,
}

pub(super) struct PersonSim<'a> {
    pub(super) sc: &'a Scenario,
    pub(super) model: &'a ChannelModel,
    pub(super) z: f64,
    pub(super) cands: Vec<Cand>,
    /// Baseline firing time if its clock is armed.
    pub(super) baseline_fire: Option<f64>,
    pub(super) horizon: f64,
    /// Days from intent to the lead (family `funnel`; 0 otherwise).
    pub(super) lead_delay: f64,
}

impl PersonSim<'_> {
    pub(super) fn is_click(&self, c: u16) -> bool {
        c == RETURN || self.sc.channels[c as usize].kind == TouchKind::Click
    }

    /// Evaluate which candidates are active and the earliest firing with the
    /// players of `present` (see [`Present`]). `active`, when given, receives
    /// the activity flag of every candidate (the whole timeline is then
    /// walked and `present.cutoff` must be infinite; otherwise the walk stops
    /// once the outcome is decided).
    pub(super) fn evaluate(
        &self,
        present: Present,
        mut active: Option<&mut Vec<(bool, bool)>>,
    ) -> Firing {
        debug_assert!(active.is_none() || present.cutoff == f64::INFINITY);
        let mut first = Firing {
            time: f64::INFINITY,
            cause: None,
            cause_idx: None,
        };
        if present.baseline
            && let Some(tb) = self.baseline_fire
        {
            first.time = tb;
        }
        let mut any_visit = false;
        let mut last_visit = f64::NEG_INFINITY;
        let mut seen: u32 = 0;
        let mut form_inserted = false;
        let mut stage = Stage::start();
        for (i, c) in self.cands.iter().enumerate() {
            if c.time >= present.cutoff {
                break;
            }
            if c.time >= first.time {
                match active.as_deref_mut() {
                    None => break,
                    Some(_) => {
                        // The outcome is decided; the form-fill visit (if a lead
                        // in the window) happened at first.time and triggers too.
                        if !form_inserted && first.time >= 0.0 && first.time <= self.horizon {
                            any_visit = true;
                            last_visit = last_visit.max(first.time);
                            form_inserted = true;
                        }
                    }
                }
            }
            let is_active = if c.channel == RETURN {
                any_visit
            } else {
                let ch = &self.sc.channels[c.channel as usize];
                let here = if c.time < 0.0 {
                    present.history
                } else {
                    present.mask & (1 << c.channel) != 0
                };
                here && match ch.trigger {
                    Trigger::None => true,
                    Trigger::Retargeting => {
                        any_visit && c.time - last_visit <= ch.trigger_window_days
                    }
                }
            };
            if !is_active {
                if let Some(a) = active.as_deref_mut() {
                    a.push((false, false));
                }
                continue;
            }
            let mut armed = false;
            if c.channel != RETURN {
                let ch = &self.sc.channels[c.channel as usize];
                let mut syn = 1.0;
                for &(from, m) in &self.model.synergy[c.channel as usize] {
                    if seen & (1 << from) != 0 {
                        syn *= m;
                    }
                }
                // `armed`: the touch armed a clock (funnel: moved its person up);
                // `fire`: when it makes the lead, if it does.
                let fire = match &self.model.funnel {
                    None => {
                        let p = (ch.conversion_rate * self.z * c.g * syn).min(1.0);
                        armed = c.arm_u < p;
                        armed.then_some(c.time + c.delay)
                    }
                    Some(f) => {
                        let scale = self.z * c.g * syn;
                        let (up, intent) =
                            stage.touch(f, c.channel as usize, c.time, c.arm_u, scale);
                        armed = up;
                        intent.then_some(c.time + self.lead_delay)
                    }
                };
                if let Some(fire) = fire {
                    if fire < first.time {
                        first = Firing {
                            time: fire,
                            cause: Some(c.channel),
                            cause_idx: Some(i),
                        };
                    }
                }
                seen |= 1 << c.channel;
            }
            if let Some(a) = active.as_deref_mut() {
                a.push((true, armed));
            }
            if self.is_click(c.channel) {
                any_visit = true;
                last_visit = c.time;
            }
        }
        first
    }

    /// Does a firing make a lead in the window?
    pub(super) fn in_window(&self, t: f64) -> bool {
        t >= 0.0 && t <= self.horizon
    }
}
