//! Errors: [`Error`] for callers of the library, and the wire-level errors
//! the org answers with (REST error arrays and OAuth error objects), mapped to
//! HTTP responses in one place.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

/// What can go wrong when configuring, starting or seeding an org.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The listening socket could not be opened.
    #[error("could not listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: String,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// A builder setting is unusable (bad certificate, unknown user...).
    #[error("invalid configuration: {field}: {reason}")]
    InvalidConfig {
        /// The setting at fault.
        field: String,
        /// What was expected.
        reason: String,
    },
    /// A record given to `insert` was refused, with Salesforce's own reason.
    #[error("invalid record for {object}: {code}: {message}")]
    InvalidRecord {
        /// The object type.
        object: String,
        /// Salesforce's error code (`REQUIRED_FIELD_MISSING`, `INVALID_FIELD`...).
        code: String,
        /// Salesforce's message.
        message: String,
    },
    /// No record with that id exists in the org.
    #[error("no record with id {0:?}")]
    UnknownRecord(String),
    /// No object of that name exists in the org.
    #[error("unknown object type {0:?}")]
    UnknownObject(String),
    /// No user of that name exists in the org.
    #[error("unknown user {0:?}")]
    UnknownUser(String),
}

/// Library result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// One Salesforce error as REST calls report it (`errorCode`) and as
/// collections report it per record (`statusCode`).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SfError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub fields: Option<Vec<String>>,
}

impl SfError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            fields: None,
        }
    }

    pub fn with_fields(mut self, fields: Vec<String>) -> Self {
        self.fields = Some(fields);
        self
    }

    pub fn not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            "The requested resource does not exist",
        )
    }

    pub fn deleted() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "ENTITY_IS_DELETED",
            "entity is deleted",
        )
        .with_fields(vec![])
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// The REST form: `{"message","errorCode"[,"fields"]}`.
    pub fn rest_json(&self) -> Value {
        let mut v = json!({"message": self.message, "errorCode": self.code});
        if let Some(f) = &self.fields {
            v["fields"] = json!(f);
        }
        v
    }

    /// The collections form: `{"statusCode","message","fields"}`.
    pub fn collection_json(&self) -> Value {
        json!({"statusCode": self.code, "message": self.message, "fields": self.fields.clone().unwrap_or_default()})
    }
}

/// An error answer from one of the org's endpoints.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ApiError {
    /// A REST error: a JSON array with one error.
    #[error("{}: {}", .0.code, .0.message)]
    Rest(SfError),
    /// An OAuth error: `{"error","error_description"}`.
    #[error("{error}: {description}")]
    OAuth {
        status: StatusCode,
        error: &'static str,
        description: &'static str,
    },
}

impl ApiError {
    pub fn oauth(error: &'static str, description: &'static str) -> Self {
        Self::OAuth {
            status: StatusCode::BAD_REQUEST,
            error,
            description,
        }
    }
}

impl From<SfError> for ApiError {
    fn from(e: SfError) -> Self {
        Self::Rest(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            Self::Rest(e) => (e.status, json_body(&json!([e.rest_json()]))).into_response(),
            Self::OAuth {
                status,
                error,
                description,
            } => (
                status,
                json_body(&json!({"error": error, "error_description": description})),
            )
                .into_response(),
        }
    }
}

/// A JSON body with Salesforce's content type.
pub(crate) fn json_body<T: serde::Serialize + ?Sized>(v: &T) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json;charset=UTF-8")],
        serde_json::to_vec(v).unwrap_or_default(),
    )
}
