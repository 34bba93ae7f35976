//! Observability end to end, against the real stack, with an OTLP trace
//! receiver (a tonic server implementing the collector's TraceService)
//! running inside the test:
//!
//! - one detection posted to an edge agent is one trace: the edge's
//!   `publish`, the enricher's `process` (its child) and `publish`, the
//!   writer's `process` (child of that), all with the Kafka messaging
//!   attributes; the watchlist alert it raises goes on into the notifier's
//!   `process` and its `deliver` attempt to the team's receiver;
//! - an API call is a span with the RPC attributes and the query's shape,
//!   and nothing of the caller's token;
//! - every service's `/metrics` answers with the names
//!   `docs/observability.md` documents for it.
//!
//! The five services run in this process, like `pipeline.rs` does. A test
//! binary of its own: the log subscriber and the trace exporter are
//! process-wide, and are set up here with export on (through
//! `LogArgs::init_with`, since tests cannot set environment variables).

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use clap::Parser;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::trace::v1::Span as OtlpSpan;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use tokio_util::sync::CancellationToken;
use tonic::metadata::{Ascii, MetadataValue};
use vigil_domain::{RegistryEntity, WatchlistEntry};
use vigil_proto::v1::alert_service_client::AlertServiceClient;
use vigil_proto::v1::query_service_client::QueryServiceClient;
use vigil_proto::v1::{
    AcknowledgeAlertRequest, ListEventsRequest, Role, StreamAlertsRequest, TimeWindow,
};
use vigil_store::{EventStore, NotificationStore, StoredChannel, TokenStore, mint_token};
use vigil_synth::ProvinceSpec;
use vigil_testkit::{TestEnv, eventually, free_port, install_registry, unique_name};

/// The plate the test's detection reads, and the watchlist holds.
const PLATE: &str = "36A-123.45";

/// Every span the receiver was sent.
#[derive(Debug, Clone, Default)]
struct Receiver {
    spans: Arc<Mutex<Vec<OtlpSpan>>>,
}

#[tonic::async_trait]
impl TraceService for Receiver {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let mut spans = self.spans.lock().unwrap();
        for resource in request.into_inner().resource_spans {
            for scope in resource.scope_spans {
                spans.extend(scope.spans);
            }
        }
        Ok(tonic::Response::new(ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}

impl Receiver {
    fn spans(&self) -> Vec<OtlpSpan> {
        self.spans.lock().unwrap().clone()
    }
}

/// A span attribute as text (strings, integers and booleans).
fn attr(span: &OtlpSpan, key: &str) -> Option<String> {
    let value = span
        .attributes
        .iter()
        .find(|kv| kv.key == key)?
        .value
        .as_ref()?
        .value
        .as_ref()?;
    Some(match value {
        Value::StringValue(s) => s.clone(),
        Value::IntValue(i) => i.to_string(),
        Value::BoolValue(b) => b.to_string(),
        Value::DoubleValue(d) => d.to_string(),
        other => format!("{other:?}"),
    })
}

/// `message` as a call with the bearer token.
fn with_token<T>(message: T, bearer: &MetadataValue<Ascii>) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request
        .metadata_mut()
        .insert("authorization", bearer.clone());
    request
}

/// Whether the Prometheus text has a sample of `name` (a histogram's
/// `_bucket`, `_sum` and `_count` count).
fn exported(text: &str, name: &str) -> bool {
    text.lines().any(|line| {
        line.strip_prefix(name).is_some_and(|rest| {
            rest.starts_with(['{', ' '])
                || ["_bucket", "_sum", "_count"]
                    .iter()
                    .any(|suffix| rest.starts_with(suffix))
        })
    })
}

/// The metric names `docs/observability.md` lists, by service.
fn documented_metrics() -> anyhow::Result<BTreeMap<String, Vec<String>>> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/observability.md");
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {path:?}"))?;
    let mut by_service: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let catalogue = text
        .lines()
        .skip_while(|line| *line != "### Catalogue")
        .skip(1)
        .take_while(|line| !line.starts_with('#'));
    for line in catalogue {
        let Some(rest) = line.strip_prefix("| `vigil_") else {
            continue;
        };
        let name = format!("vigil_{}", rest.split('`').next().unwrap_or_default());
        // `vigil_<service>_...`, or `vigil_record_...`: served by every
        // consumer (the bus pipeline's).
        let services = match name.split('_').nth(1).unwrap_or_default() {
            "record" => vec!["enricher", "writer", "notifier"],
            service => vec![service],
        };
        for service in services {
            by_service
                .entry(service.to_owned())
                .or_default()
                .push(name.clone());
        }
    }
    ensure!(
        by_service.len() == 5,
        "expected metrics of edge, enricher, writer, api and notifier in {path:?}: {by_service:?}"
    );
    Ok(by_service)
}

#[tokio::test(flavor = "multi_thread")]
async fn one_detection_is_one_trace_and_every_service_serves_its_metrics() -> anyhow::Result<()> {
    // The OTLP receiver, then logging with export to it.
    let receiver = Receiver::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let otlp = listener.local_addr()?;
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(TraceServiceServer::new(receiver.clone()))
            .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener)),
    );
    let settings: HashMap<&str, String> = HashMap::from([
        ("OTEL_EXPORTER_OTLP_ENDPOINT", format!("http://{otlp}")),
        ("OTEL_SERVICE_NAME", "vigil-observability-test".to_owned()),
    ]);
    vigil_runtime::LogArgs {
        filter: "warn".to_owned(),
        json: false,
    }
    .init_with(move |key| settings.get(key).cloned());
    ensure!(vigil_runtime::telemetry::enabled(), "trace export is off");

    // A province, a token, and the four services.
    let env = TestEnv::new("observability").await?;
    let started = chrono::Utc::now();
    let mut registry = vigil_synth::province(&ProvinceSpec {
        cameras: 20,
        seed: 9,
    });
    // The plate the detection reads is watch-listed: it raises an alert.
    registry.upsert(RegistryEntity::Watchlist(WatchlistEntry {
        id: "wl-observability".to_owned(),
        plate: PLATE.parse()?,
        reason: "stolen car".to_owned(),
        priority: 1,
        expires_at: None,
        owner_zone_id: "th".to_owned(),
        created_by: None,
    }));
    // The edge agent below serves every camera.
    let cameras: Vec<_> = registry.cameras().cloned().collect();
    for mut camera in cameras {
        camera.site_id = Some("site-observability".to_owned());
        registry.upsert(RegistryEntity::Camera(camera));
    }
    install_registry(&env.kafka, &env.keyspace, &registry).await?;
    let (token, record) = mint_token("observer", Role::ProvinceOperator.into(), "th", None);
    TokenStore::prepare(&env.keyspace)
        .await?
        .insert(&record)
        .await?;
    let camera = registry.cameras().next().context("a camera")?.clone();
    let commune = registry
        .commune_of(&camera.zone_id)
        .context("the camera's commune")?
        .id
        .clone();

    let topics = env.kafka.topics();
    let prefix = env.kafka.topic_prefix.clone();
    let spool = std::env::temp_dir().join(unique_name("observability_spool"));
    let (enricher_group, writer_group) = (unique_name("enricher"), unique_name("writer"));
    let ports: BTreeMap<&str, u16> = ["edge", "enricher", "writer", "api", "notifier"]
        .into_iter()
        .map(|service| (service, free_port()))
        .collect();
    let edge = vigil_edge::Config::parse_from([
        "vigil-edge",
        "--site-id",
        "site-observability",
        "--topic-prefix",
        &prefix,
        "--spool-dir",
        spool.to_str().context("a UTF-8 temp dir")?,
        "--http-listen",
        &format!("127.0.0.1:{}", ports["edge"]),
        // This test is about metrics and traces, not who may post.
        "--ingest-allow-unsigned",
        "--heartbeat-interval",
        "1s",
        "--cameras",
        &camera.id,
        "--shutdown-grace",
        "5s",
    ]);
    let enricher = vigil_enricher::Config::parse_from([
        "vigil-enricher",
        "--topic-prefix",
        &prefix,
        "--group",
        &enricher_group,
        "--metrics-listen",
        &format!("127.0.0.1:{}", ports["enricher"]),
        "--lag-interval",
        "1s",
        "--shutdown-grace",
        "5s",
    ]);
    let writer = vigil_writer::Config::parse_from([
        "vigil-writer",
        "--topic-prefix",
        &prefix,
        "--keyspace",
        &env.store.keyspace,
        "--group",
        &writer_group,
        "--rollup-interval",
        "1s",
        "--lag-interval",
        "1s",
        "--metrics-listen",
        &format!("127.0.0.1:{}", ports["writer"]),
        "--shutdown-grace",
        "5s",
    ]);
    let api_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let api_address = format!("http://{}", api_listener.local_addr()?);
    let api = vigil_api::Config::parse_from([
        "vigil-api",
        "--topic-prefix",
        &prefix,
        "--keyspace",
        &env.store.keyspace,
        "--metrics-listen",
        &format!("127.0.0.1:{}", ports["api"]),
        "--shutdown-grace",
        "5s",
    ]);
    // The notifier delivers the alert to a receiver of the province's.
    let (webhooks, webhook_url) = webhook_receiver().await?;
    NotificationStore::prepare(&env.keyspace)
        .await?
        .put_channel(&StoredChannel {
            zone_id: "th".to_owned(),
            url: webhook_url,
            format: "webhook".to_owned(),
            language: "vi".to_owned(),
            recipient: String::new(),
            updated_by: "test".to_owned(),
            updated_at: None,
        })
        .await?;
    let key_file = std::env::temp_dir().join(unique_name("observability_key"));
    std::fs::write(&key_file, "k".repeat(32))?;
    let notifier_group = unique_name("notifier");
    let notifier = vigil_notifier::Config::parse_from([
        "vigil-notifier",
        "--topic-prefix",
        &prefix,
        "--keyspace",
        &env.store.keyspace,
        "--group",
        &notifier_group,
        "--signing-key-file",
        key_file.to_str().context("a UTF-8 temp dir")?,
        "--lag-interval",
        "1s",
        "--metrics-listen",
        &format!("127.0.0.1:{}", ports["notifier"]),
        "--shutdown-grace",
        "5s",
    ]);
    let stop = CancellationToken::new();
    let tasks = [
        tokio::spawn(vigil_edge::run(edge, stop.clone())),
        tokio::spawn(vigil_enricher::run(enricher, stop.clone())),
        tokio::spawn({
            let stop = stop.clone();
            async move { Ok(vigil_writer::run(writer, stop).await?) }
        }),
        tokio::spawn(vigil_api::serve(api, api_listener, stop.clone())),
        tokio::spawn({
            let stop = stop.clone();
            async move { Ok(vigil_notifier::run(notifier, stop).await?) }
        }),
    ];

    // One detection of a registered camera; also one of a camera the
    // registry does not know (dead-lettered) and one the edge refuses, so
    // the metrics with a reason have a series.
    let http = reqwest::Client::new();
    let ingest = format!("http://127.0.0.1:{}/v1/detections", ports["edge"]);
    let detection = |camera: &str, kind: &str| {
        serde_json::json!({
            "camera_id": camera,
            "captured_at": chrono::Utc::now().to_rfc3339(),
            "kind": kind,
            "confidence": 0.9,
            "plate": {"text": PLATE, "confidence": 0.8},
            "vehicle": {"type": "car", "colour": "white"},
        })
    };
    let body: serde_json::Value = eventually("the edge to accept", Duration::from_secs(30), || {
        let request = http.post(&ingest).json(&detection(&camera.id, "plate"));
        async move {
            let Ok(response) = request.send().await else {
                return Ok(None);
            };
            ensure!(
                response.status() == 202,
                "edge answered {}",
                response.status()
            );
            Ok(Some(response.json().await?))
        }
    })
    .await?;
    let event_id = body["results"][0]["event_id"]
        .as_str()
        .context("an event id")?
        .to_owned();
    http.post(&ingest)
        .json(&detection("cam-not-in-registry", "plate"))
        .send()
        .await?;
    http.post(&ingest)
        .json(&detection(&camera.id, "banana"))
        .send()
        .await?;

    // The writer stores it.
    let store = EventStore::prepare(&env.keyspace, env.store.event_ttl).await?;
    let id = event_id.parse()?;
    eventually(
        "the event to be stored",
        Duration::from_secs(90),
        || async { Ok(store.get(id).await?.map(drop)) },
    )
    .await?;

    // Its trace.
    let publish_detection = format!("publish {}", topics.detections);
    let process_detection = format!("process {}", topics.detections);
    let publish_enriched = format!("publish {}", topics.enriched);
    let publish_alert = format!("publish {}", topics.alerts);
    let process_enriched = format!("process {}", topics.enriched);
    let trace = eventually(
        "the detection's four spans",
        Duration::from_secs(30),
        || {
            let receiver = receiver.clone();
            let (event_id, publish_detection, process_enriched) =
                (&event_id, &publish_detection, &process_enriched);
            async move {
                vigil_runtime::telemetry::flush().await;
                let spans = receiver.spans();
                let Some(root) = spans.iter().find(|s| {
                    s.name == *publish_detection
                        && attr(s, "messaging.message.id").as_deref() == Some(event_id)
                }) else {
                    return Ok(None);
                };
                let trace: Vec<OtlpSpan> = spans
                    .iter()
                    .filter(|s| s.trace_id == root.trace_id)
                    .cloned()
                    .collect();
                Ok(trace
                    .iter()
                    .any(|s| s.name == *process_enriched)
                    .then_some(trace))
            }
        },
    )
    .await?;
    let one = |name: &str| -> anyhow::Result<&OtlpSpan> {
        let found: Vec<&OtlpSpan> = trace.iter().filter(|s| s.name == name).collect();
        ensure!(
            found.len() == 1,
            "{} spans named {name:?} in {trace:#?}",
            found.len()
        );
        Ok(found[0])
    };
    let edge_publish = one(&publish_detection)?;
    let enricher_process = one(&process_detection)?;
    let enricher_publish = one(&publish_enriched)?;
    let writer_process = one(&process_enriched)?;
    let alert_publish = one(&publish_alert)?;

    assert!(
        edge_publish.parent_span_id.is_empty(),
        "the edge's span is the root"
    );
    assert_eq!(enricher_process.parent_span_id, edge_publish.span_id);
    assert_eq!(enricher_publish.parent_span_id, enricher_process.span_id);
    assert_eq!(writer_process.parent_span_id, enricher_publish.span_id);
    assert_eq!(alert_publish.parent_span_id, enricher_process.span_id);
    for (span, kind) in [
        (edge_publish, SpanKind::Producer),
        (enricher_process, SpanKind::Consumer),
        (enricher_publish, SpanKind::Producer),
        (writer_process, SpanKind::Consumer),
    ] {
        assert_eq!(span.kind, kind as i32, "{}", span.name);
        assert_eq!(attr(span, "messaging.system").as_deref(), Some("kafka"));
        assert_eq!(
            attr(span, "messaging.kafka.message.key").as_deref(),
            Some(camera.id.as_str()),
            "{}",
            span.name
        );
        for key in [
            "messaging.destination.partition.id",
            "messaging.kafka.destination.partition",
            "messaging.kafka.offset",
        ] {
            assert!(attr(span, key).is_some(), "{} has no {key}", span.name);
        }
    }
    for (span, topic, operation) in [
        (edge_publish, &topics.detections, "send"),
        (enricher_process, &topics.detections, "process"),
        (enricher_publish, &topics.enriched, "send"),
        (writer_process, &topics.enriched, "process"),
    ] {
        assert_eq!(
            attr(span, "messaging.destination.name").as_ref(),
            Some(topic)
        );
        assert_eq!(
            attr(span, "messaging.operation.type").as_deref(),
            Some(operation)
        );
    }
    // The event id is on the spans that know it: searchable by it.
    for span in [edge_publish, enricher_process, writer_process] {
        assert_eq!(
            attr(span, "messaging.message.id").as_deref(),
            Some(event_id.as_str()),
            "{}",
            span.name
        );
    }
    assert_eq!(
        attr(enricher_process, "messaging.consumer.group.name"),
        Some(enricher_group.clone())
    );
    assert_eq!(
        attr(writer_process, "messaging.consumer.group.name"),
        Some(writer_group.clone())
    );

    // The trace goes on into the notifier: its processing of the alert,
    // and the delivery attempt under it.
    let process_alert = format!("process {}", topics.alerts);
    let (notifier_process, delivery) = eventually(
        "the notifier's spans in the detection's trace",
        Duration::from_secs(30),
        || {
            let receiver = receiver.clone();
            let (trace_id, process_alert, group) =
                (&edge_publish.trace_id, &process_alert, &notifier_group);
            async move {
                vigil_runtime::telemetry::flush().await;
                let spans: Vec<OtlpSpan> = receiver
                    .spans()
                    .into_iter()
                    .filter(|s| s.trace_id == *trace_id)
                    .collect();
                let process = spans.iter().find(|s| {
                    s.name == *process_alert
                        && attr(s, "messaging.consumer.group.name").as_ref() == Some(group)
                });
                let delivery = spans.iter().find(|s| s.name == "deliver team");
                Ok(process.cloned().zip(delivery.cloned()))
            }
        },
    )
    .await?;
    assert_eq!(notifier_process.parent_span_id, alert_publish.span_id);
    assert_eq!(delivery.parent_span_id, notifier_process.span_id);
    assert_eq!(delivery.kind, SpanKind::Client as i32);
    assert_eq!(
        attr(&delivery, "http.response.status_code").as_deref(),
        Some("200")
    );
    assert_eq!(
        attr(&delivery, "vigil.delivery.outcome").as_deref(),
        Some("delivered")
    );
    ensure!(
        webhooks.load(std::sync::atomic::Ordering::SeqCst) == 1,
        "one webhook received"
    );

    // An API call: its span has the RPC attributes and the query's shape.
    let channel = tonic::transport::Endpoint::from_shared(api_address)?
        .connect()
        .await?;
    let client_channel = channel.clone();
    let mut client = QueryServiceClient::new(channel);
    // A window ending in the future: the timestamps sent are whole seconds.
    let now = chrono::Utc::now() + chrono::Duration::minutes(1);
    let ts = |at: chrono::DateTime<chrono::Utc>| prost_types::Timestamp {
        seconds: at.timestamp(),
        nanos: 0,
    };
    let bearer: MetadataValue<Ascii> = format!("Bearer {token}").parse()?;
    let listed = eventually("the API to answer", Duration::from_secs(30), || {
        let mut client = client.clone();
        let request = with_token(
            ListEventsRequest {
                zone_id: commune.clone(),
                window: Some(TimeWindow {
                    start: Some(ts(now - chrono::Duration::hours(1))),
                    end: Some(ts(now)),
                }),
                page_size: 10,
                ..Default::default()
            },
            &bearer,
        );
        async move { Ok(client.list_events(request).await.ok()) }
    })
    .await?
    .into_inner();
    assert!(
        listed
            .events
            .iter()
            .any(|e| e.detection.as_ref().is_some_and(|d| d.event_id == event_id)),
        "the API lists the event"
    );
    // The watchlist alert, streamed live (from the test's start).
    let mut stream = client
        .stream_alerts(with_token(
            StreamAlertsRequest {
                zone_id: commune.clone(),
                since: Some(ts(started)),
                ..Default::default()
            },
            &bearer,
        ))
        .await?
        .into_inner();
    let alert = tokio::time::timeout(Duration::from_secs(30), stream.message())
        .await
        .context("no alert streamed")??
        .context("the alert stream ended")?;
    assert_eq!(alert.event_id, event_id);
    drop(stream);
    // Someone takes it (once the writer has stored it).
    let alerts = AlertServiceClient::new(client_channel.clone());
    eventually(
        "the alert to be acknowledged",
        Duration::from_secs(30),
        || {
            let mut alerts = alerts.clone();
            let request = with_token(
                AcknowledgeAlertRequest {
                    alert_id: alert.alert_id.clone(),
                    note: String::new(),
                },
                &bearer,
            );
            async move { Ok(alerts.acknowledge_alert(request).await.ok()) }
        },
    )
    .await?;

    let call = eventually("the ListEvents span", Duration::from_secs(30), || {
        let receiver = receiver.clone();
        async move {
            vigil_runtime::telemetry::flush().await;
            Ok(receiver
                .spans()
                .into_iter()
                .find(|s| s.name == "vigil.v1.QueryService/ListEvents"))
        }
    })
    .await?;
    assert_eq!(call.kind, SpanKind::Server as i32);
    for (key, value) in [
        ("rpc.system", "grpc"),
        ("rpc.service", "vigil.v1.QueryService"),
        ("rpc.method", "ListEvents"),
        ("rpc.grpc.status_code", "0"),
        ("vigil.caller.role", "ROLE_PROVINCE_OPERATOR"),
        ("vigil.query.zone_level", "commune"),
        ("vigil.query.window_seconds", "3600"),
        ("vigil.query.page_size", "10"),
        ("vigil.query.plate", "false"),
    ] {
        assert_eq!(attr(&call, key).as_deref(), Some(value), "{key}");
    }
    for kv in &call.attributes {
        let text = format!("{:?}", kv.value);
        assert!(!text.contains(&token), "{} carries the token", kv.key);
    }

    // Every service's /metrics has what the catalogue documents for it
    // (the lag gauges once the consumers have partitions: poll).
    for (service, names) in documented_metrics()? {
        let url = format!("http://127.0.0.1:{}/metrics", ports[service.as_str()]);
        let started = Instant::now();
        loop {
            let text = match http.get(&url).send().await {
                Ok(response) => response.text().await?,
                Err(_) => String::new(),
            };
            let missing: Vec<&String> =
                names.iter().filter(|name| !exported(&text, name)).collect();
            if missing.is_empty() {
                break;
            }
            ensure!(
                started.elapsed() < Duration::from_secs(30),
                "{service}'s /metrics lacks {missing:?}"
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    stop.cancel();
    for task in tasks {
        task.await??;
    }
    let _ = std::fs::remove_dir_all(&spool);
    let _ = std::fs::remove_file(&key_file);
    Ok(())
}

/// An HTTP receiver answering 200 to everything, counting requests.
async fn webhook_receiver() -> anyhow::Result<(Arc<AtomicUsize>, String)> {
    let count = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&count);
    let router = axum::Router::new().fallback(move || {
        counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        async { "taken" }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/province", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, router).await });
    Ok((count, url))
}
