//! Smoke test against the real stack: a protobuf detection goes through
//! Kafka and a consumer group into Cassandra and comes back equal.

use vigil_store::EventStore;
use vigil_testkit::TestEnv;
use vigilctl::demo::{round_trip, sample_detection};

#[tokio::test]
async fn detection_round_trips_through_kafka_and_cassandra() -> anyhow::Result<()> {
    let env = TestEnv::new("smoke").await?;
    let store = EventStore::prepare(&env.keyspace, env.store.event_ttl).await?;
    let sent = sample_detection();

    let trip = round_trip(&env.kafka, &store, sent.clone()).await?;

    assert_eq!(trip.stored.detection.as_ref(), Some(&sent));
    assert_eq!(trip.stored.commune_id, "demo");
    // Writing the same event again (a redelivery) leaves one equal row.
    store.write(&trip.stored).await?;
    let again = store.get(sent.event_id.parse()?).await?;
    assert_eq!(again.as_ref(), Some(&trip.stored));
    Ok(())
}
