//! Path files: ChannelAttribution's aggregated path format (DESIGN §8), a CSV
//! (RFC 4180: quoted fields, `""` inside quotes, LF or CRLF) whose header
//! names the columns `path`, `total_conversions`, `total_conversion_value`
//! (read as revenue) and `total_null`, with a path's steps joined by ` > `.
//! [`parse`] reads one into [`PathRow`]s (then `Journeys::from_paths`);
//! [`write`] writes rows (e.g. `Journeys::to_paths`) back.
//!
//! **Leniency.** Columns in any order; other columns are ignored (exports
//! often carry more); `total_conversion_value` and `total_null` may be
//! absent (0 revenue, 0 non-converting journeys — as ChannelAttribution's
//! `var_value` and `var_null` are optional); whitespace around steps, numbers
//! and header names is ignored; a UTF-8 BOM and blank lines are skipped. An
//! empty path, or the path `unknown` alone (DESIGN §13: a lead with no web
//! history), is a journey with no touch, which every model credits to
//! `unknown`; [`write`] writes such a row as `unknown`, so a round trip is
//! lossless.
//!
//! **Strictness.** Everything else is a [`Problem`] naming its line (where the
//! record starts), column (1-based field) and what was expected: a missing or
//! repeated header column, a wrong field count, a count that is not a finite
//! number ≥ 0, an empty step (`a > > b`), an unterminated quote, text after a
//! closing quote, invalid UTF-8. Reading goes on after a problem so all of
//! them are counted; the first [`MAX_PROBLEMS`] are kept in detail.
//! Must never: panic on any input, print, do file I/O, or name the world, the
//! observation layer or the truth ledger.

use crate::attribute::PathRow;
use std::borrow::Cow;
use std::fmt;

/// Problems kept in detail (the rest are only counted).
pub const MAX_PROBLEMS: usize = 20;

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
#[derive(Clone, Debug, PartialEq)]
pub struct PathFileError {
    /// The first [`MAX_PROBLEMS`] problems, in file order.
    pub problems: Vec<Problem>,
    /// Every problem found.
    pub total: usize,
}

impl fmt::Display for PathFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} problem(s)", self.total)?;
        for p in &self.problems {
            write!(f, "\n  {p}")?;
        }
        if self.total > self.problems.len() {
            write!(f, "\n  … and {} more", self.total - self.problems.len())?;
        }
        Ok(())
    }
}

impl std::error::Error for PathFileError {}

/// Collects problems, keeping the first [`MAX_PROBLEMS`].
#[derive(Default)]
struct Problems {
    kept: Vec<Problem>,
    total: usize,
}

impl Problems {
    fn push(&mut self, line: usize, column: Option<usize>, name: Option<&str>, message: String) {
        self.total += 1;
        if self.kept.len() < MAX_PROBLEMS {
            self.kept.push(Problem {
                line,
                column,
                name: name.map(String::from),
                message,
            });
        }
    }

    fn into_error(self) -> PathFileError {
        PathFileError {
            problems: self.kept,
            total: self.total,
        }
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
                problems.push(
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
            problems.push(
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
    let text = std::str::from_utf8(trim(field)).map_err(|_| "invalid UTF-8".to_string())?;
    match text.parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(v + 0.0), // -0 → 0
        Ok(_) => Err(format!("expected a finite number ≥ 0, found `{text}`")),
        Err(_) if text.is_empty() => Err("expected a number ≥ 0, found an empty field".into()),
        Err(_) => Err(format!("expected a number ≥ 0, found `{text}`")),
    }
}

/// A path's steps (whitespace around each ignored); empty or `unknown` alone → no step.
fn steps(field: &[u8]) -> Result<Vec<String>, String> {
    let text = std::str::from_utf8(trim(field)).map_err(|_| "invalid UTF-8".to_string())?;
    if text.is_empty() || text == NO_TOUCH_PATH {
        return Ok(Vec::new());
    }
    let mut out = Vec::with_capacity(text.len() / 8 + 1);
    for (i, step) in text.split('>').enumerate() {
        let step = step.trim();
        if step.is_empty() {
            return Err(format!(
                "empty step {} in `{text}` (expected labels joined by ` > `)",
                i + 1
            ));
        }
        out.push(step.to_string());
    }
    Ok(out)
}

/// Read a path file's bytes into rows, or list what is wrong with it.
pub fn parse(bytes: &[u8]) -> Result<Vec<PathRow>, PathFileError> {
    let mut records = Records::new(bytes);
    let mut problems = Problems::default();
    let mut fields: Vec<Cow<'_, [u8]>> = Vec::new();
    let blank = |fields: &[Cow<'_, [u8]>]| fields.len() == 1 && trim(&fields[0]).is_empty();
    // Header: the first non-blank record.
    let header = loop {
        match records.next_record(&mut fields) {
            None => {
                problems.push(
                    1,
                    None,
                    None,
                    format!(
                        "no header (expected a first line naming `{PATH}`, `{CONVERSIONS}`, …)"
                    ),
                );
                return Err(problems.into_error());
            }
            Some((line, Err(b))) => {
                problems.push(line, Some(b.column), None, b.message);
                return Err(problems.into_error());
            }
            Some((_, Ok(()))) if blank(&fields) => continue,
            Some((line, Ok(()))) => match read_header(&fields, line, &mut problems) {
                Some(h) if problems.total == 0 => break h,
                _ => return Err(problems.into_error()),
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
    let mut rows = Vec::new();
    while let Some((line, record)) = records.next_record(&mut fields) {
        if let Err(b) = record {
            problems.push(line, Some(b.column), name(b.column - 1), b.message);
            continue;
        }
        if blank(&fields) {
            continue;
        }
        if fields.len() != header.fields {
            let column = fields.len().min(header.fields) + 1;
            problems.push(
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
                problems.push(line, Some(i + 1), name(i), message);
                0.0
            })
        };
        let conversions = count(Some(header.conversions));
        let revenue = count(header.value);
        let nulls = count(header.nulls);
        let steps = steps(&fields[header.path]).unwrap_or_else(|message| {
            problems.push(line, Some(header.path + 1), Some(PATH), message);
            Vec::new()
        });
        if problems.total == before {
            rows.push(PathRow {
                steps,
                conversions,
                revenue,
                nulls,
            });
        }
    }
    if problems.total > 0 {
        return Err(problems.into_error());
    }
    Ok(rows)
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
