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

/// Body limits by route: webhooks take larger bodies than the API.
#[derive(Clone, Copy, Debug)]
pub struct BodyLimits {
    /// Every route but the webhooks.
    pub api: usize,
    /// `/webhook/*` and `/webhook-test/*`.
    pub webhook: usize,
}

impl BodyLimits {
    fn for_path(&self, path: &str) -> usize {
        if path.starts_with("/webhook/") || path.starts_with("/webhook-test/") {
            self.webhook
        } else {
            self.api
        }
    }
}

/// How much of an oversized body is read and thrown away before the 413 goes out, and for how
/// long at most. Past either, the connection is simply closed.
const DRAIN_MAX_BYTES: usize = 64 * 1024 * 1024;
const DRAIN_MAX_TIME: std::time::Duration = std::time::Duration::from_secs(10);

/// Answers 413 to a request whose `Content-Length` is over its route's limit, without running
/// the handler. The body is read and discarded first (within [`DRAIN_MAX_BYTES`] and
/// [`DRAIN_MAX_TIME`]): a server that answers and closes while the client is still sending
/// leaves unread data in its socket, the kernel then resets the connection, and the client sees
/// a broken connection instead of the 413. Bodies without a length (chunked) meet the same
/// limit in the extractors.
pub async fn refuse_oversized(
    axum::extract::State(limits): axum::extract::State<BodyLimits>,
    req: Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    use futures::StreamExt;

    let declared = req
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let limit = limits.for_path(req.uri().path());
    match declared {
        Some(length) if length > limit as u64 => {
            let mut body = req.into_body().into_data_stream();
            let _ = tokio::time::timeout(DRAIN_MAX_TIME, async {
                let mut read = 0usize;
                while let Some(Ok(chunk)) = body.next().await {
                    read += chunk.len();
                    if read > DRAIN_MAX_BYTES {
                        break;
                    }
                }
            })
            .await;
            ApiError::PayloadTooLarge.into_response()
        }
        _ => next.run(req).await,
    }
}
