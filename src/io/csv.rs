//! The CSV tokenizer every reader of user tables shares: RFC 4180 records
//! (quotes, doubled quotes, line breaks inside quotes, CRLF, a BOM, blank
//! lines skipped) streamed one at a time into reused buffers, with the line
//! and column of a record that cannot be split. Knows nothing of columns or
//! types. Must never: panic on input, or allocate per field.

use std::io::BufRead;

/// What a record reader hands back.
pub(crate) enum Next {
    /// A record starting on this line; fields in the stream's buffers.
    Record(usize),
    /// A record that could not be split (line, column, message).
    Broken(usize, usize, String),
    End,
}

/// A streaming RFC 4180 record reader: one record at a time into reused
/// buffers (fields are spans of `raw`, or of `unquoted` for a record with quotes).
pub(crate) struct CsvStream<R> {
    reader: R,
    next_line: usize,
    raw: Vec<u8>,
    unquoted: Vec<u8>,
    spans: Vec<(usize, usize)>,
    quoted: bool,
    started: bool,
}

enum Split {
    Done,
    /// The record goes on past the end of `raw` (a quoted line break).
    Incomplete(usize),
    Bad(usize, &'static str),
}

impl<R: BufRead> CsvStream<R> {
    pub(crate) fn new(reader: R) -> CsvStream<R> {
        CsvStream {
            reader,
            next_line: 1,
            raw: Vec::with_capacity(512),
            unquoted: Vec::with_capacity(512),
            spans: Vec::with_capacity(16),
            quoted: false,
            started: false,
        }
    }

    pub(crate) fn next(&mut self) -> std::io::Result<Next> {
        loop {
            self.raw.clear();
            if self.reader.read_until(b'\n', &mut self.raw)? == 0 {
                return Ok(Next::End);
            }
            let line = self.next_line;
            self.next_line += 1;
            if !self.started {
                self.started = true;
                if self.raw.starts_with(b"\xEF\xBB\xBF") {
                    self.raw.drain(..3);
                }
            }
            if self.raw.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            if !self.raw.contains(&b'"') {
                let mut end = self.raw.len();
                while end > 0 && matches!(self.raw[end - 1], b'\n' | b'\r') {
                    end -= 1;
                }
                self.spans.clear();
                let mut start = 0;
                for (i, &b) in self.raw[..end].iter().enumerate() {
                    if b == b',' {
                        self.spans.push((start, i));
                        start = i + 1;
                    }
                }
                self.spans.push((start, end));
                self.quoted = false;
                return Ok(Next::Record(line));
            }
            loop {
                match self.split_quoted() {
                    Split::Done => {
                        self.quoted = true;
                        return Ok(Next::Record(line));
                    }
                    Split::Bad(col, msg) => return Ok(Next::Broken(line, col, msg.into())),
                    Split::Incomplete(col) => {
                        if self.reader.read_until(b'\n', &mut self.raw)? == 0 {
                            return Ok(Next::Broken(
                                line,
                                col,
                                "unterminated quote (the file ends inside a quoted field)".into(),
                            ));
                        }
                        self.next_line += 1;
                    }
                }
            }
        }
    }

    fn split_quoted(&mut self) -> Split {
        let raw = &self.raw;
        let out = &mut self.unquoted;
        out.clear();
        self.spans.clear();
        let n = raw.len();
        let mut i = 0;
        let mut col = 1;
        loop {
            let start = out.len();
            // Leading whitespace before an opening quote is allowed.
            let mut j = i;
            while j < n && matches!(raw[j], b' ' | b'\t') {
                j += 1;
            }
            if j < n && raw[j] == b'"' {
                i = j + 1;
                loop {
                    if i >= n {
                        return Split::Incomplete(col);
                    }
                    if raw[i] == b'"' {
                        if i + 1 < n && raw[i + 1] == b'"' {
                            out.push(b'"');
                            i += 2;
                        } else {
                            i += 1;
                            break;
                        }
                    } else {
                        out.push(raw[i]);
                        i += 1;
                    }
                }
                while i < n && matches!(raw[i], b' ' | b'\t') {
                    i += 1;
                }
                if i < n && !matches!(raw[i], b',' | b'\r' | b'\n') {
                    return Split::Bad(col, "text after a closing quote");
                }
            } else {
                while i < n && !matches!(raw[i], b',' | b'\n') {
                    out.push(raw[i]);
                    i += 1;
                }
                while out.len() > start && out[out.len() - 1] == b'\r' {
                    out.pop();
                }
            }
            self.spans.push((start, out.len()));
            if i < n && raw[i] == b',' {
                i += 1;
                col += 1;
                continue;
            }
            return Split::Done;
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.spans.len()
    }

    pub(crate) fn field(&self, i: usize) -> &[u8] {
        let (a, b) = self.spans[i];
        let bytes = if self.quoted {
            &self.unquoted[a..b]
        } else {
            &self.raw[a..b]
        };
        bytes.trim_ascii()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(text: &str) -> Vec<Result<Vec<String>, (usize, usize)>> {
        let mut csv = CsvStream::new(text.as_bytes());
        let mut out = Vec::new();
        loop {
            match csv.next().unwrap() {
                Next::End => return out,
                Next::Broken(l, c, _) => out.push(Err((l, c))),
                Next::Record(_) => out.push(Ok((0..csv.len())
                    .map(|i| String::from_utf8(csv.field(i).to_vec()).unwrap())
                    .collect())),
            }
        }
    }

    #[test]
    fn records_quotes_crlf_bom_and_blank_lines() {
        let text = "\u{feff}a,b\r\n\r\n\"x,1\",\"say \"\"hi\"\"\"\n\"two\nlines\",z\n p , q \n";
        let r = records(text);
        assert_eq!(r[0], Ok(vec!["a".into(), "b".into()]));
        assert_eq!(r[1], Ok(vec!["x,1".into(), "say \"hi\"".into()]));
        assert_eq!(r[2], Ok(vec!["two\nlines".into(), "z".into()]));
        assert_eq!(r[3], Ok(vec!["p".into(), "q".into()]));
        assert_eq!(r.len(), 4);
    }

    #[test]
    fn broken_records_name_line_and_column() {
        let r = records("a,b\n1,\"x\"y\n2,3\n4,\"open\n");
        assert_eq!(r[1], Err((2, 2)));
        assert_eq!(r[2], Ok(vec!["2".into(), "3".into()]));
        assert_eq!(r[3], Err((4, 2)));
    }
}
