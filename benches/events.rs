//! Reading an event log: `event_log::read_dir` on the quickstart's
//! exported log (replicate 0, 94,939 visits, 11.5 MB of CSV), written to a
//! temporary folder at start; throughput in bytes of CSV per second. Then
//! `attribute --events`'s work on it: `deterministic` with `markov_1`
//! (`cargo bench --bench events`).

use closedloop::experiment::{self, on_log};
use closedloop::io::event_log;
use closedloop::log::SessionRule;
use closedloop::scenario::{JourneyUnit, Scenario};
use closedloop::spec::{AttributorSpec, StitcherSpec};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use std::time::Duration;

fn read_and_attribute(c: &mut Criterion) {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/quickstart.toml");
    let sc = Scenario::from_path(std::path::Path::new(path)).expect("quickstart loads");
    let (_, obs, _) = experiment::simulate(&sc, 0);
    let dir = std::env::temp_dir().join(format!("closedloop-bench-events-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let mut bytes = 0u64;
    for (name, text) in event_log::log_tables(&obs.log) {
        bytes += text.len() as u64;
        std::fs::write(dir.join(name), text).expect("write a table");
    }
    let log = event_log::read_dir(&dir).expect("the export reads back");
    eprintln!(
        "events bench: {} visits, {bytes} bytes of CSV",
        log.visits.len()
    );
    let mut group = c.benchmark_group("event_log_quickstart");
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(5));
    group.throughput(Throughput::Bytes(bytes));
    group.bench_function("read_dir", |b| {
        b.iter(|| black_box(event_log::read_dir(black_box(&dir)).expect("reads")))
    });
    let stitchers = [StitcherSpec::Deterministic];
    let models = [AttributorSpec::parse("markov_1").expect("registered")];
    group.bench_function("deterministic_markov_1", |b| {
        b.iter(|| {
            black_box(on_log::run_on_log(
                black_box(&log),
                &stitchers,
                &models,
                JourneyUnit::Visit,
                &SessionRule::default(),
                |_, _| {},
            ))
        })
    });
    group.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, read_and_attribute);
criterion_main!(benches);
