//! Kafka stopped for 30 s while the simulator runs: every detection the
//! agent accepted still reaches `vigil.detections.v1` (duplicates allowed,
//! loss not). Its own test binary, because it stops the shared broker.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::ensure;
use common::{Agent, delivered_event_ids, spool_dir};
use vigil_testkit::{TestEnv, repo_root};

const LIMIT: u64 = 5_000;
const ACCEPTED: &str = r#"vigil_edge_events_accepted_total{source="simulator"}"#;

fn stack(command: &str) -> anyhow::Result<()> {
    let status = Command::new(repo_root().join("deploy/local/stack"))
        .arg(command)
        .status()?;
    ensure!(status.success(), "stack {command} failed");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_broker_outage_loses_nothing() -> anyhow::Result<()> {
    let env = TestEnv::new("edge_outage").await?;
    let site = "site-outage";
    // 32 cameras x 4/s = 128/s: the limit is reached after ~40 s, so most
    // detections are accepted while the broker is down.
    let simulate = [
        "--simulate-cameras",
        "32",
        "--simulate-rate",
        "4",
        "--simulate-day-night",
        "false",
        "--simulate-bursts",
        "false",
        "--simulate-limit",
        "5000",
        "--heartbeat-interval",
        "2s",
    ];
    let agent = Agent::start(&env, site, &spool_dir("outage"), &simulate).await?;
    tokio::time::sleep(Duration::from_secs(3)).await;
    stack("stop-kafka")?;
    tokio::time::sleep(Duration::from_secs(30)).await;
    let accepted_while_down = agent.metric(ACCEPTED).await?;
    let spooled_while_down = agent.metric("vigil_edge_spool_entries").await?;
    stack("start-kafka")?;

    // The simulator finishes; the spool drains.
    let started = Instant::now();
    loop {
        let accepted = agent.metric(ACCEPTED).await?;
        let sent = agent.metric("vigil_edge_events_sent_total").await?;
        if accepted as u64 == LIMIT && sent >= accepted {
            break;
        }
        ensure!(
            started.elapsed() < Duration::from_secs(120),
            "agent did not catch up: accepted {accepted}, sent {sent}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    agent.terminate()?;

    // The agent mints the ids, so the test knows how many, not which: every
    // record from this site is this agent's, and none may be missing.
    let expected = usize::try_from(LIMIT)?;
    let (seen, records) = delivered_event_ids(
        &env,
        site,
        |seen| seen.len() >= expected,
        Duration::from_secs(90),
    )
    .await?;
    println!(
        "accepted {LIMIT} ({accepted_while_down} by the end of the outage, {spooled_while_down} spooled then); \
         {} distinct reached Kafka in {records} records",
        seen.len()
    );
    ensure!(
        accepted_while_down > 0.0 && spooled_while_down > 0.0,
        "the outage did not overlap the run"
    );
    ensure!(
        seen.len() == expected,
        "accepted {LIMIT} but only {} distinct reached Kafka",
        seen.len()
    );
    Ok(())
}
