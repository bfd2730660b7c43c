//! The world is honest to the models it scores: the converting visit starts
//! a session before the form is submitted, the warm-up is history that no
//! spend change reaches, and the Shapley truth is a game over the touches
//! before the lead only.

use closedloop::attribute::Journeys;
use closedloop::experiment::{self, RunConfig};
use closedloop::scenario::Scenario;
use closedloop::score;
use closedloop::spec::{AttributorSpec, StitcherSpec};
use closedloop::world::{self, GenOptions, Outcome, Source};
use closedloop::{attribute, stitch};

#[allow(dead_code)] // the binary-driving helpers are not used here
mod common;
use common::SHIPPED;

fn shipped(name: &str, persons: u32) -> Scenario {
    common::shipped(name, Some(persons))
}

/// Which persons are window leads.
fn window_leads(w: &world::World) -> Vec<bool> {
    w.persons
        .iter()
        .map(|p| matches!(p.outcome, Outcome::Lead(_)))
        .collect()
}

#[test]
fn every_persons_window_lead_is_monotone_in_each_channels_spend() {
    // Common random numbers and a fixed history: more spend on a channel only
    // adds window touches, so no person loses their lead, on any shipped
    // world (synergy multipliers are ≥ 1 by validation).
    for name in SHIPPED {
        let sc = shipped(name, 2_000);
        let base = world::scenario_spends(&sc);
        for (i, ch) in sc.channels.iter().enumerate() {
            if !ch.paid() {
                continue;
            }
            let mut prev: Option<Vec<bool>> = None;
            for factor in [0.0, 0.5, 1.0, 2.0, 4.0] {
                let mut spends = base.clone();
                spends[i] = base[i] * factor;
                let leads = window_leads(&world::generate_with_spends(&sc, 0, &spends));
                if let Some(prev) = &prev {
                    for (p, (&before, &now)) in prev.iter().zip(&leads).enumerate() {
                        assert!(
                            !before || now,
                            "{name}: person {p} loses their lead when {} spend rises to ×{factor}",
                            ch.id
                        );
                    }
                }
                prev = Some(leads);
            }
        }
    }
}

#[test]
fn the_warmup_is_the_same_history_at_any_spend() {
    let sc = shipped("quickstart.toml", 3_000);
    let opts = GenOptions {
        keep_warmup: true,
        ..GenOptions::default()
    };
    let history = |w: &world::World| {
        w.touches
            .iter()
            .filter(|t| t.time < 0.0)
            .map(|t| (t.person, t.time.to_bits(), t.source, t.armed))
            .collect::<Vec<_>>()
    };
    let base = world::scenario_spends(&sc);
    let at = |factor: f64| {
        let spends: Vec<f64> = base.iter().map(|s| s * factor).collect();
        world::generate_with_options(&sc, 0, &spends, opts)
    };
    let (zero, one, double) = (at(0.0), at(1.0), at(2.0));
    assert!(!history(&one).is_empty(), "the quickstart has a warm-up");
    assert_eq!(history(&zero), history(&one));
    assert_eq!(history(&double), history(&one));
    // Existing customers are history too.
    let existing = |w: &world::World| {
        w.persons
            .iter()
            .map(|p| matches!(p.outcome, Outcome::ExistingCustomer { .. }))
            .collect::<Vec<_>>()
    };
    assert_eq!(existing(&zero), existing(&one));
    assert_eq!(existing(&double), existing(&one));
    // While the window does move.
    assert!(window_leads(&zero) != window_leads(&double));
}

#[test]
fn the_form_is_submitted_at_the_end_of_a_session_that_began_earlier() {
    let sc = shipped("quickstart.toml", 6_000);
    let (w, obs, truth) = experiment::simulate(&sc, 0);
    let log = &obs.log;
    let lead_ms: std::collections::HashSet<i64> = truth.leads.iter().map(|l| l.time_ms).collect();
    // No visit sits at a lead's millisecond on the form fill's cookie: the
    // converting visit (the latest before the submit) began seconds to an
    // hour or so before it.
    let mut by_cookie: std::collections::HashMap<u64, Vec<i64>> = Default::default();
    for v in &log.visits {
        by_cookie.entry(v.cookie_id).or_default().push(v.time_ms);
    }
    let mut gaps = Vec::new();
    for f in &log.form_fills {
        let Some(cookie) = f.cookie_id else { continue };
        let times = &by_cookie[&cookie];
        assert!(
            !times.contains(&f.time_ms),
            "a visit at the form fill's millisecond"
        );
        let converting = times.iter().filter(|&&t| t < f.time_ms).max();
        gaps.push(f.time_ms - converting.expect("the form's own visit is recorded"));
    }
    assert!(gaps.len() > 100);
    gaps.sort_unstable();
    let (min, median) = (gaps[0], gaps[gaps.len() / 2]);
    assert!(min >= 1_000, "shortest converting session {min} ms");
    assert!(
        (30_000..=1_800_000).contains(&median),
        "median converting session {median} ms"
    );
    // Each lead's first form fill is at its true lead time (to the ms).
    let first_forms = w.leads().count();
    let at_lead = log
        .form_fills
        .iter()
        .filter(|f| lead_ms.iter().any(|&t| (t - f.time_ms).abs() <= 1))
        .count();
    assert!(
        at_lead >= first_forms * 9 / 10,
        "{at_lead} of {first_forms}"
    );
}

#[test]
fn shifting_the_converting_visit_earlier_moves_no_models_error() {
    // What a reviewer does to test for a sub-session timestamp artefact: move
    // each form fill's converting visit 30 s to 10 min earlier. No model may
    // depend on it.
    let sc = shipped("quickstart.toml", 20_000);
    let (_, obs, truth) = experiment::simulate(&sc, 0);
    let channels = experiment::scored_channels(&sc);
    let mut shifted = obs.log.clone();
    let mut moved = 0;
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let forms: Vec<(Option<u64>, i64)> = shifted
        .form_fills
        .iter()
        .map(|f| (f.cookie_id, f.time_ms))
        .collect();
    let mut by_cookie: std::collections::HashMap<u64, Vec<usize>> = Default::default();
    for (i, v) in shifted.visits.iter().enumerate() {
        by_cookie.entry(v.cookie_id).or_default().push(i);
    }
    for (cookie, t) in forms {
        let Some(cookie) = cookie else { continue };
        let Some(&i) = by_cookie[&cookie]
            .iter()
            .rev()
            .find(|&&i| shifted.visits[i].time_ms < t)
        else {
            continue;
        };
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let by = 30_000 + ((state >> 33) % 570_001) as i64;
        shifted.visits[i].time_ms -= by;
        moved += 1;
    }
    assert!(moved > 500, "{moved} converting visits moved");
    shifted.visits.sort_by_key(|v| (v.time_ms, v.event_id));

    let stitcher = stitch::build(&StitcherSpec::parse("deterministic").unwrap());
    let error = |log: &closedloop::log::EventLog, model: &AttributorSpec| {
        let journeys = Journeys::build(log, &stitcher.stitch(log));
        let credit = attribute::build(model).attribute(&journeys);
        score::credit_errors(&credit, &truth.shapley, &channels)
            .conversions
            .tvd
    };
    for model in AttributorSpec::all() {
        let (before, after) = (error(&obs.log, &model), error(&shifted, &model));
        eprintln!("{}: tvd {before:.4} → {after:.4}", model.id());
        assert!(
            (before - after).abs() < 0.005,
            "{}: tvd {before:.4} → {after:.4} when converting visits move 30 s–10 min earlier",
            model.id()
        );
    }
}

#[test]
fn the_shapley_truth_credits_no_touch_after_the_lead() {
    // A label with Shapley credit had a touch before the lead (in the window
    // or in the warm-up history), or is the baseline.
    let sc = shipped("quickstart.toml", 6_000);
    let opts = GenOptions {
        keep_warmup: true,
        ..GenOptions::default()
    };
    let w = world::generate_with_options(&sc, 0, &world::scenario_spends(&sc), opts);
    let n_ch = sc.channels.len() as u16;
    let mut post_lead = 0.0;
    for pc in &w.credit {
        let Outcome::Lead(lead) = &w.persons[pc.person as usize].outcome else {
            panic!("credit for a person who is not a window lead");
        };
        let touched_before = |c: u16| {
            w.touches_of(pc.person)
                .iter()
                .any(|t| t.source == Source::Channel(c) && t.time < lead.time)
        };
        for &(label, conversions, _) in &pc.shapley {
            assert!(
                label == n_ch || touched_before(label),
                "person {}: {} credited {conversions} with no touch before the lead",
                pc.person,
                sc.channels[label as usize].id
            );
        }
        post_lead += pc.post_lead_conversions;
    }
    // The whole-window game would have credited post-lead touches.
    assert!(post_lead > 0.0);
}

#[test]
fn on_lossless_oracle_journeys_whole_journey_models_beat_last_touch() {
    // With nothing lost and true persons as journeys, last touch credits the
    // channel a lead returned by to fill the form; models that read the whole
    // journey are closer to the Shapley truth. (additive_hazard used to win
    // here only because the converting visit shared the lead's millisecond.)
    let mut sc = shipped("quickstart.toml", 6_000);
    sc.make_lossless();
    let channels = experiment::scored_channels(&sc);
    for replicate in 0..2 {
        let (_, obs, truth) = experiment::simulate(&sc, replicate);
        let js = Journeys::build(&obs.log, &experiment::oracle_identities(&truth));
        let tvd = |id: &str| {
            let credit = attribute::build(&AttributorSpec::parse(id).unwrap()).attribute(&js);
            score::credit_errors(&credit, &truth.shapley, &channels)
                .conversions
                .tvd
        };
        let last = tvd("last_touch");
        for model in ["linear", "markov:1", "first_touch"] {
            let e = tvd(model);
            assert!(
                e < last,
                "replicate {replicate}: {model} {e:.4} vs last_touch {last:.4}"
            );
        }
    }
}

#[test]
fn mean_response_curves_do_not_fall() {
    // The warm-up no longer moves with spend, so more spend on a channel
    // cannot turn window customers into existing ones: the mean revenue over
    // replicates rises with each channel's spend (within its own noise).
    let mut sc = shipped("quickstart.toml", 5_000);
    sc.replicates = 8;
    for curve in closedloop::experiment::budget::curves(&sc, 8) {
        let means: Vec<f64> = curve.curve.iter().map(|(_, s)| s.mean).collect();
        eprintln!("{}: {means:.0?}", curve.channel);
        for (j, pair) in curve.curve.windows(2).enumerate() {
            let (lo, hi) = (&pair[0].1, &pair[1].1);
            assert!(
                hi.mean >= lo.mean - 1e-9,
                "{}: mean revenue falls from {:.0} to {:.0} between points {j} and {}",
                curve.channel,
                lo.mean,
                hi.mean,
                j + 1
            );
        }
    }
}

#[test]
fn itp_reaches_every_webkit_browser_and_more_webkit_only_adds_expiries() {
    // On iOS every browser runs on WebKit: a higher `webkit_share` puts more
    // devices under ITP (the same devices and more: one uniform per device),
    // and nothing else in the log moves. With server-set cookies it does
    // nothing.
    use closedloop::observe;
    use closedloop::scenario::{BrowserMix, DeviceBrowserRates};
    let sc = shipped("quickstart.toml", 4_000);
    let w = world::generate(&sc, 0);
    let with_share = |share: f64, server: bool| {
        let mut s = sc.clone();
        let mix = BrowserMix {
            chrome: share,
            safari: 1.0,
            firefox: share,
            edge: share,
            in_app: share,
        };
        s.observe.webkit_share = DeviceBrowserRates {
            desktop: mix,
            mobile: mix,
            tablet: mix,
        };
        if server {
            s.observe.cookie_setting = closedloop::scenario::CookieSetting::Server;
        }
        let obs = observe::observe(&s, &w);
        let expiries = obs.losses.counts.get("itp_expiry").copied().unwrap_or(0);
        (expiries, obs.log)
    };
    let (safari_only, log0) = with_share(0.0, false);
    let (half, _) = with_share(0.5, false);
    let (all, log1) = with_share(1.0, false);
    assert!(safari_only > 0);
    assert!(
        safari_only < half && half < all,
        "{safari_only} {half} {all}"
    );
    assert_eq!(
        log0.visits.len(),
        log1.visits.len(),
        "ITP only renames cookies"
    );
    assert_eq!(with_share(0.0, true).1, with_share(1.0, true).1);
    // The shipped default sits in between.
    let default = observe::observe(&sc, &w).losses.counts["itp_expiry"];
    assert!(safari_only < default && default < all);
}

#[test]
fn report_json_states_the_post_lead_share_the_shapley_truth_leaves_out() {
    let sc = shipped("quickstart.toml", 6_000);
    let cfg = RunConfig {
        stitchers: vec![StitcherSpec::parse("deterministic").unwrap()],
        models: vec![AttributorSpec::parse("linear").unwrap()],
        replicates: 1,
    };
    let r = experiment::run_replicate(&sc, &cfg, 0);
    let json = closedloop::report::replicate_json(&r);
    let share = json["truth"]["shapley_post_lead_share"]
        .as_f64()
        .expect("truth.shapley_post_lead_share is a number");
    assert_eq!(share, r.shapley_post_lead_share);
    assert!(share > 0.0 && share < 0.5, "{share}");
    // The Shapley truth itself sums to the leads without it.
    let leads = r.world.leads as f64;
    let total: f64 = r.truth[closedloop::truth::SHAPLEY].total_conversions();
    assert!((total - leads).abs() < 1e-9 * leads, "{total} vs {leads}");
}

#[test]
fn account_paths_equal_a_recount_of_the_members_touches_before_the_first_lead() {
    // The statistic counts warm-up touches while generating; recount them
    // from a world that kept them, account by account.
    let sc = shipped("b2b_saas.toml", 3_000);
    let spends = world::scenario_spends(&sc);
    let kept = world::generate_with_options(
        &sc,
        0,
        &spends,
        GenOptions {
            keep_warmup: true,
            ..GenOptions::default()
        },
    );
    let mut recount = Vec::new();
    for g in kept.groups.iter().filter(|g| g.is_office) {
        let members = g.first_person..g.first_person + g.n_persons;
        let first_lead = members
            .clone()
            .filter_map(|p| match &kept.persons[p as usize].outcome {
                Outcome::Lead(l) => Some(l.time),
                _ => None,
            })
            .fold(f64::INFINITY, f64::min);
        if first_lead == f64::INFINITY {
            continue;
        }
        let before: Vec<f64> = members
            .flat_map(|p| kept.touches_of(p))
            .filter(|t| t.time < first_lead && !matches!(t.source, Source::FormFill(_)))
            .map(|t| t.time)
            .collect();
        let window = before.iter().filter(|&&t| t >= 0.0).count() as u32;
        recount.push(world::AccountPath {
            window,
            with_warmup: before.len() as u32,
        });
    }
    assert!(recount.len() > 20, "too few accounts with a lead to test");
    assert!(
        recount.iter().any(|p| p.with_warmup > p.window),
        "b2b_saas has warm-up touches"
    );
    assert_eq!(kept.account_paths(&sc), Some(recount.clone()));
    let default = world::generate_with_spends(&sc, 0, &spends);
    assert_eq!(default.account_paths(&sc), Some(recount));
    // Without accounts there is no statistic.
    let qs = shipped("quickstart.toml", 500);
    assert_eq!(world::generate(&qs, 0).account_paths(&qs), None);
}
