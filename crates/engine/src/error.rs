//! The one place where errors become HTTP answers.
//!
//! Clients get a status and `{"message": ...}`; internals (SQL errors, I/O) are logged
//! with the request's span and answered with a plain 500 that reveals nothing.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

/// An error answered to an API client.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request is wrong; the message names the fields and what was expected.
    #[error("{0}")]
    BadRequest(String),
    /// No or wrong API key: says which header is expected when none was sent, and nothing
    /// more for a wrong key.
    #[error("{0}")]
    Unauthorized(String),
    /// The thing named does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The request collides with the current state (an id already taken, a write race lost).
    #[error("{0}")]
    Conflict(String),
    /// A workflow failed while it ran; its message (the workflow's, never internal) is shown.
    #[error("{0}")]
    Execution(String),
    /// The body is larger than the configured limit.
    #[error("request body is larger than the configured limit (SWITCHYARD_MAX_BODY_BYTES)")]
    PayloadTooLarge,
    /// Too much work at once (webhook executions past their queue): 503 with `Retry-After`.
    #[error("{0}")]
    Busy(String),
    /// Anything else: logged, never shown.
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

/// Result type for handlers.
pub type ApiResult<T> = Result<T, ApiError>;

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = match &self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Execution(_) => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::Busy(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(err) => {
                tracing::error!(error = %format!("{err:#}"), "request failed");
                StatusCode::INTERNAL_SERVER_ERROR
            }
        };
        let mut response = (status, Json(json!({ "message": self.to_string() }))).into_response();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from_static("1"),
            );
        }
        response
    }
}

impl From<credentials::Error> for ApiError {
    fn from(err: credentials::Error) -> Self {
        use credentials::Error as E;
        match err {
            E::NotFound { .. } => ApiError::NotFound(err.to_string()),
            E::UnknownType { .. } | E::Invalid(_) => ApiError::BadRequest(err.to_string()),
            E::AlreadyExists { .. } | E::Conflict { .. } => ApiError::Conflict(err.to_string()),
            other => ApiError::Internal(other.into()),
        }
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(err: crate::store::StoreError) -> Self {
        use crate::store::StoreError as E;
        match err {
            E::NotFound { .. } => ApiError::NotFound(err.to_string()),
            E::InvalidInput { .. } => ApiError::BadRequest(err.to_string()),
            E::NotRunning { .. } | E::Conflict(_) => ApiError::Conflict(err.to_string()),
            E::Database(_) | E::Interrupted => ApiError::Internal(err.into()),
        }
    }
}

impl From<workflow::WorkflowError> for ApiError {
    /// A workflow the client sent that is not valid is the client's to fix (400); one that
    /// fails while it runs is answered 500 with its message.
    fn from(err: workflow::WorkflowError) -> Self {
        use workflow::WorkflowError as E;
        match err {
            E::Parse(_) | E::Invalid(_) | E::Expression(_) => ApiError::BadRequest(err.to_string()),
            E::Node { .. } | E::Timeout(_) | E::Cancelled | E::NoStartNode(_) => {
                ApiError::Execution(err.to_string())
            }
        }
    }
}

impl From<crate::connect::StartError> for ApiError {
    fn from(err: crate::connect::StartError) -> Self {
        use crate::connect::StartError as E;
        match err {
            E::NotFound(m) => ApiError::NotFound(m),
            E::Refused(m) => ApiError::BadRequest(m),
            E::Internal(e) => ApiError::Internal(e),
        }
    }
}

impl From<crate::runner::RunError> for ApiError {
    fn from(err: crate::runner::RunError) -> Self {
        match err {
            crate::runner::RunError::Workflow(e) => e.into(),
            // The panic is logged where it was caught; the client learns nothing internal.
            crate::runner::RunError::Panicked => {
                ApiError::Internal(anyhow::anyhow!("an execution panicked"))
            }
        }
    }
}

impl From<axum::extract::rejection::JsonRejection> for ApiError {
    fn from(rejection: axum::extract::rejection::JsonRejection) -> Self {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge
        } else {
            ApiError::BadRequest(format!("request body: {}", rejection.body_text()))
        }
    }
}
