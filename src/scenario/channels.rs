//! `[[channels]]` and `[[synergy]]`: what each channel spends, reaches and
//! triggers (docs/model.md §1.2–§1.4).

use super::defaults::*;
use super::*;

/// Whether a channel's touch produces a site visit.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum TouchKind {
    /// A click: produces a site visit.
    Click,
    /// A view: can influence, produces no visit.
    Impression,
}

/// Who a channel can reach.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Audience {
    /// Everyone.
    All,
    /// Newsletter subscribers only; their visits carry an email token.
    Subscribers,
}

/// What a channel's touches need before they can happen.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// Exogenous: a Poisson process over the whole timeline.
    None,
    /// Only within `trigger_window_days` after a site visit.
    Retargeting,
}

/// A marketing channel (docs/model.md §1.2–§1.4).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Channel {
    /// Label (snake_case); not `direct`, `unassigned`, `unknown` or `baseline`.
    pub id: String,
    /// `click` or `impression`.
    #[serde(default = "d_click")]
    pub kind: TouchKind,
    /// `all` or `subscribers`.
    #[serde(default = "d_all")]
    pub audience: Audience,
    /// `none` or `retargeting`.
    #[serde(default = "d_trigger")]
    pub trigger: Trigger,
    /// Retargeting window after a visit, days.
    #[serde(default = "d_trigger_window")]
    pub trigger_window_days: f64,
    /// Spend per period per 1,000 persons; present ⇔ paid.
    #[serde(default)]
    pub spend: Option<f64>,
    /// Paid: touches per person per day at saturation.
    #[serde(default)]
    pub max_rate: Option<f64>,
    /// Paid: spend per 1,000 persons at which the rate is half of `max_rate` (K).
    #[serde(default)]
    pub half_saturation: Option<f64>,
    /// Paid: Hill exponent α.
    #[serde(default = "d_one_f")]
    pub hill_exponent: f64,
    /// Unpaid: touches per person per day.
    #[serde(default)]
    pub rate: Option<f64>,
    /// Probability a touch arms a conversion clock at z = g = synergy = 1.
    pub conversion_rate: f64,
    /// Delay from an armed touch to its clock firing.
    #[serde(default = "d_delay")]
    pub delay: GammaDays,
    /// Lead quality of leads this channel causes (multiplies the close rate; mean 1).
    #[serde(default = "d_one_f")]
    pub quality: f64,
    /// γ: targeting by intent; rate × z^γ / E[z^γ].
    #[serde(default)]
    pub intent_exponent: f64,
    /// κ: g(engagement) = (pages / pages_mean)^κ.
    #[serde(default)]
    pub engagement_exponent: f64,
    /// Which device types its touches land on.
    #[serde(default = "d_device_mix")]
    pub device_mix: DeviceMix,
    /// Observation: share of its visits recorded as `direct` (overrides `observe.referrer_loss_rate`).
    #[serde(default)]
    pub referrer_loss_rate: Option<f64>,
    /// Observation: the rest of its row of the source confusion matrix —
    /// share of its visits recorded as `unassigned` or as another channel
    /// (mis-tagging); `direct` here is the same as `referrer_loss_rate`.
    /// What no entry takes is recorded correctly.
    #[serde(default)]
    pub recorded_as: BTreeMap<String, f64>,
    /// Observation: the click-id parameter its clicks carry (`gclid`,
    /// `fbclid`, …); no click ids when absent.
    #[serde(default)]
    pub click_id: Option<String>,
    /// Observation: the platform's offline-conversion import window, days
    /// (a deal can be imported while its click id is younger than this).
    #[serde(default = "d_click_window")]
    pub click_window_days: f64,
    /// Observation: the platform is a classified tracker for WebKit ITP: a
    /// script-set cookie written on a visit carrying its click id expires
    /// after 24 hours (instead of `itp_cap_days`).
    #[serde(default)]
    pub click_id_classified: bool,
    /// Observation (paid): the platform's attribution setting — a click
    /// claims the conversions within this many days after it.
    #[serde(default = "d_claim_click")]
    pub claim_click_days: f64,
    /// Observation (paid): a view (impression) claims the conversions within
    /// this many days after it.
    #[serde(default = "d_one_f")]
    pub claim_view_days: f64,
    /// Campaign names its visits carry (one drawn per touch); default `[id]`.
    #[serde(default)]
    pub campaigns: Vec<String>,
    /// Landing page path of its visits.
    #[serde(default = "d_landing")]
    pub landing_page: String,
}

impl Channel {
    /// True when the channel is bought (has a `spend`).
    pub fn paid(&self) -> bool {
        self.spend.is_some()
    }

    /// Touch rate per person per day at a given spend per 1,000 persons (Hill).
    pub fn rate_at(&self, spend: f64) -> f64 {
        match (self.max_rate, self.half_saturation) {
            (Some(max), Some(k)) if self.paid() => {
                if spend <= 0.0 {
                    return 0.0;
                }
                let a = self.hill_exponent;
                let sa = spend.powf(a);
                max * sa / (k.powf(a) + sa)
            }
            _ => self.rate.unwrap_or(0.0),
        }
    }

    /// Its row of the source confusion matrix: (recorded label, share) for
    /// every label other than itself, `direct` first (its `recorded_as.direct`,
    /// else `referrer_loss_rate`, else `default_direct`), then the rest of
    /// `recorded_as` in key order. The channel itself takes what remains.
    pub fn recorded_as_row(&self, default_direct: f64) -> Vec<(&str, f64)> {
        let direct = self
            .recorded_as
            .get(crate::log::DIRECT)
            .copied()
            .or(self.referrer_loss_rate)
            .unwrap_or(default_direct);
        let mut row = vec![(crate::log::DIRECT, direct)];
        row.extend(
            self.recorded_as
                .iter()
                .filter(|(k, _)| k.as_str() != crate::log::DIRECT)
                .map(|(k, &v)| (k.as_str(), v)),
        );
        row
    }

    /// The rate candidates are generated at: `max_rate` when paid, `rate` otherwise.
    pub fn candidate_rate(&self) -> f64 {
        if self.paid() {
            self.max_rate.unwrap_or(0.0)
        } else {
            self.rate.unwrap_or(0.0)
        }
    }
}

/// A touch of `from` multiplies the conversion rate of later touches of `to`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Synergy {
    /// Channel whose touch comes first.
    pub from: String,
    /// Channel whose later touches convert better.
    pub to: String,
    /// Multiplier (≥ 1), applied once per (from, to) pair.
    pub multiplier: f64,
}
