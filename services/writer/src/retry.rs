//! Retrying database operations until they succeed: the record stays
//! uncommitted in Kafka meanwhile, so waiting loses nothing, while skipping
//! would lose the record for good.

use std::future::Future;

use vigil_store::StoreError;

use crate::metrics;

/// Runs `attempt` until it succeeds, backing off between failures, for as
/// long as it takes: every error is taken as passing (node down, timeout,
/// overload, a restart in progress).
pub(crate) async fn until_ok<T, F, Fut>(attempt: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, StoreError>>,
{
    vigil_store::until_ok(metrics::retry, attempt).await
}

/// Like [`until_ok`], except that the store refusing an event that lacks
/// what it needs (no commune, no valid id) is returned at once: no retry
/// can fix that.
pub(crate) async fn until_stored<T, F, Fut>(mut attempt: F) -> Result<T, StoreError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, StoreError>>,
{
    until_ok(|| {
        let attempt = attempt();
        async move {
            match attempt.await {
                Ok(value) => Ok(Ok(value)),
                Err(refused @ StoreError::InvalidEvent { .. }) => Ok(Err(refused)),
                Err(error) => Err(error),
            }
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn transient() -> StoreError {
        StoreError::Execute {
            what: "writing event e to events_by_id".to_owned(),
            source: "node down".into(),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn transient_errors_are_retried_until_success() {
        let mut failures_left = 3;
        let result = until_stored(|| {
            let outcome = if failures_left > 0 {
                failures_left -= 1;
                Err(transient())
            } else {
                Ok(7)
            };
            async move { outcome }
        })
        .await;
        assert_eq!(result.unwrap(), 7);
        assert_eq!(failures_left, 0);
    }

    #[tokio::test(start_paused = true)]
    async fn pauses_stay_under_the_growing_ceiling() {
        let started = tokio::time::Instant::now();
        let mut attempts = 0;
        until_ok(|| {
            attempts += 1;
            let outcome = if attempts <= 10 {
                Err(transient())
            } else {
                Ok(())
            };
            async move { outcome }
        })
        .await;
        // Full jitter: at most 0.1 + 0.2 + 0.4 + 0.8 + 1.6 + 3.2 + 6.4 + 10
        // + 10 + 10 s.
        let waited = started.elapsed();
        assert!(waited <= Duration::from_millis(42_700), "{waited:?}");
        assert_eq!(attempts, 11);
    }

    #[tokio::test(start_paused = true)]
    async fn an_event_the_store_refuses_is_not_retried() {
        let mut attempts = 0;
        let result: Result<(), _> = until_stored(|| {
            attempts += 1;
            async {
                Err(StoreError::InvalidEvent {
                    event_id: "e".to_owned(),
                    reason: "not enriched: no commune_id".to_owned(),
                })
            }
        })
        .await;
        assert!(result.is_err());
        assert_eq!(attempts, 1);
    }
}
