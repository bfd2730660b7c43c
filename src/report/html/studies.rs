//! report.html of a sweep, a budget run and a loop run: a table or two
//! above the charts.

use super::{escape, num, pct, simple_html, stat_mean, table};
use crate::charts::Rendered;
use crate::experiment::ORACLE;
use crate::report::paired::{MODEL_METRIC, STITCHER_METRIC};
use crate::scenario::Scenario;
use crate::truth::{SHAPLEY, TRUTHS};

/// report.html of a sweep: each point's stitching F1 and shapley lead-share
/// error per model on every stitcher, then the sweep lines.
pub fn sweep_html(
    sc: &Scenario,
    points: &[crate::experiment::sweep::SweepPoint],
    rows: &[crate::report::SweepRow],
    charts: &[Rendered],
) -> String {
    let best = crate::report::figures::sweep_best_stitcher(rows);
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
