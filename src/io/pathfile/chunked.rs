//! The fast path of [`super::parse_journeys`]: a path file with no `"` in its
//! body has one record per line, so the body is cut at line ends into
//! chunks parsed in parallel, each into local journeys over a local label
//! table, then merged in chunk order with a label remap. The result is the
//! sequential reader's, whatever the thread count: labels are ordered by name
//! (not by first appearance) and chunks are concatenated in file order.
//!
//! This path only accepts: at the first problem of any kind (or a quote) it
//! gives up and the sequential reader reads the file again, so problems are
//! reported by one reader only, with their lines and columns.
//! Must never: panic on any input, print, do file I/O, or name the world, the
//! observation layer or the truth ledger.

use super::{Header, Records, number, read_header, trim};
use crate::attribute::{Journey, Journeys, Touch};
use crate::log::LabelId;
use rayon::prelude::*;
use std::borrow::Cow;

/// Bodies smaller than this are read as one chunk.
pub(super) const MIN_CHUNK_BYTES: usize = 1 << 20;

/// Read a quote-free path file into journeys; `None` when the file has a
/// quote, any problem, or too many labels (the sequential reader then decides).
///
/// Each chunk writes into its own region of the final `touches` and
/// `journeys` (sized from counts of line ends and `>`s, which bound them), so
/// nothing is copied but the few rows' worth of slack left by blank lines
/// and paths with no touch.
pub(super) fn parse_journeys(bytes: &[u8], min_chunk: usize) -> Option<Journeys> {
    let (header, body) = header_and_body(bytes)?;
    let n_chunks = (body.len() / min_chunk.max(1)).clamp(1, rayon::current_num_threads().max(1));
    let chunks = split_at_lines(body, n_chunks);
    // Room per chunk: a touch per `>` or line, a journey per line.
    let room: Vec<(usize, usize)> = chunks
        .par_iter()
        .map(|chunk| {
            let (newlines, arrows, quotes) = count_bytes(chunk);
            let lines = newlines + usize::from(chunk.last().is_some_and(|&b| b != b'\n'));
            (quotes == 0).then_some((arrows + lines, lines))
        })
        .collect::<Option<_>>()?;
    let blank_touch = Touch {
        time_ms: 0,
        label: 0,
    };
    let blank_journey = Journey {
        start: 0,
        end: 0,
        lead_ms: None,
        opp_ms: None,
        conversions: 0.0,
        nulls: 0.0,
        revenue: 0.0,
    };
    // Filled in parallel, so the pages are first touched by both threads.
    let mut touches: Vec<Touch> = Vec::new();
    touches.par_extend(
        (0..room.iter().map(|r| r.0).sum::<usize>())
            .into_par_iter()
            .map(|_| blank_touch),
    );
    let mut journeys: Vec<Journey> = Vec::new();
    journeys.par_extend(
        (0..room.iter().map(|r| r.1).sum::<usize>())
            .into_par_iter()
            .map(|_| blank_journey),
    );
    let parts: Vec<Part> = regions(&mut touches, &mut journeys, &room)
        .into_par_iter()
        .zip(chunks)
        .map(|((t, j), chunk)| Part::parse(chunk, &header, t, j))
        .collect::<Option<_>>()?;
    let (labels, n_channels, maps) = merge_labels(&parts)?;
    // Touch index shift per part: the touches of the parts before it.
    let shifts: Vec<usize> = parts
        .iter()
        .scan(0, |before, p| {
            let shift = *before;
            *before += p.touches;
            Some(shift)
        })
        .collect();
    regions(&mut touches, &mut journeys, &room)
        .into_par_iter()
        .zip(parts.par_iter().zip(&maps).zip(&shifts))
        .for_each(|((t, j), ((part, map), &shift))| {
            for touch in &mut t[..part.touches] {
                touch.label = map.get(touch.label as usize).copied().unwrap_or(0);
            }
            for journey in &mut j[..part.journeys] {
                journey.start = (journey.start as usize + shift) as u32;
                journey.end = (journey.end as usize + shift) as u32;
            }
        });
    // Close the gaps between regions (none when every line has a touch).
    let (mut t_at, mut j_at, mut t_to, mut j_to) = (0, 0, 0, 0);
    for (part, &(t_room, j_room)) in parts.iter().zip(&room) {
        touches.copy_within(t_at..t_at + part.touches, t_to);
        journeys.copy_within(j_at..j_at + part.journeys, j_to);
        (t_at, j_at) = (t_at + t_room, j_at + j_room);
        (t_to, j_to) = (t_to + part.touches, j_to + part.journeys);
    }
    touches.truncate(t_to);
    journeys.truncate(j_to);
    let mut out = Journeys::new(labels, n_channels);
    out.touches = touches;
    out.journeys = journeys;
    Some(out)
}

/// Consecutive regions of `touches` and `journeys`, one per chunk's room.
fn regions<'a>(
    mut touches: &'a mut [Touch],
    mut journeys: &'a mut [Journey],
    room: &[(usize, usize)],
) -> Vec<(&'a mut [Touch], &'a mut [Journey])> {
    room.iter()
        .map(|&(t_room, j_room)| {
            let (t, t_rest) = std::mem::take(&mut touches).split_at_mut(t_room);
            let (j, j_rest) = std::mem::take(&mut journeys).split_at_mut(j_room);
            (touches, journeys) = (t_rest, j_rest);
            (t, j)
        })
        .collect()
}

/// The header (first non-blank record, read by the RFC 4180 reader) and the
/// bytes after it; `None` on any header problem.
fn header_and_body(bytes: &[u8]) -> Option<(Header, &[u8])> {
    let mut records = Records::new(bytes);
    let mut fields: Vec<Cow<'_, [u8]>> = Vec::new();
    loop {
        let (line, record) = records.next_record(&mut fields)?;
        record.ok()?;
        if fields.len() == 1 && trim(&fields[0]).is_empty() {
            continue;
        }
        let mut problems = super::Problems::default();
        let header = read_header(&fields, line, &mut problems)?;
        return (problems.total == 0).then_some((header, &records.bytes[records.pos..]));
    }
}

/// `n` pieces of `body`, each ending just after a newline (the last at the end).
fn split_at_lines(body: &[u8], n: usize) -> Vec<&[u8]> {
    let mut pieces = Vec::with_capacity(n);
    let mut start = 0;
    for k in 1..n {
        let target = (body.len() * k / n).max(start);
        let end = match body[target..].iter().position(|&b| b == b'\n') {
            Some(i) => target + i + 1,
            None => body.len(),
        };
        pieces.push(&body[start..end]);
        start = end;
    }
    pieces.push(&body[start..]);
    pieces
}

/// One chunk's journeys, written into its regions of the final vectors.
struct Part {
    /// Label bytes by local id.
    names: Vec<Box<[u8]>>,
    /// Touches written (with local label ids).
    touches: usize,
    /// Journeys written (touch indices relative to the chunk's region).
    journeys: usize,
}

impl Part {
    /// Parse a chunk of whole lines into `touches` and `journeys`; `None` at
    /// any problem (or if they run out of room, which the counts rule out).
    fn parse(
        chunk: &[u8],
        header: &Header,
        touches: &mut [Touch],
        journeys: &mut [Journey],
    ) -> Option<Part> {
        let mut labels = LabelTable::default();
        let (mut n_touches, mut n_journeys) = (0usize, 0usize);
        let mut counts = [0.0f64; 3];
        let columns = [Some(header.conversions), header.value, header.nulls];
        let mut pos = 0;
        while pos < chunk.len() {
            if chunk[pos].is_ascii_whitespace() {
                let len = chunk[pos..]
                    .iter()
                    .position(|&b| b == b'\n')
                    .unwrap_or(chunk.len() - pos);
                if trim(&chunk[pos..pos + len]).is_empty() {
                    pos += len + 1;
                    continue; // a blank line
                }
            }
            let start = n_touches;
            let mut column = 0;
            counts.fill(0.0);
            // Whether the path field has steps (not empty or `unknown` alone).
            let mut has_steps = true;
            loop {
                let end;
                if column == header.path {
                    let (e, steps) = path_field(chunk, pos, &mut labels, touches, &mut n_touches)?;
                    end = e;
                    has_steps = steps;
                } else {
                    end = field_end::<false>(chunk, pos);
                    if let Some(k) = columns.iter().position(|&c| c == Some(column)) {
                        counts[k] = count(&chunk[pos..end])?;
                    }
                }
                column += 1;
                pos = end + 1;
                if chunk.get(end) != Some(&b',') {
                    break;
                }
            }
            if column != header.fields {
                return None;
            }
            if !has_steps {
                n_touches = start;
            }
            let [conversions, revenue, nulls] = counts;
            *journeys.get_mut(n_journeys)? = Journey {
                start: start as u32,
                end: n_touches as u32,
                lead_ms: (conversions > 0.0).then_some((n_touches - start) as i64 * 1000),
                opp_ms: None,
                conversions,
                nulls,
                revenue,
            };
            n_journeys += 1;
        }
        Some(Part {
            names: labels.names,
            touches: n_touches,
            journeys: n_journeys,
        })
    }
}

/// Read the path field starting at `pos` up to `,`, a newline or the end,
/// pushing its touches; returns where it ends and whether it has steps
/// (an empty field or `unknown` alone has none). `None` at an empty step,
/// invalid UTF-8 or too many labels.
fn path_field(
    chunk: &[u8],
    mut pos: usize,
    labels: &mut LabelTable,
    touches: &mut [Touch],
    n_touches: &mut usize,
) -> Option<(usize, bool)> {
    let mut i = 0usize;
    loop {
        let end = field_end::<true>(chunk, pos);
        let step = trim(&chunk[pos..end]);
        let more = chunk.get(end) == Some(&b'>');
        if i == 0 && !more {
            // One step: empty or `unknown` alone is a journey with no touch.
            if step.is_empty() || step == super::NO_TOUCH_PATH.as_bytes() {
                return Some((end, false));
            }
        }
        if step.is_empty() {
            return None;
        }
        let label = labels.intern(step)?;
        *touches.get_mut(*n_touches)? = Touch {
            time_ms: i as i64 * 1000,
            label,
        };
        *n_touches += 1;
        i += 1;
        pos = end + 1;
        if !more {
            return Some((end, true));
        }
    }
}

/// The first `,` or newline (or, with `STEP`, `>`) at or after `at`, or the
/// end: 8 bytes at a time (a byte of a word equal to `d` is a zero byte of
/// `word ^ d·0x0101…`; the lowest flagged byte is always a true zero).
fn field_end<const STEP: bool>(bytes: &[u8], mut at: usize) -> usize {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let zero_bytes = |v: u64| v.wrapping_sub(LO) & !v & HI;
    while let Some(word) = bytes.get(at..at + 8) {
        let w = u64::from_le_bytes(word.try_into().unwrap_or([0; 8]));
        let mut found = zero_bytes(w ^ (LO * b',' as u64)) | zero_bytes(w ^ (LO * b'\n' as u64));
        if STEP {
            found |= zero_bytes(w ^ (LO * b'>' as u64));
        }
        if found != 0 {
            return at + (found.trailing_zeros() / 8) as usize;
        }
        at += 8;
    }
    let rest = &bytes[at..];
    at + rest
        .iter()
        .position(|&b| b == b',' || b == b'\n' || (STEP && b == b'>'))
        .unwrap_or(rest.len())
}

/// A count, as [`number`] reads it, with a fast exact path for plain
/// decimals; `None` for anything [`number`] rejects.
fn count(field: &[u8]) -> Option<f64> {
    /// Powers of ten that are exact in an `f64`.
    const POW10: [f64; 23] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
        1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
    ];
    let text = trim(field);
    let mut mantissa = 0u64;
    let mut digits = 0usize;
    let mut fraction: Option<usize> = None;
    for (k, &b) in text.iter().enumerate() {
        match b {
            b'0'..=b'9' => {
                mantissa = mantissa.wrapping_mul(10).wrapping_add((b - b'0') as u64);
                digits += 1;
            }
            b'.' if fraction.is_none() && k > 0 => fraction = Some(k + 1),
            _ => return number(field).ok(),
        }
    }
    let decimals = fraction.map_or(0, |f| text.len() - f);
    // Clinger's fast path: an exact mantissa (< 2^53) divided by an exact
    // power of ten is correctly rounded, so equal to `str::parse::<f64>`.
    if digits == 0
        || digits > 19
        || decimals > 22
        || mantissa >= 1 << 53
        || fraction == Some(text.len())
    {
        return number(field).ok();
    }
    Some(mantissa as f64 / POW10[decimals])
}

/// Newlines, `>`s and `"`s in `bytes`, counted 128 bytes at a time in byte
/// lanes (which the compiler vectorises; 128 cannot overflow a `u8`).
fn count_bytes(bytes: &[u8]) -> (usize, usize, usize) {
    let (mut lines, mut arrows, mut quotes) = (0usize, 0usize, 0usize);
    for chunk in bytes.chunks(128) {
        let (mut l, mut a, mut q) = (0u8, 0u8, 0u8);
        for &b in chunk {
            l += (b == b'\n') as u8;
            a += (b == b'>') as u8;
            q += (b == b'"') as u8;
        }
        lines += l as usize;
        arrows += a as usize;
        quotes += q as usize;
    }
    (lines, arrows, quotes)
}

/// Labels interned by their bytes: an open-addressing table keyed by the
/// length and the first and last 8 bytes (which are the whole label up to 16
/// bytes; longer ones are compared in full).
#[derive(Default)]
struct LabelTable {
    names: Vec<Box<[u8]>>,
    /// (key, local id) slots; a power-of-two length, at most half full.
    slots: Vec<Option<(Key, LabelId)>>,
}

type Key = (usize, u64, u64);

fn key(label: &[u8]) -> Key {
    let n = label.len();
    if n >= 8 {
        let word = |s: &[u8]| u64::from_le_bytes(s.try_into().unwrap_or([0; 8]));
        (n, word(&label[..8]), word(&label[n - 8..]))
    } else {
        let mut w = [0u8; 8];
        w[..n].copy_from_slice(label);
        (n, u64::from_le_bytes(w), 0)
    }
}

impl LabelTable {
    fn slot(&self, k: &Key) -> usize {
        let h = (k.1 ^ k.2.rotate_left(29) ^ k.0 as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        (h >> 32) as usize & (self.slots.len() - 1)
    }

    /// The label's local id, interning it when new; `None` for invalid UTF-8
    /// or more labels than a `LabelId` holds.
    fn intern(&mut self, label: &[u8]) -> Option<LabelId> {
        let k = key(label);
        if !self.slots.is_empty() {
            let mut s = self.slot(&k);
            while let Some((sk, id)) = self.slots[s] {
                if sk == k && (k.0 <= 16 || *self.names[id as usize] == *label) {
                    return Some(id);
                }
                s = (s + 1) & (self.slots.len() - 1);
            }
        }
        std::str::from_utf8(label).ok()?;
        let id = LabelId::try_from(self.names.len()).ok()?;
        self.names.push(label.into());
        if 2 * self.names.len() > self.slots.len() {
            let size = (4 * self.names.len()).next_power_of_two().max(64);
            let old = std::mem::replace(&mut self.slots, vec![None; size]);
            for (sk, sid) in old.into_iter().flatten() {
                self.place(sk, sid);
            }
        }
        self.place(k, id);
        Some(id)
    }

    fn place(&mut self, k: Key, id: LabelId) {
        let mut s = self.slot(&k);
        while self.slots[s].is_some() {
            s = (s + 1) & (self.slots.len() - 1);
        }
        self.slots[s] = Some((k, id));
    }
}

/// The merged label table, ordered as `Journeys::from_paths` orders it, its
/// number of channels, and per part the final id of each local label.
#[allow(clippy::type_complexity)]
fn merge_labels(parts: &[Part]) -> Option<(Vec<String>, usize, Vec<Vec<LabelId>>)> {
    let mut all: Vec<&[u8]> = parts
        .iter()
        .flat_map(|p| p.names.iter().map(|n| &n[..]))
        .collect();
    all.sort_unstable();
    all.dedup();
    let names: Vec<String> = all
        .iter()
        .map(|n| String::from_utf8_lossy(n).into_owned())
        .collect();
    let (labels, n_channels, remap) = super::order_labels(&names)?;
    let maps = parts
        .iter()
        .map(|p| {
            p.names
                .iter()
                .map(|n| remap[all.binary_search(&&n[..]).unwrap_or(0)])
                .collect()
        })
        .collect();
    Some((labels, n_channels, maps))
}

#[cfg(test)]
mod tests {
    use super::super::{PathFileError, parse, parse_journeys_sequential};
    use super::*;

    /// Deterministic dice for generated files (splitmix64 of a counter).
    struct Dice(u64);

    impl Dice {
        fn roll(&mut self, n: usize) -> usize {
            self.0 += 1;
            (crate::base::rng::mix64(self.0) % n as u64) as usize
        }

        fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
            from[self.roll(from.len())]
        }
    }

    /// Labels that exercise the table: specials, whitespace inside, UTF-8,
    /// and long labels sharing length, first and last 8 bytes.
    const LABELS: [&str; 11] = [
        "channel_0",
        "channel_1",
        "direct",
        "unassigned",
        "unknown",
        "a b",
        "é",
        "x",
        "display_prospecting_retarget_one",
        "display_prospecting_retarget_two",
        "display_prospectingxretarget_one",
    ];

    const NUMBERS: [&str; 14] = [
        "0",
        "1",
        "42",
        "007",
        "0.1",
        "6311296.181057159",
        "6311296.1810571592",
        "1e3",
        "2.5E-2",
        "5.",
        ".5",
        "123456789012345678901",
        " 3 ",
        "9007199254740993",
    ];

    /// A valid path file: random column order (an extra column sometimes),
    /// LF or CRLF, blank lines, empty and `unknown` paths, whitespace around
    /// steps; with `quotes`, some fields quoted (commas, newlines, `""`).
    fn generate(seed: u64, rows: usize, quotes: bool) -> Vec<u8> {
        let mut dice = Dice(seed.wrapping_mul(1_000_003));
        let mut columns = vec![
            "path",
            "total_conversions",
            "total_conversion_value",
            "total_null",
            "extra",
        ];
        for _ in 0..dice.roll(3) {
            let k = 2 + dice.roll(columns.len() - 2);
            columns.remove(k);
        }
        for i in (1..columns.len()).rev() {
            columns.swap(i, dice.roll(i + 1));
        }
        let eol = if dice.roll(2) == 0 { "\n" } else { "\r\n" };
        let mut text = format!("{}{eol}", columns.join(","));
        for row in 0..rows {
            if dice.roll(20) == 0 {
                text.push_str(dice.pick(&["", "  ", "\t"]));
                text.push_str(eol);
            }
            let fields: Vec<String> = columns
                .iter()
                .map(|&c| match c {
                    "path" => {
                        let steps: Vec<&str> =
                            (0..dice.roll(7)).map(|_| dice.pick(&LABELS)).collect();
                        let sep = dice.pick(&[">", " > ", "  >\t"]);
                        let path = steps.join(sep);
                        if quotes && dice.roll(4) == 0 {
                            let odd = dice.pick(&["a,b", "q\"\"t", "l\nm", "n"]);
                            match path.is_empty() {
                                true => format!("\"{odd}\""),
                                false => format!("\" {path} > {odd}\""),
                            }
                        } else {
                            path
                        }
                    }
                    "extra" => dice.pick(&["", "zz", "1,2"]).replace(',', ";"),
                    _ => dice.pick(&NUMBERS).to_string(),
                })
                .collect();
            text.push_str(&fields.join(","));
            if row + 1 < rows || dice.roll(2) == 0 {
                text.push_str(eol);
            }
        }
        text.into_bytes()
    }

    /// Equal, with every count bit for bit (`==` takes -0 for 0).
    fn assert_identical(a: &Journeys, b: &Journeys) {
        assert_eq!(a, b);
        for (x, y) in a.journeys.iter().zip(&b.journeys) {
            let bits = |j: &Journey| [j.conversions, j.revenue, j.nulls].map(f64::to_bits);
            assert_eq!(bits(x), bits(y));
        }
    }

    /// `parse_journeys` with chunks of at least `min_chunk` bytes on `threads`.
    fn on_threads(threads: usize, bytes: &[u8]) -> Result<Journeys, PathFileError> {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| super::super::parse_journeys_in_chunks(bytes, 1))
    }

    #[test]
    fn chunked_journeys_are_the_sequential_ones_on_any_thread_count() {
        for seed in 0..60 {
            for quotes in [false, true] {
                let bytes = generate(seed, 1 + seed as usize * 7, quotes);
                let sequential = parse_journeys_sequential(&bytes).unwrap();
                assert_identical(&sequential, &Journeys::from_paths(&parse(&bytes).unwrap()));
                let has_quote = bytes.contains(&b'"');
                for threads in [1, 2, 3] {
                    let fast = rayon::ThreadPoolBuilder::new()
                        .num_threads(threads)
                        .build()
                        .unwrap()
                        .install(|| parse_journeys(&bytes, 1));
                    // Quote-free files take the chunked path.
                    assert_eq!(fast.is_some(), !has_quote, "seed {seed}");
                    assert_identical(&on_threads(threads, &bytes).unwrap(), &sequential);
                }
            }
        }
    }

    #[test]
    fn problems_anywhere_are_reported_as_the_sequential_reader_does() {
        let faults: [&[u8]; 9] = [
            b"a > > b,1,0,0",
            b"a,x,0,0",
            b"a,-1,0,NaN",
            b"a,1,0",
            b"a,1,0,0,9",
            b"\xff > b,1,0,0",
            b"a,1e999,0,0",
            b"\"a,1,0,0",
            b"a\"b,1,0,0",
        ];
        for seed in 0..20u64 {
            let mut dice = Dice(seed);
            let rows = 200;
            let mut lines: Vec<Vec<u8>> = (0..rows)
                .map(|i| format!("c{} > direct,{},{}.5,{}", i % 7, i % 3, i, i % 5).into_bytes())
                .collect();
            // Problems early, late (in the last chunk) and, for some seeds,
            // more than are kept.
            let n_faults = if seed % 4 == 0 { 30 } else { 1 + dice.roll(3) };
            for k in 0..n_faults {
                let at = match k {
                    0 => rows - 1 - dice.roll(10),
                    _ => dice.roll(rows),
                };
                lines[at] = faults[dice.roll(faults.len())].to_vec();
            }
            let mut bytes = b"path,total_conversions,total_conversion_value,total_null\n".to_vec();
            for line in &lines {
                bytes.extend_from_slice(line);
                bytes.push(b'\n');
            }
            // `a"b` alone is no problem (a quote inside a field is text).
            let expected = parse_journeys_sequential(&bytes);
            if let Err(e) = &expected {
                assert_eq!(e, &parse(&bytes).unwrap_err());
            }
            for threads in [1, 2, 3] {
                match (on_threads(threads, &bytes), &expected) {
                    (Err(got), Err(e)) => assert_eq!(&got, e, "seed {seed}"),
                    (Ok(got), Ok(js)) => assert_identical(&got, js),
                    (got, e) => panic!("seed {seed}: {got:?} vs {e:?}"),
                }
            }
            assert!(expected.is_err() || n_faults == 1, "seed {seed}");
        }
    }

    #[test]
    fn counts_are_bit_identical_to_the_float_parser() {
        let mut texts: Vec<String> = NUMBERS.iter().map(|s| s.to_string()).collect();
        texts.extend(
            [
                "9007199254740992",
                "9007199254740991.5",
                "0.30000000000000004",
                "1.0000000000000000000000001",
                "000000000000000000000.5",
                "0.0000000000000000000001",
                "0.00000000000000000000001",
                "1234567890123456789",
                "12345678901234567890",
                "-0",
                "",
                ".",
                "1.2.3",
                "+1",
                "inf",
            ]
            .map(String::from),
        );
        let mut dice = Dice(7);
        for _ in 0..20_000 {
            let digits: String = (0..1 + dice.roll(20))
                .map(|_| char::from(b'0' + dice.roll(10) as u8))
                .collect();
            let point = dice.roll(digits.len() + 1);
            texts.push(format!("{}.{}", &digits[..point], &digits[point..]));
            let x = f64::from_bits(crate::base::rng::mix64(dice.0) >> 2);
            texts.push(format!("{x}"));
            texts.push(format!("{:.9}", x / 1e300));
            texts.push(digits);
        }
        for text in &texts {
            let fast = count(text.as_bytes()).map(f64::to_bits);
            let exact = number(text.as_bytes()).ok().map(f64::to_bits);
            assert_eq!(fast, exact, "`{text}`");
        }
    }

    #[test]
    fn field_ends_are_the_first_delimiter() {
        let mut dice = Dice(11);
        for _ in 0..5_000 {
            let bytes: Vec<u8> = (0..dice.roll(40))
                .map(|_| b"ab>,\n \x80\xff\x0b="[dice.roll(10)])
                .collect();
            for at in 0..=bytes.len() {
                let naive = |step: bool| {
                    (at..bytes.len())
                        .find(|&i| matches!(bytes[i], b',' | b'\n') || (step && bytes[i] == b'>'))
                        .unwrap_or(bytes.len())
                };
                assert_eq!(field_end::<true>(&bytes, at), naive(true), "{bytes:?} {at}");
                assert_eq!(
                    field_end::<false>(&bytes, at),
                    naive(false),
                    "{bytes:?} {at}"
                );
            }
        }
    }

    #[test]
    fn label_table_tells_look_alike_labels_apart() {
        let mut table = LabelTable::default();
        let names: Vec<String> = (0..300)
            .map(|i| format!("long_label_{i:03}_same_end"))
            .collect();
        for (i, n) in names.iter().enumerate() {
            assert_eq!(table.intern(n.as_bytes()), Some(i as LabelId));
        }
        for (i, n) in names.iter().enumerate().rev() {
            assert_eq!(table.intern(n.as_bytes()), Some(i as LabelId));
        }
        assert_eq!(table.intern(b"\xff"), None);
    }
}
