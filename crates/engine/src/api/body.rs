//! A JSON body extractor whose failures read as the API's other errors: 400 with a message
//! for malformed JSON, 413 past the configured size.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use serde_json::Value;

use crate::app::AppState;
use crate::error::ApiError;

/// The request body parsed as JSON (any content type is accepted, as curl users forget it).
pub struct ApiJson(pub Value);

impl FromRequest<AppState> for ApiJson {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge
            } else {
                ApiError::BadRequest(format!("request body could not be read: {rejection}"))
            }
        })?;
        if bytes.is_empty() {
            return Err(ApiError::BadRequest(
                "request body: expected a JSON object, got an empty body".into(),
            ));
        }
        // Only syntax errors can come out of parsing into a Value, and their messages give a
        // position, never the content (which may be a secret).
        serde_json::from_slice(&bytes)
            .map(ApiJson)
            .map_err(|err| ApiError::BadRequest(format!("request body is not valid JSON: {err}")))
    }
}
