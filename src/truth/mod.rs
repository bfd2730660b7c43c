//! The truth ledger: the true person of every logged event, the true cause of
//! each lead, and the three truths of docs/model.md §3 per label, in conversions
//! and revenue: `shapley` (per-person game, baseline a player: the headline),
//! `incremental` (removal on the same draws: the headline for budgets and the
//! loop) and `proximate` (the touch whose clock happened to fire: for
//! teaching, never a headline). Labels are the scenario's channel ids plus
//! `baseline`.
//!
//! Only `score` and `experiment` receive a `Truth`; strategies never do.
//! Must never: be reachable from `stitch` or `attribute`.

use crate::base::credit::Credit;
use crate::observe::EventPersons;
use crate::scenario::Scenario;
use crate::world::{Cause, Outcome, World};

/// Label of the organic baseline (truth only).
pub const BASELINE: &str = "baseline";

/// One true lead, as the scorer needs it.
#[derive(Clone, Debug, PartialEq)]
pub struct TrueLead {
    /// The person.
    pub person: u32,
    /// Lead time, ms UTC.
    pub time_ms: i64,
    /// Label of the true cause (a channel id or `baseline`).
    pub cause: String,
    /// The causing touch produced a site visit.
    pub cause_is_click: bool,
    /// World touch index of the causing touch, if a channel caused it.
    pub cause_touch: Option<u32>,
    /// Revenue of its deal (0 if none).
    pub revenue: f64,
}

/// Everything only a simulation knows.
#[derive(Clone, Debug)]
pub struct Truth {
    /// Channel ids then `baseline`.
    pub labels: Vec<String>,
    /// Shapley value of each label in the per-person games (the headline).
    pub shapley: Credit,
    /// Leads (revenue) lost if a label's touches were removed.
    pub incremental: Credit,
    /// Each lead credits the touch (or baseline) whose clock fired.
    pub proximate: Credit,
    /// The true person of every logged event.
    pub events: EventPersons,
    /// The true leads, by person index.
    pub leads: Vec<TrueLead>,
    /// Lead time (ms UTC) per person, None if not a lead.
    pub lead_time_ms: Vec<Option<i64>>,
    /// Persons in the world.
    pub persons: u32,
    /// Share of the leads that a Shapley game over the whole window (touches
    /// after the lead included) would give to channels that matter only
    /// after the lead: credit no journey can hold, which the pre-lead game
    /// leaves out.
    pub shapley_post_lead_share: f64,
}

impl Truth {
    /// Assemble the ledger from a world and the observation's event → person map.
    pub fn assemble(sc: &Scenario, world: &World, events: EventPersons) -> Truth {
        let n_ch = sc.channels.len();
        let mut labels = sc.channel_ids();
        labels.push(BASELINE.to_string());
        let label_of = |l: u16| labels[l as usize].as_str();
        let start_ms = sc.start_epoch_ms();
        let to_ms = |d: f64| start_ms + (d * 86_400_000.0).round() as i64;

        let mut proximate = Credit::default();
        let mut leads = Vec::new();
        let mut lead_time_ms = vec![None; world.persons.len()];
        for (person, p) in world.persons.iter().enumerate() {
            if let Outcome::Lead(l) = &p.outcome {
                let (cause, click) = match l.cause {
                    Cause::Channel(c) => {
                        (sc.channels[c as usize].id.clone(), World::is_click(sc, c))
                    }
                    Cause::Baseline => (BASELINE.to_string(), false),
                };
                let revenue = l.deal.map_or(0.0, |d| d.1);
                proximate.add(&cause, 1.0, revenue);
                lead_time_ms[person] = Some(to_ms(l.time));
                leads.push(TrueLead {
                    person: person as u32,
                    time_ms: to_ms(l.time),
                    cause,
                    cause_is_click: click,
                    cause_touch: l.cause_touch,
                    revenue,
                });
            }
        }
        let mut incremental = Credit::default();
        let mut shapley = Credit::default();
        let mut post_lead = 0.0;
        for pc in &world.credit {
            post_lead += pc.post_lead_conversions;
            for &(l, c, r) in &pc.incremental {
                incremental.add(label_of(l), c, r);
            }
            for &(l, c, r) in &pc.shapley {
                shapley.add(label_of(l), c, r);
            }
        }
        for cr in [&mut shapley, &mut incremental, &mut proximate] {
            cr.ensure_labels(labels.iter().map(String::as_str));
        }
        debug_assert_eq!(labels.len(), n_ch + 1);
        let shapley_post_lead_share = if leads.is_empty() {
            0.0
        } else {
            post_lead / leads.len() as f64
        };
        Truth {
            labels,
            shapley,
            incremental,
            proximate,
            events,
            leads,
            lead_time_ms,
            persons: world.persons.len() as u32,
            shapley_post_lead_share,
        }
    }

    /// The truth by name (`shapley`, `incremental`, `proximate`).
    pub fn by_name(&self, name: &str) -> Option<&Credit> {
        TRUTHS
            .iter()
            .position(|t| *t == name)
            .map(|i| self.in_order()[i])
    }

    /// The three truths in [`TRUTHS`] order (headline first).
    pub fn in_order(&self) -> [&Credit; 3] {
        [&self.shapley, &self.incremental, &self.proximate]
    }
}

/// The names of the three truths, in report order: the headline first.
pub const TRUTHS: [&str; 3] = ["shapley", "incremental", "proximate"];
/// Index of `shapley` (the headline for `run`, reports, `explain`, scoring)
/// in [`TRUTHS`] and in every array ordered by it.
pub const SHAPLEY: usize = 0;
/// Index of `incremental` (the headline for `budget` and `loop`) in [`TRUTHS`].
pub const INCREMENTAL: usize = 1;
/// Index of `proximate` (the clock that fired; for teaching) in [`TRUTHS`].
pub const PROXIMATE: usize = 2;
