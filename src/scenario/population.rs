//! `[population]` and `[[segments]]`: who the persons are and how their
//! leads are worked (docs/model.md §1.1, §1.7).

use super::defaults::*;
use super::*;

/// The population (docs/model.md §1.1).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct Population {
    /// Mean persons per household (1 + Poisson(mean − 1)).
    pub household_size_mean: f64,
    /// Share of groups that are offices rather than households.
    pub office_share: f64,
    /// Mean persons per office (1 + Poisson(mean − 1)).
    pub office_size_mean: f64,
    /// Shape k of the intent frailty z ~ Gamma(k, 1/k) (mean 1; smaller = more unequal).
    pub frailty_shape: f64,
    /// Mean extra devices per person (devices = 1 + Poisson(mean)).
    pub extra_devices_mean: f64,
    /// Device-type shares of a person's devices.
    pub device_types: DeviceMix,
    /// Browser shares per device type.
    pub browsers: Browsers,
    /// Share of multi-person households with one device every member uses.
    pub shared_device_rate: f64,
    /// Share of offices with one shared workstation every member uses.
    pub office_shared_device_rate: f64,
    /// B2B: each office is an account — its persons form a buying group, the
    /// first of its leads to be qualified opens the account's one
    /// opportunity, and the deal's revenue goes to that lead's cause.
    pub offices_are_accounts: bool,
    /// Share of persons subscribed to the newsletter from the start.
    pub newsletter_rate: f64,
    /// Probability the organic baseline clock is armed at z = 1 (fires uniformly in the window).
    pub baseline_rate: f64,
    /// Lead quality of baseline leads (multiplies the close rate; mean 1).
    pub baseline_quality: f64,
    /// Return visits (typed URL, bookmark) per day after a person's first visit.
    pub return_visit_rate: f64,
    /// Mean pages viewed per visit (1 + Poisson(mean − 1)).
    pub pages_mean: f64,
    /// Mean dwell per page, seconds (exponential).
    pub dwell_seconds_mean: f64,
}

impl Default for Population {
    fn default() -> Self {
        Population {
            household_size_mean: 2.2,
            office_share: 0.0,
            office_size_mean: 8.0,
            frailty_shape: 1.0,
            extra_devices_mean: 0.8,
            device_types: DeviceMix {
                desktop: 0.45,
                mobile: 0.45,
                tablet: 0.10,
            },
            browsers: Browsers::default(),
            shared_device_rate: 0.07,
            office_shared_device_rate: 0.0,
            offices_are_accounts: false,
            newsletter_rate: 0.10,
            baseline_rate: 0.01,
            baseline_quality: 1.0,
            return_visit_rate: 0.03,
            pages_mean: 3.0,
            dwell_seconds_mean: 40.0,
        }
    }
}

/// LogNormal deal size given by its median and log-sd.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq)]
pub struct DealSize {
    /// Median revenue of a deal.
    pub median: f64,
    /// Standard deviation of log revenue.
    pub sigma: f64,
}

/// A customer segment (docs/model.md §1.7).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Segment {
    /// Segment id (snake_case).
    pub id: String,
    /// Share of groups in this segment (normalised over segments).
    #[serde(default = "d_one_f")]
    pub share: f64,
    /// Probability a contacted lead becomes an opportunity.
    #[serde(default = "d_qualify")]
    pub qualify_rate: f64,
    /// Delay from lead to opportunity.
    #[serde(default = "d_qualify_delay")]
    pub qualify_delay: GammaDays,
    /// Probability an opportunity closes, times the cause's quality (capped at 1).
    #[serde(default = "d_close")]
    pub close_rate: f64,
    /// Delay from opportunity to closed deal.
    #[serde(default = "d_cycle")]
    pub sales_cycle: GammaDays,
    /// Revenue of a closed deal.
    #[serde(default = "d_deal")]
    pub deal_size: DealSize,
}
