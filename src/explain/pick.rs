//! The narrator's index of one replicate (who touched what, which cookie,
//! which form, which CRM record) and the choice of whose story to tell.

use super::model::*;
use super::story::ga_cookie;
use crate::observe::{CookieLoss, Observation};
use crate::scenario::Scenario;
use crate::truth::Truth;
use crate::world::{Outcome, Source, World};
use std::collections::HashMap;

/// Everything the narrator reads, indexed.
pub(super) struct Context<'a> {
    pub(super) sc: &'a Scenario,
    pub(super) world: &'a World,
    pub(super) obs: &'a Observation,
    pub(super) truth: &'a Truth,
    /// World touch → log visit index.
    pub(super) visit_of_touch: HashMap<u32, usize>,
    /// Cookie id → time (ms) it was first seen in the log.
    pub(super) cookie_first_ms: HashMap<u64, i64>,
    /// Form fills and CRM leads per person, by time.
    pub(super) forms_of: HashMap<u32, Vec<usize>>,
    pub(super) crm_of: HashMap<u32, Vec<usize>>,
    /// Person → index in `World::credit`.
    pub(super) credit_of: HashMap<u32, usize>,
    pub(super) start_ms: i64,
}

pub(super) fn to_ms(start_ms: i64, days: f64) -> i64 {
    start_ms + (days * 86_400_000.0).round() as i64
}

impl<'a> Context<'a> {
    pub(super) fn new(
        sc: &'a Scenario,
        world: &'a World,
        obs: &'a Observation,
        truth: &'a Truth,
    ) -> Self {
        let ev = &truth.events;
        let visit_of_touch = ev
            .visit_touch
            .iter()
            .enumerate()
            .map(|(i, &t)| (t, i))
            .collect();
        let mut cookie_first_ms = HashMap::new();
        for v in &obs.log.visits {
            cookie_first_ms.entry(v.cookie_id).or_insert(v.time_ms);
        }
        let mut forms_of: HashMap<u32, Vec<usize>> = HashMap::new();
        for (i, &p) in ev.form_fill_person.iter().enumerate() {
            forms_of.entry(p).or_default().push(i);
        }
        let mut crm_of: HashMap<u32, Vec<usize>> = HashMap::new();
        for (i, &p) in ev.crm_lead_person.iter().enumerate() {
            crm_of.entry(p).or_default().push(i);
        }
        Context {
            sc,
            world,
            obs,
            truth,
            visit_of_touch,
            cookie_first_ms,
            forms_of,
            crm_of,
            credit_of: world
                .credit
                .iter()
                .enumerate()
                .map(|(i, c)| (c.person, i))
                .collect(),
            start_ms: sc.start_epoch_ms(),
        }
    }

    pub(super) fn cookie_text(&self, cookie_id: u64) -> String {
        let first = self.cookie_first_ms.get(&cookie_id).copied().unwrap_or(0);
        ga_cookie(cookie_id, first)
    }

    pub(super) fn label(&self, l: u16) -> String {
        self.obs.log.labels[l as usize].clone()
    }

    /// The person's touches in the window.
    pub(super) fn window_touches(
        &self,
        person: u32,
    ) -> impl Iterator<Item = (u32, &'a crate::world::Touch)> {
        let (a, b) = self.world.persons[person as usize].touches;
        let horizon = self.sc.horizon_days;
        (a..b)
            .map(|ti| (ti, &self.world.touches[ti as usize]))
            .filter(move |(_, t)| t.time >= 0.0 && t.time <= horizon)
    }

    /// Cookie losses on the person's touches.
    pub(super) fn losses_of(&self, person: u32) -> &'a [(u32, CookieLoss)] {
        let (a, b) = self.world.persons[person as usize].touches;
        let l = &self.obs.cookie_losses;
        let from = l.partition_point(|x| x.0 < a);
        let to = l.partition_point(|x| x.0 < b);
        &l[from..to]
    }

    pub(super) fn lead_of(&self, person: u32) -> Option<&'a crate::world::Lead> {
        match &self.world.persons[person as usize].outcome {
            Outcome::Lead(l) => Some(l),
            _ => None,
        }
    }

    /// The channel that reaches high-intent persons most (brand search).
    pub(super) fn intent_channel(&self) -> Option<u16> {
        self.sc
            .channels
            .iter()
            .enumerate()
            .filter(|(_, c)| c.intent_exponent > 0.0)
            .max_by(|a, b| a.1.intent_exponent.total_cmp(&b.1.intent_exponent))
            .map(|(i, _)| i as u16)
    }

    /// Incremental leads of a label for a person (0 when absent).
    pub(super) fn incremental(&self, person: u32, label: u16) -> f64 {
        self.credit_of
            .get(&person)
            .map(|&i| &self.world.credit[i])
            .and_then(|c| c.incremental.iter().find(|x| x.0 == label))
            .map_or(0.0, |x| x.1)
    }

    /// Whether a person fits a kind of the mix.
    pub(super) fn fits(&self, person: u32, kind: StoryKind) -> bool {
        let lead = self.lead_of(person);
        let before = |t: f64| lead.is_none_or(|l| t <= l.time);
        let visits: Vec<&crate::world::Touch> = self
            .window_touches(person)
            .map(|(_, t)| t)
            .filter(|t| t.is_visit && before(t.time))
            .collect();
        let mut devices: Vec<u32> = visits.iter().map(|t| t.device).collect();
        devices.sort_unstable();
        devices.dedup();
        let lost = self
            .losses_of(person)
            .iter()
            .any(|&(ti, _)| before(self.world.touches[ti as usize].time));
        match kind {
            StoryKind::Clean => {
                lead.is_some_and(|l| {
                    l.cause_touch
                        .is_some_and(|c| self.world.touches[c as usize].is_visit)
                }) && !lost
                    && devices.len() == 1
            }
            StoryKind::CookieLost => lead.is_some() && lost,
            StoryKind::SecondDevice => lead.is_some() && devices.len() >= 2,
            StoryKind::NeverConverted => lead.is_none() && !visits.is_empty(),
            StoryKind::SalesDropped => lead.is_some_and(|l| l.deal.is_none()),
            StoryKind::WouldHaveBoughtAnyway => match (lead, self.intent_channel()) {
                (Some(l), Some(c)) => {
                    self.window_touches(person)
                        .any(|(_, t)| t.source == Source::Channel(c) && t.time <= l.time)
                        && self.incremental(person, c) == 0.0
                }
                _ => false,
            },
            StoryKind::Chosen => true,
        }
    }

    /// Before the lead, a recorded visit came with a new cookie because the
    /// one set on an earlier recorded visit was deleted, expired by ITP or
    /// hidden by a private window: a history the tracker saw, then lost.
    pub(super) fn replaced_cookie_before_lead(&self, person: u32) -> bool {
        let Some(l) = self.lead_of(person) else {
            return false;
        };
        let first_recorded = self
            .window_touches(person)
            .find(|(ti, _)| self.visit_of_touch.contains_key(ti))
            .map(|(ti, _)| ti);
        self.losses_of(person).iter().any(|&(ti, why)| {
            matches!(
                why,
                CookieLoss::Deleted | CookieLoss::ItpExpired | CookieLoss::PrivateWindow
            ) && self.world.touches[ti as usize].time <= l.time
                && self.visit_of_touch.contains_key(&ti)
                && first_recorded.is_some_and(|f| f < ti)
        })
    }

    /// The causing touch and the form-fill visit are on different devices.
    pub(super) fn cause_on_other_device(&self, person: u32) -> bool {
        let Some(l) = self.lead_of(person) else {
            return false;
        };
        let device = |t: u32| self.world.touches[t as usize].device;
        l.cause_touch
            .is_some_and(|c| device(c) != device(l.form_visit))
    }

    /// The default mix: one person per kind — preferring a replaced cookie
    /// for `cookie_lost`, the cause on another device than the form for
    /// `second_device`, the most visits for `never_converted`, then a deal,
    /// then the lowest index — then other leads and other visitors up to `n`.
    pub(super) fn pick(&self, n: usize) -> (Vec<(u32, StoryKind)>, Vec<StoryKind>) {
        let persons = self.world.persons.len() as u32;
        let mut chosen: Vec<(u32, StoryKind)> = Vec::new();
        let mut missing = Vec::new();
        for kind in StoryKind::MIX.into_iter().take(n) {
            let taken = |p: u32, chosen: &[(u32, StoryKind)]| chosen.iter().any(|c| c.0 == p);
            let score = |p: u32| -> (i64, i64, u32) {
                let deal = i64::from(self.lead_of(p).is_none_or(|l| l.deal.is_none()));
                let rank = match kind {
                    StoryKind::NeverConverted => {
                        -(self.window_touches(p).filter(|(_, t)| t.is_visit).count() as i64)
                    }
                    StoryKind::SalesDropped => 0,
                    // A cookie that existed and was replaced, before one never set.
                    StoryKind::CookieLost => i64::from(!self.replaced_cookie_before_lead(p)),
                    // The causing click on another device than the form.
                    StoryKind::SecondDevice => i64::from(!self.cause_on_other_device(p)),
                    _ => 0,
                };
                (rank, deal, p)
            };
            match (0..persons)
                .filter(|&p| !taken(p, &chosen) && self.fits(p, kind))
                .min_by_key(|&p| score(p))
            {
                Some(p) => chosen.push((p, kind)),
                None => missing.push(kind),
            }
        }
        let extra_leads = self.truth.leads.iter().map(|l| l.person);
        let visitors = (0..persons).filter(|&p| self.window_touches(p).any(|(_, t)| t.is_visit));
        for p in extra_leads.chain(visitors) {
            if chosen.len() >= n {
                break;
            }
            if !chosen.iter().any(|c| c.0 == p) {
                chosen.push((p, StoryKind::Chosen));
            }
        }
        (chosen, missing)
    }
}
