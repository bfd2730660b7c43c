//! Reading an event-log folder — the format `closedloop export --events`
//! writes, documented in `docs/event-log.md` — into an [`EventLog`]: a user's
//! own tracker + CRM export for `closedloop attribute --events DIR`, or an
//! exported world for `closedloop score`.
//!
//! **Streaming.** Each table is read one record at a time into reused
//! buffers; memory holds the typed rows of the log (what the stitchers need
//! anyway), never a file's text.
//!
//! **Leniency.** Columns in any order, extra columns ignored, optional columns
//! may be absent (see [`TABLES`]); RFC 4180 quotes, CRLF, a UTF-8 BOM, blank
//! lines and whitespace around fields are accepted; unsorted tables are sorted
//! by (time, event id). Channels are whatever labels the export uses: the
//! order of `events.json`'s `channels` when it exists, then the others
//! alphabetically; `direct`, `unassigned` and `unknown` are never channels.
//!
//! **Strictness.** A missing table or column, a value of the wrong type, a
//! bad timestamp, an unknown table or touch kind, a duplicate `event_id`
//! (across all tables) and a reference to a missing event are [`Problem`]s
//! naming file, line and column; reading goes on so all are counted, the
//! first [`MAX_PROBLEMS`] are kept, and no log is returned.
//! Must never: list or read anything under `truth/`, panic on input, or
//! return a log from a folder that had a problem.

use crate::log::{
    ConversionImport, CrmLead, DIRECT, Deal, EventLog, FormFill, LabelId, Opportunity,
    PixelConversion, PlatformLog, PlatformTouch, UNASSIGNED, UNKNOWN, Visit,
};
use std::collections::HashMap;
use std::fmt;
use std::io::BufRead;
use std::path::Path;

use super::records::read_row;
use super::row::{Interner, Row};
use super::schema::TABLES;
use crate::io::csv::{CsvStream, Next};
pub use crate::io::problems::MAX_PROBLEMS;
use crate::io::problems::ProblemList;

/// One thing wrong with an event-log folder.
#[derive(Clone, Debug, PartialEq)]
pub struct Problem {
    /// The file (as given: folder joined with the table's name).
    pub file: String,
    /// 1-based line where the record starts, when the problem is in one.
    pub line: Option<usize>,
    /// 1-based field, when the problem is in one.
    pub column: Option<usize>,
    /// The column's header name, when known.
    pub name: Option<String>,
    /// What was wrong and what was expected.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(l) = self.line {
            write!(f, ":{l}")?;
        }
        if let Some(c) = self.column {
            write!(f, ":{c}")?;
        }
        if let Some(n) = &self.name {
            write!(f, " ({n})")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Why a folder could not be read: its first problems and how many there were.
pub type LogFileError = ProblemList<Problem>;

pub(super) type Problems = ProblemList<Problem>;

impl ProblemList<Problem> {
    pub(super) fn add(
        &mut self,
        file: &str,
        line: Option<usize>,
        column: Option<usize>,
        name: Option<&str>,
        message: String,
    ) {
        self.push(Problem {
            file: file.to_string(),
            line,
            column,
            name: name.map(String::from),
            message,
        });
    }
}

/// Where each accepted row of a table started, compactly: row → line is
/// `line + (row − first_row)` of the last break at or before the row.
#[derive(Default)]
struct Lines {
    breaks: Vec<(usize, usize)>,
}

impl Lines {
    fn note(&mut self, row: usize, line: usize) {
        let expected = self.breaks.last().map(|&(r, l)| l + (row - r));
        if expected != Some(line) {
            self.breaks.push((row, line));
        }
    }

    fn line_of(&self, row: usize) -> Option<usize> {
        let k = self.breaks.partition_point(|&(r, _)| r <= row);
        let (r, l) = *self.breaks.get(k.checked_sub(1)?)?;
        Some(l + (row - r))
    }
}

/// What `events.json` may tell: the channel order and the observed window.
#[derive(Default)]
struct Manifest {
    channels: Vec<String>,
    window_ms: Option<(i64, i64)>,
}

fn read_manifest(dir: &Path, problems: &mut Problems) -> Manifest {
    let path = dir.join("events.json");
    let file = path.display().to_string();
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Manifest::default();
    };
    let v: serde_json::Value = match serde_json::from_str(&text) {
        Ok(v) => v,
        Err(e) => {
            problems.add(
                &file,
                Some(e.line()),
                Some(e.column()),
                None,
                format!("not JSON: {e}"),
            );
            return Manifest::default();
        }
    };
    let mut m = Manifest::default();
    match &v["channels"] {
        serde_json::Value::Null => {}
        serde_json::Value::Array(a) if a.iter().all(|c| c.is_string()) => {
            m.channels = a
                .iter()
                .filter_map(|c| c.as_str().map(String::from))
                .collect();
        }
        _ => problems.add(
            &file,
            None,
            None,
            Some("channels"),
            "expected a list of channel labels".into(),
        ),
    }
    match &v["window_ms"] {
        serde_json::Value::Null => {}
        w => match (w[0].as_i64(), w[1].as_i64()) {
            (Some(a), Some(b)) if a <= b => m.window_ms = Some((a, b)),
            _ => problems.add(
                &file,
                None,
                None,
                Some("window_ms"),
                "expected [start, end] in integer ms with start ≤ end".into(),
            ),
        },
    }
    m
}

/// Everything read so far, before the cross-table checks.
#[derive(Default)]
pub(super) struct Tables {
    pub(super) labels: Interner,
    pub(super) campaigns: Interner,
    pub(super) pages: Interner,
    pub(super) user_agents: Interner,
    pub(super) visits: Vec<Visit>,
    pub(super) form_fills: Vec<FormFill>,
    pub(super) crm_leads: Vec<CrmLead>,
    pub(super) opportunities: Vec<Opportunity>,
    pub(super) deals: Vec<Deal>,
    pub(super) imports: Vec<ConversionImport>,
    /// (channel label, click window, view window).
    pub(super) platforms: Vec<(LabelId, f64, f64)>,
    /// (event id, channel label, touch).
    pub(super) platform_touches: Vec<(u64, LabelId, PlatformTouch)>,
    /// (event id, channel label, conversion).
    pub(super) platform_conversions: Vec<(u64, LabelId, PixelConversion)>,
    /// Per table (index into [`TABLES`]): where its rows started.
    lines: Vec<Lines>,
    /// Per table: the file's field index of each spec column.
    pub(super) at: Vec<Vec<Option<usize>>>,
    /// Per table: the file read (CSV or Parquet), empty when absent.
    pub(super) files: Vec<String>,
}

/// Read an event-log folder into an [`EventLog`] (see the module doc for
/// what is accepted and what is a problem).
pub fn read_dir(dir: &Path) -> Result<EventLog, LogFileError> {
    let mut problems = Problems::default();
    let dir_name = dir.display().to_string();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            problems.add(&dir_name, None, None, None, format!("cannot list: {e}"));
            return Err(problems);
        }
    };
    // Unknown tables: every `.csv` directly in the folder must be one we read.
    let mut unknown: Vec<String> = entries
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter_map(|e| e.file_name().to_str().map(String::from))
        .filter(|n| {
            let n = n.to_ascii_lowercase();
            n.ends_with(".csv") || n.ends_with(".parquet")
        })
        .filter(|n| {
            let stem = n.trim_end_matches(".csv").trim_end_matches(".parquet");
            TABLES
                .iter()
                .all(|t| t.file.trim_end_matches(".csv") != stem)
        })
        .collect();
    unknown.sort();
    let known: Vec<&str> = TABLES.iter().map(|t| t.file).collect();
    for n in unknown {
        problems.add(
            &dir.join(&n).display().to_string(),
            None,
            None,
            None,
            format!(
                "unknown table (expected one of {}; the truth, if any, belongs under truth/)",
                known.join(", ")
            ),
        );
    }
    let manifest = read_manifest(dir, &mut problems);
    let mut t = Tables::default();
    for (k, spec) in TABLES.iter().enumerate() {
        t.lines.push(Lines::default());
        t.at.push(Vec::new());
        t.files.push(String::new());
        match super::open_table(dir, spec.file.trim_end_matches(".csv")) {
            Ok(Some((path, reader))) => {
                let file = path.display().to_string();
                t.files[k] = file.clone();
                if let Err(e) = read_table(k, &file, reader, &mut t, &mut problems) {
                    problems.add(&file, None, None, None, format!("cannot read: {e}"));
                }
            }
            Ok(None) => {
                if spec.required {
                    problems.add(
                        &dir.join(spec.file).display().to_string(),
                        None,
                        None,
                        None,
                        "missing: every event log has visits.csv, form_fills.csv and crm_leads.csv"
                            .into(),
                    );
                }
            }
            Err((path, e)) => problems.add(&path.display().to_string(), None, None, None, e),
        }
    }
    check_references(dir, &t, &mut problems);
    problems.or(())?;
    Ok(assemble(t, &manifest))
}

/// Read one table's records into `t`.
fn read_table<R: BufRead>(
    k: usize,
    file: &str,
    reader: R,
    t: &mut Tables,
    problems: &mut Problems,
) -> std::io::Result<()> {
    let spec = &TABLES[k];
    let mut csv = CsvStream::new(reader);
    // Header.
    let (at, header_len): (Vec<Option<usize>>, usize) = match csv.next()? {
        Next::End => {
            problems.add(
                file,
                None,
                None,
                None,
                format!(
                    "empty; expected a header naming {}",
                    spec.columns
                        .iter()
                        .filter(|c| c.1)
                        .map(|c| c.0)
                        .collect::<Vec<_>>()
                        .join(",")
                ),
            );
            return Ok(());
        }
        Next::Broken(line, col, msg) => {
            problems.add(file, Some(line), Some(col), None, msg);
            return Ok(());
        }
        Next::Record(line) => {
            let names: Vec<String> = (0..csv.len())
                .map(|i| String::from_utf8_lossy(csv.field(i)).to_ascii_lowercase())
                .collect();
            let mut bad = false;
            for (i, n) in names.iter().enumerate() {
                if names[..i].contains(n) && spec.columns.iter().any(|c| c.0 == n) {
                    problems.add(
                        file,
                        Some(line),
                        Some(i + 1),
                        Some(n),
                        "repeated column".into(),
                    );
                    bad = true;
                }
            }
            let at: Vec<Option<usize>> = spec
                .columns
                .iter()
                .map(|(c, _)| names.iter().position(|n| n == c))
                .collect();
            for ((c, required), a) in spec.columns.iter().zip(&at) {
                if *required && a.is_none() {
                    problems.add(
                        file,
                        Some(line),
                        None,
                        Some(c),
                        format!("missing column `{c}` (header: {})", names.join(",")),
                    );
                    bad = true;
                }
            }
            if bad {
                return Ok(());
            }
            t.at[k] = at.clone();
            (at, names.len())
        }
    };
    read_rows(k, file, &mut csv, &at, header_len, t, problems)
}

/// The data records of table `k` after its header, one at a time.
fn read_rows<R: BufRead>(
    k: usize,
    file: &str,
    csv: &mut CsvStream<R>,
    at: &[Option<usize>],
    header_len: usize,
    t: &mut Tables,
    problems: &mut Problems,
) -> std::io::Result<()> {
    let spec = &TABLES[k];
    loop {
        let line = match csv.next()? {
            Next::End => return Ok(()),
            Next::Broken(line, col, msg) => {
                problems.add(file, Some(line), Some(col), None, msg);
                continue;
            }
            Next::Record(line) => line,
        };
        if csv.len() != header_len {
            problems.add(
                file,
                Some(line),
                None,
                None,
                format!(
                    "{} fields, expected {header_len} as in the header",
                    csv.len()
                ),
            );
            continue;
        }
        let mut row = Row {
            csv,
            at,
            columns: spec.columns,
            file,
            line,
            problems,
            ok: true,
        };
        let accepted = read_row(k, &mut row, t);
        if accepted {
            let rows = table_len(k, t);
            t.lines[k].note(rows - 1, line);
        }
    }
}

fn table_len(k: usize, t: &Tables) -> usize {
    match k {
        0 => t.visits.len(),
        1 => t.form_fills.len(),
        2 => t.crm_leads.len(),
        3 => t.opportunities.len(),
        4 => t.deals.len(),
        5 => t.imports.len(),
        6 => t.platforms.len(),
        7 => t.platform_touches.len(),
        _ => t.platform_conversions.len(),
    }
}

/// Duplicate event ids across tables, references to missing events,
/// platform rows without settings.
fn check_references(dir: &Path, t: &Tables, problems: &mut Problems) {
    let file = |k: usize| match t.files.get(k) {
        Some(f) if !f.is_empty() => f.clone(),
        _ => dir.join(TABLES[k].file).display().to_string(),
    };
    let short = |k: usize| {
        let f = file(k);
        Path::new(&f)
            .file_name()
            .map_or(f.clone(), |n| n.to_string_lossy().into_owned())
    };
    let ids_of = |k: usize| -> Vec<u64> {
        match k {
            0 => t.visits.iter().map(|v| v.event_id).collect(),
            1 => t.form_fills.iter().map(|v| v.event_id).collect(),
            2 => t.crm_leads.iter().map(|v| v.event_id).collect(),
            3 => t.opportunities.iter().map(|v| v.event_id).collect(),
            4 => t.deals.iter().map(|v| v.event_id).collect(),
            5 => t.imports.iter().map(|v| v.event_id).collect(),
            7 => t.platform_touches.iter().map(|v| v.0).collect(),
            8 => t.platform_conversions.iter().map(|v| v.0).collect(),
            _ => Vec::new(),
        }
    };
    let column = |k: usize, name: &str| {
        let c = TABLES[k].columns.iter().position(|c| c.0 == name)?;
        t.at[k].get(c).copied().flatten().map(|i| i + 1)
    };
    let mut all: Vec<u64> = (0..TABLES.len()).flat_map(ids_of).collect();
    all.sort_unstable();
    let mut dups: Vec<u64> = all
        .windows(2)
        .filter(|w| w[0] == w[1])
        .map(|w| w[0])
        .collect();
    drop(all);
    dups.dedup();
    if !dups.is_empty() {
        // Name every row holding a duplicated id (after its first use).
        let mut seen: HashMap<u64, (usize, usize)> = HashMap::new();
        for k in 0..TABLES.len() {
            for (row, id) in ids_of(k).into_iter().enumerate() {
                if dups.binary_search(&id).is_err() {
                    continue;
                }
                match seen.get(&id) {
                    None => {
                        seen.insert(id, (k, row));
                    }
                    Some(&(k0, row0)) => problems.add(
                        &file(k),
                        t.lines[k].line_of(row),
                        column(k, "event_id"),
                        Some("event_id"),
                        format!(
                            "duplicate event_id {id} (first used in {} line {})",
                            short(k0),
                            t.lines[k0].line_of(row0).unwrap_or(0)
                        ),
                    ),
                }
            }
        }
    }
    let mut form_ids: Vec<u64> = t.form_fills.iter().map(|f| f.event_id).collect();
    form_ids.sort_unstable();
    let mut lead_ids: Vec<u64> = t.crm_leads.iter().map(|l| l.event_id).collect();
    lead_ids.sort_unstable();

    let mut missing = |k: usize, row: usize, name: &str, id: u64, target: &str| {
        problems.add(
            &file(k),
            t.lines[k].line_of(row),
            column(k, name),
            Some(name),
            format!("refers to event {id}, which is not in {target}"),
        );
    };
    for (row, l) in t.crm_leads.iter().enumerate() {
        if form_ids.binary_search(&l.form_fill_id).is_err() {
            missing(2, row, "form_fill_id", l.form_fill_id, "form_fills.csv");
        }
    }
    for (row, o) in t.opportunities.iter().enumerate() {
        if lead_ids.binary_search(&o.crm_lead_id).is_err() {
            missing(3, row, "crm_lead_id", o.crm_lead_id, "crm_leads.csv");
        }
    }
    for (row, (_, _, c)) in t.platform_conversions.iter().enumerate() {
        if form_ids.binary_search(&c.form_fill_id).is_err() {
            missing(8, row, "form_fill_id", c.form_fill_id, "form_fills.csv");
        }
    }
    for (k, channels) in [
        (
            7,
            t.platform_touches.iter().map(|x| x.1).collect::<Vec<_>>(),
        ),
        (8, t.platform_conversions.iter().map(|x| x.1).collect()),
    ] {
        for (row, ch) in channels.into_iter().enumerate() {
            if !t.platforms.iter().any(|p| p.0 == ch) {
                problems.add(
                    &file(k),
                    t.lines[k].line_of(row),
                    column(k, "channel"),
                    Some("channel"),
                    format!(
                        "platform `{}` has no row in platforms.csv (its click and view windows)",
                        t.labels.names[ch as usize]
                    ),
                );
            }
        }
    }
}

/// The log from checked tables: final label order, sorted tables, window.
fn assemble(t: Tables, manifest: &Manifest) -> EventLog {
    let fixed = [DIRECT, UNASSIGNED, UNKNOWN];
    let seen = &t.labels.names;
    let mut channels: Vec<String> = manifest
        .channels
        .iter()
        .filter(|c| !fixed.contains(&c.as_str()))
        .cloned()
        .collect();
    let mut extra: Vec<String> = seen
        .iter()
        .filter(|l| !fixed.contains(&l.as_str()) && !channels.contains(l))
        .cloned()
        .collect();
    extra.sort();
    channels.extend(extra);
    let labels = EventLog::labels_for(&channels);
    let remap: Vec<LabelId> = seen
        .iter()
        .map(|l| labels.iter().position(|x| x == l).unwrap_or(0) as LabelId)
        .collect();
    let mut visits = t.visits;
    for v in &mut visits {
        v.channel = remap[v.channel as usize];
    }
    let mut imports = t.imports;
    for i in &mut imports {
        i.channel = remap[i.channel as usize];
    }
    let by_time_id = |a: (i64, u64), b: (i64, u64)| a.cmp(&b);
    sort_by_key(&mut visits, |v| (v.time_ms, v.event_id), by_time_id);
    let mut form_fills = t.form_fills;
    sort_by_key(&mut form_fills, |v| (v.time_ms, v.event_id), by_time_id);
    let mut crm_leads = t.crm_leads;
    sort_by_key(&mut crm_leads, |v| (v.time_ms, v.event_id), by_time_id);
    let mut opportunities = t.opportunities;
    sort_by_key(&mut opportunities, |v| (v.time_ms, v.event_id), by_time_id);
    let mut deals = t.deals;
    sort_by_key(&mut deals, |v| (v.time_ms, v.event_id), by_time_id);
    sort_by_key(&mut imports, |v| (v.time_ms, v.event_id), by_time_id);
    let mut platforms: Vec<PlatformLog> = t
        .platforms
        .iter()
        .map(|&(ch, click, view)| {
            let channel = remap[ch as usize];
            let mut touches: Vec<(u64, PlatformTouch)> = t
                .platform_touches
                .iter()
                .filter(|x| x.1 == ch)
                .map(|x| (x.0, x.2))
                .collect();
            touches.sort_by_key(|(id, x)| (x.time_ms, *id));
            let mut conversions: Vec<(u64, PixelConversion)> = t
                .platform_conversions
                .iter()
                .filter(|x| x.1 == ch)
                .map(|x| (x.0, x.2))
                .collect();
            conversions.sort_by_key(|(id, x)| (x.time_ms, *id));
            PlatformLog {
                channel,
                click_window_days: click,
                view_window_days: view,
                touches: touches.into_iter().map(|x| x.1).collect(),
                conversions: conversions.into_iter().map(|x| x.1).collect(),
            }
        })
        .collect();
    platforms.sort_by_key(|p| p.channel);
    let times = visits
        .iter()
        .map(|v| v.time_ms)
        .chain(form_fills.iter().map(|v| v.time_ms))
        .chain(crm_leads.iter().map(|v| v.time_ms))
        .chain(opportunities.iter().map(|v| v.time_ms))
        .chain(deals.iter().map(|v| v.time_ms));
    let (lo, hi) = times.fold((i64::MAX, i64::MIN), |(lo, hi), x| (lo.min(x), hi.max(x)));
    let (window_start_ms, window_end_ms) = manifest.window_ms.unwrap_or(if lo <= hi {
        (lo, hi.saturating_add(1))
    } else {
        (0, 0)
    });
    EventLog {
        n_channels: channels.len(),
        labels,
        campaigns: t.campaigns.names,
        pages: t.pages.names,
        user_agents: t.user_agents.names,
        window_start_ms,
        window_end_ms,
        visits,
        form_fills,
        crm_leads,
        opportunities,
        deals,
        conversion_imports: imports,
        platforms,
    }
}

/// Stable sort by key, skipped when already sorted (an export's usual case).
fn sort_by_key<T, K: Copy>(
    xs: &mut [T],
    key: impl Fn(&T) -> K,
    cmp: impl Fn(K, K) -> std::cmp::Ordering,
) {
    if !xs.is_sorted_by(|a, b| cmp(key(a), key(b)).is_le()) {
        xs.sort_by(|a, b| cmp(key(a), key(b)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_of_rows_survive_skipped_and_multiline_records() {
        let mut l = Lines::default();
        l.note(0, 2);
        l.note(1, 3);
        l.note(2, 6); // a skipped row and a two-line record before it
        l.note(3, 7);
        assert_eq!(
            (0..4).map(|r| l.line_of(r)).collect::<Vec<_>>(),
            [Some(2), Some(3), Some(6), Some(7)]
        );
    }
}
