//! The fault matrix at a small scale (CI): every scenario, with real 15 s
//! outages of Kafka and Cassandra, must end with nothing lost, nothing
//! duplicated and the counts exact. Alone in its test binary: it stops the
//! stack's components, which other tests would notice.

use std::process::Command;

#[tokio::test(flavor = "multi_thread")]
async fn the_fault_matrix_loses_and_duplicates_nothing() -> anyhow::Result<()> {
    vigil_testkit::ensure_stack().await?;
    let root = vigil_testkit::repo_root();
    let dir = tempfile::tempdir()?;
    let output = Command::new(env!("CARGO_BIN_EXE_vigil-loadtest"))
        .args([
            "chaos",
            "--rate",
            "50",
            "--load",
            "20s",
            "--outage",
            "15s",
            "--cameras",
            "300",
        ])
        .arg("--stack-script")
        .arg(root.join("deploy/local/stack"))
        .arg("--report-dir")
        .arg(dir.path())
        .output()?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    println!("{stdout}");
    anyhow::ensure!(
        output.status.success(),
        "chaos failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("report.json"))?)?;
    let scenarios = report["scenarios"].as_array().expect("scenarios");
    assert_eq!(scenarios.len(), 9);
    for scenario in scenarios {
        assert!(scenario["accepted"].as_u64() > Some(100), "{scenario}");
        assert_eq!(scenario["accepted"], scenario["stored"], "{scenario}");
        assert_eq!(scenario["lost"], 0, "{scenario}");
        assert_eq!(scenario["duplicated"], 0, "{scenario}");
        assert_eq!(scenario["counts_exact"], true, "{scenario}");
        assert_eq!(scenario["api_exact"], true, "{scenario}");
    }
    Ok(())
}
