//! One parser per event-log table: a record's typed fields checked, then
//! pushed to its table (interned labels, pages, user agents). Problems are
//! recorded on the row; nothing here panics on input.

use super::read::Tables;
use super::row::{Interner, Row};
use crate::log::{
    ConversionImport, CrmLead, Deal, FormFill, Opportunity, PixelConversion, PlatformTouch, Visit,
};
use std::io::BufRead;

/// Parse one record of table `k` (its index in [`TABLES`]) and push it;
/// false (problems recorded) when it was not accepted.
pub(super) fn read_row<R: BufRead>(k: usize, r: &mut Row<'_, R>, t: &mut Tables) -> bool {
    match k {
        0 => read_visit(r, t),
        1 => read_form_fill(r, t),
        2 => read_crm_lead(r, t),
        3 => read_opportunity(r, t),
        4 => read_deal(r, t),
        5 => read_conversion_import(r, t),
        6 => read_platform(r, t),
        7 => read_platform_touch(r, t),
        _ => read_platform_conversion(r, t),
    }
}

/// Intern `text` of column `c` in `table`; a problem when the column has
/// more distinct values than a `u16` id can number.
fn intern<R: BufRead>(
    r: &mut Row<'_, R>,
    c: usize,
    table: &mut Interner,
    text: &str,
) -> Option<u16> {
    let id = table.id(text);
    if id.is_none() {
        r.bad(c, "more than 65,536 distinct values in this column".into());
    }
    id
}

/// Parse a `visits.csv` record.
fn read_visit<R: BufRead>(r: &mut Row<'_, R>, t: &mut Tables) -> bool {
    let event_id = r.id(0);
    let time_ms = r.time(1);
    let cookie_id = r.need::<u64>(2, "an unsigned integer cookie id");
    let channel = r.need_text(3).and_then(|s| intern(r, 3, &mut t.labels, s));
    let campaign = match r.text(4) {
        Some(s) => intern(r, 4, &mut t.campaigns, s).map(Some),
        None => Some(None),
    };
    let click_id = r.nonzero(5);
    let page = r.text(6).unwrap_or("/");
    let landing_page = intern(r, 6, &mut t.pages, page);
    let pages_viewed = r.parse::<u16>(7, "a page count (0–65535)").unwrap_or(1);
    let dwell = r.parse::<f32>(8, "a number of seconds");
    let dwell_s = r.finite(8, dwell.map(f64::from)).unwrap_or(0.0) as f32;
    let ip_hash = r.parse::<u64>(9, "an unsigned integer");
    let ua = r.text(10).unwrap_or("unknown");
    let user_agent = intern(r, 10, &mut t.user_agents, ua);
    let email_token = r.nonzero(11);
    let user_id = r.nonzero(12);
    if !r.ok {
        return false;
    }
    let (
        Some(event_id),
        Some(time_ms),
        Some(cookie_id),
        Some(channel),
        Some(campaign),
        Some(landing_page),
        Some(user_agent),
    ) = (
        event_id,
        time_ms,
        cookie_id,
        channel,
        campaign,
        landing_page,
        user_agent,
    )
    else {
        return false;
    };
    // Without an address column every cookie has its own: no
    // stitcher may link two cookies on an address nobody recorded.
    let ip_hash = ip_hash.unwrap_or(cookie_id ^ 0x1b87_3593_0000_0000);
    t.visits.push(Visit {
        event_id,
        time_ms,
        cookie_id,
        channel,
        campaign,
        click_id,
        landing_page,
        pages_viewed,
        dwell_s,
        ip_hash,
        user_agent,
        email_token,
        user_id,
    });
    true
}

/// Parse a `form_fills.csv` record.
fn read_form_fill<R: BufRead>(r: &mut Row<'_, R>, t: &mut Tables) -> bool {
    let event_id = r.id(0);
    let time_ms = r.time(1);
    let cookie_id = r.parse::<u64>(2, "an unsigned integer cookie id");
    let click_id = r.nonzero(3);
    let user_id = r.nonzero(4);
    let email = r.need_text(5).map(String::from);
    let (true, Some(event_id), Some(time_ms), Some(email)) = (r.ok, event_id, time_ms, email)
    else {
        return false;
    };
    t.form_fills.push(FormFill {
        event_id,
        time_ms,
        cookie_id,
        click_id,
        user_id,
        email,
    });
    true
}

/// Parse a `crm_leads.csv` record.
fn read_crm_lead<R: BufRead>(r: &mut Row<'_, R>, t: &mut Tables) -> bool {
    let event_id = r.id(0);
    let time_ms = r.time(1);
    let form_fill_id = r.id(2);
    let click_id = r.nonzero(3);
    let email = r.need_text(4).map(String::from);
    let (true, Some(event_id), Some(time_ms), Some(form_fill_id), Some(email)) =
        (r.ok, event_id, time_ms, form_fill_id, email)
    else {
        return false;
    };
    t.crm_leads.push(CrmLead {
        event_id,
        time_ms,
        email,
        form_fill_id,
        click_id,
    });
    true
}

/// Parse an `opportunities.csv` record.
fn read_opportunity<R: BufRead>(r: &mut Row<'_, R>, t: &mut Tables) -> bool {
    let (event_id, time_ms, crm_lead_id) = (r.id(0), r.time(1), r.id(2));
    let (true, Some(event_id), Some(time_ms), Some(crm_lead_id)) =
        (r.ok, event_id, time_ms, crm_lead_id)
    else {
        return false;
    };
    t.opportunities.push(Opportunity {
        event_id,
        time_ms,
        crm_lead_id,
    });
    true
}

/// Parse a `deals.csv` record.
fn read_deal<R: BufRead>(r: &mut Row<'_, R>, t: &mut Tables) -> bool {
    let (event_id, time_ms) = (r.id(0), r.time(1));
    let revenue = r.need::<f64>(2, "a revenue amount");
    let revenue = r.finite(2, revenue);
    let email = r.need_text(3).map(String::from);
    let (true, Some(event_id), Some(time_ms), Some(revenue), Some(email)) =
        (r.ok, event_id, time_ms, revenue, email)
    else {
        return false;
    };
    t.deals.push(Deal {
        event_id,
        time_ms,
        revenue,
        email,
    });
    true
}

/// Parse a `conversion_imports.csv` record.
fn read_conversion_import<R: BufRead>(r: &mut Row<'_, R>, t: &mut Tables) -> bool {
    let (event_id, time_ms) = (r.id(0), r.time(1));
    let channel = r.need_text(2).and_then(|s| intern(r, 2, &mut t.labels, s));
    let click_id = if r.text(3).is_none() {
        r.bad(3, "empty; expected the uploaded click id".into());
        None
    } else {
        r.nonzero(3)
    };
    let revenue = r.need::<f64>(4, "a revenue amount");
    let revenue = r.finite(4, revenue);
    let (true, Some(event_id), Some(time_ms), Some(channel), Some(click_id), Some(revenue)) =
        (r.ok, event_id, time_ms, channel, click_id, revenue)
    else {
        return false;
    };
    t.imports.push(ConversionImport {
        event_id,
        time_ms,
        channel,
        click_id,
        revenue,
    });
    true
}

/// Parse a `platforms.csv` row (one per platform).
fn read_platform<R: BufRead>(r: &mut Row<'_, R>, t: &mut Tables) -> bool {
    let channel = r.need_text(0).and_then(|s| intern(r, 0, &mut t.labels, s));
    let click = r.need::<f64>(1, "a number of days ≥ 0");
    let view = r.need::<f64>(2, "a number of days ≥ 0");
    for (c, v) in [(1, click), (2, view)] {
        if v.is_some_and(|d| !(d >= 0.0 && d.is_finite())) {
            r.bad(c, "expected a number of days ≥ 0".into());
        }
    }
    let (true, Some(channel), Some(click), Some(view)) = (r.ok, channel, click, view) else {
        return false;
    };
    if t.platforms.iter().any(|p| p.0 == channel) {
        r.bad(0, "a second row for this platform".into());
        return false;
    }
    t.platforms.push((channel, click, view));
    true
}

/// Parse a `platform_touches.csv` record.
fn read_platform_touch<R: BufRead>(r: &mut Row<'_, R>, t: &mut Tables) -> bool {
    let (event_id, time_ms) = (r.id(0), r.time(1));
    let channel = r.need_text(2).and_then(|s| intern(r, 2, &mut t.labels, s));
    let user = r.need::<u64>(3, "an unsigned integer user id");
    let click = match r.need_text(4) {
        Some("click") => Some(true),
        Some("view") => Some(false),
        Some(other) => {
            r.bad(
                4,
                format!("unknown touch kind `{other}`; expected click or view"),
            );
            None
        }
        None => None,
    };
    let (true, Some(event_id), Some(time_ms), Some(channel), Some(user), Some(click)) =
        (r.ok, event_id, time_ms, channel, user, click)
    else {
        return false;
    };
    t.platform_touches.push((
        event_id,
        channel,
        PlatformTouch {
            time_ms,
            user,
            click,
        },
    ));
    true
}

/// Parse a `platform_conversions.csv` record.
fn read_platform_conversion<R: BufRead>(r: &mut Row<'_, R>, t: &mut Tables) -> bool {
    let (event_id, time_ms) = (r.id(0), r.time(1));
    let channel = r.need_text(2).and_then(|s| intern(r, 2, &mut t.labels, s));
    let user = r.need::<u64>(3, "an unsigned integer user id");
    let form_fill_id = r.id(4);
    let (true, Some(event_id), Some(time_ms), Some(channel), Some(user), Some(form_fill_id)) =
        (r.ok, event_id, time_ms, channel, user, form_fill_id)
    else {
        return false;
    };
    t.platform_conversions.push((
        event_id,
        channel,
        PixelConversion {
            time_ms,
            user,
            form_fill_id,
        },
    ));
    true
}
