//! Charts and report.html: every chart is well-formed SVG and a real PNG,
//! every chart about channels names every channel, report.html loads
//! nothing from anywhere, and the same scenario gives the same bytes
//! whatever the thread count. `run`, `budget`, `loop` and sweeps all leave
//! report.html and charts/.

mod common;

use closedloop::experiment::{self, RunConfig};
use closedloop::report;
use common::{Scratch, closedloop, quickstart};
use std::collections::BTreeMap;

/// Charts whose subject is the channels: each must name every channel.
const CHANNEL_CHARTS: [&str; 6] = [
    "credit_leads_best_stitcher",
    "credit_leads_oracle",
    "credit_revenue_best_stitcher",
    "credit_revenue_oracle",
    "flow_true_cause_to_last_touch",
    "journey_timeline",
];

/// A tiny quickstart's run folder files (charts and report.html), computed
/// in a pool of `threads` threads.
fn run_files(persons: u32, threads: usize) -> BTreeMap<String, Vec<u8>> {
    let sc = quickstart(persons);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    pool.install(|| {
        let results = experiment::run(&sc, &RunConfig::from_scenario(&sc));
        let report = report::schema::RunReport::new(&sc, &results);
        report::run_pictures(&sc, &report, &results)
            .expect("charts draw")
            .into_iter()
            .collect()
    })
}

/// The text content of every `<text>` element of an SVG document, after
/// checking it parses as XML.
fn svg_texts(name: &str, svg: &str) -> Vec<String> {
    let doc = roxmltree::Document::parse(svg)
        .unwrap_or_else(|e| panic!("{name} is not well-formed SVG: {e}"));
    assert_eq!(doc.root_element().tag_name().name(), "svg", "{name}");
    doc.descendants()
        .filter(|n| n.has_tag_name("text"))
        .map(|n| n.text().unwrap_or("").to_string())
        .collect()
}

/// Every reference report.html makes to something outside itself.
fn external_references(html: &str) -> Vec<String> {
    let lower = html
        .to_lowercase()
        .replace("xmlns=\"http://www.w3.org/2000/svg\"", "");
    let mut found = Vec::new();
    for needle in [
        "http://", "https://", "src=", "<link", "@import", "url(", "<iframe", "<object",
    ] {
        if let Some(i) = lower.find(needle) {
            found.push(lower[i.saturating_sub(40)..(i + 60).min(lower.len())].to_string());
        }
    }
    let mut rest = lower.as_str();
    while let Some(i) = rest.find("href=\"") {
        rest = &rest[i + 6..];
        if !rest.starts_with('#') {
            found.push(rest.chars().take(60).collect());
        }
    }
    found
}

#[test]
fn every_chart_is_well_formed_and_names_every_channel() {
    let files = run_files(2_000, 2);
    let channels = quickstart(2_000).channel_ids();
    let palette = closedloop::charts::Palette::new(&channels);
    let svgs: Vec<(&String, &Vec<u8>)> =
        files.iter().filter(|(n, _)| n.ends_with(".svg")).collect();
    assert_eq!(svgs.len(), 10, "charts drawn");
    for (name, bytes) in &svgs {
        let svg = std::str::from_utf8(bytes).expect("SVG is UTF-8");
        let texts = svg_texts(name, svg);
        assert!(!texts.is_empty(), "{name} has no text");
        let stem = name.trim_start_matches("charts/").trim_end_matches(".svg");
        if CHANNEL_CHARTS.contains(&stem) {
            for c in &channels {
                assert!(
                    texts.iter().any(|t| t.contains(c.as_str())),
                    "{name} does not name channel {c}"
                );
                // One fixed colour per channel in every chart.
                let colour = palette.css(c).to_uppercase();
                assert!(
                    svg.to_uppercase().contains(&format!("FILL=\"{colour}\"")),
                    "{name} does not draw {c} in {colour}"
                );
            }
        }
        let png = &files[&name.replace(".svg", ".png")];
        assert!(
            png.starts_with(b"\x89PNG\r\n\x1a\n"),
            "{name}: PNG signature"
        );
        assert!(png.len() > 5_000, "{name}: PNG of {} bytes", png.len());
    }
    for stem in CHANNEL_CHARTS {
        assert!(
            files.contains_key(&format!("charts/{stem}.svg")),
            "{stem} drawn"
        );
    }
}

#[test]
fn report_html_is_self_contained_and_has_every_section() {
    let files = run_files(2_000, 2);
    let html = String::from_utf8(files["report.html"].clone()).unwrap();
    assert_eq!(external_references(&html), Vec::<String>::new());
    for section in [
        "The scenario in words",
        "The world",
        "What your tools would tell you",
        "GA-style",
        "HubSpot-style",
        "Stitching",
        "Attribution",
        "What the ad platforms claim",
        "<svg",
        "class=\"sortable\"",
    ] {
        assert!(html.contains(section), "report.html lacks {section}");
    }
    // The charts are inline, not linked.
    assert_eq!(html.matches("<svg").count(), 10);
    // The checker itself catches what it must.
    for bad in [
        "<img src=\"x.png\">",
        "<link rel=\"stylesheet\" href=\"s.css\">",
        "<a href=\"https://example.org\">",
        "<style>body{background:url(x.png)}</style>",
    ] {
        assert!(!external_references(bad).is_empty(), "{bad}");
    }
}

#[test]
fn the_tools_table_shows_ga_and_hubspot_even_when_not_chosen() {
    let mut sc = quickstart(2_000);
    let cfg = RunConfig {
        stitchers: vec![closedloop::spec::StitcherSpec::parse("graph").unwrap()],
        models: vec![closedloop::spec::AttributorSpec::parse("linear").unwrap()],
        replicates: 1,
    };
    sc.replicates = 1;
    let results = experiment::run(&sc, &cfg);
    let tools = &results[0].pictures.tools;
    assert_eq!(tools.len(), 2);
    assert_eq!(
        (tools[0].stitcher.as_str(), tools[0].model.as_str()),
        ("cookie_only", "last_non_direct")
    );
    assert_eq!(
        (tools[1].stitcher.as_str(), tools[1].model.as_str()),
        ("deterministic", "first_touch")
    );
    // Credit sums to the CRM-visible conversions of each journey set.
    for t in tools {
        assert!(t.credit.conversions.values().sum::<f64>() > 0.0);
    }
    // The flows count every true lead once.
    let leads: f64 = results[0].pictures.flows.iter().map(|f| f.2).sum();
    assert_eq!(leads, results[0].world.leads as f64);
    // report.json carries both, so the HTML's numbers can be checked from it.
    let json = report::report_json(&sc, &results);
    let r0 = &json["replicates"][0];
    assert_eq!(r0["tools"][0]["tool"], "GA-style");
    assert_eq!(r0["tools"][1]["tool"], "HubSpot-style");
    let flows: f64 = r0["flows"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|row| row.as_object().unwrap().values())
        .map(|n| n.as_f64().unwrap())
        .sum();
    assert_eq!(flows, leads);
    assert!(json["summary"]["tools"][0]["credit"]["conversions"].is_object());
}

#[test]
fn same_scenario_same_bytes_whatever_the_thread_count() {
    let one = run_files(1_500, 1);
    let three = run_files(1_500, 3);
    assert_eq!(
        one.keys().collect::<Vec<_>>(),
        three.keys().collect::<Vec<_>>()
    );
    for (name, bytes) in &one {
        assert!(
            bytes == &three[name],
            "{name} differs with the thread count"
        );
    }
}

/// Every `.svg` under `dir/charts` parses; returns how many there are.
fn check_folder(dir: &std::path::Path) -> usize {
    let html = std::fs::read_to_string(dir.join("report.html")).expect("report.html written");
    assert_eq!(external_references(&html), Vec::<String>::new());
    let mut n = 0;
    for e in std::fs::read_dir(dir.join("charts")).expect("charts/ written") {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "svg") {
            svg_texts(
                &p.display().to_string(),
                &std::fs::read_to_string(&p).unwrap(),
            );
            assert!(
                p.with_extension("png").exists(),
                "{} has a PNG",
                p.display()
            );
            n += 1;
        }
    }
    n
}

#[test]
fn budget_loop_and_sweep_folders_hold_report_html_and_charts() {
    let scratch = Scratch::new("charts", "commands");
    let file = scratch.quickstart_file(1_500);
    let f = file.to_str().unwrap();
    let cases: [(&str, Vec<&str>, usize); 3] = [
        (
            "budget",
            vec![
                "budget",
                f,
                "--change",
                "paid_search=+20%",
                "--models",
                "linear",
            ],
            2,
        ),
        (
            "loop",
            vec!["loop", f, "--periods", "3", "--models", "last_touch"],
            2,
        ),
        (
            "sweep",
            vec![
                "run",
                f,
                "--stitchers",
                "deterministic",
                "--models",
                "last_touch,linear",
                "--sweep",
                "observe.cookie_deletion_scale=0,2",
            ],
            2,
        ),
    ];
    for (name, args, charts) in cases {
        let out = scratch.join(name);
        let o = closedloop(scratch.path())
            .args(&args)
            .args(["--quiet", "--out"])
            .arg(&out)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert_eq!(check_folder(&out), charts, "{name}");
    }
}

#[test]
fn attribute_on_your_own_log_leaves_an_offline_report_with_a_chart_per_stitcher() {
    let scratch = Scratch::new("charts", "own-log");
    let file = scratch.quickstart_file(1_500);
    let log = scratch.export_events(&file, "log");
    let out = scratch.join("out");
    let run = closedloop(scratch.path())
        .args(["attribute", "--events"])
        .arg(&log)
        .args([
            "--stitchers",
            "cookie_only,deterministic",
            "--models",
            "last_touch,markov_1",
        ])
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert_eq!(external_references(&html), Vec::<String>::new());
    let channels = quickstart(1_500).channel_ids();
    for stitcher in ["cookie_only", "deterministic", "platforms"] {
        let name = format!("charts/credit_leads_{stitcher}.svg");
        let svg = std::fs::read_to_string(out.join(&name)).unwrap();
        let texts = svg_texts(&name, &svg);
        for c in &channels {
            assert!(
                texts.iter().any(|t| t.contains(c.as_str())),
                "{name} lacks {c}"
            );
        }
        assert!(out.join(name.replace(".svg", ".png")).exists());
        assert!(
            html.contains(&format!("charts/credit_leads_{stitcher}.svg")),
            "{stitcher} not inlined"
        );
    }
    for c in &channels {
        assert!(html.contains(&format!("<th>{c}</th>")), "{c} has no column");
    }
    assert!(
        !html.contains("truth: shapley") && !html.contains("truth: proximate"),
        "a log with no truth shows no truth row"
    );
}
