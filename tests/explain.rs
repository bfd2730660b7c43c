//! `closedloop explain` (docs/teaching.md): the classroom story pinned by a snapshot;
//! for every narrated person, events in time order and credit lines equal to
//! the truth ledger's entry and to the real models applied to that person's
//! journey (rebuilt here from the log and the partition, independently of
//! the narrator); different seeds, different stories; the answer key equals
//! `run`'s numbers; identical output whatever the thread count; bad input
//! exits 2; the classroom variants validate and tell their stories.

mod common;

use closedloop::attribute::{self, Journeys};
use closedloop::base::credit::Credit;
use closedloop::experiment;
use closedloop::explain;
use closedloop::observe::CookieLoss;
use closedloop::scenario::Scenario;
use closedloop::spec::{AttributorSpec, StitcherSpec};
use closedloop::stitch;
use common::{Scratch, closedloop, json_of};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn scenarios_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios")
}

fn classroom() -> PathBuf {
    scenarios_dir().join("classroom.toml")
}

/// The classroom variants under scenarios/classroom/, sorted.
fn variants() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(scenarios_dir().join("classroom"))
        .expect("read scenarios/classroom/")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    files
}

/// `closedloop explain ARGS…`: stdout, after checking the exit code is 0.
fn explain_out(dir: &Path, args: &[&str], threads: Option<&str>) -> String {
    let mut cmd = closedloop(dir);
    cmd.arg("explain").args(args);
    if let Some(t) = threads {
        cmd.env("RAYON_NUM_THREADS", t);
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "explain {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

fn explain_json(dir: &Path, args: &[&str]) -> Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    serde_json::from_str(&explain_out(dir, &all, None)).expect("explain --json is JSON")
}

#[test]
fn the_classroom_story_at_a_fixed_seed() {
    let scratch = Scratch::new("explain", "snapshot");
    let c = classroom();
    let text = explain_out(scratch.path(), &[c.to_str().unwrap(), "--seed", "10"], None);
    assert!(!text.contains('\x1b'), "colour off a terminal");
    insta::assert_snapshot!("classroom_seed_10", text);
}

/// A credit map's non-zero entries from JSON.
fn credit_map(v: &Value) -> BTreeMap<String, f64> {
    v.as_object()
        .map(|o| {
            o.iter()
                .map(|(k, x)| (k.clone(), x.as_f64().expect("a number")))
                .collect()
        })
        .unwrap_or_default()
}

fn nonzero(m: &BTreeMap<String, f64>) -> BTreeMap<String, f64> {
    m.iter()
        .filter(|(_, v)| v.abs() > 1e-9)
        .map(|(k, v)| (k.clone(), *v))
        .collect()
}

fn assert_close(a: &BTreeMap<String, f64>, b: &BTreeMap<String, f64>, what: &str) {
    let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    for k in keys {
        let (x, y) = (
            a.get(k).copied().unwrap_or(0.0),
            b.get(k).copied().unwrap_or(0.0),
        );
        assert!(
            (x - y).abs() < 1e-9,
            "{what}: {k}: {x} vs {y}\n{a:?}\n{b:?}"
        );
    }
}

/// The journey of the cluster holding a CRM lead, rebuilt from the log and
/// the partition (visits of the cluster up to its earliest lead, its
/// earliest opportunity, its deals' revenue) as a one-journey `Journeys`.
fn journey_of_record(
    log: &closedloop::log::EventLog,
    ids: &stitch::Identities,
    crm_lead: usize,
) -> Journeys {
    let c = ids.crm_lead[crm_lead];
    let lead_ms = log
        .crm_leads
        .iter()
        .zip(&ids.crm_lead)
        .filter(|(_, k)| **k == c)
        .map(|(l, _)| l.time_ms)
        .min()
        .unwrap();
    let opp = log
        .opportunities
        .iter()
        .zip(&ids.opportunity)
        .filter(|(_, k)| **k == c)
        .map(|(o, _)| o.time_ms)
        .min();
    let revenue: f64 = log
        .deals
        .iter()
        .zip(&ids.deal)
        .filter(|(_, k)| **k == c)
        .map(|(d, _)| d.revenue)
        .sum();
    let touches: Vec<(i64, u16)> = log
        .visits
        .iter()
        .zip(&ids.visit)
        .filter(|(v, k)| **k == c && v.time_ms <= lead_ms)
        .map(|(v, _)| (v.time_ms, v.channel))
        .collect();
    let mut js = Journeys::new(log.labels.clone(), log.n_channels);
    js.push_journey(&touches, Some(lead_ms), opp, 1.0, 0.0, revenue);
    js
}

const RULES: [&str; 8] = [
    "first_touch",
    "last_touch",
    "last_non_direct",
    "linear",
    "time_decay",
    "position_based",
    "w_shaped",
    "shapley_count",
];

#[test]
fn every_story_is_in_time_order_and_its_credit_is_the_truth_and_the_real_models() {
    let scratch = Scratch::new("explain", "credit");
    for seed in ["5", "8", "11"] {
        let c = classroom();
        let v = explain_json(scratch.path(), &[c.to_str().unwrap(), "--seed", seed]);
        let mut sc = Scenario::from_path(&c).unwrap();
        sc.seed = seed.parse().unwrap();
        let (world, obs, truth) = experiment::simulate(&sc, 0);
        let log = &obs.log;
        let stories = v["stories"].as_array().expect("stories");
        assert_eq!(stories.len(), 6, "seed {seed}: the default mix");
        let mut checked_reports = 0;
        for s in stories {
            let person = s["person"].as_u64().unwrap() as u32;
            // Time order, steps 1–4.
            let events = s["events"].as_array().unwrap();
            let times: Vec<i64> = events
                .iter()
                .map(|e| e["time_ms"].as_i64().unwrap())
                .collect();
            assert!(
                times.windows(2).all(|w| w[0] <= w[1]),
                "seed {seed} person {person}: events out of order {times:?}"
            );
            for e in events {
                let step = e["step"].as_u64().unwrap();
                assert!((1..=4).contains(&step), "{e}");
            }
            // The narrated visits are this person's, as the truth ledger says.
            for e in events.iter().filter(|e| e["kind"] == "visit") {
                if let Some(id) = e["event_id"].as_u64() {
                    let i = log.visits.iter().position(|x| x.event_id == id).unwrap();
                    assert_eq!(truth.events.visit_person[i], person);
                }
            }
            let lines = s["credit"].as_array().unwrap();
            let Some(lead) = truth.leads.iter().find(|l| l.person == person) else {
                assert!(lines.is_empty(), "a non-lead has no credit lines");
                continue;
            };
            assert_eq!(s["lead"]["cause"], lead.cause.as_str());
            let line = |source: &str| {
                lines
                    .iter()
                    .find(|l| l["source"] == source)
                    .unwrap_or_else(|| panic!("no `{source}` line for person {person}"))
            };
            // Truth: proximate from the ledger, incremental and shapley from the world.
            let mut proximate = BTreeMap::new();
            proximate.insert(lead.cause.clone(), 1.0);
            assert_close(
                &credit_map(&line("proximate")["conversions"]),
                &proximate,
                "proximate",
            );
            // The truths come first, headline first, as in report.json.
            let sources: Vec<&str> = lines
                .iter()
                .take(3)
                .map(|l| l["source"].as_str().unwrap())
                .collect();
            assert_eq!(sources, closedloop::truth::TRUTHS);
            let pc = world.credit.iter().find(|c| c.person == person).unwrap();
            let label = |l: u16| {
                sc.channels
                    .get(l as usize)
                    .map_or("baseline".to_string(), |c| c.id.clone())
            };
            for (name, entries) in [("incremental", &pc.incremental), ("shapley", &pc.shapley)] {
                let mut want = BTreeMap::new();
                for &(l, conv, _) in entries {
                    *want.entry(label(l)).or_insert(0.0) += conv;
                }
                assert_close(
                    &credit_map(&line(name)["conversions"]),
                    &nonzero(&want),
                    name,
                );
            }
            // Reports: the real strategy's partition, the person's first CRM
            // record's journey, the real model on it.
            let first_record = truth
                .events
                .crm_lead_person
                .iter()
                .position(|&p| p == person)
                .unwrap();
            // (The `platforms` line is checked against the whole report below.)
            for l in lines
                .iter()
                .filter(|l| l["model"].is_string() && l["source"] != "platforms")
            {
                let stitcher = StitcherSpec::parse(l["stitcher"].as_str().unwrap()).unwrap();
                let model_id = l["model"].as_str().unwrap();
                let model = AttributorSpec::parse(model_id).unwrap();
                assert!(
                    RULES.iter().any(|r| model_id.starts_with(r)),
                    "classroom's models credit journeys one by one: {model_id}"
                );
                let ids = stitch::build(&stitcher).stitch(log);
                let js = journey_of_record(log, &ids, first_record);
                let labels: Vec<String> = js
                    .touches
                    .iter()
                    .map(|t| log.labels[t.label as usize].clone())
                    .collect();
                let journey: Vec<String> = l["journey"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|x| x.as_str().unwrap().to_string())
                    .collect();
                assert_eq!(journey, labels, "person {person}: journey under {l}");
                let credit: Credit = attribute::build(&model).attribute(&js);
                assert_close(
                    &credit_map(&l["conversions"]),
                    &nonzero(&credit.conversions),
                    &format!("seed {seed} person {person} {}", l["source"]),
                );
                assert_close(
                    &credit_map(&l["revenue"]),
                    &nonzero(&credit.revenue),
                    "revenue",
                );
                checked_reports += 1;
            }
        }
        assert!(
            checked_reports >= 10,
            "seed {seed}: {checked_reports} report lines checked"
        );
    }
}

#[test]
fn a_journeys_share_of_a_report_is_the_rule_applied_to_it_alone() {
    // The narrator credits a journey by what it adds to the report; for the
    // rules that must equal the rule run on the journey alone.
    let mut sc = common::quickstart(1500);
    sc.seed = 3;
    let (_, obs, _) = experiment::simulate(&sc, 0);
    let ids = stitch::build(&StitcherSpec::Deterministic).stitch(&obs.log);
    let js = Journeys::build(&obs.log, &ids);
    let converting: Vec<usize> = (0..js.journeys.len())
        .filter(|&j| js.journeys[j].conversions > 0.0)
        .take(12)
        .collect();
    assert!(converting.len() >= 5);
    for id in [
        "first_touch",
        "last_non_direct",
        "linear",
        "w_shaped",
        "time_decay",
    ] {
        let spec = AttributorSpec::parse(id).unwrap();
        let total = attribute::build(&spec).attribute(&js);
        for &j in &converting {
            let added = explain::journey_credit(&spec, &js, j, Some(&total));
            let alone = attribute::build(&spec).attribute(&explain::only_journey(&js, j));
            assert_close(
                &nonzero(&added.conversions),
                &nonzero(&alone.conversions),
                &format!("{id} journey {j}"),
            );
            assert_close(
                &nonzero(&added.revenue),
                &nonzero(&alone.revenue),
                &format!("{id} journey {j} revenue"),
            );
        }
    }
    // A fitted model's share still sums to the journey's one lead.
    let spec = AttributorSpec::parse("markov").unwrap();
    let added = explain::journey_credit(&spec, &js, converting[0], None);
    assert!((added.total_conversions() - 1.0).abs() < 1e-6, "{added:?}");
}

#[test]
fn cookie_loss_causes_agree_with_the_loss_counts() {
    let mut sc = common::quickstart(3000);
    sc.observe.consent_decline_rate = 0.2;
    let (_, obs, _) = experiment::simulate(&sc, 0);
    for (why, mechanism) in [
        (CookieLoss::Deleted, "cookie_deletion"),
        (CookieLoss::ItpExpired, "itp_expiry"),
        (CookieLoss::PrivateWindow, "private_window"),
        (CookieLoss::ConsentDeclined, "consent_declined"),
        (CookieLoss::TagBlocked, "tag_blocked"),
    ] {
        let noted = obs.cookie_losses.iter().filter(|x| x.1 == why).count() as u64;
        assert_eq!(noted, obs.losses.counts[mechanism], "{mechanism}");
        assert!(noted > 0, "{mechanism}: none in the test world");
    }
    assert!(obs.cookie_losses.windows(2).all(|w| w[0] <= w[1]));
}

#[test]
fn different_seeds_tell_different_stories() {
    let scratch = Scratch::new("explain", "seeds");
    let c = classroom();
    let a = explain_out(scratch.path(), &[c.to_str().unwrap(), "--seed", "10"], None);
    let b = explain_out(scratch.path(), &[c.to_str().unwrap(), "--seed", "6"], None);
    assert_ne!(a, b);
    let ja = explain_json(scratch.path(), &[c.to_str().unwrap(), "--seed", "5"]);
    let jb = explain_json(scratch.path(), &[c.to_str().unwrap(), "--seed", "6"]);
    assert_ne!(ja["stories"], jb["stories"]);
}

#[test]
fn the_same_seed_tells_the_same_story_whatever_the_thread_count() {
    let scratch = Scratch::new("explain", "threads");
    let c = classroom();
    for extra in [
        &[][..],
        &["--json"][..],
        &["--answers"][..],
        &["--markdown"][..],
    ] {
        let mut args = vec![c.to_str().unwrap()];
        args.extend_from_slice(extra);
        let one = explain_out(scratch.path(), &args, Some("1"));
        let two = explain_out(scratch.path(), &args, Some("2"));
        assert_eq!(one, two, "{extra:?}");
    }
}

#[test]
fn the_answer_key_is_the_runs_numbers() {
    let scratch = Scratch::new("explain", "answers");
    let c = classroom();
    for seed in ["5", "9"] {
        let key = explain_json(
            scratch.path(),
            &[c.to_str().unwrap(), "--answers", "--seed", seed],
        );
        let out = closedloop(scratch.path())
            .arg("run")
            .arg(&c)
            .args(["--json", "--seed", seed, "--out"])
            .arg(scratch.join(&format!("run-{seed}")))
            .output()
            .unwrap();
        assert!(out.status.success());
        let run: Value = serde_json::from_slice(&out.stdout).unwrap();
        let rep = &run["replicates"][0];
        assert_eq!(key["leads"], rep["world"]["leads"]);
        assert_eq!(key["revenue"], rep["world"]["revenue"]);
        for truth in closedloop::truth::TRUTHS {
            assert_eq!(key[truth], rep["truth"][truth]["conversions"], "{truth}");
        }
        let rows = key["rows"].as_array().unwrap();
        let attribution = rep["attribution"].as_array().unwrap();
        assert_eq!(rows.len(), attribution.len());
        for row in rows {
            let a = attribution
                .iter()
                .find(|a| a["stitcher"] == row["stitcher"] && a["model"] == row["model"])
                .unwrap_or_else(|| panic!("{row} not in the run"));
            assert_eq!(row["conversions"], a["credit"]["conversions"], "{row}");
            assert_eq!(
                row["tvd"], a["error"]["shapley"]["conversions"]["tvd"],
                "{row}"
            );
        }
        for role in ["ga_style", "hubspot_style", "best_model", "truth"] {
            assert!(
                rows.iter()
                    .any(|r| r["roles"].as_array().unwrap().iter().any(|x| x == role)),
                "seed {seed}: no `{role}` row"
            );
        }
        // The best model has the least error against shapley on the best stitcher.
        let best = key["best_model"].as_str().unwrap();
        let on_best: Vec<&Value> = rows
            .iter()
            .filter(|r| r["stitcher"] == key["best_stitcher"][0] && r["model"] != "oracle")
            .collect();
        let min = on_best
            .iter()
            .map(|r| r["tvd"].as_f64().unwrap())
            .fold(f64::INFINITY, f64::min);
        let best_tvd = on_best.iter().find(|r| r["model"] == best).unwrap()["tvd"]
            .as_f64()
            .unwrap();
        assert_eq!(best_tvd, min);
        // The printed key shows the same numbers.
        let text = explain_out(
            scratch.path(),
            &[c.to_str().unwrap(), "--answers", "--seed", seed],
            None,
        );
        let ga = rows
            .iter()
            .find(|r| {
                r["roles"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|x| x == "ga_style")
            })
            .unwrap();
        let tvd = format!("{:.3}", ga["tvd"].as_f64().unwrap());
        assert!(text.contains(&tvd), "GA-style tvd {tvd} not in:\n{text}");
    }
}

#[test]
fn a_chosen_person_and_markdown_handouts() {
    let scratch = Scratch::new("explain", "person");
    let c = classroom();
    let v = explain_json(
        scratch.path(),
        &[c.to_str().unwrap(), "--person", "3", "--person", "0"],
    );
    let persons: Vec<u64> = v["stories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["person"].as_u64().unwrap())
        .collect();
    assert_eq!(persons, [3, 0]);
    let md = explain_out(scratch.path(), &[c.to_str().unwrap(), "--markdown"], None);
    assert!(md.starts_with("# "), "{md}");
    assert!(md.contains("\n## Person "), "{md}");
    assert!(md.contains("| credit from |"), "{md}");
    let v = explain_json(scratch.path(), &[c.to_str().unwrap(), "--visitors", "2"]);
    assert_eq!(v["stories"].as_array().unwrap().len(), 2);
    let v = explain_json(scratch.path(), &[c.to_str().unwrap(), "--visitors", "9"]);
    assert_eq!(v["stories"].as_array().unwrap().len(), 9);
}

#[test]
fn bad_requests_exit_2_with_a_clear_message() {
    let scratch = Scratch::new("explain", "bad");
    let c = classroom();
    let c = c.to_str().unwrap();
    for (args, needle) in [
        (vec![c, "--person", "50"], "person 50 does not exist"),
        (vec![c, "--visitors", "0"], "--visitors must be at least 1"),
        (vec![c, "--json", "--markdown"], "cannot be used with"),
        (vec![c, "--person", "x"], "invalid value"),
        (vec!["no/such/file.toml"], "no/such/file.toml"),
    ] {
        let out = closedloop(scratch.path())
            .arg("explain")
            .args(&args)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.contains(needle),
            "{args:?}: `{needle}` not in {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

#[test]
fn every_classroom_variant_validates_and_tells_its_story() {
    let scratch = Scratch::new("explain", "variants");
    let files = variants();
    assert!(files.len() >= 5, "{files:?}");
    for f in &files {
        closedloop(scratch.path())
            .arg("validate")
            .arg(f)
            .assert()
            .success();
        let v = explain_json(scratch.path(), &[f.to_str().unwrap()]);
        assert!(
            !v["stories"].as_array().unwrap().is_empty(),
            "{}: no story",
            f.display()
        );
    }
    // Observation never changes the world: the lossless variant has the
    // classroom's persons, leads and true causes.
    let causes = |f: &Path| {
        let v = explain_json(scratch.path(), &[f.to_str().unwrap(), "--answers"]);
        (v["leads"].clone(), v["proximate"].clone())
    };
    assert_eq!(
        causes(&classroom()),
        causes(&scenarios_dir().join("classroom/no_cookie_loss.toml"))
    );
}

#[test]
fn the_default_scenario_is_the_classroom() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let a = explain_out(root, &["--json"], None);
    let b = explain_out(root, &["scenarios/classroom.toml", "--json"], None);
    assert_eq!(a, b);
}

#[test]
fn committed_notebooks_have_no_outputs_and_find_the_binary_by_env() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("notebooks");
    let mut found = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|x| x != "ipynb") {
            continue;
        }
        found += 1;
        let nb: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap())
            .unwrap_or_else(|e| panic!("{}: not JSON: {e}", path.display()));
        let cells = nb["cells"].as_array().expect("cells");
        let mut sources = String::new();
        for (i, c) in cells.iter().enumerate() {
            if c["cell_type"] == "code" {
                assert_eq!(
                    c["outputs"].as_array().map(Vec::len),
                    Some(0),
                    "{} cell {i}: outputs are committed (scripts/notebooks --strip)",
                    path.display()
                );
                assert!(
                    c["execution_count"].is_null(),
                    "{} cell {i}",
                    path.display()
                );
            }
            for line in c["source"].as_array().unwrap() {
                sources.push_str(line.as_str().unwrap());
            }
        }
        assert!(
            sources.contains("CLOSEDLOOP_BIN"),
            "{}: the binary comes from CLOSEDLOOP_BIN",
            path.display()
        );
    }
    assert!(found >= 3, "{found} notebooks");
}

#[test]
fn each_leads_platform_claims_add_up_to_the_platforms_report() {
    // Per lead: `platform_reported` on the logs cut to that lead; over all
    // leads, the claims must be the whole report's (the run's row).
    for file in ["classroom.toml", "classroom/platform_claims.toml"] {
        let sc = Scenario::from_path(&scenarios_dir().join(file)).unwrap();
        let (_, _, truth) = experiment::simulate(&sc, 0);
        let opts = explain::ExplainOptions {
            persons: truth.leads.iter().map(|l| l.person).collect(),
            ..Default::default()
        };
        let out = explain::explain(&sc, &opts).unwrap();
        let mut summed: BTreeMap<String, f64> = BTreeMap::new();
        let mut multi = 0;
        for s in &out.explanation.stories {
            let line = s
                .credit
                .iter()
                .find(|c| c.source == "platforms")
                .expect("a platforms line for every lead");
            for (k, v) in &line.conversions {
                *summed.entry(k.clone()).or_insert(0.0) += v;
            }
            multi += usize::from(line.conversions.values().sum::<f64>() > 1.5);
        }
        let row = out
            .answers
            .rows
            .iter()
            .find(|r| r.model == "platform_reported")
            .expect("the run's platform row");
        assert_close(&summed, &nonzero(&row.conversions), file);
        if file.contains("platform_claims") {
            assert!(
                multi >= 2,
                "{file}: {multi} leads claimed by several platforms"
            );
        }
    }
}

#[test]
fn the_default_classroom_is_built_in_for_teachers_outside_the_repository() {
    // Run from an empty folder: no scenarios/ beside it, the built-in copy
    // tells the same stories as the shipped file.
    let scratch = Scratch::new("explain", "anywhere");
    let built_in =
        json_of(common::closedloop(scratch.path()).args(["explain", "--visitors", "2", "--json"]));
    let shipped = json_of(
        closedloop(scratch.path())
            .args(["explain", "--visitors", "2", "--json"])
            .arg(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/scenarios/classroom.toml"
            )),
    );
    assert_eq!(built_in["scenario"], "classroom");
    assert_eq!(built_in["stories"], shipped["stories"]);
}
