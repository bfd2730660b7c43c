//! Sweeps: vary any scenario key over a grid of values (a dotted key,
//! array elements by `id`, as `scenarios/reference.toml` names them) and run every grid point × replicate.
//!
//! A point is made by editing the parsed TOML of the scenario file
//! (`toml::Value`) and loading the result like a file, so every key works
//! without per-key code and every point is validated by the same pass as a
//! file: an unknown key or a bad value names the key and the point.
//! Every point uses the scenario's seed, so points share their random draws
//! (common random numbers): differences between points are the swept key's.
//! Must never: run anything before every point has been validated.

use super::{ReplicateResult, RunConfig, run_replicate};
use crate::scenario::{Scenario, ScenarioError};
use rayon::prelude::*;
use std::fmt;

/// One swept key and the values it takes, in the order given.
#[derive(Clone, Debug, PartialEq)]
pub struct SweepAxis {
    /// Dotted scenario key (`observe.cookie_deletion_scale`,
    /// `channels.brand_search.intent_exponent`).
    pub key: String,
    /// Values, as TOML values.
    pub values: Vec<toml::Value>,
}

/// One grid point: its index, the value of each swept key, and the
/// validated scenario it makes.
#[derive(Clone, Debug)]
pub struct SweepPoint {
    /// Index in grid order (the last axis varies fastest).
    pub index: usize,
    /// (key, value) per axis, in axis order.
    pub values: Vec<(String, toml::Value)>,
    /// The scenario at this point.
    pub scenario: Scenario,
}

impl SweepPoint {
    /// `key=value` pairs joined by spaces, for messages.
    pub fn label(&self) -> String {
        assignments(&self.values)
    }
}

/// Why a sweep could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    /// A `--sweep` argument or `[sweep]` entry that is not `key=v1,v2,…`.
    #[error("sweep `{spec}`: {message}")]
    Spec {
        /// The argument or entry as given.
        spec: String,
        /// What is wrong.
        message: String,
    },
    /// A key that cannot be set in the scenario's TOML (no such element, or a
    /// value where a table was expected).
    #[error("sweep point {point} ({label}): key `{key}`: {message}")]
    Key {
        /// Grid point index.
        point: usize,
        /// The point's assignments.
        label: String,
        /// The swept key.
        key: String,
        /// What is wrong.
        message: String,
    },
    /// The scenario at a point does not load (unknown key, bad value).
    #[error("{0}")]
    Scenario(ScenarioError),
}

fn assignments(values: &[(String, toml::Value)]) -> String {
    values
        .iter()
        .map(|(k, v)| format!("{k}={}", value_text(v)))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A value as a user writes it on the command line (strings unquoted).
pub fn value_text(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Read one value of a `--sweep` list: a TOML literal (`0.5`, `true`,
/// `"x"`), else a bare string (`strict`).
fn parse_value(text: &str) -> toml::Value {
    let text = text.trim();
    toml::from_str::<toml::Table>(&format!("v = {text}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(text.to_string()))
}

/// Parse `key=v1,v2,…` (a `--sweep` argument).
pub fn parse_axis(spec: &str) -> Result<SweepAxis, SweepError> {
    let err = |message: &str| SweepError::Spec {
        spec: spec.to_string(),
        message: message.to_string(),
    };
    let (key, list) = spec
        .split_once('=')
        .ok_or_else(|| err("expected KEY=V1,V2,… (e.g. observe.cookie_deletion_scale=0,1,2)"))?;
    let key = key.trim();
    check_key(key).map_err(|m| err(&m))?;
    let values: Vec<toml::Value> = list
        .split(',')
        .filter(|v| !v.trim().is_empty())
        .map(parse_value)
        .collect();
    if values.is_empty() {
        return Err(err("no values after `=`"));
    }
    Ok(SweepAxis {
        key: key.to_string(),
        values,
    })
}

fn check_key(key: &str) -> Result<(), String> {
    if key.is_empty() || key.split('.').any(|p| p.trim().is_empty()) {
        return Err(format!(
            "`{key}` is not a dotted scenario key (e.g. observe.cookie_deletion_scale)"
        ));
    }
    if key == "sweep" || key.starts_with("sweep.") {
        return Err("the [sweep] table itself cannot be swept".into());
    }
    Ok(())
}

/// The axes of a scenario's `[sweep]` table: nested tables are walked, so
/// `observe.cookie_deletion_scale = [0, 1]` and
/// `"observe.cookie_deletion_scale" = [0, 1]` mean the same; every leaf must
/// be a non-empty array. Axes come in key order.
pub fn axes_from_table(table: &toml::Table) -> Result<Vec<SweepAxis>, SweepError> {
    fn walk(prefix: &str, table: &toml::Table, out: &mut Vec<SweepAxis>) -> Result<(), SweepError> {
        for (k, v) in table {
            let key = if prefix.is_empty() {
                k.clone()
            } else {
                format!("{prefix}.{k}")
            };
            match v {
                toml::Value::Table(t) => walk(&key, t, out)?,
                toml::Value::Array(values) if !values.is_empty() => {
                    check_key(&key).map_err(|message| SweepError::Spec {
                        spec: format!("sweep.{key}"),
                        message,
                    })?;
                    out.push(SweepAxis {
                        key,
                        values: values.clone(),
                    })
                }
                other => {
                    return Err(SweepError::Spec {
                        spec: format!("sweep.{key} = {other}"),
                        message: "a [sweep] entry is a non-empty list of values".into(),
                    });
                }
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk("", table, &mut out)?;
    Ok(out)
}

/// Merge the scenario's `[sweep]` axes with command-line axes: a command-line
/// axis replaces the file's axis of the same key, new keys are appended.
pub fn merge_axes(file: Vec<SweepAxis>, cli: Vec<SweepAxis>) -> Vec<SweepAxis> {
    let mut axes = file;
    for a in cli {
        match axes.iter_mut().find(|b| b.key == a.key) {
            Some(b) => *b = a,
            None => axes.push(a),
        }
    }
    axes
}

/// Every combination of the axes' values, the last axis varying fastest.
pub fn grid(axes: &[SweepAxis]) -> Vec<Vec<(String, toml::Value)>> {
    let mut points: Vec<Vec<(String, toml::Value)>> = vec![Vec::new()];
    for axis in axes {
        points = points
            .into_iter()
            .flat_map(|p| {
                axis.values.iter().map(move |v| {
                    let mut q = p.clone();
                    q.push((axis.key.clone(), v.clone()));
                    q
                })
            })
            .collect();
    }
    points
}

/// Set a dotted key in a parsed scenario. Tables on the way are created when
/// missing (loading then rejects keys the schema does not know); an element
/// of an array of tables is found by its `id` (or `kind`, for strategy
/// lists), else by its index (synergy entries).
pub fn set_key(root: &mut toml::Value, key: &str, value: toml::Value) -> Result<(), String> {
    let parts: Vec<&str> = key.split('.').collect();
    let mut node = root;
    for (i, part) in parts.iter().enumerate() {
        let last = i + 1 == parts.len();
        let here = || parts[..i].join(".");
        node = match node {
            toml::Value::Table(t) => {
                if last {
                    t.insert(part.to_string(), value);
                    return Ok(());
                }
                t.entry(part.to_string())
                    .or_insert_with(|| toml::Value::Table(toml::Table::new()))
            }
            toml::Value::Array(items) => {
                let named = |field: &str| {
                    items
                        .iter()
                        .position(|e| e.get(field).and_then(|v| v.as_str()) == Some(part))
                };
                let at = named("id")
                    .or_else(|| named("kind"))
                    .or_else(|| part.parse::<usize>().ok().filter(|&j| j < items.len()));
                let Some(at) = at else {
                    return Err(format!("`{}` has no element with id `{part}`", here()));
                };
                if last {
                    items[at] = value;
                    return Ok(());
                }
                &mut items[at]
            }
            other => {
                return Err(format!(
                    "`{}` is a value ({}), not a table",
                    here(),
                    other.type_str()
                ));
            }
        };
    }
    Err("empty key".into())
}

/// Build and validate every grid point of `axes` over the parsed scenario
/// file `raw` (its own `[sweep]` table is dropped from each point).
/// The first point that does not load stops the sweep with its error.
pub fn build_points(
    source: &str,
    raw: &toml::Value,
    axes: &[SweepAxis],
) -> Result<Vec<SweepPoint>, SweepError> {
    let mut base = raw.clone();
    if let toml::Value::Table(t) = &mut base {
        t.remove("sweep");
    }
    grid(axes)
        .into_iter()
        .enumerate()
        .map(|(index, values)| {
            let label = assignments(&values);
            let mut doc = base.clone();
            for (key, value) in &values {
                set_key(&mut doc, key, value.clone()).map_err(|message| SweepError::Key {
                    point: index,
                    label: label.clone(),
                    key: key.clone(),
                    message,
                })?;
            }
            let text = toml::to_string(&doc).map_err(|e| SweepError::Spec {
                spec: label.clone(),
                message: e.to_string(),
            })?;
            let scenario = Scenario::from_toml_str(
                &format!("{source} at sweep point {index} ({label})"),
                &text,
            )
            .map_err(SweepError::Scenario)?;
            Ok(SweepPoint {
                index,
                values,
                scenario,
            })
        })
        .collect()
}

/// Run every point × replicate in parallel (one flat list of work units, so
/// both levels share the cores); point `p` runs with `configs[p]`'s
/// strategies and its scenario's `replicates`. Results per point, in
/// replicate order, identical whatever the thread count. `progress` is
/// called once per finished unit, from any thread.
pub fn run_sweep(
    points: &[SweepPoint],
    configs: &[RunConfig],
    progress: &(dyn Fn() + Sync),
) -> Vec<Vec<ReplicateResult>> {
    assert_eq!(points.len(), configs.len(), "one RunConfig per point");
    let units: Vec<(usize, u32)> = points
        .iter()
        .enumerate()
        .flat_map(|(p, point)| (0..point.scenario.replicates).map(move |r| (p, r)))
        .collect();
    let mut flat = units
        .par_iter()
        .map(|&(p, r)| {
            let result = run_replicate(&points[p].scenario, &configs[p], r);
            progress();
            result
        })
        .collect::<Vec<_>>()
        .into_iter();
    points
        .iter()
        .map(|p| flat.by_ref().take(p.scenario.replicates as usize).collect())
        .collect()
}

/// Work units of a sweep (Σ replicates over points), for progress bars.
pub fn units(points: &[SweepPoint]) -> u64 {
    points.iter().map(|p| p.scenario.replicates as u64).sum()
}

impl fmt::Display for SweepAxis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let values: Vec<String> = self.values.iter().map(value_text).collect();
        write!(f, "{}={}", self.key, values.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TINY: &str = r#"
name = "tiny"
persons = 50
[observe]
cookie_deletion_scale = 1.0
[[channels]]
id = "display"
kind = "impression"
rate = 0.05
conversion_rate = 0.01
[[channels]]
id = "brand_search"
rate = 0.02
conversion_rate = 0.05
"#;

    #[test]
    fn axes_parse_numbers_and_bare_strings() {
        let a = parse_axis("observe.cookie_deletion_scale=0, 0.5,2").unwrap();
        assert_eq!(a.key, "observe.cookie_deletion_scale");
        assert_eq!(
            a.values,
            vec![
                toml::Value::Integer(0),
                toml::Value::Float(0.5),
                toml::Value::Integer(2)
            ]
        );
        let b = parse_axis("observe.consent_mode=one_off_id,\"not_recorded\"").unwrap();
        assert_eq!(b.values[0], toml::Value::String("one_off_id".into()));
        assert_eq!(b.values[1], toml::Value::String("not_recorded".into()));
        assert!(parse_axis("observe.cookie_deletion_scale").is_err());
        assert!(parse_axis("observe..x=1").is_err());
        assert!(parse_axis("seed=").is_err());
    }

    #[test]
    fn the_grid_is_every_combination_last_axis_fastest() {
        let axes = [parse_axis("a=1,2").unwrap(), parse_axis("b=x,y,z").unwrap()];
        let g = grid(&axes);
        assert_eq!(g.len(), 6);
        assert_eq!(assignments(&g[0]), "a=1 b=x");
        assert_eq!(assignments(&g[1]), "a=1 b=y");
        assert_eq!(assignments(&g[5]), "a=2 b=z");
        assert_eq!(grid(&[]).len(), 1);
    }

    #[test]
    fn keys_address_tables_and_array_elements_by_id() {
        let mut raw: toml::Value = toml::from_str::<toml::Table>(TINY).unwrap().into();
        set_key(
            &mut raw,
            "channels.brand_search.intent_exponent",
            2.0.into(),
        )
        .unwrap();
        set_key(&mut raw, "sales.handoff_loss_rate", 0.1.into()).unwrap();
        assert_eq!(raw["channels"][1]["intent_exponent"].as_float(), Some(2.0));
        assert_eq!(raw["sales"]["handoff_loss_rate"].as_float(), Some(0.1));
        let e = set_key(&mut raw, "channels.video.rate", 1.0.into()).unwrap_err();
        assert!(
            e.contains("`channels` has no element with id `video`"),
            "{e}"
        );
        let e = set_key(&mut raw, "persons.x", 1.into()).unwrap_err();
        assert!(e.contains("`persons` is a value"), "{e}");
    }

    #[test]
    fn every_point_is_validated_and_names_the_key() {
        let raw: toml::Value = toml::from_str::<toml::Table>(TINY).unwrap().into();
        let axes = [parse_axis("observe.cookie_deletion_scale=0,2").unwrap()];
        let points = build_points("tiny.toml", &raw, &axes).unwrap();
        assert_eq!(points.len(), 2);
        assert_eq!(points[1].scenario.observe.cookie_deletion_scale, 2.0);
        assert_eq!(points[1].label(), "observe.cookie_deletion_scale=2");

        let axes = [parse_axis("observe.cookie_deletion_scal=1").unwrap()];
        let e = build_points("tiny.toml", &raw, &axes)
            .unwrap_err()
            .to_string();
        assert!(e.contains("observe.cookie_deletion_scal"), "{e}");
        assert!(e.contains("sweep point 0"), "{e}");

        let axes = [parse_axis("channels.brand_search.conversion_rate=0.5,7").unwrap()];
        let e = build_points("tiny.toml", &raw, &axes)
            .unwrap_err()
            .to_string();
        assert!(e.contains("channels.brand_search.conversion_rate"), "{e}");
        assert!(e.contains("sweep point 1"), "{e}");
    }

    #[test]
    fn sweep_tables_nest_or_quote_keys() {
        let t: toml::Table = toml::from_str(
            "[sweep]\nobserve.cookie_deletion_scale = [0, 1]\n\"channels.display.rate\" = [0.1]\n",
        )
        .unwrap();
        let axes = axes_from_table(t["sweep"].as_table().unwrap()).unwrap();
        let keys: Vec<&str> = axes.iter().map(|a| a.key.as_str()).collect();
        assert_eq!(
            keys,
            ["channels.display.rate", "observe.cookie_deletion_scale"]
        );
        let bad: toml::Table = toml::from_str("x = 1").unwrap();
        assert!(axes_from_table(&bad).is_err());
        let merged = merge_axes(axes, vec![parse_axis("channels.display.rate=0.2").unwrap()]);
        assert_eq!(merged[0].values, vec![toml::Value::Float(0.2)]);
    }
}
