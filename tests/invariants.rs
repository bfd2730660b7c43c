//! Invariants of the world, the observation layer and the truth (docs/model.md §1–§3):
//! each test asserts a property that a real modelling bug would break.

use closedloop::attribute::{self, Journeys};
use closedloop::experiment::{self, oracle_identities};
use closedloop::observe;
use closedloop::scenario::{BrowserMix, CookieSetting, DeviceMix, Family, Scenario, TagBlockRates};
use closedloop::spec::{AttributorSpec, StitcherSpec};
use closedloop::stitch;
use closedloop::truth::Truth;
use closedloop::world::{self, GenOptions, Outcome};
use proptest::prelude::*;

fn scenario(text: &str) -> Scenario {
    Scenario::from_toml_str("test.toml", text).unwrap_or_else(|e| panic!("{e}"))
}

fn quickstart() -> Scenario {
    let mut sc = Scenario::from_path(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scenarios/quickstart.toml"
    )))
    .expect("quickstart loads");
    sc.persons = 6_000;
    sc
}

/// A small world with synergy and retargeting off unless asked for.
fn small(persons: u32, seed: u64, extra: &str) -> Scenario {
    scenario(&format!(
        r#"
name = "small"
seed = {seed}
persons = {persons}
warmup_days = 30
horizon_days = 60
[population]
baseline_rate = 0.03
frailty_shape = 0.8
[[segments]]
id = "a"
share = 0.7
close_rate = 0.5
[[segments]]
id = "b"
share = 0.3
close_rate = 0.3
deal_size = {{ median = 5000, sigma = 1.0 }}
[[channels]]
id = "search"
spend = 100
max_rate = 0.06
half_saturation = 100
conversion_rate = 0.05
quality = 1.3
[[channels]]
id = "brand_search"
spend = 50
max_rate = 0.03
half_saturation = 50
conversion_rate = 0.01
intent_exponent = 2.0
quality = 0.8
[[channels]]
id = "social"
rate = 0.04
conversion_rate = 0.03
engagement_exponent = 0.5
[[channels]]
id = "display"
kind = "impression"
spend = 80
max_rate = 0.08
half_saturation = 80
conversion_rate = 0.01
{extra}
"#
    ))
}

const RETARGETING_AND_SYNERGY: &str = r#"
[[channels]]
id = "retargeting"
trigger = "retargeting"
spend = 60
max_rate = 0.2
half_saturation = 60
conversion_rate = 0.04
[[synergy]]
from = "display"
to = "search"
multiplier = 2.0
"#;

/// The same scenario in every generative family (each with its defaults):
/// the invariants that hold for every family run on each.
fn in_every_family(sc: Scenario) -> Vec<Scenario> {
    Family::ALL
        .iter()
        .map(|&f| {
            let mut s = sc.clone();
            s.world.family = f;
            s.name = format!("{}-{}", sc.name, f.id());
            s.validated(f.id()).expect("valid in every family")
        })
        .collect()
}

fn simulate(sc: &Scenario) -> (world::World, observe::Observation, Truth) {
    experiment::simulate(sc, 0)
}

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol * (1.0 + a.abs().max(b.abs()))
}

/// Most groups offices of ~6 persons, each an account.
fn with_accounts(mut sc: Scenario) -> Scenario {
    sc.population.office_share = 0.8;
    sc.population.office_size_mean = 6.0;
    sc.population.offices_are_accounts = true;
    sc.validated("accounts").expect("valid")
}

#[test]
fn accounts_open_one_opportunity_each_and_leave_the_leads_alone() {
    let sc = with_accounts(small(6000, 7, RETARGETING_AND_SYNERGY));
    let (w, _, truth) = simulate(&sc);
    let mut persons_apart = sc.clone();
    persons_apart.population.offices_are_accounts = false;
    let (w0, _, truth0) = simulate(&persons_apart);
    // Per office: at most one opportunity and one deal, opened by the
    // member lead qualified first.
    let mut opps = vec![0u32; w.groups.len()];
    let mut leads = vec![0u32; w.groups.len()];
    for (p, p0) in w.persons.iter().zip(&w0.persons) {
        let (Outcome::Lead(l), Outcome::Lead(l0)) = (&p.outcome, &p0.outcome) else {
            continue;
        };
        leads[p.group as usize] += 1;
        // The same lead, with or without accounts.
        assert_eq!((l.time, l.cause), (l0.time, l0.cause));
        if let Some(t) = l.opportunity {
            opps[p.group as usize] += 1;
            assert_eq!(Some(t), l0.opportunity, "the opener's own opportunity");
        }
        assert!(l.deal.is_none() || l.opportunity.is_some());
    }
    for (g, group) in w.groups.iter().enumerate() {
        if group.is_office {
            assert!(opps[g] <= 1, "office {g}: {} opportunities", opps[g]);
        }
    }
    assert!(
        w.groups
            .iter()
            .enumerate()
            .any(|(g, grp)| grp.is_office && leads[g] >= 2),
        "no office with two leads: the rule was never exercised"
    );
    // Fewer opportunities than persons apart; the leads' truths unchanged.
    let count = |w: &world::World| w.leads().filter(|(_, l)| l.opportunity.is_some()).count();
    assert!(count(&w) < count(&w0));
    for (a, b) in [
        (&truth.proximate, &truth0.proximate),
        (&truth.incremental, &truth0.incremental),
        (&truth.shapley, &truth0.shapley),
    ] {
        assert_eq!(
            format!("{:?}", a.conversions),
            format!("{:?}", b.conversions)
        );
    }
}

#[test]
fn proximate_and_shapley_sum_to_leads_and_revenue() {
    for sc in [
        small(3000, 1, ""),
        small(3000, 2, RETARGETING_AND_SYNERGY),
        quickstart(),
        with_accounts(small(3000, 4, "")),
        with_accounts(small(3000, 5, RETARGETING_AND_SYNERGY)),
    ]
    .into_iter()
    .flat_map(in_every_family)
    {
        let (w, _, truth) = simulate(&sc);
        let leads = w.leads().count() as f64;
        let revenue: f64 = w.leads().map(|(_, l)| l.deal.map_or(0.0, |d| d.1)).sum();
        assert!(
            leads > 20.0,
            "{}: too few leads ({leads}) for the test to mean anything",
            sc.name
        );
        assert!(revenue > 0.0);
        for (name, c) in [("proximate", &truth.proximate), ("shapley", &truth.shapley)] {
            assert!(
                close(c.total_conversions(), leads, 1e-9),
                "{name} conversions {} vs {leads}",
                c.total_conversions()
            );
            assert!(
                close(c.total_revenue(), revenue, 1e-9),
                "{name} revenue {} vs {revenue}",
                c.total_revenue()
            );
        }
    }
}

#[test]
fn incremental_never_exceeds_proximate_without_synergy_or_triggers() {
    for seed in 1..4 {
        let sc = small(4000, seed, "");
        let (_, _, truth) = simulate(&sc);
        for label in &truth.labels {
            let (inc, cau) = (
                truth.incremental.conversions[label],
                truth.proximate.conversions[label],
            );
            assert!(
                inc <= cau + 1e-9,
                "seed {seed}: {label} incremental {inc} > proximate {cau}"
            );
        }
        // And it is not trivially zero.
        assert!(truth.incremental.conversions["search"] > 0.0);
    }
}

#[test]
fn zero_spend_rerun_equals_incremental_truth() {
    // Common random numbers: the world re-run without a channel's spend loses
    // exactly the leads the incremental truth says it causes, synergy and
    // triggered retargeting included.
    // With accounts too: the account's revenue game against a real re-run.
    for sc in [
        small(4000, 5, RETARGETING_AND_SYNERGY),
        with_accounts(small(4000, 5, RETARGETING_AND_SYNERGY)),
    ]
    .into_iter()
    .flat_map(in_every_family)
    {
        let base = world::generate(&sc, 0);
        let truth = Truth::assemble(&sc, &base, observe::observe(&sc, &base).persons);
        let leads = |w: &world::World| w.leads().count() as f64;
        let revenue = |w: &world::World| {
            w.leads()
                .map(|(_, l)| l.deal.map_or(0.0, |d| d.1))
                .sum::<f64>()
        };
        for (i, ch) in sc.channels.iter().enumerate() {
            if !ch.paid() {
                continue;
            }
            let mut spends = world::scenario_spends(&sc);
            spends[i] = 0.0;
            let without = world::generate_with_spends(&sc, 0, &spends);
            let lost = leads(&base) - leads(&without);
            assert_eq!(
                lost, truth.incremental.conversions[&ch.id],
                "{}: {}",
                sc.name, ch.id
            );
            let lost_rev = revenue(&base) - revenue(&without);
            assert!(
                close(lost_rev, truth.incremental.revenue[&ch.id], 1e-9),
                "{}: {lost_rev} vs {}",
                ch.id,
                truth.incremental.revenue[&ch.id]
            );
        }
    }
}

#[test]
fn more_spend_never_lowers_leads_without_warmup_or_synergy() {
    // With a warm-up, more spend can convert someone before the window opens
    // (an existing customer), so the window's leads can fall; without one the
    // count is monotone.
    let mut sc = small(3000, 9, "");
    sc.warmup_days = 0.0;
    for sc in in_every_family(sc) {
        let base = world::scenario_spends(&sc);
        for (i, ch) in sc.channels.iter().enumerate() {
            if !ch.paid() {
                continue;
            }
            let mut prev = -1.0;
            for factor in [0.0, 0.5, 1.0, 2.0, 4.0] {
                let mut spends = base.clone();
                spends[i] = base[i] * factor;
                let n = world::generate_with_spends(&sc, 0, &spends).leads().count() as f64;
                assert!(
                    n >= prev,
                    "{}: {}: leads fell from {prev} to {n} at ×{factor}",
                    sc.name,
                    ch.id
                );
                prev = n;
            }
        }
    }
}

#[test]
fn observation_never_changes_the_truth() {
    for sc in in_every_family(quickstart()) {
        observation_leaves_the_truth(sc);
    }
}

fn observation_leaves_the_truth(sc: Scenario) {
    let (w1, _, t1) = simulate(&sc);
    let mut changed = sc.clone();
    let o = &mut changed.observe;
    o.cookie_deletion_scale = 7.5;
    o.cookie_setting = closedloop::scenario::CookieSetting::Server;
    o.itp_cap_days = 1.0;
    o.private_window_rate = 0.4;
    o.consent_decline_rate = 0.6;
    o.consent_mode = closedloop::scenario::ConsentMode::OneOffId;
    o.tag_block_rate = tag_blocking(0.5);
    o.login_rate = 0.7;
    o.ip_noise_rate = DeviceMix {
        desktop: 0.5,
        mobile: 0.9,
        tablet: 0.7,
    };
    o.referrer_loss_rate = 0.9;
    o.email_typo_rate = 0.5;
    o.email_variant_rate = 0.5;
    o.second_email_rate = 0.5;
    o.rep_typo_rate = 0.5;
    let ids = changed.channel_ids();
    for (i, ch) in changed.channels.iter_mut().enumerate() {
        ch.referrer_loss_rate = Some(0.33);
        ch.recorded_as.insert("unassigned".into(), 0.1);
        ch.recorded_as.insert(ids[(i + 1) % ids.len()].clone(), 0.2);
        if ch.kind == closedloop::scenario::TouchKind::Click {
            ch.click_id = Some(format!("id{i}"));
            ch.click_id_classified = i % 2 == 0;
            ch.click_window_days = 10.0;
        }
        ch.claim_click_days = 3.0;
        ch.claim_view_days = 0.5;
    }
    changed.sessions.timeout_minutes = 5.0;
    changed.journey_unit = closedloop::scenario::JourneyUnit::Session;
    let (w2, obs2, t2) = simulate(&changed);
    assert!(w1 == w2, "the world changed with observation parameters");
    for (a, b) in [
        (&t1.proximate, &t2.proximate),
        (&t1.incremental, &t2.incremental),
        (&t1.shapley, &t2.shapley),
    ] {
        assert_eq!(format!("{a:?}"), format!("{b:?}"));
    }
    assert_eq!(t1.leads, t2.leads);
    // ...while the observation itself did change.
    let (_, obs1, _) = simulate(&sc);
    assert_ne!(obs1.log.visits.len(), obs2.log.visits.len());
}

/// The same tag-blocking rate on every device type and browser family.
fn tag_blocking(rate: f64) -> TagBlockRates {
    let mix = BrowserMix {
        chrome: rate,
        safari: rate,
        firefox: rate,
        edge: rate,
        in_app: rate,
    };
    TagBlockRates {
        desktop: mix,
        mobile: mix,
        tablet: mix,
    }
}

#[test]
fn visits_are_recorded_by_their_channel_confusion_row() {
    let mut sc = quickstart();
    sc.persons = 4000;
    let ids = sc.channel_ids();
    // (true label, recorded label) of every channel-click visit.
    let recorded = |sc: &Scenario| {
        let (w, obs, truth) = simulate(sc);
        obs.log
            .visits
            .iter()
            .zip(&truth.events.visit_touch)
            .filter_map(|(v, &ti)| match w.touches[ti as usize].source {
                world::Source::Channel(c) => Some((c, v.channel)),
                _ => None,
            })
            .collect::<Vec<(u16, u16)>>()
    };
    // The identity matrix: every click visit is recorded as its channel.
    let mut identity = sc.clone();
    identity.observe.referrer_loss_rate = 0.0;
    for ch in &mut identity.channels {
        ch.referrer_loss_rate = None;
        ch.recorded_as.clear();
    }
    let pairs = recorded(&identity);
    assert!(pairs.len() > 1000);
    assert!(
        pairs.iter().all(|(t, r)| t == r),
        "a visit was recorded under another label"
    );

    // One row set: paid_search 10 % direct, 5 % unassigned, 20 % as email.
    let (ps, email) = (
        sc.channel_index("paid_search").unwrap(),
        sc.channel_index("email").unwrap(),
    );
    let mut confused = identity.clone();
    let row = &mut confused.channels[ps].recorded_as;
    row.insert("direct".into(), 0.10);
    row.insert("unassigned".into(), 0.05);
    row.insert("email".into(), 0.20);
    let pairs = recorded(&confused);
    let (direct, unassigned) = (ids.len() as u16, ids.len() as u16 + 1);
    let from_ps: Vec<u16> = pairs
        .iter()
        .filter(|(t, _)| *t as usize == ps)
        .map(|(_, r)| *r)
        .collect();
    let share =
        |label: u16| from_ps.iter().filter(|r| **r == label).count() as f64 / from_ps.len() as f64;
    assert!(from_ps.len() > 500, "{} paid_search visits", from_ps.len());
    for (label, want) in [
        (direct, 0.10),
        (unassigned, 0.05),
        (email as u16, 0.20),
        (ps as u16, 0.65),
    ] {
        assert!(
            (share(label) - want).abs() < 0.04,
            "label {label}: {} vs {want}",
            share(label)
        );
    }
    // Other channels keep the identity row.
    assert!(
        pairs
            .iter()
            .filter(|(t, _)| *t as usize != ps)
            .all(|(t, r)| t == r)
    );
}

#[test]
fn click_ids_follow_the_cookie_into_the_lead_and_imports_respect_the_window() {
    let sc = quickstart();
    let (w, obs, truth) = simulate(&sc);
    let log = &obs.log;
    // Click id → (click time, the true channel that issued it). A mis-tagged
    // visit keeps its click id; one whose source was lost to `direct` does not.
    let clicks: std::collections::HashMap<u64, (i64, u16)> = log
        .visits
        .iter()
        .zip(&truth.events.visit_touch)
        .filter_map(|(v, &ti)| {
            let id = v.click_id?;
            let c = match w.touches[ti as usize].source {
                world::Source::Channel(c) | world::Source::FormFill(Some(c)) => c,
                other => panic!("a click id on a {other:?} visit"),
            };
            assert!(sc.channels[c as usize].click_id.is_some());
            Some((id.get(), (v.time_ms, c)))
        })
        .collect();
    assert!(clicks.len() > 1000, "{} click ids", clicks.len());
    // Unique per visit, and never on a visit whose source was lost.
    assert_eq!(
        clicks.len(),
        log.visits.iter().filter(|v| v.click_id.is_some()).count()
    );
    assert!(
        log.visits
            .iter()
            .all(|v| v.click_id.is_none() || v.channel != log.direct())
    );
    let day_ms = 86_400_000.0;
    assert!(!log.conversion_imports.is_empty());
    for (imp, &person) in log
        .conversion_imports
        .iter()
        .zip(&truth.events.import_person)
    {
        let &(clicked, label) = clicks
            .get(&imp.click_id.get())
            .expect("an imported click was recorded");
        let window = sc.channels[label as usize].click_window_days;
        assert_eq!(imp.channel, label);
        assert!(imp.time_ms >= clicked, "imported before the click");
        assert!(
            (imp.time_ms - clicked) as f64 <= window * day_ms + 1.0,
            "imported outside the window"
        );
        // The lead that carried it is the person's.
        let lead = log
            .crm_leads
            .iter()
            .position(|l| l.click_id == Some(imp.click_id))
            .unwrap();
        assert_eq!(truth.events.crm_lead_person[lead], person);
    }
    // A shorter window only removes imports.
    let mut short = sc.clone();
    for ch in &mut short.channels {
        ch.click_window_days = 7.0;
    }
    let (_, obs7, _) = simulate(&short);
    let ids7: std::collections::BTreeSet<u64> = obs7
        .log
        .conversion_imports
        .iter()
        .map(|i| i.click_id.get())
        .collect();
    let ids: std::collections::BTreeSet<u64> = log
        .conversion_imports
        .iter()
        .map(|i| i.click_id.get())
        .collect();
    assert!(ids7.is_subset(&ids) && ids7.len() < ids.len());
}

#[test]
fn without_cookie_loss_every_lead_carries_its_devices_last_click_id() {
    let mut sc = quickstart();
    sc.make_lossless();
    let (_, obs, truth) = simulate(&sc);
    let log = &obs.log;
    // One device per person: the person's visits are the cookie's visits.
    let mut with_click = 0;
    for (lead, &person) in log.crm_leads.iter().zip(&truth.events.crm_lead_person) {
        let last_click = log
            .visits
            .iter()
            .zip(&truth.events.visit_person)
            .rfind(|(v, p)| **p == person && v.time_ms <= lead.time_ms && v.click_id.is_some())
            .and_then(|(v, _)| v.click_id);
        assert_eq!(lead.click_id, last_click, "lead {}", lead.event_id);
        with_click += usize::from(last_click.is_some());
    }
    assert!(with_click > 50, "{with_click} leads with a click id");
}

#[test]
fn itp_caps_script_cookies_and_classified_click_ids_cap_them_at_a_day() {
    let mut sc = quickstart();
    sc.persons = 4000;
    // Every device is Safari; nothing else loses cookies.
    let safari = BrowserMix {
        safari: 1.0,
        ..BrowserMix::ZERO
    };
    sc.population.browsers.desktop = safari;
    sc.population.browsers.mobile = safari;
    sc.population.browsers.tablet = safari;
    sc.observe.cookie_deletion_scale = 0.0;
    sc.observe.private_window_rate = 0.0;
    sc.observe.consent_decline_rate = 0.0;
    sc.observe.tag_block_rate = TagBlockRates::NONE;
    let run = |setting: CookieSetting, classified: bool| {
        let mut sc = sc.clone();
        sc.observe.cookie_setting = setting;
        for ch in &mut sc.channels {
            ch.click_id_classified = classified && ch.click_id.is_some();
        }
        let (_, obs, truth) = simulate(&sc);
        let ids = stitch::build(&StitcherSpec::CookieOnly).stitch(&obs.log);
        let recall = closedloop::score::score_stitching(&obs.log, &ids, &truth)
            .pairwise
            .recall;
        (obs.losses.counts["itp_expiry"], recall)
    };
    let (server, server_recall) = run(CookieSetting::Server, true);
    let (js, js_recall) = run(CookieSetting::Js, false);
    let (js_classified, classified_recall) = run(CookieSetting::Js, true);
    assert_eq!(server, 0, "server-set cookies are exempt");
    assert!(
        js > 0 && js_recall < server_recall,
        "{js} expiries, recall {js_recall} vs {server_recall}"
    );
    assert!(
        js_classified > js,
        "24-hour cap: {js_classified} vs {js} expiries"
    );
    assert!(classified_recall <= js_recall);
}

#[test]
fn session_journeys_keep_the_conversions_and_coarsen_with_the_timeout() {
    let sc = quickstart();
    let (_, obs, _) = simulate(&sc);
    let ids = stitch::build(&StitcherSpec::Deterministic).stitch(&obs.log);
    let by_visit = Journeys::build(&obs.log, &ids);
    let mut prev_touches = by_visit.touches.len();
    for (timeout_minutes, split_on_campaign) in
        [(1.0, true), (30.0, true), (30.0, false), (1440.0, false)]
    {
        let rule = closedloop::log::SessionRule {
            timeout_minutes,
            split_on_campaign,
        };
        let by_session = Journeys::build_sessions(&obs.log, &ids, &rule);
        // Same journeys, conversions and revenue; each journey's touches a
        // subsequence of its visits, starting with the same first visit.
        assert_eq!(by_session.journeys.len(), by_visit.journeys.len());
        for (s, v) in by_session.journeys.iter().zip(&by_visit.journeys) {
            assert_eq!(
                (s.lead_ms, s.conversions, s.revenue),
                (v.lead_ms, v.conversions, v.revenue)
            );
            let (st, vt) = (by_session.touches_of(s), by_visit.touches_of(v));
            assert!(st.len() <= vt.len() && st.first() == vt.first());
            let mut it = vt.iter();
            assert!(st.iter().all(|t| it.any(|x| x == t)), "not a subsequence");
        }
        // Longer sessions (and no campaign splits) only merge sessions.
        assert!(
            by_session.touches.len() <= prev_touches,
            "{timeout_minutes} min"
        );
        prev_touches = by_session.touches.len();
        // Credit still sums to the conversions.
        let credit =
            attribute::build(&AttributorSpec::parse("linear").unwrap()).attribute(&by_session);
        assert!(close(
            credit.total_conversions(),
            by_visit.converting().map(|j| j.conversions).sum(),
            1e-12
        ));
    }
    // Day-long sessions do merge some visits.
    assert!(prev_touches < by_visit.touches.len());
}

#[test]
fn logins_are_return_visits_after_the_account_and_help_deterministic_stitching() {
    let sc = quickstart();
    let run = |login_rate: f64| {
        let mut sc = sc.clone();
        sc.observe.login_rate = login_rate;
        let (w, obs, truth) = simulate(&sc);
        let ids = stitch::build(&StitcherSpec::Deterministic).stitch(&obs.log);
        let f1 = closedloop::score::score_stitching(&obs.log, &ids, &truth)
            .pairwise
            .f1;
        (w, obs, truth, f1)
    };
    let (_, _, _, f1_without) = run(0.0);
    let (w, obs, truth, f1_with) = run(0.8);
    let log = &obs.log;
    // The account starts at the person's first form fill in the log.
    let mut account_from: std::collections::HashMap<u32, i64> = std::collections::HashMap::new();
    for (f, &p) in log.form_fills.iter().zip(&truth.events.form_fill_person) {
        let e = account_from.entry(p).or_insert(f.time_ms);
        *e = (*e).min(f.time_ms);
        assert!(
            f.user_id.is_some(),
            "a form fill on a site with logins names its account"
        );
    }
    let mut logged_in = 0;
    let mut account_of: std::collections::HashMap<u64, u32> = std::collections::HashMap::new();
    for (v, (&p, &ti)) in log.visits.iter().zip(
        truth
            .events
            .visit_person
            .iter()
            .zip(&truth.events.visit_touch),
    ) {
        let Some(u) = v.user_id else { continue };
        logged_in += 1;
        assert!(matches!(
            w.touches[ti as usize].source,
            world::Source::Return
        ));
        assert!(
            v.time_ms > account_from[&p],
            "logged in before the account existed"
        );
        // One account per person, never shared.
        assert_eq!(*account_of.entry(u.get()).or_insert(p), p);
    }
    assert!(logged_in > 100, "{logged_in} logged-in visits");
    assert!(
        f1_with > f1_without,
        "F1 {f1_with} with logins vs {f1_without} without"
    );
}

#[test]
fn a_lone_platform_claims_at_least_its_proximate_leads() {
    let mut sc = small(4000, 9, "");
    sc.make_lossless();
    // One paid platform (search); the other channels unpaid; no window cuts.
    sc.channels
        .retain(|c| c.id != "display" && c.id != "brand_search");
    let search = sc.channel_index("search").unwrap();
    sc.channels[search].claim_click_days = 400.0;
    sc.channels[search].claim_view_days = 400.0;
    let sc = sc.validated("test").unwrap();
    let (_, obs, truth) = simulate(&sc);
    assert_eq!(obs.log.platforms.len(), 1);
    let claims = attribute::platform_reported(&obs.log);
    let proximate = truth.proximate.conversions["search"];
    assert!(proximate > 20.0, "{proximate} proximate leads");
    assert!(
        claims.claims[0].conversions >= proximate,
        "claims {} < proximate {proximate}",
        claims.claims[0].conversions
    );
    assert_eq!(claims.sum_of_claims as u64, claims.distinct_claimed);
}

#[test]
fn overlapping_claims_count_twice_but_once_as_distinct() {
    let sc = quickstart();
    let (_, obs, truth) = simulate(&sc);
    let claims = attribute::platform_reported(&obs.log);
    assert!(obs.log.platforms.len() >= 2);
    // Per form fill: how many platforms claim it, recomputed from the logs.
    let mut claimed_by: std::collections::HashMap<u64, u32> = std::collections::HashMap::new();
    for p in &obs.log.platforms {
        for c in &p.conversions {
            let hit = p.touches.iter().any(|t| {
                t.user == c.user
                    && t.time_ms <= c.time_ms
                    && (c.time_ms - t.time_ms) as f64
                        <= if t.click {
                            p.click_window_days
                        } else {
                            p.view_window_days
                        } * 86_400_000.0
            });
            if hit {
                *claimed_by.entry(c.form_fill_id).or_insert(0) += 1;
            }
        }
    }
    assert_eq!(claims.distinct_claimed, claimed_by.len() as u64);
    assert_eq!(
        claims.sum_of_claims as u32,
        claimed_by.values().sum::<u32>()
    );
    assert!(
        claimed_by.values().any(|&n| n >= 2),
        "no conversion claimed twice"
    );
    assert!(claims.sum_of_claims > claims.distinct_claimed as f64);
    assert!(claims.distinct_claimed as usize <= truth.leads.len());
}

#[test]
fn loss_ablation_rows_match_the_run_and_switch_off_what_they_name() {
    let mut sc = Scenario::from_path(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scenarios/privacy_eu.toml"
    )))
    .expect("privacy_eu loads");
    sc.persons = 5000;
    assert!(sc.loss_ablation, "privacy_eu shows what each loss costs");
    let mut cfg = experiment::RunConfig::from_scenario(&sc);
    cfg.stitchers = vec![StitcherSpec::Deterministic];
    cfg.models = vec![AttributorSpec::parse("linear").unwrap()];
    let r = experiment::run_replicate(&sc, &cfg, 0);
    let rows = &r.loss_ablation;
    assert_eq!(rows.len(), 1 + experiment::ABLATIONS.len());
    // The `none` row is the run itself.
    let det = &r
        .stitching
        .iter()
        .find(|(n, _)| n == "deterministic")
        .unwrap()
        .1;
    assert_eq!(rows[0].switched_off, "none");
    assert_eq!(rows[0].f1, det.pairwise.f1);
    let linear = r
        .attribution
        .iter()
        .find(|a| a.stitcher == "deterministic" && a.model == "linear")
        .unwrap();
    assert_eq!(rows[0].tvd["linear"], linear.error[0].conversions.tvd);
    // Each ablated scenario is valid and differs from the original only in
    // observation; no losses at all stitches best.
    for m in experiment::ABLATIONS {
        let s = experiment::without_loss(&sc, m)
            .validated("ablation")
            .unwrap();
        assert_eq!(
            format!("{:?}", s.population),
            format!("{:?}", sc.population)
        );
    }
    let all = rows.iter().find(|r| r.switched_off == "all").unwrap();
    assert!(
        rows.iter().all(|r| r.f1 <= all.f1),
        "all losses off stitches best"
    );
    let consent = rows.iter().find(|r| r.switched_off == "consent").unwrap();
    assert!(
        consent.f1 > rows[0].f1,
        "35 % declined consent costs stitching"
    );
}

#[test]
fn ip_noise_only_moves_visits_to_shared_carrier_addresses() {
    let mut sc = quickstart();
    sc.persons = 4000;
    let log_at = |rate: f64| {
        let mut sc = sc.clone();
        sc.observe.ip_noise_rate = DeviceMix {
            desktop: rate,
            mobile: rate,
            tablet: rate,
        };
        let (_, obs, truth) = simulate(&sc);
        (obs.log, truth)
    };
    let (clean, truth) = log_at(0.0);
    // Each visit's address without noise: its group's own.
    let home: Vec<u64> = clean.visits.iter().map(|v| v.ip_hash).collect();
    let mut prev_moved: Vec<bool> = vec![false; home.len()];
    for rate in [0.1, 0.4, 1.0] {
        let (log, t) = log_at(rate);
        assert_eq!(log.visits.len(), clean.visits.len());
        assert_eq!(
            format!("{:?}", t.proximate),
            format!("{:?}", truth.proximate)
        );
        let moved: Vec<bool> = log
            .visits
            .iter()
            .zip(&home)
            .map(|(v, h)| v.ip_hash != *h)
            .collect();
        for (v, c) in log.visits.iter().zip(&clean.visits) {
            // Nothing but the address changes.
            assert_eq!(
                (v.time_ms, v.cookie_id, v.channel),
                (c.time_ms, c.cookie_id, c.channel)
            );
        }
        // Thinning: a visit moved at a lower rate is moved at this one.
        assert!(
            prev_moved.iter().zip(&moved).all(|(p, m)| !p || *m),
            "rate {rate}"
        );
        let share = moved.iter().filter(|m| **m).count() as f64 / moved.len() as f64;
        assert!(
            (share - rate).abs() < 0.03,
            "rate {rate}: {share} of visits moved"
        );
        // Carrier addresses are shared by strangers: few, and crowded.
        let mut carriers: Vec<u64> = log
            .visits
            .iter()
            .zip(&moved)
            .filter(|(_, m)| **m)
            .map(|(v, _)| v.ip_hash)
            .collect();
        carriers.sort_unstable();
        carriers.dedup();
        assert!(
            carriers.len() <= (sc.persons as usize).div_ceil(200),
            "{} carrier IPs",
            carriers.len()
        );
        prev_moved = moved;
    }
}

#[test]
fn more_tag_blocking_only_removes_visits_and_leaves_leads_without_history() {
    let mut sc = quickstart();
    sc.persons = 4000;
    let recorded = |rate: f64| {
        let mut sc = sc.clone();
        sc.observe.tag_block_rate = tag_blocking(rate);
        let (_, obs, truth) = simulate(&sc);
        let visits: std::collections::BTreeSet<(i64, u64, u16)> = obs
            .log
            .visits
            .iter()
            .map(|v| (v.time_ms, v.cookie_id, v.channel))
            .collect();
        let no_history = obs
            .log
            .form_fills
            .iter()
            .filter(|f| f.cookie_id.is_none())
            .count();
        (visits, no_history, obs, truth)
    };
    let (mut prev_visits, mut prev_no_history, obs0, truth0) = recorded(0.0);
    let crm_leads = obs0.log.crm_leads.len();
    for rate in [0.1, 0.3, 0.6, 1.0] {
        let (visits, no_history, obs, truth) = recorded(rate);
        // Thinning: every visit still recorded was recorded, identically, at
        // the lower rate; and blocking never loses a CRM lead.
        assert!(
            visits.is_subset(&prev_visits),
            "rate {rate}: a new visit appeared"
        );
        assert!(
            visits.len() < prev_visits.len(),
            "rate {rate}: nothing blocked"
        );
        assert!(
            no_history >= prev_no_history,
            "rate {rate}: fewer leads without history"
        );
        assert_eq!(
            obs.log.crm_leads.len(),
            crm_leads,
            "rate {rate}: CRM leads changed"
        );
        assert_eq!(
            format!("{:?}", truth.proximate),
            format!("{:?}", truth0.proximate)
        );
        (prev_visits, prev_no_history) = (visits, no_history);
    }
    // Everything blocked: no web history at all, so every model credits `unknown`.
    let (_, _, obs, _) = recorded(1.0);
    assert!(obs.log.visits.is_empty());
    assert!(obs.log.form_fills.iter().all(|f| f.cookie_id.is_none()));
    let ids = stitch::build(&StitcherSpec::Deterministic).stitch(&obs.log);
    let js = Journeys::build(&obs.log, &ids);
    for spec in AttributorSpec::all() {
        let credit = attribute::build(&spec).attribute(&js);
        let total = credit.total_conversions();
        assert!(
            total > 0.0 && close(credit.conversions["unknown"], total, 1e-12),
            "{}",
            spec.id()
        );
    }
}

#[test]
fn lossless_world_deterministic_equals_the_oracle() {
    for mut sc in in_every_family(quickstart()) {
        sc.make_lossless();
        lossless_deterministic_is_the_oracle(&sc);
    }
}

fn lossless_deterministic_is_the_oracle(sc: &Scenario) {
    let (_, obs, truth) = simulate(sc);
    let ids = stitch::build(&StitcherSpec::Deterministic).stitch(&obs.log);
    let oracle = oracle_identities(&truth);
    let m = closedloop::score::score_stitching(&obs.log, &ids, &truth);
    assert_eq!(m.pairwise.f1, 1.0);
    assert_eq!(m.completeness, 1.0);
    let (jd, jo) = (
        Journeys::build(&obs.log, &ids),
        Journeys::build(&obs.log, &oracle),
    );
    for spec in AttributorSpec::all() {
        let model = attribute::build(&spec);
        assert_eq!(model.attribute(&jd), model.attribute(&jo), "{}", spec.id());
    }
    // The oracle partition really is the one cookie per person.
    assert_eq!(ids, oracle);
}

#[test]
fn one_channel_gets_all_the_credit() {
    let mut sc = scenario(
        r#"
name = "one"
persons = 3000
[population]
baseline_rate = 0.0
return_visit_rate = 0.0
[[channels]]
id = "search"
spend = 100
max_rate = 0.05
half_saturation = 100
conversion_rate = 0.05
[form_fill]
path = { search = 1.0 }
[observe]
referrer_loss_rate = 0.0
consent_decline_rate = 0.0
"#,
    );
    // Every lead's journey must hold its form-fill visit: with shared devices,
    // second addresses, typos or variants, `last_login` can give a cookie to
    // another identity and
    // leave a lead with no web history (`unknown`), which is right but not the
    // point here.
    // Tag blocking leaves leads with no web history at all.
    sc.population.shared_device_rate = 0.0;
    sc.observe.second_email_rate = 0.0;
    sc.observe.email_typo_rate = 0.0;
    sc.observe.email_variant_rate = 0.0;
    sc.observe.tag_block_rate = TagBlockRates::NONE;
    sc.replicates = 1;
    for sc in in_every_family(sc) {
        one_channel_has_it_all(&sc);
    }
}

fn one_channel_has_it_all(sc: &Scenario) {
    let cfg = experiment::RunConfig::from_scenario(sc);
    let r = experiment::run_replicate(sc, &cfg, 0);
    for (name, truth) in closedloop::truth::TRUTHS.iter().zip(&r.truth) {
        let total = truth.total_conversions();
        assert!(total > 10.0, "{}: {total} leads", sc.name);
        assert!(
            close(truth.conversions["search"], total, 1e-12),
            "{}: {name}",
            sc.name
        );
    }
    for a in &r.attribution {
        if a.stitcher == "forward_only" {
            // The converting visit starts before the form identifies the
            // cookie, so forward-only stitching leaves it (and every earlier
            // visit) anonymous: leads without web history. No other channel.
            for (label, &v) in &a.credit.conversions {
                assert!(
                    v == 0.0 || label == "search" || label == "unknown",
                    "{} on forward_only credits {label}",
                    a.model
                );
            }
            continue;
        }
        let total = a.credit.total_conversions();
        assert!(
            close(a.credit.conversions["search"], total, 1e-12),
            "{} on {}",
            a.model,
            a.stitcher
        );
        assert_eq!(a.error[0].conversions.tvd, 0.0);
    }
}

#[test]
fn more_cookie_deletion_means_more_cookies_and_less_completeness() {
    let mut sc = quickstart();
    sc.persons = 4000;
    let mut prev_cookies = 0usize;
    let mut prev_completeness = f64::INFINITY;
    for scale in [0.0, 0.5, 1.0, 2.0, 5.0, 10.0] {
        sc.observe.cookie_deletion_scale = scale;
        let (_, obs, truth) = simulate(&sc);
        let mut cookies: Vec<u64> = obs.log.visits.iter().map(|v| v.cookie_id).collect();
        cookies.sort_unstable();
        cookies.dedup();
        let ids = stitch::build(&StitcherSpec::CookieOnly).stitch(&obs.log);
        let completeness = closedloop::score::score_stitching(&obs.log, &ids, &truth).completeness;
        assert!(cookies.len() >= prev_cookies, "scale {scale}: cookies fell");
        assert!(
            completeness <= prev_completeness,
            "scale {scale}: completeness rose"
        );
        prev_cookies = cookies.len();
        prev_completeness = completeness;
    }
    assert!(prev_completeness < 1.0);
}

#[test]
fn block_size_does_not_change_the_world() {
    for sc in in_every_family(small(2000, 3, RETARGETING_AND_SYNERGY)) {
        block_size_leaves(&sc);
    }
}

fn block_size_leaves(sc: &Scenario) {
    let sc = sc.clone();
    let spends = world::scenario_spends(&sc);
    let reference = world::generate_with_options(&sc, 0, &spends, GenOptions::default());
    for block in [1, 7, 100_000] {
        let w = world::generate_with_options(
            &sc,
            0,
            &spends,
            GenOptions {
                block_groups: block,
                ..Default::default()
            },
        );
        assert!(w == reference, "block size {block} changed the world");
    }
}

#[test]
fn existing_customers_are_out_of_the_market() {
    let sc = small(3000, 4, "");
    let w = world::generate(&sc, 0);
    let existing = w
        .persons
        .iter()
        .filter(|p| matches!(p.outcome, Outcome::ExistingCustomer { .. }))
        .count();
    assert!(
        existing > 0,
        "a 30-day warm-up should make some existing customers"
    );
    for p in &w.persons {
        if let Outcome::ExistingCustomer { time } = p.outcome {
            assert!(time < 0.0);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]

    /// The closed form of the Shapley truth equals brute-force 2^m enumeration
    /// on the same persons, for conversions and revenue.
    #[test]
    fn shapley_closed_form_equals_enumeration(seed in 0u64..1_000_000, base in 0.0f64..0.1, k in 0.3f64..3.0) {
        let mut sc = small(400, seed, "");
        sc.population.baseline_rate = base;
        sc.population.frailty_shape = k;
        let spends = world::scenario_spends(&sc);
        let closed = world::generate_with_options(&sc, 0, &spends, GenOptions::default());
        let brute = world::generate_with_options(&sc, 0, &spends, GenOptions { force_shapley_enumeration: true, ..Default::default() });
        prop_assert_eq!(closed.credit.len(), brute.credit.len());
        for (a, b) in closed.credit.iter().zip(&brute.credit) {
            prop_assert_eq!(a.person, b.person);
            let total = |v: &[(u16, f64, f64)], l: u16| v.iter().filter(|x| x.0 == l).fold((0.0, 0.0), |s, x| (s.0 + x.1, s.1 + x.2));
            for l in 0..=(sc.channels.len() as u16) {
                let (x, y) = (total(&a.shapley, l), total(&b.shapley, l));
                prop_assert!(close(x.0, y.0, 1e-9) && close(x.1, y.1, 1e-9), "person {} label {}: {:?} vs {:?}", a.person, l, x, y);
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    /// Random small worlds, observed with random losses: every stitcher
    /// (probabilistic at several thresholds, graph uncapped too) partitions
    /// every event exactly once with dense keys.
    #[test]
    fn every_stitcher_returns_a_partition_of_every_event(
        seed in 0u64..1_000_000,
        persons in 20u32..600,
        deletion in 0.0f64..4.0,
        shared in 0.0f64..0.6,
        typo in 0.0f64..0.3,
        second in 0.0f64..0.5,
    ) {
        let mut sc = quickstart();
        sc.seed = seed;
        sc.persons = persons;
        sc.population.shared_device_rate = shared;
        sc.population.office_share = 0.3;
        sc.population.office_shared_device_rate = shared;
        sc.observe.cookie_deletion_scale = deletion;
        sc.observe.email_typo_rate = typo;
        sc.observe.second_email_rate = second;
        sc.observe.rep_typo_rate = typo;
        let (_, obs, _) = simulate(&sc);
        assert_partitions(&obs.log);
    }
}

fn assert_partitions(log: &closedloop::log::EventLog) {
    let mut specs = StitcherSpec::all();
    for extra in [
        "graph:0:0:365",
        "probabilistic:-4",
        "probabilistic:6",
        "lookback:0",
    ] {
        specs.push(StitcherSpec::parse(extra).unwrap());
    }
    for spec in specs {
        let ids = stitch::build(&spec).stitch(log);
        assert_eq!(ids.visit.len(), log.visits.len(), "{}", spec.id());
        assert_eq!(ids.form_fill.len(), log.form_fills.len());
        assert_eq!(ids.crm_lead.len(), log.crm_leads.len());
        assert_eq!(ids.opportunity.len(), log.opportunities.len());
        assert_eq!(ids.deal.len(), log.deals.len());
        let all = ids
            .visit
            .iter()
            .chain(&ids.form_fill)
            .chain(&ids.crm_lead)
            .chain(&ids.opportunity)
            .chain(&ids.deal);
        let mut used = vec![false; ids.n_clusters as usize];
        for &c in all {
            assert!(c < ids.n_clusters, "{}: key {c} out of range", spec.id());
            used[c as usize] = true;
        }
        assert!(
            used.iter().all(|&u| u),
            "{}: cluster keys must be dense",
            spec.id()
        );
    }
}

#[test]
fn a_longer_lookback_only_coarsens_and_infinity_is_deterministic() {
    let mut sc = quickstart();
    sc.persons = 4000;
    let (_, obs, truth) = simulate(&sc);
    let det = stitch::build(&StitcherSpec::Deterministic).stitch(&obs.log);
    let inf = stitch::Lookback {
        days: f64::INFINITY,
    };
    assert_eq!(stitch::Stitcher::stitch(&inf, &obs.log), det);
    let mut prev: Option<closedloop::score::Pairwise> = None;
    for days in [0.0, 1.0, 7.0, 30.0, 365.0] {
        let ids = stitch::build(&stitch::Lookback { days }).stitch(&obs.log);
        let pw = closedloop::score::pairwise(&truth.events.visit_person, &ids.visit);
        if let Some(p) = prev {
            assert!(
                pw.tp_pairs >= p.tp_pairs && pw.tp_pairs + pw.fp_pairs >= p.tp_pairs + p.fp_pairs,
                "days {days}"
            );
        }
        prev = Some(pw);
    }
}

#[test]
fn lossless_world_normalized_and_infinite_lookback_equal_the_oracle() {
    let mut sc = quickstart();
    sc.make_lossless();
    let (_, obs, truth) = simulate(&sc);
    let oracle = oracle_identities(&truth);
    for spec in [
        StitcherSpec::Normalized,
        StitcherSpec::Lookback(stitch::Lookback { days: 1e9 }),
        StitcherSpec::LastLogin,
        StitcherSpec::parse("graph").unwrap(),
    ] {
        assert_eq!(
            stitch::build(&spec).stitch(&obs.log),
            oracle,
            "{}",
            spec.id()
        );
    }
}

#[test]
fn normalized_recovers_variants_that_deterministic_misses() {
    // Only email variants (case, dots, plus tags), no shared devices, no typos.
    let mut sc = quickstart();
    sc.persons = 6000;
    sc.population.shared_device_rate = 0.0;
    sc.observe.email_typo_rate = 0.0;
    sc.observe.rep_typo_rate = 0.0;
    sc.observe.second_email_rate = 0.0;
    sc.observe.email_variant_rate = 0.5;
    sc.form_fill.repeat_rate = 0.5;
    let (_, obs, truth) = simulate(&sc);
    let score = |spec: StitcherSpec| {
        let ids = stitch::build(&spec).stitch(&obs.log);
        closedloop::score::pairwise(&truth.events.visit_person, &ids.visit)
    };
    let (det, norm) = (
        score(StitcherSpec::Deterministic),
        score(StitcherSpec::Normalized),
    );
    assert!(
        norm.recall > det.recall,
        "normalized {} vs deterministic {}",
        norm.recall,
        det.recall
    );
    assert_eq!(det.precision, 1.0);
    assert_eq!(norm.precision, 1.0);
}

#[test]
fn graph_without_caps_coarsens_graph_with_caps() {
    let mut sc = quickstart();
    sc.persons = 6000;
    sc.observe.second_email_rate = 0.3;
    sc.population.shared_device_rate = 0.3;
    let (_, obs, truth) = simulate(&sc);
    let pw = |spec: &str| {
        let ids = stitch::build(&StitcherSpec::parse(spec).unwrap()).stitch(&obs.log);
        closedloop::score::pairwise(&truth.events.visit_person, &ids.visit)
    };
    let (capped, uncapped) = (pw("graph:1:2:365"), pw("graph:0:0:365"));
    assert!(uncapped.tp_pairs >= capped.tp_pairs);
    assert!(
        uncapped.fp_pairs > capped.fp_pairs,
        "caps must refuse some false links here"
    );
}

#[test]
fn uncapped_graph_over_merges_on_stitching_stress() {
    let sc = Scenario::from_path(std::path::Path::new("scenarios/stitching_stress.toml")).unwrap();
    let (_, obs, truth) = simulate(&sc);
    let pw = |spec: &str| {
        let ids = stitch::build(&StitcherSpec::parse(spec).unwrap()).stitch(&obs.log);
        closedloop::score::pairwise(&truth.events.visit_person, &ids.visit)
    };
    let (capped, uncapped) = (pw("graph"), pw("graph:0:0:365"));
    assert!(uncapped.tp_pairs >= capped.tp_pairs);
    assert!(
        uncapped.fp_pairs > capped.fp_pairs,
        "uncapped {} vs capped {} false-positive pairs",
        uncapped.fp_pairs,
        capped.fp_pairs
    );
}

#[test]
fn probabilistic_thresholds_only_remove_links_and_match_the_stitcher() {
    let mut sc = quickstart();
    sc.persons = 3000;
    let (_, obs, truth) = simulate(&sc);
    let log = &obs.log;
    let ts = [-4.0, 0.0, 2.0, 3.0, 100.0];
    let parts = stitch::Probabilistic::stitch_thresholds(log, &ts);
    let mut prev: Option<closedloop::score::Pairwise> = None;
    for (t, ids) in ts.iter().zip(&parts) {
        // The sweep's partition is the stitcher's at that threshold.
        let alone = stitch::build(&stitch::Probabilistic { threshold: *t }).stitch(log);
        assert_eq!(&alone, ids, "threshold {t}");
        let pw = closedloop::score::pairwise(&truth.events.visit_person, &ids.visit);
        if let Some(p) = prev {
            // Fewer links: predicted pairs (tp + fp) and true links shrink.
            assert!(
                pw.tp_pairs + pw.fp_pairs <= p.tp_pairs + p.fp_pairs,
                "threshold {t}"
            );
            assert!(pw.tp_pairs <= p.tp_pairs, "threshold {t}");
        }
        prev = Some(pw);
    }
    for (lo, hi) in parts.iter().zip(parts.iter().skip(1)) {
        let mut map = std::collections::HashMap::new();
        for (&h, &l) in hi.visit.iter().zip(&lo.visit) {
            assert_eq!(
                *map.entry(h).or_insert(l),
                l,
                "a higher threshold only refines"
            );
        }
    }
    // Beyond every weight only the deterministic links remain.
    assert_eq!(
        parts[4],
        stitch::build(&StitcherSpec::Deterministic).stitch(log)
    );
}

/// The lossless world with several devices per person, keeping only visits of
/// cookies that were identified (a form fill or a newsletter click): every
/// device left is identified, so the email-based stitchers recover the true
/// persons exactly, and `cookie_only` cannot (it never joins devices).
#[test]
fn lossless_multi_device_world_with_identified_devices_equals_the_oracle() {
    let mut sc = quickstart();
    sc.make_lossless();
    sc.population.extra_devices_mean = 1.5;
    sc.population.newsletter_rate = 0.5;
    let (_, mut obs, mut truth) = simulate(&sc);
    let identified: std::collections::HashSet<u64> = obs
        .log
        .form_fills
        .iter()
        .filter_map(|f| f.cookie_id)
        .chain(
            obs.log
                .visits
                .iter()
                .filter(|v| v.email_token.is_some())
                .map(|v| v.cookie_id),
        )
        .collect();
    let keep: Vec<bool> = obs
        .log
        .visits
        .iter()
        .map(|v| identified.contains(&v.cookie_id))
        .collect();
    let mut k = keep.iter();
    obs.log.visits.retain(|_| *k.next().unwrap());
    let mut k = keep.iter();
    truth.events.visit_person.retain(|_| *k.next().unwrap());
    let oracle = oracle_identities(&truth);
    for spec in ["deterministic", "normalized", "lookback:1e9", "graph"] {
        let ids = stitch::build(&StitcherSpec::parse(spec).unwrap()).stitch(&obs.log);
        assert_eq!(ids, oracle, "{spec}");
    }
    let cookie = stitch::build(&StitcherSpec::CookieOnly).stitch(&obs.log);
    assert_ne!(cookie, oracle);
    let pw = closedloop::score::pairwise(&truth.events.visit_person, &cookie.visit);
    assert_eq!(pw.precision, 1.0);
    assert!(
        pw.recall < 1.0,
        "several devices per person must split cookie_only"
    );
}
