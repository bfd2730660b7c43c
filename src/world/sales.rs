//! A lead's sales: contact, qualification, the opportunity, the close and
//! the deal value, from draws common to every counterfactual cause.

use super::*;

/// The person's sales draws: common to every counterfactual cause.
#[derive(Clone, Copy, Debug)]
pub(super) struct SalesDraws {
    pub(super) handoff_u: f64,
    pub(super) qualify_u: f64,
    pub(super) qualify_delay: f64,
    pub(super) close_u: f64,
    pub(super) cycle: f64,
    pub(super) deal_size: f64,
}

pub(super) struct SalesOutcome {
    pub(super) contacted: bool,
    pub(super) opportunity: Option<f64>,
    pub(super) deal: Option<(f64, f64)>,
}

pub(super) fn sales(
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

pub(super) fn quality_of(sc: &Scenario, cause: Option<u16>) -> f64 {
    match cause {
        Some(c) => sc.channels[c as usize].quality,
        None => sc.population.baseline_quality,
    }
}
