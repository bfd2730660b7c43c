//! `report.html`: one self-contained file (inline CSS and SVG, a few lines of
//! inline JS to sort tables, nothing loaded from anywhere) built from the same
//! data as report.json and the charts.
//! Must never: reference a URL, embed wall-clock numbers, or leave text unescaped.

use super::figures::{Measure, best_stitcher, rows_on, stitch_mean, stitchers};
use super::paired::{MODEL_METRIC, REFERENCE_MODEL, STITCHER_METRIC};
use super::schema::{AttributionRow, RunReport, WorldReport};
use crate::base::stats::Stats;
use crate::charts::{Palette, Rendered};
use crate::experiment::{
    AblationRow, ORACLE, PlatformRow, PlatformsSummary, ReplicateResult, pictures::TOOLS,
};
use crate::scenario::{Scenario, TouchKind};
use crate::score::StitchMetrics;
use crate::truth::{BASELINE, INCREMENTAL, PROXIMATE, SHAPLEY, TRUTHS};
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
fn fig(charts: &[Rendered], name: &str) -> String {
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

fn num(x: f64) -> String {
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
fn count(x: f64) -> String {
    if x.fract() == 0.0 || x.abs() >= 100.0 {
        num(x.round())
    } else {
        format!("{x:.1}")
    }
}

fn swatch(p: &Palette, label: &str) -> String {
    format!(
        "<span class=\"sw\" style=\"background:{}\"></span>{}",
        p.css(label),
        escape(label)
    )
}

/// report.html of a run.
pub fn run_html(
    sc: &Scenario,
    report: &RunReport,
    results: &[ReplicateResult],
    charts: &[Rendered],
) -> String {
    let channels = sc.channel_ids();
    let palette = Palette::new(&channels);
    let n = results.len();
    let best = best_stitcher(report, results);
    let mut sections = vec![
        scenario_section(sc, &channels, &palette),
        world_section(report, n),
        tools_section(report, results, &channels, &palette, charts),
        stitching_section(report, results, &best, charts),
        attribution_section(report, &best, charts),
    ];
    let mut nav = vec![
        ("scenario", "scenario"),
        ("world", "world"),
        ("tools", "your tools vs the truth"),
        ("stitching", "stitching"),
        ("attribution", "attribution"),
    ];
    if let Some(p) = platforms_section(&channels, &palette, report) {
        sections.push(p);
        nav.push(("platforms", "ad platforms"));
    }
    if let Some(a) = ablation_section(report) {
        sections.push(a);
        nav.push(("ablation", "loss ablation"));
    }
    page(
        &format!("closedloop report: {}", sc.name),
        &format!(
            "Seed {}, {} replicate(s), {} persons each. Numbers are means over replicates; report.json holds every number with its 95 % CI, charts/ every picture as SVG and PNG.",
            sc.seed,
            n,
            num(sc.persons as f64)
        ),
        &nav,
        &sections,
    )
}

/// The scenario in words, and its channels.
fn scenario_section(sc: &Scenario, channels: &[String], palette: &Palette) -> String {
    let paid: Vec<&str> = sc
        .channels
        .iter()
        .filter(|c| c.paid())
        .map(|c| c.id.as_str())
        .collect();
    let free: Vec<&str> = sc
        .channels
        .iter()
        .filter(|c| !c.paid())
        .map(|c| c.id.as_str())
        .collect();
    let total_spend: f64 = sc
        .channels
        .iter()
        .map(|c| c.spend.unwrap_or(0.0) * sc.persons as f64 / 1000.0)
        .sum();
    let o = &sc.observe;
    let words = format!(
        "<p>{} persons over a {:.0}-day window (after {:.0} days of history the tracker never saw; deals followed for {:.0} more days). {} channels: {} bought, for {} in total this period; {} free. {}</p>\
         <p>What is lost on the way: cookie deletion at {}× the measured comScore rate, WebKit ITP cap {} days, {:.0} % private windows, {:.0} % of devices declining consent, {:.0} % of referrers lost, tag blocking per device and browser (see the scenario file), e-mail typos {:.0} %, second addresses {:.0} %.</p>",
        num(sc.persons as f64),
        sc.horizon_days,
        sc.warmup_days,
        sc.sales_tail_days,
        channels.len(),
        escape(&paid.join(", ")),
        num(total_spend),
        escape(&free.join(", ")),
        escape(&sc.description),
        o.cookie_deletion_scale,
        o.itp_cap_days,
        o.private_window_rate * 100.0,
        o.consent_decline_rate * 100.0,
        o.referrer_loss_rate * 100.0,
        o.email_typo_rate * 100.0,
        o.second_email_rate * 100.0,
    );
    let channel_rows: Vec<Vec<String>> = sc
        .channels
        .iter()
        .map(|c| {
            vec![
                swatch(palette, &c.id),
                match c.kind {
                    TouchKind::Click => "click".into(),
                    TouchKind::Impression => "impression".into(),
                },
                c.spend
                    .map_or("free".into(), |s| num(s * sc.persons as f64 / 1000.0)),
                format!("{}", c.conversion_rate),
                format!("{}", c.intent_exponent),
                format!("{}", c.quality),
            ]
        })
        .collect();
    section(
        "scenario",
        "The scenario in words",
        "This is the world the simulation builds: who the persons are, which channels reach them and what the tracker loses. Spend is the period's total; intent exponent > 0 means the channel reaches people who were going to buy anyway.",
        &format!(
            "{words}{}",
            table(
                &[
                    "channel",
                    "kind",
                    "spend",
                    "conversion rate",
                    "intent exponent",
                    "lead quality"
                ],
                &channel_rows
            )
        ),
    )
}

/// The funnel and the loss counts, means over replicates.
fn world_section(report: &RunReport, n: usize) -> String {
    type Count = fn(&WorldReport) -> f64;
    let world = |get: Count| report.mean(|r| Some(get(&r.world)));
    let visits = world(|w| w.visits as f64).max(1.0);
    let steps: [(&str, Count); 7] = [
        ("site visits (true)", |w| w.visits as f64),
        ("visits the tracker recorded", |w| w.recorded_visits as f64),
        ("form fills recorded", |w| w.form_fills as f64),
        ("leads (persons)", |w| w.leads as f64),
        ("opportunities", |w| w.opportunities as f64),
        ("customers", |w| w.customers as f64),
        ("revenue", |w| w.revenue),
    ];
    let funnel: Vec<Vec<String>> = steps
        .iter()
        .map(|(label, get)| {
            let x = world(*get);
            vec![
                escape(label),
                count(x),
                if *label == "revenue" {
                    String::new()
                } else {
                    pct(x / visits)
                },
            ]
        })
        .collect();
    let loss_rows: Vec<Vec<String>> = report
        .first()
        .map(|first| {
            first
                .world
                .loss
                .keys()
                .map(|k| {
                    let events = report.mean(|r| r.world.loss.get(k).map(|x| *x as f64));
                    vec![escape(k), count(events)]
                })
                .collect()
        })
        .unwrap_or_default();
    section(
        "world",
        "The world: the funnel and what got lost",
        &format!(
            "The funnel counts what really happened, mean over {n} replicate(s); the share column is per true site visit. The loss table counts the events of each mechanism that broke a journey or hid a touch."
        ),
        &format!(
            "{}{}",
            table(&["step", "count", "of visits"], &funnel),
            table(&["loss mechanism", "events"], &loss_rows)
        ),
    )
}

/// What the GA-style and HubSpot-style reports say next to the truth.
fn tools_section(
    report: &RunReport,
    results: &[ReplicateResult],
    channels: &[String],
    palette: &Palette,
    charts: &[Rendered],
) -> String {
    let n = results.len();
    let tool_share = |i: usize| -> (Vec<f64>, f64) {
        let mut ch = vec![0.0; channels.len()];
        let mut non = 0.0;
        for r in results {
            if let Some(t) = r.pictures.tools.get(i) {
                let c = &t.credit.conversions;
                let total: f64 = c.values().sum();
                if total > 0.0 {
                    for (k, id) in channels.iter().enumerate() {
                        ch[k] += c.get(id).copied().unwrap_or(0.0) / total / n as f64;
                    }
                    non += c
                        .iter()
                        .filter(|(k, _)| !channels.contains(k))
                        .map(|(_, v)| v)
                        .sum::<f64>()
                        / total
                        / n as f64;
                }
            }
        }
        (ch, non)
    };
    let truth_share = |t: usize| -> (Vec<f64>, f64) {
        let leads = |label: &str| report.mean(|r| r.truth.of(t).conversions.get(label).copied());
        let all: Vec<f64> = channels.iter().map(|id| leads(id)).collect();
        let base = leads(BASELINE);
        let total = all.iter().sum::<f64>() + base;
        if total == 0.0 {
            return (all, 0.0);
        }
        (all.iter().map(|x| x / total).collect(), base / total)
    };
    let (ga, ga_non) = tool_share(0);
    let (hs, hs_non) = tool_share(1);
    let (shap, shap_base) = truth_share(SHAPLEY);
    let (incr, incr_base) = truth_share(INCREMENTAL);
    let mut tool_rows: Vec<Vec<String>> = channels
        .iter()
        .enumerate()
        .map(|(k, id)| {
            vec![
                swatch(palette, id),
                pct(ga[k]),
                pct(hs[k]),
                pct(shap[k]),
                pct(incr[k]),
            ]
        })
        .collect();
    tool_rows.push(vec![
        "direct / unassigned / unknown (tools) · baseline (truth)".into(),
        pct(ga_non),
        pct(hs_non),
        pct(shap_base),
        pct(incr_base),
    ]);
    let tools_intro = format!(
        "Each column is a share of leads: the GA-style report ({} on {} journeys — one cookie), the HubSpot-style report ({} = original source on {} journeys — cookies joined by e-mail) and the truth the simulation knows. Where a tool's column differs from the truth column, a budget following that tool moves money the wrong way.",
        TOOLS[0].2,
        TOOLS[0].1.id(),
        TOOLS[1].2,
        TOOLS[1].1.id()
    );
    section(
        "tools",
        "What your tools would tell you",
        &tools_intro,
        &format!(
            "{}<p>Why they differ: the flow below follows every lead from its true cause to the channel last touch recorded, and the timeline shows a few persons' journeys — devices, lost cookies, the form fill, the opportunity, the deal and the touch that really caused the lead.</p>{}{}",
            table(
                &[
                    "channel",
                    "GA-style",
                    "HubSpot-style",
                    "truth: shapley",
                    "truth: incremental"
                ],
                &tool_rows
            ),
            fig(charts, "flow_true_cause_to_last_touch"),
            fig(charts, "journey_timeline")
        ),
    )
}

/// Each stitcher's metrics, means over replicates.
fn stitching_section(
    report: &RunReport,
    results: &[ReplicateResult],
    best: &str,
    charts: &[Rendered],
) -> String {
    let st_rows: Vec<Vec<String>> = stitchers(results)
        .iter()
        .map(|s| {
            let m = |get: fn(&StitchMetrics) -> f64| stitch_mean(report, s, get);
            vec![
                escape(s),
                num(m(|m| m.pairwise.precision)),
                num(m(|m| m.pairwise.recall)),
                num(m(|m| m.pairwise.f1)),
                num(m(|m| m.bcubed.precision)),
                num(m(|m| m.bcubed.recall)),
                num(m(|m| m.clusters_per_person.mean)),
                pct(m(|m| m.completeness)),
                pct(m(|m| m.cause_in_journey)),
            ]
        })
        .collect();
    section(
        "stitching",
        "Stitching: were the visits joined to the right person?",
        &format!(
            "Precision is the share of visit pairs put together that belong to one person, recall the share of one person's pairs put together; F1 balances them and `{best}` scores best here. Completeness is the share of converted persons whose whole observed journey was recovered; cause-in-journey the share of click-caused leads whose causing visit is in the recovered journey."
        ),
        &format!(
            "{}{}{}{}",
            table(
                &[
                    "stitcher",
                    "precision",
                    "recall",
                    "F1",
                    "B³ precision",
                    "B³ recall",
                    "clusters / person",
                    "completeness",
                    "cause in journey"
                ],
                &st_rows
            ),
            fig(charts, "stitching_precision_recall"),
            fig(charts, "stitching_fragmentation"),
            fig(charts, "path_lengths")
        ),
    )
}

/// Each model's error on the best stitcher's and on oracle journeys.
fn attribution_section(report: &RunReport, best: &str, charts: &[Rendered]) -> String {
    let attr_rows: Vec<Vec<String>> = rows_on(report, best)
        .into_iter()
        .chain(rows_on(report, ORACLE))
        .map(|(i, r)| {
            let tvd = |t: usize, m: Measure| {
                report.mean(|x| x.attribution.get(i).map(|a| m.error(a.error_of(t)).tvd))
            };
            let shapley = &r.error_of(SHAPLEY).conversions;
            vec![
                escape(&r.model),
                escape(&r.stitcher),
                num(tvd(SHAPLEY, Measure::Conversions)),
                num(report.mean(|x| {
                    x.attribution
                        .get(i)
                        .map(|a| a.error_of(SHAPLEY).conversions.tvd_channels)
                })),
                num(tvd(INCREMENTAL, Measure::Conversions)),
                num(tvd(PROXIMATE, Measure::Conversions)),
                num(tvd(SHAPLEY, Measure::Revenue)),
                escape(shapley.max_miss_channel.as_deref().unwrap_or("–")),
                versus_last_touch(report, r),
            ]
        })
        .collect();
    section(
        "attribution",
        "Attribution: how far is each model's credit from the truth?",
        &format!(
            "The error (tvd) is the total variation distance between a model's shares of all leads and the true ones, over the channels plus one no-channel bucket (the truth's baseline against a model's direct, unassigned and unknown): 0 is perfect, 0.2 means a fifth of the leads sit in the wrong place, and parking credit on direct cannot hide an error. The headline truth is shapley (each channel's fair share of the leads its touches before the lead made happen); incremental is what a perfect holdout of the channel would lose, proximate the touch whose clock happened to fire. tvd channels only compares shares of the channel credit alone. Rows are each model on `{best}` journeys (the best stitcher) and on perfectly stitched (oracle) journeys, so the difference between the two is what stitching costs."
        ),
        &format!(
            "{}{}{}{}{}{}",
            table(
                &[
                    "model",
                    "journeys",
                    "tvd shapley",
                    "tvd channels only",
                    "tvd incremental",
                    "tvd proximate",
                    "tvd shapley revenue",
                    "biggest miss",
                    "tvd shapley − last_touch's [95 % CI]"
                ],
                &attr_rows
            ),
            fig(charts, "error_matrix"),
            fig(charts, "credit_leads_best_stitcher"),
            fig(charts, "credit_leads_oracle"),
            fig(charts, "credit_revenue_best_stitcher"),
            fig(charts, "credit_revenue_oracle")
        ),
    )
}

/// A summary number with its 95 % CI when there is one.
fn with_ci(v: &Stats) -> String {
    let finite = |x: Option<f64>| x.filter(|v| v.is_finite());
    match (
        finite(Some(v.mean)),
        finite(v.ci95_low),
        finite(v.ci95_high),
    ) {
        (Some(m), Some(l), Some(h)) => {
            format!("<span data-v=\"{m}\">{m:+.3} [{l:+.3}, {h:+.3}]</span>")
        }
        (Some(m), _, _) => format!("<span data-v=\"{m}\">{m:+.3}</span>"),
        _ => "–".into(),
    }
}

/// A model's lead-share error against shapley minus `last_touch`'s on the same
/// journeys (the `paired` section), with its CI.
fn versus_last_touch(report: &RunReport, row: &AttributionRow) -> String {
    report
        .paired
        .minus(&row.stitcher, REFERENCE_MODEL, &row.model, TRUTHS[SHAPLEY])
        .map_or_else(|| "–".into(), with_ci)
}

/// What each ad platform claims next to the truth (when the run has paid channels).
fn platforms_section(channels: &[String], palette: &Palette, report: &RunReport) -> Option<String> {
    let first = report.first()?.platforms.as_ref()?;
    let platform = |k: usize, get: fn(&PlatformRow) -> Option<f64>| {
        report.mean(|r| get(r.platforms.as_ref()?.platforms.get(k)?))
    };
    let rows: Vec<Vec<String>> = first
        .platforms
        .iter()
        .enumerate()
        .map(|(k, r)| {
            let label = r.channel.as_str();
            vec![
                if channels.iter().any(|c| c == label) {
                    swatch(palette, label)
                } else {
                    escape(label)
                },
                count(platform(k, |p| Some(p.claimed_conversions))),
                count(platform(k, |p| Some(p.shapley_conversions))),
                count(platform(k, |p| Some(p.incremental_conversions))),
                num(platform(k, |p| p.claim_over_incremental)),
            ]
        })
        .collect();
    let overall =
        |get: fn(&PlatformsSummary) -> Option<f64>| report.mean(|r| get(r.platforms.as_ref()?));
    Some(section(
        "platforms",
        "What the ad platforms claim",
        &format!(
            "Each platform counts the leads its pixel saw after one of its clicks or views, as its own dashboard would; the truth columns give its fair share of the leads (shapley) and the leads lost without it (incremental). Together the platforms claim {:.2}× the real leads; a claimed lead is claimed by {:.2} platforms on average.",
            overall(|p| p.claims_over_real),
            overall(|p| p.double_counting_ratio)
        ),
        &table(
            &[
                "channel",
                "claimed leads",
                "its share (shapley)",
                "lost without it (incremental)",
                "claimed ÷ incremental",
            ],
            &rows,
        ),
    ))
}

/// The loss ablation (when the scenario asks for it): each loss switched off.
fn ablation_section(report: &RunReport) -> Option<String> {
    let rows = &report.first()?.loss_ablation;
    let first_row = rows.first()?;
    let models: Vec<String> = first_row.tvd.keys().cloned().collect();
    let mut header = vec!["switched off".to_string(), "F1".into(), "recall".into()];
    header.extend(models.iter().map(|m| format!("tvd {m}")));
    let body: Vec<Vec<String>> = rows
        .iter()
        .enumerate()
        .map(|(k, r)| {
            let row = |get: &dyn Fn(&AblationRow) -> Option<f64>| {
                report.mean(|x| get(x.loss_ablation.get(k)?))
            };
            let mut cells = vec![
                escape(&r.switched_off),
                num(row(&|a| Some(a.f1))),
                num(row(&|a| Some(a.recall))),
            ];
            cells.extend(models.iter().map(|m| num(row(&|a| a.tvd.get(m).copied()))));
            cells
        })
        .collect();
    let header: Vec<&str> = header.iter().map(String::as_str).collect();
    Some(section(
        "ablation",
        "What each loss costs",
        "The same world observed again with one loss mechanism switched off at a time (then all of them), stitched deterministically. Where switching a mechanism off raises F1 or lowers a model's error most, that mechanism is what breaks your loop.",
        &table(&header, &body),
    ))
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
fn stat_mean(s: &crate::base::stats::Stats) -> f64 {
    if s.mean.is_finite() { s.mean } else { 0.0 }
}

/// Format a number for a table cell (thousands separated).
pub fn cell(x: f64) -> String {
    num(x)
}

/// report.html of a sweep: each point's stitching F1 and shapley lead-share
/// error per model on every stitcher, then the sweep lines.
pub fn sweep_html(
    sc: &Scenario,
    points: &[crate::experiment::sweep::SweepPoint],
    rows: &[super::SweepRow],
    charts: &[Rendered],
) -> String {
    let best = super::figures::sweep_best_stitcher(rows);
    let mut header: Vec<String> = vec!["point".into()];
    let mut keys: Vec<(String, String, &'static str)> = Vec::new();
    for r in rows.iter().filter(|r| r.point == 0) {
        let wanted = (r.metric == STITCHER_METRIC)
            || (r.metric == MODEL_METRIC
                && r.truth == TRUTHS[SHAPLEY]
                && r.stitcher == best
                && r.model != ORACLE);
        if wanted {
            header.push(if r.metric == STITCHER_METRIC {
                format!("F1 {}", r.stitcher)
            } else {
                format!("tvd {} on {best}", r.model)
            });
            keys.push((r.stitcher.clone(), r.model.clone(), r.metric));
        }
    }
    let body: Vec<Vec<String>> = points
        .iter()
        .map(|p| {
            let mut cells = vec![escape(&p.label())];
            for (s, m, metric) in &keys {
                let v = rows.iter().find(|r| {
                    r.point == p.index
                        && &r.stitcher == s
                        && &r.model == m
                        && r.metric == *metric
                        && (r.truth.is_empty() || r.truth == TRUTHS[SHAPLEY])
                });
                cells.push(v.map_or("–".into(), |r| num(r.stats.mean)));
            }
            cells
        })
        .collect();
    let header: Vec<&str> = header.iter().map(String::as_str).collect();
    simple_html(
        sc,
        "Sweep",
        "Each row is one grid point of the sweep: stitching F1 per stitcher, and each model's credit error (tvd vs shapley lead shares) on the best stitcher's journeys; the lines below show how they move with the swept key. Bands are 95 % confidence intervals over the replicates of each point (none with one replicate).",
        &table(&header, &body),
        charts,
    )
}

/// report.html of a budget run: the budget table and the two charts.
pub fn budget_html(
    sc: &Scenario,
    rows: &[crate::experiment::budget::BudgetRow],
    curves: &[crate::experiment::budget::ChannelCurve],
    charts: &[Rendered],
) -> String {
    let models: Vec<String> = rows
        .iter()
        .find(|r| !r.predicted.is_empty())
        .map(|r| r.predicted.iter().map(|(m, _)| m.clone()).collect())
        .unwrap_or_default();
    let mut header: Vec<String> = vec!["channel".into(), "measure".into(), "actual change".into()];
    header.extend(models.iter().map(|m| format!("{m} predicts")));
    let body: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            let mut cells = vec![escape(&r.channel), escape(&r.measure), num(r.actual.mean)];
            for m in &models {
                cells.push(
                    r.predicted
                        .iter()
                        .find(|(n, _)| n == m)
                        .map_or("–".into(), |(_, s)| num(s.mean)),
                );
            }
            cells
        })
        .collect();
    let curve_rows: Vec<Vec<String>> = curves
        .iter()
        .map(|c| {
            vec![
                escape(&c.channel),
                num(c.spend),
                num(c.marginal_roi.mean),
                pct(c.converted_anyway.mean),
            ]
        })
        .collect();
    let header: Vec<&str> = header.iter().map(String::as_str).collect();
    simple_html(
        sc,
        "Budget: what a spend change really does",
        "The actual change comes from re-running the same world at the new spends; each model's prediction is its credit per unit of spend times the change, as a budget owner reading its report would extrapolate. The response curves show the true incremental revenue of each paid channel against its spend, with today's operating point circled.",
        &format!(
            "{}{}",
            table(&header, &body),
            table(
                &[
                    "channel",
                    "spend",
                    "true marginal ROI",
                    "would convert anyway"
                ],
                &curve_rows
            )
        ),
        charts,
    )
}

/// report.html of a loop run: per steering model its cumulative profit and
/// cost of misattribution, then the profit chart.
pub fn loop_html(
    sc: &Scenario,
    summary: &[crate::experiment::closed_loop::LoopSummary],
    charts: &[Rendered],
) -> String {
    let body: Vec<Vec<String>> = summary
        .iter()
        .map(|s| {
            vec![
                escape(&s.model),
                num(stat_mean(&s.cumulative_profit)),
                num(stat_mean(&s.cost_of_misattribution)),
                pct(stat_mean(&s.final_distance_to_optimal)),
            ]
        })
        .collect();
    simple_html(
        sc,
        "The closed loop: following each model's credit over periods",
        "Each period the budget moves toward the channels the steering model calls most profitable; the oracle steers by the true marginal ROI. The cost of misattribution is the oracle's cumulative profit minus the model's; off-optimal is the share of the last period's budget spent differently from the best split.",
        &table(
            &[
                "model",
                "cumulative profit",
                "cost of misattribution",
                "off-optimal",
            ],
            &body,
        ),
        charts,
    )
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
