//! The server's own limits: live alert streams per token, per process and
//! in how far back `since` reaches; a token revoked while its streams are
//! open ends them within the re-check interval ("effective from the next
//! call" holds for streams too); a server-side deadline on every call.

mod common;

use std::time::Duration;

use common::{Fixture, ts};
use futures::StreamExt;
use tonic::Code;
use vigil_proto::v1::query_service_client::QueryServiceClient;
use vigil_proto::v1::{ListEventsRequest, StreamAlertsRequest};
use vigil_store::TokenStore;

#[tokio::test(flavor = "multi_thread")]
async fn streams_are_capped_and_end_when_their_token_is_revoked() -> anyhow::Result<()> {
    let fx = Fixture::start_with(
        "stream_limits",
        &["--alert-streams-per-token", "2", "--token-recheck", "1s"],
    )
    .await?;
    let mut client = QueryServiceClient::new(fx.channel.clone());
    let live = |who: &str| fx.request(who, StreamAlertsRequest::default());

    let mut first = client.stream_alerts(live("police_a")).await?.into_inner();
    let mut second = client.stream_alerts(live("police_a")).await?.into_inner();
    let third = client.stream_alerts(live("police_a")).await.unwrap_err();
    assert_eq!(third.code(), Code::ResourceExhausted, "{third:?}");
    assert!(
        third.message().contains("already has 2"),
        "{}",
        third.message()
    );
    // Another token is not held back by this one's streams.
    let _other = client.stream_alerts(live("police_b")).await?.into_inner();

    // `since` reaches back a day at most.
    let old = StreamAlertsRequest {
        since: Some(ts(chrono::Utc::now() - chrono::Duration::days(3))),
        ..StreamAlertsRequest::default()
    };
    let refused = client
        .stream_alerts(fx.request("police_b", old))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert!(
        refused.message().starts_with("since:"),
        "{}",
        refused.message()
    );

    // Revoked while open: both streams end, unauthenticated, within a few
    // re-check intervals.
    TokenStore::prepare(&fx.env.keyspace)
        .await?
        .revoke(&fx.token_ids["police_a"], chrono::Utc::now())
        .await?;
    for stream in [&mut first, &mut second] {
        let ended = tokio::time::timeout(Duration::from_secs(10), stream.next())
            .await?
            .expect("a status ends the stream");
        let status = ended.unwrap_err();
        assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
        assert!(status.message().contains("revoked"), "{}", status.message());
    }
    fx.stop().await
}

/// A call cannot hold the server longer than --request-timeout, whatever
/// the client's own deadline (here none).
#[tokio::test(flavor = "multi_thread")]
async fn calls_end_at_the_servers_deadline() -> anyhow::Result<()> {
    let fx = Fixture::start_with("request_timeout", &["--request-timeout", "1ms"]).await?;
    let mut client = QueryServiceClient::new(fx.channel.clone());
    let province_day = ListEventsRequest {
        zone_id: "th".into(),
        window: Some(fx.window()),
        page_size: 1000,
        ..ListEventsRequest::default()
    };
    let status = client
        .list_events(fx.request("operator", province_day))
        .await
        .unwrap_err();
    // tonic answers an expired server timeout with CANCELLED.
    assert!(
        [Code::Cancelled, Code::DeadlineExceeded].contains(&status.code()),
        "{status:?}"
    );
    fx.stop().await
}
