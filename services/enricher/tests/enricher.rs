//! The enricher against the real stack: enrichment, watchlist alerts, the
//! DLQ, and two instances sharing the work.

use std::collections::HashSet;
use std::time::Duration;

use chrono::Utc;
use prost::Message as _;
use rdkafka::Message as _;
use rdkafka::message::OwnedMessage;
use rdkafka::producer::{FutureProducer, FutureRecord};
use tokio_util::sync::CancellationToken;
use vigil_bus::registry::RegistryPublisher;
use vigil_domain::{Camera, Registry, RegistryEntity, WatchlistEntry};
use vigil_enricher::Config;
use vigil_proto::v1::{Alert, Detection, DlqRecord, EnrichedDetection};
use vigil_synth::ProvinceSpec;
use vigil_synth::traffic::DetectionFactory;
use vigil_testkit::{TestEnv, count, eventually, read_topic, unique_name};

const PATIENCE: Duration = Duration::from_secs(60);

/// Publishes a small synthetic province (and a watchlist entry) to the
/// test's registry topic; returns it.
async fn publish_registry(env: &TestEnv) -> anyhow::Result<Registry> {
    let mut registry = vigil_synth::province(&ProvinceSpec {
        cameras: 40,
        seed: 9,
    });
    registry.upsert(RegistryEntity::Watchlist(WatchlistEntry {
        id: "w-stolen".into(),
        plate: "36A12345".parse()?,
        reason: "stolen car, case 2026/117".into(),
        priority: 1,
        expires_at: None,
        owner_zone_id: "th".into(),
        created_by: Some("test".into()),
    }));
    RegistryPublisher::new(&env.kafka)?
        .publish(registry.entities())
        .await?;
    Ok(registry)
}

/// A detection of `camera` as its own site's edge agent stamps it.
fn from_its_site(mut detection: Detection, camera: &Camera) -> Detection {
    detection.site_id = camera.site_id.clone().unwrap_or_default();
    detection
}

fn config(env: &TestEnv, group: &str) -> Config {
    use clap::Parser;
    Config::parse_from([
        "vigil-enricher",
        "--topic-prefix",
        &env.kafka.topic_prefix,
        "--group",
        group,
        "--metrics-listen",
        "127.0.0.1:0",
        "--shutdown-grace",
        "5s",
    ])
}

async fn produce(env: &TestEnv, records: &[(String, Vec<u8>)]) -> anyhow::Result<()> {
    let producer: FutureProducer = env.kafka.producer_config().create()?;
    let topic = env.kafka.topics().detections;
    for (key, payload) in records {
        producer
            .send(
                FutureRecord::to(&topic).key(key).payload(payload),
                Duration::from_secs(30),
            )
            .await
            .map_err(|(e, _)| e)?;
    }
    Ok(())
}

fn decode<T: prost::Message + Default>(messages: &[OwnedMessage]) -> Vec<T> {
    messages
        .iter()
        .filter_map(|m| T::decode(m.payload().unwrap_or_default()).ok())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn enriches_alerts_and_dead_letters() -> anyhow::Result<()> {
    let env = TestEnv::new("enrich").await?;
    let registry = publish_registry(&env).await?;
    let camera = registry.cameras().next().unwrap().clone();
    let mut factory = DetectionFactory::new(11);
    let now = Utc::now();

    let mut records = Vec::new();
    let mut valid = HashSet::new();
    for i in 0..20 {
        let detection = from_its_site(
            factory.detection(&camera.id, now - chrono::Duration::seconds(i)),
            &camera,
        );
        valid.insert(detection.event_id.clone());
        records.push((camera.id.clone(), detection.encode_to_vec()));
        if i == 5 {
            records.push((camera.id.clone(), b"\x0a\xff not a detection".to_vec()));
            let stranger = factory.detection("cam-not-registered", now);
            records.push(("cam-not-registered".into(), stranger.encode_to_vec()));
        }
    }
    let exact = from_its_site(
        factory.plate_read(&camera.id, now, "36A12345", false),
        &camera,
    );
    let mut confused = from_its_site(
        factory.plate_read(&camera.id, now, "36A12345", false),
        &camera,
    );
    confused.plate.as_mut().unwrap().text = "36A-l23.45".into();
    for read in [&exact, &confused] {
        valid.insert(read.event_id.clone());
        records.push((camera.id.clone(), read.encode_to_vec()));
    }
    produce(&env, &records).await?;

    let shutdown = CancellationToken::new();
    let enricher = tokio::spawn(vigil_enricher::run(
        config(&env, &unique_name("g")),
        shutdown.clone(),
    ));

    let topics = env.kafka.topics();
    let enriched = read_topic(&env.kafka, &topics.enriched, count(valid.len()), PATIENCE).await?;
    let enriched: Vec<EnrichedDetection> = decode(&enriched);
    let ids: HashSet<String> = enriched
        .iter()
        .filter_map(|e| e.detection.as_ref())
        .map(|d| d.event_id.clone())
        .collect();
    assert_eq!(
        ids, valid,
        "every valid event is enriched, around the bad ones"
    );
    let team = registry.team_for_zone(&camera.zone_id).unwrap();
    for event in &enriched {
        assert_eq!(event.village_id, camera.zone_id);
        assert_eq!(
            event.commune_id,
            registry.commune_of(&camera.zone_id).unwrap().id
        );
        assert_eq!(event.team.as_ref().unwrap().team_id, team.id);
    }

    let dlq = read_topic(&env.kafka, &topics.dlq, count(2), PATIENCE).await?;
    let mut reasons: Vec<String> = decode::<DlqRecord>(&dlq)
        .into_iter()
        .map(|r| r.reason)
        .collect();
    reasons.sort();
    assert_eq!(reasons, ["malformed", "unknown_camera"]);

    let alerts = read_topic(&env.kafka, &topics.alerts, count(2), PATIENCE).await?;
    let alerts: Vec<Alert> = decode(&alerts);
    assert_eq!(alerts.len(), 2, "one alert per read: {alerts:?}");
    for alert in &alerts {
        assert_eq!(alert.team.as_ref().unwrap().team_id, team.id);
        let fuzzy = alert.hit.as_ref().unwrap().fuzzy;
        assert_eq!(
            fuzzy,
            alert.event_id == confused.event_id,
            "{}",
            alert.summary
        );
    }

    shutdown.cancel();
    enricher.await??;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn two_instances_share_the_work_and_a_killed_one_loses_nothing() -> anyhow::Result<()> {
    let env = TestEnv::new("enrich_pair").await?;
    let registry = publish_registry(&env).await?;
    let cameras: Vec<Camera> = registry.cameras().cloned().collect();
    let mut factory = DetectionFactory::new(12);
    let now = Utc::now();
    let records: Vec<(String, Vec<u8>)> = (0..3_000)
        .map(|i| {
            let camera = &cameras[i % cameras.len()];
            (
                camera.id.clone(),
                from_its_site(factory.detection(&camera.id, now), camera).encode_to_vec(),
            )
        })
        .collect();
    let expected: HashSet<String> = records
        .iter()
        .map(|(_, payload)| {
            vigil_proto::v1::Detection::decode(payload.as_slice())
                .unwrap()
                .event_id
        })
        .collect();

    let group = unique_name("pair");
    let survivor_stop = CancellationToken::new();
    let survivor = tokio::spawn(vigil_enricher::run(
        config(&env, &group),
        survivor_stop.clone(),
    ));
    let victim = tokio::spawn(vigil_enricher::run(
        config(&env, &group),
        CancellationToken::new(),
    ));
    tokio::time::sleep(Duration::from_secs(5)).await;
    produce(&env, &records).await?;
    // Killed without a chance to drain or commit, like kill -9.
    tokio::time::sleep(Duration::from_millis(300)).await;
    victim.abort();

    let topic = env.kafka.topics().enriched;
    let mut missing = expected.clone();
    let enriched = read_topic(
        &env.kafka,
        &topic,
        |message| {
            if let Ok(event) = EnrichedDetection::decode(message.payload().unwrap_or_default())
                && let Some(detection) = event.detection
            {
                missing.remove(&detection.event_id);
            }
            missing.is_empty()
        },
        Duration::from_secs(120),
    )
    .await?;
    let ids: HashSet<String> = decode::<EnrichedDetection>(&enriched)
        .into_iter()
        .filter_map(|e| e.detection.map(|d| d.event_id))
        .collect();
    println!(
        "produced {}, enriched {} distinct in {} records",
        expected.len(),
        ids.len(),
        enriched.len()
    );
    assert!(
        expected.is_subset(&ids),
        "{} events lost",
        expected.difference(&ids).count()
    );
    survivor_stop.cancel();
    survivor.await??;
    Ok(())
}

/// The enricher as a process of its own, on the stack's SASL listener
/// (127.0.0.1:9094, test users in deploy/local/kafka/server.properties and
/// deploy/local/stack), its log written to `log`.
fn spawn_authenticated(
    env: &TestEnv,
    security: &[&str],
    secret_env: Option<&str>,
    log: &std::path::Path,
) -> anyhow::Result<std::process::Child> {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_vigil-enricher"));
    command
        .args(["--kafka-brokers", "127.0.0.1:9094"])
        .args(["--topic-prefix", &env.kafka.topic_prefix])
        .args(["--group", &unique_name("auth")])
        .args(["--metrics-listen", "127.0.0.1:0"])
        .args(security)
        .env_remove("VIGIL_KAFKA_SASL_PASSWORD")
        .env("RUST_BACKTRACE", "0");
    let output = std::fs::File::create(log)?;
    command.stdout(output.try_clone()?).stderr(output);
    if let Some(password) = secret_env {
        command
            .env("VIGIL_KAFKA_SASL_PASSWORD_FILE", "env:")
            .env("VIGIL_KAFKA_SASL_PASSWORD", password);
    }
    Ok(command.spawn()?)
}

#[tokio::test(flavor = "multi_thread")]
async fn authenticates_with_sasl_and_never_logs_the_password() -> anyhow::Result<()> {
    let env = TestEnv::new("auth").await?;
    let registry = publish_registry(&env).await?;
    let camera = registry.cameras().next().unwrap().clone();
    let mut factory = DetectionFactory::new(23);
    let records: Vec<_> = (0..10)
        .map(|i| {
            let at = Utc::now() - chrono::Duration::seconds(i);
            let detection = from_its_site(factory.detection(&camera.id, at), &camera);
            (camera.id.clone(), detection.encode_to_vec())
        })
        .collect();
    produce(&env, &records).await?;
    let dir = tempfile::tempdir()?;
    let password_file = dir.path().join("kafka-password");
    std::fs::write(&password_file, "scram-test-secret\n")?;
    let enriched_topic = env.kafka.topics().enriched;

    // SCRAM-SHA-512 with the password from a file, then PLAIN with it from
    // the environment: each run enriches the ten detections once more.
    let runs: [(&[&str], Option<&str>, &str); 2] = [
        (
            &[
                "--kafka-sasl-mechanism",
                "SCRAM-SHA-512",
                "--kafka-sasl-username",
                "vigil_test",
                "--kafka-sasl-password-file",
                password_file.to_str().unwrap(),
            ],
            None,
            "scram-test-secret",
        ),
        (
            &[
                "--kafka-sasl-mechanism",
                "PLAIN",
                "--kafka-sasl-username",
                "vigil_test",
            ],
            Some("plain-test-secret"),
            "plain-test-secret",
        ),
    ];
    for (run, (security, secret_env, password)) in runs.into_iter().enumerate() {
        let log = dir.path().join(format!("run-{run}.log"));
        let mut enricher = spawn_authenticated(&env, security, secret_env, &log)?;
        let want = records.len() * (run + 1);
        let enriched = read_topic(&env.kafka, &enriched_topic, count(want), PATIENCE).await;
        enricher.kill()?;
        enricher.wait()?;
        let output = std::fs::read_to_string(&log)?;
        assert_eq!(
            enriched?.len(),
            want,
            "run {run} over SASL; its log:\n{output}"
        );
        assert!(!output.contains(password), "run {run} logged the password");
        // Written to a file, the log carries no terminal colour codes.
        assert!(
            !output.contains('\u{1b}'),
            "run {run} wrote ANSI escapes to a file:\n{output}"
        );
    }

    // A wrong password: refused by the broker, said at ERROR, not logged.
    let wrong = "not-the-password-7f3e";
    let log = dir.path().join("wrong.log");
    let mut enricher = spawn_authenticated(
        &env,
        &[
            "--kafka-sasl-mechanism",
            "SCRAM-SHA-512",
            "--kafka-sasl-username",
            "vigil_test",
        ],
        Some(wrong),
        &log,
    )?;
    let refused = eventually("the refusal to be logged at ERROR", PATIENCE, || async {
        let output = std::fs::read_to_string(&log)?;
        Ok(output
            .lines()
            .any(|line| line.contains("ERROR") && line.contains("Authentication failed"))
            .then_some(output))
    })
    .await;
    enricher.kill()?;
    enricher.wait()?;
    let output = refused?;
    assert!(!output.contains(wrong), "the wrong password was logged");
    Ok(())
}
