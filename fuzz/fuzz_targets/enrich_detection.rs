//! Any bytes on vigil.detections.v1: the enricher either enriches them or
//! rejects them with a reason — it never panics, and what it accepts has a
//! place in the province.

#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use vigil_domain::Registry;
use vigil_enricher::enrich::{Policy, enrich};

static REGISTRY: OnceLock<Registry> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let registry = REGISTRY.get_or_init(|| {
        vigil_synth::province(&vigil_synth::ProvinceSpec {
            cameras: 200,
            seed: 36,
        })
    });
    // 2026-11-28T13:45:10Z, so seeds captured then are fresh.
    let now = chrono::DateTime::from_timestamp(1_795_873_510, 0).expect("valid time");
    match enrich(registry, data, &Policy::default(), now) {
        Ok(enriched) => {
            assert!(!enriched.event.commune_id.is_empty());
            assert!(!enriched.event.village_id.is_empty());
        }
        Err(rejection) => assert!(!rejection.reason().is_empty()),
    }
});
