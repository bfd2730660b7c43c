//! Value stability: a tiny scenario's key numbers, pinned. A change to the
//! model, the random streams or the observation layer shows up here as a
//! visible diff; update the constants only for an intended change, and say
//! why in the commit.

use closedloop::experiment;
use closedloop::scenario::Scenario;

const TINY: &str = r#"
name = "golden"
seed = 2026
persons = 400
warmup_days = 30
horizon_days = 60
[population]
baseline_rate = 0.03
[[channels]]
id = "search"
spend = 100
max_rate = 0.06
half_saturation = 100
conversion_rate = 0.05
[[channels]]
id = "brand_search"
spend = 50
max_rate = 0.03
half_saturation = 50
conversion_rate = 0.01
intent_exponent = 2.0
[[channels]]
id = "display"
kind = "impression"
rate = 0.05
conversion_rate = 0.01
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
[form_fill]
path = { direct = 0.5, brand_search = 0.3, cause = 0.2 }
"#;

/// The numbers that matter, as one string (floats to 9 significant digits).
fn digest() -> String {
    let sc = Scenario::from_toml_str("golden.toml", TINY).unwrap();
    let (w, obs, truth) = experiment::simulate(&sc, 0);
    let mut out = format!(
        "touches={} leads={} visits={} form_fills={} crm_leads={} opportunities={} deals={}\n",
        w.touches.len(),
        truth.leads.len(),
        obs.log.visits.len(),
        obs.log.form_fills.len(),
        obs.log.crm_leads.len(),
        obs.log.opportunities.len(),
        obs.log.deals.len()
    );
    for (name, c) in closedloop::truth::TRUTHS.iter().zip(truth.in_order()) {
        for (label, v) in &c.conversions {
            out.push_str(&format!(
                "{name}.{label} = {:.9e} / {:.9e}\n",
                v, c.revenue[label]
            ));
        }
    }
    out
}

#[test]
fn tiny_scenario_numbers_are_pinned() {
    let got = digest();
    let expected = include_str!("golden/tiny.txt");
    assert_eq!(
        got, expected,
        "golden numbers changed; if intended, update tests/golden/tiny.txt:\n{got}"
    );
}
