#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! Loading and validating the whole embedded catalog, against a baseline
//! measured in the same run: parsing the same files as untyped JSON values.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use osiris_catalog::Catalog;

fn bench(c: &mut Criterion) {
    let sources = Catalog::embedded_sources();
    let mut group = c.benchmark_group("catalog");
    group.bench_function("baseline_parse_untyped", |b| {
        b.iter(|| {
            sources
                .iter()
                .filter(|f| f.path.ends_with(".yaml"))
                .map(|f| {
                    serde_saphyr::from_str::<serde_json::Value>(black_box(&f.text))
                        .map(|_| 1)
                        .unwrap_or(0)
                })
                .sum::<usize>()
        })
    });
    group.bench_function("load_validate_cross_check", |b| {
        b.iter(|| {
            Catalog::from_sources(black_box(sources.clone()))
                .unwrap()
                .checks()
                .len()
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
