//! The node's calls for one credential: through the shared [`Client`] (token, one re-auth,
//! transient retries), plus waiting out `REQUEST_LIMIT_EXCEEDED` within the execution's
//! budget, query paging, and Salesforce's errors turned into n8n's error shape.
//!
//! The client returns `REQUEST_LIMIT_EXCEEDED` at once because a retry loop on a spent daily
//! limit only burns more of it. A node run is different: the limit also trips on bursts
//! (concurrent long requests) that clear within seconds, so the node waits with a doubling
//! delay, but never past the budget set in [`LimitBackoff`], shared by every call of one
//! execution.

use std::time::Duration;

use node_api::{NodeError, NodeErrorKind};
use reqwest::Method;
use serde_json::Value;
use tokio::time::Instant;

use crate::client::{Call, Client, QueryPage, Response};
use crate::error::Error;

/// How long the node waits out `REQUEST_LIMIT_EXCEEDED`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitBackoff {
    /// The first wait; each later one doubles, up to `max_delay`.
    pub first_delay: Duration,
    /// The longest single wait.
    pub max_delay: Duration,
    /// All waits of one execution together; past it the node fails with the limit error.
    pub budget: Duration,
}

impl Default for LimitBackoff {
    /// Waits of 1 s doubling to 16 s, at most 60 s in all.
    fn default() -> Self {
        LimitBackoff {
            first_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(16),
            budget: Duration::from_secs(60),
        }
    }
}

/// Calls for one credential during one execution.
pub(crate) struct Api<'a> {
    client: &'a Client,
    credential: &'a str,
    limits: LimitBackoff,
    deadline: Instant,
}

impl<'a> Api<'a> {
    /// Calls for `credential`; the limit budget starts now.
    pub fn new(client: &'a Client, credential: &'a str, limits: LimitBackoff) -> Self {
        Api {
            client,
            credential,
            limits,
            deadline: Instant::now() + limits.budget,
        }
    }

    /// The credential's id.
    pub fn credential(&self) -> &str {
        self.credential
    }

    /// Sends `call`, waiting out `REQUEST_LIMIT_EXCEEDED` while the budget lasts.
    pub async fn call(&self, call: &Call<'_>) -> Result<Response, Error> {
        let mut delay = self.limits.first_delay;
        loop {
            match self.client.call(self.credential, call).await {
                Err(Error::RequestLimitExceeded) => {
                    let left = self.deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Err(Error::RequestLimitExceeded);
                    }
                    let wait = delay.min(left);
                    tracing::warn!(
                        credential_id = %self.credential,
                        wait_ms = wait.as_millis() as u64,
                        "Salesforce answered REQUEST_LIMIT_EXCEEDED; waiting before trying again"
                    );
                    tokio::time::sleep(wait).await;
                    delay = (delay * 2).min(self.limits.max_delay);
                }
                other => return other,
            }
        }
    }

    /// `GET path`.
    pub async fn get(&self, path: &str) -> Result<Response, Error> {
        self.call(&Call::new(Method::GET, path)).await
    }

    /// `DELETE path`.
    pub async fn delete(&self, path: &str) -> Result<Response, Error> {
        self.call(&Call::new(Method::DELETE, path)).await
    }

    /// `method path` with a JSON body.
    pub async fn send_json(
        &self,
        method: Method,
        path: &str,
        body: &Value,
    ) -> Result<Response, Error> {
        self.call(&Call::new(method, path).json(body)).await
    }

    /// Runs `soql` and hands every record of every page to `each`, one page held at a time.
    pub async fn query(&self, soql: &str, mut each: impl FnMut(Value)) -> Result<(), Error> {
        let q: String = url::form_urlencoded::byte_serialize(soql.as_bytes()).collect();
        let mut path = format!("/query?q={q}");
        loop {
            let res = self.get(&path).await?;
            let page: QueryPage =
                serde_json::from_value(res.body).map_err(|e| Error::Unexpected {
                    status: res.status,
                    what: "a query",
                    detail: format!("not a query result: {e}"),
                })?;
            page.records.into_iter().for_each(&mut each);
            match (page.done, page.next_records_url) {
                (true, _) => return Ok(()),
                (false, Some(next)) => path = next,
                (false, None) => {
                    return Err(Error::Unexpected {
                        status: res.status,
                        what: "a query",
                        detail: "a page with done=false and no nextRecordsUrl".into(),
                    })
                }
            }
        }
    }
}

/// `s` as one URL path segment: record ids, external id values and flow names are the
/// user's, and a `/` or `?` in them must not reach another endpoint.
pub(crate) fn segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The HTTP status Salesforce gives a refusal with this code on the single-record endpoints
/// (sObject Collections report per record without one).
pub(crate) fn status_for(code: &str) -> u16 {
    match code {
        "NOT_FOUND" | "ENTITY_IS_DELETED" => 404,
        _ => 400,
    }
}

/// n8n's error for a Salesforce refusal: the first error's message, its code and fields,
/// the other errors (if any) in the description.
pub(crate) fn refusal(status: u16, errors: &[crate::error::ApiError], fallback: &str) -> NodeError {
    let Some(first) = errors.first() else {
        return NodeError::api(status, fallback.to_owned());
    };
    let message = if first.message.is_empty() {
        fallback.to_owned()
    } else {
        first.message.clone()
    };
    let mut e = NodeError::api(status, message).with_fields(first.fields.clone());
    if !first.error_code.is_empty() {
        e = e.with_error_code(first.error_code.clone());
    }
    if errors.len() > 1 {
        let rest: Vec<String> = errors[1..]
            .iter()
            .map(|e| format!("{}: {}", e.error_code, e.message))
            .collect();
        e = e.with_description(rest.join("; "));
    }
    e
}

/// The node's error for a failed call.
pub(crate) fn node_error(e: &Error) -> NodeError {
    match e {
        Error::Api { status, errors } => {
            refusal(*status, errors, &format!("Salesforce answered {status}"))
        }
        Error::RequestLimitExceeded => NodeError::api(403, e.to_string())
            .with_error_code("REQUEST_LIMIT_EXCEEDED")
            .with_description(
                "the wait allowed for the limit to clear (the node's limit budget) ran out",
            ),
        Error::RetryAfterTooLong { last, .. } => node_error(last).with_description(e.to_string()),
        Error::SessionRejected => {
            NodeError::api(401, e.to_string()).with_error_code("INVALID_SESSION_ID")
        }
        Error::Transport { .. } => NodeError::new(NodeErrorKind::Network, e.to_string()),
        Error::Unexpected { status, .. } => NodeError::api(*status, e.to_string()),
        Error::SignIn { .. }
        | Error::NotConnected
        | Error::InvalidField { .. }
        | Error::UnsupportedType { .. }
        | Error::InsecureUrl { .. }
        | Error::Credentials(_) => NodeError::credentials(e.to_string()),
        Error::InvalidSetting { .. } => NodeError::operation(e.to_string()),
    }
}

/// Whether Salesforce named a field it does not know (so a cached describe may be stale).
pub(crate) fn is_invalid_field(e: &Error) -> bool {
    e.error_codes().contains(&"INVALID_FIELD")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ApiError;

    #[test]
    fn path_segments_cannot_leave_their_place() {
        assert_eq!(segment("001xx000003DGb2AAG"), "001xx000003DGb2AAG");
        assert_eq!(segment("a@b.com"), "a%40b.com");
        assert_eq!(segment("../../limits?x=1"), "..%2F..%2Flimits%3Fx%3D1");
        assert_eq!(segment("Zoë"), "Zo%C3%AB");
    }

    #[test]
    fn a_retry_after_too_long_keeps_the_answer_and_names_the_wait() {
        let e = Error::RetryAfterTooLong {
            wait: Duration::from_secs(120),
            left: Duration::from_secs(15),
            allowed: Duration::from_secs(15),
            last: Box::new(Error::Api {
                status: 503,
                errors: vec![ApiError {
                    error_code: "SERVER_UNAVAILABLE".into(),
                    message: "Server Unavailable".into(),
                    fields: vec![],
                }],
            }),
        };
        let n = node_error(&e);
        assert_eq!(
            (n.http_code, n.error_code.as_deref(), n.message.as_str()),
            (Some(503), Some("SERVER_UNAVAILABLE"), "Server Unavailable")
        );
        let description = n.description.unwrap();
        assert!(
            description.contains("asked to wait 120 s before trying again (Retry-After)"),
            "{description}"
        );
    }

    #[test]
    fn a_refusal_keeps_code_fields_and_the_other_errors() {
        let errors = vec![
            ApiError {
                error_code: "REQUIRED_FIELD_MISSING".into(),
                message: "Required fields are missing: [LastName]".into(),
                fields: vec!["LastName".into()],
            },
            ApiError {
                error_code: "FIELD_CUSTOM_VALIDATION_EXCEPTION".into(),
                message: "Email looks wrong".into(),
                fields: vec![],
            },
        ];
        let e = refusal(400, &errors, "refused");
        assert_eq!(
            e.to_item_json(),
            serde_json::json!({
                "error": "Required fields are missing: [LastName]",
                "description": "FIELD_CUSTOM_VALIDATION_EXCEPTION: Email looks wrong",
                "httpCode": "400", "errorCode": "REQUIRED_FIELD_MISSING", "fields": ["LastName"]
            })
        );
    }
}
