//! Stitching throughput on the quickstart mix at 100k and 1M persons
//! (`cargo bench --bench stitch`; sizes via `CLOSEDLOOP_BENCH_PERSONS=100000`).
//! Throughput is in visit events per second: the world is simulated once per
//! size, outside the timing; each iteration stitches the whole log. The last
//! group times the metrics (contingency pass + completeness) on one partition.

use closedloop::experiment;
use closedloop::scenario::Scenario;
use closedloop::score;
use closedloop::spec::StitcherSpec;
use closedloop::stitch;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use std::time::Duration;

fn quickstart(persons: u32) -> Scenario {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/quickstart.toml");
    let mut sc = Scenario::from_path(std::path::Path::new(path)).expect("quickstart loads");
    sc.persons = persons;
    sc
}

fn sizes() -> Vec<u32> {
    match std::env::var("CLOSEDLOOP_BENCH_PERSONS") {
        Ok(list) => list
            .split(',')
            .filter_map(|s| s.trim().parse().ok())
            .collect(),
        Err(_) => vec![100_000, 1_000_000],
    }
}

fn stitchers(c: &mut Criterion) {
    let mut group = c.benchmark_group("stitch");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(10));
    group.warm_up_time(Duration::from_secs(1));
    let mut metrics = Vec::new();
    for persons in sizes() {
        let sc = quickstart(persons);
        let (_w, obs, truth) = experiment::simulate(&sc, 0);
        let log = &obs.log;
        let link = stitch::Linkage::fit(log);
        eprintln!(
            "{persons} persons: {} visits, {} cookies, {} candidate pairs ({:.2} per visit)",
            log.visits.len(),
            link.n_cookies,
            link.pairs.len(),
            link.pairs.len() as f64 / log.visits.len() as f64
        );
        group.throughput(Throughput::Elements(log.visits.len() as u64));
        for id in [
            "cookie_only",
            "deterministic",
            "normalized",
            "graph",
            "probabilistic",
        ] {
            let s = stitch::build(&StitcherSpec::parse(id).expect("registered"));
            group.bench_with_input(BenchmarkId::new(id, persons), log, |b, log| {
                b.iter(|| black_box(s.stitch(black_box(log)).n_clusters))
            });
        }
        let ids = stitch::build(&StitcherSpec::Deterministic).stitch(log);
        metrics.push((persons, obs, truth, ids));
    }
    group.finish();
    let mut group = c.benchmark_group("stitch_metrics");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(10));
    group.warm_up_time(Duration::from_secs(1));
    for (persons, obs, truth, ids) in &metrics {
        group.throughput(Throughput::Elements(obs.log.visits.len() as u64));
        group.bench_function(BenchmarkId::new("score_stitching", persons), |b| {
            b.iter(|| black_box(score::score_stitching(&obs.log, ids, truth).pairwise.f1))
        });
    }
    group.finish();
}

criterion_group!(benches, stitchers);
criterion_main!(benches);
