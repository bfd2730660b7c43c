//! The data an explanation is made of: stories, their events, the credit
//! lines and the answer key. Plain serialisable types; no logic beyond naming.

use crate::observe::CookieLoss;
use serde::Serialize;
use std::collections::BTreeMap;

/// Why a person was picked to be narrated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StoryKind {
    /// Converted with every pre-lead visit on one device and no cookie loss.
    Clean,
    /// A cookie was lost (deleted, ITP, private window, consent, blocked) before the form.
    CookieLost,
    /// Visited on two or more devices before the lead.
    SecondDevice,
    /// Visited but never became a lead.
    NeverConverted,
    /// Became a lead that sales did not turn into a deal.
    SalesDropped,
    /// Touched by the high-intent (brand search) channel before the lead,
    /// which would have come without it (its incremental credit is 0).
    WouldHaveBoughtAnyway,
    /// Asked for with `--person`, or filling up `--visitors`.
    Chosen,
}

impl StoryKind {
    /// The default mix, in narration order.
    pub const MIX: [StoryKind; 6] = [
        StoryKind::Clean,
        StoryKind::CookieLost,
        StoryKind::SecondDevice,
        StoryKind::NeverConverted,
        StoryKind::SalesDropped,
        StoryKind::WouldHaveBoughtAnyway,
    ];
}

/// What to narrate.
#[derive(Clone, Debug)]
pub struct ExplainOptions {
    /// The replicate world.
    pub replicate: u32,
    /// How many persons (the default mix first, then other leads, then visitors).
    pub visitors: usize,
    /// Narrate exactly these persons instead (indices).
    pub persons: Vec<u32>,
}

impl Default for ExplainOptions {
    fn default() -> Self {
        ExplainOptions {
            replicate: 0,
            visitors: StoryKind::MIX.len(),
            persons: Vec::new(),
        }
    }
}

/// A request that cannot be narrated.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ExplainError {
    /// `--person` outside the world.
    #[error("person {person} does not exist: this world has persons 0..={last}")]
    NoSuchPerson {
        /// The id asked for.
        person: u32,
        /// The largest id.
        last: u32,
    },
    /// Zero persons asked for.
    #[error("--visitors must be at least 1")]
    NoVisitors,
}

/// One report the stories compare with the truth.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ReportSpec {
    /// `ga_style`, `hubspot_style` or `best_model`.
    pub role: String,
    /// Stitcher id.
    pub stitcher: String,
    /// Model id.
    pub model: String,
}

/// A device of the person.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DeviceInfo {
    /// Global device index.
    pub device: u32,
    /// `desktop`, `mobile`, `tablet`.
    pub device_type: String,
    /// Browser family.
    pub browser: String,
    /// Used by the whole household.
    pub shared: bool,
}

/// What the tracker could join to a form fill.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Join {
    /// Visits on the form's own cookie up to the form (a `cookie_only` journey).
    pub on_cookie: usize,
    /// Visits in the `deterministic` cluster of the form up to the form.
    pub by_email: usize,
    /// Of those, visits of other persons (shared devices).
    pub of_others: usize,
    /// This person's recorded visits up to the form.
    pub own_recorded: usize,
    /// Of those, visits the `deterministic` cluster missed.
    pub missed: usize,
    /// This person's visits up to the form the tracker never recorded.
    pub unrecorded: usize,
}

/// One event of a story.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum What {
    /// A site visit (recorded or not).
    Visit {
        /// The true source: a channel id, `return` (typed URL, bookmark) or
        /// `direct` (a form-fill visit arriving directly).
        source: String,
        /// The label the tracker recorded (None: not recorded).
        recorded_as: Option<String>,
        /// The URL as the tracker saw it (None: not recorded).
        url: Option<String>,
        /// The cookie as it would look (`_ga`-style), None if not recorded.
        cookie: Option<String>,
        /// The same cookie as a `hubspotutk`-style id.
        hubspotutk: Option<String>,
        /// The cookie was first seen on this visit (set now).
        new_cookie: bool,
        /// Device index.
        device: u32,
        /// Landing page.
        landing_page: String,
        /// Pages viewed.
        pages: u16,
        /// Dwell time, seconds.
        dwell_s: u16,
        /// Campaign recorded.
        campaign: Option<String>,
        /// Click id parameter and value carried, e.g. (`gclid`, `…`).
        click_id: Option<(String, String)>,
        /// Log event id.
        event_id: Option<u64>,
        /// This touch armed a conversion clock.
        armed: bool,
        /// This touch's clock fired first: the true cause of the lead.
        caused_lead: bool,
    },
    /// An ad seen, no visit.
    Impression {
        /// Channel id.
        channel: String,
        /// Device index.
        device: u32,
        /// This touch armed a conversion clock.
        armed: bool,
        /// The true cause of the lead.
        caused_lead: bool,
    },
    /// The cookie the device held was lost, or the visit went unrecorded.
    CookieLost {
        /// Why.
        cause: CookieLoss,
        /// Device index.
        device: u32,
        /// The cookie it held before, if any.
        previous_cookie: Option<String>,
    },
    /// A form filled.
    FormFill {
        /// Log event id.
        event_id: Option<u64>,
        /// The email as typed.
        email: String,
        /// The cookie of the form's visit (`_ga`-style; None: not tracked).
        cookie: Option<String>,
        /// The CRM lead record it created (None: the email was seen before).
        crm_lead_id: Option<u64>,
        /// It created a second CRM record (a second address) that sales never works.
        duplicate_record: bool,
        /// What could be joined to it.
        joined: Join,
    },
    /// The organic baseline clock fired (no marketing touch caused the lead).
    BaselineFired,
    /// Sales qualified the lead.
    Opportunity {
        /// Log event id.
        event_id: Option<u64>,
    },
    /// A deal closed.
    Deal {
        /// Revenue.
        revenue: f64,
        /// Log event id.
        event_id: Option<u64>,
    },
    /// Sales did not turn the lead into a deal.
    SalesDropped {
        /// `not_contacted`, `not_qualified` or `not_closed`.
        reason: String,
    },
}

/// An event with its time and its step of the loop (1–4).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StoryEvent {
    /// ms UTC.
    pub time_ms: i64,
    /// Step of the four-step loop (docs/teaching.md).
    pub step: u8,
    /// What happened.
    #[serde(flatten)]
    pub what: What,
}

/// The person's lead, as the truth knows it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LeadInfo {
    /// ms UTC.
    pub time_ms: i64,
    /// The true cause (a channel id or `baseline`).
    pub cause: String,
    /// Time of the causing touch.
    pub cause_time_ms: Option<i64>,
    /// Revenue of the deal (0 if none).
    pub revenue: f64,
}

/// What happened on the web after the lead, counted.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct AfterLead {
    /// Visits and impressions.
    pub touches: usize,
    /// Cookie losses.
    pub cookie_losses: usize,
    /// Repeat form fills.
    pub form_fills: usize,
}

/// Credit of the person's lead under a truth or a report.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CreditLine {
    /// `shapley`, `incremental`, `proximate`, or a report role.
    pub source: String,
    /// Stitcher (reports only).
    pub stitcher: Option<String>,
    /// Model (reports only).
    pub model: Option<String>,
    /// The recorded labels of the journey the report credited (reports only).
    pub journey: Vec<String>,
    /// Leads per label (non-zero entries).
    pub conversions: BTreeMap<String, f64>,
    /// Revenue per label (non-zero entries).
    pub revenue: BTreeMap<String, f64>,
}

/// One person's story.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Story {
    /// Person index.
    pub person: u32,
    /// Why this person.
    pub kind: StoryKind,
    /// Segment id.
    pub segment: String,
    /// Intent frailty z (mean 1).
    pub intent: f64,
    /// A newsletter subscriber.
    pub newsletter: bool,
    /// Persons in the household or office.
    pub group_size: u32,
    /// The person's devices.
    pub devices: Vec<DeviceInfo>,
    /// Events in time order.
    pub events: Vec<StoryEvent>,
    /// The lead, if any.
    pub lead: Option<LeadInfo>,
    /// Web events after the lead (left out of `events`: no journey holds them).
    pub after_lead: AfterLead,
    /// Credit of the lead: the truths, then the reports.
    pub credit: Vec<CreditLine>,
}

/// Stories of one replicate.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Explanation {
    /// Scenario name.
    pub scenario: String,
    /// Seed.
    pub seed: u64,
    /// Replicate narrated.
    pub replicate: u32,
    /// `start_date` of the window.
    pub start_date: String,
    /// Window length, days.
    pub horizon_days: f64,
    /// Persons in the world.
    pub persons: u32,
    /// True leads in the world.
    pub leads: u32,
    /// The reports set against the truth.
    pub reports: Vec<ReportSpec>,
    /// Kinds of the default mix nobody in this world fits.
    pub missing: Vec<StoryKind>,
    /// The stories.
    pub stories: Vec<Story>,
}

/// One row of the answer key: a model's share of leads per channel.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AnswerRow {
    /// Report roles the row plays (`ga_style`, `hubspot_style`,
    /// `best_model`, `truth`; the best model can also be HubSpot-style).
    pub roles: Vec<String>,
    /// Stitcher id (`oracle` = true persons).
    pub stitcher: String,
    /// Model id (`oracle` = shapley truth).
    pub model: String,
    /// Leads credited per label (as in report.json's `credit.conversions`).
    pub conversions: BTreeMap<String, f64>,
    /// Headline error against shapley truth (report.json's `error.shapley.conversions.tvd`).
    pub tvd: f64,
    /// The channel it misses most (`max_miss_channel`) and by how much (share points).
    pub max_miss_channel: Option<String>,
    /// Model share − true share on that channel.
    pub max_miss_bias: f64,
}

/// The answer key: the run's numbers for the same scenario and seed.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AnswerKey {
    /// Scenario name.
    pub scenario: String,
    /// Seed.
    pub seed: u64,
    /// Replicate.
    pub replicate: u32,
    /// True leads, customers, revenue.
    pub leads: u64,
    /// Closed deals.
    pub customers: u64,
    /// Revenue.
    pub revenue: f64,
    /// Shapley truth (the headline): leads per label.
    pub shapley: BTreeMap<String, f64>,
    /// Incremental truth: leads per label.
    pub incremental: BTreeMap<String, f64>,
    /// Proximate truth (the clock that fired): leads per label.
    pub proximate: BTreeMap<String, f64>,
    /// Best stitcher (highest pairwise F1, oracle excluded) and its F1.
    pub best_stitcher: (String, f64),
    /// Lowest-error model on it (lowest `tvd` against shapley in this
    /// replicate, oracle excluded).
    pub best_model: String,
    /// Every attribution row of the run (as `closedloop run`), plus roles.
    pub rows: Vec<AnswerRow>,
    /// Loss events by mechanism in the window.
    pub losses: BTreeMap<String, u64>,
}

/// The stories and the answer key of one replicate.
#[derive(Clone, Debug)]
pub struct Explained {
    /// The stories.
    pub explanation: Explanation,
    /// The answer key.
    pub answers: AnswerKey,
}
