//! No plate and no token secret in any log line or error message (issue
//! 16.8): the API runs in-process with every log line at debug captured,
//! the calls of the security tests are made (plate searches allowed and
//! refused, watchlist and extraction changes, bad and forged tokens), and
//! the captured lines and every error message are searched for the plates
//! and the secrets involved.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use common::{Fixture, PLATE, PLATE_NORMALIZED};
use vigil_proto::v1::extraction_service_client::ExtractionServiceClient;
use vigil_proto::v1::query_service_client::QueryServiceClient;
use vigil_proto::v1::registry_service_client::RegistryServiceClient;
use vigil_proto::v1::{
    AddWatchlistEntryRequest, CreateExtractionRequest, ExtractionQuery, ListEventsRequest,
    ListWatchlistRequest, PlateTrajectoryRequest, WhoAmIRequest,
};
use vigil_store::parse_token;

/// Every log line the process writes, in memory.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// The watchlist plate the test adds, as typed and as normalized.
const WATCHED: &str = "36C-999.99";
const WATCHED_NORMALIZED: &str = "36C99999";

#[tokio::test(flavor = "multi_thread")]
async fn no_plate_or_token_secret_reaches_a_log_line_or_an_error() -> anyhow::Result<()> {
    let captured = Captured::default();
    let writer = captured.clone();
    tracing_subscriber::fmt()
        .with_env_filter("debug,h2=info,hyper=info,hyper_util=info,tower=info")
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .init();

    let fx = Fixture::start("api_no_secrets").await?;
    let mut errors = Vec::new();
    let mut keep = |result: Result<(), tonic::Status>| {
        if let Err(status) = result {
            errors.push(format!("{:?}: {}", status.code(), status.message()));
        }
    };
    let mut query = QueryServiceClient::new(fx.channel.clone());
    let mut registry = RegistryServiceClient::new(fx.channel.clone());
    let mut extractions = ExtractionServiceClient::new(fx.channel.clone());

    let trajectory = |reason: &str| PlateTrajectoryRequest {
        plate: PLATE.into(),
        window: Some(fx.window()),
        fuzzy: true,
        reason: reason.into(),
        ..PlateTrajectoryRequest::default()
    };
    // Allowed, refused (captain), and missing its reason.
    let found = query
        .plate_trajectory(fx.request("police_a", trajectory("case HS-1")))
        .await?
        .into_inner();
    assert!(!found.sightings.is_empty(), "the fixture's plate is found");
    keep(
        query
            .plate_trajectory(fx.request("captain_a", trajectory("x")))
            .await
            .map(drop),
    );
    keep(
        query
            .plate_trajectory(fx.request("police_a", trajectory("")))
            .await
            .map(drop),
    );
    // Listings that return plate reads.
    keep(
        query
            .list_events(fx.request(
                "operator",
                ListEventsRequest {
                    zone_id: fx.commune_a.clone(),
                    window: Some(fx.window()),
                    ..ListEventsRequest::default()
                },
            ))
            .await
            .map(drop),
    );

    // Watchlist: added, refused to a captain, a reason too long, listed.
    let entry = |reason: String| AddWatchlistEntryRequest {
        plate: WATCHED.into(),
        reason,
        priority: 1,
        ..AddWatchlistEntryRequest::default()
    };
    registry
        .add_watchlist_entry(fx.request("police_a", entry("stolen motorbike".into())))
        .await?;
    keep(
        registry
            .add_watchlist_entry(fx.request("captain_a", entry("stolen".into())))
            .await
            .map(drop),
    );
    keep(
        registry
            .add_watchlist_entry(fx.request("police_a", entry("x".repeat(600))))
            .await
            .map(drop),
    );
    keep(
        registry
            .list_watchlist(fx.request("captain_a", ListWatchlistRequest::default()))
            .await
            .map(drop),
    );

    // Extractions by plate: in scope, and naming another commune.
    let extraction = |zone_id: &str| CreateExtractionRequest {
        case_id: "HS-2026-7".into(),
        reason: "theft".into(),
        query: Some(ExtractionQuery {
            zone_id: zone_id.into(),
            window: Some(fx.window()),
            plate: PLATE.into(),
            ..ExtractionQuery::default()
        }),
    };
    extractions
        .create_extraction(fx.request("police_a", extraction(&fx.commune_a)))
        .await?;
    keep(
        extractions
            .create_extraction(fx.request("police_a", extraction(&fx.commune_b)))
            .await
            .map(drop),
    );

    // Forged and malformed tokens: a known id with a wrong secret, garbage.
    let real = fx.tokens["police_a"].clone();
    let (id, secret) = parse_token(&real).expect("a minted token parses");
    let forged_secret: String = secret.chars().rev().collect();
    let forged = real.replace(secret, &forged_secret);
    assert!(parse_token(&forged).is_some_and(|(forged_id, _)| forged_id == id));
    for token in [forged.as_str(), "not-a-token-at-all-s3cr3t", ""] {
        let mut request = tonic::Request::new(WhoAmIRequest {});
        if let Ok(value) = format!("Bearer {token}").parse() {
            request.metadata_mut().insert("authorization", value);
        }
        keep(registry.who_am_i(request).await.map(drop));
    }

    let tokens: Vec<String> = fx.tokens.values().cloned().collect();
    fx.stop().await?;
    let logs = captured.text();
    assert!(
        logs.contains("vigil_api"),
        "the API's log lines are captured:\n{logs}"
    );
    assert!(errors.len() >= 8, "every refused call was kept: {errors:?}");

    let mut secrets: Vec<String> = vec![
        PLATE.into(),
        PLATE_NORMALIZED.into(),
        WATCHED.into(),
        WATCHED_NORMALIZED.into(),
        forged_secret,
        "s3cr3t".into(),
    ];
    for token in &tokens {
        secrets.push(parse_token(token).unwrap().1.to_owned());
    }
    for secret in &secrets {
        for line in logs.lines().chain(errors.iter().map(String::as_str)) {
            assert!(
                !line.contains(secret.as_str()),
                "{secret:?} shows in:\n{line}"
            );
        }
    }
    Ok(())
}
