//! The spool's disk fills up — a real one: a small tmpfs the test mounts.
//! The agent must refuse detections with a 503 that names the full disk,
//! take them again as soon as space is freed (no restart), and deliver to
//! Kafka every detection it acknowledged.
//!
//! Mounting needs root (CI runs as root); without it the test prints why it
//! did not run and passes.

mod common;

use std::collections::HashSet;
use std::fs::File;
use std::io::{ErrorKind, Write as _};
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context as _, ensure};
use common::{Agent, assert_none_lost, delivered_event_ids, event_ids, ingest, json_detection};
use reqwest::StatusCode;
use vigil_testkit::TestEnv;

/// Requests sent on the full disk before the test gives up waiting for a
/// refusal.
const MAX_REQUESTS_WHILE_FULL: usize = 200;
const DISK_FULL: &str = r#"vigil_edge_events_rejected_total{source="http",reason="disk_full"}"#;

/// A tmpfs mounted on a fresh folder, unmounted when dropped.
struct Tmpfs {
    dir: PathBuf,
}

impl Tmpfs {
    fn mount(size: &str) -> anyhow::Result<Self> {
        let dir = common::spool_dir("disk-full");
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&dir)
            .status()
            .context("running mount")?;
        ensure!(
            status.success(),
            "mounting a tmpfs on {} failed: {status}",
            dir.display()
        );
        Ok(Self { dir })
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        // Lazy, so that a file still open (a test that failed midway) cannot
        // keep it mounted.
        let _ = Command::new("umount").arg("--lazy").arg(&self.dir).status();
        let _ = std::fs::remove_dir(&self.dir);
    }
}

/// Writes a file in `dir` until its disk is full; returns the file's path.
fn fill(dir: &Path) -> anyhow::Result<PathBuf> {
    let path = dir.join("filler");
    let mut file = File::create(&path)?;
    let page = vec![0xa5_u8; 4096];
    loop {
        match file.write(&page) {
            Ok(0) => break,
            Ok(_) => {}
            Err(error) if error.kind() == ErrorKind::StorageFull => break,
            Err(error) => return Err(error).context("filling the disk"),
        }
    }
    Ok(path)
}

/// Eight detections of about 8 KB each.
fn batch(next: &mut usize) -> Vec<serde_json::Value> {
    (0..8)
        .map(|_| {
            let mut detection = json_detection("cam-000001", *next);
            detection["labels"]["padding"] = "x".repeat(8 * 1024).into();
            *next += 1;
            detection
        })
        .collect()
}

fn first_error(body: &serde_json::Value) -> &str {
    body["results"][0]["error"].as_str().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_disk_refuses_detections_until_space_is_freed() -> anyhow::Result<()> {
    if std::fs::metadata("/proc/self")?.uid() != 0 {
        println!(
            "SKIPPED a_full_disk_refuses_detections_until_space_is_freed: mounting a tmpfs needs root (CI runs as root)."
        );
        return Ok(());
    }
    let env = TestEnv::new("edge_disk_full").await?;
    let site = "site-disk-full";
    let disk = Tmpfs::mount("4m")?;
    let agent = Agent::start(&env, site, &disk.dir, &[]).await?;
    let mut accepted = HashSet::new();
    let mut next = 0;

    let (status, body) = ingest(&agent, &batch(&mut next)).await?;
    ensure!(status == StatusCode::ACCEPTED, "{status}: {body}");
    accepted.extend(event_ids(&body));

    // The spool's file has room of its own, so some requests may still be
    // taken on the full disk: send until one is refused.
    let filler = fill(&disk.dir)?;
    let mut sent_while_full = 0;
    let refusal = loop {
        let (status, body) = ingest(&agent, &batch(&mut next)).await?;
        accepted.extend(event_ids(&body));
        sent_while_full += 1;
        if status == StatusCode::SERVICE_UNAVAILABLE {
            break body;
        }
        ensure!(status == StatusCode::ACCEPTED, "{status}: {body}");
        ensure!(
            sent_while_full < MAX_REQUESTS_WHILE_FULL,
            "{sent_while_full} requests were all accepted on a full disk"
        );
    };
    ensure!(
        first_error(&refusal).contains("the disk of the spool is full"),
        "the refusal does not name the full disk: {refusal}"
    );
    // Refused for as long as the disk is full.
    let (status, body) = ingest(&agent, &batch(&mut next)).await?;
    accepted.extend(event_ids(&body));
    ensure!(
        status == StatusCode::SERVICE_UNAVAILABLE && first_error(&body).contains("disk"),
        "a full disk took a request: {status}: {body}"
    );
    ensure!(
        agent.metric(DISK_FULL).await? >= 1.0,
        "{DISK_FULL} not counted"
    );

    // Space comes back: accepted again at once, by the same process.
    std::fs::remove_file(&filler)?;
    for _ in 0..5 {
        let (status, body) = ingest(&agent, &batch(&mut next)).await?;
        ensure!(
            status == StatusCode::ACCEPTED,
            "refused after space was freed: {status}: {body}"
        );
        accepted.extend(event_ids(&body));
    }
    agent.terminate()?;

    let (seen, records) = delivered_event_ids(
        &env,
        site,
        |seen| accepted.is_subset(seen),
        Duration::from_secs(60),
    )
    .await?;
    println!(
        "{sent_while_full} requests until the full disk refused one; acknowledged {} of {next}; \
         {} distinct reached Kafka in {records} records",
        accepted.len(),
        seen.len()
    );
    assert_none_lost(&accepted, &seen)
}
