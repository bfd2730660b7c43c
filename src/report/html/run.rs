//! report.html of a run: the scenario in words, the world, what your
//! tools say, stitching, attribution, the platforms and the loss ablation,
//! each a section read from the typed [`RunReport`].

use super::{count, escape, fig, num, page, pct, section, swatch, table};
use crate::base::stats::Stats;
use crate::charts::{Palette, Rendered};
use crate::experiment::WorldSummary;
use crate::experiment::{
    AblationRow, ORACLE, PlatformRow, PlatformsSummary, ReplicateResult, pictures::TOOLS,
};
use crate::report::figures::{Measure, best_stitcher, rows_on, stitch_mean, stitchers};
use crate::report::paired::REFERENCE_MODEL;
use crate::report::schema::{AttributionRow, RunReport};
use crate::scenario::{Scenario, TouchKind};
use crate::score::StitchMetrics;
use crate::truth::{BASELINE, INCREMENTAL, PROXIMATE, SHAPLEY, TRUTHS};

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
    type Count = fn(&WorldSummary) -> f64;
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
                .counts
                .keys()
                .map(|k| {
                    let events = report.mean(|r| r.world.loss.counts.get(k).map(|x| *x as f64));
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
