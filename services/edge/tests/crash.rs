//! `kill -9` of the agent while cameras push detections over HTTP: after a
//! restart on the same spool, every detection it acknowledged reaches Kafka.

mod common;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use common::{Agent, assert_none_lost, delivered_event_ids, json_detection, post, spool_dir};
use vigil_testkit::TestEnv;

/// Posts batches of 20 for `run_for`, collecting acknowledged ids.
async fn push(agent: &Agent, run_for: Duration, next: &mut usize, accepted: &mut HashSet<String>) {
    let started = Instant::now();
    while started.elapsed() < run_for {
        let batch: Vec<_> = (0..20)
            .map(|i| json_detection("cam-000001", *next + i))
            .collect();
        *next += batch.len();
        accepted.extend(post(agent, &batch).await);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn kill_9_loses_no_acknowledged_detection() -> anyhow::Result<()> {
    let env = TestEnv::new("edge_crash").await?;
    let site = "site-crash";
    let spool = spool_dir("crash");
    let mut accepted = HashSet::new();
    let mut next = 0;

    let agent = Agent::start(&env, site, &spool, &[]).await?;
    push(&agent, Duration::from_secs(3), &mut next, &mut accepted).await;
    let before_kill = accepted.len();
    agent.kill_9()?;

    let agent = Agent::start(&env, site, &spool, &[]).await?;
    push(&agent, Duration::from_secs(2), &mut next, &mut accepted).await;
    agent.terminate()?;

    let (seen, records) = delivered_event_ids(
        &env,
        site,
        |seen| accepted.is_subset(seen),
        Duration::from_secs(60),
    )
    .await?;
    println!(
        "acknowledged {} ({before_kill} before kill -9); {} distinct reached Kafka in {records} records",
        accepted.len(),
        seen.len()
    );
    assert!(before_kill > 0, "nothing was acknowledged before the kill");
    assert_none_lost(&accepted, &seen)
}
