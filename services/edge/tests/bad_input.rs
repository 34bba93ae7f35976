//! Malformed, oversized and invalid HTTP input gets a clear error, is
//! counted, and does not stop the agent.

mod common;

use common::{Agent, json_detection, signed_post, spool_dir};
use reqwest::StatusCode;
use vigil_testkit::TestEnv;

#[tokio::test]
async fn bad_http_input_is_refused_counted_and_harmless() -> anyhow::Result<()> {
    let env = TestEnv::new("edge_bad").await?;
    let agent = Agent::start(
        &env,
        "site-bad",
        &spool_dir("bad"),
        &["--http-max-body", "65536"],
    )
    .await?;
    let malformed = signed_post(&agent, "{\"camera_id\": ").send().await?;
    assert_eq!(malformed.status(), StatusCode::BAD_REQUEST);
    assert!(malformed.text().await?.contains("malformed detection JSON"));

    let oversized = signed_post(&agent, vec![b' '; 100_000]).send().await?;
    assert_eq!(oversized.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert!(
        oversized
            .text()
            .await?
            .contains("exceeds the limit of 65536 bytes")
    );

    let mut bad_kind = json_detection("cam-000001", 1);
    bad_kind["kind"] = "banana".into();
    let mut no_camera = json_detection("", 2);
    no_camera["camera_id"] = "".into();
    let mixed = serde_json::json!([json_detection("cam-000001", 3), bad_kind, no_camera]);
    let response = signed_post(&agent, serde_json::to_vec(&mixed)?)
        .send()
        .await?;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: serde_json::Value = response.json().await?;
    let results = body["results"].as_array().expect("results");
    assert!(results[0]["event_id"].is_string(), "{body}");
    assert!(
        results[1]["error"]
            .as_str()
            .unwrap_or_default()
            .contains("unknown detection kind \"banana\""),
        "{body}"
    );
    assert!(
        results[2]["error"]
            .as_str()
            .unwrap_or_default()
            .contains("camera_id"),
        "{body}"
    );

    let fine = signed_post(
        &agent,
        serde_json::to_vec(&json_detection("cam-000001", 4))?,
    )
    .send()
    .await?;
    assert_eq!(fine.status(), StatusCode::ACCEPTED);

    let rejected = |reason: &str| {
        format!("vigil_edge_events_rejected_total{{source=\"http\",reason=\"{reason}\"}}")
    };
    assert_eq!(agent.metric(&rejected("malformed")).await?, 1.0);
    assert_eq!(agent.metric(&rejected("too_large")).await?, 1.0);
    assert_eq!(agent.metric(&rejected("invalid")).await?, 2.0);
    assert_eq!(
        agent
            .metric("vigil_edge_events_accepted_total{source=\"http\"}")
            .await?,
        2.0
    );
    agent.terminate()
}
