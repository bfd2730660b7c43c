//! One person's story: the touches and cookie losses, the forms and what
//! the tracker could join, the sales outcome and the credit lines.

use super::model::*;
use super::pick::{Context, to_ms};
use super::report_credit::ReportRun;
use crate::attribute::{self};
use crate::base::credit::Credit;
use crate::experiment::{self};
use crate::log::EventLog;
use crate::scenario::{BROWSERS, DEVICE_TYPES};
use crate::truth::{BASELINE, PROXIMATE, SHAPLEY, TRUTHS};
use crate::world::{Cause, Source};
use std::collections::{BTreeMap, HashMap};

/// A cookie id as a `_ga` cookie would show it: `GA1.1.<random>.<first seen, s>`.
pub fn ga_cookie(cookie_id: u64, first_seen_ms: i64) -> String {
    format!(
        "GA1.1.{:010}.{}",
        cookie_id % 10_000_000_000,
        first_seen_ms.div_euclid(1000)
    )
}

/// A cookie id as a `hubspotutk` cookie would show it (32 hex digits).
pub fn hubspot_cookie(cookie_id: u64) -> String {
    format!(
        "{:016x}{:016x}",
        cookie_id,
        crate::base::rng::mix64(cookie_id ^ 0x0068_7562_7370_6f74)
    )
}

/// A story's events with the order they were told in (ties in time keep it).
#[derive(Default)]
struct Timeline {
    events: Vec<(i64, u32, StoryEvent)>,
}

impl Timeline {
    fn push(&mut self, time_ms: i64, step: u8, what: What) {
        let order = self.events.len() as u32;
        self.events.push((
            time_ms,
            order,
            StoryEvent {
                time_ms,
                step,
                what,
            },
        ));
    }
}

impl<'a> Context<'a> {
    pub(super) fn story(
        &self,
        person: u32,
        kind: StoryKind,
        deterministic: &ReportRun,
        reports: &[ReportRun],
    ) -> Story {
        let w = self.world;
        let p = &w.persons[person as usize];
        let lead = self.lead_of(person);
        let devices = w
            .devices_of(person)
            .iter()
            .map(|&d| {
                let dev = &w.devices[d as usize];
                DeviceInfo {
                    device: d,
                    device_type: DEVICE_TYPES[dev.device_type as usize].to_string(),
                    browser: BROWSERS[dev.browser as usize].to_string(),
                    shared: dev.shared,
                }
            })
            .collect();
        let mut tl = Timeline::default();
        self.touch_events(person, lead, &mut tl);
        // Form fills (step 3), with what the tracker could join.
        let crm = self.crm_of.get(&person).cloned().unwrap_or_default();
        self.form_events(person, &crm, deterministic, &mut tl);
        // The baseline, and sales (step 4).
        if let Some(l) = lead {
            self.sales_events(person, l, &mut tl);
        }
        let mut events = tl.events;
        events.sort_by_key(|e| (e.0, e.1));
        // Web events after the lead belong to no journey: count them only.
        let mut after_lead = AfterLead::default();
        if let Some(l) = lead {
            let lead_ms = to_ms(self.start_ms, l.time);
            events.retain(|(t, _, e)| {
                if *t <= lead_ms || e.step == 4 || matches!(e.what, What::BaselineFired) {
                    return true;
                }
                match e.what {
                    What::CookieLost { .. } => after_lead.cookie_losses += 1,
                    What::FormFill { .. } => after_lead.form_fills += 1,
                    _ => after_lead.touches += 1,
                }
                false
            });
        }
        let lead_info = lead.map(|l| LeadInfo {
            time_ms: to_ms(self.start_ms, l.time),
            cause: match l.cause {
                Cause::Channel(c) => self.sc.channels[c as usize].id.clone(),
                Cause::Baseline => BASELINE.to_string(),
            },
            cause_time_ms: l
                .cause_touch
                .map(|t| to_ms(self.start_ms, w.touches[t as usize].time)),
            revenue: l.deal.map_or(0.0, |d| d.1),
        });
        let credit = match lead {
            Some(_) => self.credit_lines(person, &crm, reports),
            None => Vec::new(),
        };
        Story {
            person,
            kind,
            segment: self.sc.segments[p.segment as usize].id.clone(),
            intent: p.z,
            newsletter: p.newsletter,
            group_size: w.groups[p.group as usize].n_persons,
            devices,
            events: events.into_iter().map(|e| e.2).collect(),
            lead: lead_info,
            after_lead,
            credit,
        }
    }

    /// Steps 1 and 2: the person's window touches (impressions, visits) and
    /// the cookie losses at them.
    fn touch_events(&self, person: u32, lead: Option<&crate::world::Lead>, tl: &mut Timeline) {
        let log = &self.obs.log;
        let losses = self.losses_of(person);
        // The cookie each device held last in this story (for "previous cookie").
        let mut held: HashMap<u32, u64> = HashMap::new();
        for (ti, t) in self.window_touches(person) {
            let time_ms = to_ms(self.start_ms, t.time);
            let caused = lead.is_some_and(|l| l.cause_touch == Some(ti));
            let visit = self.visit_of_touch.get(&ti).map(|&i| &log.visits[i]);
            for &(_, why) in losses.iter().filter(|x| x.0 == ti) {
                tl.push(
                    time_ms,
                    2,
                    What::CookieLost {
                        cause: why,
                        device: t.device,
                        previous_cookie: held.get(&t.device).map(|&c| self.cookie_text(c)),
                    },
                );
            }
            if !t.is_visit {
                if let Source::Channel(c) = t.source {
                    tl.push(
                        time_ms,
                        1,
                        What::Impression {
                            channel: self.sc.channels[c as usize].id.clone(),
                            device: t.device,
                            armed: t.armed,
                            caused_lead: caused,
                        },
                    );
                }
                continue;
            }
            let (step, what) = self.visit_event(t, visit, &held, caused);
            tl.push(time_ms, step, what);
            if let Some(v) = visit {
                held.insert(t.device, v.cookie_id);
            }
        }
    }

    /// A visit as told: its step (1 when a new cookie is set) and what it shows.
    fn visit_event(
        &self,
        t: &crate::world::Touch,
        visit: Option<&crate::log::Visit>,
        held: &HashMap<u32, u64>,
        caused: bool,
    ) -> (u8, What) {
        let log = &self.obs.log;
        let source = match t.source {
            Source::Channel(c) => self.sc.channels[c as usize].id.clone(),
            Source::Return => "return".to_string(),
            Source::FormFill(Some(c)) => self.sc.channels[c as usize].id.clone(),
            Source::FormFill(None) => "direct".to_string(),
        };
        let true_channel = match t.source {
            Source::Channel(c) | Source::FormFill(Some(c)) => Some(c),
            _ => None,
        };
        let (landing, new_cookie) = match visit {
            Some(v) => (
                log.pages[v.landing_page as usize].clone(),
                self.cookie_first_ms.get(&v.cookie_id) == Some(&v.time_ms)
                    && held.get(&t.device) != Some(&v.cookie_id),
            ),
            None => (String::new(), false),
        };
        let click_id = visit.and_then(|v| {
            let id = v.click_id?;
            let param = true_channel
                .and_then(|c| self.sc.channels[c as usize].click_id.clone())
                .unwrap_or_else(|| "click_id".into());
            Some((param, format!("{:016x}", id.get())))
        });
        let url = visit.map(|v| {
            let mut url = format!(
                "https://www.example.com{}",
                log.pages[v.landing_page as usize]
            );
            let mut params: Vec<String> = Vec::new();
            if (v.channel as usize) < log.n_channels {
                params.push(format!("utm_source={}", self.label(v.channel)));
                if let Some(c) = v.campaign {
                    params.push(format!("utm_campaign={}", log.campaigns[c as usize]));
                }
            }
            if let Some((k, val)) = &click_id {
                params.push(format!("{k}={val}"));
            }
            if !params.is_empty() {
                url.push('?');
                url.push_str(&params.join("&"));
            }
            url
        });
        let step = if visit.is_none() || new_cookie { 1 } else { 2 };
        (
            step,
            What::Visit {
                source,
                recorded_as: visit.map(|v| self.label(v.channel)),
                url,
                cookie: visit.map(|v| self.cookie_text(v.cookie_id)),
                hubspotutk: visit.map(|v| hubspot_cookie(v.cookie_id)),
                new_cookie,
                device: t.device,
                landing_page: landing,
                pages: t.pages,
                dwell_s: t.dwell_s,
                campaign: visit
                    .and_then(|v| v.campaign)
                    .map(|c| log.campaigns[c as usize].clone()),
                click_id,
                event_id: visit.map(|v| v.event_id),
                armed: t.armed,
                caused_lead: caused,
            },
        )
    }

    /// Step 3: the person's form fills and the CRM records they made.
    fn form_events(
        &self,
        person: u32,
        crm: &[usize],
        deterministic: &ReportRun,
        tl: &mut Timeline,
    ) {
        let log = &self.obs.log;
        for &fi in self.forms_of.get(&person).map_or(&[][..], |v| v.as_slice()) {
            let f = &log.form_fills[fi];
            let record = crm
                .iter()
                .copied()
                .find(|&ci| log.crm_leads[ci].form_fill_id == f.event_id);
            let joined = self.join(person, f, deterministic);
            tl.push(
                f.time_ms,
                3,
                What::FormFill {
                    event_id: Some(f.event_id),
                    email: f.email.clone(),
                    cookie: f.cookie_id.map(|c| self.cookie_text(c)),
                    crm_lead_id: record.map(|ci| log.crm_leads[ci].event_id),
                    duplicate_record: record.is_some() && crm.first() != record.as_ref(),
                    joined,
                },
            );
        }
    }

    /// Step 4 (and the baseline firing): opportunity, deal or why sales dropped.
    fn sales_events(&self, person: u32, l: &crate::world::Lead, tl: &mut Timeline) {
        let log = &self.obs.log;
        let ev = &self.truth.events;
        let lead_ms = to_ms(self.start_ms, l.time);
        if l.cause == Cause::Baseline {
            tl.push(lead_ms, 3, What::BaselineFired);
        }
        let opp = ev
            .opportunity_person
            .iter()
            .position(|&x| x == person)
            .map(|i| &log.opportunities[i]);
        let deal = ev
            .deal_person
            .iter()
            .position(|&x| x == person)
            .map(|i| &log.deals[i]);
        if let Some(t) = l.opportunity {
            tl.push(
                to_ms(self.start_ms, t),
                4,
                What::Opportunity {
                    event_id: opp.map(|o| o.event_id),
                },
            );
        }
        match l.deal {
            Some((t, revenue)) => tl.push(
                to_ms(self.start_ms, t),
                4,
                What::Deal {
                    revenue,
                    event_id: deal.map(|d| d.event_id),
                },
            ),
            None => {
                let (t, reason) = if !l.contacted {
                    (lead_ms, "not_contacted")
                } else if let Some(t) = l.opportunity {
                    (to_ms(self.start_ms, t), "not_closed")
                } else {
                    (lead_ms, "not_qualified")
                };
                tl.push(
                    t,
                    4,
                    What::SalesDropped {
                        reason: reason.into(),
                    },
                );
            }
        }
    }

    /// What the tracker could join to a form fill.
    pub(super) fn join(&self, person: u32, f: &crate::log::FormFill, det: &ReportRun) -> Join {
        let log = &self.obs.log;
        let ev = &self.truth.events;
        let upto = |i: usize| log.visits[i].time_ms <= f.time_ms;
        let on_cookie = f.cookie_id.map_or(0, |c| {
            (0..log.visits.len())
                .filter(|&i| upto(i) && log.visits[i].cookie_id == c)
                .count()
        });
        let fi = log
            .form_fills
            .iter()
            .position(|x| x.event_id == f.event_id)
            .expect("the form fill is in the log");
        let cluster = det.ids.form_fill[fi];
        let in_cluster = |i: usize| det.ids.visit[i] == cluster;
        let mine = |i: usize| ev.visit_person[i] == person;
        let by_email = (0..log.visits.len())
            .filter(|&i| upto(i) && in_cluster(i))
            .count();
        let of_others = (0..log.visits.len())
            .filter(|&i| upto(i) && in_cluster(i) && !mine(i))
            .count();
        let own_recorded = (0..log.visits.len())
            .filter(|&i| upto(i) && mine(i))
            .count();
        let missed = (0..log.visits.len())
            .filter(|&i| upto(i) && mine(i) && !in_cluster(i))
            .count();
        let unrecorded = self
            .window_touches(person)
            .filter(|(ti, t)| {
                t.is_visit
                    && to_ms(self.start_ms, t.time) <= f.time_ms
                    && !self.visit_of_touch.contains_key(ti)
            })
            .count();
        Join {
            on_cookie,
            by_email,
            of_others,
            own_recorded,
            missed,
            unrecorded,
        }
    }

    /// The truths' credit of the person's lead, then each report's.
    pub(super) fn credit_lines(
        &self,
        person: u32,
        crm: &[usize],
        reports: &[ReportRun],
    ) -> Vec<CreditLine> {
        let mut lines = Vec::new();
        let n_ch = self.sc.channels.len() as u16;
        let name = |l: u16| {
            if l == n_ch {
                BASELINE.to_string()
            } else {
                self.sc.channels[l as usize].id.clone()
            }
        };
        // In TRUTHS order: shapley and incremental from the world's
        // per-person games, proximate from the ledger's true cause.
        let pc = self.credit_of.get(&person).map(|&i| &self.world.credit[i]);
        for (t, truth) in TRUTHS.iter().enumerate() {
            let mut c = Credit::default();
            if t == PROXIMATE {
                let Some(tl) = self.truth.leads.iter().find(|l| l.person == person) else {
                    continue;
                };
                c.add(&tl.cause, 1.0, tl.revenue);
            } else if let Some(pc) = pc {
                let entries = if t == SHAPLEY {
                    &pc.shapley
                } else {
                    &pc.incremental
                };
                for &(l, conv, rev) in entries {
                    c.add(&name(l), conv, rev);
                }
            }
            lines.push(line(truth, None, None, Vec::new(), &c));
        }
        let Some(&first_record) = crm.first() else {
            return lines;
        };
        for r in reports {
            let Some(j) = r.journey_of_lead(first_record) else {
                continue;
            };
            let journey = &r.journeys.journeys[j];
            let labels = r
                .journeys
                .touches_of(journey)
                .iter()
                .map(|t| r.journeys.labels[t.label as usize].clone())
                .collect();
            let c = r.credit_of(j);
            lines.push(line(
                &r.role,
                Some(r.stitcher.clone()),
                Some(r.model.clone()),
                labels,
                &c,
            ));
        }
        lines.extend(self.platform_line(person));
        lines
    }

    /// What the ad platforms claim of this person's lead: the real
    /// `platform_reported` on the platform logs cut to this person's form
    /// fills (their pixel conversions and the platforms' touches of them)
    /// and the deals imported for them. None without paid platforms.
    pub(super) fn platform_line(&self, person: u32) -> Option<CreditLine> {
        let log = &self.obs.log;
        if log.platforms.is_empty() {
            return None;
        }
        let forms: Vec<u64> = self
            .forms_of
            .get(&person)
            .map(|v| v.iter().map(|&i| log.form_fills[i].event_id).collect())
            .unwrap_or_default();
        let mut own = EventLog {
            labels: log.labels.clone(),
            n_channels: log.n_channels,
            ..Default::default()
        };
        for p in &log.platforms {
            let conversions: Vec<crate::log::PixelConversion> = p
                .conversions
                .iter()
                .filter(|c| forms.contains(&c.form_fill_id))
                .copied()
                .collect();
            let touches = p
                .touches
                .iter()
                .filter(|t| conversions.iter().any(|c| c.user == t.user))
                .copied()
                .collect();
            own.platforms.push(crate::log::PlatformLog {
                channel: p.channel,
                click_window_days: p.click_window_days,
                view_window_days: p.view_window_days,
                touches,
                conversions,
            });
        }
        own.conversion_imports = log
            .conversion_imports
            .iter()
            .zip(&self.truth.events.import_person)
            .filter(|(_, p)| **p == person)
            .map(|(i, _)| i.clone())
            .collect();
        let claims = attribute::platform_reported(&own);
        Some(line(
            "platforms",
            Some(experiment::NO_STITCHING.to_string()),
            Some(attribute::PLATFORM_REPORTED.to_string()),
            Vec::new(),
            &claims.credit,
        ))
    }
}

fn line(
    source: &str,
    stitcher: Option<String>,
    model: Option<String>,
    journey: Vec<String>,
    c: &Credit,
) -> CreditLine {
    let nonzero = |m: &BTreeMap<String, f64>| {
        m.iter()
            .filter(|(_, v)| v.abs() > 1e-9)
            .map(|(k, v)| (k.clone(), *v))
            .collect()
    };
    CreditLine {
        source: source.to_string(),
        stitcher,
        model,
        journey,
        conversions: nonzero(&c.conversions),
        revenue: nonzero(&c.revenue),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_look_like_the_trackers() {
        let ga = ga_cookie(12_345_678_901_234, 1_772_409_600_123);
        assert_eq!(ga, "GA1.1.5678901234.1772409600");
        let hs = hubspot_cookie(0xabc);
        assert_eq!(hs.len(), 32);
        assert!(hs.starts_with("0000000000000abc"));
    }
}
