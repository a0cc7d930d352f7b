//! The REST client: authenticated calls to the credential's instance.
//!
//! Per call: a token from the provider (cached), one new sign-in and one resend when
//! Salesforce says the session is invalid, and retries with exponential backoff and jitter
//! (`backon`) on 503, 429, timeouts, connection errors and `UNABLE_TO_LOCK_ROW` for calls
//! that are safe to repeat. A `Retry-After` on a failed answer is honoured: the next try
//! waits at least that long. All waits of one call share one budget
//! ([`RetryPolicy::max_total_delay`]); a wait that would go past it is not made: past it by
//! the backoff, the last error is returned, past it by a `Retry-After`, an error naming the
//! wait asked for ([`Error::RetryAfterTooLong`]), so the caller knows when to come back.
//! Every answer's `Sforce-Limit-Info` is recorded per credential. Queries stream page by
//! page along `nextRecordsUrl`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use backon::{ExponentialBuilder, Retryable};
use chrono::{DateTime, Utc};
use futures::{Stream, TryStreamExt};
use reqwest::header::{HeaderValue, AUTHORIZATION};
use reqwest::Method as HttpMethod;
use secrecy::ExposeSecret;
use serde_json::Value;

use crate::auth::Token;
use crate::error::{ApiError, Error, Result};
use crate::metrics::{ApiUsage, Counters, CredentialMetrics};
use crate::provider::TokenProvider;

/// The REST API version used unless configured otherwise (Summer '25).
pub const DEFAULT_API_VERSION: &str = "v64.0";

/// The setting that names the API version.
pub const API_VERSION_SETTING: &str = "SWITCHYARD_SALESFORCE_API_VERSION";

/// Checks an API version of the form `vNN.N` (e.g. `v64.0`) and returns it.
pub fn parse_api_version(value: &str) -> Result<String> {
    let well_formed = value
        .strip_prefix('v')
        .and_then(|rest| rest.split_once('.'))
        .is_some_and(|(major, minor)| {
            (1..=3).contains(&major.len())
                && major.bytes().all(|b| b.is_ascii_digit())
                && minor.len() == 1
                && minor.bytes().all(|b| b.is_ascii_digit())
        });
    if well_formed {
        Ok(value.to_owned())
    } else {
        Err(Error::InvalidSetting {
            setting: API_VERSION_SETTING,
            expected:
                "a Salesforce API version like v64.0 (\"v\", the major number, \".\", one digit)",
            got: value.to_owned(),
        })
    }
}

/// A successful answer.
#[derive(Debug, Clone)]
pub struct Response {
    /// The HTTP status.
    pub status: u16,
    /// The JSON body (`Null` when empty).
    pub body: Value,
    /// `Sforce-Limit-Info` `api-usage=USED/MAX`, when sent.
    pub api_usage: Option<(u64, u64)>,
    /// The server's clock when it answered (its `Date` header, to the second), when sent.
    pub server_time: Option<DateTime<Utc>>,
}

/// When and how often a failed call is sent again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Sends at most, the first included (1: never retry).
    pub max_attempts: usize,
    /// The first wait; each later one doubles, with jitter.
    pub min_delay: Duration,
    /// The longest single wait.
    pub max_delay: Duration,
    /// The most time spent waiting between attempts, all retries together (`Retry-After`
    /// waits included).
    pub max_total_delay: Duration,
    /// How long one attempt may take before it counts as a timeout.
    pub timeout: Duration,
}

impl Default for RetryPolicy {
    /// 4 attempts, waits from 250 ms up to 4 s (15 s in all), 120 s per attempt (queries can
    /// take Salesforce two minutes).
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 4,
            min_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(4),
            max_total_delay: Duration::from_secs(15),
            timeout: Duration::from_secs(120),
        }
    }
}

impl RetryPolicy {
    /// The backoff's waits; their total is checked in [`Client::call`], against the waits
    /// made (which a `Retry-After` can lengthen), not the ones proposed.
    fn backoff(&self) -> ExponentialBuilder {
        ExponentialBuilder::default()
            .with_jitter()
            .with_min_delay(self.min_delay)
            .with_max_delay(self.max_delay)
            .with_max_times(self.max_attempts.saturating_sub(1))
    }
}

/// One REST call: method, path, optional body (JSON, or raw bytes such as a multipart
/// upload or a CSV batch) and headers, and whether it may be sent twice. GET, HEAD, DELETE,
/// PUT and PATCH (record update, upsert by external id) are safe to repeat; POST (create) is
/// not unless the caller says so with [`Call::idempotent`].
#[derive(Debug, Clone)]
pub struct Call<'a> {
    method: HttpMethod,
    path: &'a str,
    body: Option<Body<'a>>,
    headers: Vec<(&'static str, String)>,
    idempotent: bool,
}

/// A request body, borrowed so a retry sends it again without the caller's help.
#[derive(Debug, Clone, Copy)]
enum Body<'a> {
    Json(&'a Value),
    Raw {
        content_type: &'a str,
        bytes: &'a [u8],
    },
}

impl<'a> Call<'a> {
    /// A call of `method` to `path`. A path starting with `/services/` is used as is (e.g. a
    /// `nextRecordsUrl`); others go below `/services/data/{version}`.
    pub fn new(method: HttpMethod, path: &'a str) -> Self {
        let idempotent = matches!(
            method,
            HttpMethod::GET
                | HttpMethod::HEAD
                | HttpMethod::DELETE
                | HttpMethod::PUT
                | HttpMethod::PATCH
        );
        Call {
            method,
            path,
            body: None,
            headers: Vec::new(),
            idempotent,
        }
    }

    /// Sends `body` as JSON.
    pub fn json(mut self, body: &'a Value) -> Self {
        self.body = Some(Body::Json(body));
        self
    }

    /// Sends `bytes` as they are, with `content_type` (e.g. `multipart/form-data;
    /// boundary=...` for a ContentVersion upload, `text/csv` for a Bulk API batch).
    pub fn raw(mut self, content_type: &'a str, bytes: &'a [u8]) -> Self {
        self.body = Some(Body::Raw {
            content_type,
            bytes,
        });
        self
    }

    /// Adds a header, e.g. `Sforce-Query-Options`.
    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    /// Says whether the call may be sent again after a failure that may have reached
    /// Salesforce (e.g. a POST the caller knows to be harmless twice).
    pub fn idempotent(mut self, yes: bool) -> Self {
        self.idempotent = yes;
        self
    }
}

/// Which records a query reads.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueryOptions {
    /// `queryAll`: include deleted and archived records.
    pub include_deleted: bool,
    /// Records per page (Salesforce allows 200 to 2,000; default 2,000).
    pub batch_size: Option<u16>,
}

/// One page of a SOQL query result.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QueryPage {
    /// Records matching the whole query.
    pub total_size: u64,
    /// Whether this is the last page.
    pub done: bool,
    /// Where the next page is, while not done.
    #[serde(default)]
    pub next_records_url: Option<String>,
    /// This page's records.
    #[serde(default)]
    pub records: Vec<Value>,
    /// The server's clock when it answered this page (its `Date` header), when sent.
    #[serde(skip)]
    pub server_time: Option<DateTime<Utc>>,
}

/// REST calls for any credential the provider knows. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Client {
    provider: Arc<TokenProvider>,
    api_version: Arc<str>,
    retry: RetryPolicy,
}

/// Parses `Sforce-Limit-Info: api-usage=10018/100000`.
pub fn parse_limit_info(value: &str) -> Option<(u64, u64)> {
    let usage = value
        .split(',')
        .map(str::trim)
        .find_map(|part| part.strip_prefix("api-usage="))?;
    let (used, max) = usage.split_once('/')?;
    Some((used.trim().parse().ok()?, max.trim().parse().ok()?))
}

/// How one send ended, before the session and retry rules apply.
enum Sent {
    Done(Result<Response, Failure>),
    SessionInvalid,
}

/// A failed attempt, with the wait Salesforce asked for before the next (`Retry-After`).
struct Failure {
    error: Error,
    retry_after: Option<Duration>,
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        Failure {
            error,
            retry_after: None,
        }
    }
}

/// The wait a `Retry-After` value asks for: delay seconds, or an HTTP-date reckoned from the
/// server's own clock (its `Date` header, when sent) so a skewed local clock does not
/// shorten or stretch it. A date already past asks for no wait; an unreadable value, for
/// nothing (the backoff applies).
fn parse_retry_after(value: &str, server_time: Option<DateTime<Utc>>) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        return Some(Duration::from_secs(value.parse().unwrap_or(u64::MAX)));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    let now = server_time.map_or_else(SystemTime::now, SystemTime::from);
    Some(at.duration_since(now).unwrap_or_default())
}

impl Client {
    /// A client over `provider` using API version `api_version` (e.g. `v64.0`; check it with
    /// [`parse_api_version`]) and the default [`RetryPolicy`].
    pub fn new(provider: Arc<TokenProvider>, api_version: &str) -> Client {
        Client {
            provider,
            api_version: Arc::from(api_version),
            retry: RetryPolicy::default(),
        }
    }

    /// The same client with another retry policy.
    pub fn with_retry(mut self, retry: RetryPolicy) -> Client {
        self.retry = retry;
        self
    }

    /// The token provider.
    pub fn provider(&self) -> &Arc<TokenProvider> {
        &self.provider
    }

    /// The API version in URLs, e.g. `v64.0`.
    pub fn api_version(&self) -> &str {
        &self.api_version
    }

    /// The retry policy.
    pub fn retry_policy(&self) -> &RetryPolicy {
        &self.retry
    }

    /// Per credential: API calls, sign-ins, refreshes and the last API usage seen.
    pub fn metrics(&self) -> Vec<CredentialMetrics> {
        self.provider.metrics()
    }

    /// Calls `path` for credential `id`; see [`Call::new`] for paths and [`Client::call`]
    /// for retries.
    pub async fn request(
        &self,
        id: &str,
        method: HttpMethod,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Response> {
        let mut call = Call::new(method, path);
        call.body = body.map(Body::Json);
        self.call(id, &call).await
    }

    /// Sends `call` for credential `id`. A 401 `INVALID_SESSION_ID` leads to one new sign-in
    /// and one resend. Transient failures are retried with backoff while the call is safe to
    /// repeat (a connection that was never made, always), waiting at least what a
    /// `Retry-After` asks, within [`RetryPolicy::max_total_delay`] (see the module's
    /// comment). `REQUEST_LIMIT_EXCEEDED` is returned at once.
    pub async fn call(&self, id: &str, call: &Call<'_>) -> Result<Response> {
        let counters = self.provider.counters(id);
        let reauthed = AtomicBool::new(false);
        let allowed = self.retry.max_total_delay;
        let mut waited = Duration::ZERO;
        let mut refused: Option<(Duration, Duration)> = None;
        let attempt = || self.attempt(id, call, &counters, &reauthed);
        let result = attempt
            .retry(self.retry.backoff())
            .sleep(tokio::time::sleep)
            .when(|f: &Failure| f.error.is_retryable(call.idempotent))
            .adjust(|f: &Failure, backoff: Option<Duration>| {
                // `None`: no attempts left; the last error stands.
                let backoff = backoff?;
                let left = allowed.saturating_sub(waited);
                if let Some(asked) = f.retry_after.filter(|asked| *asked > left) {
                    refused = Some((asked, left));
                    return None;
                }
                let wait = backoff.max(f.retry_after.unwrap_or_default());
                if wait > left {
                    return None;
                }
                waited += wait;
                Some(wait)
            })
            .notify(|f: &Failure, delay: Duration| {
                tracing::info!(
                    credential_id = %id,
                    error = %f.error,
                    delay_ms = delay.as_millis() as u64,
                    retry_after_ms = f.retry_after.map(|d| d.as_millis() as u64),
                    "Salesforce call failed; retrying"
                );
            })
            .await;
        result.map_err(|f| match refused {
            Some((wait, left)) => Error::RetryAfterTooLong {
                wait,
                left,
                allowed,
                last: Box::new(f.error),
            },
            None => f.error,
        })
    }

    async fn attempt(
        &self,
        id: &str,
        call: &Call<'_>,
        counters: &Counters,
        reauthed: &AtomicBool,
    ) -> Result<Response, Failure> {
        loop {
            let token = self.provider.token(id).await?;
            match self.send(id, &token, call, counters).await {
                Sent::Done(result) => return result,
                Sent::SessionInvalid => {
                    if reauthed.swap(true, Ordering::SeqCst) {
                        return Err(Error::SessionRejected.into());
                    }
                    tracing::info!(credential_id = %id, "session expired; signing in again once");
                    self.provider.rejected(id, &token).await;
                }
            }
        }
    }

    async fn send(&self, id: &str, token: &Token, call: &Call<'_>, counters: &Counters) -> Sent {
        let url = if call.path.starts_with("/services/") {
            format!("{}{}", token.instance_url, call.path)
        } else {
            format!(
                "{}/services/data/{}{}",
                token.instance_url, self.api_version, call.path
            )
        };
        let Ok(mut bearer) =
            HeaderValue::from_str(&format!("Bearer {}", token.access_token.expose_secret()))
        else {
            return Sent::Done(Err(Error::Unexpected {
                status: 0,
                what: "the token endpoint",
                detail: "an access token that is not a valid header".into(),
            }
            .into()));
        };
        bearer.set_sensitive(true);
        let mut req = self
            .provider
            .http()
            .request(call.method.clone(), url)
            .header(AUTHORIZATION, bearer)
            .timeout(self.retry.timeout);
        for (name, value) in &call.headers {
            req = req.header(*name, value);
        }
        match call.body {
            Some(Body::Json(b)) => req = req.json(b),
            Some(Body::Raw {
                content_type,
                bytes,
            }) => {
                req = req
                    .header(reqwest::header::CONTENT_TYPE, content_type)
                    .body(bytes.to_vec());
            }
            None => {}
        }
        counters.api_call();
        let res = match req.send().await {
            Ok(res) => res,
            Err(e) => return Sent::Done(Err(Error::transport(e).into())),
        };
        let status = res.status().as_u16();
        let api_usage = res
            .headers()
            .get("sforce-limit-info")
            .and_then(|v| v.to_str().ok())
            .and_then(parse_limit_info);
        if let Some((used, max)) = api_usage {
            if counters.usage(ApiUsage { used, max }) {
                tracing::warn!(
                    credential_id = %id,
                    used,
                    max,
                    warn_at_percent = counters.warn_at_percent(),
                    "Salesforce API usage reached {}% of the org's daily limit ({used} of {max} requests)",
                    counters.warn_at_percent()
                );
            }
        }
        let server_time = res
            .headers()
            .get(reqwest::header::DATE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| DateTime::parse_from_rfc2822(v).ok())
            .map(|t| t.with_timezone(&Utc));
        let retry_after = res
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, server_time));
        let bytes = match res.bytes().await {
            Ok(b) => b,
            Err(e) => return Sent::Done(Err(Error::transport(e).into())),
        };
        let body: Value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        if (200..300).contains(&status) {
            return Sent::Done(Ok(Response {
                status,
                body,
                api_usage,
                server_time,
            }));
        }
        let errors = api_errors(&body);
        let has = |code: &str| errors.iter().any(|e| e.error_code == code);
        // userinfo answers a dead token with 403 and a bare `Bad_OAuth_Token`.
        let bad_oauth = status == 403 && body.as_str() == Some("Bad_OAuth_Token");
        if (status == 401 && has("INVALID_SESSION_ID")) || bad_oauth {
            return Sent::SessionInvalid;
        }
        if has("REQUEST_LIMIT_EXCEEDED") {
            return Sent::Done(Err(Error::RequestLimitExceeded.into()));
        }
        Sent::Done(Err(Failure {
            error: Error::Api { status, errors },
            retry_after,
        }))
    }

    /// `GET` a path (see [`Call::new`]).
    pub async fn get(&self, id: &str, path: &str) -> Result<Response> {
        self.call(id, &Call::new(HttpMethod::GET, path)).await
    }

    /// `POST` JSON; not retried after a failure that may have reached Salesforce.
    pub async fn post(&self, id: &str, path: &str, body: &Value) -> Result<Response> {
        self.call(id, &Call::new(HttpMethod::POST, path).json(body))
            .await
    }

    /// `PATCH` JSON (record update, upsert by external id); retried when transient.
    pub async fn patch(&self, id: &str, path: &str, body: &Value) -> Result<Response> {
        self.call(id, &Call::new(HttpMethod::PATCH, path).json(body))
            .await
    }

    /// `DELETE`; retried when transient.
    pub async fn delete(&self, id: &str, path: &str) -> Result<Response> {
        self.call(id, &Call::new(HttpMethod::DELETE, path)).await
    }

    /// The signed-in user (`/services/oauth2/userinfo`): what the credential test calls.
    pub async fn userinfo(&self, id: &str) -> Result<Value> {
        Ok(self.get(id, "/services/oauth2/userinfo").await?.body)
    }

    /// Runs a SOQL query and yields its pages one at a time, following `nextRecordsUrl`:
    /// a page is fetched only when the stream is polled past the one before, so only one
    /// page is held at a time.
    pub fn query_pages(
        &self,
        id: &str,
        soql: &str,
        options: QueryOptions,
    ) -> impl Stream<Item = Result<QueryPage>> + Send + 'static {
        let resource = if options.include_deleted {
            "queryAll"
        } else {
            "query"
        };
        let q: String = url::form_urlencoded::byte_serialize(soql.as_bytes()).collect();
        let first = format!("/{resource}?q={q}");
        let client = self.clone();
        let id = id.to_owned();
        let batch = options
            .batch_size
            .map(|n| format!("batchSize={}", n.clamp(200, 2000)));
        futures::stream::try_unfold(Some(first), move |next| {
            let (client, id, batch) = (client.clone(), id.clone(), batch.clone());
            async move {
                let Some(path) = next else {
                    return Ok(None);
                };
                let mut call = Call::new(HttpMethod::GET, &path);
                if let Some(b) = batch {
                    call = call.header("sforce-query-options", b);
                }
                let res = client.call(&id, &call).await?;
                let mut page: QueryPage =
                    serde_json::from_value(res.body).map_err(|e| Error::Unexpected {
                        status: res.status,
                        what: "a query",
                        detail: format!("not a query result: {e}"),
                    })?;
                page.server_time = res.server_time;
                let next = match (page.done, &page.next_records_url) {
                    (true, _) => None,
                    (false, Some(url)) => Some(url.clone()),
                    (false, None) => {
                        return Err(Error::Unexpected {
                            status: res.status,
                            what: "a query",
                            detail: "a page with done=false and no nextRecordsUrl".into(),
                        })
                    }
                };
                Ok(Some((page, next)))
            }
        })
    }

    /// The records of a SOQL query, one at a time, fetched page by page as in
    /// [`Client::query_pages`].
    pub fn query_records(
        &self,
        id: &str,
        soql: &str,
        options: QueryOptions,
    ) -> impl Stream<Item = Result<Value>> + Send + 'static {
        self.query_pages(id, soql, options)
            .map_ok(|page| futures::stream::iter(page.records.into_iter().map(Ok)))
            .try_flatten()
    }
}

/// Salesforce's error array, or one entry holding the start of whatever else came back.
fn api_errors(body: &Value) -> Vec<ApiError> {
    if let Ok(errors) = serde_json::from_value::<Vec<ApiError>>(body.clone()) {
        if errors.iter().any(|e| !e.error_code.is_empty()) {
            return errors;
        }
    }
    let text = match body {
        Value::Null => return Vec::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let message: String = text.chars().take(300).collect();
    vec![ApiError {
        error_code: String::new(),
        message,
        fields: Vec::new(),
    }]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_info_is_parsed() {
        assert_eq!(
            parse_limit_info("api-usage=10018/100000"),
            Some((10018, 100000))
        );
        assert_eq!(
            parse_limit_info("per-app-api-usage=1/5, api-usage=7/15000"),
            Some((7, 15000))
        );
        assert_eq!(parse_limit_info("nonsense"), None);
    }

    #[test]
    fn retry_after_is_read_in_seconds_and_as_an_http_date() {
        let secs = Duration::from_secs;
        assert_eq!(parse_retry_after("120", None), Some(secs(120)));
        assert_eq!(parse_retry_after(" 0 ", None), Some(secs(0)));
        assert_eq!(
            parse_retry_after("99999999999999999999999", None),
            Some(secs(u64::MAX))
        );
        // Dates count from the server's clock when it sent one, in all three HTTP forms.
        let server = DateTime::parse_from_rfc2822("Sun, 06 Nov 1994 08:49:37 GMT")
            .unwrap()
            .with_timezone(&Utc);
        for later in [
            "Sun, 06 Nov 1994 08:50:07 GMT",
            "Sunday, 06-Nov-94 08:50:07 GMT",
            "Sun Nov  6 08:50:07 1994",
        ] {
            assert_eq!(
                parse_retry_after(later, Some(server)),
                Some(secs(30)),
                "{later}"
            );
        }
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:00 GMT", Some(server)),
            Some(secs(0)),
            "a date already past asks for no wait"
        );
        for unreadable in ["", "-5", "1.5", "soon", "Sun, 06 Nov 1994"] {
            assert_eq!(
                parse_retry_after(unreadable, Some(server)),
                None,
                "{unreadable}"
            );
        }
    }

    #[test]
    fn api_version_must_look_like_v64_0() {
        assert_eq!(parse_api_version("v64.0").unwrap(), "v64.0");
        assert_eq!(parse_api_version("v9.0").unwrap(), "v9.0");
        for bad in [
            "64.0", "v64", "v64.", "vx.0", "v64.00", "", "v64.0/", "V64.0",
        ] {
            let e = parse_api_version(bad).unwrap_err().to_string();
            assert!(
                e.contains("SWITCHYARD_SALESFORCE_API_VERSION") && e.contains("like v64.0"),
                "{bad}: {e}"
            );
            assert!(e.contains(&format!("{bad:?}")), "{e}");
        }
    }

    #[test]
    fn only_calls_safe_to_repeat_are_idempotent_by_default() {
        for m in [
            HttpMethod::GET,
            HttpMethod::HEAD,
            HttpMethod::DELETE,
            HttpMethod::PUT,
            HttpMethod::PATCH,
        ] {
            assert!(Call::new(m.clone(), "/x").idempotent, "{m}");
        }
        assert!(!Call::new(HttpMethod::POST, "/x").idempotent);
        assert!(
            Call::new(HttpMethod::POST, "/x")
                .idempotent(true)
                .idempotent
        );
    }

    #[test]
    fn error_array_is_kept_and_other_bodies_are_summarised() {
        let body = serde_json::json!([{"message": "Required fields are missing: [Name]",
            "errorCode": "REQUIRED_FIELD_MISSING", "fields": ["Name"]}]);
        let e = Error::Api {
            status: 400,
            errors: api_errors(&body),
        };
        assert_eq!(e.error_codes(), vec!["REQUIRED_FIELD_MISSING"]);
        assert_eq!(
            e.to_string(),
            "Salesforce answered 400: REQUIRED_FIELD_MISSING: Required fields are missing: [Name] (fields: Name)"
        );
        let plain = api_errors(&Value::String("<html>Bad gateway</html>".into()));
        assert_eq!(plain[0].message, "<html>Bad gateway</html>");
        assert!(api_errors(&Value::Null).is_empty());
    }

    #[test]
    fn retry_rules() {
        let unavailable = Error::Api {
            status: 503,
            errors: api_errors(
                &serde_json::json!([{"errorCode": "SERVER_UNAVAILABLE", "message": "Server Unavailable"}]),
            ),
        };
        assert!(unavailable.is_retryable(true));
        assert!(!unavailable.is_retryable(false));
        let locked = Error::Api {
            status: 400,
            errors: api_errors(
                &serde_json::json!([{"errorCode": "UNABLE_TO_LOCK_ROW", "message": "unable to obtain exclusive access to this record"}]),
            ),
        };
        assert!(locked.is_retryable(true));
        let too_many = Error::Api {
            status: 429,
            errors: Vec::new(),
        };
        assert!(too_many.is_retryable(true) && !too_many.is_retryable(false));
        assert!(!Error::RequestLimitExceeded.is_retryable(true));
        let connect = Error::Transport {
            detail: "connection refused".into(),
            kind: crate::error::TransportKind::Connect,
        };
        assert!(connect.is_retryable(false));
        let timeout = Error::Transport {
            detail: "timed out".into(),
            kind: crate::error::TransportKind::Timeout,
        };
        assert!(timeout.is_retryable(true) && !timeout.is_retryable(false));
    }
}
