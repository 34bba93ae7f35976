//! vigil-api driven by `grpcurl` (installed by deploy/local/go-tools) with
//! server reflection only: no .proto files anywhere on its command line.

mod common;

use std::process::Command;

use anyhow::Context;
use common::{Fixture, ts};

/// The pinned grpcurl, installed on first use.
fn grpcurl() -> anyhow::Result<String> {
    let root = vigil_testkit::repo_root();
    let output = Command::new(root.join("deploy/local/go-tools"))
        .arg("grpcurl")
        .output()
        .context("running deploy/local/go-tools")?;
    anyhow::ensure!(
        output.status.success(),
        "installing grpcurl failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let line = String::from_utf8(output.stdout)?;
    Ok(line
        .split_whitespace()
        .nth(1)
        .context("go-tools printed no path")?
        .to_owned())
}

/// Runs grpcurl against the fixture's server; returns (success, stdout, stderr).
fn run(grpcurl: &str, fx: &Fixture, args: &[&str]) -> anyhow::Result<(bool, String, String)> {
    let output = Command::new(grpcurl)
        .arg("-plaintext")
        .args(args)
        .output()
        .with_context(|| format!("running {grpcurl} against {}", fx.address))?;
    Ok((
        output.status.success(),
        String::from_utf8(output.stdout)?,
        String::from_utf8(output.stderr)?,
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn grpcurl_works_through_reflection_alone() -> anyhow::Result<()> {
    let grpcurl = grpcurl()?;
    let fx = Fixture::start("api_grpcurl").await?;
    let address = fx.address.clone();

    let (ok, services, err) = run(&grpcurl, &fx, &[&address, "list"])?;
    assert!(ok, "{err}");
    for service in [
        "vigil.v1.QueryService",
        "vigil.v1.RegistryService",
        "vigil.v1.ExtractionService",
        "vigil.v1.AuditService",
        "grpc.health.v1.Health",
    ] {
        assert!(
            services.lines().any(|l| l == service),
            "{service} in {services}"
        );
    }
    let (ok, described, err) = run(
        &grpcurl,
        &fx,
        &[&address, "describe", "vigil.v1.ListEventsRequest"],
    )?;
    assert!(ok && described.contains("page_token"), "{described}{err}");

    let (ok, health, err) = run(&grpcurl, &fx, &[&address, "grpc.health.v1.Health/Check"])?;
    assert!(ok && health.contains("SERVING"), "{health}{err}");

    let request = serde_json::json!({
        "zone_id": fx.commune_a,
        "window": {
            "start": chrono::DateTime::from_timestamp(ts(fx.start).seconds, 0).unwrap().to_rfc3339(),
            "end": chrono::DateTime::from_timestamp(ts(fx.end).seconds, 0).unwrap().to_rfc3339(),
        },
        "page_size": 5,
    })
    .to_string();
    let bearer = format!("authorization: Bearer {}", fx.tokens["police_a"]);
    let (ok, body, err) = run(
        &grpcurl,
        &fx,
        &[
            "-H",
            &bearer,
            "-d",
            &request,
            &address,
            "vigil.v1.QueryService/ListEvents",
        ],
    )?;
    assert!(ok, "{err}");
    let page: serde_json::Value = serde_json::from_str(&body)?;
    let got: Vec<&str> = page["events"]
        .as_array()
        .context("events")?
        .iter()
        .map(|e| e["detection"]["eventId"].as_str().unwrap())
        .collect();
    let expected = fx.expected(|e| e.commune_id == fx.commune_a);
    assert_eq!(
        got,
        expected
            .iter()
            .take(5)
            .map(String::as_str)
            .collect::<Vec<_>>()
    );
    assert!(
        page["nextPageToken"]
            .as_str()
            .is_some_and(|t| !t.is_empty())
    );

    // Without a token, or outside the token's scope: refused, with the code.
    let (ok, _, err) = run(
        &grpcurl,
        &fx,
        &["-d", &request, &address, "vigil.v1.QueryService/ListEvents"],
    )?;
    assert!(!ok && err.contains("Unauthenticated"), "{err}");
    let outside = request.replace(&fx.commune_a, &fx.commune_b);
    let (ok, _, err) = run(
        &grpcurl,
        &fx,
        &[
            "-H",
            &bearer,
            "-d",
            &outside,
            &address,
            "vigil.v1.QueryService/ListEvents",
        ],
    )?;
    assert!(!ok && err.contains("PermissionDenied"), "{err}");
    fx.stop().await
}
