//! The HTTP ingest takes only requests signed with the site's key: anyone
//! else on the site's network gets 401, and nothing of theirs is spooled
//! or published. Without a key the ingest is off; a short key stops the
//! agent at start-up.

mod common;

use std::time::Duration;

use common::{Agent, delivered_event_ids, event_ids, json_detection, signed_post, spool_dir};
use reqwest::StatusCode;
use vigil_signing::{SIGNATURE_HEADER, SigningKey, TIMESTAMP_HEADER, unix_now};
use vigil_testkit::TestEnv;

/// The status and the `error` text of a refused request.
async fn refusal(request: reqwest::RequestBuilder) -> anyhow::Result<(StatusCode, String)> {
    let response = request.send().await?;
    let status = response.status();
    let body: serde_json::Value = response.json().await?;
    Ok((
        status,
        body["error"].as_str().unwrap_or_default().to_owned(),
    ))
}

#[tokio::test(flavor = "multi_thread")]
async fn unsigned_forged_and_stale_requests_get_401_and_nothing_is_published() -> anyhow::Result<()>
{
    let env = TestEnv::new("edge_signed").await?;
    let site = "site-signed";
    let agent = Agent::start(&env, site, &spool_dir("signed"), &[]).await?;
    let url = agent.url("/v1/detections");
    let body = serde_json::to_vec(&json_detection("cam-000001", 1))?;

    // Unsigned: what anyone on the LAN could send before.
    let (status, error) = refusal(agent.http.post(&url).body(body.clone())).await?;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{error}");
    assert!(
        error.contains("x-vigil-timestamp header is missing"),
        "{error}"
    );
    let now = unix_now().to_string();
    let (status, error) = refusal(
        agent
            .http
            .post(&url)
            .header(TIMESTAMP_HEADER, &now)
            .body(body.clone()),
    )
    .await?;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{error}");
    assert!(
        error.contains("x-vigil-signature header is missing"),
        "{error}"
    );

    // Signed with another key (another site's, or a guess).
    let wrong_key = SigningKey::new(&[b'w'; 32])?;
    let forged = agent
        .http
        .post(&url)
        .header(TIMESTAMP_HEADER, &now)
        .header(SIGNATURE_HEADER, wrong_key.signature(unix_now(), &body))
        .body(body.clone());
    let (status, error) = refusal(forged).await?;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{error}");
    assert!(error.contains("bad signature"), "{error}");

    // Signed with the right key, then the body changed (another camera).
    let mut tampered = signed_post(&agent, body.clone()).build()?;
    *tampered.body_mut() = Some(serde_json::to_vec(&json_detection("cam-000002", 1))?.into());
    let response = agent.http.execute(tampered).await?;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(response.text().await?.contains("bad signature"));

    // Signed with the right key, but backdated beyond the window: a
    // captured request replayed later, or a backdated one.
    let old = unix_now() - 6 * 60;
    let stale = agent
        .http
        .post(&url)
        .header(TIMESTAMP_HEADER, old.to_string())
        .header(SIGNATURE_HEADER, agent.key.signature(old, &body))
        .body(body.clone());
    let (status, error) = refusal(stale).await?;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{error}");
    assert!(error.contains("stale timestamp"), "{error}");
    // The key is in no answer.
    assert!(!error.contains(std::str::from_utf8(common::TEST_KEY)?));

    let rejected = |reason: &str| {
        format!("vigil_edge_events_rejected_total{{source=\"http\",reason=\"{reason}\"}}")
    };
    assert_eq!(agent.metric(&rejected("unsigned")).await?, 2.0);
    assert_eq!(agent.metric(&rejected("bad_signature")).await?, 2.0);
    assert_eq!(agent.metric(&rejected("stale_timestamp")).await?, 1.0);
    assert_eq!(
        agent
            .metric("vigil_edge_events_accepted_total{source=\"http\"}")
            .await?,
        0.0
    );
    assert_eq!(agent.metric("vigil_edge_spool_entries").await?, 0.0);

    // The one signed request is the only one that reaches Kafka.
    let response = signed_post(&agent, body).send().await?;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let accepted = event_ids(&response.json().await?);
    assert_eq!(accepted.len(), 1);
    let (seen, _) = delivered_event_ids(
        &env,
        site,
        |seen| seen.contains(&accepted[0]),
        Duration::from_secs(30),
    )
    .await?;
    assert!(seen.contains(&accepted[0]), "{seen:?}");
    // Anything else published would have arrived by now.
    let (seen, records) =
        delivered_event_ids(&env, site, |_| false, Duration::from_secs(3)).await?;
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(records, 1);
    agent.terminate()
}

#[tokio::test(flavor = "multi_thread")]
async fn without_a_key_the_ingest_is_off_and_a_short_key_stops_the_agent() -> anyhow::Result<()> {
    let env = TestEnv::new("edge_unkeyed").await?;
    let agent = Agent::start_without_key(&env, "site-unkeyed", &spool_dir("unkeyed"), &[]).await?;
    let body = serde_json::to_vec(&json_detection("cam-000001", 1))?;
    // Even a request signed with some key: there is none to check it with.
    let (status, error) = refusal(signed_post(&agent, body)).await?;
    assert_eq!(status, StatusCode::FORBIDDEN, "{error}");
    assert!(error.contains("HTTP ingest is off"), "{error}");
    assert_eq!(agent.metric("vigil_edge_spool_entries").await?, 0.0);
    agent.terminate()?;

    let dir = tempfile::tempdir()?;
    let short = dir.path().join("short.key");
    std::fs::write(&short, "hunter2\n")?;
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_vigil-edge"))
        .args(["--site-id", "site-unkeyed", "--topic-prefix"])
        .arg(&env.kafka.topic_prefix)
        .arg("--spool-dir")
        .arg(dir.path())
        .arg("--ingest-key-file")
        .arg(&short)
        .output()?;
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("--ingest-key-file") && stderr.contains("at least 32 are needed"),
        "{stderr}"
    );
    assert!(!stderr.contains("hunter2"), "{stderr}");
    Ok(())
}
