//! The event log and, separately, the truth ledger as CSV tables: what
//! `closedloop export --events DIR` writes, one row per event with its
//! `event_id` and integer-millisecond UTC times, and under
//! `truth/` the true person of every event, every true lead's cause and the
//! three truths. Column meanings are documented in `docs/event-log.md`.
//! Must never: put anything from the truth ledger into a log table — a tool
//! that reads the log must be able to ignore `truth/` entirely.

#[cfg(feature = "parquet")]
pub mod parquet;
pub mod read;
mod records;
mod row;
pub mod schema;

pub use read::{LogFileError, read_dir};

use crate::log::EventLog;
use crate::truth::{TRUTHS, Truth};
use std::fmt::Write as _;

/// A table's rows as CSV text, whatever the file's format.
pub type TableReader = Box<dyn std::io::BufRead>;

/// Open table `stem` (e.g. `visits`) of a folder: `stem.csv`, else
/// `stem.parquet` (read as CSV text; needs the `parquet` feature). Ok(None)
/// when neither exists; an error comes with the file it is about.
pub fn open_table(
    dir: &std::path::Path,
    stem: &str,
) -> Result<Option<(std::path::PathBuf, TableReader)>, (std::path::PathBuf, String)> {
    let csv = dir.join(format!("{stem}.csv"));
    match std::fs::File::open(&csv) {
        Ok(f) => {
            return Ok(Some((
                csv,
                Box::new(std::io::BufReader::with_capacity(1 << 20, f)),
            )));
        }
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err((csv, format!("cannot open: {e}")));
        }
        Err(_) => {}
    }
    let pq = dir.join(format!("{stem}.parquet"));
    if !pq.exists() {
        return Ok(None);
    }
    open_parquet(pq).map(Some)
}

#[cfg(feature = "parquet")]
fn open_parquet(
    path: std::path::PathBuf,
) -> Result<(std::path::PathBuf, TableReader), (std::path::PathBuf, String)> {
    match parquet::ParquetCsv::open(&path) {
        Ok(r) => Ok((
            path,
            Box::new(std::io::BufReader::with_capacity(1 << 16, r)),
        )),
        Err(e) => Err((path, e)),
    }
}

#[cfg(not(feature = "parquet"))]
fn open_parquet(
    path: std::path::PathBuf,
) -> Result<(std::path::PathBuf, TableReader), (std::path::PathBuf, String)> {
    Err((
        path,
        "Parquet tables need closedloop built with the `parquet` feature \
         (cargo build --release --features parquet); or export as CSV"
            .into(),
    ))
}

/// The type of a column of the format (`docs/event-log.md`'s type column;
/// a Parquet export stores each as the matching physical type).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColumnType {
    /// Unsigned 64-bit integer (ids, hashes).
    U64,
    /// Signed 64-bit integer (times in ms).
    I64,
    /// Unsigned 32-bit integer (true persons).
    U32,
    /// Unsigned 16-bit integer.
    U16,
    /// 32-bit float.
    F32,
    /// 64-bit float.
    F64,
    /// UTF-8 text.
    Text,
    /// `true` / `false`.
    Bool,
}

impl ColumnType {
    /// The name the format documentation uses.
    pub fn name(self) -> &'static str {
        match self {
            ColumnType::U64 => "u64",
            ColumnType::I64 => "i64",
            ColumnType::U32 => "u32",
            ColumnType::U16 => "u16",
            ColumnType::F32 => "f32",
            ColumnType::F64 => "f64",
            ColumnType::Text => "text",
            ColumnType::Bool => "bool",
        }
    }
}

/// The type of a column of a table (file name as written, e.g.
/// `visits.csv` or `truth/leads.csv`); None for a column the format lacks.
pub fn column_type(file: &str, column: &str) -> Option<ColumnType> {
    use ColumnType::*;
    let table = file.trim_end_matches(".csv").trim_end_matches(".parquet");
    Some(match (table, column) {
        (_, "event_id" | "form_fill_id" | "crm_lead_id" | "cause_visit_id") => U64,
        (_, "time_ms") => I64,
        (
            "visits" | "form_fills",
            "cookie_id" | "click_id" | "ip_hash" | "email_token" | "user_id",
        ) => U64,
        ("crm_leads" | "conversion_imports", "click_id") => U64,
        ("visits", "pages_viewed") => U16,
        ("visits", "dwell_s") => F32,
        ("visits", "channel" | "campaign" | "landing_page" | "user_agent") => Text,
        (_, "email" | "channel" | "cause" | "label" | "truth" | "table" | "kind") => Text,
        (_, "revenue" | "conversions" | "click_window_days" | "view_window_days") => F64,
        ("platform_touches" | "platform_conversions", "user") => U64,
        ("truth/events" | "truth/leads", "person") => U32,
        ("truth/leads", "cause_is_click") => Bool,
        _ => return None,
    })
}

/// A CSV field: quoted when it holds a comma, quote or line break.
fn field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn opt<T: ToString>(x: Option<T>) -> String {
    x.map_or(String::new(), |v| v.to_string())
}

/// The log's tables: (file name, CSV text), in a fixed order.
pub fn log_tables(log: &EventLog) -> Vec<(&'static str, String)> {
    let label = |i: u16| field(&log.labels[i as usize]);
    let mut visits = schema::header("visits.csv");
    for v in &log.visits {
        let _ = writeln!(
            visits,
            "{},{},{},{},{},{},{},{},{},{},{},{},{}",
            v.event_id,
            v.time_ms,
            v.cookie_id,
            label(v.channel),
            opt(v.campaign.map(|c| field(&log.campaigns[c as usize]))),
            opt(v.click_id),
            field(&log.pages[v.landing_page as usize]),
            v.pages_viewed,
            v.dwell_s,
            v.ip_hash,
            field(&log.user_agents[v.user_agent as usize]),
            opt(v.email_token),
            opt(v.user_id)
        );
    }
    let mut forms = schema::header("form_fills.csv");
    for f in &log.form_fills {
        let _ = writeln!(
            forms,
            "{},{},{},{},{},{}",
            f.event_id,
            f.time_ms,
            opt(f.cookie_id),
            opt(f.click_id),
            opt(f.user_id),
            field(&f.email)
        );
    }
    let mut leads = schema::header("crm_leads.csv");
    for l in &log.crm_leads {
        let _ = writeln!(
            leads,
            "{},{},{},{},{}",
            l.event_id,
            l.time_ms,
            l.form_fill_id,
            opt(l.click_id),
            field(&l.email)
        );
    }
    let mut opps = schema::header("opportunities.csv");
    for o in &log.opportunities {
        let _ = writeln!(opps, "{},{},{}", o.event_id, o.time_ms, o.crm_lead_id);
    }
    let mut deals = schema::header("deals.csv");
    for d in &log.deals {
        let _ = writeln!(
            deals,
            "{},{},{},{}",
            d.event_id,
            d.time_ms,
            d.revenue,
            field(&d.email)
        );
    }
    let mut imports = schema::header("conversion_imports.csv");
    for i in &log.conversion_imports {
        let _ = writeln!(
            imports,
            "{},{},{},{},{}",
            i.event_id,
            i.time_ms,
            label(i.channel),
            i.click_id,
            i.revenue
        );
    }
    let mut tables = vec![
        ("visits.csv", visits),
        ("form_fills.csv", forms),
        ("crm_leads.csv", leads),
        ("opportunities.csv", opps),
        ("deals.csv", deals),
        ("conversion_imports.csv", imports),
    ];
    if !log.platforms.is_empty() {
        tables.extend(platform_tables(log));
    }
    tables
}

/// The platform tables: settings, touches and pixel conversions, their rows
/// numbered after every event of the log.
fn platform_tables(log: &EventLog) -> [(&'static str, String); 3] {
    let label = |i: u16| field(&log.labels[i as usize]);
    // Platform rows are numbered after every event of the log.
    let mut next_id = [
        log.visits.iter().map(|v| v.event_id).max(),
        log.form_fills.iter().map(|v| v.event_id).max(),
        log.crm_leads.iter().map(|v| v.event_id).max(),
        log.opportunities.iter().map(|v| v.event_id).max(),
        log.deals.iter().map(|v| v.event_id).max(),
        log.conversion_imports.iter().map(|v| v.event_id).max(),
    ]
    .into_iter()
    .flatten()
    .max()
    .map_or(1, |m| m + 1);
    let mut settings = schema::header("platforms.csv");
    let mut touches = schema::header("platform_touches.csv");
    let mut conversions = schema::header("platform_conversions.csv");
    for p in &log.platforms {
        let _ = writeln!(
            settings,
            "{},{},{}",
            label(p.channel),
            p.click_window_days,
            p.view_window_days
        );
    }
    for p in &log.platforms {
        for t in &p.touches {
            let kind = if t.click { "click" } else { "view" };
            let _ = writeln!(
                touches,
                "{next_id},{},{},{},{kind}",
                t.time_ms,
                label(p.channel),
                t.user
            );
            next_id += 1;
        }
    }
    for p in &log.platforms {
        for c in &p.conversions {
            let _ = writeln!(
                conversions,
                "{next_id},{},{},{},{}",
                c.time_ms,
                label(p.channel),
                c.user,
                c.form_fill_id
            );
            next_id += 1;
        }
    }
    [
        ("platforms.csv", settings),
        ("platform_touches.csv", touches),
        ("platform_conversions.csv", conversions),
    ]
}

/// The truth ledger's tables, to go under `truth/`: `events.csv` (every
/// event's true person), `leads.csv` (every true lead: person, time, cause
/// label, the recorded visit of the causing touch if any, revenue) and
/// `credit.csv` (the three truths per label).
pub fn truth_tables(log: &EventLog, truth: &Truth) -> Vec<(&'static str, String)> {
    let e = &truth.events;
    let mut events = String::from("event_id,table,person\n");
    let tables: [(&str, Vec<u64>, &Vec<u32>); 6] = [
        (
            "visits",
            log.visits.iter().map(|v| v.event_id).collect(),
            &e.visit_person,
        ),
        (
            "form_fills",
            log.form_fills.iter().map(|f| f.event_id).collect(),
            &e.form_fill_person,
        ),
        (
            "crm_leads",
            log.crm_leads.iter().map(|l| l.event_id).collect(),
            &e.crm_lead_person,
        ),
        (
            "opportunities",
            log.opportunities.iter().map(|o| o.event_id).collect(),
            &e.opportunity_person,
        ),
        (
            "deals",
            log.deals.iter().map(|d| d.event_id).collect(),
            &e.deal_person,
        ),
        (
            "conversion_imports",
            log.conversion_imports.iter().map(|i| i.event_id).collect(),
            &e.import_person,
        ),
    ];
    for (table, ids, persons) in &tables {
        for (id, p) in ids.iter().zip(persons.iter()) {
            let _ = writeln!(events, "{id},{table},{p}");
        }
    }
    // The recorded visit of each world touch, to point a cause at it.
    let visit_of: std::collections::HashMap<u32, u64> = e
        .visit_touch
        .iter()
        .zip(&log.visits)
        .map(|(&t, v)| (t, v.event_id))
        .collect();
    let mut leads = String::from("person,time_ms,cause,cause_is_click,cause_visit_id,revenue\n");
    for l in &truth.leads {
        let _ = writeln!(
            leads,
            "{},{},{},{},{},{}",
            l.person,
            l.time_ms,
            field(&l.cause),
            l.cause_is_click,
            opt(l.cause_touch.and_then(|t| visit_of.get(&t))),
            l.revenue
        );
    }
    let mut credit = String::from("truth,label,conversions,revenue\n");
    for (name, c) in TRUTHS.iter().zip(truth.in_order()) {
        for (label, conv) in &c.conversions {
            let _ = writeln!(
                credit,
                "{name},{},{conv},{}",
                field(label),
                c.revenue.get(label).copied().unwrap_or(0.0)
            );
        }
    }
    vec![
        ("truth/events.csv", events),
        ("truth/leads.csv", leads),
        ("truth/credit.csv", credit),
    ]
}

/// A partition as `event_id,cluster_id` rows over visits, form fills, CRM
/// leads, opportunities and deals (what `closedloop score --clusters` reads).
pub fn clusters_csv(log: &EventLog, ids: &crate::stitch::Identities) -> String {
    let mut out = String::with_capacity(24 * (log.visits.len() + 3 * log.form_fills.len()));
    out.push_str("event_id,cluster_id\n");
    let tables: [(Vec<u64>, &[u32]); 5] = [
        (log.visits.iter().map(|v| v.event_id).collect(), &ids.visit),
        (
            log.form_fills.iter().map(|v| v.event_id).collect(),
            &ids.form_fill,
        ),
        (
            log.crm_leads.iter().map(|v| v.event_id).collect(),
            &ids.crm_lead,
        ),
        (
            log.opportunities.iter().map(|v| v.event_id).collect(),
            &ids.opportunity,
        ),
        (log.deals.iter().map(|v| v.event_id).collect(), &ids.deal),
    ];
    for (events, clusters) in &tables {
        for (e, c) in events.iter().zip(clusters.iter()) {
            let _ = writeln!(out, "{e},{c}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_quoted_only_when_needed() {
        assert_eq!(field("a@x.com"), "a@x.com");
        assert_eq!(field("a,b"), "\"a,b\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
    }
}
