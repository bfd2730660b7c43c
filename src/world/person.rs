//! One person's life: candidate touches, the clock model evaluated for any set
//! of present channels, the lead, sales, and the counterfactual credit.

use super::*;
use crate::base::rng::{KindKey, SmallPoisson, key_with, pick_with};
use crate::scenario::{Audience, Trigger};
use statrs::function::gamma::ln_gamma;

/// Per-channel constants derived once from the scenario and the spends.
#[derive(Clone, Debug)]
pub struct ChannelModel {
    /// Rate candidates are generated at (per person per day, before targeting).
    pub candidate_rate: Vec<f64>,
    /// Probability a window candidate is kept at the current spend.
    pub keep: Vec<f64>,
    /// Probability a warm-up candidate is kept: always at the scenario's own
    /// spends, because the warm-up is history that no spend change can reach.
    pub keep_history: Vec<f64>,
    /// E[z^γ] per channel, so targeting leaves the mean rate unchanged.
    pub mean_z_gamma: Vec<f64>,
    /// Synergy multipliers: `synergy[to]` lists (from, multiplier).
    pub synergy: Vec<Vec<(u16, f64)>>,
    /// The Shapley closed form applies (no synergy, no triggered channel).
    pub closed_form: bool,
    /// Form-fill path weights: index 0 = direct, 1 = cause, 2.. = channel c.
    pub path_weights: Vec<f64>,
}

impl ChannelModel {
    /// Derive the constants for one set of spends.
    pub fn new(sc: &Scenario, spends: &[f64]) -> Self {
        let k = sc.population.frailty_shape;
        let candidate_rate: Vec<f64> = sc.channels.iter().map(|c| c.candidate_rate()).collect();
        let keep_at = |spends: &[f64]| -> Vec<f64> {
            sc.channels
                .iter()
                .zip(spends)
                .zip(&candidate_rate)
                .map(|((c, &s), &max)| {
                    if max > 0.0 {
                        (c.rate_at(s) / max).clamp(0.0, 1.0)
                    } else {
                        0.0
                    }
                })
                .collect()
        };
        let keep = keep_at(spends);
        let keep_history = keep_at(&scenario_spends(sc));
        let mean_z_gamma = sc
            .channels
            .iter()
            .map(|c| {
                let g = c.intent_exponent;
                (ln_gamma(k + g) - ln_gamma(k) - g * k.ln()).exp()
            })
            .collect();
        let mut synergy = vec![Vec::new(); sc.channels.len()];
        for s in &sc.synergy {
            if let (Some(f), Some(t)) = (sc.channel_index(&s.from), sc.channel_index(&s.to)) {
                synergy[t].push((f as u16, s.multiplier));
            }
        }
        let closed_form =
            sc.synergy.is_empty() && sc.channels.iter().all(|c| c.trigger == Trigger::None);
        let mut path_weights = vec![0.0; 2 + sc.channels.len()];
        for (key, &w) in &sc.form_fill.path {
            match key.as_str() {
                "direct" => path_weights[0] += w,
                "cause" => path_weights[1] += w,
                id => {
                    if let Some(c) = sc.channel_index(id) {
                        path_weights[2 + c] += w;
                    }
                }
            }
        }
        ChannelModel {
            candidate_rate,
            keep,
            keep_history,
            mean_z_gamma,
            synergy,
            closed_form,
            path_weights,
        }
    }
}

/// What a block of groups produced (indices local to the block).
pub(super) struct Block {
    pub groups: Vec<Group>,
    pub persons: Vec<Person>,
    pub devices: Vec<Device>,
    pub person_devices: Vec<u32>,
    pub touches: Vec<Touch>,
    pub credit: Vec<PersonCredit>,
    pub candidates: u64,
    pub kept_candidates: u64,
    pub return_candidates: u64,
}

const RETURN: u16 = u16::MAX;

/// Shortest converting session (landing page to form submit), in seconds.
const MIN_FORM_SESSION_S: f64 = 10.0;

/// A kept candidate event of one person (channel touch or return visit).
#[derive(Clone, Debug)]
struct Cand {
    time: f64,
    channel: u16,
    key: u32,
    arm_u: f64,
    delay: f64,
    g: f64,
    device: u32,
    pages: u16,
    dwell_s: u16,
    campaign: u8,
    repeat_u: f64,
}

/// Which touches a counterfactual keeps: the window touches of the channels
/// in `mask` (bit c), the baseline clock, the warm-up history (every
/// counterfactual keeps it; only the closed-form Shapley turns it off to
/// find a player's own firing), and nothing at or after `cutoff` (the
/// Shapley game: touches after the real lead play no part).
#[derive(Clone, Copy, Debug)]
struct Present {
    mask: u32,
    baseline: bool,
    history: bool,
    cutoff: f64,
}

impl Present {
    /// The channels in `mask` and the baseline if asked, with the history, no cutoff.
    fn window(mask: u32, baseline: bool) -> Present {
        Present {
            mask,
            baseline,
            history: true,
            cutoff: f64::INFINITY,
        }
    }

    /// The same, cut before `cutoff`.
    fn before(self, cutoff: f64) -> Present {
        Present { cutoff, ..self }
    }
}

/// The result of evaluating the clock model for one set of present players.
#[derive(Clone, Copy, Debug)]
struct Firing {
    /// Earliest firing time (infinite if none).
    time: f64,
    /// Channel of the cause, or None for the baseline.
    cause: Option<u16>,
    /// Index in the candidate list of the causing touch.
    cause_idx: Option<usize>,
}

struct PersonSim<'a> {
    sc: &'a Scenario,
    model: &'a ChannelModel,
    z: f64,
    cands: Vec<Cand>,
    /// Baseline firing time if its clock is armed.
    baseline_fire: Option<f64>,
    horizon: f64,
}

impl PersonSim<'_> {
    fn is_click(&self, c: u16) -> bool {
        c == RETURN || self.sc.channels[c as usize].kind == TouchKind::Click
    }

    /// Evaluate which candidates are active and the earliest firing with the
    /// players of `present` (see [`Present`]). `active`, when given, receives
    /// the activity flag of every candidate (the whole timeline is then
    /// walked and `present.cutoff` must be infinite; otherwise the walk stops
    /// once the outcome is decided).
    fn evaluate(&self, present: Present, mut active: Option<&mut Vec<(bool, bool)>>) -> Firing {
        debug_assert!(active.is_none() || present.cutoff == f64::INFINITY);
        let mut first = Firing {
            time: f64::INFINITY,
            cause: None,
            cause_idx: None,
        };
        if present.baseline
            && let Some(tb) = self.baseline_fire
        {
            first.time = tb;
        }
        let mut any_visit = false;
        let mut last_visit = f64::NEG_INFINITY;
        let mut seen: u32 = 0;
        let mut form_inserted = false;
        for (i, c) in self.cands.iter().enumerate() {
            if c.time >= present.cutoff {
                break;
            }
            if c.time >= first.time {
                match active.as_deref_mut() {
                    None => break,
                    Some(_) => {
                        // The outcome is decided; the form-fill visit (if a lead
                        // in the window) happened at first.time and triggers too.
                        if !form_inserted && first.time >= 0.0 && first.time <= self.horizon {
                            any_visit = true;
                            last_visit = last_visit.max(first.time);
                            form_inserted = true;
                        }
                    }
                }
            }
            let is_active = if c.channel == RETURN {
                any_visit
            } else {
                let ch = &self.sc.channels[c.channel as usize];
                let here = if c.time < 0.0 {
                    present.history
                } else {
                    present.mask & (1 << c.channel) != 0
                };
                here && match ch.trigger {
                    Trigger::None => true,
                    Trigger::Retargeting => {
                        any_visit && c.time - last_visit <= ch.trigger_window_days
                    }
                }
            };
            if !is_active {
                if let Some(a) = active.as_deref_mut() {
                    a.push((false, false));
                }
                continue;
            }
            let mut armed = false;
            if c.channel != RETURN {
                let ch = &self.sc.channels[c.channel as usize];
                let mut syn = 1.0;
                for &(from, m) in &self.model.synergy[c.channel as usize] {
                    if seen & (1 << from) != 0 {
                        syn *= m;
                    }
                }
                let p = (ch.conversion_rate * self.z * c.g * syn).min(1.0);
                armed = c.arm_u < p;
                if armed {
                    let fire = c.time + c.delay;
                    if fire < first.time {
                        first = Firing {
                            time: fire,
                            cause: Some(c.channel),
                            cause_idx: Some(i),
                        };
                    }
                }
                seen |= 1 << c.channel;
            }
            if let Some(a) = active.as_deref_mut() {
                a.push((true, armed));
            }
            if self.is_click(c.channel) {
                any_visit = true;
                last_visit = c.time;
            }
        }
        first
    }

    /// Does a firing make a lead in the window?
    fn in_window(&self, t: f64) -> bool {
        t >= 0.0 && t <= self.horizon
    }
}

/// The person's sales draws: common to every counterfactual cause.
#[derive(Clone, Copy, Debug)]
struct SalesDraws {
    handoff_u: f64,
    qualify_u: f64,
    qualify_delay: f64,
    close_u: f64,
    cycle: f64,
    deal_size: f64,
}

struct SalesOutcome {
    contacted: bool,
    opportunity: Option<f64>,
    deal: Option<(f64, f64)>,
}

fn sales(
    sc: &Scenario,
    segment: usize,
    d: &SalesDraws,
    lead_time: f64,
    quality: f64,
) -> SalesOutcome {
    let seg = &sc.segments[segment];
    let end = sc.horizon_days + sc.sales_tail_days;
    let mut out = SalesOutcome {
        contacted: false,
        opportunity: None,
        deal: None,
    };
    if d.handoff_u < sc.sales.handoff_loss_rate {
        return out;
    }
    out.contacted = true;
    if d.qualify_u >= seg.qualify_rate {
        return out;
    }
    let t_opp = lead_time + d.qualify_delay;
    if t_opp > end {
        return out;
    }
    out.opportunity = Some(t_opp);
    if d.close_u >= (seg.close_rate * quality).min(1.0) {
        return out;
    }
    let t_deal = t_opp + d.cycle;
    if t_deal <= end {
        out.deal = Some((t_deal, d.deal_size));
    }
    out
}

fn quality_of(sc: &Scenario, cause: Option<u16>) -> f64 {
    match cause {
        Some(c) => sc.channels[c as usize].quality,
        None => sc.population.baseline_quality,
    }
}

/// Pick a device of a person by a device-type mix: a type among those the
/// person has (weighted by the mix), then uniformly among its devices.
fn pick_device(u_type: f64, u_dev: f64, mix: [f64; 3], devices: &[(u32, u8)]) -> u32 {
    let mut w = [0.0; 3];
    for &(_, t) in devices {
        w[t as usize] = mix[t as usize];
    }
    let ty = if w.iter().sum::<f64>() > 0.0 {
        pick_with(u_type, &w) as u8
    } else {
        devices[0].1
    };
    let n = devices.iter().filter(|d| d.1 == ty).count();
    let k = ((u_dev * n as f64) as usize).min(n - 1);
    devices
        .iter()
        .filter(|d| d.1 == ty)
        .nth(k)
        .map(|d| d.0)
        .unwrap_or(devices[0].0)
}

/// What every person of a block shares: the scenario, the channel model and
/// the mixes read once.
#[derive(Clone, Copy)]
struct BlockCtx<'a> {
    sc: &'a Scenario,
    model: &'a ChannelModel,
    keep_warmup: bool,
    pop: &'a crate::scenario::Population,
    seg_shares: &'a [f64],
    type_mix: [f64; 3],
    browser_mix: [[f64; crate::scenario::BROWSERS.len()]; 3],
    horizon: f64,
    warmup: f64,
    n_ch: usize,
    /// Pages read beyond the first in a visit.
    extra_pages: SmallPoisson,
    /// Devices beyond the first of a person.
    extra_devices: SmallPoisson,
    /// Each stream kind's key chain for this seed and replicate.
    keys: BlockKeys,
}

/// The key chains of the world's stream kinds, computed once per block.
#[derive(Clone, Copy)]
struct BlockKeys {
    group: KindKey,
    person: KindKey,
    candidates: KindKey,
    touch: KindKey,
    return_visits: KindKey,
}

/// Buffers reused from person to person.
#[derive(Default)]
struct Scratch {
    cands: Vec<Cand>,
    devs: Vec<(u32, u8)>,
    active: Vec<(bool, bool)>,
}

/// What a group's members share: its index, segment and shared device.
#[derive(Clone, Copy)]
struct GroupDraws {
    group_index: u32,
    local_group: u32,
    segment: u16,
    is_office: bool,
    shared_device: Option<(u32, u8)>,
}

pub(super) fn simulate_block(
    sc: &Scenario,
    model: &ChannelModel,
    replicate: u32,
    first_group: u32,
    plans: &[(bool, u32)],
    keep_warmup: bool,
) -> Block {
    let mut scratch = Scratch::default();
    let mut b = Block {
        groups: Vec::with_capacity(plans.len()),
        persons: Vec::new(),
        devices: Vec::new(),
        person_devices: Vec::new(),
        touches: Vec::new(),
        credit: Vec::new(),
        candidates: 0,
        kept_candidates: 0,
        return_candidates: 0,
    };
    let pop = &sc.population;
    let seg_shares: Vec<f64> = sc.segments.iter().map(|s| s.share).collect();
    let ctx = BlockCtx {
        sc,
        model,
        keep_warmup,
        pop,
        seg_shares: &seg_shares,
        type_mix: pop.device_types.as_array(),
        browser_mix: [
            pop.browsers.desktop.as_array(),
            pop.browsers.mobile.as_array(),
            pop.browsers.tablet.as_array(),
        ],
        horizon: sc.horizon_days,
        warmup: sc.warmup_days,
        n_ch: sc.channels.len(),
        extra_pages: SmallPoisson::new(pop.pages_mean - 1.0),
        extra_devices: SmallPoisson::new(pop.extra_devices_mean),
        keys: BlockKeys {
            group: KindKey::new(sc.seed, replicate, StreamKind::Group),
            person: KindKey::new(sc.seed, replicate, StreamKind::Person),
            candidates: KindKey::new(sc.seed, replicate, StreamKind::Candidates),
            touch: KindKey::new(sc.seed, replicate, StreamKind::Touch),
            return_visits: KindKey::new(sc.seed, replicate, StreamKind::ReturnVisits),
        },
    };
    for (gi, &(is_office, size)) in plans.iter().enumerate() {
        let ids = (first_group + gi as u32, gi as u32);
        simulate_group(&ctx, &mut scratch, &mut b, ids, is_office, size);
    }
    b
}

/// One household or office: its draws, its shared device, its members, and
/// (for an account) the account's revenue game.
fn simulate_group(
    ctx: &BlockCtx,
    scratch: &mut Scratch,
    b: &mut Block,
    (group_index, local_group): (u32, u32),
    is_office: bool,
    size: u32,
) {
    let BlockCtx {
        pop,
        seg_shares,
        type_mix,
        browser_mix,
        ..
    } = *ctx;
    let mut gs = ctx.keys.group.stream(group_index as u64, 0, 0);
    let segment = gs.pick(seg_shares) as u16;
    let ip = gs.next_u64();
    let shared_u = gs.uniform();
    let shared_type_u = gs.uniform();
    let shared_browser_u = gs.uniform();
    let shared_rate = if is_office {
        pop.office_shared_device_rate
    } else {
        pop.shared_device_rate
    };
    let shared_device = if size >= 2 && shared_u < shared_rate {
        // Shared devices are desktops or tablets (a family computer, an
        // office's shared workstation).
        let ty = pick_with(shared_type_u, &[type_mix[0], 0.0, type_mix[2].max(1e-12)]) as u8;
        let browser = pick_with(shared_browser_u, &browser_mix[ty as usize]) as u8;
        b.devices.push(Device {
            group: local_group,
            device_type: ty,
            browser,
            shared: true,
        });
        Some(((b.devices.len() - 1) as u32, ty))
    } else {
        None
    };
    b.groups.push(Group {
        is_office,
        segment,
        ip,
        first_person: b.persons.len() as u32,
        n_persons: size,
    });

    let g = GroupDraws {
        group_index,
        local_group,
        segment,
        is_office,
        shared_device,
    };
    let mut members: Vec<Member> = Vec::new();
    for local in 0..size {
        if let Some(m) = simulate_person(ctx, scratch, b, g, local) {
            members.push(m);
        }
    }
    settle_account(&members, b);
}

/// One person: draws, candidate touches, the clocks, the stored touches, the
/// lead and its sales outcome, and a window lead's counterfactual credit.
/// Returns the person as an account member when their revenue is the account's.
fn simulate_person<'a>(
    ctx: &BlockCtx<'a>,
    scratch: &mut Scratch,
    b: &mut Block,
    g: GroupDraws,
    local: u32,
) -> Option<Member<'a>> {
    let BlockCtx {
        sc,
        model,
        pop,
        horizon,
        n_ch,
        ..
    } = *ctx;
    let GroupDraws {
        group_index,
        local_group,
        segment,
        is_office,
        ..
    } = g;
    let person_index = b.persons.len() as u32;
    let mut devs = std::mem::take(&mut scratch.devs);
    let PersonDraws {
        z,
        newsletter,
        baseline_u,
        baseline_t,
        draws,
        form,
    } = draw_person(ctx, b, g, local, &mut devs);

    // Candidate touches, channel by channel, at max rate × targeting.
    let mut cands = std::mem::take(&mut scratch.cands);
    cands.clear();
    channel_candidates(
        ctx,
        b,
        (group_index, local),
        (z, newsletter),
        &devs,
        &mut cands,
    );
    return_candidates(ctx, b, (group_index, local), &devs, &mut cands);
    cands.sort_by(|a, b| {
        a.time
            .total_cmp(&b.time)
            .then(a.channel.cmp(&b.channel))
            .then(a.key.cmp(&b.key))
    });

    let baseline_fire = (baseline_u < (pop.baseline_rate * z).min(1.0)).then_some(baseline_t);
    let sim = PersonSim {
        sc,
        model,
        z,
        cands,
        baseline_fire,
        horizon,
    };
    let all_mask: u32 = if n_ch >= 32 {
        u32::MAX
    } else {
        (1u32 << n_ch) - 1
    };
    let active = &mut scratch.active;
    active.clear();
    let first = sim.evaluate(Present::window(all_mask, true), Some(active));

    // Store the active touches and, for a lead, the form-fill visit.
    let is_lead = sim.in_window(first.time);
    let stored = store_touches(ctx, b, (&sim, active, first), person_index, &form, &devs);
    let Stored {
        range: (t_start, t_end),
        cause_touch,
        form_visit,
        warmup_touches,
    } = stored;

    let outcome = outcome_of(
        sc,
        segment,
        &draws,
        first,
        is_lead,
        (cause_touch, form_visit),
    );

    let in_account = is_office && pop.offices_are_accounts;
    // Only a window lead has credit: the warm-up is history, the same
    // in every counterfactual, so an existing customer stays one and
    // removing window touches never arms a clock.
    if is_lead {
        let mut credit =
            counterfactual_credit(&sim, segment as usize, &draws, active, first, person_index);
        if in_account {
            // Leads stay the person's; revenue is the account's.
            strip_revenue(&mut credit);
        }
        b.credit.push(credit);
    }
    // Members who are not window leads are not window leads under any
    // coalition either (removing players never arms a clock).
    let member = (in_account && is_lead).then(|| Member {
        sim: PersonSim {
            sc,
            model,
            z,
            cands: sim.cands.clone(),
            baseline_fire: sim.baseline_fire,
            horizon,
        },
        draws,
        active: active.clone(),
        first,
        person: person_index,
        segment: segment as usize,
    });

    let d_start = b.person_devices.len() as u32;
    b.person_devices.extend(devs.iter().map(|d| d.0));
    b.persons.push(Person {
        group: local_group,
        segment,
        z,
        newsletter,
        devices: (d_start, b.person_devices.len() as u32),
        touches: (t_start, t_end),
        warmup_touches,
        outcome,
    });
    scratch.cands = sim.cands;
    scratch.devs = devs;
    member
}

/// A person's outcome: a window lead and its sales, an existing customer
/// (a lead during the warm-up), or nothing.
fn outcome_of(
    sc: &Scenario,
    segment: u16,
    draws: &SalesDraws,
    first: Firing,
    is_lead: bool,
    (cause_touch, form_visit): (Option<u32>, u32),
) -> Outcome {
    if is_lead {
        let s = sales(
            sc,
            segment as usize,
            draws,
            first.time,
            quality_of(sc, first.cause),
        );
        Outcome::Lead(Box::new(Lead {
            time: first.time,
            cause: first.cause.map(Cause::Channel).unwrap_or(Cause::Baseline),
            cause_touch,
            form_visit,
            contacted: s.contacted,
            opportunity: s.opportunity,
            deal: s.deal,
        }))
    } else if first.time < 0.0 {
        Outcome::ExistingCustomer { time: first.time }
    } else {
        Outcome::None
    }
}

/// A person's own draws, in their stream's order: intent, newsletter,
/// devices (pushed to the block, listed in `devs`), the baseline clock, the
/// sales draws and the converting session.
struct PersonDraws {
    z: f64,
    newsletter: bool,
    baseline_u: f64,
    baseline_t: f64,
    draws: SalesDraws,
    form: FormDraws,
}

fn draw_person(
    ctx: &BlockCtx,
    b: &mut Block,
    g: GroupDraws,
    local: u32,
    devs: &mut Vec<(u32, u8)>,
) -> PersonDraws {
    let BlockCtx {
        sc,
        pop,
        type_mix,
        browser_mix,
        horizon,
        ..
    } = *ctx;
    let GroupDraws {
        group_index,
        local_group,
        segment,
        shared_device,
        ..
    } = g;
    let mut ps = ctx.keys.person.stream(group_index as u64, local as u64, 0);
    let k = pop.frailty_shape;
    let z = ps.gamma(k, 1.0 / k);
    let newsletter = ps.uniform() < pop.newsletter_rate;
    let n_dev = 1 + ps.poisson(ctx.extra_devices);
    devs.clear();
    for _ in 0..n_dev {
        let ty = ps.pick(&type_mix) as u8;
        let browser = ps.pick(&browser_mix[ty as usize]) as u8;
        b.devices.push(Device {
            group: local_group,
            device_type: ty,
            browser,
            shared: false,
        });
        devs.push(((b.devices.len() - 1) as u32, ty));
    }
    if let Some(d) = shared_device {
        devs.push(d);
    }
    let baseline_u = ps.uniform();
    let baseline_t = ps.uniform() * horizon;
    let seg = &sc.segments[segment as usize];
    let draws = SalesDraws {
        handoff_u: ps.uniform(),
        qualify_u: ps.uniform(),
        qualify_delay: ps.gamma(seg.qualify_delay.shape, seg.qualify_delay.scale_days),
        close_u: ps.uniform(),
        cycle: ps.gamma(seg.sales_cycle.shape, seg.sales_cycle.scale_days),
        deal_size: seg.deal_size.median * (seg.deal_size.sigma * ps.normal()).exp(),
    };
    let path_u = ps.uniform();
    let device_u = (ps.uniform(), ps.uniform());
    // The converting session: landing page, pages read, the form page.
    let pages = 2 + ps.poisson(ctx.extra_pages) as u16;
    let dwell_s =
        (pages as f64 * ps.exp(1.0) * pop.dwell_seconds_mean).clamp(MIN_FORM_SESSION_S, 65_535.0);
    PersonDraws {
        z,
        newsletter,
        baseline_u,
        baseline_t,
        draws,
        form: FormDraws {
            path_u,
            device_u,
            pages,
            dwell_s,
        },
    }
}

/// The converting session's draws, taken with the person's (its device and
/// the form's path among them).
#[derive(Clone, Copy)]
struct FormDraws {
    path_u: f64,
    device_u: (f64, f64),
    pages: u16,
    dwell_s: f64,
}

/// Where a person's stored touches are, and which of them matter.
struct Stored {
    range: (u32, u32),
    cause_touch: Option<u32>,
    form_visit: u32,
    warmup_touches: u32,
}

/// Store a person's active touches in time order and, for a window lead,
/// the converting visit (the form fill) at the lead time minus its dwell.
fn store_touches(
    ctx: &BlockCtx,
    b: &mut Block,
    (sim, active, first): (&PersonSim, &[(bool, bool)], Firing),
    person_index: u32,
    form: &FormDraws,
    devs: &[(u32, u8)],
) -> Stored {
    let BlockCtx {
        sc,
        model,
        keep_warmup,
        type_mix,
        ..
    } = *ctx;
    let t_start = b.touches.len() as u32;
    let is_lead = sim.in_window(first.time);
    let FormDraws {
        path_u,
        device_u: form_dev_u,
        pages: form_pages,
        dwell_s: form_dwell_s,
    } = *form;
    let mut cause_touch = None;
    let mut form_pending = is_lead;
    let mut warmup_touches = 0u32;
    let mut form_visit = 0u32;
    let form_path = if is_lead {
        let mut w = model.path_weights.clone();
        let cause_is_click = first.cause.is_some_and(|c| sim.is_click(c));
        if !cause_is_click {
            w[0] += w[1];
            w[1] = 0.0;
        }
        match pick_with(path_u, &w) {
            0 => None,
            1 => first.cause,
            k => Some((k - 2) as u16),
        }
    } else {
        None
    };
    // The form is submitted at the lead time, at the end of a session
    // that began `dwell_s` earlier (never before the window opens).
    let form_dwell_s = form_dwell_s.min((first.time.max(0.0) * 86_400.0).floor()) as u16;
    let form_visit_time = first.time - form_dwell_s as f64 / 86_400.0;
    let push_form = |touches: &mut Vec<Touch>| {
        let mix = match form_path {
            Some(c) => sc.channels[c as usize].device_mix.as_array(),
            None => type_mix,
        };
        let device = pick_device(form_dev_u.0, form_dev_u.1, mix, devs);
        touches.push(Touch {
            person: person_index,
            time: form_visit_time,
            source: Source::FormFill(form_path),
            device,
            is_visit: true,
            pages: form_pages,
            dwell_s: form_dwell_s,
            campaign: 0,
            armed: false,
            form_fill: true,
            key: 0,
        });
        (touches.len() - 1) as u32
    };
    for (i, c) in sim.cands.iter().enumerate() {
        if form_pending && c.time >= form_visit_time {
            form_visit = push_form(&mut b.touches);
            form_pending = false;
        }
        let (is_active, armed) = active[i];
        warmup_touches += (is_active && c.time < 0.0) as u32;
        // Warm-up touches matter only through the truth computed here;
        // the tracker never saw them, so they are not stored by default.
        if !is_active || (c.time < 0.0 && !keep_warmup) {
            continue;
        }
        let is_visit = sim.is_click(c.channel);
        let form_fill =
            is_visit && is_lead && c.time > first.time && c.repeat_u < sc.form_fill.repeat_rate;
        if first.cause_idx == Some(i) {
            cause_touch = Some(b.touches.len() as u32);
        }
        b.touches.push(Touch {
            person: person_index,
            time: c.time,
            source: if c.channel == RETURN {
                Source::Return
            } else {
                Source::Channel(c.channel)
            },
            device: c.device,
            is_visit,
            pages: c.pages,
            // A form is submitted at the end of its visit's session.
            dwell_s: if form_fill {
                c.dwell_s.max(MIN_FORM_SESSION_S as u16)
            } else {
                c.dwell_s
            },
            campaign: c.campaign,
            armed,
            form_fill,
            key: c.key,
        });
    }
    if form_pending {
        form_visit = push_form(&mut b.touches);
    }
    let t_end = b.touches.len() as u32;

    Stored {
        range: (t_start, t_end),
        cause_touch,
        form_visit,
        warmup_touches,
    }
}

/// Candidate touches, channel by channel, at max rate × targeting: each kept
/// one with its keyed draws (arming, delay, pages, device, campaign).
fn channel_candidates(
    ctx: &BlockCtx,
    b: &mut Block,
    (group_index, local): (u32, u32),
    (z, newsletter): (f64, bool),
    devs: &[(u32, u8)],
    cands: &mut Vec<Cand>,
) {
    let BlockCtx {
        sc,
        model,
        pop,
        horizon,
        warmup,
        ..
    } = *ctx;
    let candidates_prefix = ctx.keys.candidates.prefix(group_index as u64, local as u64);
    for (ci, ch) in sc.channels.iter().enumerate() {
        if ch.audience == Audience::Subscribers && !newsletter {
            continue;
        }
        let lambda = model.candidate_rate[ci] * z.powf(ch.intent_exponent) / model.mean_z_gamma[ci];
        if lambda <= 0.0 {
            continue;
        }
        let (keep, keep_history) = (model.keep[ci], model.keep_history[ci]);
        let mut cs = Stream::from_key(key_with(candidates_prefix, ci as u64));
        let touch_prefix = ctx
            .keys
            .touch
            .prefix(group_index as u64, ((local as u64) << 8) | ci as u64);
        let mut t = -warmup;
        let mut j = 0u32;
        loop {
            t += cs.exp(lambda);
            if t >= horizon {
                break;
            }
            let keep_u = cs.uniform();
            b.candidates += 1;
            if keep_u < if t < 0.0 { keep_history } else { keep } {
                b.kept_candidates += 1;
                let mut ts = Stream::from_key(key_with(touch_prefix, j as u64));
                let arm_u = ts.uniform();
                let delay = ts.gamma(ch.delay.shape, ch.delay.scale_days);
                let pages = 1 + ts.poisson(ctx.extra_pages) as u16;
                let dwell_s =
                    (pages as f64 * ts.exp(1.0) * pop.dwell_seconds_mean).min(65_535.0) as u16;
                let g = if ch.engagement_exponent == 0.0 {
                    1.0
                } else {
                    (pages as f64 / pop.pages_mean).powf(ch.engagement_exponent)
                };
                let device =
                    pick_device(ts.uniform(), ts.uniform(), ch.device_mix.as_array(), devs);
                let n_camp = ch.campaigns.len().max(1);
                let campaign = ((ts.uniform() * n_camp as f64) as usize).min(n_camp - 1) as u8;
                let repeat_u = ts.uniform();
                cands.push(Cand {
                    time: t,
                    channel: ci as u16,
                    key: j,
                    arm_u,
                    delay,
                    g,
                    device,
                    pages,
                    dwell_s,
                    campaign,
                    repeat_u,
                });
            }
            j += 1;
        }
    }
}

/// Return-visit candidates: active only after a first visit, so none before
/// the earliest kept click candidate can ever matter.
fn return_candidates(
    ctx: &BlockCtx,
    b: &mut Block,
    (group_index, local): (u32, u32),
    devs: &[(u32, u8)],
    cands: &mut Vec<Cand>,
) {
    let BlockCtx {
        sc,
        pop,
        type_mix,
        horizon,
        warmup,
        ..
    } = *ctx;
    // Return-visit candidates: active only after a first visit, so
    // none before the earliest kept click candidate can ever matter
    // (removing touches only delays the first visit). Their times come
    // from one stream; each one kept gets its own keyed draws.
    let first_click = cands
        .iter()
        .filter(|c| sc.channels[c.channel as usize].kind == TouchKind::Click)
        .map(|c| c.time)
        .fold(f64::INFINITY, f64::min);
    if pop.return_visit_rate > 0.0 && first_click < horizon {
        let prefix = ctx
            .keys
            .return_visits
            .prefix(group_index as u64, local as u64);
        let mut rs = Stream::from_key(key_with(prefix, 0));
        let mut t = -warmup;
        let mut j = 0u32;
        loop {
            t += rs.exp(pop.return_visit_rate);
            if t >= horizon {
                break;
            }
            j += 1;
            b.return_candidates += 1;
            if t <= first_click {
                continue;
            }
            let mut vs = Stream::from_key(key_with(prefix, j as u64));
            let pages = 1 + vs.poisson(ctx.extra_pages) as u16;
            let dwell_s =
                (pages as f64 * vs.exp(1.0) * pop.dwell_seconds_mean).min(65_535.0) as u16;
            let device = pick_device(vs.uniform(), vs.uniform(), type_mix, devs);
            let repeat_u = vs.uniform();
            cands.push(Cand {
                time: t,
                channel: RETURN,
                key: j,
                arm_u: 1.0,
                delay: 0.0,
                g: 1.0,
                device,
                pages,
                dwell_s,
                campaign: 0,
                repeat_u,
            });
        }
    }
}

/// The channels that are players of a person's game over the window touches
/// before `cutoff`: present (an active touch) and able to matter. A channel is
/// a null player (v(S ∪ {c}) = v(S) for every S, so φ = 0 and removing it
/// changes nothing) when none of its touches is armed — arming only gets
/// rarer as players leave, synergy multipliers being ≥ 1 — its visits can
/// trigger no retargeting channel that has an armed touch, and it boosts no
/// channel that has one. Warm-up touches are history, never players.
/// Returns (present mask, players, null-player mask).
fn channel_players(sim: &PersonSim, active: &[(bool, bool)], cutoff: f64) -> (u32, Vec<u16>, u32) {
    let n_ch = sim.sc.channels.len() as u16;
    let mut present: u32 = 0;
    let mut armed: u32 = 0;
    let mut clicks: u32 = 0;
    for (c, a) in sim.cands.iter().zip(active) {
        if c.time >= cutoff {
            break;
        }
        if a.0 && c.channel != RETURN && c.time >= 0.0 {
            let bit = 1 << c.channel;
            present |= bit;
            if a.1 {
                armed |= bit;
            }
            if sim.is_click(c.channel) {
                clicks |= bit;
            }
        }
    }
    let armed_retargeting = (0..n_ch).any(|c| {
        armed & (1 << c) != 0 && sim.sc.channels[c as usize].trigger == Trigger::Retargeting
    });
    let influential = |c: u16| {
        let bit = 1u32 << c;
        armed & bit != 0
            || (clicks & bit != 0 && armed_retargeting)
            || sim.model.synergy.iter().enumerate().any(|(to, froms)| {
                armed & (1 << to) != 0 && froms.iter().any(|&(from, _)| from == c)
            })
    };
    let players: Vec<u16> = (0..n_ch)
        .filter(|&c| present & (1 << c) != 0 && influential(c))
        .collect();
    let null_mask: u32 = players.iter().fold(present, |m, &c| m & !(1u32 << c));
    (present, players, null_mask)
}

/// What the account settlement keeps of one office member.
struct Member<'a> {
    sim: PersonSim<'a>,
    draws: SalesDraws,
    active: Vec<(bool, bool)>,
    first: Firing,
    person: u32,
    segment: usize,
}

/// Revenue of a person in an account is the account's: zero it here.
fn strip_revenue(c: &mut PersonCredit) {
    for list in [&mut c.incremental, &mut c.shapley] {
        list.iter_mut().for_each(|e| e.2 = 0.0);
        list.retain(|e| e.1 != 0.0);
    }
}

/// The account's opportunity given each member's firing: every member lead in
/// the window goes through its own sales draws, and the earliest opportunity
/// (ties: first member) is the account's. Returns (member, its sales outcome).
fn account_opener(
    members: &[Member],
    firing: impl Fn(usize) -> Firing,
) -> Option<(usize, SalesOutcome)> {
    let mut best: Option<(usize, SalesOutcome)> = None;
    for (i, m) in members.iter().enumerate() {
        let f = firing(i);
        if !m.sim.in_window(f.time) {
            continue;
        }
        let s = sales(
            m.sim.sc,
            m.segment,
            &m.draws,
            f.time,
            quality_of(m.sim.sc, f.cause),
        );
        let Some(t) = s.opportunity else { continue };
        if best
            .as_ref()
            .is_none_or(|(_, b)| t < b.opportunity.unwrap_or(f64::INFINITY))
        {
            best = Some((i, s));
        }
    }
    best
}

/// An account's game: per member its present channels, null players and the
/// time its touches are cut at; the players (channels, then the baseline).
struct AccountGame {
    per_member: Vec<(u32, u32, f64)>,
    players: Vec<u16>,
}

impl AccountGame {
    /// Players over every window touch (`pre_lead` false: the removal game)
    /// or over each member's touches before their own lead (the Shapley game).
    fn new(members: &[Member], pre_lead: bool, baseline_label: u16) -> AccountGame {
        let mut players = Vec::new();
        let per_member = members
            .iter()
            .map(|m| {
                let cutoff = if pre_lead {
                    m.first.time
                } else {
                    f64::INFINITY
                };
                let (present, p, null_mask) = channel_players(&m.sim, &m.active, cutoff);
                players.extend(p);
                (present, null_mask, cutoff)
            })
            .collect();
        players.sort_unstable();
        players.dedup();
        if members.iter().any(|m| m.sim.baseline_fire.is_some()) {
            players.push(baseline_label);
        }
        AccountGame {
            per_member,
            players,
        }
    }

    /// Each member's firing with the channels of `mask` (and the baseline).
    fn firing(&self, members: &[Member], i: usize, mask: u32, baseline: bool) -> Firing {
        let (present, null_mask, cutoff) = self.per_member[i];
        let m = &members[i];
        m.sim.evaluate(
            Present::window(
                (mask & present) | null_mask,
                baseline && m.sim.baseline_fire.is_some(),
            )
            .before(cutoff),
            None,
        )
    }

    /// The account's revenue with the channels of `mask` (and the baseline).
    fn revenue(&self, members: &[Member], mask: u32, baseline: bool) -> f64 {
        account_opener(members, |i| self.firing(members, i, mask, baseline))
            .and_then(|(_, s)| s.deal)
            .map_or(0.0, |d| d.1)
    }

    /// The channels among the players.
    fn channel_mask(&self, baseline_label: u16) -> u32 {
        self.players
            .iter()
            .filter(|&&p| p != baseline_label)
            .fold(0, |m, &p| m | (1 << p))
    }
}

/// Settle an office account (docs/model.md §3.4): only the first qualified lead
/// opens an opportunity and can close a deal, whose revenue goes to that
/// lead's cause; the other members' leads get no opportunity. Revenue
/// incrementality and Shapley values are the account's game: players are
/// the members' channel players and the baseline, a coalition keeps those
/// channels (and the baseline clocks) for every member at once; the warm-up
/// history of every member is in every coalition, and the revenue it brings
/// alone goes to the channel whose warm-up touch fires for the opener.
fn settle_account(members: &[Member], b: &mut Block) {
    let Some(first) = members.first() else { return };
    let sc = first.sim.sc;
    let baseline_label = sc.channels.len() as u16;
    let actual = account_opener(members, |i| members[i].first);
    let opener = actual.as_ref().map(|(i, _)| *i);
    for (i, m) in members.iter().enumerate() {
        if let Outcome::Lead(l) = &mut b.persons[m.person as usize].outcome {
            match (&actual, opener == Some(i)) {
                (Some((_, s)), true) => {
                    l.opportunity = s.opportunity;
                    l.deal = s.deal;
                }
                _ => {
                    l.opportunity = None;
                    l.deal = None;
                }
            }
        }
    }
    let actual_rev = actual.and_then(|(_, s)| s.deal).map_or(0.0, |d| d.1);
    let mut credit = PersonCredit {
        person: members[opener.unwrap_or(0)].person,
        ..Default::default()
    };

    // Removal: every window touch of a player.
    let removal = AccountGame::new(members, false, baseline_label);
    let all_channels = removal.channel_mask(baseline_label);
    for &p in &removal.players {
        let v = if p == baseline_label {
            removal.revenue(members, all_channels, false)
        } else {
            removal.revenue(members, all_channels & !(1 << p), true)
        };
        if actual_rev - v != 0.0 {
            credit.incremental.push((p, 0.0, actual_rev - v));
        }
    }

    // Shapley: each member's touches before their own lead.
    let game = AccountGame::new(members, true, baseline_label);
    let values = coalition_values(&game.players, baseline_label, &|mask, baseline| {
        (0.0, game.revenue(members, mask, baseline))
    });
    for (i, phi) in shapley_from_values(game.players.len(), &values)
        .into_iter()
        .enumerate()
    {
        if phi.1 != 0.0 {
            credit.shapley.push((game.players[i], 0.0, phi.1));
        }
    }
    let history = values[0].1;
    if history != 0.0
        && let Some((i, _)) = account_opener(members, |i| game.firing(members, i, 0, false))
        && let Some(c) = game.firing(members, i, 0, false).cause
    {
        credit.shapley.push((c, 0.0, history));
    }
    if !credit.incremental.is_empty() || !credit.shapley.is_empty() {
        b.credit.push(credit);
    }
}

/// Value of an outcome: (lead in window?, revenue that would follow).
fn value(sim: &PersonSim, segment: usize, draws: &SalesDraws, f: Firing) -> (f64, f64) {
    if !sim.in_window(f.time) {
        return (0.0, 0.0);
    }
    let s = sales(sim.sc, segment, draws, f.time, quality_of(sim.sc, f.cause));
    (1.0, s.deal.map_or(0.0, |d| d.1))
}

/// Incremental and Shapley credit of one window lead.
fn counterfactual_credit(
    sim: &PersonSim,
    segment: usize,
    draws: &SalesDraws,
    active: &[(bool, bool)],
    actual: Firing,
    person: u32,
) -> PersonCredit {
    let baseline_label = sim.sc.channels.len() as u16;
    let has_baseline = sim.baseline_fire.is_some();
    let actual_v = value(sim, segment, draws, actual);
    let mut credit = PersonCredit {
        person,
        ..Default::default()
    };
    let eval = |p: Present| value(sim, segment, draws, sim.evaluate(p, None));

    // Incremental: remove one player's window touches (and what only they
    // triggered); the history and the other players stay.
    let (present, players, _) = channel_players(sim, active, f64::INFINITY);
    for &p in players
        .iter()
        .chain(has_baseline.then_some(&baseline_label))
    {
        let v = if p == baseline_label {
            eval(Present::window(present, false))
        } else {
            eval(Present::window(present & !(1 << p), has_baseline))
        };
        let d = (actual_v.0 - v.0, actual_v.1 - v.1);
        if d.0 != 0.0 || d.1 != 0.0 {
            credit.incremental.push((p, d.0, d.1));
        }
    }

    // Shapley over the touches before the lead.
    let game = shapley_game(sim, segment, draws, active, actual.time);
    // What the whole window's game would give channels that matter only
    // after the lead (credit no journey can hold), for the report.
    let post_lead: Vec<u16> = players
        .iter()
        .copied()
        .filter(|p| !game.channels.contains(p))
        .collect();
    if !post_lead.is_empty() {
        let whole = shapley_game(sim, segment, draws, active, f64::INFINITY);
        credit.post_lead_conversions = whole
            .values
            .iter()
            .filter(|v| post_lead.contains(&v.0))
            .map(|v| v.1)
            .sum();
    }
    credit.shapley = game.credit();
    credit
}

/// Shapley values of one person's game.
struct ShapleyGame {
    /// The channel players.
    channels: Vec<u16>,
    /// Each player's non-zero value (label, conversions, revenue).
    values: Vec<(u16, f64, f64)>,
    /// The history's own value v(∅), with the channel whose warm-up touch fires.
    history: Option<(u16, f64, f64)>,
}

impl ShapleyGame {
    /// The players' values, then the history's.
    fn credit(self) -> Vec<(u16, f64, f64)> {
        let mut out = self.values;
        out.extend(self.history);
        out
    }
}

/// The Shapley game of one person over the window touches before `cutoff`:
/// players are the channels that matter there and the baseline when armed;
/// the warm-up history is in every coalition. With the closed form, sort the
/// m players firing before the history by their own firing time, r_k their
/// value as the cause and r_{m+1} the history's; φ_i = Σ_{k≥i} (r_k − r_{k+1}) / k.
fn shapley_game(
    sim: &PersonSim,
    segment: usize,
    draws: &SalesDraws,
    active: &[(bool, bool)],
    cutoff: f64,
) -> ShapleyGame {
    let baseline_label = sim.sc.channels.len() as u16;
    let (_, channels, null_mask) = channel_players(sim, active, cutoff);
    let mut players = channels.clone();
    if sim.baseline_fire.is_some() {
        players.push(baseline_label);
    }
    let run = |mask: u32, baseline: bool, history: bool| {
        let p = Present {
            mask: mask | null_mask,
            baseline,
            history,
            cutoff,
        };
        sim.evaluate(p, None)
    };
    let h = run(0, false, true);
    let h_value = value(sim, segment, draws, h);
    let mut values = Vec::new();
    if sim.model.closed_form {
        // Touches act independently: each player's own earliest firing.
        let mut fires: Vec<(f64, u16, (f64, f64))> = Vec::new();
        for &p in &players {
            let f = if p == baseline_label {
                run(0, true, false)
            } else {
                run(1 << p, false, false)
            };
            if f.time < h.time {
                fires.push((f.time, p, value(sim, segment, draws, f)));
            }
        }
        fires.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        let (mut acc_c, mut acc_r) = (0.0, 0.0);
        for k in (0..fires.len()).rev() {
            let next = fires.get(k + 1).map_or(h_value, |f| f.2);
            acc_c += (fires[k].2.0 - next.0) / (k + 1) as f64;
            acc_r += (fires[k].2.1 - next.1) / (k + 1) as f64;
            if acc_c != 0.0 || acc_r != 0.0 {
                values.push((fires[k].1, acc_c, acc_r));
            }
        }
        values.reverse();
    } else {
        let coalitions = coalition_values(&players, baseline_label, &|mask, baseline| {
            value(sim, segment, draws, run(mask, baseline, true))
        });
        for (i, phi) in shapley_from_values(players.len(), &coalitions)
            .into_iter()
            .enumerate()
        {
            if phi.0 != 0.0 || phi.1 != 0.0 {
                values.push((players[i], phi.0, phi.1));
            }
        }
    }
    let history = match h.cause {
        Some(c) if h_value != (0.0, 0.0) => Some((c, h_value.0, h_value.1)),
        _ => None,
    };
    ShapleyGame {
        channels,
        values,
        history,
    }
}

/// v(S) for every coalition S (bit i = players[i]).
fn coalition_values(
    players: &[u16],
    baseline_label: u16,
    eval: &dyn Fn(u32, bool) -> (f64, f64),
) -> Vec<(f64, f64)> {
    let m = players.len();
    (0..1u32 << m)
        .map(|s| {
            let mut mask = 0u32;
            let mut baseline = false;
            for (i, &p) in players.iter().enumerate() {
                if s & (1 << i) != 0 {
                    if p == baseline_label {
                        baseline = true;
                    } else {
                        mask |= 1 << p;
                    }
                }
            }
            eval(mask, baseline)
        })
        .collect()
}

/// Exact Shapley values from all 2^m coalition values (conversions, revenue).
pub(crate) fn shapley_from_values(m: usize, values: &[(f64, f64)]) -> Vec<(f64, f64)> {
    // weight[s] = s! (m − s − 1)! / m!
    let mut fact = vec![1.0f64; m + 1];
    for i in 1..=m {
        fact[i] = fact[i - 1] * i as f64;
    }
    let weight: Vec<f64> = (0..m)
        .map(|s| fact[s] * fact[m - s - 1] / fact[m])
        .collect();
    let mut phi = vec![(0.0, 0.0); m];
    for s in 0..values.len() as u32 {
        let size = s.count_ones() as usize;
        for (i, p) in phi.iter_mut().enumerate() {
            if s & (1 << i) == 0 {
                let w = weight[size];
                let with = values[(s | (1 << i)) as usize];
                let without = values[s as usize];
                p.0 += w * (with.0 - without.0);
                p.1 += w * (with.1 - without.1);
            }
        }
    }
    phi
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The first-firing game's closed form equals 2^m enumeration (docs/model.md §3.1).
    #[test]
    fn closed_form_matches_enumeration_on_the_first_firing_game() {
        let mut s = Stream::new(5, 0, StreamKind::Experiment, 0, 0, 0);
        for _ in 0..200 {
            let m = 1 + (s.uniform() * 6.0) as usize;
            // Players sorted by firing time with values r_k (some 0: warm-up).
            let r: Vec<(f64, f64)> = (0..m)
                .map(|_| {
                    if s.uniform() < 0.2 {
                        (0.0, 0.0)
                    } else {
                        (1.0, (s.uniform() * 100.0).floor())
                    }
                })
                .collect();
            let values: Vec<(f64, f64)> = (0..1u32 << m)
                .map(|set| {
                    if set == 0 {
                        (0.0, 0.0)
                    } else {
                        r[set.trailing_zeros() as usize]
                    }
                })
                .collect();
            let brute = shapley_from_values(m, &values);
            let (mut ac, mut ar) = (0.0, 0.0);
            for k in (0..m).rev() {
                let next = if k + 1 < m { r[k + 1] } else { (0.0, 0.0) };
                ac += (r[k].0 - next.0) / (k + 1) as f64;
                ar += (r[k].1 - next.1) / (k + 1) as f64;
                assert!((brute[k].0 - ac).abs() < 1e-9 && (brute[k].1 - ar).abs() < 1e-9);
            }
        }
    }
}
