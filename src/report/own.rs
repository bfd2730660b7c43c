//! report.html and charts of `closedloop attribute --events`: a user's own
//! log, so no truth — what each stitcher made of the log and how each model
//! splits the leads over the channels, side by side.
//! Must never: show a number that needs the truth (there is none here).

use super::html::{cell, escape, figure, page, pct, section, table};
use crate::base::credit::Credit;
use crate::charts::{self, ChartError, Palette, Rendered, ShareBars};
use crate::experiment::on_log::LogRun;
use rayon::prelude::*;

/// Lead shares over the channels (renormalised over channels only).
fn shares(c: &Credit, channels: &[String]) -> Vec<f64> {
    let xs: Vec<f64> = channels
        .iter()
        .map(|l| c.conversions.get(l).copied().unwrap_or(0.0))
        .collect();
    let total: f64 = xs.iter().sum();
    xs.iter()
        .map(|x| if total != 0.0 { x / total } else { 0.0 })
        .collect()
}

/// Share of a credit on labels that are not channels.
fn non_channel(c: &Credit, channels: &[String]) -> f64 {
    let total: f64 = c.conversions.values().sum();
    let off: f64 = c
        .conversions
        .iter()
        .filter(|(l, _)| !channels.contains(l))
        .map(|(_, x)| x)
        .sum();
    if total != 0.0 { off / total } else { 0.0 }
}

/// One share chart per stitcher (each model a row), in stitcher order;
/// the platforms' own claims as a chart of their own when present.
pub fn log_charts(channels: &[String], run: &LogRun) -> Result<Vec<Rendered>, ChartError> {
    let palette = Palette::new(channels);
    let mut groups: Vec<(String, String)> = run
        .stitching
        .iter()
        .map(|s| {
            (
                s.stitcher.clone(),
                format!("credit_leads_{}", s.stitcher.replace([':', '/'], "_")),
            )
        })
        .collect();
    if run
        .attribution
        .iter()
        .any(|a| a.stitcher == crate::experiment::NO_STITCHING)
    {
        groups.push((
            crate::experiment::NO_STITCHING.to_string(),
            "credit_leads_platforms".to_string(),
        ));
    }
    groups
        .par_iter()
        .map(|(stitcher, name)| {
            let rows: Vec<(String, Vec<f64>)> = run
                .attribution
                .iter()
                .filter(|a| &a.stitcher == stitcher)
                .map(|a| (a.model.clone(), shares(&a.credit, channels)))
                .collect();
            let title = if stitcher == crate::experiment::NO_STITCHING {
                "Share of leads per channel the ad platforms claim".to_string()
            } else {
                format!("Share of leads per channel: each model on `{stitcher}` journeys")
            };
            charts::render(
                name,
                &title,
                &ShareBars {
                    title: title.clone(),
                    palette: palette.clone(),
                    rows,
                    truth_rows: 0,
                },
            )
        })
        .collect()
}

/// The page: the data read, the stitchers, the models.
pub fn log_html(
    source: &str,
    rows: &[(&str, usize)],
    channels: &[String],
    run: &LogRun,
    charts: &[Rendered],
) -> String {
    let data = table(
        &["table", "rows"],
        &rows
            .iter()
            .map(|(t, n)| vec![escape(t), cell(*n as f64)])
            .collect::<Vec<_>>(),
    );
    let channel_list = format!(
        "<p>Channels (the labels of visits.csv): {}.</p>",
        escape(&channels.join(", "))
    );
    let stitching = table(
        &[
            "stitcher",
            "clusters",
            "cookies",
            "cookies per cluster",
            "one-cookie clusters",
            "converting clusters",
            "CRM leads per converting cluster",
            "touches per converting journey",
        ],
        &run.stitching
            .iter()
            .map(|s| {
                vec![
                    escape(&s.stitcher),
                    cell(s.stats.clusters as f64),
                    cell(s.stats.cookies as f64),
                    format!("{:.2}", s.stats.cookies_per_cluster.mean),
                    pct(s.stats.single_cookie_share),
                    cell(s.stats.converting_clusters as f64),
                    format!("{:.2}", s.stats.crm_leads_per_converting_cluster),
                    format!("{:.2}", s.path_lengths.converting.mean),
                ]
            })
            .collect::<Vec<_>>(),
    );
    let mut header: Vec<&str> = vec!["stitcher", "model"];
    header.extend(channels.iter().map(String::as_str));
    header.push("direct / unassigned / unknown");
    let credit = table(
        &header,
        &run.attribution
            .iter()
            .map(|a| {
                let mut r = vec![escape(&a.stitcher), escape(&a.model)];
                r.extend(shares(&a.credit, channels).into_iter().map(pct));
                r.push(pct(non_channel(&a.credit, channels)));
                r
            })
            .collect::<Vec<_>>(),
    );
    let figures: String = charts.iter().map(figure).collect();
    page(
        "closedloop report: your event log",
        &format!(
            "{source} — strategies run on a log with no ground truth: they can be compared with each other, not scored."
        ),
        &[
            ("data", "data"),
            ("stitching", "stitching"),
            ("attribution", "attribution"),
        ],
        &[
            section(
                "data",
                "The log that was read",
                "Rows per table as read; every channel is a label your visits.csv used. Nothing here was simulated, so there is no truth to score against.",
                &format!("{data}{channel_list}"),
            ),
            section(
                "stitching",
                "What each stitcher made of it",
                "A cluster is what a stitcher believes is one person. More cookies per cluster means more joining — right or wrong, only a simulation with a truth can tell (closedloop run).",
                &stitching,
            ),
            section(
                "attribution",
                "How each model splits the leads",
                "Each row is one model's share of leads per channel on one stitcher's journeys; the last column is credit left on direct, unassigned or unknown. Where models disagree, your budget depends on which one you believe.",
                &format!("{credit}{figures}"),
            ),
        ],
    )
}
