//! Generation throughput: world + observation + the three truths on the
//! quickstart mix, at 100k and 1M persons (`cargo bench --bench generate`).
//! Throughput is in persons per second.

use closedloop::experiment;
use closedloop::scenario::Scenario;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use std::time::Duration;

fn quickstart(persons: u32) -> Scenario {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/quickstart.toml");
    let mut sc = Scenario::from_path(std::path::Path::new(path)).expect("quickstart loads");
    sc.persons = persons;
    sc
}

fn generate(c: &mut Criterion) {
    let mut group = c.benchmark_group("generate");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(20));
    group.warm_up_time(Duration::from_secs(1));
    let sizes: Vec<u32> = match std::env::var("CLOSEDLOOP_BENCH_PERSONS") {
        Ok(list) => list
            .split(',')
            .filter_map(|s| s.trim().parse().ok())
            .collect(),
        Err(_) => vec![100_000, 1_000_000],
    };
    for persons in sizes {
        let sc = quickstart(persons);
        group.throughput(Throughput::Elements(persons as u64));
        group.bench_with_input(
            BenchmarkId::new("world_observe_truth", persons),
            &sc,
            |b, sc| {
                b.iter(|| {
                    let (w, obs, truth) = experiment::simulate(black_box(sc), 0);
                    black_box((w.touches.len(), obs.log.visits.len(), truth.leads.len()))
                })
            },
        );
    }
    group.finish();
}

criterion_group!(benches, generate);
criterion_main!(benches);
