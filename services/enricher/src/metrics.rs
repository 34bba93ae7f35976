//! The enricher's metrics.

pub const ENRICHED: &str = "vigil_enricher_events_enriched_total";
pub const REJECTED: &str = "vigil_enricher_events_rejected_total";
pub const LATE: &str = "vigil_enricher_events_late_total";
pub const ALERTS: &str = "vigil_enricher_alerts_raised_total";
pub const LATENCY: &str = "vigil_enricher_process_latency_seconds";
pub const REGISTRY_CAMERAS: &str = "vigil_enricher_registry_cameras";
