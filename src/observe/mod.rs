//! Observation: what the tracker and the CRM record of the world
//! (docs/model.md §2).
//!
//! Cookies churn (deletion by the comScore mixture × `cookie_deletion_scale`,
//! WebKit ITP expiry, private windows, declined consent); tag-blocked devices
//! record nothing (their form fills still reach the CRM); a share of visits
//! (carrier NAT, relays) shows a shared carrier address instead of the group's
//! IP; each channel's visits are recorded by its row of a source confusion
//! matrix (correct, `direct` — the referrer loss —, `unassigned`, another
//! channel); emails are typed with typos and variants; CRM records are views of
//! the world's sales process. Every draw here comes from observation streams,
//! so changing an observation parameter never changes the world or the truth.
//!
//! Cookie deletion: for each gap between two writes of a device's cookie, one
//! uniform `u` decides whether at least one deletion happened:
//! `u < 1 − exp(−scale · rate · gap)`. That is exactly the law of a Poisson
//! deletion process at the scale-10 rate thinned with probability scale/10,
//! is monotone in the scale on the same draws (a higher scale only adds
//! deletions), and costs one draw per visit instead of one per deletion.
//! Must never: change the world, or write anything a strategy could use to
//! recover a true person other than what a real tracker would record.

pub mod email;
mod group;

use crate::base::rng::{KindKey, StreamKind, mix64};
use crate::log::{self, ConversionImport, CrmLead, Deal, EventLog, FormFill, Opportunity, Visit};
use crate::scenario::{BROWSERS, DEVICE_TYPES, Scenario};
use crate::world::{Source, World};
use rayon::prelude::*;
use std::collections::BTreeMap;

/// comScore (2007) deletion mixture: (share of devices, deletions per day).
pub const DELETION_MIXTURE: [(f64, f64); 3] =
    [(0.69, 0.0), (0.24, 2.5 / 30.0), (0.07, 12.0 / 30.0)];

/// Persons per carrier-NAT / relay address: a noisy visit's IP is one of
/// ⌈persons / this⌉ addresses shared by everyone.
const PERSONS_PER_CARRIER_IP: u32 = 200;

/// Groups per parallel work unit (any value gives identical results).
const BLOCK_GROUPS: usize = 512;

/// Which person (and which world touch) each logged event belongs to; only the
/// truth ledger receives this.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EventPersons {
    /// Per visit: the true person.
    pub visit_person: Vec<u32>,
    /// Per visit: the world touch index.
    pub visit_touch: Vec<u32>,
    /// Per form fill: the true person.
    pub form_fill_person: Vec<u32>,
    /// Per CRM lead: the true person.
    pub crm_lead_person: Vec<u32>,
    /// Per opportunity: the true person.
    pub opportunity_person: Vec<u32>,
    /// Per deal: the true person.
    pub deal_person: Vec<u32>,
    /// Per conversion import: the true person.
    pub import_person: Vec<u32>,
}

/// Counts of loss events, by mechanism (within the observed window).
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
#[serde(transparent)]
pub struct Losses {
    /// Mechanism name → events.
    pub counts: BTreeMap<&'static str, u64>,
}

impl Losses {
    fn add(&mut self, k: &'static str, n: u64) {
        *self.counts.entry(k).or_insert(0) += n;
    }
    fn merge(&mut self, o: &Losses) {
        for (k, v) in &o.counts {
            self.add(k, *v);
        }
    }
}

/// Loss mechanisms counted, in report order.
pub const LOSS_MECHANISMS: [&str; 13] = [
    "cookie_deletion",
    "itp_expiry",
    "private_window",
    "consent_declined",
    "tag_blocked",
    "referrer_loss",
    "unassigned_source",
    "mis_tagged",
    "ip_noise",
    "email_typo",
    "email_variant",
    "second_email",
    "rep_typo",
];

/// Why a visit's cookie is not the one the device held before, or why the
/// visit was not recorded at all (truth side: a narrator reads it, never a
/// strategy). Recorded beside the draws that decide it; no draw depends on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CookieLoss {
    /// The user deleted cookies since the last write: a new id.
    Deleted,
    /// WebKit ITP expired the script-set cookie (cap since the last write).
    ItpExpired,
    /// A private window: a throwaway id for this visit only.
    PrivateWindow,
    /// Consent declined: not recorded, or a one-off id (`consent_mode`).
    ConsentDeclined,
    /// The tracker never ran on this device (ad blocker): nothing recorded.
    TagBlocked,
}

/// The observed log and the map the truth needs.
#[derive(Clone, Debug)]
pub struct Observation {
    /// What strategies see.
    pub log: EventLog,
    /// Which person each event belongs to (truth only).
    pub persons: EventPersons,
    /// Loss events by mechanism.
    pub losses: Losses,
    /// Cookie losses of in-window visits, as (world touch, why), by touch;
    /// a visit can have two (deleted, then consent declined). Truth side.
    pub cookie_losses: Vec<(u32, CookieLoss)>,
}

struct Tables {
    /// Per channel: its confusion-matrix row as (cumulative share, recorded
    /// label, loss mechanism), the channel itself taking the remainder.
    recorded_as: Vec<Vec<(f64, u16, &'static str)>>,
    campaign_base: Vec<u16>,
    landing: Vec<u16>,
    ua: Vec<[u16; 3]>,
    /// Stream key chains of the observation kinds for this seed and replicate.
    device_key: KindKey,
    person_key: KindKey,
}

struct PendingForm {
    f: FormFill,
    person: u32,
    key: u64,
}
struct PendingLead {
    l: CrmLead,
    person: u32,
    form_key: u64,
    key: u64,
}
struct PendingOpp {
    o: Opportunity,
    person: u32,
    lead_key: u64,
}
struct PendingDeal {
    d: Deal,
    person: u32,
}
/// One platform's view of one converting user: the pixel conversion and the
/// platform's touches of that user.
struct PendingPlatform {
    channel: u16,
    user: u64,
    time_ms: i64,
    form_key: u64,
    touches: Vec<(i64, bool)>,
}
struct PendingImport {
    i: ConversionImport,
    person: u32,
}

/// A click id as the site stored it: (id, issuing channel, click time in days).
type StoredClick = (std::num::NonZeroU64, u16, f64);

/// A recorded visit before sorting, with its true person and world touch for
/// the truth ledger.
#[derive(Clone, Debug)]
struct Recorded {
    visit: Visit,
    person: u32,
    touch: u32,
}

#[derive(Default)]
struct BlockOut {
    visits: Vec<Recorded>,
    forms: Vec<PendingForm>,
    leads: Vec<PendingLead>,
    opps: Vec<PendingOpp>,
    deals: Vec<PendingDeal>,
    imports: Vec<PendingImport>,
    platforms: Vec<PendingPlatform>,
    losses: Losses,
    cookie_losses: Vec<(u32, CookieLoss)>,
}

/// Convert days since the window start to ms UTC.
fn to_ms(start_ms: i64, days: f64) -> i64 {
    start_ms + (days * 86_400_000.0).round() as i64
}

/// Observe one replicate's world.
pub fn observe(sc: &Scenario, world: &World) -> Observation {
    let n_ch = sc.channels.len();
    let mut log = EventLog {
        labels: EventLog::labels_for(&sc.channel_ids()),
        n_channels: n_ch,
        ..Default::default()
    };
    let tables = tables(sc, world, &mut log);
    let start_ms = sc.start_epoch_ms();
    log.window_start_ms = start_ms;
    log.window_end_ms = to_ms(start_ms, sc.horizon_days);

    let n_groups = world.groups.len();
    let blocks: Vec<BlockOut> = (0..n_groups.div_ceil(BLOCK_GROUPS))
        .into_par_iter()
        .map(|b| {
            let mut out = BlockOut::default();
            for g in b * BLOCK_GROUPS..((b + 1) * BLOCK_GROUPS).min(n_groups) {
                group::observe_group(sc, world, &tables, start_ms, g as u32, &mut out);
            }
            out
        })
        .collect();
    assemble(sc, blocks, log)
}

/// The log's string tables (campaigns, pages, user agents) and what each
/// group's observation looks up: confusion rows, campaign and page ids.
fn tables(sc: &Scenario, world: &World, log: &mut EventLog) -> Tables {
    // String tables: campaigns, pages, user agents.
    let mut campaign_base = Vec::new();
    for ch in &sc.channels {
        campaign_base.push(log.campaigns.len() as u16);
        if ch.campaigns.is_empty() {
            log.campaigns.push(ch.id.clone());
        } else {
            log.campaigns.extend(ch.campaigns.iter().cloned());
        }
    }
    let page_index = |p: &str, pages: &mut Vec<String>| -> u16 {
        match pages.iter().position(|x| x == p) {
            Some(i) => i as u16,
            None => {
                pages.push(p.to_string());
                (pages.len() - 1) as u16
            }
        }
    };
    let mut landing: Vec<u16> = sc
        .channels
        .iter()
        .map(|c| page_index(&c.landing_page, &mut log.pages))
        .collect();
    landing.push(page_index("/", &mut log.pages)); // return visits
    landing.push(page_index("/contact", &mut log.pages)); // form-fill visits
    let mut ua = Vec::new();
    for b in BROWSERS {
        let mut row = [0u16; 3];
        for (t, ty) in DEVICE_TYPES.iter().enumerate() {
            row[t] = log.user_agents.len() as u16;
            log.user_agents.push(format!("{b}_{ty}"));
        }
        ua.push(row);
    }
    let n = sc.channels.len() as u16;
    let recorded_as = sc
        .channels
        .iter()
        .map(|ch| {
            let mut cum = 0.0;
            ch.recorded_as_row(sc.observe.referrer_loss_rate)
                .into_iter()
                .map(|(label, share)| {
                    cum += share;
                    match label {
                        log::DIRECT => (cum, n, "referrer_loss"),
                        log::UNASSIGNED => (cum, n + 1, "unassigned_source"),
                        other => {
                            let c = sc.channel_index(other).expect("validated channel id");
                            (cum, c as u16, "mis_tagged")
                        }
                    }
                })
                .collect()
        })
        .collect();
    Tables {
        recorded_as,
        campaign_base,
        landing,
        ua,
        device_key: KindKey::new(sc.seed, world.replicate, StreamKind::ObserveDevice),
        person_key: KindKey::new(sc.seed, world.replicate, StreamKind::ObservePerson),
    }
}

/// The blocks' records merged into the log: visits in (time, world touch)
/// order, then form fills, CRM leads, opportunities, deals and imports, each
/// sorted by a total key and numbered in that order; the truth's event →
/// person map beside it.
fn assemble(sc: &Scenario, mut blocks: Vec<BlockOut>, mut log: EventLog) -> Observation {
    let mut losses = Losses::default();
    for m in LOSS_MECHANISMS {
        losses.add(m, 0);
    }
    // Visits in (time, world touch) order — a total order, since a touch is
    // recorded at most once. The compact records are sorted in parallel, then
    // the full visits are built from the world, in parallel, in that order.
    let mut recorded: Vec<Recorded> =
        Vec::with_capacity(blocks.iter().map(|b| b.visits.len()).sum());
    for b in &mut blocks {
        recorded.extend(std::mem::take(&mut b.visits)); // frees each block's buffer
    }
    recorded.par_sort_unstable_by_key(|r| (r.visit.time_ms, r.touch));
    let mut persons = EventPersons {
        visit_person: recorded.iter().map(|r| r.person).collect(),
        visit_touch: recorded.iter().map(|r| r.touch).collect(),
        ..Default::default()
    };
    // In-place collect: the records' buffer becomes the visits' buffer.
    log.visits = recorded.into_iter().map(|r| r.visit).collect();
    let mut forms = Vec::new();
    let mut leads = Vec::new();
    let mut opps = Vec::new();
    let mut deals = Vec::new();
    let mut imports = Vec::new();
    let mut platforms = Vec::new();
    let mut cookie_losses = Vec::new();
    for b in blocks {
        losses.merge(&b.losses);
        cookie_losses.extend(b.cookie_losses);
        forms.extend(b.forms);
        leads.extend(b.leads);
        opps.extend(b.opps);
        deals.extend(b.deals);
        imports.extend(b.imports);
        platforms.extend(b.platforms);
    }
    forms.sort_unstable_by_key(|p| (p.f.time_ms, p.key));
    leads.sort_unstable_by_key(|p| (p.l.time_ms, p.key));
    opps.sort_unstable_by_key(|p| (p.o.time_ms, p.lead_key));
    deals.sort_unstable_by(|a, b| a.d.time_ms.cmp(&b.d.time_ms).then(a.person.cmp(&b.person)));
    imports.sort_unstable_by(|a, b| a.i.time_ms.cmp(&b.i.time_ms).then(a.person.cmp(&b.person)));

    let mut next_id = 1u64;
    for v in &mut log.visits {
        v.event_id = next_id;
        next_id += 1;
    }
    let mut form_id = BTreeMap::new();
    for p in forms {
        persons.form_fill_person.push(p.person);
        let mut f = p.f;
        f.event_id = next_id;
        form_id.insert(p.key, next_id);
        next_id += 1;
        log.form_fills.push(f);
    }
    let mut lead_id = BTreeMap::new();
    for p in leads {
        persons.crm_lead_person.push(p.person);
        let mut l = p.l;
        l.event_id = next_id;
        l.form_fill_id = form_id[&p.form_key];
        lead_id.insert(p.key, next_id);
        next_id += 1;
        log.crm_leads.push(l);
    }
    for p in opps {
        persons.opportunity_person.push(p.person);
        let mut o = p.o;
        o.event_id = next_id;
        o.crm_lead_id = lead_id[&p.lead_key];
        next_id += 1;
        log.opportunities.push(o);
    }
    for p in deals {
        persons.deal_person.push(p.person);
        let mut d = p.d;
        d.event_id = next_id;
        next_id += 1;
        log.deals.push(d);
    }
    platform_logs(sc, platforms, &form_id, &mut log);
    for p in imports {
        persons.import_person.push(p.person);
        let mut i = p.i;
        i.event_id = next_id;
        next_id += 1;
        log.conversion_imports.push(i);
    }
    cookie_losses.sort_unstable();
    Observation {
        log,
        persons,
        losses,
        cookie_losses,
    }
}

/// The platform logs: one per paid channel, in channel order, with each
/// converting user's pixel conversion and the platform's touches of them.
fn platform_logs(
    sc: &Scenario,
    platforms: Vec<PendingPlatform>,
    form_id: &BTreeMap<u64, u64>,
    log: &mut EventLog,
) {
    let mut by_channel: Vec<Option<usize>> = vec![None; sc.channels.len()];
    for (c, ch) in sc.channels.iter().enumerate().filter(|(_, ch)| ch.paid()) {
        by_channel[c] = Some(log.platforms.len());
        log.platforms.push(log::PlatformLog {
            channel: c as u16,
            click_window_days: ch.claim_click_days,
            view_window_days: ch.claim_view_days,
            ..Default::default()
        });
    }
    for p in platforms {
        let Some(i) = by_channel[p.channel as usize] else {
            continue;
        };
        let pl = &mut log.platforms[i];
        pl.conversions.push(log::PixelConversion {
            time_ms: p.time_ms,
            user: p.user,
            form_fill_id: form_id[&p.form_key],
        });
        pl.touches.extend(
            p.touches
                .iter()
                .map(|&(time_ms, click)| log::PlatformTouch {
                    time_ms,
                    user: p.user,
                    click,
                }),
        );
    }
    for pl in &mut log.platforms {
        pl.conversions
            .sort_unstable_by_key(|c| (c.time_ms, c.user, c.form_fill_id));
        pl.touches
            .sort_unstable_by_key(|t| (t.time_ms, t.user, t.click));
    }
}

/// The replicate's salt for cookie ids and hashed IPs.
fn cookie_salt(seed: u64, replicate: u32) -> u64 {
    mix64(mix64(seed ^ 0x636f_6f6b_6965) ^ replicate as u64)
}

/// The hashed address of a carrier-NAT / relay IP picked by a uniform.
fn carrier_ip(salt: u64, u: f64, persons: u32) -> u64 {
    let pool = persons.div_ceil(PERSONS_PER_CARRIER_IP).max(1);
    let index = ((u * pool as f64) as u64).min(pool as u64 - 1);
    mix64(mix64(0x6361_7272_6965_7200 ^ index) ^ salt)
}

/// What each paid platform sees of a converting person: the pixel on the
/// lead's first form-fill visit (if the site's tags ran there) and the
/// platform's own touches of the person up to it (clicks and views, on any
/// device: platforms know their users across devices).
#[allow(clippy::too_many_arguments)]
fn platform_views(
    sc: &Scenario,
    world: &World,
    t0: u32,
    pixel_of: &[bool],
    salt: u64,
    start_ms: i64,
    person: u32,
    out: &mut BlockOut,
) {
    let (a, b) = world.persons[person as usize].touches;
    let horizon = sc.horizon_days;
    let Some(form) = (a..b).find(|&ti| {
        let t = &world.touches[ti as usize];
        t.form_fill && t.time <= horizon
    }) else {
        return;
    };
    if !pixel_of[(form - t0) as usize] {
        return;
    }
    let form_time = world.touches[form as usize].time;
    for (c, ch) in sc.channels.iter().enumerate() {
        if !ch.paid() {
            continue;
        }
        let touches: Vec<(i64, bool)> = (a..b)
            .map(|ti| &world.touches[ti as usize])
            .filter(|t| {
                let of_c = match t.source {
                    Source::Channel(s) | Source::FormFill(Some(s)) => s as usize == c,
                    _ => false,
                };
                of_c && t.time >= 0.0 && t.time <= form_time
            })
            .map(|t| (to_ms(start_ms, t.time), t.is_visit))
            .collect();
        if touches.is_empty() {
            continue;
        }
        out.platforms.push(PendingPlatform {
            channel: c as u16,
            user: mix64(salt ^ 0x706c_6174_0000_0000 ^ ((c as u64) << 40) ^ person as u64),
            time_ms: to_ms(start_ms, form_time),
            form_key: ((person as u64) << 24) | (form - a) as u64,
            touches,
        });
    }
}

/// A person's site account id: opaque, never 0.
fn account_id(salt: u64, person: u32) -> std::num::NonZeroU64 {
    let id = mix64(salt ^ 0x6163_636f_756e_7400 ^ person as u64);
    std::num::NonZeroU64::new(id).unwrap_or(std::num::NonZeroU64::MIN)
}

/// A click id: opaque, unique per world touch, never 0.
fn click_id(salt: u64, touch: u32) -> std::num::NonZeroU64 {
    let id = mix64(salt ^ 0x636c_6963_6b00_0000 ^ touch as u64);
    std::num::NonZeroU64::new(id).unwrap_or(std::num::NonZeroU64::MIN)
}

/// Cookie ids: a bijective mix of (device, generation), so ids are unique and opaque.
fn cookie_id(salt: u64, device: u32, generation: u32) -> u64 {
    mix64(salt ^ (((device as u64) << 32) | generation as u64))
}

/// A person's primary and second email addresses.
pub fn person_emails(sc: &Scenario, world: &World, person: u32) -> (String, String) {
    let p = &world.persons[person as usize];
    let bits = mix64(mix64(sc.seed ^ 0x6e61_6d65) ^ person as u64);
    email::addresses(
        person,
        p.group,
        world.groups[p.group as usize].is_office,
        bits,
    )
}
