//! Database operations are retried until they succeed (`vigil_store::until_ok`):
//! the alert record stays uncommitted in Kafka, or the escalation timer
//! stays stored, meanwhile, so waiting loses nothing.

use std::future::Future;

use vigil_store::StoreError;

use crate::metrics;

/// Runs `attempt` until it succeeds, counting each retry.
pub(crate) async fn until_ok<T, F, Fut>(attempt: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, StoreError>>,
{
    vigil_store::until_ok(metrics::store_retry, attempt).await
}
