//! The fault matrix at a small scale (CI): every scenario, with real 15 s
//! outages of Kafka and Cassandra, must end with nothing lost, nothing
//! duplicated and the counts exact. Alone in its test binary: it stops the
//! stack's components, which other tests would notice.

mod common;

#[tokio::test(flavor = "multi_thread")]
async fn the_fault_matrix_loses_and_duplicates_nothing() -> anyhow::Result<()> {
    vigil_testkit::ensure_stack().await?;
    let scenarios = common::run_chaos(
        &[
            "--rate",
            "50",
            "--load",
            "20s",
            "--outage",
            "15s",
            "--cameras",
            "300",
        ],
        100,
    )?;
    assert_eq!(scenarios.len(), 9);
    Ok(())
}
