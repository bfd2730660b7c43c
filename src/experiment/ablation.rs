//! The loss ablation: the same world re-observed with one loss mechanism
//! switched off at a time, then all of them, the world and the truth kept, so
//! that the change in stitching F1 and model error is what that loss costs
//! (scenario `loss_ablation = true`). Each mechanism is a [`LossMechanism`]
//! whose descriptor names it, the scenario keys that switch it off and what
//! it does; the ablation, the report and the narrator iterate over the enum.
//! Must never: change the world or the truth of the run it re-observes.

use super::scored_channels;
use crate::attribute::{self, Journeys};
use crate::log::EventLog;
use crate::observe;
use crate::scenario::{Observe, Scenario, TagBlockRates};
use crate::score;
use crate::spec::{AttributorSpec, StitcherSpec};
use crate::stitch;
use crate::truth::Truth;
use crate::world;

/// A loss mechanism the ablation can switch off.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LossMechanism {
    /// Users declining the consent banner.
    Consent,
    /// Ad blockers and tracking protection that never run the tracker.
    TagBlocking,
    /// WebKit ITP capping script-set cookies.
    Itp,
    /// Users deleting cookies.
    CookieDeletion,
    /// Private windows (a fresh one-off cookie per visit).
    PrivateWindows,
    /// Lost referrers, unassigned sources and mis-tagging.
    SourceLoss,
    /// Carrier-NAT and relay IP addresses shared with strangers.
    IpNoise,
}

/// What a loss mechanism is, for the ablation and the reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LossDescriptor {
    /// Its name in the ablation rows (`switched_off`).
    pub name: &'static str,
    /// The scenario keys the ablation sets to "no loss".
    pub knob: &'static str,
    /// One sentence on what it does to the record.
    pub sentence: &'static str,
}

impl LossMechanism {
    /// Every mechanism, in ablation order.
    pub const ALL: [LossMechanism; 7] = [
        LossMechanism::Consent,
        LossMechanism::TagBlocking,
        LossMechanism::Itp,
        LossMechanism::CookieDeletion,
        LossMechanism::PrivateWindows,
        LossMechanism::SourceLoss,
        LossMechanism::IpNoise,
    ];

    /// Its name, knob and sentence.
    pub const fn descriptor(self) -> LossDescriptor {
        let (name, knob, sentence) = match self {
            LossMechanism::Consent => (
                "consent",
                "observe.consent_decline_rate",
                "a device whose user declines consent is not tracked, or only under a one-off id",
            ),
            LossMechanism::TagBlocking => (
                "tag_blocking",
                "observe.tag_block_rate",
                "a device that blocks the tag never runs the tracker: its visits are not recorded",
            ),
            LossMechanism::Itp => (
                "itp",
                "observe.itp_cap_days",
                "WebKit ITP expires a script-set cookie days after its last write, so a returning visitor gets a new one",
            ),
            LossMechanism::CookieDeletion => (
                "cookie_deletion",
                "observe.cookie_deletion_scale",
                "a deleted cookie splits one visitor into several",
            ),
            LossMechanism::PrivateWindows => (
                "private_windows",
                "observe.private_window_rate",
                "a visit in a private window gets a fresh cookie that is never seen again",
            ),
            LossMechanism::SourceLoss => (
                "source_loss",
                "observe.referrer_loss_rate, channels.*.referrer_loss_rate, channels.*.recorded_as",
                "a visit whose referrer or UTM tags are lost is recorded as direct, unassigned or another channel",
            ),
            LossMechanism::IpNoise => (
                "ip_noise",
                "observe.ip_noise_rate",
                "a visit from a carrier-NAT or relay address shares its IP with strangers",
            ),
        };
        LossDescriptor {
            name,
            knob,
            sentence,
        }
    }

    /// Its name in the ablation rows.
    pub const fn name(self) -> &'static str {
        self.descriptor().name
    }

    /// Turn its knob to "no loss" in `s`.
    fn switch_off(self, s: &mut Scenario) {
        let o = &mut s.observe;
        match self {
            LossMechanism::Consent => o.consent_decline_rate = 0.0,
            LossMechanism::TagBlocking => o.tag_block_rate = TagBlockRates::NONE,
            LossMechanism::Itp => o.itp_cap_days = 0.0,
            LossMechanism::CookieDeletion => o.cookie_deletion_scale = 0.0,
            LossMechanism::PrivateWindows => o.private_window_rate = 0.0,
            LossMechanism::IpNoise => o.ip_noise_rate = Observe::lossless().ip_noise_rate,
            LossMechanism::SourceLoss => {
                o.referrer_loss_rate = 0.0;
                for ch in &mut s.channels {
                    ch.referrer_loss_rate = None;
                    ch.recorded_as.clear();
                }
            }
        }
    }
}

/// One re-observation of the ablation: one mechanism off, or all of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ablation {
    /// This mechanism switched off.
    Off(LossMechanism),
    /// Every loss switched off (a lossless observation).
    AllOff,
}

impl Ablation {
    /// Its name in the ablation rows (`all` for every loss off).
    pub const fn name(self) -> &'static str {
        match self {
            Ablation::Off(m) => m.name(),
            Ablation::AllOff => "all",
        }
    }
}

/// The ablation's re-observations, in report order: each mechanism, then all.
pub const ABLATIONS: [Ablation; 8] = {
    let mut out = [Ablation::AllOff; 8];
    let mut i = 0;
    while i < LossMechanism::ALL.len() {
        out[i] = Ablation::Off(LossMechanism::ALL[i]);
        i += 1;
    }
    out
};

/// The scenario with one mechanism (or every loss) switched off.
pub fn without_loss(sc: &Scenario, ablation: Ablation) -> Scenario {
    let mut s = sc.clone();
    match ablation {
        Ablation::Off(m) => m.switch_off(&mut s),
        Ablation::AllOff => {
            s.observe = Observe::lossless();
            LossMechanism::SourceLoss.switch_off(&mut s);
        }
    }
    s
}

/// The stitcher and models the loss ablation scores (a fixed, cheap set:
/// what a default tracker and the GA-style report would show).
const ABLATION_STITCHER: StitcherSpec = StitcherSpec::Deterministic;
const ABLATION_MODELS: [&str; 3] = ["last_non_direct", "linear", "markov_1"];

/// One loss mechanism switched off: what stitching and credit get back.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct AblationRow {
    /// The mechanism switched off (`none` = the scenario as it is).
    pub switched_off: String,
    /// Stitcher scored.
    pub stitcher: String,
    /// Pairwise F1 of that stitcher.
    pub f1: f64,
    /// Pairwise recall.
    pub recall: f64,
    /// Headline error (`tvd` of lead shares vs shapley) per model id.
    pub tvd: std::collections::BTreeMap<String, f64>,
}

/// Score the ablation stitcher and models on one log.
fn ablation_row(sc: &Scenario, name: &str, log: &EventLog, truth: &Truth) -> AblationRow {
    let ids = stitch::build(&ABLATION_STITCHER).stitch(log);
    let metrics = score::score_stitching(log, &ids, truth);
    let journeys = Journeys::build(log, &ids);
    let channels = scored_channels(sc);
    let tvd = ABLATION_MODELS
        .iter()
        .map(|id| {
            let spec = AttributorSpec::parse(id).expect("registered model id");
            let credit = attribute::build(&spec).attribute(&journeys);
            let e = score::credit_error(
                &credit,
                &truth.shapley,
                &channels,
                crate::base::credit::Measure::Conversions,
            );
            (spec.id(), e.tvd)
        })
        .collect();
    AblationRow {
        switched_off: name.to_string(),
        stitcher: ABLATION_STITCHER.id(),
        f1: metrics.pairwise.f1,
        recall: metrics.pairwise.recall,
        tvd,
    }
}

/// Re-observe the same world with each of [`ABLATIONS`] in turn (the world
/// and the truth stay as they are); the first row is the run itself (`none`).
pub(super) fn loss_ablation(
    sc: &Scenario,
    w: &world::World,
    log: &EventLog,
    truth: &Truth,
) -> Vec<AblationRow> {
    let mut rows = vec![ablation_row(sc, "none", log, truth)];
    for a in ABLATIONS {
        let s = without_loss(sc, a);
        let mut obs = observe::observe(&s, w);
        let events = std::mem::take(&mut obs.persons);
        let t = Truth::assemble(&s, w, events);
        rows.push(ablation_row(&s, a.name(), &obs.log, &t));
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ablation_names_are_distinct_and_end_with_all() {
        let names: Vec<&str> = ABLATIONS.iter().map(|a| a.name()).collect();
        assert_eq!(
            names,
            [
                "consent",
                "tag_blocking",
                "itp",
                "cookie_deletion",
                "private_windows",
                "source_loss",
                "ip_noise",
                "all"
            ]
        );
        for m in LossMechanism::ALL {
            let d = m.descriptor();
            assert!(d.knob.starts_with("observe."), "{}", d.name);
            assert!(!d.sentence.is_empty());
        }
    }
}
