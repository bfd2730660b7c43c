//! Scenario files: the TOML types with their defaults and units, loading, and
//! one validation pass that reports every problem with its key path.
//!
//! Keys use marketers' words (what each does: docs/model.md §1–§2);
//! `scenarios/reference.toml` lists every key with its default and source.
//! World keys change what happens; keys under `[observe]` (and a channel's
//! `referrer_loss_rate`) change only what is recorded. After [`Scenario::from_toml_str`] succeeds, the engine
//! trusts every value and never re-checks.
//! Must never: depend on any module to its right (world, observe, …).

mod validate;

use crate::log::SessionRule;
use crate::spec::{AttributorSpec, StitcherSpec};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub use validate::{Problem, ScenarioError};

/// A whole scenario: the world, what is observed, and the strategies to run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Scenario {
    /// Name used for the default output folder and in reports.
    #[serde(default = "d_name")]
    pub name: String,
    /// One sentence on what the scenario shows.
    #[serde(default)]
    pub description: String,
    /// Master seed: every draw flows from it.
    #[serde(default = "d_seed")]
    pub seed: u64,
    /// Independent worlds per run.
    #[serde(default = "d_one")]
    pub replicates: u32,
    /// Persons in one period's population.
    #[serde(default = "d_persons")]
    pub persons: u32,
    /// Length of the observed window (one period), days.
    #[serde(default = "d_horizon")]
    pub horizon_days: f64,
    /// Unobserved history before the window (left censoring), days.
    #[serde(default = "d_warmup")]
    pub warmup_days: f64,
    /// Days after the window during which deals are still followed.
    #[serde(default = "d_tail")]
    pub sales_tail_days: f64,
    /// First day of the window, `YYYY-MM-DD` (UTC); timestamps count from it.
    #[serde(default = "d_start")]
    pub start_date: String,
    /// Share of revenue kept as gross profit (profit = revenue × margin − spend).
    #[serde(default = "d_margin")]
    pub gross_margin: f64,
    /// Persons, groups, devices, browsers, baseline demand.
    #[serde(default)]
    pub population: Population,
    /// Customer segments with their sales parameters.
    #[serde(default = "d_segments")]
    pub segments: Vec<Segment>,
    /// Marketing channels.
    #[serde(default)]
    pub channels: Vec<Channel>,
    /// Optional synergies between channels.
    #[serde(default)]
    pub synergy: Vec<Synergy>,
    /// How the lead's form fill reaches the site.
    #[serde(default)]
    pub form_fill: FormFill,
    /// Lead handling before qualification.
    #[serde(default)]
    pub sales: Sales,
    /// What the tracker and the CRM record (never changes the truth).
    #[serde(default)]
    pub observe: Observe,
    /// How analytics tools cut the log into sessions.
    #[serde(default)]
    pub sessions: SessionRule,
    /// What a journey's touches are: every visit, or every session.
    #[serde(default)]
    pub journey_unit: JourneyUnit,
    /// Also re-observe each replicate's world with one loss mechanism
    /// switched off at a time, to show what each costs (`loss_ablation`).
    #[serde(default)]
    pub loss_ablation: bool,
    /// Stitchers to run (default: every registered one).
    #[serde(default)]
    pub stitchers: Vec<StitcherSpec>,
    /// Attribution models to run (default: every registered one).
    #[serde(default)]
    pub attributors: Vec<AttributorSpec>,
    /// Keys to sweep (`closedloop run` runs every grid point): dotted
    /// scenario keys, nested or quoted, each a list of values. Read by
    /// `experiment::sweep`; empty = no sweep.
    #[serde(default, skip_serializing_if = "toml::Table::is_empty")]
    pub sweep: toml::Table,
}

/// Gamma-distributed duration.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq)]
pub struct GammaDays {
    /// Shape k (> 0).
    pub shape: f64,
    /// Scale θ in days (> 0); mean = k·θ.
    pub scale_days: f64,
}

/// Shares per device type; need not sum to 1 (they are normalised).
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq)]
pub struct DeviceMix {
    /// Desktop and laptop computers.
    #[serde(default)]
    pub desktop: f64,
    /// Phones.
    #[serde(default)]
    pub mobile: f64,
    /// Tablets.
    #[serde(default)]
    pub tablet: f64,
}

impl DeviceMix {
    /// The shares as an array in [`DEVICE_TYPES`] order.
    pub fn as_array(&self) -> [f64; 3] {
        [self.desktop, self.mobile, self.tablet]
    }
}

/// Device types, in the order of [`DeviceMix::as_array`].
pub const DEVICE_TYPES: [&str; 3] = ["desktop", "mobile", "tablet"];
/// Browser families, in the order of [`BrowserMix::as_array`].
pub const BROWSERS: [&str; 5] = ["chrome", "safari", "firefox", "edge", "in_app"];

/// Shares per browser family for one device type.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq)]
pub struct BrowserMix {
    /// Chrome and Chromium-based browsers.
    #[serde(default)]
    pub chrome: f64,
    /// Safari (ITP applies).
    #[serde(default)]
    pub safari: f64,
    /// Firefox.
    #[serde(default)]
    pub firefox: f64,
    /// Edge.
    #[serde(default)]
    pub edge: f64,
    /// In-app browsers (social apps' web views).
    #[serde(default)]
    pub in_app: f64,
}

impl BrowserMix {
    /// The shares in [`BROWSERS`] order.
    pub fn as_array(&self) -> [f64; 5] {
        [
            self.chrome,
            self.safari,
            self.firefox,
            self.edge,
            self.in_app,
        ]
    }
}

impl BrowserMix {
    /// Every family at 0.
    pub const ZERO: BrowserMix = BrowserMix {
        chrome: 0.0,
        safari: 0.0,
        firefox: 0.0,
        edge: 0.0,
        in_app: 0.0,
    };
}

fn zero_mix() -> BrowserMix {
    BrowserMix::ZERO
}

/// A share per device type and browser family: of devices that never run
/// the tracker (`tag_block_rate`), or whose browser runs on WebKit
/// (`webkit_share`). In a scenario, a family or a device type not listed is 0;
/// omitting the whole table keeps the defaults.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq)]
pub struct DeviceBrowserRates {
    /// On desktops.
    #[serde(default = "zero_mix")]
    pub desktop: BrowserMix,
    /// On phones.
    #[serde(default = "zero_mix")]
    pub mobile: BrowserMix,
    /// On tablets.
    #[serde(default = "zero_mix")]
    pub tablet: BrowserMix,
}

/// Shares of devices that never run the tracker (ad blockers, strict privacy modes).
pub type TagBlockRates = DeviceBrowserRates;

impl Default for DeviceBrowserRates {
    /// Tag blocking's defaults: about 23 % of desktop devices at the default browser mix (scenarios/reference.toml:
    /// 15–30 % of desktop), a few percent of mobile. Assumptions.
    fn default() -> Self {
        let b = |chrome, safari, firefox, edge| BrowserMix {
            chrome,
            safari,
            firefox,
            edge,
            in_app: 0.0,
        };
        DeviceBrowserRates {
            desktop: b(0.25, 0.15, 0.35, 0.15),
            mobile: b(0.03, 0.08, 0.10, 0.0),
            tablet: b(0.03, 0.08, 0.10, 0.0),
        }
    }
}

impl DeviceBrowserRates {
    /// 0 everywhere (no tag blocking).
    pub const NONE: DeviceBrowserRates = DeviceBrowserRates {
        desktop: BrowserMix::ZERO,
        mobile: BrowserMix::ZERO,
        tablet: BrowserMix::ZERO,
    };

    /// `webkit_share`'s defaults: on iOS and iPadOS every browser and in-app
    /// view runs on WebKit, so a phone's or tablet's Chrome, Firefox, Edge or
    /// in-app browser is WebKit at the iOS share of that device type (about
    /// 44 % of phones and 61 % of tablets at the default browser mix; Chrome
    /// is mostly Android's). Desktop browsers other than Safari are not.
    /// Safari needs no entry (always WebKit).
    pub fn webkit_default() -> DeviceBrowserRates {
        let b = |chrome, firefox_edge_in_app| BrowserMix {
            chrome,
            safari: 1.0,
            firefox: firefox_edge_in_app,
            edge: firefox_edge_in_app,
            in_app: firefox_edge_in_app,
        };
        DeviceBrowserRates {
            desktop: BrowserMix {
                safari: 1.0,
                ..BrowserMix::ZERO
            },
            mobile: b(0.08, 0.44),
            tablet: b(0.14, 0.61),
        }
    }

    /// The per-device-type tables in [`DEVICE_TYPES`] order.
    pub fn as_array(&self) -> [&BrowserMix; 3] {
        [&self.desktop, &self.mobile, &self.tablet]
    }

    /// The rate for a device type and browser family (indices into
    /// [`DEVICE_TYPES`] and [`BROWSERS`]).
    pub fn rate(&self, device_type: usize, browser: usize) -> f64 {
        self.as_array()[device_type].as_array()[browser]
    }
}

/// Browser shares per device type.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Browsers {
    /// On desktops.
    pub desktop: BrowserMix,
    /// On phones.
    pub mobile: BrowserMix,
    /// On tablets.
    pub tablet: BrowserMix,
}

impl Default for Browsers {
    fn default() -> Self {
        let b = |chrome, safari, firefox, edge, in_app| BrowserMix {
            chrome,
            safari,
            firefox,
            edge,
            in_app,
        };
        Browsers {
            desktop: b(0.65, 0.15, 0.07, 0.13, 0.0),
            mobile: b(0.50, 0.40, 0.02, 0.0, 0.08),
            tablet: b(0.40, 0.55, 0.02, 0.0, 0.03),
        }
    }
}

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

/// The form-fill visit's return path (docs/model.md §1.6).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct FormFill {
    /// Weights of the channel the form-fill visit arrives by: channel ids,
    /// `direct`, and `cause` (the causing channel again, if it is a click channel).
    pub path: BTreeMap<String, f64>,
    /// Chance that a visit after the lead carries another form fill.
    pub repeat_rate: f64,
}

impl Default for FormFill {
    fn default() -> Self {
        FormFill {
            path: [("direct".to_string(), 0.6), ("cause".to_string(), 0.4)]
                .into_iter()
                .collect(),
            repeat_rate: 0.05,
        }
    }
}

/// Lead handling (docs/model.md §1.7).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct Sales {
    /// Share of leads sales never contacts.
    pub handoff_loss_rate: f64,
}

impl Default for Sales {
    fn default() -> Self {
        Sales {
            handoff_loss_rate: 0.1,
        }
    }
}

/// What the touches of a journey are.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum JourneyUnit {
    /// Every recorded visit.
    #[default]
    Visit,
    /// Every session (its first visit), as analytics tools report.
    Session,
}

/// What happens to visits whose visitor declined consent.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ConsentMode {
    /// The visit is not recorded at all.
    NotRecorded,
    /// The visit is recorded under a one-off cookie id.
    OneOffId,
}

/// How the tracker's cookie is written.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum CookieSetting {
    /// Set by script: WebKit's ITP (Safari, every browser on iOS) caps its life.
    Js,
    /// Set by the site's own server: exempt from the ITP cap.
    Server,
}

/// Observation parameters (docs/model.md §2): they change only what is recorded.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct Observe {
    /// Multiplier (0..=10) of the comScore cookie-deletion mixture; 1 = as measured.
    pub cookie_deletion_scale: f64,
    /// `js` or `server`.
    pub cookie_setting: CookieSetting,
    /// WebKit ITP: a script-set cookie expires this many days after its last write (0 = no ITP).
    pub itp_cap_days: f64,
    /// Share of visits made in a private window (a fresh one-off cookie).
    pub private_window_rate: f64,
    /// Share of devices whose user declines consent.
    pub consent_decline_rate: f64,
    /// Share of devices that never run the tracker, per device type and browser.
    pub tag_block_rate: TagBlockRates,
    /// Share of devices whose browser runs on WebKit (so under ITP), per
    /// device type and browser family; Safari always is.
    pub webkit_share: DeviceBrowserRates,
    /// Per device type: share of visits whose public IP is a carrier-NAT or
    /// relay address (shared with strangers) instead of the group's own.
    pub ip_noise_rate: DeviceMix,
    /// `not_recorded` or `one_off_id`.
    pub consent_mode: ConsentMode,
    /// Share of channel visits recorded as `direct` (lost referrer / UTMs).
    pub referrer_loss_rate: f64,
    /// Sites with accounts: share of a person's return visits made logged in
    /// once their first form fill has created the account (0 = no logins).
    pub login_rate: f64,
    /// Share of form fills whose email has a typo.
    pub email_typo_rate: f64,
    /// Share of form fills whose email is a case / dot / plus-tag variant.
    pub email_variant_rate: f64,
    /// Share of form fills made with the person's second address.
    pub second_email_rate: f64,
    /// Share of deals whose email the sales rep mistypes.
    pub rep_typo_rate: f64,
}

impl Default for Observe {
    fn default() -> Self {
        Observe {
            cookie_deletion_scale: 1.0,
            cookie_setting: CookieSetting::Js,
            itp_cap_days: 7.0,
            private_window_rate: 0.05,
            consent_decline_rate: 0.10,
            tag_block_rate: TagBlockRates::default(),
            webkit_share: DeviceBrowserRates::webkit_default(),
            ip_noise_rate: DeviceMix {
                desktop: 0.05,
                mobile: 0.5,
                tablet: 0.1,
            },
            consent_mode: ConsentMode::NotRecorded,
            referrer_loss_rate: 0.10,
            login_rate: 0.0,
            email_typo_rate: 0.02,
            email_variant_rate: 0.10,
            second_email_rate: 0.05,
            rep_typo_rate: 0.03,
        }
    }
}

impl Observe {
    /// Every loss switched off: the tracker sees each device under one cookie.
    pub fn lossless() -> Self {
        Observe {
            cookie_deletion_scale: 0.0,
            cookie_setting: CookieSetting::Server,
            itp_cap_days: 0.0,
            private_window_rate: 0.0,
            consent_decline_rate: 0.0,
            tag_block_rate: TagBlockRates::NONE,
            webkit_share: DeviceBrowserRates::webkit_default(),
            ip_noise_rate: DeviceMix {
                desktop: 0.0,
                mobile: 0.0,
                tablet: 0.0,
            },
            consent_mode: ConsentMode::NotRecorded,
            referrer_loss_rate: 0.0,
            login_rate: 0.0,
            email_typo_rate: 0.0,
            email_variant_rate: 0.0,
            second_email_rate: 0.0,
            rep_typo_rate: 0.0,
        }
    }
}

fn d_name() -> String {
    "scenario".into()
}
fn d_seed() -> u64 {
    42
}
fn d_one() -> u32 {
    1
}
fn d_one_f() -> f64 {
    1.0
}
fn d_persons() -> u32 {
    10_000
}
fn d_horizon() -> f64 {
    90.0
}
fn d_warmup() -> f64 {
    60.0
}
fn d_tail() -> f64 {
    120.0
}
fn d_start() -> String {
    "2026-01-01".into()
}
fn d_margin() -> f64 {
    0.7
}
fn d_qualify() -> f64 {
    0.5
}
fn d_qualify_delay() -> GammaDays {
    GammaDays {
        shape: 2.0,
        scale_days: 3.0,
    }
}
fn d_close() -> f64 {
    0.3
}
fn d_cycle() -> GammaDays {
    GammaDays {
        shape: 2.0,
        scale_days: 10.0,
    }
}
fn d_deal() -> DealSize {
    DealSize {
        median: 1000.0,
        sigma: 0.5,
    }
}
fn d_segments() -> Vec<Segment> {
    vec![Segment {
        id: "all".into(),
        share: 1.0,
        qualify_rate: d_qualify(),
        qualify_delay: d_qualify_delay(),
        close_rate: d_close(),
        sales_cycle: d_cycle(),
        deal_size: d_deal(),
    }]
}
fn d_click() -> TouchKind {
    TouchKind::Click
}
fn d_all() -> Audience {
    Audience::All
}
fn d_trigger() -> Trigger {
    Trigger::None
}
fn d_trigger_window() -> f64 {
    14.0
}
fn d_delay() -> GammaDays {
    GammaDays {
        shape: 1.5,
        scale_days: 4.0,
    }
}
fn d_device_mix() -> DeviceMix {
    DeviceMix {
        desktop: 0.5,
        mobile: 0.4,
        tablet: 0.1,
    }
}
fn d_claim_click() -> f64 {
    30.0
}

fn d_click_window() -> f64 {
    90.0
}

fn d_landing() -> String {
    "/".into()
}

/// Labels that are not channels (docs/model.md §2.8).
pub const RESERVED_LABELS: [&str; 4] = ["direct", "unassigned", "unknown", "baseline"];

impl Scenario {
    /// Parse and validate a scenario; `source` names the file in errors.
    pub fn from_toml_str(source: &str, text: &str) -> Result<Scenario, ScenarioError> {
        validate::load(source, text)
    }

    /// Read, parse and validate a scenario file.
    pub fn from_path(path: &std::path::Path) -> Result<Scenario, ScenarioError> {
        let text = std::fs::read_to_string(path).map_err(|e| ScenarioError::Io {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        validate::load(&path.display().to_string(), &text)
    }

    /// Re-check a scenario built or changed in code (sweeps, tests).
    pub fn validated(self, source: &str) -> Result<Scenario, ScenarioError> {
        let problems = validate::check(&self);
        if problems.is_empty() {
            Ok(self)
        } else {
            Err(ScenarioError::Invalid {
                source_name: source.to_string(),
                problems,
            })
        }
    }

    /// Every observation loss off, one unshared device per person and no
    /// return visits: the world in which `deterministic` stitching recovers
    /// the true persons exactly (tests and teaching start from it).
    pub fn make_lossless(&mut self) {
        self.observe = Observe::lossless();
        self.population.return_visit_rate = 0.0;
        self.population.extra_devices_mean = 0.0;
        self.population.shared_device_rate = 0.0;
    }

    /// Channel ids in scenario order.
    pub fn channel_ids(&self) -> Vec<String> {
        self.channels.iter().map(|c| c.id.clone()).collect()
    }

    /// Index of a channel id.
    pub fn channel_index(&self, id: &str) -> Option<usize> {
        self.channels.iter().position(|c| c.id == id)
    }

    /// The stitchers to run: the scenario's list or every registered one.
    pub fn stitcher_specs(&self) -> Vec<StitcherSpec> {
        if self.stitchers.is_empty() {
            StitcherSpec::all()
        } else {
            self.stitchers.clone()
        }
    }

    /// The models to run: the scenario's list or every registered one.
    pub fn attributor_specs(&self) -> Vec<AttributorSpec> {
        if self.attributors.is_empty() {
            AttributorSpec::all()
        } else {
            self.attributors.clone()
        }
    }

    /// Milliseconds since the Unix epoch of the window's start (`start_date`, 00:00 UTC).
    pub fn start_epoch_ms(&self) -> i64 {
        parse_date(&self.start_date)
            .map(|d| d * 86_400_000)
            .unwrap_or(0)
    }
}

/// Days since 1970-01-01 of a `YYYY-MM-DD` date (proleptic Gregorian).
pub fn parse_date(s: &str) -> Option<i64> {
    let mut it = s.split('-');
    let y: i64 = it.next()?.parse().ok()?;
    let m: i64 = it.next()?.parse().ok()?;
    let d: i64 = it.next()?.parse().ok()?;
    if it.next().is_some() || !(1..=12).contains(&m) || !(1970..=9999).contains(&y) {
        return None;
    }
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let month_days = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if d < 1 || d > month_days[(m - 1) as usize] {
        return None;
    }
    // Howard Hinnant's days_from_civil.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some(era * 146_097 + doe - 719_468)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hill_at_half_saturation_is_half_the_max() {
        // docs/model.md §4.6 (c).
        let c = Channel {
            id: "x".into(),
            kind: TouchKind::Click,
            audience: Audience::All,
            trigger: Trigger::None,
            trigger_window_days: 14.0,
            spend: Some(250.0),
            max_rate: Some(0.08),
            half_saturation: Some(250.0),
            hill_exponent: 1.7,
            rate: None,
            conversion_rate: 0.01,
            delay: d_delay(),
            quality: 1.0,
            intent_exponent: 0.0,
            engagement_exponent: 0.0,
            device_mix: d_device_mix(),
            referrer_loss_rate: None,
            recorded_as: BTreeMap::new(),
            click_id: None,
            click_window_days: 90.0,
            click_id_classified: false,
            claim_click_days: 30.0,
            claim_view_days: 1.0,
            campaigns: vec![],
            landing_page: "/".into(),
        };
        assert!((c.rate_at(250.0) - 0.04).abs() < 1e-15);
        assert_eq!(c.rate_at(0.0), 0.0);
        assert!(c.rate_at(500.0) > c.rate_at(250.0));
    }

    #[test]
    fn dates_parse() {
        assert_eq!(parse_date("1970-01-01"), Some(0));
        assert_eq!(parse_date("2026-01-01"), Some(20454));
        assert_eq!(parse_date("2026-13-01"), None);
        assert_eq!(parse_date("2026-02-29"), None);
        assert_eq!(parse_date("2028-02-29"), Some(21243));
    }
}
