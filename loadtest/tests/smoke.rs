//! Every subcommand end to end against the local stack at tiny rates, for a
//! few seconds: the run succeeds and its JSON report has the expected
//! fields with sane values. No threshold on speed — these machines are
//! noisy; speed is what the tool reports, not what a test asserts.

use std::process::Command;

use serde_json::Value;

fn run(args: &[&str]) -> anyhow::Result<Value> {
    let dir = tempfile::tempdir()?;
    let output = Command::new(env!("CARGO_BIN_EXE_vigil-loadtest"))
        .args(args)
        .args(["--cameras", "300", "--report-dir"])
        .arg(dir.path())
        .output()?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    anyhow::ensure!(
        output.status.success(),
        "{args:?} failed:\n{stdout}\n{stderr}"
    );
    let png = std::fs::read(dir.path().join("report.png")).unwrap_or_default();
    if args[0] != "ceiling" {
        anyhow::ensure!(png.starts_with(b"\x89PNG"), "{args:?} wrote no PNG chart");
    }
    Ok(serde_json::from_slice(&std::fs::read(
        dir.path().join("report.json"),
    )?)?)
}

fn number(report: &Value, field: &str) -> f64 {
    report[field]
        .as_f64()
        .unwrap_or_else(|| panic!("{field} missing or not a number in {report}"))
}

fn percentiles_are_sane(latency: &Value) {
    let get = |k: &str| {
        latency[k]
            .as_f64()
            .unwrap_or_else(|| panic!("{k} in {latency}"))
    };
    assert!(get("count") > 0.0, "{latency}");
    assert!(get("p50_ms") > 0.0);
    assert!(get("p50_ms") <= get("p90_ms"));
    assert!(get("p90_ms") <= get("p99_ms"));
    assert!(get("p99_ms") <= get("p999_ms"));
    assert!(get("p999_ms") <= get("max_ms"));
}

#[tokio::test(flavor = "multi_thread")]
async fn every_subcommand_runs_and_reports() -> anyhow::Result<()> {
    vigil_testkit::ensure_stack().await?;

    let ingest = run(&[
        "ingest",
        "--rate",
        "40",
        "--duration",
        "6s",
        "--sample-every",
        "4",
    ])?;
    assert_eq!(ingest["command"], "ingest");
    let offered = number(&ingest, "offered");
    assert!(
        (150.0..=350.0).contains(&offered),
        "about 40/s for 6 s: {offered}"
    );
    assert_eq!(
        number(&ingest, "failed"),
        0.0,
        "deliveries failed: {}",
        ingest["failures"]
    );
    assert_eq!(
        number(&ingest, "accepted"),
        offered,
        "everything offered was accepted"
    );
    percentiles_are_sane(&ingest["e2e_latency"]);
    assert_eq!(
        number(&ingest, "e2e_unresolved"),
        0.0,
        "every sample became readable"
    );
    let seconds = ingest["seconds"].as_array().expect("seconds");
    assert!(seconds.len() >= 4, "{seconds:?}");
    assert!(
        seconds
            .iter()
            .all(|s| s["writer_lag"].as_i64().is_some_and(|l| l >= 0))
    );

    let query = run(&[
        "query",
        "--rate",
        "10",
        "--duration",
        "5s",
        "--ingest-rate",
        "20",
    ])?;
    assert!(number(&query, "ingest_accepted_per_s") > 0.0);
    let shapes = query["shapes"].as_array().expect("shapes");
    assert_eq!(shapes.len(), 5);
    let calls: f64 = shapes.iter().map(|s| s["calls"].as_f64().unwrap()).sum();
    assert!(
        (40.0..=60.0).contains(&calls),
        "about 10/s for 5 s: {calls}"
    );
    for shape in shapes {
        assert_eq!(shape["errors"].as_f64(), Some(0.0), "{shape}");
        if shape["calls"].as_f64() > Some(0.0) {
            percentiles_are_sane(&shape["latency"]);
        }
    }

    let ceiling = run(&[
        "ceiling",
        "--step",
        "2s",
        "--concurrency",
        "8,32",
        "--search-steps",
        "2",
        "--pipeline-step",
        "4s",
    ])?;
    for field in ["kafka_per_s", "cql_per_s", "colocated_per_s"] {
        assert!(number(&ceiling, field) > 0.0, "{field}: {ceiling}");
    }
    assert!(number(&ceiling, "message_bytes") > 200.0);
    // Each co-located event is also a Kafka record.
    assert!(number(&ceiling, "colocated_per_s") <= number(&ceiling, "kafka_per_s"));
    assert_eq!(ceiling["cql"].as_array().map(Vec::len), Some(2));
    assert_eq!(
        ceiling["pipeline_steps"].as_array().map(|s| !s.is_empty()),
        Some(true)
    );
    let ratio = number(&ceiling, "pipeline_over_colocated");
    assert!((0.0..=3.0).contains(&ratio), "{ratio}");
    assert!(number(&ceiling, "pipeline_over_min_single") >= 0.0);

    // Live alert streams on a real API process (the vigil-api binary beside
    // this one): every stream gets every alert.
    let streams = run(&[
        "streams",
        "--streams",
        "20",
        "--per-connection",
        "5",
        "--rate",
        "5",
        "--duration",
        "4s",
    ])?;
    let produced = number(&streams, "produced");
    assert!(
        (15.0..=30.0).contains(&produced),
        "about 5/s for 4 s: {produced}"
    );
    assert_eq!(number(&streams, "received"), 20.0 * produced, "{streams}");
    assert_eq!(streams["ended_early"].as_array().map(Vec::len), Some(0));
    percentiles_are_sane(&streams["latency"]);
    assert!(number(&streams, "rss_streams_open_mib") > 0.0);
    assert!(streams["samples"].as_array().is_some_and(|s| s.len() >= 2));

    // Not running against a stack is a clear error, not a hang.
    let output = Command::new(env!("CARGO_BIN_EXE_vigil-loadtest"))
        .args([
            "ingest",
            "--kafka-brokers",
            "127.0.0.1:1",
            "--duration",
            "1s",
        ])
        .output()?;
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("deploy/local/stack up"), "{stderr}");
    Ok(())
}
