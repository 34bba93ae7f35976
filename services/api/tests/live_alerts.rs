//! Live alerts at scale against the real stack: every stream of the API
//! shares one Kafka reader, and a client that stops reading is dropped with
//! a clear status while the others keep receiving. One test in its own
//! process, so the metrics it reads are this API's alone.

mod common;

use std::time::Duration;

use common::{Fixture, alert, metric, produce_alerts};
use futures::StreamExt;
use rdkafka::producer::FutureProducer;
use tonic::Code;
use vigil_proto::v1::query_service_client::QueryServiceClient;
use vigil_proto::v1::{Alert, StreamAlertsRequest};
use vigil_testkit::{PATIENCE, eventually};

/// The ring every stream shares, small so a stalled client overflows it.
const BUFFER: usize = 64;

#[tokio::test(flavor = "multi_thread")]
async fn streams_share_one_reader_and_a_slow_client_is_dropped() -> anyhow::Result<()> {
    let fx = Fixture::start_with(
        "live",
        &[
            "--alert-stream-buffer",
            &BUFFER.to_string(),
            "--alert-streams-per-token",
            "64",
        ],
    )
    .await?;
    let producer: FutureProducer = fx.env.kafka.producer_config().create()?;
    let topic = fx.env.kafka.topics().alerts;
    let mut client = QueryServiceClient::new(fx.channel.clone());
    let live = || fx.request("operator", StreamAlertsRequest::default());

    // Fifty streams, one Kafka client; each gets the alert.
    let mut streams = Vec::new();
    for _ in 0..50 {
        streams.push(client.stream_alerts(live()).await?.into_inner());
    }
    assert_eq!(metric("vigil_api_alert_streams"), 50.0);
    assert_eq!(metric("vigil_api_alert_readers{reader=\"live\"}"), 1.0);
    assert_eq!(metric("vigil_api_alert_readers{reader=\"replay\"}"), 0.0);
    produce_alerts(&producer, &topic, &[alert("to-all", &fx.commune_a)]).await?;
    for stream in &mut streams {
        let first = tokio::time::timeout(PATIENCE, stream.next())
            .await?
            .unwrap()?;
        assert_eq!(first.alert_id, "to-all");
    }
    drop(streams);
    eventually("closed streams to be counted", PATIENCE, || async {
        Ok((metric("vigil_api_alert_streams") == 0.0).then_some(()))
    })
    .await?;

    // A client that stops reading (on a connection with a small window, so
    // the server feels it soon) and one that keeps up.
    let stalled_channel =
        tonic::transport::Endpoint::from_shared(format!("http://{}", fx.address))?
            .initial_stream_window_size(Some(16 * 1024))
            .connect()
            .await?;
    let mut stalled = QueryServiceClient::new(stalled_channel)
        .stream_alerts(live())
        .await?
        .into_inner();
    let mut fast = client.stream_alerts(live()).await?.into_inner();
    // 600 alerts of about 1 KB, 20 every 20 ms: far more than the ring and
    // the connection's window hold for the stalled client.
    let alerts: Vec<Alert> = (0..600)
        .map(|i| Alert {
            summary: "x".repeat(1_000),
            ..alert(&format!("a-{i:03}"), &fx.commune_a)
        })
        .collect();
    let expected: Vec<String> = alerts.iter().map(|a| a.alert_id.clone()).collect();
    let producing = tokio::spawn(async move {
        for batch in alerts.chunks(20) {
            produce_alerts(&producer, &topic, batch).await?;
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        anyhow::Ok(())
    });
    let mut received = Vec::new();
    while received.len() < expected.len() {
        let next = tokio::time::timeout(PATIENCE, fast.next()).await?;
        received.push(next.expect("the fast stream stays open")?.alert_id);
    }
    producing.await??;
    assert!(received == expected, "the fast client missed alerts");

    // The stalled client gets what was already on its way, then the status.
    let mut before_status = 0;
    let status = loop {
        match tokio::time::timeout(PATIENCE, stalled.next()).await? {
            Some(Ok(_)) => before_status += 1,
            Some(Err(status)) => break status,
            None => anyhow::bail!("the stalled stream ended without a status"),
        }
    };
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert!(
        status.message().contains(&format!(
            "fell behind the live alert stream by more than {BUFFER} alerts"
        )) && status.message().contains("reconnect with since="),
        "{}",
        status.message()
    );
    assert!(before_status < 600, "{before_status}");
    assert_eq!(metric("vigil_api_alert_streams_dropped_total"), 1.0);
    assert_eq!(metric("vigil_api_alert_readers{reader=\"live\"}"), 1.0);
    fx.stop().await
}
