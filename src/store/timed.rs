//! A time limit on every call of the SQL stores: a database that hangs (stopped,
//! partitioned) must give a 503 within seconds, not a request that waits forever.

use std::future::Future;
use std::time::Duration;

use super::StoreError;

/// How long one store call (getting a connection included) may take.
pub(crate) const CALL_TIMEOUT: Duration = Duration::from_secs(5);

/// Bounds a sqlx call by [`CALL_TIMEOUT`] and maps its error.
pub(crate) trait Timed<T>: Future<Output = Result<T, sqlx::Error>> + Sized {
    /// The call's result, or [`StoreError::Unavailable`] when it takes too long.
    fn timed(
        self,
        map_err: fn(sqlx::Error) -> StoreError,
    ) -> impl Future<Output = Result<T, StoreError>> {
        async move {
            match tokio::time::timeout(CALL_TIMEOUT, self).await {
                Ok(result) => result.map_err(map_err),
                Err(_) => Err(StoreError::Unavailable(
                    format!(
                        "the database did not answer within {} s",
                        CALL_TIMEOUT.as_secs()
                    )
                    .into(),
                )),
            }
        }
    }
}

impl<T, F: Future<Output = Result<T, sqlx::Error>>> Timed<T> for F {}
