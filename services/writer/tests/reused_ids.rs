//! A reused event id through the real writer and Cassandra: the first
//! write of an id wins, a different event with the same id changes no
//! table (it is dropped and counted), and a redelivery of the first is
//! still taken.

mod common;

use anyhow::ensure;
use chrono::{TimeDelta, Utc};
use common::{Writer, config, enriched, eventually, metric, produce_events, producer};
use prost::Message as _;
use vigil_proto::v1::EnrichedDetection;
use vigil_store::EventStore;
use vigil_synth::traffic::DetectionFactory;
use vigil_testkit::{PATIENCE, TestEnv};
use vigil_writer::metrics::{EVENTS_CONFLICTING, EVENTS_WRITTEN};

/// Every payload of `table`, decoded.
async fn payloads(env: &TestEnv, table: &str) -> anyhow::Result<Vec<EnrichedDetection>> {
    let result = env
        .keyspace
        .session()
        .query_unpaged(
            format!("SELECT payload FROM {}.{table}", env.keyspace.name()),
            (),
        )
        .await?;
    result
        .into_rows_result()?
        .rows::<(Vec<u8>,)>()?
        .map(|row| Ok(EnrichedDetection::decode(row?.0.as_slice())?))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reused_event_id_never_overwrites_the_stored_event() -> anyhow::Result<()> {
    let env = TestEnv::new("writer_reused_ids").await?;
    let writer = Writer::start(config(&env, "writer-reused-ids", &[]));
    let producer = producer(&env)?;
    let topic = env.kafka.topics().enriched;
    let at = Utc::now() - TimeDelta::minutes(5);
    let mut factory = DetectionFactory::new(31);

    // E, a plate read (so every table holds it), and F: another camera,
    // plate and time, under E's id.
    let place = ("cam-a", "th.ba-thuoc", "th.ba-thuoc.v01");
    let mut e = enriched(&mut factory, place, at);
    let mut f = enriched(
        &mut factory,
        ("cam-b", "th.ba-thuoc", "th.ba-thuoc.v02"),
        at,
    );
    for (event, text) in [(&mut e, "36A12345"), (&mut f, "51G88888")] {
        let detection = event.detection.as_mut().expect("a detection");
        detection.plate = Some(vigil_proto::v1::Plate {
            text: text.to_owned(),
            normalized: text.to_owned(),
            confidence: 0.9,
        });
    }
    let e_detection = e.detection.clone().expect("a detection");
    let f_detection = f.detection.as_mut().expect("a detection");
    f_detection.event_id = e_detection.event_id.clone();
    f_detection.captured_at = Some(std::time::SystemTime::from(at - TimeDelta::seconds(30)).into());

    let store = EventStore::prepare(&env.keyspace, env.store.event_ttl).await?;
    let handled = || metric(EVENTS_WRITTEN) + metric(EVENTS_CONFLICTING);
    let (written, conflicting) = (metric(EVENTS_WRITTEN), metric(EVENTS_CONFLICTING));
    let before = handled();
    let steps = [("E", &e), ("F under E's id", &f), ("E redelivered", &e)];
    for (n, (step, event)) in (1..).zip(steps) {
        produce_events(&producer, &topic, std::slice::from_ref(event)).await?;
        eventually(&format!("{step} to be handled"), PATIENCE, || async {
            Ok((handled() - before >= f64::from(n)).then_some(()))
        })
        .await?;
        let stored = store
            .get(e_detection.event_id.parse()?)
            .await?
            .and_then(|event| event.detection);
        ensure!(
            stored.as_ref() == Some(&e_detection),
            "after {step}, events_by_id holds {stored:?}"
        );
    }
    for table in [
        "events_by_commune_hour",
        "events_by_village_hour",
        "events_by_camera_day",
        "events_by_plate_month",
        "events_by_plate_key_month",
    ] {
        let rows = payloads(&env, table).await?;
        let detections: Vec<_> = rows.iter().filter_map(|r| r.detection.as_ref()).collect();
        ensure!(detections == [&e_detection], "{table} holds {detections:?}");
    }
    ensure!(
        metric(EVENTS_WRITTEN) - written == 2.0,
        "E, then its redelivery"
    );
    ensure!(metric(EVENTS_CONFLICTING) - conflicting == 1.0, "F, once");
    writer.stop().await
}
