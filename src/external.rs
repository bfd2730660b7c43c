//! Scoring what an external tool produced against an exported truth
//! (`closedloop score`, issue 10): an attribution model's credit table
//! (`label,conversions[,revenue]`) against `truth/credit.csv`, with the
//! channels and spends `events.json` records.
//! Must never: panic on input; every problem names file, line and column.

use crate::credit::Credit;

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
/// header has it) keeps only the rows of that truth.
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
            "truth,label,conversions,revenue\ncausal,a,1,1\nshapley,a,9,9\n",
            "t.csv",
            Some("causal"),
        )
        .unwrap();
        assert_eq!(t.conversions["a"], 1.0);
        let err = read_credit("label,conversions\na,lots\n", "x.csv", None).unwrap_err();
        assert!(err.starts_with("x.csv:2:2:"), "{err}");
        let err = read_credit("name,conversions\n", "x.csv", None).unwrap_err();
        assert!(err.starts_with("x.csv:1:"), "{err}");
        let err = read_credit("label,conversions\na,1,2\n", "x.csv", None).unwrap_err();
        assert!(err.contains("3 fields, expected 2"), "{err}");
    }
}
