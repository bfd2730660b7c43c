//! One household or office observed: each device's visits as the tracker
//! records them (cookies set, lost and replaced; the recorded source; the
//! address; logins), then each lead's form fills, CRM records, opportunity,
//! deal and offline import. Draws come from the device's and the person's
//! observation streams only, in a fixed order.
//! Must never: draw from a world stream, or record what a tracker could not see.

use super::{
    BlockOut, CookieLoss, DELETION_MIXTURE, PendingDeal, PendingForm, PendingImport, PendingLead,
    PendingOpp, Recorded, StoredClick, Tables, account_id, carrier_ip, click_id, cookie_id,
    cookie_salt, email, person_emails, platform_views, to_ms,
};
use crate::base::rng::{Stream, mix64};
use crate::log::{self, ConversionImport, CrmLead, Deal, FormFill, Opportunity, Visit};
use crate::scenario::{BROWSERS, ConsentMode, CookieSetting, Observe, Scenario};
use crate::world::{Lead, Outcome, Source, Touch, World};

/// What every visit and record of one group shares.
struct GroupCtx<'a> {
    sc: &'a Scenario,
    world: &'a World,
    t: &'a Tables,
    start_ms: i64,
    salt: u64,
    /// The group's own address, hashed.
    ip_hash: u64,
    /// The label of `direct` (after the channels).
    direct: u16,
    /// The group's first person and first touch.
    p0: u32,
    t0: u32,
    /// Per member: when their account exists (their first window form fill ends).
    account_from: Vec<Option<f64>>,
}

/// What the tracker kept of each visit touch of the group, indexed by touch − t0.
struct VisitMarks {
    /// The cookie the visit was recorded under (None: not recorded).
    cookie_of: Vec<Option<u64>>,
    /// The click id the visit's cookie held after the visit.
    click_of: Vec<Option<StoredClick>>,
    /// Whether the site's tags (and so the platforms' pixels) ran on the visit.
    pixel_of: Vec<bool>,
    /// Newsletter tokens per member, computed once when first needed.
    token_of: Vec<Option<std::num::NonZeroU64>>,
}

pub(super) fn observe_group(
    sc: &Scenario,
    world: &World,
    t: &Tables,
    start_ms: i64,
    g: u32,
    out: &mut BlockOut,
) {
    let group = &world.groups[g as usize];
    let p0 = group.first_person;
    let p1 = p0 + group.n_persons;
    let (t0, t1) = (
        world.persons[p0 as usize].touches.0,
        world.persons[(p1 - 1) as usize].touches.1,
    );
    let salt = cookie_salt(sc.seed, world.replicate);
    let horizon = sc.horizon_days;
    // Accounts: a person's first form fill in the window creates one; later
    // return visits may be logged in.
    let account_from: Vec<Option<f64>> = (p0..p1)
        .map(|person| {
            let (a, b) = world.persons[person as usize].touches;
            (a..b)
                .map(|ti| &world.touches[ti as usize])
                .filter(|t| t.form_fill && t.time >= 0.0 && t.time <= horizon)
                .map(|t| t.time + t.dwell_s as f64 / 86_400.0)
                .reduce(f64::min)
        })
        .collect();
    let ctx = GroupCtx {
        sc,
        world,
        t,
        start_ms,
        salt,
        ip_hash: mix64(group.ip ^ salt),
        direct: sc.channels.len() as u16,
        p0,
        t0,
        account_from,
    };
    let n = (t1 - t0) as usize;
    let mut marks = VisitMarks {
        cookie_of: vec![None; n],
        click_of: vec![None; n],
        pixel_of: vec![false; n],
        token_of: vec![None; group.n_persons as usize],
    };

    // Visits of the group by (device, time), one device's run at a time.
    let mut order: Vec<u32> = (t0..t1)
        .filter(|&i| world.touches[i as usize].is_visit)
        .collect();
    order.sort_unstable_by(|&a, &b| {
        let (ta, tb) = (&world.touches[a as usize], &world.touches[b as usize]);
        ta.device
            .cmp(&tb.device)
            .then(ta.time.total_cmp(&tb.time))
            .then(a.cmp(&b))
    });
    for run in order
        .chunk_by(|&a, &b| world.touches[a as usize].device == world.touches[b as usize].device)
    {
        observe_device(&ctx, run, &mut marks, out);
    }

    // Form fills and CRM records, person by person.
    for person in p0..p1 {
        if let Outcome::Lead(lead) = &world.persons[person as usize].outcome {
            observe_lead(&ctx, &marks, person, lead, out);
        }
    }
}

/// A device's cookie as the visits find it: its generation, the one-off ids
/// handed out, the last write, the click id stored and the ITP cap.
struct CookieJar {
    deletion_rate: f64,
    /// Whether WebKit's ITP caps the lifetime of script-written cookies.
    itp: bool,
    generation: u32,
    one_off: u32,
    last_write: Option<f64>,
    stored_click: Option<StoredClick>,
    cap_days: f64,
}

/// A visit's own uniforms for the cookie decisions.
struct CookieDraws {
    gap_u: f64,
    private_u: f64,
}

impl CookieJar {
    /// The cookie a visit at `time` is recorded under and the click id it
    /// then holds; None when nothing is recorded (declined consent that
    /// records nothing). `lose` is told every cookie loss.
    #[allow(clippy::too_many_arguments)] // the visit's facts, each of a different kind
    fn visit(
        &mut self,
        o: &Observe,
        (sc, salt, device): (&Scenario, u64, u32),
        time: f64,
        u: CookieDraws,
        visit_click: Option<StoredClick>,
        declined: bool,
        lose: &mut impl FnMut(&'static str, CookieLoss),
    ) -> Option<(u64, Option<StoredClick>)> {
        let private = u.private_u < o.private_window_rate;
        let mut cookie = if private {
            lose("private_window", CookieLoss::PrivateWindow);
            self.one_off += 1;
            cookie_id(salt, device, self.one_off)
        } else {
            if let Some(lw) = self.last_write {
                let gap = time - lw;
                if u.gap_u < 1.0 - (-self.deletion_rate * gap).exp() {
                    self.generation += 1;
                    self.stored_click = None;
                    lose("cookie_deletion", CookieLoss::Deleted);
                } else if self.itp && gap > self.cap_days {
                    self.generation += 1;
                    self.stored_click = None;
                    lose("itp_expiry", CookieLoss::ItpExpired);
                }
            }
            self.last_write = Some(time);
            if visit_click.is_some() {
                self.stored_click = visit_click;
            }
            // ITP 2.2: written on a page reached by a classified tracker's
            // link decoration, the cookie lives 24 hours.
            let decorated =
                visit_click.is_some_and(|(_, c, _)| sc.channels[c as usize].click_id_classified);
            self.cap_days = if decorated {
                o.itp_cap_days.min(1.0)
            } else {
                o.itp_cap_days
            };
            cookie_id(salt, device, self.generation)
        };
        // A throwaway cookie holds only this visit's click id.
        let mut held_click = if private {
            visit_click
        } else {
            self.stored_click
        };
        if declined {
            lose("consent_declined", CookieLoss::ConsentDeclined);
            match o.consent_mode {
                ConsentMode::NotRecorded => return None,
                ConsentMode::OneOffId => {
                    self.one_off += 1;
                    cookie = cookie_id(salt, device, self.one_off);
                    held_click = visit_click;
                }
            }
        }
        Some((cookie, held_click))
    }
}

/// One device's visits (`run`, in time order): its draws (consent, deletion
/// class, tag blocking, address noise, logins, WebKit), then each visit.
/// Long: each visit's draws are taken in one fixed order before any branch.
fn observe_device(ctx: &GroupCtx, run: &[u32], marks: &mut VisitMarks, out: &mut BlockOut) {
    let GroupCtx {
        sc, world, salt, ..
    } = *ctx;
    let o = &sc.observe;
    let horizon = sc.horizon_days;
    let device = world.touches[run[0] as usize].device;
    let dev = &world.devices[device as usize];
    let key = ctx.t.device_key.at(device as u64);
    let mut ds = key.stream(0, 0);
    let declined = ds.uniform() < o.consent_decline_rate;
    let class_u = ds.uniform();
    let class = crate::base::rng::pick_with(class_u, &DELETION_MIXTURE.map(|m| m.0));
    // Its own stream, so the rate thins blocked devices monotonically and
    // leaves every other draw of the device alone.
    let block_u = key.stream(1, 0).uniform();
    let blocked = block_u
        < o.tag_block_rate
            .rate(dev.device_type as usize, dev.browser as usize);
    // IP noise: two uniforms per visit from the device's own stream.
    let mut ip_stream = key.stream(2, 0);
    let ip_noise = o.ip_noise_rate.as_array()[dev.device_type as usize];
    // Logins: one uniform per visit from the device's sub-stream 3.
    let mut login_stream = key.stream(3, 0);
    // WebKit (so ITP): every Safari, and the share of other families
    // that run on iOS; one uniform from the device's sub-stream 4.
    let webkit_u = key.stream(4, 0).uniform();
    let webkit = BROWSERS[dev.browser as usize] == "safari"
        || webkit_u
            < o.webkit_share
                .rate(dev.device_type as usize, dev.browser as usize);
    let mut jar = CookieJar {
        deletion_rate: DELETION_MIXTURE[class].1 * o.cookie_deletion_scale,
        itp: webkit && o.cookie_setting == CookieSetting::Js && o.itp_cap_days > 0.0,
        generation: 0,
        one_off: 1 << 31,
        last_write: None,
        stored_click: None,
        cap_days: o.itp_cap_days,
    };
    for &ti in run {
        let touch = &world.touches[ti as usize];
        let (gap_u, private_u, referrer_u) = (ds.uniform(), ds.uniform(), ds.uniform());
        let (noise_u, carrier_u) = (ip_stream.uniform(), ip_stream.uniform());
        let login_u = login_stream.uniform();
        let in_window = touch.time >= 0.0 && touch.time <= horizon;
        let mut lose = |k: &'static str, why: CookieLoss| {
            if in_window {
                out.losses.add(k, 1);
                out.cookie_losses.push((ti, why));
            }
        };
        if blocked {
            // The tracker never ran: nothing recorded, no cookie written.
            lose("tag_blocked", CookieLoss::TagBlocked);
            continue;
        }
        // The recorded label (None: correct) and the click id the visit carries.
        let true_label = match touch.source {
            Source::Channel(c) => Some(c),
            Source::Return => None,
            Source::FormFill(path) => path,
        };
        let confused = true_label.and_then(|c| {
            ctx.t.recorded_as[c as usize]
                .iter()
                .find(|(cum, _, _)| referrer_u < *cum)
                .map(|&(_, label, mechanism)| (label, mechanism))
        });
        let visit_click: Option<StoredClick> = true_label
            .filter(|&c| sc.channels[c as usize].click_id.is_some())
            .filter(|_| !matches!(confused, Some((l, _)) if l == ctx.direct))
            .map(|c| (click_id(salt, ti), c, touch.time));
        let draws = CookieDraws { gap_u, private_u };
        let Some((cookie, held_click)) = jar.visit(
            o,
            (sc, salt, device),
            touch.time,
            draws,
            visit_click,
            declined,
            &mut lose,
        ) else {
            continue;
        };
        if !in_window {
            continue;
        }
        let k = (ti - ctx.t0) as usize;
        marks.cookie_of[k] = Some(cookie);
        marks.click_of[k] = held_click;
        marks.pixel_of[k] = !declined;
        let (channel, campaign) = recorded_source(ctx, touch, true_label, confused, out);
        let person = touch.person;
        let email_token = newsletter_token(ctx, touch, &mut marks.token_of);
        let visit_ip = if noise_u < ip_noise {
            out.losses.add("ip_noise", 1);
            carrier_ip(salt, carrier_u, sc.persons)
        } else {
            ctx.ip_hash
        };
        let logged_in = !declined
            && matches!(touch.source, Source::Return)
            && login_u < o.login_rate
            && ctx.account_from[(person - ctx.p0) as usize].is_some_and(|t| touch.time > t);
        let n = sc.channels.len();
        out.visits.push(Recorded {
            visit: Visit {
                event_id: 0,
                time_ms: to_ms(ctx.start_ms, touch.time),
                cookie_id: cookie,
                channel,
                campaign,
                click_id: visit_click.map(|c| c.0),
                landing_page: match touch.source {
                    Source::Channel(c) => ctx.t.landing[c as usize],
                    Source::Return => ctx.t.landing[n],
                    Source::FormFill(_) => ctx.t.landing[n + 1],
                },
                pages_viewed: touch.pages,
                dwell_s: touch.dwell_s as f32,
                ip_hash: visit_ip,
                user_agent: ctx.t.ua[dev.browser as usize][dev.device_type as usize],
                email_token,
                user_id: logged_in.then(|| account_id(salt, person)),
            },
            person,
            touch: ti,
        });
    }
}

/// The recorded source of an in-window visit: the confusion-matrix row on
/// one uniform, `direct` first, so the referrer-loss decision is the same
/// draw whatever else is set. A confused visit loses its campaign.
fn recorded_source(
    ctx: &GroupCtx,
    touch: &Touch,
    true_label: Option<u16>,
    confused: Option<(u16, &'static str)>,
    out: &mut BlockOut,
) -> (u16, Option<u16>) {
    let t = ctx.t;
    let campaign = match touch.source {
        Source::Channel(c) => Some(t.campaign_base[c as usize] + touch.campaign as u16),
        Source::Return => None,
        Source::FormFill(path) => path.map(|c| t.campaign_base[c as usize]),
    };
    match (true_label, confused) {
        (Some(_), Some((label, mechanism))) => {
            out.losses.add(mechanism, 1);
            (label, None)
        }
        (Some(c), None) => (c, campaign),
        (None, _) => (ctx.direct, None),
    }
}

/// The newsletter token a subscribers-only channel's visit carries.
fn newsletter_token(
    ctx: &GroupCtx,
    touch: &Touch,
    token_of: &mut [Option<std::num::NonZeroU64>],
) -> Option<std::num::NonZeroU64> {
    let person = touch.person;
    match touch.source {
        Source::Channel(c)
            if ctx.sc.channels[c as usize].audience == crate::scenario::Audience::Subscribers =>
        {
            let slot = &mut token_of[(person - ctx.p0) as usize];
            Some(*slot.get_or_insert_with(|| {
                log::email_token(&person_emails(ctx.sc, ctx.world, person).0)
            }))
        }
        _ => None,
    }
}

/// A lead's form fills and CRM records (one per distinct email typed), its
/// platform views, and for the first record the opportunity, the deal and
/// the offline import.
fn observe_lead(ctx: &GroupCtx, marks: &VisitMarks, person: u32, lead: &Lead, out: &mut BlockOut) {
    let GroupCtx {
        sc,
        world,
        start_ms,
        salt,
        t0,
        ..
    } = *ctx;
    let o = &sc.observe;
    let p = &world.persons[person as usize];
    let (primary, second) = person_emails(sc, world, person);
    platform_views(sc, world, t0, &marks.pixel_of, salt, start_ms, person, out);
    let mut ps = ctx.t.person_key.stream(person as u64, 0, 0);
    let mut records: Vec<(String, u64)> = Vec::new(); // (lowercased email, lead key)
    let mut first_record: Option<(u64, String, Option<StoredClick>)> = None;
    let (a, b) = p.touches;
    for ti in a..b {
        let touch = &world.touches[ti as usize];
        if !touch.form_fill || touch.time > sc.horizon_days {
            continue;
        }
        let typed = email::type_email(
            &mut ps,
            &primary,
            &second,
            o.second_email_rate,
            o.email_typo_rate,
            o.email_variant_rate,
        );
        for (flag, k) in [
            (typed.second, "second_email"),
            (typed.typo, "email_typo"),
            (typed.variant, "email_variant"),
        ] {
            if flag {
                out.losses.add(k, 1);
            }
        }
        // Submitted at the end of the visit's session.
        let time_ms = to_ms(start_ms, touch.time) + 1000 * touch.dwell_s as i64;
        let form_key = ((person as u64) << 24) | (ti - a) as u64;
        let form_click = marks.click_of[(ti - t0) as usize];
        out.forms.push(PendingForm {
            f: FormFill {
                event_id: 0,
                time_ms,
                cookie_id: marks.cookie_of[(ti - t0) as usize],
                click_id: form_click.map(|c| c.0),
                user_id: (o.login_rate > 0.0).then(|| account_id(salt, person)),
                email: typed.email.clone(),
            },
            person,
            key: form_key,
        });
        let lower = typed.email.to_ascii_lowercase();
        if !records.iter().any(|r| r.0 == lower) {
            let key = form_key;
            records.push((lower, key));
            out.leads.push(PendingLead {
                l: CrmLead {
                    event_id: 0,
                    time_ms,
                    email: typed.email.clone(),
                    form_fill_id: 0,
                    click_id: form_click.map(|c| c.0),
                },
                person,
                form_key,
                key,
            });
            if first_record.is_none() {
                first_record = Some((key, typed.email.clone(), form_click));
            }
        }
    }
    if let Some(first) = first_record {
        sales_records(ctx, &mut ps, person, lead, first, out);
    }
}

/// The sales side of a lead's first CRM record: the opportunity, the deal
/// (its email as the rep typed it) and the offline conversion import.
fn sales_records(
    ctx: &GroupCtx,
    ps: &mut Stream,
    person: u32,
    lead: &Lead,
    (lead_key, lead_email, lead_click): (u64, String, Option<StoredClick>),
    out: &mut BlockOut,
) {
    let (sc, start_ms) = (ctx.sc, ctx.start_ms);
    let o = &sc.observe;
    if let Some(t_opp) = lead.opportunity {
        out.opps.push(PendingOpp {
            o: Opportunity {
                event_id: 0,
                time_ms: to_ms(start_ms, t_opp),
                crm_lead_id: 0,
            },
            person,
            lead_key,
        });
    }
    let Some((t_deal, revenue)) = lead.deal else {
        return;
    };
    let (u_typo, u_kind, u_pos, u_char, u_case) = (
        ps.uniform(),
        ps.uniform(),
        ps.uniform(),
        ps.uniform(),
        ps.uniform(),
    );
    let mut rep_email = lead_email;
    if u_case < o.email_variant_rate {
        rep_email = email::variant(&rep_email, 0.0);
    }
    if u_typo < o.rep_typo_rate {
        out.losses.add("rep_typo", 1);
        rep_email = email::typo(&rep_email, u_kind, u_pos, u_char);
    }
    // Offline conversion import: the worked record's click id, while
    // the click is younger than its platform's window.
    if let Some((id, c, clicked)) = lead_click {
        if t_deal - clicked <= sc.channels[c as usize].click_window_days {
            out.imports.push(PendingImport {
                i: ConversionImport {
                    event_id: 0,
                    time_ms: to_ms(start_ms, t_deal),
                    channel: c,
                    click_id: id,
                    revenue,
                },
                person,
            });
        }
    }
    out.deals.push(PendingDeal {
        d: Deal {
            event_id: 0,
            time_ms: to_ms(start_ms, t_deal),
            revenue,
            email: rep_email,
        },
        person,
    });
}
