//! The CSV files of the output folders beside report.json: tidy tables, one
//! observation a line, for a spreadsheet or a data frame.

use crate::base::stats::Stats;
use crate::experiment::ReplicateResult;
use crate::experiment::budget::{BudgetRow, CURVE_POINTS, ChannelCurve};
use crate::experiment::closed_loop::LoopStudy;
use crate::experiment::on_log::LogRun;
use crate::scenario::Scenario;
use crate::truth;
use std::fmt::Write as _;

/// An optional number as a CSV field (empty when absent).
fn opt(x: Option<f64>) -> String {
    x.map_or(String::new(), |v| v.to_string())
}

/// Tidy credit table of a run: replicate, source (truth or stitcher/model),
/// label, conversions, revenue.
pub fn run_credit_csv(results: &[ReplicateResult]) -> String {
    let mut s = String::from("replicate,stitcher,model,label,conversions,revenue\n");
    for r in results {
        for (name, c) in truth::TRUTHS.iter().zip(&r.truth) {
            for (label, conv) in &c.conversions {
                let _ = writeln!(
                    s,
                    "{},truth,{},{},{},{}",
                    r.replicate, name, label, conv, c.revenue[label]
                );
            }
        }
        for a in &r.attribution {
            for (label, conv) in &a.credit.conversions {
                let _ = writeln!(
                    s,
                    "{},{},{},{},{},{}",
                    r.replicate, a.stitcher, a.model, label, conv, a.credit.revenue[label]
                );
            }
        }
    }
    s
}

/// Credit table of `attribute --events`: stitcher, model, label, conversions, revenue.
pub fn log_credit_csv(run: &LogRun) -> String {
    let mut s = String::from("stitcher,model,label,conversions,revenue\n");
    for a in &run.attribution {
        for (label, conv) in &a.credit.conversions {
            let _ = writeln!(
                s,
                "{},{},{},{conv},{}",
                a.stitcher,
                a.model,
                label,
                a.credit.revenue.get(label).copied().unwrap_or(0.0)
            );
        }
    }
    s
}

/// loop.csv: one row per model × period, means over replicates: true
/// outcomes, regret against the oracle, and the spends per paid channel.
pub fn loop_csv(sc: &Scenario, study: &LoopStudy) -> String {
    let paid: Vec<usize> = (0..sc.channels.len())
        .filter(|&i| sc.channels[i].paid())
        .collect();
    let mut s = String::from("model,period,leads,revenue,profit,regret");
    for &i in &paid {
        let _ = write!(s, ",spend_{}", sc.channels[i].id);
    }
    s.push('\n');
    for row in study.period_means() {
        let _ = write!(
            s,
            "{},{},{},{},{},{}",
            row.model, row.period, row.leads, row.revenue, row.profit, row.regret
        );
        for &i in &paid {
            let _ = write!(s, ",{}", row.spends.get(i).copied().unwrap_or(0.0));
        }
        s.push('\n');
    }
    s
}

/// curves.csv: chart-ready response curves: channel, share of current
/// spend, spend, true incremental revenue over the channel switched off.
pub fn curves_csv(curves: &[ChannelCurve]) -> String {
    let mut s = String::from("channel,spend_share,spend,mean,sd,ci95_low,ci95_high,n\n");
    for c in curves {
        for ((spend, st), share) in c.curve.iter().zip(CURVE_POINTS) {
            let _ = writeln!(
                s,
                "{},{},{},{},{},{},{},{}",
                c.channel,
                share,
                spend,
                st.mean,
                opt(st.sd),
                opt(st.ci95_low),
                opt(st.ci95_high),
                st.n
            );
        }
    }
    s
}

/// budget.csv: tidy budget table: channel, measure, series (actual or
/// model), statistic.
pub fn budget_csv(rows: &[BudgetRow]) -> String {
    let mut s = String::from("channel,measure,series,kind,mean,sd,ci95_low,ci95_high,n\n");
    for r in rows {
        let mut line = |series: &str, kind: &str, st: &Stats| {
            let _ = writeln!(
                s,
                "{},{},{},{},{},{},{},{},{}",
                r.channel,
                r.measure,
                series,
                kind,
                st.mean,
                opt(st.sd),
                opt(st.ci95_low),
                opt(st.ci95_high),
                st.n
            );
        };
        line("actual", "change", &r.actual);
        for (m, st) in &r.predicted {
            line(m, "predicted", st);
        }
        for (m, st) in &r.error {
            line(m, "error", st);
        }
    }
    s
}
