//! The periodic commit runs beside consumption, against the real Kafka:
//! while the pre-commit step (the writer's count rollup) is still running,
//! records keep being taken and handled, and their offsets are committed
//! only once the step has succeeded.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::ensure;
use common::{PARTITIONS, PER_PARTITION, produce_batch};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::OwnedMessage;
use rdkafka::{Offset, TopicPartitionList};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use vigil_bus::pipeline::{self, Effect, Gate, PipelineConfig};
use vigil_bus::{KafkaArgs, KafkaConsumer};
use vigil_testkit::{PATIENCE, TestEnv, eventually, unique_name};

/// Offsets `group` has committed in `topic`, summed over the batch's
/// partitions.
async fn committed(kafka: &KafkaArgs, group: &str, topic: &str) -> anyhow::Result<i64> {
    let probe: BaseConsumer = kafka.consumer_config(group).create()?;
    let mut partitions = TopicPartitionList::new();
    for partition in 0..PARTITIONS {
        partitions.add_partition(topic, partition);
    }
    tokio::task::spawn_blocking(move || {
        let offsets = probe.committed_offsets(partitions, Duration::from_secs(10))?;
        Ok(offsets
            .elements()
            .iter()
            .map(|element| match element.offset() {
                Offset::Offset(offset) => offset,
                _ => 0,
            })
            .sum())
    })
    .await?
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_keep_flowing_while_the_pre_commit_step_runs() -> anyhow::Result<()> {
    let env = TestEnv::new("commit_gate").await?;
    let topic = env.kafka.topics().detections;
    let group = unique_name("group");
    let consumer: KafkaConsumer = env.kafka.consumer(&group)?;
    consumer.subscribe(&[&topic])?;

    let handled = Arc::new(AtomicUsize::new(0));
    let steps_started = Arc::new(AtomicUsize::new(0));
    let (release, released) = watch::channel(false);
    let stop = CancellationToken::new();
    let pipeline = {
        let (handled, steps_started, stop) = (
            Arc::clone(&handled),
            Arc::clone(&steps_started),
            stop.clone(),
        );
        tokio::spawn(async move {
            let handle = move |_: OwnedMessage| -> Effect {
                handled.fetch_add(1, Ordering::SeqCst);
                Box::pin(std::future::ready(()))
            };
            // The pre-commit step holds until the test releases it.
            let before_commit = move || -> Gate {
                steps_started.fetch_add(1, Ordering::SeqCst);
                let mut released = released.clone();
                Box::pin(async move { released.wait_for(|open| *open).await.is_ok() })
            };
            let config = PipelineConfig {
                max_in_flight: 1_000,
                drain: Duration::from_secs(10),
                commit_every: Duration::from_secs(1),
            };
            pipeline::run(&consumer, config, handle, before_commit, stop).await
        })
    };

    let batch = usize::try_from(PARTITIONS * PER_PARTITION)?;
    produce_batch(&env.kafka, &topic).await?;
    eventually(
        "the first batch handled and a pre-commit step started",
        PATIENCE,
        || {
            let done =
                handled.load(Ordering::SeqCst) == batch && steps_started.load(Ordering::SeqCst) > 0;
            async move { Ok(done.then_some(())) }
        },
    )
    .await?;
    produce_batch(&env.kafka, &topic).await?;
    eventually(
        "the second batch handled while the step still runs",
        PATIENCE,
        || {
            let done = handled.load(Ordering::SeqCst) == 2 * batch;
            async move { Ok(done.then_some(())) }
        },
    )
    .await?;
    ensure!(
        steps_started.load(Ordering::SeqCst) == 1,
        "a second pre-commit step started while the first still ran"
    );
    let early = committed(&env.kafka, &group, &topic).await?;
    ensure!(
        early == 0,
        "{early} offsets committed before the step succeeded"
    );

    release.send(true)?;
    let all = i64::from(2 * PARTITIONS * PER_PARTITION);
    eventually("both batches committed", PATIENCE, || {
        let (kafka, group, topic) = (&env.kafka, &group, &topic);
        async move { Ok((committed(kafka, group, topic).await? == all).then_some(())) }
    })
    .await?;
    stop.cancel();
    pipeline.await?;
    Ok(())
}
