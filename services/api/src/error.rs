//! The API's errors and their one mapping to gRPC status codes.

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};
use tracing::error;
use vigil_store::StoreError;

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ApiError {
    /// A request field is missing or wrong; names the field.
    #[error("{field}: {reason}")]
    InvalidArgument { field: &'static str, reason: String },
    #[error("{0}")]
    Unauthenticated(String),
    #[error("{0}")]
    PermissionDenied(String),
    #[error("{0}")]
    NotFound(String),
    /// The request is valid but asks for more than the server will do.
    #[error("{0}")]
    TooLarge(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Bus(#[from] vigil_bus::BusError),
    /// A limit on what is open at once was reached (streams); says which.
    #[error("{0}")]
    Exhausted(String),
    /// The move is not possible in the record's current state; says why
    /// (and who got there first).
    #[error("{0}")]
    Refused(String),
    /// Others kept changing the record; try again.
    #[error("{0}")]
    Contended(String),
    /// A bug (a task that panicked); the cause is logged, not returned.
    #[error("{0}")]
    Internal(String),
}

impl ApiError {
    pub(crate) fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        Self::InvalidArgument {
            field,
            reason: reason.into(),
        }
    }

    /// The one answer for an id that does not exist and for one outside
    /// the caller's scope, so that refusals cannot tell which ids exist
    /// elsewhere (nor where they are filed).
    pub(crate) fn unknown(what: &str, id: impl std::fmt::Display) -> Self {
        Self::NotFound(format!("no {what} {id} within this token's scope"))
    }

    pub(crate) fn code(&self) -> Code {
        match self {
            Self::InvalidArgument { .. } => Code::InvalidArgument,
            Self::Unauthenticated(_) => Code::Unauthenticated,
            Self::PermissionDenied(_) => Code::PermissionDenied,
            Self::NotFound(_) => Code::NotFound,
            Self::TooLarge(_) | Self::Refused(_) => Code::FailedPrecondition,
            Self::Contended(_) => Code::Aborted,
            Self::Store(_) | Self::Bus(_) => Code::Unavailable,
            Self::Exhausted(_) => Code::ResourceExhausted,
            Self::Internal(_) => Code::Internal,
        }
    }
}

impl From<ApiError> for Status {
    fn from(error: ApiError) -> Self {
        match &error {
            ApiError::InvalidArgument { field, reason } => Status::with_error_details(
                Code::InvalidArgument,
                error.to_string(),
                ErrorDetails::with_bad_request_violation(*field, reason.clone()),
            ),
            ApiError::Store(_) | ApiError::Bus(_) => {
                // The cause stays in the log; callers learn only that the
                // backend is unavailable and may retry.
                error!(%error, "Backend failure.");
                Status::unavailable("the event store or the bus is unavailable; retry")
            }
            ApiError::Internal(_) => {
                error!(%error, "Internal failure.");
                Status::internal("internal error")
            }
            _ => Status::new(error.code(), error.to_string()),
        }
    }
}

impl From<vigil_request::InvalidField> for ApiError {
    fn from(invalid: vigil_request::InvalidField) -> Self {
        Self::InvalidArgument {
            field: invalid.field,
            reason: invalid.reason,
        }
    }
}

pub(crate) type ApiResult<T> = Result<T, ApiError>;
