//! Default values of scenario keys, for serde's `default = "…"`.

use super::*;

pub(super) fn d_name() -> String {
    "scenario".into()
}
pub(super) fn d_seed() -> u64 {
    42
}
pub(super) fn d_one() -> u32 {
    1
}
pub(super) fn d_one_f() -> f64 {
    1.0
}
pub(super) fn d_persons() -> u32 {
    10_000
}
pub(super) fn d_horizon() -> f64 {
    90.0
}
pub(super) fn d_warmup() -> f64 {
    60.0
}
pub(super) fn d_tail() -> f64 {
    120.0
}
pub(super) fn d_start() -> String {
    "2026-01-01".into()
}
pub(super) fn d_margin() -> f64 {
    0.7
}
pub(super) fn d_qualify() -> f64 {
    0.5
}
pub(super) fn d_qualify_delay() -> GammaDays {
    GammaDays {
        shape: 2.0,
        scale_days: 3.0,
    }
}
pub(super) fn d_close() -> f64 {
    0.3
}
pub(super) fn d_cycle() -> GammaDays {
    GammaDays {
        shape: 2.0,
        scale_days: 10.0,
    }
}
pub(super) fn d_deal() -> DealSize {
    DealSize {
        median: 1000.0,
        sigma: 0.5,
    }
}
pub(super) fn d_segments() -> Vec<Segment> {
    vec![Segment {
        id: "all".into(),
        share: 1.0,
        qualify_rate: d_qualify(),
        qualify_delay: d_qualify_delay(),
        close_rate: d_close(),
        sales_cycle: d_cycle(),
        deal_size: d_deal(),
    }]
}
pub(super) fn d_click() -> TouchKind {
    TouchKind::Click
}
pub(super) fn d_all() -> Audience {
    Audience::All
}
pub(super) fn d_trigger() -> Trigger {
    Trigger::None
}
pub(super) fn d_trigger_window() -> f64 {
    14.0
}
pub(super) fn d_delay() -> GammaDays {
    GammaDays {
        shape: 1.5,
        scale_days: 4.0,
    }
}
pub(super) fn d_device_mix() -> DeviceMix {
    DeviceMix {
        desktop: 0.5,
        mobile: 0.4,
        tablet: 0.1,
    }
}
pub(super) fn d_claim_click() -> f64 {
    30.0
}

pub(super) fn d_click_window() -> f64 {
    90.0
}

pub(super) fn d_landing() -> String {
    "/".into()
}
