//! Retrying a database operation until it succeeds, for consumers whose
//! input stays safe meanwhile (an uncommitted record, a stored timer):
//! waiting loses nothing, giving up would lose the input for good.

use std::future::Future;
use std::sync::LazyLock;
use std::time::Duration;

use vigil_runtime::retry::{RetryPolicy, WarnLimiter};

use crate::StoreError;

/// Pauses start below 100 ms and grow to at most 10 s: long enough not to
/// hammer a restarting node, short enough to notice within seconds that it
/// is back.
const POLICY: RetryPolicy = RetryPolicy::new(Duration::from_millis(100), Duration::from_secs(10));

/// During an outage every operation in flight fails the same way: one
/// warning a minute with the count, not one per operation per attempt.
static FAILURES: LazyLock<WarnLimiter> =
    LazyLock::new(|| WarnLimiter::new(Duration::from_secs(60)));

/// Runs `attempt` until it succeeds, backing off between failures for as
/// long as it takes (every error is taken as passing: a node down, a
/// timeout, a restart), calling `on_retry` for each failure.
pub async fn until_ok<T, F, Fut>(on_retry: impl Fn(), attempt: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, StoreError>>,
{
    vigil_runtime::retry::until_ok(POLICY, &FAILURES, on_retry, attempt).await
}
