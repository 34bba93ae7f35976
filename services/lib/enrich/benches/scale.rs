//! Per-event enrichment cost as the province grows: the same detections
//! enriched against a registry of 10,000 and of 100,000 cameras, each with
//! as many watchlist entries as cameras. Also prints how long each registry
//! takes to build and how much resident memory it adds, the enricher's
//! in-memory share of a province.
//!
//! `cargo bench -p vigil-enrich --bench scale`

use chrono::{DateTime, Utc};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use prost::Message as _;
use vigil_domain::plate::normalize_plate;
use vigil_domain::{Registry, RegistryEntity, WatchlistEntry};
use vigil_enrich::{Policy, enrich};
use vigil_synth::{DetectionFactory, ProvinceSpec, province};

/// This process's resident memory in MiB (Linux), to weigh a registry.
fn resident_mib() -> usize {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|statm| statm.split_whitespace().nth(1)?.parse::<usize>().ok())
        .map_or(0, |pages| pages * 4096 / (1024 * 1024))
}

/// A province of `cameras` cameras and as many watchlist entries.
fn registry(cameras: usize) -> Registry {
    let mut registry = province(&ProvinceSpec { cameras, seed: 36 });
    let owner = registry
        .zones()
        .find(|z| z.parent_id.is_none())
        .map(|z| z.id.clone())
        .expect("a province zone");
    for i in 0..cameras {
        // Civil plates 11A00000.. spread over provinces 11-99.
        let written = format!("{}A{:05}", 11 + i % 89, i % 100_000);
        let Ok(plate) = normalize_plate(&written) else {
            continue;
        };
        registry.upsert(RegistryEntity::Watchlist(WatchlistEntry {
            id: format!("w-{i:06}"),
            plate,
            reason: "stolen".to_owned(),
            priority: 2,
            expires_at: None,
            owner_zone_id: owner.clone(),
            created_by: None,
        }));
    }
    registry
}

fn bench_scale(c: &mut Criterion) {
    let now = DateTime::<Utc>::from_timestamp(1_796_000_000, 0).expect("a time");
    let policy = Policy::default();
    let mut group = c.benchmark_group("enrich");
    for cameras in [10_000usize, 100_000] {
        let before = resident_mib();
        let started = std::time::Instant::now();
        let registry = registry(cameras);
        println!(
            "registry of {cameras} cameras and {} watchlist entries: built in {:?}, +{} MiB resident",
            registry.watchlist().len(),
            started.elapsed(),
            resident_mib().saturating_sub(before)
        );
        let mut ids: Vec<String> = registry.cameras().map(|c| c.id.clone()).collect();
        ids.sort();
        let mut factory = DetectionFactory::new(7);
        let payloads: Vec<Vec<u8>> = (0..1000)
            .map(|i| {
                factory
                    .detection(&ids[(i * 7919) % ids.len()], now)
                    .encode_to_vec()
            })
            .collect();
        group.throughput(Throughput::Elements(payloads.len() as u64));
        group.bench_function(format!("{cameras}_cameras"), |b| {
            b.iter(|| {
                for payload in &payloads {
                    let _ = std::hint::black_box(enrich(&registry, payload, &policy, now));
                }
            });
        });
    }
    group.finish();
}

criterion_group!(benches, bench_scale);
criterion_main!(benches);
