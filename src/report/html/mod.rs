//! `report.html`: one self-contained file (inline CSS and SVG, a few lines of
//! inline JS to sort tables, nothing loaded from anywhere) built from the same
//! data as report.json and the charts.
//! Must never: reference a URL, embed wall-clock numbers, or leave text unescaped.

mod run;
mod studies;

pub use run::run_html;
pub use studies::{budget_html, loop_html, sweep_html};

use crate::charts::{Palette, Rendered};
use crate::scenario::Scenario;
use std::fmt::Write;

/// Escape text for HTML.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font-family:'DejaVu Sans',Verdana,Arial,sans-serif;margin:0 auto;max-width:1100px;padding:0 20px 40px;color:#222;line-height:1.45}\
h1{margin-top:24px}h2{border-bottom:2px solid #ddd;padding-top:18px}\
p.read{background:#f4f6fa;border-left:4px solid #4477aa;padding:8px 12px}\
table{border-collapse:collapse;margin:10px 0 18px;font-size:14px}\
th,td{padding:4px 10px;border-bottom:1px solid #e3e3e3;text-align:right}\
th:first-child,td:first-child{text-align:left}\
th{background:#f0f0f0;cursor:pointer;user-select:none;position:sticky;top:0}\
th:hover{background:#e0e6f0}\
.sw{display:inline-block;width:12px;height:12px;margin-right:6px;border:1px solid #888;vertical-align:middle}\
figure{margin:14px 0 26px}figure svg{max-width:100%;height:auto;border:1px solid #eee}\
figcaption{font-size:13px;color:#555}\
nav a{margin-right:14px}.wrap{overflow-x:auto;max-width:100%}.good{color:#117733}.bad{color:#aa3377}";

const SORT_JS: &str = "document.querySelectorAll('table.sortable th').forEach(function(th){th.title='click to sort';th.addEventListener('click',function(){\
var i=th.cellIndex,t=th.closest('table'),b=t.tBodies[0],rs=Array.from(b.rows),d=th.dataset.dir==='a'?-1:1;th.dataset.dir=d===1?'a':'d';\
var v=function(r){var c=r.cells[i],e=c.querySelector('[data-v]'),s=e?e.getAttribute('data-v'):c.textContent;var n=parseFloat(s.replace(/[^0-9eE.+-]/g,''));return isNaN(n)?s:n;};\
rs.sort(function(x,y){var a=v(x),c=v(y);return (a<c?-1:a>c?1:0)*d;});rs.forEach(function(r){b.appendChild(r);});});});";

/// A sortable table: header cells and rows of already-escaped cells.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut s = String::from("<div class=\"wrap\"><table class=\"sortable\"><thead><tr>");
    for h in header {
        let _ = write!(s, "<th>{}</th>", escape(h));
    }
    s.push_str("</tr></thead><tbody>");
    for r in rows {
        s.push_str("<tr>");
        for c in r {
            let _ = write!(s, "<td>{c}</td>");
        }
        s.push_str("</tr>");
    }
    s.push_str("</tbody></table></div>");
    s
}

/// A page section: heading, two sentences on how to read it, the body.
pub fn section(id: &str, heading: &str, how_to_read: &str, body: &str) -> String {
    format!(
        "<section id=\"{id}\"><h2>{}</h2><p class=\"read\">{}</p>{body}</section>",
        escape(heading),
        escape(how_to_read)
    )
}

/// A chart inline, with its title and file names as caption.
pub fn figure(c: &Rendered) -> String {
    let svg = c.svg.find("<svg").map_or(c.svg.as_str(), |i| &c.svg[i..]);
    format!(
        "<figure>{svg}<figcaption>{} — charts/{}.svg, charts/{}.png</figcaption></figure>",
        escape(&c.title),
        escape(&c.name),
        escape(&c.name)
    )
}

/// The chart named `name`, inline (nothing if it was not drawn).
pub(crate) fn fig(charts: &[Rendered], name: &str) -> String {
    charts
        .iter()
        .find(|c| c.name == name)
        .map(figure)
        .unwrap_or_default()
}

/// A whole page.
pub fn page(title: &str, subtitle: &str, nav: &[(&str, &str)], sections: &[String]) -> String {
    let mut s = String::from("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">");
    let _ = write!(
        s,
        "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>{}</title><style>{STYLE}</style></head><body><h1>{}</h1><p>{}</p><nav>",
        escape(title),
        escape(title),
        escape(subtitle)
    );
    for (id, label) in nav {
        let _ = write!(s, "<a href=\"#{id}\">{}</a>", escape(label));
    }
    s.push_str("</nav>");
    for sec in sections {
        s.push_str(sec);
    }
    let _ = writeln!(s, "<script>{SORT_JS}</script></body></html>");
    s
}

pub(crate) fn pct(x: f64) -> String {
    format!("<span data-v=\"{x}\">{:.1} %</span>", x * 100.0)
}

pub(crate) fn num(x: f64) -> String {
    if x.abs() >= 100.0 {
        let s = format!("{:.0}", x.abs());
        let mut out = String::new();
        for (i, ch) in s.chars().enumerate() {
            if i > 0 && (s.len() - i) % 3 == 0 {
                out.push(',');
            }
            out.push(ch);
        }
        format!("{}{out}", if x < 0.0 { "-" } else { "" })
    } else if x.fract() == 0.0 {
        format!("{x:.0}")
    } else {
        format!("{x:.3}")
    }
}

/// A count (a mean over replicates may be fractional): one decimal at most.
pub(crate) fn count(x: f64) -> String {
    if x.fract() == 0.0 || x.abs() >= 100.0 {
        num(x.round())
    } else {
        format!("{x:.1}")
    }
}

pub(crate) fn swatch(p: &Palette, label: &str) -> String {
    format!(
        "<span class=\"sw\" style=\"background:{}\"></span>{}",
        p.css(label),
        escape(label)
    )
}

/// A page for a report of another command (sweep, budget, loop): a title,
/// sections and the charts.
pub fn simple_html(
    sc: &Scenario,
    heading: &str,
    how_to_read: &str,
    tables: &str,
    charts: &[Rendered],
) -> String {
    let body = format!(
        "{tables}{}",
        charts.iter().map(figure).collect::<Vec<_>>().join("")
    );
    page(
        &format!("closedloop report: {}", sc.name),
        &format!(
            "{} Seed {}, {} persons each.",
            sc.description,
            sc.seed,
            num(sc.persons as f64)
        ),
        &[("main", heading)],
        &[section("main", heading, how_to_read, &body)],
    )
}

/// A summary's mean as report.json gives it: 0 when it is not a number
/// (a mean over no values serialises as null).
pub(crate) fn stat_mean(s: &crate::base::stats::Stats) -> f64 {
    if s.mean.is_finite() { s.mean } else { 0.0 }
}

/// Format a number for a table cell (thousands separated).
pub fn cell(x: f64) -> String {
    num(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_and_tables_sort_by_value() {
        assert_eq!(escape("a<b>&\"c'"), "a&lt;b&gt;&amp;&quot;c&#39;");
        let t = table(&["x<y"], &[vec![pct(0.5)]]);
        assert!(t.contains("<th>x&lt;y</th>"));
        assert!(t.contains("data-v=\"0.5\""));
        assert_eq!(num(-1_234_567.0), "-1,234,567");
        assert_eq!(num(12.0), "12");
        assert_eq!(num(0.1234), "0.123");
        assert_eq!(count(12.34), "12.3");
    }
}
