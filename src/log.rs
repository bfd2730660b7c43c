//! The event log: everything a tracker and a CRM recorded, and all that a
//! stitcher or an attribution model may read (docs/model.md §2.8; the file
//! format is docs/event-log.md).
//!
//! Tables are sorted by time; event ids are unique across the whole log.
//! Nothing here says which person an event belongs to: identity must be
//! reconstructed (stitching). Labels are strings in `labels`, referenced by
//! index; the scenario's channels come first, then `direct`, `unassigned`,
//! `unknown`.
//! Must never: depend on the world, the observation layer or the truth.

use std::num::NonZeroU64;

/// Recorded label for visits without a usable source.
pub const DIRECT: &str = "direct";
/// Recorded label for visits whose source could not be classified.
pub const UNASSIGNED: &str = "unassigned";
/// Label for leads with no web history.
pub const UNKNOWN: &str = "unknown";

/// Index of a label in `EventLog::labels`.
pub type LabelId = u16;

/// A recorded site visit.
#[derive(Clone, Debug, PartialEq)]
pub struct Visit {
    /// Unique event id.
    pub event_id: u64,
    /// Milliseconds since the Unix epoch, UTC.
    pub time_ms: i64,
    /// First-party cookie id (opaque).
    pub cookie_id: u64,
    /// Recorded channel (UTM / referrer), an index into `labels`.
    pub channel: LabelId,
    /// Campaign, an index into `campaigns` (None for unattributed visits).
    pub campaign: Option<u16>,
    /// Platform click id, when the visit came from a paid click that carries one.
    pub click_id: Option<NonZeroU64>,
    /// Landing page, an index into `pages`.
    pub landing_page: u16,
    /// Pages viewed.
    pub pages_viewed: u16,
    /// Dwell time, seconds.
    pub dwell_s: f32,
    /// Hashed public IP.
    pub ip_hash: u64,
    /// User-agent family, an index into `user_agents`.
    pub user_agent: u16,
    /// Email token (see [`email_token`]) when the visit came from a newsletter click.
    pub email_token: Option<NonZeroU64>,
    /// The site account id when the visitor was logged in (opaque).
    pub user_id: Option<NonZeroU64>,
}

/// A form fill: the moment a visitor gives an email.
#[derive(Clone, Debug, PartialEq)]
pub struct FormFill {
    /// Unique event id.
    pub event_id: u64,
    /// Milliseconds since the Unix epoch, UTC.
    pub time_ms: i64,
    /// Cookie of the visit the form was filled on (None if that visit was not tracked).
    pub cookie_id: Option<u64>,
    /// The last platform click id the cookie stored (a hidden form field), if any.
    pub click_id: Option<NonZeroU64>,
    /// The site account the form fill created or was made in (sites with
    /// logins only; opaque).
    pub user_id: Option<NonZeroU64>,
    /// The email as typed.
    pub email: String,
}

/// A CRM lead record (one per distinct email typed).
#[derive(Clone, Debug, PartialEq)]
pub struct CrmLead {
    /// Unique event id (the record id).
    pub event_id: u64,
    /// Creation time, ms UTC.
    pub time_ms: i64,
    /// Email of the record (as first typed).
    pub email: String,
    /// Event id of the form fill that created it.
    pub form_fill_id: u64,
    /// The platform click id that form fill carried, if any.
    pub click_id: Option<NonZeroU64>,
}

/// An offline conversion import: a closed deal uploaded to the ad platform
/// whose click id its lead record carries, while that click is younger than
/// the platform's window.
#[derive(Clone, Debug, PartialEq)]
pub struct ConversionImport {
    /// Unique event id.
    pub event_id: u64,
    /// The deal's close time, ms UTC.
    pub time_ms: i64,
    /// The platform's channel label.
    pub channel: LabelId,
    /// The click id uploaded.
    pub click_id: NonZeroU64,
    /// The deal's revenue.
    pub revenue: f64,
}

/// An opportunity opened on a CRM lead record.
#[derive(Clone, Debug, PartialEq)]
pub struct Opportunity {
    /// Unique event id.
    pub event_id: u64,
    /// Creation time, ms UTC.
    pub time_ms: i64,
    /// Event id of the CRM lead it was opened on.
    pub crm_lead_id: u64,
}

/// A closed-won deal.
#[derive(Clone, Debug, PartialEq)]
pub struct Deal {
    /// Unique event id.
    pub event_id: u64,
    /// Close time, ms UTC.
    pub time_ms: i64,
    /// Revenue.
    pub revenue: f64,
    /// Email as typed by the sales rep (case, typos).
    pub email: String,
}

/// One touch an ad platform recorded of its own user.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PlatformTouch {
    /// ms UTC.
    pub time_ms: i64,
    /// The platform's user id (it knows its users across devices; opaque).
    pub user: u64,
    /// A click (true) or a view (an impression).
    pub click: bool,
}

/// A conversion an ad platform's pixel saw (it fires on the lead's form-fill
/// visit unless the site tag was blocked or consent declined).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PixelConversion {
    /// ms UTC.
    pub time_ms: i64,
    /// The platform's user id.
    pub user: u64,
    /// The site's form-fill event the pixel fired on (its order id).
    pub form_fill_id: u64,
}

/// What one paid platform reports: an observed source beside the web log.
/// Holds the users its pixel saw convert: their conversions and the
/// platform's touches of them (all a claim needs).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PlatformLog {
    /// The platform's channel label.
    pub channel: LabelId,
    /// Its attribution setting: a click claims conversions within this many days.
    pub click_window_days: f64,
    /// Its attribution setting: a view claims conversions within this many days.
    pub view_window_days: f64,
    /// Touches of converting users, by time.
    pub touches: Vec<PlatformTouch>,
    /// Pixel conversions, by time.
    pub conversions: Vec<PixelConversion>,
}

/// The observed data of one replicate.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EventLog {
    /// Label strings: channels first (`n_channels` of them), then `direct`, `unassigned`, `unknown`.
    pub labels: Vec<String>,
    /// How many of `labels` are marketing channels.
    pub n_channels: usize,
    /// Campaign names.
    pub campaigns: Vec<String>,
    /// Landing-page paths.
    pub pages: Vec<String>,
    /// User-agent families (`browser_devicetype`).
    pub user_agents: Vec<String>,
    /// Start of the observed window, ms UTC.
    pub window_start_ms: i64,
    /// End of the observed window, ms UTC.
    pub window_end_ms: i64,
    /// Site visits, by time.
    pub visits: Vec<Visit>,
    /// Form fills, by time.
    pub form_fills: Vec<FormFill>,
    /// CRM lead records, by time.
    pub crm_leads: Vec<CrmLead>,
    /// Opportunities, by time.
    pub opportunities: Vec<Opportunity>,
    /// Deals, by time.
    pub deals: Vec<Deal>,
    /// Offline conversion imports, by time.
    pub conversion_imports: Vec<ConversionImport>,
    /// What each paid platform reports, in channel order.
    pub platforms: Vec<PlatformLog>,
}

impl EventLog {
    /// Index of a label.
    pub fn label_id(&self, label: &str) -> Option<LabelId> {
        self.labels
            .iter()
            .position(|l| l == label)
            .map(|i| i as LabelId)
    }

    /// Whether a label is one of the marketing channels.
    pub fn is_channel(&self, label: LabelId) -> bool {
        (label as usize) < self.n_channels
    }

    /// The `direct` label's index.
    pub fn direct(&self) -> LabelId {
        self.label_id(DIRECT).expect("every log has a direct label")
    }

    /// The `unknown` label's index.
    pub fn unknown(&self) -> LabelId {
        self.label_id(UNKNOWN)
            .expect("every log has an unknown label")
    }

    /// Build the label table from channel ids.
    pub fn labels_for(channels: &[String]) -> Vec<String> {
        let mut l = channels.to_vec();
        l.extend([DIRECT, UNASSIGNED, UNKNOWN].map(String::from));
        l
    }
}

/// The token a newsletter click carries: FNV-1a (64-bit) of the lowercased,
/// trimmed email (0 is mapped to 1). Public so a stitcher can compute it
/// from a typed email.
pub fn email_token(email: &str) -> NonZeroU64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in email.trim().bytes() {
        h ^= b.to_ascii_lowercase() as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    NonZeroU64::new(h).unwrap_or(NonZeroU64::MIN)
}

/// How analytics tools cut a cookie's visits into sessions (docs/model.md §2.8).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct SessionRule {
    /// A visit more than this many minutes after the cookie's previous visit
    /// starts a new session.
    pub timeout_minutes: f64,
    /// A visit whose recorded source (label and campaign) differs from its
    /// session's starts a new session — unless it is `direct`, which never
    /// overrides a known source (as Google Analytics does).
    pub split_on_campaign: bool,
}

impl Default for SessionRule {
    fn default() -> Self {
        SessionRule {
            timeout_minutes: 30.0,
            split_on_campaign: true,
        }
    }
}

impl EventLog {
    /// Per visit: whether it starts a session of its cookie under `rule`.
    /// A session takes its first visit's source; reading the log as sessions
    /// means keeping only the visits marked here.
    pub fn session_starts(&self, rule: &SessionRule) -> Vec<bool> {
        let timeout_ms = rule.timeout_minutes * 60_000.0;
        let direct = self.label_id(DIRECT);
        // cookie → (last visit time, session source)
        let mut open: std::collections::HashMap<u64, (i64, (LabelId, Option<u16>))> =
            std::collections::HashMap::with_capacity(self.visits.len() / 2);
        self.visits
            .iter()
            .map(|v| {
                let source = (v.channel, v.campaign);
                let starts = match open.get(&v.cookie_id) {
                    None => true,
                    Some(&(last, session_source)) => {
                        (v.time_ms - last) as f64 > timeout_ms
                            || (rule.split_on_campaign
                                && Some(v.channel) != direct
                                && source != session_source)
                    }
                };
                let entry = open.entry(v.cookie_id).or_insert((v.time_ms, source));
                entry.0 = v.time_ms;
                if starts {
                    entry.1 = source;
                }
                starts
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_by_hand() {
        let labels = EventLog::labels_for(&["a".into(), "b".into()]);
        let (a, b, direct) = (0, 1, 2);
        let min = 60_000;
        let visit = |time_ms: i64, cookie_id: u64, channel: LabelId| Visit {
            event_id: 0,
            time_ms,
            cookie_id,
            channel,
            campaign: None,
            click_id: None,
            landing_page: 0,
            pages_viewed: 1,
            dwell_s: 1.0,
            ip_hash: 0,
            user_agent: 0,
            email_token: None,
            user_id: None,
        };
        let log = EventLog {
            labels,
            n_channels: 2,
            visits: vec![
                visit(0, 1, a),
                visit(5 * min, 2, a),       // another cookie: its own session
                visit(6 * min, 2, a),       // same source, 1 minute later
                visit(10 * min, 1, direct), // direct never overrides a source
                visit(20 * min, 1, b),      // a new source starts a session
                visit(70 * min, 1, b),      // 50 minutes of inactivity
                visit(99 * min, 1, b),      // 29 minutes: same session
            ],
            ..Default::default()
        };
        let split = SessionRule::default();
        assert_eq!(
            log.session_starts(&split),
            [true, true, false, false, true, true, false]
        );
        let no_split = SessionRule {
            split_on_campaign: false,
            ..split
        };
        assert_eq!(
            log.session_starts(&no_split),
            [true, true, false, false, false, true, false]
        );
        let long = SessionRule {
            timeout_minutes: 1440.0,
            split_on_campaign: false,
        };
        assert_eq!(
            log.session_starts(&long),
            [true, true, false, false, false, false, false]
        );
    }

    #[test]
    fn email_token_ignores_case_and_spaces() {
        assert_eq!(
            email_token("Anna.Smith@X.com "),
            email_token("anna.smith@x.com")
        );
        assert_ne!(
            email_token("anna.smith@x.com"),
            email_token("annasmith@x.com")
        );
    }
}
