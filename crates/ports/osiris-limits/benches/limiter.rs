//! Decisions per second of the in-process limiter, against a bare
//! `HashMap` lookup-and-update of the same keys in the same run.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::collections::HashMap;
use std::hint::black_box;

use chrono::{Duration, TimeZone, Utc};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use osiris_limits::{Bucket, InProcessLimiter, LimitKey, Quota};

const KEYS: usize = 10_000;

fn keys() -> Vec<LimitKey> {
    (0..KEYS)
        .map(|i| LimitKey::new(Bucket::APPLIANCE_SENSITIVE, format!("site-{i:05}")).unwrap())
        .collect()
}

fn decisions(c: &mut Criterion) {
    let keys = keys();
    let quota = Quota::new(10, Duration::minutes(5)).unwrap();
    let mut group = c.benchmark_group("decide");
    group.throughput(Throughput::Elements(1));

    // Baseline: the least any keyed limiter must do, one hashed lookup and
    // one write of an integer.
    let mut map: HashMap<LimitKey, i64> = keys.iter().map(|key| (key.clone(), 0)).collect();
    let mut i = 0;
    group.bench_function("baseline_hashmap_update", |b| {
        b.iter(|| {
            i = (i + 1) % KEYS;
            if let Some(slot) = map.get_mut(black_box(&keys[i])) {
                *slot += 1;
            }
        });
    });

    let limiter = InProcessLimiter::new();
    let start = Utc.with_ymd_and_hms(2025, 1, 6, 9, 0, 0).unwrap();
    let mut i = 0;
    let mut tick = 0i64;
    group.bench_function("in_process_limiter", |b| {
        b.iter(|| {
            i = (i + 1) % KEYS;
            tick += 1;
            let now = start + Duration::microseconds(tick);
            limiter.decide(black_box(&keys[i]), quota, now).unwrap()
        });
    });
    group.finish();
}

criterion_group!(benches, decisions);
criterion_main!(benches);
