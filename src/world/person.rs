//! One person's life: candidate touches, the clock model evaluated for any set
//! of present channels, the stored touches, the lead and its sales (the
//! counterfactual credit is in `counterfactual.rs`).

use super::channels::*;
use super::clocks::*;
use super::counterfactual::*;
use super::sales::*;
use super::*;
use crate::base::rng::{KindKey, SmallPoisson, key_with, pick_with};
use crate::scenario::Audience;

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

/// Shortest converting session (landing page to form submit), in seconds.
pub(super) const MIN_FORM_SESSION_S: f64 = 10.0;

/// Pick a device of a person by a device-type mix: a type among those the
/// person has (weighted by the mix), then uniformly among its devices.
pub(super) fn pick_device(u_type: f64, u_dev: f64, mix: [f64; 3], devices: &[(u32, u8)]) -> u32 {
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
pub(super) struct BlockCtx<'a> {
    pub(super) sc: &'a Scenario,
    pub(super) model: &'a ChannelModel,
    pub(super) keep_warmup: bool,
    pub(super) pop: &'a crate::scenario::Population,
    pub(super) seg_shares: &'a [f64],
    pub(super) type_mix: [f64; 3],
    pub(super) browser_mix: [[f64; crate::scenario::BROWSERS.len()]; 3],
    pub(super) horizon: f64,
    pub(super) warmup: f64,
    pub(super) n_ch: usize,
    /// Pages read beyond the first in a visit.
    pub(super) extra_pages: SmallPoisson,
    /// Devices beyond the first of a person.
    pub(super) extra_devices: SmallPoisson,
    /// Each stream kind's key chain for this seed and replicate.
    pub(super) keys: BlockKeys,
}

/// The key chains of the world's stream kinds, computed once per block.
#[derive(Clone, Copy)]
pub(super) struct BlockKeys {
    pub(super) group: KindKey,
    pub(super) person: KindKey,
    pub(super) candidates: KindKey,
    pub(super) touch: KindKey,
    pub(super) return_visits: KindKey,
}

/// Buffers reused from person to person.
#[derive(Default)]
pub(super) struct Scratch {
    pub(super) cands: Vec<Cand>,
    pub(super) devs: Vec<(u32, u8)>,
    pub(super) active: Vec<(bool, bool)>,
}

/// What a group's members share: its index, segment and shared device.
#[derive(Clone, Copy)]
pub(super) struct GroupDraws {
    pub(super) group_index: u32,
    pub(super) local_group: u32,
    pub(super) segment: u16,
    pub(super) is_office: bool,
    pub(super) shared_device: Option<(u32, u8)>,
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
pub(super) fn simulate_group(
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
/// Long: the steps are functions; what is left is their order, which is the
/// order of the person's draws.
pub(super) fn simulate_person<'a>(
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
    // The funnel's delay from intent to lead: the person's sub-stream 1, drawn
    // only in that family (the clocks family's draws stay as they were).
    let lead_delay = model.funnel.as_ref().map_or(0.0, |f| {
        let mut s = ctx.keys.person.stream(group_index as u64, local as u64, 1);
        if f.lead_delay_days > 0.0 {
            s.exp(1.0 / f.lead_delay_days)
        } else {
            0.0
        }
    });
    let sim = PersonSim {
        sc,
        model,
        z,
        cands,
        baseline_fire,
        horizon,
        lead_delay,
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
            lead_delay,
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
pub(super) fn outcome_of(
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
pub(super) struct PersonDraws {
    pub(super) z: f64,
    pub(super) newsletter: bool,
    pub(super) baseline_u: f64,
    pub(super) baseline_t: f64,
    pub(super) draws: SalesDraws,
    pub(super) form: FormDraws,
}

pub(super) fn draw_person(
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
pub(super) struct FormDraws {
    pub(super) path_u: f64,
    pub(super) device_u: (f64, f64),
    pub(super) pages: u16,
    pub(super) dwell_s: f64,
}

/// Where a person's stored touches are, and which of them matter.
pub(super) struct Stored {
    pub(super) range: (u32, u32),
    pub(super) cause_touch: Option<u32>,
    pub(super) form_visit: u32,
    pub(super) warmup_touches: u32,
}

/// Store a person's active touches in time order and, for a window lead,
/// the converting visit (the form fill) at the lead time minus its dwell.
pub(super) fn store_touches(
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
pub(super) fn channel_candidates(
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
pub(super) fn return_candidates(
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
