//! Reports: `report.json` (schema 2, typed in `schema/`; its numbers are
//! `docs/model.md`, "The metrics") with per-replicate results and
//! a summary (mean, sd, t-based 95 % CI, n) of every number; atomic writing of
//! a run folder (temp folder + rename) or of one file (temp file + rename).
//! Must never: include wall-clock numbers in `report.json` (they go to `timings.json`).

use crate::experiment::ReplicateResult;
use crate::scenario::Scenario;
use serde_json::{Map, Value};
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
pub use paired::{Paired, paired};
pub use sweep::{SweepRow, sweep_csv, sweep_rows};

/// Version of the report.json layout.
pub const SCHEMA_VERSION: u32 = 2;

/// One replicate as report.json holds it (the JSON of [`schema::ReplicateReport`]).
pub fn replicate_json(r: &ReplicateResult) -> Value {
    serde_json::to_value(schema::ReplicateReport::new(r)).expect("a replicate serialises")
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

/// The whole report.json of a run as JSON (the typed report is
/// [`schema::RunReport`]).
pub fn report_json(sc: &Scenario, results: &[ReplicateResult]) -> Value {
    serde_json::to_value(schema::RunReport::new(sc, results)).expect("the report serialises")
}

/// The pictures of a run folder: `charts/*.svg`, `charts/*.png` and
/// `report.html`, built from report.json's data and the replicates' pictures.
pub fn run_pictures(
    sc: &Scenario,
    report: &schema::RunReport,
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
        use serde_json::json;
        let a = json!({"x": 1.0, "l": [{"name": "m", "v": 2.0}]});
        let b = json!({"x": 3.0, "l": [{"name": "m", "v": 4.0}]});
        let s = summarize(&[&a, &b]);
        assert_eq!(s["x"]["mean"], 2.0);
        assert_eq!(s["l"][0]["name"], "m");
        assert_eq!(s["l"][0]["v"]["n"], 2);
    }
}
