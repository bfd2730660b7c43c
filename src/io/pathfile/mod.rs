//! Path files: ChannelAttribution's aggregated path format, a CSV
//! (RFC 4180: quoted fields, `""` inside quotes, LF or CRLF) whose header
//! names the columns `path`, `total_conversions`, `total_conversion_value`
//! (read as revenue) and `total_null`, with a path's steps joined by ` > `.
//! [`parse`] reads one into [`PathRow`]s (then `Journeys::from_paths`),
//! [`parse_journeys`] straight into the same journeys (labels interned, no
//! allocation per step: the fast path; a file with no `"` is read in
//! parallel chunks, `chunked.rs`); [`write()`] writes rows (e.g.
//! `Journeys::to_paths`) back.
//!
//! **Leniency.** Columns in any order; other columns are ignored (exports
//! often carry more); `total_conversion_value` and `total_null` may be
//! absent (0 revenue, 0 non-converting journeys — as ChannelAttribution's
//! `var_value` and `var_null` are optional); ASCII whitespace around steps,
//! numbers and header names is ignored; a UTF-8 BOM and blank lines are
//! skipped. An empty path, or the path `unknown` alone (docs/model.md §4.3: a
//! lead with no web history), is a journey with no touch, which every model
//! credits to `unknown`; [`write()`] writes such a row as `unknown`, so a
//! round trip is lossless.
//!
//! **Strictness.** Everything else is a [`Problem`] naming its line (where the
//! record starts), column (1-based field) and what was expected: a missing or
//! repeated header column, a wrong field count, a count that is not a finite
//! number ≥ 0, an empty step (`a > > b`), an unterminated quote, text after a
//! closing quote, invalid UTF-8. Reading goes on after a problem so all of
//! them are counted; the first [`MAX_PROBLEMS`] are kept in detail.
//! Must never: panic on any input, print, do file I/O, or name the world, the
//! observation layer or the truth ledger.

use crate::attribute::{Journey, Journeys, PathRow, Touch};
use crate::log::LabelId;
use std::borrow::Cow;
use std::fmt;

mod chunked;

pub use crate::io::problems::MAX_PROBLEMS;
use crate::io::problems::ProblemList;

/// Required header columns.
const PATH: &str = "path";
const CONVERSIONS: &str = "total_conversions";
/// Optional header columns.
const VALUE: &str = "total_conversion_value";
const NULLS: &str = "total_null";

/// The path written for a journey with no touch (and read back as one).
pub const NO_TOUCH_PATH: &str = "unknown";

/// One thing wrong with a path file.
#[derive(Clone, Debug, PartialEq)]
pub struct Problem {
    /// 1-based line where the record starts.
    pub line: usize,
    /// 1-based field, when the problem is in one.
    pub column: Option<usize>,
    /// The column's header name, when known.
    pub name: Option<String>,
    /// What was wrong and what was expected.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}", self.line)?;
        if let Some(c) = self.column {
            write!(f, ", column {c}")?;
        }
        if let Some(n) = &self.name {
            write!(f, " ({n})")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Why a path file could not be read: its first problems and how many there were.
pub type PathFileError = ProblemList<Problem>;

/// Collects problems, keeping the first [`MAX_PROBLEMS`].
type Problems = ProblemList<Problem>;

impl ProblemList<Problem> {
    fn add(&mut self, line: usize, column: Option<usize>, name: Option<&str>, message: String) {
        self.push(Problem {
            line,
            column,
            name: name.map(String::from),
            message,
        });
    }

    fn one(line: usize, column: Option<usize>, name: Option<&str>, message: String) -> Self {
        let mut p = Problems::default();
        p.add(line, column, name, message);
        p
    }
}

/// An RFC 4180 record reader over bytes.
struct Records<'a> {
    bytes: &'a [u8],
    pos: usize,
    /// 1-based line at `pos`.
    line: usize,
}

/// One malformed record: the field it broke in and why.
struct Broken {
    column: usize,
    message: String,
}

impl<'a> Records<'a> {
    fn new(bytes: &'a [u8]) -> Records<'a> {
        let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        Records {
            bytes,
            pos: 0,
            line: 1,
        }
    }

    /// Skip to just past the end of the current line.
    fn skip_line(&mut self) {
        match self.bytes[self.pos..].iter().position(|&b| b == b'\n') {
            Some(i) => {
                self.pos += i + 1;
                self.line += 1;
            }
            None => self.pos = self.bytes.len(),
        }
    }

    /// The next record's fields and its first line; `None` at the end.
    fn next_record(
        &mut self,
        fields: &mut Vec<Cow<'a, [u8]>>,
    ) -> Option<(usize, Result<(), Broken>)> {
        fields.clear();
        if self.pos >= self.bytes.len() {
            return None;
        }
        let start = self.line;
        let bytes = self.bytes;
        loop {
            if bytes.get(self.pos) == Some(&b'"') {
                // Quoted field: up to the closing quote; `""` is a quote.
                self.pos += 1;
                let mut value: Vec<u8> = Vec::new();
                loop {
                    let rest = &bytes[self.pos..];
                    let Some(q) = rest.iter().position(|&b| b == b'"') else {
                        self.line += rest.iter().filter(|&&b| b == b'\n').count();
                        self.pos = bytes.len();
                        let column = fields.len() + 1;
                        return Some((
                            start,
                            Err(Broken {
                                column,
                                message: "unterminated quoted field (expected a closing `\"`)"
                                    .into(),
                            }),
                        ));
                    };
                    self.line += rest[..q].iter().filter(|&&b| b == b'\n').count();
                    value.extend_from_slice(&rest[..q]);
                    self.pos += q + 1;
                    if bytes.get(self.pos) == Some(&b'"') {
                        value.push(b'"');
                        self.pos += 1;
                    } else {
                        break;
                    }
                }
                fields.push(Cow::Owned(value));
                while matches!(bytes.get(self.pos), Some(b' ' | b'\t')) {
                    self.pos += 1;
                }
                match bytes.get(self.pos) {
                    None => return Some((start, Ok(()))),
                    Some(b',') => self.pos += 1,
                    Some(b'\n') => {
                        self.pos += 1;
                        self.line += 1;
                        return Some((start, Ok(())));
                    }
                    Some(b'\r') if bytes.get(self.pos + 1) == Some(&b'\n') => {
                        self.pos += 2;
                        self.line += 1;
                        return Some((start, Ok(())));
                    }
                    Some(_) => {
                        let column = fields.len();
                        self.skip_line();
                        return Some((
                            start,
                            Err(Broken {
                                column,
                                message: "text after a closing quote (expected `,` or the end of the line)".into(),
                            }),
                        ));
                    }
                }
            } else {
                let rest = &bytes[self.pos..];
                let end = rest
                    .iter()
                    .position(|&b| b == b',' || b == b'\n')
                    .unwrap_or(rest.len());
                let mut field = &rest[..end];
                self.pos += end;
                match bytes.get(self.pos) {
                    Some(b',') => {
                        self.pos += 1;
                        fields.push(Cow::Borrowed(field));
                    }
                    Some(_) => {
                        // '\n'
                        if let Some(f) = field.strip_suffix(b"\r") {
                            field = f;
                        }
                        self.pos += 1;
                        self.line += 1;
                        fields.push(Cow::Borrowed(field));
                        return Some((start, Ok(())));
                    }
                    None => {
                        fields.push(Cow::Borrowed(field));
                        return Some((start, Ok(())));
                    }
                }
            }
        }
    }
}

fn trim(b: &[u8]) -> &[u8] {
    b.trim_ascii()
}

/// Where each known column is in a record.
struct Header {
    fields: usize,
    path: usize,
    conversions: usize,
    value: Option<usize>,
    nulls: Option<usize>,
}

fn read_header(fields: &[Cow<'_, [u8]>], line: usize, problems: &mut Problems) -> Option<Header> {
    let mut at: [Option<usize>; 4] = [None; 4];
    let names = [PATH, CONVERSIONS, VALUE, NULLS];
    for (i, f) in fields.iter().enumerate() {
        let name = trim(f);
        if let Some(k) = names.iter().position(|n| n.as_bytes() == name) {
            if at[k].is_some() {
                problems.add(
                    line,
                    Some(i + 1),
                    Some(names[k]),
                    "repeated header column (expected each column once)".into(),
                );
            } else {
                at[k] = Some(i);
            }
        }
    }
    for k in 0..2 {
        if at[k].is_none() {
            problems.add(
                line,
                None,
                None,
                format!(
                    "missing header column `{}` (expected `{PATH}`, `{CONVERSIONS}` and optionally `{VALUE}`, `{NULLS}`)",
                    names[k]
                ),
            );
        }
    }
    Some(Header {
        fields: fields.len(),
        path: at[0]?,
        conversions: at[1]?,
        value: at[2],
        nulls: at[3],
    })
}

/// A count: a finite number ≥ 0 (surrounding whitespace ignored).
fn number(field: &[u8]) -> Result<f64, String> {
    let digits = trim(field);
    if !digits.is_empty() && digits.len() <= 15 && digits.iter().all(u8::is_ascii_digit) {
        // A plain count (the usual case): exact, without the float parser.
        return Ok(digits.iter().fold(0u64, |n, &d| n * 10 + (d - b'0') as u64) as f64);
    }
    let text = std::str::from_utf8(trim(field)).map_err(|_| "invalid UTF-8".to_string())?;
    match text.parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(v + 0.0), // -0 → 0
        Ok(_) => Err(format!("expected a finite number ≥ 0, found `{text}`")),
        Err(_) if text.is_empty() => Err("expected a number ≥ 0, found an empty field".into()),
        Err(_) => Err(format!("expected a number ≥ 0, found `{text}`")),
    }
}

/// The steps of a trimmed path field, whitespace around each trimmed; no
/// step for an empty field or `unknown` alone.
fn step_bytes(path: &[u8]) -> impl Iterator<Item = &[u8]> {
    let none = path.is_empty() || path == NO_TOUCH_PATH.as_bytes();
    let mut rest = (!none).then_some(path);
    std::iter::from_fn(move || {
        let r = rest?;
        let (step, next) = match r.iter().position(|&b| b == b'>') {
            Some(i) => (&r[..i], Some(&r[i + 1..])),
            None => (r, None),
        };
        rest = next;
        Some(trim(step))
    })
}

/// What is wrong with step `i` (0-based) of a trimmed path field, if anything.
fn step_problem(i: usize, step: &[u8], path: &[u8]) -> Option<String> {
    if step.is_empty() {
        Some(format!(
            "empty step {} in `{}` (expected labels joined by ` > `)",
            i + 1,
            String::from_utf8_lossy(path)
        ))
    } else if std::str::from_utf8(step).is_err() {
        Some(format!("invalid UTF-8 in step {}", i + 1))
    } else {
        None
    }
}

/// A path field's steps, checked left to right (no empty step, valid UTF-8).
fn checked_steps(field: &[u8]) -> Result<Vec<String>, String> {
    let path = trim(field);
    step_bytes(path)
        .enumerate()
        .map(|(i, step)| match step_problem(i, step, path) {
            Some(problem) => Err(problem),
            None => Ok(String::from_utf8_lossy(step).into_owned()),
        })
        .collect()
}

/// Read a path file's bytes into rows, or list what is wrong with it.
pub fn parse(bytes: &[u8]) -> Result<Vec<PathRow>, PathFileError> {
    let mut rows = Vec::new();
    read(bytes, |field, counts| {
        let steps = checked_steps(field)?;
        if let Some([conversions, revenue, nulls]) = counts {
            rows.push(PathRow {
                steps,
                conversions,
                revenue,
                nulls,
            });
        }
        Ok(())
    })?;
    Ok(rows)
}

/// Lines (newlines + 1) and `>`s in `bytes`, counted 128 bytes at a time in
/// byte lanes (which the compiler vectorises; 128 cannot overflow a `u8`).
fn count_lines_and_arrows(bytes: &[u8]) -> (usize, usize) {
    let (mut lines, mut arrows) = (1usize, 0usize);
    for chunk in bytes.chunks(128) {
        let (mut l, mut a) = (0u8, 0u8);
        for &b in chunk {
            l += (b == b'\n') as u8;
            a += (b == b'>') as u8;
        }
        lines += l as usize;
        arrows += a as usize;
    }
    (lines, arrows)
}

/// Read a path file's bytes straight into journeys — the same journeys as
/// `Journeys::from_paths(&parse(bytes)?)`, without a `String` per step:
/// labels are interned as they are met. A file with no `"` after its header
/// is read in chunks in parallel (`chunked`); any other file, or one with a
/// problem, by the sequential reader, which lists the problems.
pub fn parse_journeys(bytes: &[u8]) -> Result<Journeys, PathFileError> {
    parse_journeys_in_chunks(bytes, chunked::MIN_CHUNK_BYTES)
}

/// [`parse_journeys`] with chunks of at least `min_chunk` bytes (tests use 1).
fn parse_journeys_in_chunks(bytes: &[u8], min_chunk: usize) -> Result<Journeys, PathFileError> {
    match chunked::parse_journeys(bytes, min_chunk) {
        Some(journeys) => Ok(journeys),
        None => parse_journeys_sequential(bytes),
    }
}

/// [`parse_journeys`] by the sequential RFC 4180 reader (any file, and the
/// problem report).
fn parse_journeys_sequential(bytes: &[u8]) -> Result<Journeys, PathFileError> {
    use crate::attribute::PathHasher;
    use std::collections::HashMap;
    use std::hash::BuildHasherDefault;
    // Labels are few and short: interned by their bytes with a
    // multiply-rotate hash, not SipHash (a crafted file could only slow this
    // map down, never change a result). A label's UTF-8 is checked once,
    // when it is first met; what lies between steps is ASCII.
    let mut ids: HashMap<Box<[u8]>, LabelId, BuildHasherDefault<PathHasher>> = HashMap::default();
    let mut names: Vec<String> = Vec::new();
    // Capacity from a count of lines and `>`s: one allocation each.
    let (lines, arrows) = count_lines_and_arrows(bytes);
    let mut journeys: Vec<Journey> = Vec::with_capacity(lines);
    let mut touches: Vec<Touch> = Vec::with_capacity(arrows + lines);
    let mut too_many = false;
    read(bytes, |field, counts| {
        let path = trim(field);
        let start = touches.len();
        for (i, step) in step_bytes(path).enumerate() {
            let label = match ids.get(step) {
                Some(&id) => id,
                None => {
                    if let Some(problem) = step_problem(i, step, path) {
                        touches.truncate(start);
                        return Err(problem);
                    }
                    let Ok(id) = LabelId::try_from(names.len()) else {
                        too_many = true;
                        touches.truncate(start);
                        return Ok(());
                    };
                    ids.insert(step.into(), id);
                    names.push(String::from_utf8_lossy(step).into_owned());
                    id
                }
            };
            touches.push(Touch {
                time_ms: i as i64 * 1000,
                label,
            });
        }
        let Some([conversions, revenue, nulls]) = counts else {
            touches.truncate(start);
            return Ok(());
        };
        let end = touches.len();
        journeys.push(Journey {
            start: start as u32,
            end: end as u32,
            lead_ms: (conversions > 0.0).then_some((end - start) as i64 * 1000),
            opp_ms: None,
            conversions,
            nulls,
            revenue,
        });
        Ok(())
    })?;
    if too_many {
        return Err(too_many_labels());
    }
    let (labels, n_channels, remap) = order_labels(&names).ok_or_else(too_many_labels)?;
    for t in &mut touches {
        t.label = remap[t.label as usize];
    }
    let mut out = Journeys::new(labels, n_channels);
    out.touches = touches;
    out.journeys = journeys;
    Ok(out)
}

fn too_many_labels() -> PathFileError {
    Problems::one(
        1,
        None,
        None,
        format!("more than {} distinct labels", LabelId::MAX - 3),
    )
}

/// The label table of journeys read from a file whose distinct labels are
/// `names` (any order): channels sorted by name, then `direct`, `unassigned`,
/// `unknown`, as `Journeys::from_paths` orders them; with the number of
/// channels and each name's id. `None` when there are too many labels.
fn order_labels(names: &[String]) -> Option<(Vec<String>, usize, Vec<LabelId>)> {
    if names.len() + 3 > LabelId::MAX as usize {
        return None;
    }
    const SPECIAL: [&str; 3] = ["direct", "unassigned", "unknown"];
    let mut channels: Vec<&str> = names
        .iter()
        .map(String::as_str)
        .filter(|l| !SPECIAL.contains(l))
        .collect();
    channels.sort_unstable();
    let mut labels: Vec<String> = channels.iter().map(|s| s.to_string()).collect();
    labels.extend(SPECIAL.map(String::from));
    let n_channels = channels.len();
    let remap: Vec<LabelId> = names
        .iter()
        .map(|n| match SPECIAL.iter().position(|s| s == n) {
            Some(k) => (n_channels + k) as LabelId,
            None => channels.binary_search(&n.as_str()).unwrap_or(0) as LabelId,
        })
        .collect();
    Some((labels, n_channels, remap))
}

/// Read a path file's records, calling `on_row(path field, counts)` for
/// each: counts are `[conversions, revenue, nulls]`, `None` when one is
/// malformed (the row is then only checked); `on_row` checks the path and
/// says what is wrong with it. Or list what is wrong with the file.
fn read(
    bytes: &[u8],
    mut on_row: impl FnMut(&[u8], Option<[f64; 3]>) -> Result<(), String>,
) -> Result<(), PathFileError> {
    let mut records = Records::new(bytes);
    let mut problems = Problems::default();
    let mut fields: Vec<Cow<'_, [u8]>> = Vec::new();
    let blank = |fields: &[Cow<'_, [u8]>]| fields.len() == 1 && trim(&fields[0]).is_empty();
    // Header: the first non-blank record.
    let header = loop {
        match records.next_record(&mut fields) {
            None => {
                problems.add(
                    1,
                    None,
                    None,
                    format!(
                        "no header (expected a first line naming `{PATH}`, `{CONVERSIONS}`, …)"
                    ),
                );
                return Err(problems);
            }
            Some((line, Err(b))) => {
                problems.add(line, Some(b.column), None, b.message);
                return Err(problems);
            }
            Some((_, Ok(()))) if blank(&fields) => continue,
            Some((line, Ok(()))) => match read_header(&fields, line, &mut problems) {
                Some(h) if problems.total == 0 => break h,
                _ => return Err(problems),
            },
        }
    };
    let name = |i: usize| -> Option<&'static str> {
        [
            (Some(header.path), PATH),
            (Some(header.conversions), CONVERSIONS),
            (header.value, VALUE),
            (header.nulls, NULLS),
        ]
        .iter()
        .find(|(at, _)| *at == Some(i))
        .map(|(_, n)| *n)
    };
    while let Some((line, record)) = records.next_record(&mut fields) {
        if let Err(b) = record {
            problems.add(line, Some(b.column), name(b.column - 1), b.message);
            continue;
        }
        if blank(&fields) {
            continue;
        }
        if fields.len() != header.fields {
            let column = fields.len().min(header.fields) + 1;
            problems.add(
                line,
                Some(column),
                None,
                format!(
                    "wrong field count: expected {} fields (as the header), found {}",
                    header.fields,
                    fields.len()
                ),
            );
            continue;
        }
        let before = problems.total;
        let mut count = |at: Option<usize>| -> f64 {
            let Some(i) = at else { return 0.0 };
            number(&fields[i]).unwrap_or_else(|message| {
                problems.add(line, Some(i + 1), name(i), message);
                0.0
            })
        };
        let conversions = count(Some(header.conversions));
        let revenue = count(header.value);
        let nulls = count(header.nulls);
        let counts = (problems.total == before).then_some([conversions, revenue, nulls]);
        if let Err(message) = on_row(&fields[header.path], counts) {
            problems.add(line, Some(header.path + 1), Some(PATH), message);
        }
    }
    if problems.total > 0 {
        return Err(problems);
    }
    Ok(())
}

/// A CSV field, quoted when it must be (RFC 4180).
fn push_field(out: &mut Vec<u8>, field: &str) {
    if field.contains([',', '"', '\n', '\r']) {
        out.push(b'"');
        out.extend_from_slice(field.replace('"', "\"\"").as_bytes());
        out.push(b'"');
    } else {
        out.extend_from_slice(field.as_bytes());
    }
}

/// Write rows as a path file (header first, LF line ends, numbers in their
/// shortest exact decimal form). A row with no step is written as
/// [`NO_TOUCH_PATH`]. Labels must not contain `>` (scenario labels are
/// snake_case).
pub fn write(rows: &[PathRow]) -> Vec<u8> {
    use std::io::Write;
    let mut out: Vec<u8> = Vec::with_capacity(64 * (rows.len() + 1));
    out.extend_from_slice(format!("{PATH},{CONVERSIONS},{VALUE},{NULLS}\n").as_bytes());
    let mut path = String::new();
    for r in rows {
        path.clear();
        if r.steps.is_empty() {
            path.push_str(NO_TOUCH_PATH);
        }
        for (i, s) in r.steps.iter().enumerate() {
            if i > 0 {
                path.push_str(" > ");
            }
            path.push_str(s);
        }
        push_field(&mut out, &path);
        // Writing into a Vec cannot fail.
        let _ = writeln!(out, ",{},{},{}", r.conversions, r.revenue, r.nulls);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(steps: &[&str], conversions: f64, revenue: f64, nulls: f64) -> PathRow {
        PathRow {
            steps: steps.iter().map(|s| s.to_string()).collect(),
            conversions,
            revenue,
            nulls,
        }
    }

    fn problems(text: &str) -> Vec<Problem> {
        parse(text.as_bytes()).expect_err("malformed").problems
    }

    #[test]
    fn reads_the_plain_format() {
        let rows = parse(
            b"path,total_conversions,total_conversion_value,total_null\n\
              c1 > c2 > c3,1,10.5,0\nc1,0,0,1\n",
        )
        .unwrap();
        assert_eq!(
            rows,
            vec![
                row(&["c1", "c2", "c3"], 1.0, 10.5, 0.0),
                row(&["c1"], 0.0, 0.0, 1.0)
            ]
        );
    }

    #[test]
    fn quoting_crlf_bom_whitespace_order_and_extra_columns() {
        let text = "\u{feff}total_null, extra ,\"path\",total_conversions\r\n\
                    2,\"x, y\",\"  a>b  >c \",3\r\n\
                    \r\n\
                    0,\"say \"\"hi\"\"\",\" a \",1.5e0\r\n\
                    1,z,\"a\nb\",0";
        let rows = parse(text.as_bytes()).unwrap();
        assert_eq!(
            rows,
            vec![
                row(&["a", "b", "c"], 3.0, 0.0, 2.0),
                row(&["a"], 1.5, 0.0, 0.0),
                row(&["a\nb"], 0.0, 0.0, 1.0),
            ]
        );
    }

    #[test]
    fn empty_and_unknown_paths_have_no_touch() {
        let rows = parse(b"path,total_conversions\n\"\",1\nunknown,2\n  ,3\n").unwrap();
        assert!(rows.iter().all(|r| r.steps.is_empty()));
        assert_eq!(rows.len(), 3);
    }

    #[test]
    fn every_problem_names_line_and_column() {
        let p = problems(
            "path,total_conversions,total_conversion_value,total_null\n\
             a>b,x,0,0\n\
             a,-1,0,NaN\n\
             a > > b,1,0,0\n\
             a,1,0\n\
             a,1,0,0,9\n\
             b,inf,0,0\n",
        );
        let shown: Vec<String> = p.iter().map(|p| p.to_string()).collect();
        assert_eq!(shown.len(), 7, "{shown:#?}");
        assert!(shown[0].starts_with("line 2, column 2 (total_conversions): expected a number"));
        assert!(shown[1].starts_with("line 3, column 2 (total_conversions): expected a finite"));
        assert!(shown[2].starts_with("line 3, column 4 (total_null): expected a finite"));
        assert!(shown[3].starts_with("line 4, column 1 (path): empty step 2"));
        assert!(shown[4].starts_with("line 5, column 4: wrong field count"));
        assert!(shown[5].starts_with("line 6, column 5: wrong field count"));
        assert!(shown[6].contains("`inf`"), "{}", shown[6]);
    }

    #[test]
    fn header_problems_are_listed_together() {
        let p = problems("total_conversion_value,path,path\n");
        assert_eq!(p.len(), 2, "{p:?}");
        assert!(p[0].to_string().contains("column 3 (path): repeated"));
        assert!(
            p[1].message
                .contains("missing header column `total_conversions`")
        );
        assert!(problems("")[0].message.contains("no header"));
        assert!(problems("\n\n")[0].message.contains("no header"));
    }

    #[test]
    fn quote_problems_and_lines_after_multiline_fields() {
        let p = problems("path,total_conversions\n\"a\nb\"x,1\nc,y\n\"open,1\n");
        assert_eq!(p.len(), 3, "{p:?}");
        assert_eq!((p[0].line, p[0].column), (2, Some(1)));
        assert!(p[0].message.contains("after a closing quote"));
        assert_eq!((p[1].line, p[1].column), (4, Some(2)));
        assert_eq!((p[2].line, p[2].column), (5, Some(1)));
        assert!(p[2].message.contains("unterminated"));
    }

    #[test]
    fn only_the_first_problems_are_kept_but_all_are_counted() {
        let mut text = String::from("path,total_conversions\n");
        for _ in 0..50 {
            text.push_str("a,oops\n");
        }
        let e = parse(text.as_bytes()).unwrap_err();
        assert_eq!((e.problems.len(), e.total), (MAX_PROBLEMS, 50));
        assert!(e.to_string().ends_with("… and 30 more"));
    }

    #[test]
    fn invalid_utf8_and_garbage_never_panic() {
        assert!(parse(b"path,total_conversions\n\xff\xfe,1\n").is_err());
        for text in [
            "\"",
            "\"\"\"",
            ",",
            "path",
            "path,total_conversions\n\"",
            "\r\n\r",
        ] {
            let _ = parse(text.as_bytes());
        }
    }

    #[test]
    fn journeys_read_directly_equal_journeys_from_rows() {
        let text = "path,total_conversions,total_conversion_value,total_null\n\
                    b > direct > a,1,10,2\nunknown,1,0,0\n\"zz\",0,0,4\n\
                    a > unknown > b > a,2,0.5,0\n,0,3,1\nunassigned,1,1,1\n";
        let direct = parse_journeys(text.as_bytes()).unwrap();
        let from_rows = Journeys::from_paths(&parse(text.as_bytes()).unwrap());
        assert_eq!(direct, from_rows);
        assert_eq!(
            direct.labels,
            ["a", "b", "zz", "direct", "unassigned", "unknown"]
        );
        for bad in [
            &b"path\n"[..],
            b"path,total_conversions\n\xff > > b,1\na > > \xff,x\n > a,1\n\"a>b\",-1\nb\xfe,0\n",
        ] {
            let e = parse_journeys(bad).unwrap_err();
            assert_eq!(e, parse(bad).unwrap_err());
            assert!(e.total > 0);
        }
        let e =
            parse_journeys(b"path,total_conversions\n\xff > > b,1\na > > \xff,x\n").unwrap_err();
        assert!(
            e.problems[0].message.contains("invalid UTF-8 in step 1"),
            "{e}"
        );
        assert!(e.problems[1].message.contains("expected a number"), "{e}");
        assert!(e.problems[2].message.contains("empty step 2"), "{e}");
    }

    #[test]
    fn journeys_to_paths_aggregate_sort_and_come_back() {
        // Touch times in days; converting journeys keep a 90-day window.
        let day = 86_400_000i64;
        let labels = ["a", "b", "direct", "unassigned", "unknown"].map(String::from);
        let mut js = Journeys::new(labels.to_vec(), 2);
        js.push(&[(0, 0), (day, 1)], Some(2 * day), 1.0, 5.0);
        js.push(&[(0, 1)], None, 0.0, 0.0);
        js.push(&[(0, 0), (day, 1)], None, 0.0, 0.0);
        js.push(&[(0, 1)], None, 0.0, 0.0);
        // The `b` touch is 200 days before the lead: outside the window.
        js.push(&[(0, 1)], Some(200 * day), 1.0, 2.0);
        js.push(&[], Some(0), 1.0, 0.0);
        js.push(&[(0, 2), (day, 0)], None, 0.0, 0.0);
        let rows = js.to_paths(90.0);
        let shown: Vec<(String, f64, f64, f64)> = rows
            .iter()
            .map(|r| (r.steps.join(">"), r.conversions, r.revenue, r.nulls))
            .collect();
        assert_eq!(
            shown,
            [
                ("".to_string(), 2.0, 2.0, 0.0),
                ("a>b".to_string(), 1.0, 5.0, 1.0),
                ("b".to_string(), 0.0, 0.0, 2.0),
                ("direct>a".to_string(), 0.0, 0.0, 1.0),
            ]
        );
        let back = parse(&write(&rows)).unwrap();
        assert_eq!(back, rows);
        assert!(
            String::from_utf8(write(&rows))
                .unwrap()
                .contains("\nunknown,2,2,0\n")
        );
    }

    proptest::proptest! {
        /// Any bytes: no panic, and both readers say the same thing.
        #[test]
        fn any_bytes_never_panic_and_both_readers_agree(
            with_header in proptest::bool::ANY,
            body in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::strategy::Just(b'a'),
                    proptest::strategy::Just(b'b'),
                    proptest::strategy::Just(b'>'),
                    proptest::strategy::Just(b','),
                    proptest::strategy::Just(b'"'),
                    proptest::strategy::Just(b'\n'),
                    proptest::strategy::Just(b'\r'),
                    proptest::strategy::Just(b' '),
                    proptest::strategy::Just(b'1'),
                    proptest::strategy::Just(b'.'),
                    proptest::num::u8::ANY,
                ],
                0..120,
            ),
        ) {
            let mut bytes = if with_header {
                b"path,total_conversions,total_null\n".to_vec()
            } else {
                Vec::new()
            };
            bytes.extend(body);
            let chunked = parse_journeys_in_chunks(&bytes, 1);
            match (parse(&bytes), parse_journeys(&bytes)) {
                (Ok(rows), Ok(js)) => {
                    proptest::prop_assert_eq!(&Journeys::from_paths(&rows), &js);
                    proptest::prop_assert_eq!(chunked, Ok(js));
                }
                (Err(a), Err(b)) => {
                    proptest::prop_assert_eq!(&a, &b);
                    proptest::prop_assert_eq!(chunked, Err(a));
                }
                (a, b) => proptest::prop_assert!(false, "{:?} vs {:?}", a, b),
            }
        }
    }

    #[test]
    fn write_then_parse_is_lossless() {
        let rows = vec![
            row(&["a", "b"], 2.0, 1_234.567_890_123, 5.0),
            row(&[], 1.0, 0.1, 0.0),
            row(&["with,comma", "q\"uote"], 0.0, 0.0, 3.0),
            row(&["c"], 1e-7, 1e300, 0.0),
        ];
        let bytes = write(&rows);
        assert!(bytes.starts_with(b"path,total_conversions,total_conversion_value,total_null\n"));
        assert_eq!(parse(&bytes).unwrap(), rows);
    }
}
