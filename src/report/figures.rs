//! The charts of a run, a sweep, a budget and a loop, built from the same
//! data as report.json (its `summary` means) plus the replicates' pictures,
//! and rendered in parallel (results in a fixed order).

use super::SweepRow;
use super::paired::{MODEL_METRIC, STITCHER_METRIC};
use super::schema::{AttributionRow, ReplicateReport, RunReport, summary_stat};
use crate::base::credit::Credit;
use crate::charts::{
    self, ChartError, FlowChart, GroupedBars, HBars, Heatmap, Line, Lines, Palette,
    PrecisionRecall, Rendered, ShareBars, Timeline, TimelinePerson, TimelineTouch,
};
use crate::experiment::budget::{BudgetRow, ChannelCurve};
use crate::experiment::closed_loop::LoopRun;
use crate::experiment::pictures::{JourneyPerson, JourneyTouch};
use crate::experiment::{ORACLE, ReplicateResult, sweep::SweepPoint};
use crate::scenario::Scenario;
use crate::score::LENGTH_BINS;
use crate::score::{CreditError, CreditErrors, StitchMetrics};
use crate::truth::{BASELINE, INCREMENTAL, PROXIMATE, SHAPLEY, TRUTHS};
use rayon::prelude::*;

type Job<'a> = Box<dyn Fn() -> Result<Rendered, ChartError> + Send + Sync + 'a>;

fn job<'a, C: charts::Chart + Send + Sync + 'a>(name: &'a str, title: String, c: C) -> Job<'a> {
    Box::new(move || charts::render(name, &title, &c))
}

fn run_jobs(jobs: Vec<Job<'_>>) -> Result<Vec<Rendered>, ChartError> {
    jobs.par_iter().map(|j| j()).collect()
}

/// Stitcher ids in run order (oracle last).
pub fn stitchers(results: &[ReplicateResult]) -> Vec<String> {
    results
        .first()
        .map(|r| r.stitching.iter().map(|(n, _)| n.clone()).collect())
        .unwrap_or_default()
}

/// Mean of a stitcher's metric over replicates, as report.json's summary gives it.
pub fn stitch_mean(report: &RunReport, stitcher: &str, get: fn(&StitchMetrics) -> f64) -> f64 {
    report.mean(|r| r.stitching.get(stitcher).map(|m| get(&m.metrics)))
}

/// The best stitcher: highest mean pairwise F1, oracle excluded (ties: run order).
pub fn best_stitcher(report: &RunReport, results: &[ReplicateResult]) -> String {
    let mut best: Option<(f64, String)> = None;
    for s in stitchers(results).into_iter().filter(|s| s != ORACLE) {
        let f1 = stitch_mean(report, &s, |m| m.pairwise.f1);
        if best.as_ref().is_none_or(|b| f1 > b.0) {
            best = Some((f1, s));
        }
    }
    best.map_or_else(|| ORACLE.to_string(), |b| b.1)
}

/// Attribution rows on one stitcher (the oracle credit row excluded), with
/// their index in every replicate's `attribution`.
pub fn rows_on<'a>(report: &'a RunReport, stitcher: &str) -> Vec<(usize, &'a AttributionRow)> {
    report
        .first()
        .map(|r| {
            r.attribution
                .iter()
                .enumerate()
                .filter(|(_, a)| a.stitcher == stitcher && a.model != ORACLE)
                .collect()
        })
        .unwrap_or_default()
}

/// Channel shares (renormalised over channels) of a credit measure's
/// means over replicates; `credit` finds the measure in a replicate.
pub fn shares(
    report: &RunReport,
    channels: &[String],
    credit: &dyn Fn(&ReplicateReport) -> Option<&Credit>,
    measure: Measure,
) -> Vec<f64> {
    let xs: Vec<f64> = channels
        .iter()
        .map(|c| report.mean(|r| credit(r).and_then(|x| measure.of(x).get(c).copied())))
        .collect();
    let total: f64 = xs.iter().sum();
    xs.iter()
        .map(|x| if total != 0.0 { x / total } else { 0.0 })
        .collect()
}

/// Attribution row `i`'s credit in a replicate.
fn attribution_credit(r: &ReplicateReport, i: usize) -> Option<&Credit> {
    r.attribution.get(i).map(|a| &a.credit)
}

/// Which side of a credit a chart shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Measure {
    /// Leads.
    Conversions,
    /// Revenue.
    Revenue,
}

impl Measure {
    /// This measure's credit per label.
    pub fn of(self, c: &Credit) -> &std::collections::BTreeMap<String, f64> {
        match self {
            Measure::Conversions => &c.conversions,
            Measure::Revenue => &c.revenue,
        }
    }

    /// This measure's errors.
    pub fn error(self, e: &CreditErrors) -> &CreditError {
        match self {
            Measure::Conversions => &e.conversions,
            Measure::Revenue => &e.revenue,
        }
    }
}

/// Every chart of a run (no sweep), in a fixed order.
pub fn run_charts(
    sc: &Scenario,
    report: &RunReport,
    results: &[ReplicateResult],
) -> Result<Vec<Rendered>, ChartError> {
    let channels = sc.channel_ids();
    let palette = Palette::new(&channels);
    let best = best_stitcher(report, results);
    let mut jobs: Vec<Job<'_>> = Vec::new();
    credit_bars(report, &channels, &palette, &best, &mut jobs);
    error_matrix(report, &best, &mut jobs);
    flow_chart(results, &channels, &palette, &mut jobs);
    stitching_charts(report, results, &best, &mut jobs);
    // Journey timeline.
    let persons = results
        .first()
        .map(|r| r.pictures.timelines.iter().map(timeline_person).collect())
        .unwrap_or_default();
    let title =
        "Journeys of converting persons (replicate 0): touches over days, one row per device"
            .to_string();
    jobs.push(job(
        "journey_timeline",
        title.clone(),
        Timeline {
            title,
            palette,
            persons,
        },
    ));
    run_jobs(jobs)
}

/// A journey of the run's pictures as the timeline chart draws it.
fn timeline_person(p: &JourneyPerson) -> TimelinePerson {
    let touch = |t: &JourneyTouch| TimelineTouch {
        day: t.day,
        label: t.label.clone(),
        recorded: t.recorded,
        new_cookie: t.new_cookie,
        is_cause: t.is_cause,
    };
    TimelinePerson {
        title: p.title.clone(),
        rows: p
            .rows
            .iter()
            .map(|(device, touches)| (device.clone(), touches.iter().map(touch).collect()))
            .collect(),
        marks: p.marks.clone(),
    }
}

/// Share bars: truth vs each model, leads and revenue, on the best
/// stitcher's journeys and on oracle journeys.
fn credit_bars<'a>(
    report: &RunReport,
    channels: &[String],
    palette: &Palette,
    best: &str,
    jobs: &mut Vec<Job<'a>>,
) {
    for (measure, what) in [
        (Measure::Conversions, "leads"),
        (Measure::Revenue, "revenue"),
    ] {
        for (stitcher, which) in [(best, "best"), (ORACLE, "oracle")] {
            let truth = |t: usize| {
                shares(
                    report,
                    channels,
                    &|r| r.truth.credit.get(TRUTHS[t]),
                    measure,
                )
            };
            let mut rows = vec![
                ("truth: shapley".to_string(), truth(SHAPLEY)),
                ("truth: incremental".to_string(), truth(INCREMENTAL)),
            ];
            for (i, r) in rows_on(report, stitcher) {
                let bars = shares(report, channels, &|x| attribution_credit(x, i), measure);
                rows.push((r.model.clone(), bars));
            }
            let name: &'static str = match (measure, which) {
                (Measure::Conversions, "best") => "credit_leads_best_stitcher",
                (Measure::Conversions, _) => "credit_leads_oracle",
                (_, "best") => "credit_revenue_best_stitcher",
                _ => "credit_revenue_oracle",
            };
            let title = format!(
                "Share of {what} per channel: truth vs each model on {} journeys",
                if which == "best" {
                    format!("`{stitcher}` (best stitcher)")
                } else {
                    "perfectly stitched (oracle)".to_string()
                }
            );
            jobs.push(job(
                name,
                title.clone(),
                ShareBars {
                    title,
                    palette: palette.clone(),
                    rows,
                    truth_rows: 2,
                },
            ));
        }
    }
}

/// The model × truth heatmap of headline errors on the best stitcher's journeys.
fn error_matrix<'a>(report: &RunReport, best: &str, jobs: &mut Vec<Job<'a>>) {
    let models = rows_on(report, best);
    let columns = [
        (SHAPLEY, Measure::Conversions),
        (INCREMENTAL, Measure::Conversions),
        (PROXIMATE, Measure::Conversions),
        (SHAPLEY, Measure::Revenue),
        (INCREMENTAL, Measure::Revenue),
        (PROXIMATE, Measure::Revenue),
    ];
    let title =
        format!("Credit error (tvd of shares of all leads) on `{best}` journeys: model × truth");
    // A cell is empty where report.json's summary holds no number.
    let cell = |i: usize, t: usize, m: Measure| {
        summary_stat(
            report
                .replicates
                .iter()
                .map(|r| r.attribution.get(i).map(|a| m.error(a.error_of(t)).tvd)),
        )
    };
    jobs.push(job(
        "error_matrix",
        title.clone(),
        Heatmap {
            title,
            rows: models.iter().map(|(_, r)| r.model.clone()).collect(),
            columns: columns
                .iter()
                .map(|(t, m)| {
                    let measure = if *m == Measure::Conversions {
                        "leads"
                    } else {
                        "rev."
                    };
                    format!("{} {measure}", TRUTHS[*t])
                })
                .collect(),
            values: models
                .iter()
                .map(|(i, _)| columns.iter().map(|(t, m)| cell(*i, *t, *m)).collect())
                .collect(),
        },
    ));
}

/// Where leads really came from and where last touch put them.
fn flow_chart<'a>(
    results: &[ReplicateResult],
    channels: &[String],
    palette: &Palette,
    jobs: &mut Vec<Job<'a>>,
) {
    let channels = channels.to_vec();
    // Where conversions really came from.
    let mut left = channels.clone();
    left.push(BASELINE.to_string());
    let mut right = channels.clone();
    right.extend(["direct", "unassigned", "unknown"].map(String::from));
    let n = results.len().max(1) as f64;
    let mut flows: Vec<(String, String, f64)> = Vec::new();
    for r in results {
        for (a, b, x) in &r.pictures.flows {
            match flows.iter_mut().find(|f| &f.0 == a && &f.1 == b) {
                Some(f) => f.2 += x / n,
                None => flows.push((a.clone(), b.clone(), x / n)),
            }
        }
    }
    for (_, b, _) in &flows {
        if !right.contains(b) {
            right.push(b.clone());
        }
    }
    let title = "Where leads really came from (left) and the channel last touch recorded on the form-fill cookie (right)".to_string();
    jobs.push(job(
        "flow_true_cause_to_last_touch",
        title.clone(),
        FlowChart {
            title,
            palette: palette.clone(),
            left,
            right,
            flows,
        },
    ));
}

/// Precision vs recall, fragmentation and path lengths per stitcher.
fn stitching_charts<'a>(
    report: &RunReport,
    results: &[ReplicateResult],
    best: &str,
    jobs: &mut Vec<Job<'a>>,
) {
    let best = best.to_string();
    let names = stitchers(results);
    let title = "Stitching: precision vs recall of visit pairs (grey: F1 iso-lines)".to_string();
    jobs.push(job(
        "stitching_precision_recall",
        title.clone(),
        PrecisionRecall {
            title,
            points: names
                .iter()
                .map(|s| {
                    (
                        s.clone(),
                        stitch_mean(report, s, |m| m.pairwise.precision),
                        stitch_mean(report, s, |m| m.pairwise.recall),
                    )
                })
                .collect(),
        },
    ));
    let title = "Fragmentation: recovered journeys per true person".to_string();
    jobs.push(job(
        "stitching_fragmentation",
        title.clone(),
        HBars {
            title,
            unit: "mean clusters per person (1 = each person recovered whole)".to_string(),
            rows: names
                .iter()
                .map(|s| {
                    let fragments = stitch_mean(report, s, |m| m.clusters_per_person.mean);
                    (s.clone(), fragments)
                })
                .collect(),
        },
    ));
    let mut series_names = vec![best.clone()];
    if best != "cookie_only" && names.iter().any(|s| s == "cookie_only") {
        series_names.push("cookie_only".to_string());
    }
    series_names.push(ORACLE.to_string());
    let title =
        "Touches per converting journey: observed by the stitchers vs true (oracle)".to_string();
    jobs.push(job(
        "path_lengths",
        title.clone(),
        GroupedBars {
            title,
            y_desc: "share of converting journeys".to_string(),
            categories: LENGTH_BINS.iter().map(|s| s.to_string()).collect(),
            series: series_names
                .iter()
                .enumerate()
                .map(|(i, s)| {
                    let share = |k: usize| {
                        report.mean(|r| {
                            let p = r.stitching.get(s)?.path_lengths?;
                            p.converting.share.get(k).copied()
                        })
                    };
                    let colour = if s == ORACLE {
                        plotters::style::RGBColor(0x33, 0x33, 0x33)
                    } else {
                        charts::series_colour(i)
                    };
                    let label = if s == ORACLE {
                        "true (oracle)".to_string()
                    } else {
                        s.clone()
                    };
                    (label, (0..LENGTH_BINS.len()).map(share).collect(), colour)
                })
                .collect(),
        },
    ));
}

/// A sweep point's x value: the first axis's number (its index if not a number).
fn sweep_x(p: &SweepPoint) -> f64 {
    p.values
        .first()
        .and_then(|(_, v)| v.as_float().or_else(|| v.as_integer().map(|i| i as f64)))
        .unwrap_or(p.index as f64)
}

/// The best stitcher of a sweep: highest pairwise F1 averaged over the
/// points, oracle excluded (ties: first seen).
pub fn sweep_best_stitcher(rows: &[SweepRow]) -> String {
    let mut best: Option<(f64, String)> = None;
    for r in rows {
        if r.metric != STITCHER_METRIC || r.stitcher == ORACLE {
            continue;
        }
        let xs: Vec<f64> = rows
            .iter()
            .filter(|x| x.stitcher == r.stitcher && x.metric == STITCHER_METRIC)
            .map(|x| x.stats.mean)
            .collect();
        let f = xs.iter().sum::<f64>() / xs.len().max(1) as f64;
        if best.as_ref().is_none_or(|b| f > b.0) {
            best = Some((f, r.stitcher.clone()));
        }
    }
    best.map_or_else(|| ORACLE.to_string(), |b| b.1)
}

/// Sweep lines: pairwise F1 per stitcher and lead-share error against shapley per model
/// on the best stitcher (highest mean F1 over points), with 95 % CI bands.
pub fn sweep_charts(points: &[SweepPoint], rows: &[SweepRow]) -> Result<Vec<Rendered>, ChartError> {
    let x_desc = points
        .first()
        .map(|p| {
            p.values
                .iter()
                .map(|(k, _)| k.clone())
                .collect::<Vec<_>>()
                .join(" × ")
        })
        .unwrap_or_default();
    let line = |i: usize, name: &str, pick: &dyn Fn(&SweepRow) -> bool| Line {
        name: name.to_string(),
        colour: if name == ORACLE {
            plotters::style::RGBColor(0x33, 0x33, 0x33)
        } else {
            charts::series_colour(i)
        },
        bold: name == ORACLE,
        points: points
            .iter()
            .filter_map(|p| {
                let r = rows.iter().find(|r| r.point == p.index && pick(r))?;
                Some((
                    sweep_x(p),
                    r.stats.mean,
                    r.stats.ci95_low.zip(r.stats.ci95_high),
                ))
            })
            .collect(),
    };
    let mut stitchers: Vec<String> = Vec::new();
    let mut models: Vec<String> = Vec::new();
    for r in rows {
        if r.metric == STITCHER_METRIC && !stitchers.contains(&r.stitcher) {
            stitchers.push(r.stitcher.clone());
        }
        if r.metric == MODEL_METRIC && !models.contains(&r.model) && r.model != ORACLE {
            models.push(r.model.clone());
        }
    }
    let best = sweep_best_stitcher(rows);
    let f1 = Lines {
        title: "Stitching F1 across the sweep (bands: 95 % CI over replicates)".to_string(),
        x_desc: x_desc.clone(),
        y_desc: "pairwise F1".to_string(),
        lines: stitchers
            .iter()
            .enumerate()
            .map(|(i, s)| {
                line(i, s, &|r: &SweepRow| {
                    r.stitcher == *s && r.metric == STITCHER_METRIC
                })
            })
            .collect(),
        marks: Vec::new(),
        bands: true,
        x_labels: points.len(),
    };
    let tvd = Lines {
        title: format!(
            "Credit error (tvd vs shapley lead shares) on `{best}` journeys across the sweep"
        ),
        x_desc,
        y_desc: "tvd of shares of all leads".to_string(),
        lines: models
            .iter()
            .enumerate()
            .map(|(i, m)| {
                line(i, m, &|r: &SweepRow| {
                    r.stitcher == best
                        && r.model == *m
                        && r.truth == TRUTHS[SHAPLEY]
                        && r.metric == MODEL_METRIC
                })
            })
            .filter(|l| !l.points.is_empty())
            .collect(),
        marks: Vec::new(),
        bands: true,
        x_labels: points.len(),
    };
    run_jobs(vec![
        job("sweep_stitching_f1", f1.title.clone(), f1),
        job("sweep_credit_error", tvd.title.clone(), tvd),
    ])
}

/// Budget charts: predicted vs actual revenue change per paid channel, and
/// the true response curves with each channel's operating point.
pub fn budget_charts(
    sc: &Scenario,
    rows: &[BudgetRow],
    curves: &[ChannelCurve],
) -> Result<Vec<Rendered>, ChartError> {
    let palette = Palette::new(&sc.channel_ids());
    let revenue: Vec<&BudgetRow> = rows.iter().filter(|r| r.measure == "revenue").collect();
    let models: Vec<String> = revenue
        .iter()
        .find(|r| !r.predicted.is_empty())
        .map(|r| r.predicted.iter().map(|(m, _)| m.clone()).collect())
        .unwrap_or_default();
    let mut series = vec![(
        "actual (re-run)".to_string(),
        revenue.iter().map(|r| r.actual.mean).collect::<Vec<f64>>(),
        plotters::style::RGBColor(0x33, 0x33, 0x33),
    )];
    for (i, m) in models.iter().enumerate() {
        series.push((
            m.clone(),
            revenue
                .iter()
                .map(|r| {
                    r.predicted
                        .iter()
                        .find(|(n, _)| n == m)
                        .map_or(0.0, |(_, s)| s.mean)
                })
                .collect(),
            charts::series_colour(i),
        ));
    }
    let bars = GroupedBars {
        title: "Revenue change of the spend change: actual vs what each model predicts".to_string(),
        y_desc: "revenue change per period".to_string(),
        categories: revenue.iter().map(|r| r.channel.clone()).collect(),
        series,
    };
    let curves_chart = Lines {
        title: "True response curves (incremental revenue) and today's operating points"
            .to_string(),
        x_desc: "spend per period per 1,000 persons".to_string(),
        y_desc: "incremental revenue per period".to_string(),
        lines: curves
            .iter()
            .map(|c| Line {
                name: c.channel.clone(),
                colour: palette.colour(&c.channel),
                bold: false,
                points: c
                    .curve
                    .iter()
                    .map(|(s, st)| (*s, st.mean, st.ci95_low.zip(st.ci95_high)))
                    .collect(),
            })
            .collect(),
        marks: curves
            .iter()
            .filter_map(|c| {
                let at = c
                    .curve
                    .iter()
                    .min_by(|a, b| (a.0 - c.spend).abs().total_cmp(&(b.0 - c.spend).abs()))?;
                Some((at.0, at.1.mean, palette.colour(&c.channel), String::new()))
            })
            .collect(),
        bands: true,
        x_labels: 0,
    };
    run_jobs(vec![
        job("budget_predicted_vs_actual", bars.title.clone(), bars),
        job(
            "budget_response_curves",
            curves_chart.title.clone(),
            curves_chart,
        ),
    ])
}

/// Loop charts: cumulative true profit per steering model over periods
/// (means over replicates, the oracle bold), and each model's cumulative
/// profit minus the oracle's in the same replicate (paired; 95 % CI bands).
pub fn loop_charts(runs: &[LoopRun], models: &[String]) -> Result<Vec<Rendered>, ChartError> {
    let cumulative = |r: &LoopRun, p: usize| r.periods[..=p].iter().map(|x| x.profit).sum::<f64>();
    let colour = |i: usize, m: &str| {
        if m == ORACLE {
            plotters::style::RGBColor(0x33, 0x33, 0x33)
        } else {
            charts::series_colour(i)
        }
    };
    let periods = runs.first().map_or(0, |r| r.periods.len());
    let line = |i: usize, m: &String, versus_oracle: bool| {
        let mine: Vec<&LoopRun> = runs.iter().filter(|r| &r.model == m).collect();
        let points = (0..periods)
            .map(|p| {
                let xs: Vec<f64> = mine
                    .iter()
                    .map(|r| {
                        let oracle = runs
                            .iter()
                            .find(|o| o.model == ORACLE && o.replicate == r.replicate)
                            .map_or(0.0, |o| cumulative(o, p));
                        cumulative(r, p) - if versus_oracle { oracle } else { 0.0 }
                    })
                    .collect();
                let s = super::Stats::of(&xs);
                (p as f64, s.mean, s.ci95_low.zip(s.ci95_high))
            })
            .collect();
        Line {
            name: m.clone(),
            colour: colour(i, m),
            bold: m == ORACLE,
            points,
        }
    };
    let profit = Lines {
        title:
            "Cumulative true profit when the budget follows each model (oracle: true marginal ROI)"
                .to_string(),
        x_desc: "period".to_string(),
        y_desc: "cumulative profit (mean over replicates)".to_string(),
        lines: models
            .iter()
            .enumerate()
            .map(|(i, m)| line(i, m, false))
            .collect(),
        marks: Vec::new(),
        bands: false,
        x_labels: periods,
    };
    let gap = Lines {
        title: "Cumulative profit minus the oracle's: the cost of misattribution, period by period"
            .to_string(),
        x_desc: "period".to_string(),
        y_desc: "model − oracle (same cohorts)".to_string(),
        lines: models
            .iter()
            .enumerate()
            .map(|(i, m)| line(i, m, true))
            .collect(),
        marks: Vec::new(),
        bands: true,
        x_labels: periods,
    };
    run_jobs(vec![
        job("loop_cumulative_profit", profit.title.clone(), profit),
        job("loop_profit_vs_oracle", gap.title.clone(), gap),
    ])
}

/// Chart files for a run folder: `charts/NAME.svg` and `charts/NAME.png`.
pub fn chart_files(charts: &[Rendered]) -> Vec<(String, Vec<u8>)> {
    charts
        .iter()
        .flat_map(|c| {
            [
                (format!("charts/{}.svg", c.name), c.svg.clone().into_bytes()),
                (format!("charts/{}.png", c.name), c.png.clone()),
            ]
        })
        .collect()
}
