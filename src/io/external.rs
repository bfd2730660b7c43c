//! Scoring what an external tool produced against an exported truth
//! (`closedloop score`; the metrics are docs/model.md §5): an attribution
//! model's credit table (`label,conversions[,revenue]`) against
//! `truth/credit.csv`, with the
//! channels and spends `events.json` records; an external stitcher's
//! clusters (`event_id,cluster_id`) against `truth/events.csv` and
//! `truth/leads.csv`.
//! Must never: panic on input; every problem names file, line and column.

use crate::base::credit::Credit;
use crate::io::event_log::TableReader;
use crate::io::problems::ProblemList;
use crate::log::EventLog;
use crate::score::{LeadCause, StitchTruth};
use crate::stitch::Identities;
use std::borrow::Cow;
use std::collections::HashMap;
use std::io::BufRead;
use std::path::Path;

/// Collected problems, rendered one per line, the first 20 kept.
type Problems = ProblemList<String>;

impl ProblemList<String> {
    fn result<T>(self, ok: T) -> Result<T, String> {
        self.or(ok).map_err(|e| e.to_string())
    }
}

/// Open a table of an exported folder by stem (`events`): CSV or Parquet.
fn open(dir: &Path, stem: &str, problems: &mut Problems) -> Option<(String, TableReader)> {
    match crate::io::event_log::open_table(dir, stem) {
        Ok(Some((path, r))) => Some((path.display().to_string(), r)),
        Ok(None) => {
            problems.push(format!(
                "{}: missing",
                dir.join(format!("{stem}.csv")).display()
            ));
            None
        }
        Err((path, e)) => {
            problems.push(format!("{}: {e}", path.display()));
            None
        }
    }
}

/// Stream a CSV table's records (one per line) to `row(line, fields)`,
/// after checking its header names `want` (returned: each one's position).
fn each_row(
    (source, reader): (String, TableReader),
    want: &[&str],
    problems: &mut Problems,
    mut row: impl FnMut(usize, &[String], &[usize], &mut Problems),
) {
    let mut lines = reader.lines();
    let mut n = 0;
    let header = loop {
        n += 1;
        match lines.next() {
            None => {
                return problems.push(format!(
                    "{source}: empty; expected a header naming {}",
                    want.join(",")
                ));
            }
            Some(Err(e)) => return problems.push(format!("{source}:{n}: {e}")),
            Some(Ok(l)) if l.trim().is_empty() => continue,
            Some(Ok(l)) => match fields(l.trim_start_matches('\u{feff}')) {
                Ok(h) => break h,
                Err(c) => return problems.push(format!("{source}:{n}:{c}: unterminated quote")),
            },
        }
    };
    let mut at = Vec::new();
    for w in want {
        match header.iter().position(|h| h == w) {
            Some(i) => at.push(i),
            None => {
                return problems.push(format!(
                    "{source}:{n}: missing column `{w}` (header: {})",
                    header.join(",")
                ));
            }
        }
    }
    for line in lines {
        n += 1;
        let line = match line {
            Ok(l) => l,
            Err(e) => return problems.push(format!("{source}:{n}: {e}")),
        };
        if line.trim().is_empty() {
            continue;
        }
        match fields(&line) {
            Err(c) => problems.push(format!("{source}:{n}:{c}: unterminated quote")),
            Ok(f) if f.len() != header.len() => problems.push(format!(
                "{source}:{n}: {} fields, expected {} as in the header",
                f.len(),
                header.len()
            )),
            Ok(f) => row(n, &f, &at, problems),
        }
    }
}

/// Every event of a log by id: (table 0–4 = visits, form fills, CRM leads,
/// opportunities, deals; index in it).
fn events_by_id(log: &EventLog) -> HashMap<u64, (u8, u32)> {
    let mut map = HashMap::with_capacity(
        log.visits.len() + log.form_fills.len() + log.crm_leads.len() + 2 * log.deals.len(),
    );
    let tables: [Vec<u64>; 5] = [
        log.visits.iter().map(|e| e.event_id).collect(),
        log.form_fills.iter().map(|e| e.event_id).collect(),
        log.crm_leads.iter().map(|e| e.event_id).collect(),
        log.opportunities.iter().map(|e| e.event_id).collect(),
        log.deals.iter().map(|e| e.event_id).collect(),
    ];
    for (t, ids) in tables.iter().enumerate() {
        for (i, &id) in ids.iter().enumerate() {
            map.insert(id, (t as u8, i as u32));
        }
    }
    map
}

fn table_lens(log: &EventLog) -> [usize; 5] {
    [
        log.visits.len(),
        log.form_fills.len(),
        log.crm_leads.len(),
        log.opportunities.len(),
        log.deals.len(),
    ]
}

const TABLE_NAMES: [&str; 5] = [
    "visits",
    "form_fills",
    "crm_leads",
    "opportunities",
    "deals",
];

/// Read what the stitching metrics need of the truth from an exported
/// `truth/` folder (`events.csv`, `leads.csv`), aligned with `log` (the
/// event log beside it).
pub fn read_stitch_truth(dir: &Path, log: &EventLog) -> Result<StitchTruth<'static>, String> {
    let mut problems = Problems::default();
    let by_id = events_by_id(log);
    let lens = table_lens(log);
    let mut person: [Vec<u32>; 5] = lens.map(|n| vec![u32::MAX; n]);
    let Some(events) = open(dir, "events", &mut problems) else {
        return Err(problems.result(()).unwrap_err());
    };
    let source = events.0.clone();
    each_row(
        events,
        &["event_id", "person"],
        &mut problems,
        |n, f, at, problems| {
            let (Ok(id), Ok(p)) = (f[at[0]].parse::<u64>(), f[at[1]].parse::<u32>()) else {
                return problems.push(format!(
                    "{source}:{n}: expected an integer event_id and person, got `{}`, `{}`",
                    f[at[0]], f[at[1]]
                ));
            };
            if let Some(&(t, i)) = by_id.get(&id) {
                person[t as usize][i as usize] = p;
            }
        },
    );
    for (t, persons) in person.iter().enumerate() {
        let missing = persons.iter().filter(|&&p| p == u32::MAX).count();
        if missing > 0 {
            problems.push(format!(
                "{source}: no person for {missing} event(s) of {}.csv (is this the truth of this log?)",
                TABLE_NAMES[t]
            ));
        }
    }
    let Some(leads_table) = open(dir, "leads", &mut problems) else {
        return Err(problems.result(()).unwrap_err());
    };
    let source = leads_table.0.clone();
    let mut leads: Vec<(LeadCause, i64)> = Vec::new();
    each_row(
        leads_table,
        &["person", "time_ms", "cause_is_click", "cause_visit_id"],
        &mut problems,
        |n, f, at, problems| {
            let person = f[at[0]].parse::<u32>();
            let time = f[at[1]].parse::<i64>();
            let click = f[at[2]].parse::<bool>();
            let visit = match f[at[3]].as_str() {
                "" => Ok(None),
                v => match v.parse::<u64>().ok().and_then(|id| by_id.get(&id)) {
                    Some(&(0, i)) => Ok(Some(i as usize)),
                    _ => Err(()),
                },
            };
            match (person, time, click, visit) {
                (Ok(person), Ok(time), Ok(cause_is_click), Ok(cause_visit)) => leads.push((
                    LeadCause {
                        person,
                        cause_is_click,
                        cause_visit,
                    },
                    time,
                )),
                _ => problems.push(format!(
                    "{source}:{n}: expected person (integer), time_ms (integer), cause_is_click \
                     (true/false) and cause_visit_id (a visit's event id or empty)"
                )),
            }
        },
    );
    let persons = person
        .iter()
        .flatten()
        .copied()
        .filter(|&p| p != u32::MAX)
        .chain(leads.iter().map(|l| l.0.person))
        .max()
        .map_or(0, |m| m as usize + 1);
    if persons > 50_000_000 {
        problems.push(format!(
            "{}: person ids up to {persons}; expected dense ids from 0",
            dir.display()
        ));
    }
    let persons = persons.min(50_000_000);
    let mut lead_time_ms = vec![None; persons];
    for (l, t) in &leads {
        if let Some(slot) = lead_time_ms.get_mut(l.person as usize) {
            *slot = Some(*t);
        }
    }
    let [v, ff, cl, op, de] = person;
    problems.result(StitchTruth {
        persons,
        visit_person: Cow::Owned(v),
        form_fill_person: Cow::Owned(ff),
        crm_lead_person: Cow::Owned(cl),
        opportunity_person: Cow::Owned(op),
        deal_person: Cow::Owned(de),
        lead_time_ms: Cow::Owned(lead_time_ms),
        leads: leads.into_iter().map(|l| l.0).collect(),
    })
}

/// Read an external stitcher's clusters (`event_id,cluster_id`; any text as
/// cluster id) over `log`'s events. Every visit, form fill, CRM lead and
/// deal needs one; an opportunity not listed takes its CRM lead's cluster.
pub fn read_clusters(path: &Path, log: &EventLog) -> Result<Identities, String> {
    let mut problems = Problems::default();
    let by_id = events_by_id(log);
    let lens = table_lens(log);
    let mut raw: [Vec<u64>; 5] = lens.map(|n| vec![u64::MAX; n]);
    let mut names: HashMap<String, u64> = HashMap::new();
    let source = path.display().to_string();
    let opened = match path.extension().and_then(|e| e.to_str()) {
        Some("parquet") => crate::io::event_log::open_table(
            path.parent().unwrap_or(Path::new(".")),
            path.file_stem().and_then(|s| s.to_str()).unwrap_or(""),
        )
        .map_err(|(_, e)| e)
        .and_then(|t| t.map(|t| t.1).ok_or_else(|| "cannot open".to_string())),
        _ => std::fs::File::open(path)
            .map(|f| Box::new(std::io::BufReader::with_capacity(1 << 20, f)) as TableReader)
            .map_err(|e| e.to_string()),
    };
    let reader = opened.map_err(|e| format!("{source}: {e}"))?;
    each_row(
        (source.clone(), reader),
        &["event_id", "cluster_id"],
        &mut problems,
        |n, f, at, problems| {
            let Ok(id) = f[at[0]].parse::<u64>() else {
                return problems.push(format!(
                    "{source}:{n}:{}: `{}` is not an event id",
                    at[0] + 1,
                    f[at[0]]
                ));
            };
            let Some(&(t, i)) = by_id.get(&id) else {
                return problems.push(format!(
                "{source}:{n}:{}: event {id} is not a visit, form fill, CRM lead, opportunity or deal of the log",
                at[0] + 1
            ));
            };
            if f[at[1]].is_empty() {
                return problems.push(format!("{source}:{n}:{}: empty cluster_id", at[1] + 1));
            }
            let next = names.len() as u64;
            let c = *names.entry(f[at[1]].clone()).or_insert(next);
            let slot = &mut raw[t as usize][i as usize];
            if *slot != u64::MAX {
                return problems.push(format!("{source}:{n}: event {id} listed twice"));
            }
            *slot = c;
        },
    );
    // Opportunities not listed follow their lead.
    let lead_index: HashMap<u64, usize> = log
        .crm_leads
        .iter()
        .enumerate()
        .map(|(i, l)| (l.event_id, i))
        .collect();
    for (i, o) in log.opportunities.iter().enumerate() {
        if raw[3][i] == u64::MAX
            && let Some(&l) = lead_index.get(&o.crm_lead_id)
        {
            raw[3][i] = raw[2][l];
        }
    }
    for (t, clusters) in raw.iter().enumerate() {
        let missing: Vec<u64> = clusters
            .iter()
            .enumerate()
            .filter(|(_, c)| **c == u64::MAX)
            .map(|(i, _)| match t {
                0 => log.visits[i].event_id,
                1 => log.form_fills[i].event_id,
                2 => log.crm_leads[i].event_id,
                3 => log.opportunities[i].event_id,
                _ => log.deals[i].event_id,
            })
            .collect();
        if !missing.is_empty() {
            let first: Vec<String> = missing.iter().take(5).map(u64::to_string).collect();
            problems.push(format!(
                "{source}: {} event(s) of {}.csv have no cluster (e.g. {})",
                missing.len(),
                TABLE_NAMES[t],
                first.join(", ")
            ));
        }
    }
    problems.result(())?;
    Ok(Identities::canonical(raw))
}

/// One CSV line split into fields (RFC 4180 quotes; one record per line).
fn fields(line: &str) -> Result<Vec<String>, usize> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = line.chars().peekable();
    let mut quoted = false;
    let mut col = 1;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                cur.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => cur.push(c),
            (false, '"') if cur.is_empty() => quoted = true,
            (false, ',') => {
                out.push(std::mem::take(&mut cur));
                col += 1;
            }
            (false, c) => cur.push(c),
        }
    }
    if quoted {
        return Err(col);
    }
    out.push(cur);
    Ok(out.into_iter().map(|f| f.trim().to_string()).collect())
}

/// Read a credit table with a header naming `label` and `conversions`
/// (and optionally `revenue`), extra columns ignored; `truth` (when the
/// header has it) keeps only the rows of that truth. A truth table from
/// before report schema 2 names the proximate truth by its old name; it is
/// refused with a message saying so, rather than read as a missing truth.
/// The proximate truth's name in report schema 1 and truth tables before it.
const OLD_PROXIMATE_NAME: &str = "causal";

pub fn read_credit(text: &str, source: &str, truth: Option<&str>) -> Result<Credit, String> {
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    let Some((_, header)) = lines.next() else {
        return Err(format!(
            "{source}: empty file; expected a header with label,conversions"
        ));
    };
    let header = fields(header.trim_start_matches('\u{feff}'))
        .map_err(|c| format!("{source}:1:{c}: unterminated quote"))?;
    let col = |name: &str| header.iter().position(|h| h == name);
    let (Some(label), Some(conversions)) = (col("label"), col("conversions")) else {
        return Err(format!(
            "{source}:1: the header must name `label` and `conversions` (got {})",
            header.join(",")
        ));
    };
    let (revenue, truth_col) = (col("revenue"), col("truth"));
    let mut credit = Credit::default();
    for (i, line) in lines {
        let n = i + 1;
        let f = fields(line).map_err(|c| format!("{source}:{n}:{c}: unterminated quote"))?;
        if f.len() != header.len() {
            return Err(format!(
                "{source}:{n}: {} fields, expected {} as in the header",
                f.len(),
                header.len()
            ));
        }
        if let (Some(t), Some(want)) = (truth_col, truth) {
            if f[t] == OLD_PROXIMATE_NAME {
                return Err(format!(
                    "{source}:{n}:{}: truth `{OLD_PROXIMATE_NAME}` was renamed `proximate` (the touch whose clock fired); re-export the truth with this version (`closedloop export --events`) or rename those rows `proximate`",
                    t + 1
                ));
            }
            if f[t] != want {
                continue;
            }
        }
        let number = |c: usize| -> Result<f64, String> {
            f[c].parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .ok_or_else(|| format!("{source}:{n}:{}: `{}` is not a finite number", c + 1, f[c]))
        };
        let conv = number(conversions)?;
        let rev = match revenue {
            Some(c) => number(c)?,
            None => 0.0,
        };
        if f[label].is_empty() {
            return Err(format!("{source}:{n}:{}: empty label", label + 1));
        }
        credit.add(&f[label], conv, rev);
    }
    Ok(credit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credit_tables_read_and_bad_ones_name_line_and_column() {
        let c = read_credit(
            "label,conversions,revenue\na,1.5,10\n\"b,c\",2,0\n",
            "x.csv",
            None,
        )
        .unwrap();
        assert_eq!(c.conversions["a"], 1.5);
        assert_eq!(c.conversions["b,c"], 2.0);
        let t = read_credit(
            "truth,label,conversions,revenue\nproximate,a,1,1\nshapley,a,9,9\n",
            "t.csv",
            Some("proximate"),
        )
        .unwrap();
        assert_eq!(t.conversions["a"], 1.0);
        // A table from before the rename says what happened, with its line.
        let old =
            format!("truth,label,conversions,revenue\nshapley,a,9,9\n{OLD_PROXIMATE_NAME},a,1,1\n");
        for want in ["shapley", "proximate"] {
            let err = read_credit(&old, "t.csv", Some(want)).unwrap_err();
            assert!(err.starts_with("t.csv:3:1:"), "{err}");
            assert!(err.contains("renamed `proximate`"), "{err}");
        }
        let err = read_credit("label,conversions\na,lots\n", "x.csv", None).unwrap_err();
        assert!(err.starts_with("x.csv:2:2:"), "{err}");
        let err = read_credit("name,conversions\n", "x.csv", None).unwrap_err();
        assert!(err.starts_with("x.csv:1:"), "{err}");
        let err = read_credit("label,conversions\na,1,2\n", "x.csv", None).unwrap_err();
        assert!(err.contains("3 fields, expected 2"), "{err}");
    }
}
