//! A simulated fleet: N cameras whose detections arrive as a Poisson
//! process that follows the time of day and has occasional bursts (see
//! [`vigil_synth::traffic`]). Open loop: detections are submitted on their
//! schedule whether or not earlier ones have been spooled yet, so a slow
//! agent shows as latency instead of a quietly lower rate.

use std::sync::Arc;

use chrono::Utc;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tracing::info;
use vigil_synth::traffic::{Arrivals, DetectionFactory, RateModel};

use crate::intake::{Intake, Source};

/// Submissions waiting for the spool at once; beyond this the simulator
/// waits (the agent is saturated).
const MAX_PENDING: usize = 8_192;

/// Simulator settings.
#[derive(Debug, Clone, clap::Args)]
pub struct SimulatorArgs {
    /// Simulated cameras; 0 turns the simulator off.
    #[arg(
        long = "simulate-cameras",
        env = "VIGIL_SIMULATE_CAMERAS",
        default_value_t = 0
    )]
    pub camera_count: usize,
    /// Number of the first simulated camera: cameras are `cam-NNNNNN` from
    /// here on, the ids `vigilctl registry seed` gives.
    #[arg(
        long = "simulate-first-camera",
        env = "VIGIL_SIMULATE_FIRST_CAMERA",
        default_value_t = 1,
        value_parser = vigil_runtime::flags::count::<usize>
    )]
    pub first_camera: usize,
    /// Mean detections per second per camera over a day.
    #[arg(
        long = "simulate-rate",
        env = "VIGIL_SIMULATE_RATE",
        default_value_t = 0.15,
        value_parser = vigil_runtime::flags::rate
    )]
    pub per_camera: f64,
    /// Follow the time of day (quiet nights, rush hours).
    #[arg(long = "simulate-day-night", env = "VIGIL_SIMULATE_DAY_NIGHT", default_value_t = true, action = clap::ArgAction::Set)]
    pub day_night: bool,
    /// Add occasional bursts.
    #[arg(long = "simulate-bursts", env = "VIGIL_SIMULATE_BURSTS", default_value_t = true, action = clap::ArgAction::Set)]
    pub bursts: bool,
    /// Stop after this many detections; 0 runs until shutdown.
    #[arg(
        long = "simulate-limit",
        env = "VIGIL_SIMULATE_LIMIT",
        default_value_t = 0
    )]
    pub limit: u64,
    /// Random seed; by default a new one each run.
    #[arg(long = "simulate-seed", env = "VIGIL_SIMULATE_SEED")]
    pub seed: Option<u64>,
}

impl SimulatorArgs {
    /// The simulated cameras' ids.
    pub fn camera_ids(&self) -> Vec<String> {
        (self.first_camera..self.first_camera + self.camera_count)
            .map(|n| format!("cam-{n:06}"))
            .collect()
    }

    /// Submits detections on schedule until `shutdown` or the limit.
    pub async fn run(self, intake: Intake, shutdown: CancellationToken) {
        let cameras = self.camera_ids();
        if cameras.is_empty() {
            return;
        }
        let seed = self.seed.unwrap_or_else(rand_seed);
        let model = RateModel {
            per_camera: self.per_camera,
            cameras: cameras.len(),
            day_night: self.day_night,
            bursts: self.bursts,
        };
        info!(
            cameras = cameras.len(),
            per_camera = self.per_camera,
            seed,
            "Simulator started."
        );
        let start = Utc::now();
        let started = tokio::time::Instant::now();
        let mut arrivals = Arrivals::new(model, start, seed);
        let mut factory = DetectionFactory::new(seed);
        let pending = Arc::new(Semaphore::new(MAX_PENDING));
        let mut submitted = 0;
        while self.limit == 0 || submitted < self.limit {
            let (at, camera) = arrivals.next_arrival();
            let due = started + (at - start).to_std().unwrap_or_default();
            tokio::select! {
                () = tokio::time::sleep_until(due) => {}
                () = shutdown.cancelled() => break,
            }
            let Ok(permit) = Arc::clone(&pending).acquire_owned().await else {
                break;
            };
            let detection = factory.detection(&cameras[camera], at);
            let intake = intake.clone();
            tokio::spawn(async move {
                // Accepted and refused detections are counted by the intake.
                let _ = intake.accept(detection, Source::Simulator).await;
                drop(permit);
            });
            submitted += 1;
        }
        // Wait for submissions still on their way to the spool.
        let _ = pending
            .acquire_many(u32::try_from(MAX_PENDING).unwrap_or(u32::MAX))
            .await;
        info!(submitted, "Simulator stopped.");
    }
}

fn rand_seed() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    (nanos as u64) ^ u64::from(std::process::id()).rotate_left(32)
}
