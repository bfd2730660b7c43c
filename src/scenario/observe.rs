//! `[observe]`: what the tracker and the CRM record; changes nothing in
//! the world (docs/model.md §2).

use super::*;

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
