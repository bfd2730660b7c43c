//! Attribution throughput: 1M journeys over 8 channels with
//! geometric path lengths (~200k distinct paths), generated deterministically
//! here; every model (`logistic` and `additive_hazard` too), and the
//! distinct-path counting pass alone
//! (`cargo bench --bench attribute`). Throughput is in journeys per second;
//! Markov, `shapley_rate` and `logistic` include their counting pass;
//! `additive_hazard` its fit (on a 200,000-journey subsample).

use closedloop::attribute::{self, DistinctPaths};
use closedloop::spec::AttributorSpec;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use std::time::Duration;

#[path = "support/journeys.rs"]
mod support;
use support::journeys;

fn models() -> Vec<AttributorSpec> {
    let mut specs = AttributorSpec::all();
    for id in ["markov:2", "markov:3", "markov:4"] {
        specs.push(AttributorSpec::parse(id).expect("registered"));
    }
    specs
}

fn attribute(c: &mut Criterion) {
    let js = journeys();
    let distinct = DistinctPaths::count(&js, 90.0).len();
    eprintln!(
        "attribute bench: {} journeys, {} touches, {distinct} distinct paths",
        js.journeys.len(),
        js.touches.len()
    );
    let hazard = attribute::AdditiveHazard {
        lookback_days: 90.0,
    }
    .fit(&js);
    eprintln!(
        "additive_hazard fit: {} journeys, {} L-BFGS iterations, converged {}",
        hazard.journeys_fitted, hazard.iterations, hazard.converged
    );
    let mut group = c.benchmark_group("attribute_1m");
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(5));
    group.throughput(Throughput::Elements(js.journeys.len() as u64));
    group.bench_function("count_distinct_paths", |b| {
        b.iter(|| black_box(DistinctPaths::count(black_box(&js), 90.0)))
    });
    for spec in models() {
        let model = attribute::build(&spec);
        group.bench_function(model.name(), |b| {
            b.iter(|| black_box(model.attribute(black_box(&js))))
        });
    }
    group.finish();
}

criterion_group!(benches, attribute);
criterion_main!(benches);
