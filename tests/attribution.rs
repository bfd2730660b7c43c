//! Attribution models on known answers (docs/model.md §4.6 (a), (b), (d)) and on the
//! properties every model must keep: conservation, symmetry under renaming,
//! one channel ⇒ 100 %, no conversions ⇒ nothing, never NaN or negative.
//! Journeys come from path rows (`Journeys::from_paths`), as a path file's do.
//! Last, `additive_hazard` against `last_touch` on a lossless simulated world.

use closedloop::attribute::{self, Attributor, Journeys, Markov, PathRow};
use closedloop::base::credit::Credit;
use closedloop::scenario::Scenario;
use closedloop::spec::AttributorSpec;
use proptest::prelude::*;

#[allow(dead_code)] // the binary-driving helpers are not used here
mod common;

/// Journeys from `(path, conversions, revenue, nulls)`; paths as `A>B`.
fn journeys(rows: &[(&str, f64, f64, f64)]) -> Journeys {
    let rows: Vec<PathRow> = rows
        .iter()
        .map(|&(path, conversions, revenue, nulls)| PathRow {
            steps: path
                .split('>')
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect(),
            conversions,
            revenue,
            nulls,
        })
        .collect();
    Journeys::from_paths(&rows)
}

fn model(id: &str) -> Box<dyn Attributor> {
    attribute::build(&AttributorSpec::parse(id).unwrap())
}

/// Every model, with the parameterised ones at several settings.
fn every_model() -> Vec<AttributorSpec> {
    let mut specs = AttributorSpec::all();
    for id in [
        "markov:2",
        "markov:3",
        "markov:4",
        "time_decay:0.5",
        "position_based:0.2:0.5",
        "position_based:0:0",
        "logistic:3:1",
        "logistic:7:0.1",
    ] {
        specs.push(AttributorSpec::parse(id).unwrap());
    }
    specs
}

fn assert_close(credit: &Credit, label: &str, conversions: f64, what: &str) {
    let got = credit.conversions[label];
    assert!(
        (got - conversions).abs() < 1e-9,
        "{what}: {label} = {got}, expected {conversions}"
    );
}

#[test]
fn design_example_a() {
    // C1>C2>C3 → conv, C1 → null, C2>C3 → null.
    let js = journeys(&[
        ("c1>c2>c3", 1.0, 0.0, 0.0),
        ("c1", 0.0, 0.0, 1.0),
        ("c2>c3", 0.0, 0.0, 1.0),
    ]);
    let fit = Markov {
        order: 1,
        lookback_days: 90.0,
        revenue: closedloop::spec::MarkovRevenue::Share,
    }
    .fit(&js);
    assert!((fit.p_conversion - 1.0 / 3.0).abs() < 1e-9);
    for (l, re) in [("c1", 0.5), ("c2", 1.0), ("c3", 1.0)] {
        assert!((fit.removal_effects[l] - re).abs() < 1e-9, "{l}");
    }
    let m = model("markov:1").attribute(&js);
    for (l, c) in [("c1", 0.2), ("c2", 0.4), ("c3", 0.4)] {
        assert_close(&m, l, c, "markov_1");
    }
    for id in ["shapley_count", "shapley_rate", "linear"] {
        let cr = model(id).attribute(&js);
        for l in ["c1", "c2", "c3"] {
            assert_close(&cr, l, 1.0 / 3.0, id);
        }
    }
    let ft = model("first_touch").attribute(&js);
    assert_close(&ft, "c1", 1.0, "first_touch");
    let lt = model("last_touch").attribute(&js);
    assert_close(&lt, "c3", 1.0, "last_touch");
}

#[test]
fn design_example_b() {
    // A → conv twice, A → null, B → conv, A>B → conv; revenue 10 per conversion.
    let js = journeys(&[
        ("a", 1.0, 10.0, 0.0),
        ("a", 1.0, 10.0, 0.0),
        ("a", 0.0, 0.0, 1.0),
        ("b", 1.0, 10.0, 0.0),
        ("a>b", 1.0, 10.0, 0.0),
    ]);
    let fit = Markov {
        order: 1,
        lookback_days: 90.0,
        revenue: closedloop::spec::MarkovRevenue::Share,
    }
    .fit(&js);
    assert!((fit.removal_effects["a"] - 0.75).abs() < 1e-9);
    assert!((fit.removal_effects["b"] - 0.5).abs() < 1e-9);
    let expected: [(&str, f64, f64); 6] = [
        ("markov:1", 2.4, 1.6),
        ("shapley_count", 2.5, 1.5),
        ("shapley_rate", 7.0 / 3.0, 5.0 / 3.0),
        ("first_touch", 3.0, 1.0),
        ("last_touch", 2.0, 2.0),
        ("linear", 2.5, 1.5),
    ];
    for (id, a, b) in expected {
        let cr = model(id).attribute(&js);
        assert_close(&cr, "a", a, id);
        assert_close(&cr, "b", b, id);
        // Revenue follows the same shares here (10 per conversion).
        assert!((cr.revenue["a"] - 10.0 * a).abs() < 1e-9, "{id} revenue");
    }
    // The same data as aggregated rows gives the same answers.
    let agg = journeys(&[
        ("a", 2.0, 20.0, 1.0),
        ("b", 1.0, 10.0, 0.0),
        ("a>b", 1.0, 10.0, 0.0),
    ]);
    for (id, a, b) in expected {
        let cr = model(id).attribute(&agg);
        assert_close(&cr, "a", a, id);
        assert_close(&cr, "b", b, id);
    }
}

#[test]
fn design_example_d_a_channel_only_on_null_paths() {
    // B>A → null, A → conv.
    let js = journeys(&[("b>a", 0.0, 0.0, 1.0), ("a", 1.0, 5.0, 0.0)]);
    let m = model("markov:1").attribute(&js);
    assert_close(&m, "a", 2.0 / 3.0, "markov_1");
    assert_close(&m, "b", 1.0 / 3.0, "markov_1");
    assert!((m.revenue["b"] - 5.0 / 3.0).abs() < 1e-9);
    for spec in every_model() {
        if matches!(spec, AttributorSpec::Markov { .. }) {
            continue;
        }
        let cr = attribute::build(&spec).attribute(&js);
        assert_eq!(cr.conversions["b"], 0.0, "{}", spec.id());
        assert_eq!(cr.revenue["b"], 0.0, "{}", spec.id());
    }
}

#[test]
fn one_channel_gets_everything() {
    let js = journeys(&[
        ("x", 2.0, 30.0, 3.0),
        ("x>x>x", 1.0, 5.0, 0.0),
        ("x>x", 0.0, 0.0, 4.0),
    ]);
    for spec in every_model() {
        let cr = attribute::build(&spec).attribute(&js);
        assert_close(&cr, "x", 3.0, &spec.id());
        assert!((cr.revenue["x"] - 35.0).abs() < 1e-9, "{}", spec.id());
    }
}

#[test]
fn markov_of_any_order_on_one_step_paths_is_order_one() {
    let js = journeys(&[
        ("a", 3.0, 30.0, 2.0),
        ("b", 1.0, 7.0, 5.0),
        ("c", 0.0, 0.0, 4.0),
        ("direct", 2.0, 1.0, 1.0),
    ]);
    let one = model("markov:1").attribute(&js);
    for k in 2..=4 {
        let cr = model(&format!("markov:{k}")).attribute(&js);
        for (l, v) in &one.conversions {
            assert!((cr.conversions[l] - v).abs() < 1e-12, "order {k}: {l}");
            assert!(
                (cr.revenue[l] - one.revenue[l]).abs() < 1e-12,
                "order {k}: {l}"
            );
        }
    }
}

#[test]
fn no_conversions_no_credit() {
    let js = journeys(&[("a>b", 0.0, 0.0, 3.0), ("b>c>a", 0.0, 0.0, 1.0)]);
    for spec in every_model() {
        let cr = attribute::build(&spec).attribute(&js);
        assert!(cr.conversions.values().all(|&v| v == 0.0), "{}", spec.id());
        assert!(cr.revenue.values().all(|&v| v == 0.0), "{}", spec.id());
    }
}

#[test]
fn scenario_rejects_bad_model_parameters_with_their_path() {
    let text = r#"
name = "t"
[[channels]]
id = "display"
spend = 100
max_rate = 0.05
half_saturation = 100
conversion_rate = 0.01
[[attributors]]
kind = "markov"
order = 7
[[attributors]]
kind = "time_decay"
half_life_days = 0
[[attributors]]
kind = "position_based"
first = 0.8
last = 0.5
[[attributors]]
kind = "logistic"
bags = 0
sample_fraction = 1.5
"#;
    let err = Scenario::from_toml_str("t.toml", text)
        .unwrap_err()
        .to_string();
    for key in [
        "attributors.markov_7.order",
        "attributors.time_decay_0.half_life_days",
        "attributors.position_based_0.8_0.5.last",
        "attributors.logistic_0_1.5.bags",
        "attributors.logistic_0_1.5.sample_fraction",
    ] {
        assert!(err.contains(key), "{key} missing from: {err}");
    }
}

/// Random path rows over `n` channels (names chosen so that sorting them
/// scrambles their order), some with no conversion, some with `direct`.
/// A random row: step indices (`n` = `direct`), conversions, nulls, revenue.
type RawRow = (Vec<usize>, u8, u8, u8);

fn rows_strategy() -> impl Strategy<Value = (usize, Vec<RawRow>)> {
    (1usize..=15).prop_flat_map(|n| {
        (
            Just(n),
            prop::collection::vec(
                (
                    prop::collection::vec(0..n + 1, 1..8),
                    0u8..4,
                    0u8..4,
                    0u8..60,
                ),
                1..30,
            ),
        )
    })
}

fn rows_to_journeys(n: usize, raw: &[RawRow], names: &[String]) -> Journeys {
    let rows: Vec<PathRow> = raw
        .iter()
        .map(|(p, c, nulls, rev)| PathRow {
            steps: p
                .iter()
                .map(|&i| {
                    if i == n {
                        "direct".to_string()
                    } else {
                        names[i].clone()
                    }
                })
                .collect(),
            conversions: *c as f64,
            revenue: *rev as f64,
            nulls: *nulls as f64,
        })
        .collect();
    Journeys::from_paths(&rows)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn every_model_conserves_and_never_goes_negative((n, raw) in rows_strategy()) {
        let names: Vec<String> = (0..n).map(|i| format!("ch{i}")).collect();
        let js = rows_to_journeys(n, &raw, &names);
        let conversions: f64 = raw.iter().map(|r| r.1 as f64).sum();
        let revenue: f64 = raw.iter().map(|r| r.3 as f64).sum();
        for spec in every_model() {
            let cr = attribute::build(&spec).attribute(&js);
            for (l, v) in cr.conversions.iter().chain(&cr.revenue) {
                prop_assert!(v.is_finite() && *v >= 0.0, "{}: {l} = {v}", spec.id());
            }
            prop_assert!(
                (cr.total_conversions() - conversions).abs() < 1e-9 * conversions.max(1.0),
                "{}: {} vs {conversions}", spec.id(), cr.total_conversions()
            );
            prop_assert!(
                (cr.total_revenue() - revenue).abs() < 1e-9 * revenue.max(1.0),
                "{}: {} vs {revenue}", spec.id(), cr.total_revenue()
            );
        }
    }

    #[test]
    fn renaming_channels_permutes_the_credit(
        (n, raw) in rows_strategy(),
        seed in any::<u64>(),
    ) {
        let names: Vec<String> = (0..n).map(|i| format!("ch{i:02}")).collect();
        // A permutation of the names: the label ids of the renamed journeys
        // come in another order (labels are sorted by name).
        let mut perm: Vec<usize> = (0..n).collect();
        let mut x = seed | 1;
        for i in (1..n).rev() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            perm.swap(i, (x % (i as u64 + 1)) as usize);
        }
        let renamed: Vec<String> = (0..n).map(|i| format!("zz{:02}", perm[i])).collect();
        let a = rows_to_journeys(n, &raw, &names);
        let b = rows_to_journeys(n, &raw, &renamed);
        let total: f64 = raw.iter().map(|r| r.1 as f64 + r.3 as f64).sum();
        for spec in every_model() {
            // `logistic` orders its features by label id (docs/model.md §4.4), so a
            // renaming reorders the Newton solve's sums: equal up to rounding,
            // 1e-12 of the total (1,500 cases passed at 1e-13). Every other
            // model (additive_hazard included: its parameters follow first
            // appearance) within 1e-12 absolute.
            let tol = match spec {
                AttributorSpec::Logistic { .. } => 1e-12 * total.max(1.0),
                _ => 1e-12,
            };
            let model = attribute::build(&spec);
            let (ca, cb) = (model.attribute(&a), model.attribute(&b));
            for i in 0..n {
                for (ma, mb) in [(&ca.conversions, &cb.conversions), (&ca.revenue, &cb.revenue)] {
                    let va = ma.get(&names[i]).copied().unwrap_or(0.0);
                    let vb = mb.get(&renamed[i]).copied().unwrap_or(0.0);
                    prop_assert!((va - vb).abs() < tol, "{}: {} {va} vs {vb}", spec.id(), names[i]);
                }
            }
            for l in ["direct", "unknown"] {
                prop_assert!((ca.conversions[l] - cb.conversions[l]).abs() < tol, "{}", spec.id());
            }
        }
    }
}

#[test]
fn logistic_and_additive_hazard_on_the_design_examples() {
    // (d) B>A → null, A → conv: B is on no converting path and gets 0 from
    // both (tested for every model above); A gets everything.
    let js = journeys(&[("b>a", 0.0, 0.0, 1.0), ("a", 1.0, 5.0, 0.0)]);
    for id in ["logistic", "additive_hazard"] {
        let cr = model(id).attribute(&js);
        assert_close(&cr, "a", 1.0, id);
        assert!((cr.revenue["a"] - 5.0).abs() < 1e-9, "{id}");
    }
    // (b) as single journeys and as aggregated rows: the same credit (a
    // row's counts are weights; logistic without subsampling, f = 1, so
    // the draws cannot differ), summing to the 4 conversions.
    let single = journeys(&[
        ("a", 1.0, 10.0, 0.0),
        ("a", 1.0, 10.0, 0.0),
        ("a", 0.0, 0.0, 1.0),
        ("b", 1.0, 10.0, 0.0),
        ("a>b", 1.0, 10.0, 0.0),
    ]);
    let agg = journeys(&[
        ("a", 2.0, 20.0, 1.0),
        ("b", 1.0, 10.0, 0.0),
        ("a>b", 1.0, 10.0, 0.0),
    ]);
    for id in ["logistic:40:1", "additive_hazard"] {
        let (x, y) = (model(id).attribute(&single), model(id).attribute(&agg));
        for l in ["a", "b"] {
            assert!(
                (x.conversions[l] - y.conversions[l]).abs() < 1e-6,
                "{id} {l}: {} vs {}",
                x.conversions[l],
                y.conversions[l]
            );
        }
        assert!((x.total_conversions() - 4.0).abs() < 1e-9, "{id}");
        // A always gets its two single-channel conversions.
        assert!(x.conversions["a"] >= 2.0 - 1e-9, "{id}");
    }
}

#[test]
fn journeys_from_a_log_carry_the_earliest_opportunity() {
    let sc = common::quickstart(3_000);
    let (_, obs, _) = closedloop::experiment::simulate(&sc, 0);
    let log = &obs.log;
    let ids = closedloop::stitch::build(&closedloop::spec::StitcherSpec::Deterministic).stitch(log);
    let js = Journeys::build(log, &ids);
    // Earliest opportunity per cluster, from the log.
    let mut earliest = std::collections::BTreeMap::new();
    for (o, &c) in log.opportunities.iter().zip(&ids.opportunity) {
        let e = earliest.entry(c).or_insert(o.time_ms);
        *e = (*e).min(o.time_ms);
    }
    let mut seen: Vec<i64> = js.journeys.iter().filter_map(|j| j.opp_ms).collect();
    let mut want: Vec<i64> = earliest.values().copied().collect();
    seen.sort_unstable();
    want.sort_unstable();
    assert!(!want.is_empty());
    assert_eq!(
        seen, want,
        "one journey per cluster with an opportunity, at its earliest"
    );
    for j in &js.journeys {
        if let (Some(lead), Some(opp)) = (j.lead_ms, j.opp_ms) {
            assert!(opp >= lead);
        }
        assert_eq!(j.conversions + j.nulls, 1.0);
    }
}
