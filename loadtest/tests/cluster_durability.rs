//! What the three-node cluster promises, checked by crashing its nodes:
//! a write acknowledged at LOCAL_QUORUM survives the loss of any one
//! Cassandra node, and a record acknowledged with `acks=all` (replication 3,
//! min ISR 2) survives the loss of any one broker, the leader included.
//! Alone in its test binary: it kills and restarts the cluster's nodes. The
//! topics and keyspace are made first, with every node up (schema changes
//! while a node is down are what Cassandra 5.0 handles worst); then the
//! brokers and the Cassandra nodes are crashed side by side.

use std::time::{Duration, Instant};

use rdkafka::Message as _;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Offset, TopicPartitionList};
use scylla::statement::Consistency;
use vigil_testkit::TestEnv;
use vigil_testkit::cluster::{self, node_at};

#[tokio::test(flavor = "multi_thread")]
async fn acknowledged_writes_survive_the_loss_of_any_one_node() -> anyhow::Result<()> {
    let env = TestEnv::on_cluster("durable").await?;
    tokio::try_join!(
        a_local_quorum_write_survives_any_one_cassandra_node(&env),
        an_acks_all_record_survives_any_one_broker(&env),
    )?;
    Ok(())
}

async fn a_local_quorum_write_survives_any_one_cassandra_node(env: &TestEnv) -> anyhow::Result<()> {
    let session = env.keyspace.session();
    // The services' sessions (StoreArgs::connect) default to LOCAL_QUORUM.
    let profile = session.get_default_execution_profile_handle().to_profile();
    assert_eq!(profile.get_consistency(), Consistency::LocalQuorum);

    let table = format!("{}.durability", env.keyspace.name());
    session
        .query_unpaged(
            format!("CREATE TABLE {table} (k int PRIMARY KEY, v text)"),
            (),
        )
        .await?;
    // Idempotent, as the services' statements are: the driver may send them
    // again to another coordinator when the one it used dies.
    let mut insert = session
        .prepare(format!("INSERT INTO {table} (k, v) VALUES (?, ?)"))
        .await?;
    insert.set_is_idempotent(true);
    let mut select = session.prepare(format!("SELECT k, v FROM {table}")).await?;
    select.set_is_idempotent(true);

    let mut written = Vec::new();
    for node in 1..=3 {
        let victim = format!("cassandra-{node}");
        // Acknowledged at LOCAL_QUORUM: on two of the three replicas.
        let k = node * 10;
        session
            .execute_unpaged(&insert, (k, format!("before {victim}")))
            .await?;
        written.push(k);
        cluster::stack(&format!("kill-{victim}")).await?;

        // With the node gone, every acknowledged write is still read at
        // LOCAL_QUORUM, and new writes are still acknowledged.
        let down_write = session
            .execute_unpaged(&insert, (k + 1, format!("while {victim} is down")))
            .await;
        let rows = read_keys(session, &select).await;
        cluster::stack(&format!("start-{victim}")).await?;
        down_write?;
        written.push(k + 1);
        let mut rows = rows?;
        rows.sort_unstable();
        assert_eq!(
            rows, written,
            "with {victim} killed, the acknowledged writes must all be read"
        );
    }
    let mut rows = read_keys(session, &select).await?;
    rows.sort_unstable();
    assert_eq!(rows, written);
    Ok(())
}

/// Every key of the table, read at LOCAL_QUORUM. Until the coordinators'
/// failure detector marks a crashed node down (a few seconds), a read may
/// still wait on it and time out: retried for up to 30 s, as the services'
/// reads are retried by their callers.
async fn read_keys(
    session: &scylla::client::session::Session,
    select: &scylla::statement::prepared::PreparedStatement,
) -> anyhow::Result<Vec<i32>> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let read = async {
            let rows = session
                .execute_unpaged(select, ())
                .await?
                .into_rows_result()?;
            Ok::<Vec<i32>, anyhow::Error>(
                rows.rows::<(i32, String)>()?
                    .map(|row| row.map(|(k, _)| k))
                    .collect::<Result<_, _>>()?,
            )
        };
        match read.await {
            Ok(keys) => return Ok(keys),
            Err(error) if Instant::now() < deadline => {
                println!("read failed, retrying: {error}");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(error) => return Err(error),
        }
    }
}

async fn an_acks_all_record_survives_any_one_broker(env: &TestEnv) -> anyhow::Result<()> {
    let topic = env.kafka.topics().alerts;
    let producer: FutureProducer = env.kafka.producer_config().create()?;
    let mut killed = Vec::new();
    for round in 0..3 {
        let payload = format!("record {round}");
        let delivery = producer
            .send(
                FutureRecord::<(), _>::to(&topic)
                    .partition(0)
                    .payload(&payload),
                Duration::from_secs(60),
            )
            .await
            .map_err(|(error, _)| error)?;
        assert_eq!(delivery.partition, 0);

        // The worst case: the leader that acknowledged the record dies.
        let leader = leader_of(&env.kafka, &topic).await?;
        cluster::stack(&format!("kill-{leader}")).await?;
        let read = read_partition(&env.kafka, &topic, round + 1).await;
        cluster::stack(&format!("start-{leader}")).await?;
        let read = read?;
        let expected: Vec<String> = (0..=round).map(|r| format!("record {r}")).collect();
        assert_eq!(read, expected, "after killing {leader}");
        killed.push(leader);
    }
    println!("leaders killed in turn: {killed:?}");
    Ok(())
}

/// The node name of the broker leading partition 0 of `topic`.
async fn leader_of(kafka: &vigil_bus::KafkaArgs, topic: &str) -> anyhow::Result<String> {
    let consumer: BaseConsumer = kafka.consumer_config("durability-metadata").create()?;
    let topic = topic.to_owned();
    tokio::task::spawn_blocking(move || {
        let metadata = consumer.fetch_metadata(Some(&topic), Duration::from_secs(10))?;
        let leader = metadata.topics()[0].partitions()[0].leader();
        let broker = metadata
            .brokers()
            .iter()
            .find(|b| b.id() == leader)
            .ok_or_else(|| anyhow::anyhow!("leader {leader} is not in the metadata"))?;
        node_at("kafka", &format!("{}:{}", broker.host(), broker.port()))
    })
    .await?
}

/// The payloads of partition 0 of `topic` from the start, once there are
/// `count` of them (a minute at most: the new leader is elected first).
async fn read_partition(
    kafka: &vigil_bus::KafkaArgs,
    topic: &str,
    count: usize,
) -> anyhow::Result<Vec<String>> {
    let consumer: BaseConsumer = kafka.consumer_config("durability-reader").create()?;
    let mut assignment = TopicPartitionList::new();
    assignment.add_partition_offset(topic, 0, Offset::Beginning)?;
    consumer.assign(&assignment)?;
    tokio::task::spawn_blocking(move || {
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut payloads = Vec::new();
        while payloads.len() < count && Instant::now() < deadline {
            // An error (a leader moving away) is reported, then the fetch resumes.
            if let Some(Ok(message)) = consumer.poll(Duration::from_millis(500)) {
                let payload = message.payload().unwrap_or_default();
                payloads.push(String::from_utf8_lossy(payload).into_owned());
            }
        }
        Ok(payloads)
    })
    .await?
}
