//! What the HTML report and the charts need beyond the scores: what a
//! GA-style and a HubSpot-style report would say, where each lead really came
//! from vs the label last touch recorded, and a few converting persons'
//! journeys told touch by touch. Built here because it needs the truth (the
//! strategies it runs see only the log).

use super::{AttributionResult, errors_against, scored_channels};
use crate::attribute::{self, Journeys};
use crate::log::EventLog;
use crate::observe;
use crate::scenario::{BROWSERS, DEVICE_TYPES, JourneyUnit, Scenario};
use crate::spec::{AttributorSpec, StitcherSpec};
use crate::stitch;
use crate::truth::Truth;
use crate::world::{Outcome, Source, World};
use std::collections::{BTreeMap, HashMap};

/// The tools of the "what your tools would tell you" table: (name, stitcher, model).
pub const TOOLS: [(&str, StitcherSpec, &str); 2] = [
    ("GA-style", StitcherSpec::CookieOnly, "last_non_direct"),
    ("HubSpot-style", StitcherSpec::Deterministic, "first_touch"),
];

/// How many converting persons the journey timeline shows.
pub const TIMELINE_PERSONS: usize = 3;

/// One touch on a journey timeline (plain data; `report` draws it).
#[derive(Clone, Debug, PartialEq)]
pub struct JourneyTouch {
    /// Days since the window opened.
    pub day: f64,
    /// The label it is coloured by: the true channel, `direct` for return
    /// and direct form-fill visits.
    pub label: String,
    /// The tracker recorded it (false: an impression, a blocked or
    /// declined device, a visit before the window).
    pub recorded: bool,
    /// A recorded visit under a cookie id this device had not shown before.
    pub new_cookie: bool,
    /// The touch whose clock fired: the true cause.
    pub is_cause: bool,
}

/// One converting person's touches, one row per device.
#[derive(Clone, Debug, PartialEq)]
pub struct JourneyPerson {
    /// Panel title.
    pub title: String,
    /// (device label, its touches in time order).
    pub rows: Vec<(String, Vec<JourneyTouch>)>,
    /// Milestones: (day, label) — form fill, opportunity, deal.
    pub marks: Vec<(f64, String)>,
}

/// The extra data of one replicate for the report's pictures.
#[derive(Clone, Debug, Default)]
pub struct Pictures {
    /// Per entry of [`TOOLS`]: that tool's credit, scored (always computed,
    /// whatever the run's stitchers and models).
    pub tools: Vec<AttributionResult>,
    /// (true cause, label last touch recorded on cookie journeys, leads).
    pub flows: Vec<(String, String, f64)>,
    /// A few converting persons' journeys (replicate 0 only).
    pub timelines: Vec<JourneyPerson>,
}

/// The tools' credit: reuse the run's rows where the run has them.
pub fn tools(
    sc: &Scenario,
    log: &EventLog,
    truth: &Truth,
    rows: &[AttributionResult],
) -> Vec<AttributionResult> {
    TOOLS
        .iter()
        .map(|(_, stitcher, model)| {
            let spec = AttributorSpec::parse(model).expect("registered model id");
            if let Some(r) = rows
                .iter()
                .find(|r| r.stitcher == stitcher.id() && r.model == spec.id())
            {
                return r.clone();
            }
            let ids = stitch::build(stitcher).stitch(log);
            let journeys = match sc.journey_unit {
                JourneyUnit::Visit => Journeys::build(log, &ids),
                JourneyUnit::Session => Journeys::build_sessions(log, &ids, &sc.sessions),
            };
            let credit = attribute::build(&spec).attribute(&journeys);
            let error = errors_against(&credit, truth, &scored_channels(sc));
            AttributionResult {
                stitcher: stitcher.id(),
                model: spec.id(),
                credit,
                error,
            }
        })
        .collect()
}

/// Per true lead: its true cause and the label of the last visit its
/// form-fill cookie recorded up to the lead (`unknown` without one), counted.
pub fn flows(log: &EventLog, truth: &Truth) -> Vec<(String, String, f64)> {
    // The first CRM record of each true lead's person.
    let mut first: HashMap<u32, usize> = HashMap::new();
    for (i, &p) in truth.events.crm_lead_person.iter().enumerate() {
        let e = first.entry(p).or_insert(i);
        if log.crm_leads[i].time_ms < log.crm_leads[*e].time_ms {
            *e = i;
        }
    }
    let form_cookie: HashMap<u64, Option<u64>> = log
        .form_fills
        .iter()
        .map(|f| (f.event_id, f.cookie_id))
        .collect();
    let lead_cookie = |person: u32| -> Option<(u64, i64)> {
        let l = &log.crm_leads[*first.get(&person)?];
        Some(((*form_cookie.get(&l.form_fill_id)?)?, l.time_ms))
    };
    let mut wanted: HashMap<u64, Vec<(i64, u16)>> = truth
        .leads
        .iter()
        .filter_map(|l| lead_cookie(l.person))
        .map(|(c, _)| (c, Vec::new()))
        .collect();
    for v in &log.visits {
        if let Some(vs) = wanted.get_mut(&v.cookie_id) {
            vs.push((v.time_ms, v.channel));
        }
    }
    let mut counts: BTreeMap<(String, String), f64> = BTreeMap::new();
    for l in &truth.leads {
        let recorded = lead_cookie(l.person)
            .and_then(|(c, t)| {
                let vs = &wanted[&c];
                let k = vs.partition_point(|v| v.0 <= t);
                (k > 0).then(|| log.labels[vs[k - 1].1 as usize].clone())
            })
            .unwrap_or_else(|| "unknown".to_string());
        *counts.entry((l.cause.clone(), recorded)).or_insert(0.0) += 1.0;
    }
    counts.into_iter().map(|((a, b), n)| (a, b, n)).collect()
}

/// The label a world touch is drawn with.
fn touch_label(sc: &Scenario, s: Source) -> String {
    match s {
        Source::Channel(c) | Source::FormFill(Some(c)) => sc.channels[c as usize].id.clone(),
        Source::Return | Source::FormFill(None) => "direct".to_string(),
    }
}

/// Up to [`TIMELINE_PERSONS`] converting persons who closed a deal, whose
/// cause is a channel and whose touches before the lead span two devices or
/// more (the most touches first), told touch by touch.
pub fn timelines(
    sc: &Scenario,
    w: &World,
    log: &EventLog,
    events: &observe::EventPersons,
) -> Vec<JourneyPerson> {
    let mut candidates: Vec<(usize, u32)> = Vec::new();
    for (person, p) in w.persons.iter().enumerate() {
        let Outcome::Lead(l) = &p.outcome else {
            continue;
        };
        if l.deal.is_none() || l.cause_touch.is_none() {
            continue;
        }
        let touches: Vec<_> = w
            .touches_of(person as u32)
            .iter()
            .filter(|t| t.time >= 0.0 && t.time <= l.time)
            .collect();
        let mut devices: Vec<u32> = touches.iter().map(|t| t.device).collect();
        devices.sort_unstable();
        devices.dedup();
        if devices.len() >= 2 && touches.len() <= 40 {
            candidates.push((touches.len(), person as u32));
        }
    }
    candidates.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    candidates.truncate(TIMELINE_PERSONS);
    candidates.sort_by_key(|c| c.1);
    // World touch → recorded visit, for the chosen persons only.
    let ranges: Vec<(u32, u32)> = candidates
        .iter()
        .map(|&(_, p)| w.persons[p as usize].touches)
        .collect();
    let mut visit_of: HashMap<u32, usize> = HashMap::new();
    for (v, &t) in events.visit_touch.iter().enumerate() {
        if ranges.iter().any(|&(a, b)| t >= a && t < b) {
            visit_of.insert(t, v);
        }
    }
    candidates
        .iter()
        .map(|&(_, person)| {
            let p = &w.persons[person as usize];
            let Outcome::Lead(l) = &p.outcome else {
                unreachable!("candidates are leads")
            };
            let mut rows: Vec<(u32, String, Vec<JourneyTouch>, Option<u64>)> = Vec::new();
            for (k, t) in w.touches_of(person).iter().enumerate() {
                if t.time < 0.0 || t.time > l.time {
                    continue;
                }
                let index = p.touches.0 + k as u32;
                let row = match rows.iter().position(|r| r.0 == t.device) {
                    Some(r) => r,
                    None => {
                        let d = &w.devices[t.device as usize];
                        let label = format!(
                            "{} · {}",
                            DEVICE_TYPES[d.device_type as usize], BROWSERS[d.browser as usize]
                        );
                        rows.push((t.device, label, Vec::new(), None));
                        rows.len() - 1
                    }
                };
                let cookie = visit_of.get(&index).map(|&v| log.visits[v].cookie_id);
                let new_cookie = match (cookie, rows[row].3) {
                    (Some(c), Some(prev)) => c != prev,
                    _ => false,
                };
                if cookie.is_some() {
                    rows[row].3 = cookie;
                }
                rows[row].2.push(JourneyTouch {
                    day: t.time,
                    label: touch_label(sc, t.source),
                    recorded: cookie.is_some(),
                    new_cookie,
                    is_cause: l.cause_touch == Some(index),
                });
            }
            let cause = match l.cause_touch {
                Some(t) => touch_label(sc, w.touches[t as usize].source),
                None => "baseline".to_string(),
            };
            let mut marks = vec![(l.time, "form fill (lead)".to_string())];
            if let Some(o) = l.opportunity {
                marks.push((o, "opportunity (sales qualified)".to_string()));
            }
            if let Some((d, revenue)) = l.deal {
                marks.push((d, format!("deal won: revenue {revenue:.0}")));
            }
            // Devices in the order they first appear.
            rows.sort_by(|a, b| {
                let first = |r: &Vec<JourneyTouch>| r.first().map_or(f64::MAX, |t| t.day);
                first(&a.2).total_cmp(&first(&b.2)).then(a.0.cmp(&b.0))
            });
            // Two devices of one kind and browser are numbered.
            let labels: Vec<String> = rows.iter().map(|r| r.1.clone()).collect();
            let rows = rows
                .into_iter()
                .enumerate()
                .map(|(i, r)| {
                    let same = labels.iter().filter(|l| **l == r.1).count();
                    let nth = labels[..=i].iter().filter(|l| **l == r.1).count();
                    let label = if same > 1 {
                        format!("{} ({nth})", r.1)
                    } else {
                        r.1
                    };
                    (label, r.2)
                })
                .collect();
            JourneyPerson {
                title: format!("person {person}: true cause {cause} (ringed)"),
                rows,
                marks,
            }
        })
        .collect()
}
