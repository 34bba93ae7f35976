//! Database operations are retried until they succeed: the alert record
//! stays uncommitted in Kafka (or the escalation timer stays stored)
//! meanwhile, so waiting loses nothing.

use std::future::Future;
use std::sync::LazyLock;
use std::time::Duration;

use vigil_runtime::retry::{RetryPolicy, WarnLimiter};
use vigil_store::StoreError;

use crate::metrics;

/// Pauses from under 100 ms up to 10 s.
const POLICY: RetryPolicy = RetryPolicy::new(Duration::from_millis(100), Duration::from_secs(10));

/// One warning a minute during an outage, with the count.
static FAILURES: LazyLock<WarnLimiter> =
    LazyLock::new(|| WarnLimiter::new(Duration::from_secs(60)));

/// Runs `attempt` until it succeeds.
pub(crate) async fn until_ok<T, F, Fut>(attempt: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, StoreError>>,
{
    vigil_runtime::retry::until_ok(POLICY, &FAILURES, metrics::store_retry, attempt).await
}
