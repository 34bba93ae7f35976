//! Shared by the fault-matrix tests: run `vigil-loadtest chaos` against the
//! checkout's stack and check its report.

use std::process::Command;

/// Runs `vigil-loadtest chaos` with `args` (and this checkout's stack
/// script); returns the report's scenarios once it has checked that each
/// one stored every accepted event once, counted them exactly and listed
/// them all through the API, with more than `min_accepted` accepted.
pub(crate) fn run_chaos(
    args: &[&str],
    min_accepted: u64,
) -> anyhow::Result<Vec<serde_json::Value>> {
    let dir = tempfile::tempdir()?;
    let output = Command::new(env!("CARGO_BIN_EXE_vigil-loadtest"))
        .arg("chaos")
        .args(args)
        .arg("--stack-script")
        .arg(vigil_testkit::repo_root().join("deploy/local/stack"))
        .arg("--report-dir")
        .arg(dir.path())
        .output()?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    println!("{stdout}");
    anyhow::ensure!(
        output.status.success(),
        "chaos {args:?} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("report.json"))?)?;
    let scenarios = report["scenarios"].as_array().expect("scenarios").clone();
    for scenario in &scenarios {
        assert!(
            scenario["accepted"].as_u64() > Some(min_accepted),
            "{scenario}"
        );
        assert_eq!(scenario["accepted"], scenario["stored"], "{scenario}");
        assert_eq!(scenario["lost"], 0, "{scenario}");
        assert_eq!(scenario["duplicated"], 0, "{scenario}");
        assert_eq!(scenario["counts_exact"], true, "{scenario}");
        assert_eq!(scenario["api_exact"], true, "{scenario}");
    }
    Ok(scenarios)
}
