//! One record of an event-log table read as typed fields: ids, times,
//! numbers and interned strings, each problem named with its file, line,
//! column and what was expected. Never panics on input.

use super::read::Problems;
use crate::io::csv::CsvStream;
use std::collections::HashMap;
use std::io::BufRead;
use std::num::NonZeroU64;

/// Interned strings with u16 ids, in order of first appearance.
#[derive(Default)]
pub(super) struct Interner {
    pub(super) ids: HashMap<Box<[u8]>, u16>,
    pub(super) names: Vec<String>,
}

impl Interner {
    pub(super) fn id(&mut self, s: &str) -> Option<u16> {
        // Label-like columns hold a handful of values: a scan beats hashing.
        if self.names.len() <= 16 {
            if let Some(i) = self.names.iter().position(|n| n == s) {
                return Some(i as u16);
            }
        } else if let Some(&id) = self.ids.get(s.as_bytes()) {
            return Some(id);
        }
        let id = u16::try_from(self.names.len()).ok()?;
        self.ids.insert(s.as_bytes().into(), id);
        self.names.push(s.to_string());
        Some(id)
    }
}

/// One record being read: typed access to its fields, problems recorded.
pub(super) struct Row<'a, R> {
    pub(super) csv: &'a CsvStream<R>,
    /// Field index of each of the table's columns.
    pub(super) at: &'a [Option<usize>],
    pub(super) columns: &'static [(&'static str, bool)],
    pub(super) file: &'a str,
    pub(super) line: usize,
    pub(super) problems: &'a mut Problems,
    pub(super) ok: bool,
}

/// Numbers the reader parses: a fast path for plain digits, else `FromStr`.
pub(super) trait Number: std::str::FromStr {
    fn plain(b: &[u8]) -> Option<Self>;
}

/// Plain decimal digits (at most 20): the value, None on anything else or overflow.
pub(super) fn digits(b: &[u8]) -> Option<u64> {
    if b.is_empty() || b.len() > 20 {
        return None;
    }
    b.iter().try_fold(0u64, |v, &c| {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        v.checked_mul(10)?.checked_add(u64::from(d))
    })
}

impl Number for u64 {
    fn plain(b: &[u8]) -> Option<u64> {
        digits(b)
    }
}

impl Number for i64 {
    fn plain(b: &[u8]) -> Option<i64> {
        i64::try_from(digits(b)?).ok()
    }
}

impl Number for u16 {
    fn plain(b: &[u8]) -> Option<u16> {
        u16::try_from(digits(b)?).ok()
    }
}

impl Number for f32 {
    fn plain(b: &[u8]) -> Option<f32> {
        // Whole numbers only; the rest goes through `FromStr` (exact either way).
        digits(b).filter(|&v| v < 1 << 24).map(|v| v as f32)
    }
}

impl Number for f64 {
    fn plain(b: &[u8]) -> Option<f64> {
        digits(b).filter(|&v| v < 1 << 53).map(|v| v as f64)
    }
}

impl<'a, R: BufRead> Row<'a, R> {
    pub(super) fn bad(&mut self, c: usize, message: String) {
        self.ok = false;
        let (name, _) = self.columns[c];
        self.problems.add(
            self.file,
            Some(self.line),
            self.at[c].map(|i| i + 1),
            Some(name),
            message,
        );
    }

    /// The field's bytes (trimmed; empty when the column is absent).
    pub(super) fn bytes(&self, c: usize) -> &'a [u8] {
        let csv: &'a CsvStream<R> = self.csv;
        self.at[c].map_or(&[], |i| csv.field(i))
    }

    /// The field's text, None when the column is absent or the field empty.
    pub(super) fn text(&mut self, c: usize) -> Option<&'a str> {
        let bytes = self.bytes(c);
        if bytes.is_empty() {
            return None;
        }
        match std::str::from_utf8(bytes) {
            Ok(s) => Some(s),
            Err(_) => {
                self.bad(c, "invalid UTF-8".into());
                None
            }
        }
    }

    /// A required text field.
    pub(super) fn need_text(&mut self, c: usize) -> Option<&'a str> {
        let t = self.text(c);
        if t.is_none() && self.ok {
            self.bad(c, "empty; a value is required".into());
        }
        t
    }

    pub(super) fn parse<T: Number>(&mut self, c: usize, what: &str) -> Option<T> {
        if let Some(v) = T::plain(self.bytes(c)) {
            return Some(v);
        }
        let text = self.text(c)?;
        match text.parse::<T>() {
            Ok(v) => Some(v),
            Err(_) => {
                self.bad(c, format!("`{text}` is not {what}"));
                None
            }
        }
    }

    pub(super) fn need<T: Number>(&mut self, c: usize, what: &str) -> Option<T> {
        if self.at[c].is_some() && self.bytes(c).is_empty() {
            self.bad(c, format!("empty; expected {what}"));
            return None;
        }
        self.parse(c, what)
    }

    pub(super) fn id(&mut self, c: usize) -> Option<u64> {
        self.need(c, "an unsigned integer id")
    }

    pub(super) fn time(&mut self, c: usize) -> Option<i64> {
        self.need(
            c,
            "a time in integer milliseconds since the Unix epoch, UTC (e.g. 1772442042677)",
        )
    }

    pub(super) fn nonzero(&mut self, c: usize) -> Option<NonZeroU64> {
        let v: u64 = self.parse(c, "an unsigned integer")?;
        let nz = NonZeroU64::new(v);
        if nz.is_none() {
            self.bad(c, "0 is not an id; leave the field empty for none".into());
        }
        nz
    }

    pub(super) fn finite(&mut self, c: usize, v: Option<f64>) -> Option<f64> {
        let v = v?;
        if v.is_finite() {
            Some(v)
        } else {
            self.bad(c, format!("`{v}` is not a finite number"));
            None
        }
    }
}
