//! Models as published: `markov`'s value removal effects (ChannelAttribution's
//! `var_value`, computed exactly) beside the conversion-share revenue split,
//! and `w_shaped` reading the journey up to the opportunity. Known answers
//! computed by hand, to 1e-9.

use closedloop::attribute::{self, Attributor, Journeys, Markov, WShaped};
use closedloop::base::credit::Credit;
use closedloop::spec::{AttributorSpec, MarkovRevenue};

#[allow(dead_code)] // the binary-driving helpers are not used here
mod common;

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

fn labels(channels: &[&str]) -> Journeys {
    let mut all: Vec<String> = channels.iter().map(|s| s.to_string()).collect();
    all.extend(["direct", "unassigned", "unknown"].map(String::from));
    Journeys::new(all, channels.len())
}

fn id(js: &Journeys, label: &str) -> u16 {
    js.labels.iter().position(|l| l == label).unwrap() as u16
}

/// Journeys from `(path, conversions, revenue, nulls)`, one journey each.
fn paths(channels: &[&str], rows: &[(&str, f64, f64, f64)]) -> Journeys {
    let mut js = labels(channels);
    for &(path, conversions, revenue, nulls) in rows {
        let touches: Vec<(i64, u16)> = path
            .split('>')
            .filter(|s| !s.is_empty())
            .enumerate()
            .map(|(i, l)| (i as i64 * 1000, id(&js, l)))
            .collect();
        let lead = (conversions > 0.0).then_some(touches.len() as i64 * 1000);
        js.push_journey(&touches, lead, None, conversions, nulls, revenue);
    }
    js
}

fn markov(order: u8, revenue: MarkovRevenue) -> Markov {
    Markov {
        order,
        lookback_days: 90.0,
        revenue,
    }
}

/// `a` → conv worth 30; `b` → conv worth 10; `b` → null; `a>b` → conv
/// worth 20.
///
/// Order-1 chain: start → a 1/2, start → b 1/2; a → b 1/2, a → conv 1/2;
/// b → conv 2/3, b → null 1/3. P(conv | b) = 2/3, P(conv | a) = 1/2 + 1/2 ·
/// 2/3 = 5/6, P = 1/2 · 5/6 + 1/2 · 2/3 = 3/4. Without a: 1/3, RE 5/9;
/// without b: 1/4, RE 2/3. Conversion shares 5/11, 6/11.
///
/// Value: a conversion's value is drawn from the conversions that left
/// the chain from the same state: mean 30 from a, (10 + 20) / 2 = 15 from
/// b. Expected value from b: 2/3 · 15 = 10; from a: 1/2 · 30 + 1/2 · 10 =
/// 20; from start W = 15. Without a: 1/2 · 10 = 5, value RE 2/3; without b:
/// 1/2 · 15 = 7.5, value RE 1/2. Value shares 4/7, 3/7.
fn value_example(value_of: impl Fn(f64) -> f64) -> Journeys {
    paths(
        &["a", "b"],
        &[
            ("a", 1.0, value_of(30.0), 0.0),
            ("b", 1.0, value_of(10.0), 0.0),
            ("b", 0.0, 0.0, 1.0),
            ("a>b", 1.0, value_of(20.0), 0.0),
        ],
    )
}

#[test]
fn markov_value_removal_effects_split_revenue_unlike_the_conversion_shares() {
    let js = value_example(|v| v);
    let fit = markov(1, MarkovRevenue::Value).fit(&js);
    assert!(close(fit.p_conversion, 0.75));
    assert!(close(fit.removal_effects["a"], 5.0 / 9.0));
    assert!(close(fit.removal_effects["b"], 2.0 / 3.0));
    let by_value = fit.value_removal_effects.expect("value mode");
    assert!(close(by_value["a"], 2.0 / 3.0), "{by_value:?}");
    assert!(close(by_value["b"], 0.5), "{by_value:?}");
    assert!(
        markov(1, MarkovRevenue::Share)
            .fit(&js)
            .value_removal_effects
            .is_none()
    );

    let share = markov(1, MarkovRevenue::Share).attribute(&js);
    let value = markov(1, MarkovRevenue::Value).attribute(&js);
    for cr in [&share, &value] {
        // Conversions are split by the conversion removal effects either way.
        assert!(close(cr.conversions["a"], 15.0 / 11.0));
        assert!(close(cr.conversions["b"], 18.0 / 11.0));
        assert!(close(cr.total_revenue(), 60.0));
    }
    assert!(close(share.revenue["a"], 300.0 / 11.0));
    assert!(close(share.revenue["b"], 360.0 / 11.0));
    assert!(
        close(value.revenue["a"], 240.0 / 7.0),
        "{:?}",
        value.revenue
    );
    assert!(
        close(value.revenue["b"], 180.0 / 7.0),
        "{:?}",
        value.revenue
    );
}

#[test]
fn markov_revenue_splits_agree_when_every_conversion_has_the_same_value() {
    // The hand-made example with 10 per conversion.
    let js = value_example(|_| 10.0);
    let fit = markov(1, MarkovRevenue::Value).fit(&js);
    let by_value = fit.value_removal_effects.unwrap();
    for l in ["a", "b"] {
        assert!(close(by_value[l], fit.removal_effects[l]), "{l}");
    }
    assert_same_credit(
        &markov(1, MarkovRevenue::Share).attribute(&js),
        &markov(1, MarkovRevenue::Value).attribute(&js),
    );
    // Many random journeys at orders 1 and 2, every conversion worth 7.
    let mut js = labels(&["c0", "c1", "c2", "c3", "c4"]);
    let mut x = 0x2545_f491_4f6c_dd1du64;
    let mut next = |m: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % m
    };
    let n_labels = js.labels.len() as u64;
    for _ in 0..5_000 {
        let len = 1 + next(6) as usize;
        let touches: Vec<(i64, u16)> = (0..len)
            .map(|i| (i as i64 * 1000, next(n_labels - 1) as u16))
            .collect();
        let converts = next(3) == 0;
        let lead = converts.then_some(len as i64 * 1000);
        let c = converts as u8 as f64;
        js.push_journey(&touches, lead, None, c, 1.0 - c, 7.0 * c);
    }
    for order in [1, 2] {
        let share = markov(order, MarkovRevenue::Share).attribute(&js);
        let value = markov(order, MarkovRevenue::Value).attribute(&js);
        assert_same_credit(&share, &value);
        // And the revenue does differ once values do: a check that the
        // value split is not the share split under another name.
        let mut uneven = js.clone();
        for (i, j) in uneven.journeys.iter_mut().enumerate() {
            j.revenue *= 1.0 + (i % 5) as f64;
        }
        let share = markov(order, MarkovRevenue::Share).attribute(&uneven);
        let value = markov(order, MarkovRevenue::Value).attribute(&uneven);
        assert!(close(value.total_revenue(), uneven_total(&uneven)));
        assert!(
            share
                .revenue
                .iter()
                .any(|(l, r)| (r - value.revenue[l]).abs() > 1e-3),
            "order {order}"
        );
    }
}

fn uneven_total(js: &Journeys) -> f64 {
    js.journeys.iter().map(|j| j.revenue).sum()
}

fn assert_same_credit(a: &Credit, b: &Credit) {
    for (l, x) in &a.conversions {
        assert!(close(*x, b.conversions[l]), "conversions {l}");
    }
    for (l, x) in &a.revenue {
        let y = b.revenue[l];
        assert!(
            (x - y).abs() <= 1e-9 * x.abs().max(1.0),
            "revenue {l}: {x} vs {y}"
        );
    }
}

#[test]
fn markov_value_ids_and_defaults() {
    let spec = AttributorSpec::parse("markov:2:value").unwrap();
    assert_eq!(spec.id(), "markov_2_value");
    assert_eq!(attribute::build(&spec).name(), "markov_2_value");
    // The default split keeps the historical ids.
    let default = AttributorSpec::parse("markov").unwrap();
    assert_eq!(default.id(), "markov_1");
    assert!(matches!(
        default,
        AttributorSpec::Markov(Markov {
            revenue: MarkovRevenue::Share,
            ..
        })
    ));
}

fn w_shaped() -> WShaped {
    WShaped {
        lookback_days: 90.0,
    }
}

/// Labels a..f and the journey `pre | post`: touches before the lead (the
/// last is the lead-creating touch), then touches after the lead up to the
/// opportunity. Lead 500 ms after the last pre-lead touch; the opportunity
/// 500 ms after the last touch (when `opportunity`).
fn w_journey(pre: &str, post: &str, opportunity: bool, revenue: f64) -> Journeys {
    let mut js = labels(&["a", "b", "c", "d", "e", "f"]);
    let mut t = 0i64;
    let mut steps = |s: &str, js: &Journeys| -> Vec<(i64, u16)> {
        s.split('>')
            .filter(|x| !x.is_empty())
            .map(|l| {
                t += 1000;
                (t, id(js, l))
            })
            .collect()
    };
    let before = steps(pre, &js);
    let lead = before.last().map_or(500, |x| x.0 + 500);
    let after = steps(post, &js);
    let opp = opportunity.then_some(after.last().map_or(lead, |x| x.0) + 500);
    js.push_with_post_lead(&before, &after, Some(lead), opp, 1.0, 0.0, revenue);
    js
}

fn assert_credit(cr: &Credit, want: &[(&str, f64)], revenue: f64) {
    for &(l, share) in want {
        assert!(
            close(cr.conversions[l], share),
            "{l}: {}",
            cr.conversions[l]
        );
        assert!(close(cr.revenue[l], revenue * share), "{l} revenue");
    }
    let total: f64 = want.iter().map(|w| w.1).sum();
    assert!(close(total, 1.0) && close(cr.total_conversions(), 1.0));
}

#[test]
fn w_shaped_gives_30_30_30_and_10_over_the_rest() {
    // a first, d creates the lead, f (after the lead) the opportunity; b, c
    // (before the lead) and e (between lead and opportunity) share 10 %.
    let js = w_journey("a>b>c>d", "e>f", true, 1000.0);
    let cr = w_shaped().attribute(&js);
    let rest = 0.1 / 3.0;
    assert_credit(
        &cr,
        &[
            ("a", 0.3),
            ("b", rest),
            ("c", rest),
            ("d", 0.3),
            ("e", rest),
            ("f", 0.3),
        ],
        1000.0,
    );
    // Every other model ends the journey at the lead.
    let linear = attribute::build(&AttributorSpec::parse("linear").unwrap()).attribute(&js);
    assert_credit(
        &linear,
        &[("a", 0.25), ("b", 0.25), ("c", 0.25), ("d", 0.25)],
        1000.0,
    );
    for spec in AttributorSpec::all() {
        if matches!(spec, AttributorSpec::WShaped { .. }) {
            continue;
        }
        let cr = attribute::build(&spec).attribute(&js);
        for l in ["e", "f"] {
            assert_eq!(cr.conversions[l], 0.0, "{}: {l}", spec.id());
        }
    }
}

#[test]
fn w_shaped_edge_cases() {
    // No touch between lead and opportunity: the lead touch also creates
    // the opportunity (60 %).
    let cr = w_shaped().attribute(&w_journey("a>b>c>d", "", true, 10.0));
    assert_credit(
        &cr,
        &[("a", 0.3), ("b", 0.05), ("c", 0.05), ("d", 0.6)],
        10.0,
    );
    // No opportunity: U-shaped 40 / 40, 20 over the rest.
    let cr = w_shaped().attribute(&w_journey("a>b>c>d", "", false, 10.0));
    assert_credit(&cr, &[("a", 0.4), ("b", 0.1), ("c", 0.1), ("d", 0.4)], 10.0);
    // First touch = lead touch: 60 %, the opportunity touch 30 %, e 10 %.
    let cr = w_shaped().attribute(&w_journey("a", "e>f", true, 10.0));
    assert_credit(&cr, &[("a", 0.6), ("e", 0.1), ("f", 0.3)], 10.0);
    // Three touches, one role each (nothing left for the 10 %): a third each.
    let cr = w_shaped().attribute(&w_journey("a>d", "f", true, 10.0));
    assert_credit(
        &cr,
        &[("a", 1.0 / 3.0), ("d", 1.0 / 3.0), ("f", 1.0 / 3.0)],
        10.0,
    );
    // Two touches, first = lead, plus the opportunity touch: ⅔ and ⅓.
    let cr = w_shaped().attribute(&w_journey("a", "f", true, 10.0));
    assert_credit(&cr, &[("a", 2.0 / 3.0), ("f", 1.0 / 3.0)], 10.0);
    // One touch: everything.
    let cr = w_shaped().attribute(&w_journey("c", "", true, 10.0));
    assert_credit(&cr, &[("c", 1.0)], 10.0);
    // No touch before the lead: unknown, whatever came after it.
    let cr = w_shaped().attribute(&w_journey("", "e>f", true, 10.0));
    assert_credit(&cr, &[("unknown", 1.0)], 10.0);
}

#[test]
fn a_journey_copied_out_keeps_its_post_lead_touches() {
    // `explain` credits a journey as credit(all) − credit(all but it): the
    // copies must keep every journey's opportunity touches.
    let mut js = w_journey("a>b>c>d", "e>f", true, 10.0);
    js.push_with_post_lead(
        &[(0, 1)],
        &[(9_000, 2)],
        Some(1),
        Some(9_500),
        1.0,
        0.0,
        5.0,
    );
    js.push_journey(&[(0, 3), (1, 4)], Some(2), Some(3), 1.0, 0.0, 0.0);
    let model = w_shaped();
    let all = model.attribute(&js);
    for j in 0..js.journeys.len() {
        let without = model.attribute(&closedloop::explain::without_journey(&js, j));
        let only = model.attribute(&closedloop::explain::only_journey(&js, j));
        for (l, x) in &all.conversions {
            assert!(
                close(*x, without.conversions[l] + only.conversions[l]),
                "journey {j}, {l}"
            );
        }
    }
    // c: 1/30 in the first journey, ⅓ as the second's opportunity touch.
    assert!(close(all.conversions["c"], 0.1 / 3.0 + 1.0 / 3.0));
}

#[test]
fn journeys_from_a_log_keep_the_touches_between_lead_and_opportunity() {
    let sc = common::quickstart(3_000);
    let (_, obs, _) = closedloop::experiment::simulate(&sc, 0);
    let log = &obs.log;
    let ids = closedloop::stitch::build(&closedloop::spec::StitcherSpec::Deterministic).stitch(log);
    let js = Journeys::build(log, &ids);
    // Expected: per cluster with a lead and an opportunity, its visits in
    // (earliest lead, earliest opportunity].
    let mut lead = std::collections::BTreeMap::new();
    for (l, &c) in log.crm_leads.iter().zip(&ids.crm_lead) {
        let e = lead.entry(c).or_insert(l.time_ms);
        *e = (*e).min(l.time_ms);
    }
    let mut opp = std::collections::BTreeMap::new();
    for (o, &c) in log.opportunities.iter().zip(&ids.opportunity) {
        let e = opp.entry(c).or_insert(o.time_ms);
        *e = (*e).min(o.time_ms);
    }
    let mut want: Vec<(i64, u16)> = log
        .visits
        .iter()
        .zip(&ids.visit)
        .filter(|(v, c)| match (lead.get(c), opp.get(c)) {
            (Some(&l), Some(&o)) => v.time_ms > l && v.time_ms <= o,
            _ => false,
        })
        .map(|(v, _)| (v.time_ms, v.channel))
        .collect();
    let mut got = Vec::new();
    for (i, j) in js.journeys.iter().enumerate() {
        let post = js.post_lead_of(i);
        if let (Some(l), Some(o)) = (j.lead_ms, j.opp_ms) {
            assert!(post.iter().all(|t| t.time_ms > l && t.time_ms <= o));
            assert!(post.windows(2).all(|w| w[0].time_ms <= w[1].time_ms));
        } else {
            assert!(post.is_empty());
        }
        got.extend(post.iter().map(|t| (t.time_ms, t.label)));
    }
    want.sort_unstable();
    got.sort_unstable();
    assert!(
        !want.is_empty(),
        "the quickstart has touches between lead and opportunity"
    );
    assert_eq!(got, want);
}
