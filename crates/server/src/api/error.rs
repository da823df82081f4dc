//! API errors: every failure is a 4xx (or, for a broken store, a 503/500)
//! with a JSON body `{"error": "..."}` naming the problem.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use trackd_store::StoreError;

/// What went wrong with a request.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Malformed or invalid input.
    #[error("{0}")]
    BadRequest(String),
    /// No or bad credentials.
    #[error("{0}")]
    Unauthorized(String),
    /// Authenticated but not allowed.
    #[error("{0}")]
    Forbidden(String),
    /// No such object (or not visible to the caller: the same answer, so
    /// nothing leaks about other organizations).
    #[error("not found")]
    NotFound,
    /// Clashes with an existing object.
    #[error("{0}")]
    Conflict(String),
    /// Too many failed or concurrent logins; retry after this many seconds.
    #[error("{message}")]
    TooManyRequests {
        /// What was too many.
        message: String,
        /// Sent as `Retry-After`.
        retry_after_secs: u64,
    },
    /// Overloaded (the password hashing queue is full); retry after this
    /// many seconds.
    #[error("server busy, retry later")]
    Busy {
        /// Sent as `Retry-After`.
        retry_after_secs: u64,
    },
    /// The store failed; details are logged, not sent.
    #[error("internal error")]
    Internal,
}

impl ApiError {
    /// Shorthand for a bad request.
    pub fn bad(message: impl Into<String>) -> Self {
        ApiError::BadRequest(message.into())
    }

    /// Shorthand for a forbidden request.
    pub fn forbidden(message: impl Into<String>) -> Self {
        ApiError::Forbidden(message.into())
    }

    fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Busy { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::NotFound => ApiError::NotFound,
            StoreError::Conflict(what) => ApiError::Conflict(format!("already exists: {what}")),
            StoreError::InvalidInput(what) => ApiError::BadRequest(what),
            other => {
                tracing::error!(err = %other, "store error in api request");
                ApiError::Internal
            }
        }
    }
}

/// The body of every error answer.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// What was wrong, in one line.
    pub error: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Json(ErrorBody {
            error: self.to_string(),
        });
        let retry_after = match &self {
            ApiError::TooManyRequests {
                retry_after_secs, ..
            }
            | ApiError::Busy { retry_after_secs } => Some(*retry_after_secs),
            _ => None,
        };
        let mut response = (self.status(), body).into_response();
        if let Some(secs) = retry_after {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, secs.into());
        }
        response
    }
}

/// Result of an API handler.
pub type ApiResult<T> = Result<T, ApiError>;
