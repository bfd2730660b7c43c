//! The world: what really happens (docs/model.md §1; its draws: §7).
//!
//! Groups (households, offices) of persons with intent frailty, devices and
//! browsers; channels whose candidate touches are generated at their maximum
//! rate and kept by a uniform (common random numbers); the conversion clock model;
//! sales per true lead. Each person's counterfactual values (incremental and
//! Shapley credit) are computed here, from the same draws, while the person's
//! candidate touches are at hand; the `truth` module assembles them.
//!
//! Generation runs in parallel over blocks of groups; every draw comes from a
//! stream keyed by the entity it describes, so results do not depend on the
//! thread count or block size.
//! Must never: read observation parameters (`Scenario::observe`, a channel's
//! `referrer_loss_rate`) — changing what is recorded never changes the world.

mod channels;
mod clocks;
mod counterfactual;
mod funnel;
mod person;
mod sales;

use crate::base::rng::{Stream, StreamKind};
use crate::scenario::{Scenario, TouchKind};
use rayon::prelude::*;

pub use channels::ChannelModel;
pub use funnel::FunnelModel;

/// How a world is generated; no option changes the world itself.
#[derive(Clone, Copy, Debug)]
pub struct GenOptions {
    /// Groups per parallel work unit (any value gives identical results).
    pub block_groups: usize,
    /// Compute Shapley truth by 2^m enumeration even where the closed form applies (tests).
    pub force_shapley_enumeration: bool,
    /// Keep warm-up touches in `World::touches` (the tracker never sees them;
    /// they cost memory and are only useful for telling a person's history).
    pub keep_warmup: bool,
}

impl Default for GenOptions {
    fn default() -> Self {
        GenOptions {
            block_groups: 512,
            force_shapley_enumeration: false,
            keep_warmup: false,
        }
    }
}

/// A household or an office: its persons share a public IP (NAT).
#[derive(Clone, Debug, PartialEq)]
pub struct Group {
    /// An office (B2B buying group) rather than a household.
    pub is_office: bool,
    /// Segment index into `Scenario::segments`.
    pub segment: u16,
    /// The group's public IP (an opaque 64-bit value; observation hashes it).
    pub ip: u64,
    /// Index of its first person.
    pub first_person: u32,
    /// Number of persons.
    pub n_persons: u32,
}

/// A device with one browser (so one cookie jar).
#[derive(Clone, Debug, PartialEq)]
pub struct Device {
    /// Owning group.
    pub group: u32,
    /// Index into `DEVICE_TYPES`.
    pub device_type: u8,
    /// Index into `BROWSERS`.
    pub browser: u8,
    /// Used by every person of its household.
    pub shared: bool,
}

/// Why a person became a lead.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cause {
    /// A touch of this channel (index) fired its clock first.
    Channel(u16),
    /// The organic baseline clock fired first.
    Baseline,
}

/// A true lead and its sales outcome.
#[derive(Clone, Debug, PartialEq)]
pub struct Lead {
    /// Days since the window's start.
    pub time: f64,
    /// The true cause.
    pub cause: Cause,
    /// Index in `World::touches` of the causing touch (None for the baseline,
    /// or when the cause was a warm-up touch that is not stored).
    pub cause_touch: Option<u32>,
    /// Index in `World::touches` of the form-fill visit.
    pub form_visit: u32,
    /// Sales contacted the lead (no handoff loss).
    pub contacted: bool,
    /// Time the opportunity was opened, if qualified and within the followed period.
    pub opportunity: Option<f64>,
    /// Time and revenue of the closed deal, if any within the followed period.
    pub deal: Option<(f64, f64)>,
}

/// What became of a person during the window.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// Never converted within the window.
    None,
    /// A clock fired during warm-up: an existing customer, out of the market.
    ExistingCustomer {
        /// The warm-up firing time (negative days).
        time: f64,
    },
    /// Became a lead within the window.
    Lead(Box<Lead>),
}

/// A person.
#[derive(Clone, Debug, PartialEq)]
pub struct Person {
    /// Owning group.
    pub group: u32,
    /// Segment index (the group's).
    pub segment: u16,
    /// Intent / responsiveness frailty z (mean 1).
    pub z: f64,
    /// Subscribed to the newsletter from the start.
    pub newsletter: bool,
    /// Range of this person's devices in `World::person_devices`.
    pub devices: (u32, u32),
    /// Range of this person's touches in `World::touches`.
    pub touches: (u32, u32),
    /// Active warm-up touches (channel touches and return visits), counted
    /// whether or not `GenOptions::keep_warmup` stores them.
    pub warmup_touches: u32,
    /// What happened.
    pub outcome: Outcome,
}

/// Where a touch came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// A channel touch (channel index).
    Channel(u16),
    /// A return visit (typed URL, bookmark): causes nothing.
    Return,
    /// The lead's form-fill visit, arriving by `Some(channel)` or direct (`None`).
    FormFill(Option<u16>),
}

/// An active touch of the full world (impressions included; visits flagged).
#[derive(Clone, Debug, PartialEq)]
pub struct Touch {
    /// The person touched.
    pub person: u32,
    /// Days since the window's start (negative during warm-up).
    pub time: f64,
    /// Where it came from.
    pub source: Source,
    /// Global device index.
    pub device: u32,
    /// Produces a site visit.
    pub is_visit: bool,
    /// Pages viewed (visits).
    pub pages: u16,
    /// Dwell time in whole seconds (visits; saturates at 65,535).
    pub dwell_s: u16,
    /// Campaign index into the channel's campaigns.
    pub campaign: u8,
    /// It armed a conversion clock (family `funnel`: it moved its person a stage up).
    pub armed: bool,
    /// A form is filled on this visit (the lead's, or a later one).
    pub form_fill: bool,
    /// Stable key of the touch (candidate index), for observation streams.
    pub key: u32,
}

/// Counterfactual credit of one person: (label, conversions, revenue), labels
/// being channel indices and `n_channels` for the baseline.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PersonCredit {
    /// The person.
    pub person: u32,
    /// Leads (revenue) lost if the label were removed.
    pub incremental: Vec<(u16, f64, f64)>,
    /// Shapley value of the label in the person's game over the touches
    /// before the lead (the history's own value included).
    pub shapley: Vec<(u16, f64, f64)>,
    /// Leads the whole window's game (touches after the lead included)
    /// would give channels that matter only after the lead.
    pub post_lead_conversions: f64,
}

/// True touches by an account's members before its first lead (truth side).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AccountPath {
    /// Touches in the window (time ≥ 0).
    pub window: u32,
    /// Touches in the warm-up and the window.
    pub with_warmup: u32,
}

/// One replicate's world.
#[derive(Clone, Debug, PartialEq)]
pub struct World {
    /// Replicate index.
    pub replicate: u32,
    /// Spend per channel per period per 1,000 persons used (0 for unpaid).
    pub spends: Vec<f64>,
    /// Groups in index order.
    pub groups: Vec<Group>,
    /// Persons in group order.
    pub persons: Vec<Person>,
    /// Devices in group order.
    pub devices: Vec<Device>,
    /// Device indices per person (ranges in `Person::devices`).
    pub person_devices: Vec<u32>,
    /// Active touches, by person then time (warm-up ones only with `GenOptions::keep_warmup`).
    pub touches: Vec<Touch>,
    /// Counterfactual credit of every person with a firing clock.
    pub credit: Vec<PersonCredit>,
    /// Candidate touches generated (kept or not), for throughput accounting.
    pub candidates: u64,
    /// Candidates kept at the current spends (each draws its own touch stream).
    pub kept_candidates: u64,
    /// Return-visit candidates generated.
    pub return_candidates: u64,
}

/// Size and kind of each group, drawn from one sequential population stream.
fn plan_groups(sc: &Scenario, replicate: u32) -> Vec<(bool, u32)> {
    let mut s = Stream::new(sc.seed, replicate, StreamKind::Population, 0, 0, 0);
    let p = &sc.population;
    let mut plans = Vec::new();
    let mut total = 0u32;
    while total < sc.persons {
        let is_office = s.uniform() < p.office_share;
        let mean = if is_office {
            p.office_size_mean
        } else {
            p.household_size_mean
        };
        let size = (1 + s.poisson_small(mean - 1.0)).min(sc.persons - total);
        plans.push((is_office, size));
        total += size;
    }
    plans
}

/// Default spends of a scenario: each paid channel's `spend`, 0 for unpaid ones.
pub fn scenario_spends(sc: &Scenario) -> Vec<f64> {
    sc.channels.iter().map(|c| c.spend.unwrap_or(0.0)).collect()
}

/// Generate one replicate's world at the scenario's spends.
pub fn generate(sc: &Scenario, replicate: u32) -> World {
    generate_with_spends(sc, replicate, &scenario_spends(sc))
}

/// Generate one replicate's world at the given spends (per channel, per 1,000
/// persons); the same seed and replicate give the same draws at any spend.
pub fn generate_with_spends(sc: &Scenario, replicate: u32, spends: &[f64]) -> World {
    generate_with_options(sc, replicate, spends, GenOptions::default())
}

/// Generate with explicit options (block size, Shapley method); the world is
/// the same whatever the options.
pub fn generate_with_options(
    sc: &Scenario,
    replicate: u32,
    spends: &[f64],
    opts: GenOptions,
) -> World {
    let mut model = ChannelModel::new(sc, spends);
    if opts.force_shapley_enumeration {
        model.closed_form = false;
    }
    let plans = plan_groups(sc, replicate);
    let block = opts.block_groups.max(1);
    let blocks: Vec<person::Block> = plans
        .par_chunks(block)
        .enumerate()
        .map(|(b, chunk)| {
            person::simulate_block(
                sc,
                &model,
                replicate,
                (b * block) as u32,
                chunk,
                opts.keep_warmup,
            )
        })
        .collect();

    let mut w = World {
        replicate,
        spends: spends.to_vec(),
        groups: Vec::with_capacity(plans.len()),
        persons: Vec::with_capacity(sc.persons as usize),
        devices: Vec::new(),
        person_devices: Vec::new(),
        touches: Vec::new(),
        credit: Vec::new(),
        candidates: 0,
        kept_candidates: 0,
        return_candidates: 0,
    };
    let total = |f: fn(&person::Block) -> usize| blocks.iter().map(f).sum::<usize>();
    w.devices.reserve(total(|b| b.devices.len()));
    w.person_devices.reserve(total(|b| b.person_devices.len()));
    w.touches.reserve(total(|b| b.touches.len()));
    for block in blocks {
        let (p0, d0, pd0, t0) = (
            w.persons.len() as u32,
            w.devices.len() as u32,
            w.person_devices.len() as u32,
            w.touches.len() as u32,
        );
        let g0 = w.groups.len() as u32;
        w.candidates += block.candidates;
        w.kept_candidates += block.kept_candidates;
        w.return_candidates += block.return_candidates;
        w.groups.extend(block.groups.into_iter().map(|mut g| {
            g.first_person += p0;
            g
        }));
        w.devices.extend(block.devices.into_iter().map(|mut d| {
            d.group += g0;
            d
        }));
        w.person_devices
            .extend(block.person_devices.into_iter().map(|d| d + d0));
        w.touches.extend(block.touches.into_iter().map(|mut t| {
            t.person += p0;
            t.device += d0;
            t
        }));
        w.persons.extend(block.persons.into_iter().map(|mut p| {
            p.group += g0;
            p.devices = (p.devices.0 + pd0, p.devices.1 + pd0);
            p.touches = (p.touches.0 + t0, p.touches.1 + t0);
            if let Outcome::Lead(l) = &mut p.outcome {
                l.form_visit += t0;
                l.cause_touch = l.cause_touch.map(|t| t + t0);
            }
            p
        }));
        w.credit.extend(block.credit.into_iter().map(|mut c| {
            c.person += p0;
            c
        }));
    }
    w
}

impl World {
    /// The touches of one person, in time order.
    pub fn touches_of(&self, person: u32) -> &[Touch] {
        let (a, b) = self.persons[person as usize].touches;
        &self.touches[a as usize..b as usize]
    }

    /// The devices of one person.
    pub fn devices_of(&self, person: u32) -> &[u32] {
        let (a, b) = self.persons[person as usize].devices;
        &self.person_devices[a as usize..b as usize]
    }

    /// The true leads, as (person, lead).
    pub fn leads(&self) -> impl Iterator<Item = (u32, &Lead)> {
        self.persons
            .iter()
            .enumerate()
            .filter_map(|(i, p)| match &p.outcome {
                Outcome::Lead(l) => Some((i as u32, &**l)),
                _ => None,
            })
    }

    /// Per account whose members produce a window lead, in group order: the
    /// true touches (channel touches and return visits, impressions
    /// included; not the form-fill visit) by all its members before the
    /// account's first lead. None when offices are not accounts. The same
    /// whatever `GenOptions::keep_warmup` stored.
    pub fn account_paths(&self, sc: &Scenario) -> Option<Vec<AccountPath>> {
        if !sc.population.offices_are_accounts {
            return None;
        }
        let mut out = Vec::new();
        for g in self.groups.iter().filter(|g| g.is_office) {
            let members = g.first_person..g.first_person + g.n_persons;
            let first_lead = members
                .clone()
                .filter_map(|p| match &self.persons[p as usize].outcome {
                    Outcome::Lead(l) => Some(l.time),
                    _ => None,
                })
                .min_by(f64::total_cmp);
            let Some(first_lead) = first_lead else {
                continue;
            };
            let mut path = AccountPath::default();
            for p in members {
                let window = self
                    .touches_of(p)
                    .iter()
                    .filter(|t| {
                        t.time >= 0.0
                            && t.time < first_lead
                            && !matches!(t.source, Source::FormFill(_))
                    })
                    .count() as u32;
                path.window += window;
                path.with_warmup += window + self.persons[p as usize].warmup_touches;
            }
            out.push(path);
        }
        Some(out)
    }

    /// Whether a channel's touches produce visits.
    pub fn is_click(sc: &Scenario, channel: u16) -> bool {
        sc.channels[channel as usize].kind == TouchKind::Click
    }
}
