//! Cooperative rebalancing against the real Kafka: when a second consumer
//! joins the group, the first finishes and commits the records it has in
//! flight for the partitions it gives up before releasing them, so the
//! newcomer starts after them instead of processing them again.

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::ensure;
use common::{PARTITIONS, PER_PARTITION, produce_batch};
use rdkafka::consumer::Consumer;
use rdkafka::message::{Message, OwnedMessage};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use vigil_bus::pipeline::{self, Effect, PipelineConfig, PipelineStats};
use vigil_bus::{KafkaArgs, KafkaConsumer};
use vigil_testkit::{PATIENCE, TestEnv, eventually, unique_name};

/// Which consumer handled each (partition, offset), in order of handling.
type Handled = Arc<Mutex<Vec<(&'static str, i32, i64)>>>;

/// Runs a pipeline as consumer `name` of `group`: each record is noted in
/// `handled` once `open` is true.
fn start(
    kafka: &KafkaArgs,
    group: &str,
    name: &'static str,
    handled: &Handled,
    started: Arc<AtomicUsize>,
    open: watch::Receiver<bool>,
    stop: &CancellationToken,
) -> anyhow::Result<tokio::task::JoinHandle<PipelineStats>> {
    let consumer: KafkaConsumer = kafka.consumer(group)?;
    consumer.subscribe(&[&kafka.topics().detections])?;
    let handled = Arc::clone(handled);
    let stop = stop.clone();
    Ok(tokio::spawn(async move {
        let handle = move |message: OwnedMessage| -> Effect {
            let handled = Arc::clone(&handled);
            let mut open = open.clone();
            started.fetch_add(1, Ordering::SeqCst);
            Box::pin(async move {
                let _ = open.wait_for(|open| *open).await;
                let position = (name, message.partition(), message.offset());
                handled.lock().expect("not poisoned").push(position);
            })
        };
        let config = PipelineConfig {
            max_in_flight: 1_000,
            drain: Duration::from_secs(60),
            commit_every: Duration::from_secs(1),
        };
        pipeline::run(&consumer, config, handle, pipeline::always_commit, stop).await
    }))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoked_partitions_are_finished_and_committed_before_release() -> anyhow::Result<()> {
    let env = TestEnv::new("rebalance").await?;
    let topic = env.kafka.topics().detections;
    let group = unique_name("group");
    let handled: Handled = Arc::default();
    let stop = CancellationToken::new();
    produce_batch(&env.kafka, &topic).await?;

    // The first consumer takes every partition and holds all its records
    // in flight.
    let (open_first, held) = watch::channel(false);
    let first_started = Arc::new(AtomicUsize::new(0));
    let first = start(
        &env.kafka,
        &group,
        "first",
        &handled,
        Arc::clone(&first_started),
        held,
        &stop,
    )?;
    let batch = (PARTITIONS * PER_PARTITION) as usize;
    eventually("the first consumer to hold a batch", PATIENCE, || {
        let started = first_started.load(Ordering::SeqCst);
        async move { Ok((started == batch).then_some(())) }
    })
    .await?;

    // A second consumer joins: the group settles on two members, and the
    // first has been told to give partitions up while its records are
    // still in flight.
    let (_always_open, open) = watch::channel(true);
    let second = start(
        &env.kafka,
        &group,
        "second",
        &handled,
        Arc::default(),
        open,
        &stop,
    )?;
    eventually("the group to settle on two members", PATIENCE, || {
        let (kafka, group) = (&env.kafka, &group);
        async move { Ok(kafka.stable_members(group).await?.filter(|&n| n == 2)) }
    })
    .await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    open_first.send(true)?;

    // A second batch, which the second consumer shares once it owns
    // partitions.
    produce_batch(&env.kafka, &topic).await?;
    eventually("both batches handled", PATIENCE, || {
        let count = handled.lock().expect("not poisoned").len();
        async move { Ok((count >= 2 * batch).then_some(())) }
    })
    .await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.cancel();
    let first = first.await?;
    let second = second.await?;

    let handled = handled.lock().expect("not poisoned").clone();
    let mut times: BTreeMap<(i32, i64), Vec<&str>> = BTreeMap::new();
    for (name, partition, offset) in &handled {
        times.entry((*partition, *offset)).or_default().push(name);
    }
    let again: Vec<_> = times.iter().filter(|(_, by)| by.len() > 1).collect();
    ensure!(again.is_empty(), "records processed twice: {again:?}");
    ensure!(times.len() == 2 * batch, "{} records handled", times.len());
    ensure!(
        second.handled > 0,
        "the second consumer never got a partition: {second:?}"
    );
    ensure!(
        first.finished_before_release > 0 && first.released_unfinished == 0,
        "the revocation did not wait for the records in flight: {first:?}"
    );
    Ok(())
}
