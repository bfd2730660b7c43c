//! Reports: `report.json` (schema 2, DESIGN §13) with per-replicate results and
//! a summary (mean, sd, t-based 95 % CI, n) of every number; atomic writing of
//! a run folder (temp folder + rename) or of one file (temp file + rename).
//! Must never: include wall-clock numbers in `report.json` (they go to `timings.json`).

use crate::base::credit::Credit;
use crate::experiment::{ReplicateResult, WorldSummary};
use crate::scenario::Scenario;
use crate::truth::{PROXIMATE, TRUTHS};
use serde_json::{Map, Value, json};
use std::path::{Path, PathBuf};

pub mod csv;
pub mod figures;
pub mod html;
pub mod own;
pub mod paired;
pub mod schema;
pub mod sweep;
pub mod tables;

pub use crate::base::stats::{Stats, t975};
pub use paired::{Paired, paired, paired_json};
pub use sweep::{SweepRow, sweep_csv, sweep_json, sweep_rows};

/// Version of the report.json layout.
pub const SCHEMA_VERSION: u32 = 2;

fn credit_json(c: &Credit) -> Value {
    json!({ "conversions": c.conversions, "revenue": c.revenue })
}

fn world_json(w: &WorldSummary) -> Value {
    let mut out = json!({
        "persons": w.persons,
        "devices": w.devices,
        "cookies": w.cookies,
        "visits": w.visits,
        "recorded_visits": w.recorded_visits,
        "form_fills": w.form_fills,
        "crm_leads": w.crm_leads,
        "recorded_sessions": w.recorded_sessions,
        "leads_with_click_id": w.leads_with_click_id,
        "conversion_imports": w.conversion_imports,
        "leads": w.leads,
        "opportunities": w.opportunities,
        "customers": w.customers,
        "revenue": w.revenue,
        "existing_customers": w.existing_customers,
        "loss": w.loss.counts,
    });
    // Truth side, only for scenarios with accounts (absent otherwise).
    if let Some(a) = &w.account_path {
        out["account_path"] = serde_json::to_value(a).expect("account path serialises");
    }
    out
}

/// The true cause → last-touch-recorded counts as `{cause: {recorded: leads}}`,
/// every cause (truth labels) × every recorded label seen, zeros included,
/// so replicates summarise key by key.
fn flows_json(flows: &[(String, String, f64)], truth: &Credit) -> Value {
    let mut recorded: Vec<&String> = flows.iter().map(|f| &f.1).collect();
    recorded.sort();
    recorded.dedup();
    let mut out = Map::new();
    for cause in truth.conversions.keys() {
        let row: Map<String, Value> = recorded
            .iter()
            .map(|r| {
                let n: f64 = flows
                    .iter()
                    .filter(|f| &f.0 == cause && &f.1 == *r)
                    .map(|f| f.2)
                    .sum::<f64>()
                    + 0.0; // no −0.0 for an empty sum
                (r.to_string(), json!(n))
            })
            .collect();
        out.insert(cause.clone(), Value::Object(row));
    }
    Value::Object(out)
}

/// One replicate as a JSON object.
pub fn replicate_json(r: &ReplicateResult) -> Value {
    let mut truth = Map::new();
    for (name, c) in TRUTHS.iter().zip(&r.truth) {
        truth.insert(name.to_string(), credit_json(c));
    }
    truth.insert(
        "shapley_post_lead_share".to_string(),
        json!(r.shapley_post_lead_share),
    );
    let mut stitching = Map::new();
    for (name, m) in &r.stitching {
        let mut v = serde_json::to_value(m).expect("metrics serialise");
        if let (Value::Object(o), Some((_, p))) =
            (&mut v, r.path_lengths.iter().find(|(n, _)| n == name))
        {
            o.insert(
                "path_lengths".into(),
                serde_json::to_value(p).expect("path lengths serialise"),
            );
        }
        stitching.insert(name.clone(), v);
    }
    let mut downstream = Map::new();
    for (name, rows) in crate::experiment::downstream(r) {
        let mut by_model = Map::new();
        for d in rows {
            by_model.insert(
                d.model.clone(),
                json!({ "tvd": d.tvd, "oracle_tvd": d.oracle_tvd, "stitching_part": d.stitching_part }),
            );
        }
        downstream.insert(name, Value::Object(by_model));
    }
    let attribution: Vec<Value> = r
        .attribution
        .iter()
        .map(|a| {
            let mut error = Map::new();
            for (name, e) in TRUTHS.iter().zip(&a.error) {
                error.insert(name.to_string(), serde_json::to_value(e).expect("errors serialise"));
            }
            json!({ "stitcher": a.stitcher, "model": a.model, "credit": credit_json(&a.credit), "error": error })
        })
        .collect();
    let tools: Vec<Value> = r
        .pictures
        .tools
        .iter()
        .zip(crate::experiment::pictures::TOOLS)
        .map(|(a, (tool, _, _))| {
            let mut error = Map::new();
            for (name, e) in TRUTHS.iter().zip(&a.error) {
                error.insert(name.to_string(), serde_json::to_value(e).expect("errors serialise"));
            }
            json!({ "tool": tool, "stitcher": a.stitcher, "model": a.model, "credit": credit_json(&a.credit), "error": error })
        })
        .collect();
    json!({
        "replicate": r.replicate,
        "world": world_json(&r.world),
        "tools": tools,
        "flows": flows_json(&r.pictures.flows, &r.truth[PROXIMATE]),
        "truth": truth,
        "stitching": stitching,
        "stitching_threshold_sweep": serde_json::to_value(&r.threshold_sweep).expect("sweep serialises"),
        "platforms": serde_json::to_value(&r.platforms).expect("platforms serialise"),
        "loss_ablation": serde_json::to_value(&r.loss_ablation).expect("ablation serialises"),
        "downstream": downstream,
        "attribution": attribution,
    })
}

/// Summary statistics of a sample as JSON: {mean, sd, ci95_low, ci95_high, n}
/// (sd and CI null when n < 2).
pub fn stats(xs: &[f64]) -> Value {
    serde_json::to_value(Stats::of(xs)).expect("stats serialise")
}

/// Summarise values found at the same path in every replicate: numbers become
/// stats, objects and arrays recurse, anything else keeps the first value.
pub fn summarize(values: &[&Value]) -> Value {
    match values.first() {
        None => Value::Null,
        Some(Value::Number(_)) => {
            let xs: Vec<f64> = values.iter().filter_map(|v| v.as_f64()).collect();
            stats(&xs)
        }
        Some(Value::Object(first)) => {
            let mut out = Map::new();
            for key in first.keys() {
                let vs: Vec<&Value> = values.iter().filter_map(|v| v.get(key)).collect();
                out.insert(key.clone(), summarize(&vs));
            }
            Value::Object(out)
        }
        Some(Value::Array(first)) => Value::Array(
            (0..first.len())
                .map(|i| {
                    let vs: Vec<&Value> = values.iter().filter_map(|v| v.get(i)).collect();
                    summarize(&vs)
                })
                .collect(),
        ),
        Some(other) => (*other).clone(),
    }
}

/// The whole report.json.
pub fn report_json(sc: &Scenario, results: &[ReplicateResult]) -> Value {
    let reps: Vec<Value> = results.iter().map(replicate_json).collect();
    let refs: Vec<&Value> = reps.iter().collect();
    let mut summary = summarize(&refs);
    if let Value::Object(m) = &mut summary {
        m.remove("replicate");
    }
    json!({
        "schema_version": SCHEMA_VERSION,
        "scenario": { "name": sc.name, "seed": sc.seed, "replicates": results.len() },
        "channels": sc.channel_ids(),
        "replicates": reps,
        "summary": summary,
        "paired": paired_json(&paired(results)),
    })
}

/// The pictures of a run folder: `charts/*.svg`, `charts/*.png` and
/// `report.html`, built from report.json's data and the replicates' pictures.
pub fn run_pictures(
    sc: &Scenario,
    report: &Value,
    results: &[ReplicateResult],
) -> Result<Vec<(String, Vec<u8>)>, crate::charts::ChartError> {
    let charts = figures::run_charts(sc, report, results)?;
    let mut files = figures::chart_files(&charts);
    files.push((
        "report.html".to_string(),
        html::run_html(sc, report, results, &charts).into_bytes(),
    ));
    Ok(files)
}

/// The pictures of a sweep folder: the sweep lines and `report.html`.
pub fn sweep_pictures(
    sc: &Scenario,
    points: &[crate::experiment::sweep::SweepPoint],
    rows: &[SweepRow],
) -> Result<Vec<(String, Vec<u8>)>, crate::charts::ChartError> {
    let charts = figures::sweep_charts(points, rows)?;
    let mut files = figures::chart_files(&charts);
    files.push((
        "report.html".to_string(),
        html::sweep_html(sc, points, rows, &charts).into_bytes(),
    ));
    Ok(files)
}

/// The pictures of a budget folder: predicted vs actual bars, response
/// curves and `report.html`.
pub fn budget_pictures(
    sc: &Scenario,
    rows: &[crate::experiment::budget::BudgetRow],
    curves: &[crate::experiment::budget::ChannelCurve],
) -> Result<Vec<(String, Vec<u8>)>, crate::charts::ChartError> {
    let charts = figures::budget_charts(sc, rows, curves)?;
    let mut files = figures::chart_files(&charts);
    files.push((
        "report.html".to_string(),
        html::budget_html(sc, rows, curves, &charts).into_bytes(),
    ));
    Ok(files)
}

/// The pictures of a loop folder: cumulative profit per model and `report.html`.
pub fn loop_pictures(
    sc: &Scenario,
    study: &crate::experiment::closed_loop::LoopStudy,
) -> Result<Vec<(String, Vec<u8>)>, crate::charts::ChartError> {
    let charts = figures::loop_charts(&study.runs, &study.models)?;
    let mut files = figures::chart_files(&charts);
    files.push((
        "report.html".to_string(),
        html::loop_html(sc, &study.summary, &charts).into_bytes(),
    ));
    Ok(files)
}

/// report.json of a sweep run: the base scenario's identity and the `sweep`
/// section (a point's full replicates and summary are not kept: at one
/// report per point the file would grow by megabytes per point).
pub fn sweep_report_json(
    sc: &Scenario,
    points: &[crate::experiment::sweep::SweepPoint],
    rows: &[SweepRow],
) -> Value {
    json!({
        "schema_version": SCHEMA_VERSION,
        "scenario": { "name": sc.name, "seed": sc.seed, "replicates": points.first().map(|p| p.scenario.replicates) },
        "channels": sc.channel_ids(),
        "sweep": sweep_json(points, rows),
    })
}

/// Why a run folder could not be written.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The file system refused.
    #[error("cannot write {path}: {message}")]
    Io {
        /// The path involved.
        path: String,
        /// The system's reason.
        message: String,
    },
    /// The output path holds something that is not a previous run; it is left alone.
    #[error("refusing to replace {path}: {reason}; choose another --out")]
    NotARunFolder {
        /// The output path.
        path: String,
        /// What is there.
        reason: String,
    },
}

fn werr(path: &Path, e: std::io::Error) -> WriteError {
    WriteError::Io {
        path: path.display().to_string(),
        message: e.to_string(),
    }
}

/// A folder may be replaced only if it is empty or holds a previous run
/// (a `report.json` and nothing but files a run writes).
fn check_replaceable(dir: &Path) -> Result<(), WriteError> {
    let refuse = |reason: &str| WriteError::NotARunFolder {
        path: dir.display().to_string(),
        reason: reason.to_string(),
    };
    let meta = match std::fs::symlink_metadata(dir) {
        Ok(m) => m,
        Err(_) => return Ok(()),
    };
    if !meta.is_dir() {
        return Err(refuse("it is a file, not a folder"));
    }
    let entries: Vec<String> = std::fs::read_dir(dir)
        .map_err(|e| werr(dir, e))?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().to_string())
        .collect();
    if entries.is_empty() {
        return Ok(());
    }
    if !entries
        .iter()
        .any(|e| e == "report.json" || e == "events.json")
    {
        return Err(refuse(
            "it is a folder that holds no report.json (not a closedloop run)",
        ));
    }
    let run_file = |e: &str| {
        e.ends_with(".json")
            || e.ends_with(".csv")
            || e.ends_with(".html")
            || e == "charts"
            || e == "truth"
    };
    if let Some(other) = entries.iter().find(|e| !run_file(e)) {
        return Err(refuse(&format!(
            "it holds `{other}`, which a run does not write"
        )));
    }
    Ok(())
}

/// Write files into `dir` atomically: everything goes to a sibling temporary
/// folder first, which then replaces `dir` by rename, so a reader never sees a
/// half-written run and a failure leaves any previous run in place. Only an
/// empty folder or a previous run folder is ever replaced.
pub fn write_run(dir: &Path, files: &[(&str, Vec<u8>)]) -> Result<(), WriteError> {
    check_replaceable(dir)?;
    let Some((parent, name)) = parent_and_name(dir)? else {
        return Err(WriteError::NotARunFolder {
            path: dir.display().to_string(),
            reason: "it names no folder".into(),
        });
    };
    let tmp: PathBuf = parent.join(format!(".{name}.tmp-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    let result = (|| {
        std::fs::create_dir_all(&tmp).map_err(|e| werr(&tmp, e))?;
        for (file, bytes) in files {
            let p = tmp.join(file);
            if let Some(d) = p.parent() {
                std::fs::create_dir_all(d).map_err(|e| werr(d, e))?;
            }
            std::fs::write(&p, bytes).map_err(|e| werr(&p, e))?;
        }
        let old: PathBuf = parent.join(format!(".{name}.old-{}", std::process::id()));
        if dir.exists() {
            std::fs::rename(dir, &old).map_err(|e| werr(dir, e))?;
        }
        std::fs::rename(&tmp, dir).map_err(|e| werr(dir, e))?;
        let _ = std::fs::remove_dir_all(&old);
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    result
}

/// The folder holding `path` (created if missing) and `path`'s file name;
/// `None` when the path names no file or folder (`/`, `..`).
fn parent_and_name(path: &Path) -> Result<Option<(PathBuf, String)>, WriteError> {
    let parent = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let Some(name) = path.file_name() else {
        return Ok(None);
    };
    std::fs::create_dir_all(parent).map_err(|e| werr(parent, e))?;
    Ok(Some((
        parent.to_path_buf(),
        name.to_string_lossy().to_string(),
    )))
}

/// Write one file atomically: the bytes go to a sibling temporary file first,
/// which then replaces `path` by rename, so a reader never sees a half-written
/// file and a failure leaves any previous file in place. A folder is never
/// replaced.
pub fn write_file(path: &Path, bytes: &[u8]) -> Result<(), WriteError> {
    let io = |message: &str| WriteError::Io {
        path: path.display().to_string(),
        message: message.to_string(),
    };
    if path.is_dir() {
        return Err(io("it is a folder, not a file"));
    }
    let Some((parent, name)) = parent_and_name(path)? else {
        return Err(io("it names no file"));
    };
    let tmp = parent.join(format!(".{name}.tmp-{}", std::process::id()));
    let result = std::fs::write(&tmp, bytes)
        .map_err(|e| werr(&tmp, e))
        .and_then(|()| std::fs::rename(&tmp, path).map_err(|e| werr(path, e)));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_match_a_hand_computation() {
        let s = stats(&[1.0, 2.0, 3.0]);
        assert_eq!(s["mean"], 2.0);
        assert_eq!(s["sd"], 1.0);
        // t(0.975, 2) = 4.302653; half-width = 4.302653 / sqrt(3).
        let half = 4.302_652_729_911_275 / 3f64.sqrt();
        assert!((s["ci95_high"].as_f64().unwrap() - (2.0 + half)).abs() < 1e-6);
        assert!(stats(&[5.0])["sd"].is_null());
    }

    #[test]
    fn write_file_replaces_a_file_atomically_and_never_a_folder() {
        let base = std::env::temp_dir().join(format!("closedloop-file-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        let file = base.join("sub/paths.csv");
        write_file(&file, b"one").unwrap();
        write_file(&file, b"two").unwrap();
        assert_eq!(std::fs::read(&file).unwrap(), b"two");
        let names: Vec<String> = std::fs::read_dir(base.join("sub"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
            .collect();
        assert_eq!(names, ["paths.csv"], "no temporary file is left");
        assert!(write_file(&base.join("sub"), b"x").is_err());
        assert!(base.join("sub/paths.csv").exists());
        let _ = std::fs::remove_dir_all(&base);
    }

    #[test]
    fn only_run_folders_are_replaced() {
        let base = std::env::temp_dir().join(format!("closedloop-write-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        std::fs::create_dir_all(base.join("user")).unwrap();
        std::fs::write(base.join("user/notes.txt"), "precious").unwrap();
        let files = [("report.json", b"{}".to_vec())];
        assert!(matches!(
            write_run(&base.join("user"), &files),
            Err(WriteError::NotARunFolder { .. })
        ));
        assert_eq!(
            std::fs::read_to_string(base.join("user/notes.txt")).unwrap(),
            "precious"
        );
        std::fs::write(base.join("afile"), "x").unwrap();
        assert!(write_run(&base.join("afile"), &files).is_err());
        write_run(&base.join("run"), &files).unwrap();
        write_run(&base.join("run"), &files).unwrap();
        assert!(base.join("run/report.json").exists());
        let _ = std::fs::remove_dir_all(&base);
    }

    #[test]
    fn summary_walks_objects_and_arrays() {
        let a = json!({"x": 1.0, "l": [{"name": "m", "v": 2.0}]});
        let b = json!({"x": 3.0, "l": [{"name": "m", "v": 4.0}]});
        let s = summarize(&[&a, &b]);
        assert_eq!(s["x"]["mean"], 2.0);
        assert_eq!(s["l"][0]["name"], "m");
        assert_eq!(s["l"][0]["v"]["n"], 2);
    }
}
