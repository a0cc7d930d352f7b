//! What can go wrong signing in to or calling Salesforce, in terms a caller can act on.
//! No message holds a secret: only Salesforce's error codes and descriptions, field
//! names, URLs the user typed and HTTP statuses.

use std::fmt;
use std::time::Duration;

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Which setup step a failed sign-in points at. Built from Salesforce's OAuth error body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignInProblem {
    /// `invalid assertion`: the app's certificate does not match the private key.
    CertificateMismatch,
    /// `user hasn't approved this consumer` / `invalid_app_access`: pre-authorize the user.
    UserNotPreAuthorized,
    /// `audience is invalid`: wrong environment, or the My Domain URL is needed.
    WrongAudience,
    /// `invalid_client_id`: the consumer key is unknown (or the app is too new).
    UnknownClientId,
    /// `no client credentials user enabled`: no Run As user in the app's policies.
    NoRunAsUser,
    /// `request not supported on this domain`: use the My Domain URL.
    WrongDomain,
    /// `invalid_client`: the client secret is wrong.
    WrongClientSecret,
    /// `expired access/refresh token` and other dead grants: reconnect the credential.
    ReconnectNeeded,
    /// `login rate exceeded`: too many sign-ins for this user in the last hour.
    LoginRateExceeded,
    /// Anything else Salesforce answered.
    Other,
}

/// Errors of this crate.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A credential field is missing or not of the expected form.
    #[error("invalid credential field {field}: expected {expected}")]
    InvalidField {
        /// The field's name, as in the credential type.
        field: &'static str,
        /// What was expected.
        expected: String,
    },
    /// The credential type is not a Salesforce one.
    #[error("credential type {type_name:?} is not a Salesforce credential type")]
    UnsupportedType {
        /// The type found.
        type_name: String,
    },
    /// A URL (login host, My Domain, instance URL) is not https.
    #[error("{what} must be an https URL (plain http is allowed only to a loopback host with SWITCHYARD_ALLOW_INSECURE_HOSTS=true), got {url}")]
    InsecureUrl {
        /// Which URL.
        what: &'static str,
        /// The URL, as given (URLs hold no secrets here).
        url: String,
    },
    /// An OAuth2 credential has no tokens yet.
    #[error("this OAuth2 credential is not connected yet: connect it first (open the authorization URL and approve access in Salesforce)")]
    NotConnected,
    /// Salesforce refused the sign-in; `message` names the setup step to fix.
    #[error("{message}")]
    SignIn {
        /// The step to fix.
        problem: SignInProblem,
        /// Salesforce's `error` code.
        code: String,
        /// Salesforce's `error_description`.
        description: String,
        /// What to tell the user.
        message: String,
    },
    /// A call was refused with an error array, e.g. `NOT_FOUND`, `MALFORMED_QUERY`.
    #[error("Salesforce answered {status}: {}", ApiErrors(.errors))]
    Api {
        /// The HTTP status.
        status: u16,
        /// Salesforce's errors.
        errors: Vec<ApiError>,
    },
    /// The org's daily API request limit is used up (`REQUEST_LIMIT_EXCEEDED`); not retried.
    #[error("the org's daily API request limit is exceeded (REQUEST_LIMIT_EXCEEDED): wait for it to reset or raise it")]
    RequestLimitExceeded,
    /// Salesforce asked (`Retry-After`) for a longer wait before the next try than the retry
    /// budget of the call has left, so it was not tried again.
    #[error(
        "Salesforce asked to wait {} s before trying again (Retry-After), longer than the {} s \
         left of the {} s allowed for the retries of one call \
         (SWITCHYARD_SALESFORCE_MAX_RETRY_WAIT_SECS); its answer: {last}",
        Secs(*.wait), Secs(*.left), Secs(*.allowed)
    )]
    RetryAfterTooLong {
        /// The wait Salesforce asked for.
        wait: Duration,
        /// What was left of the budget when it asked.
        left: Duration,
        /// The budget: all waits of one call together.
        allowed: Duration,
        /// The answer that carried the `Retry-After`.
        last: Box<Error>,
    },
    /// The access token was refused even after a fresh sign-in.
    #[error("Salesforce refused the session even after signing in again (INVALID_SESSION_ID)")]
    SessionRejected,
    /// An answer was not of the expected form.
    #[error("unexpected answer from Salesforce ({status}) at {what}: {detail}")]
    Unexpected {
        /// The HTTP status.
        status: u16,
        /// Which call.
        what: &'static str,
        /// What was wrong (never the body of a token response).
        detail: String,
    },
    /// The network failed (connection refused, timeout, TLS).
    #[error("could not reach Salesforce: {detail}")]
    Transport {
        /// What failed (never the URL: a query string can hold record data).
        detail: String,
        /// Which part failed, to tell whether the request may have reached Salesforce.
        kind: TransportKind,
    },
    /// A setting is not of the expected form.
    #[error("invalid setting {setting}: expected {expected}, got {got:?}")]
    InvalidSetting {
        /// The setting's name, e.g. `SWITCHYARD_SALESFORCE_API_VERSION`.
        setting: &'static str,
        /// What was expected.
        expected: &'static str,
        /// The value given.
        got: String,
    },
    /// The credential store failed, or the credential is gone.
    #[error(transparent)]
    Credentials(#[from] node_api::CredentialError),
}

/// Where a transport failure happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportKind {
    /// No connection was made: the request never left, so sending it again is always safe.
    Connect,
    /// No answer in time: the request may have been applied.
    Timeout,
    /// Anything else (a connection dropped mid-answer, TLS, a body that could not be read).
    Other,
}

impl Error {
    /// Whether the failure may pass on its own (network, 503, 429, a locked row), so a retry
    /// can help.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Transport { .. } => true,
            Error::Api { status, errors } => {
                *status == 503
                    || *status == 429
                    || errors.iter().any(|e| {
                        e.error_code == "UNABLE_TO_LOCK_ROW" || e.error_code == "SERVER_UNAVAILABLE"
                    })
            }
            _ => false,
        }
    }

    /// Whether the call may be sent again after this failure: a transient failure of a call
    /// safe to repeat, or a connection that was never made. `REQUEST_LIMIT_EXCEEDED` and
    /// every other refusal are final.
    pub fn is_retryable(&self, idempotent: bool) -> bool {
        match self {
            Error::Transport {
                kind: TransportKind::Connect,
                ..
            } => true,
            other => idempotent && other.is_transient(),
        }
    }

    /// Salesforce's error codes, when it answered with an error array.
    pub fn error_codes(&self) -> Vec<&str> {
        match self {
            Error::Api { errors, .. } => errors.iter().map(|e| e.error_code.as_str()).collect(),
            Error::RequestLimitExceeded => vec!["REQUEST_LIMIT_EXCEEDED"],
            Error::SessionRejected => vec!["INVALID_SESSION_ID"],
            Error::RetryAfterTooLong { last, .. } => last.error_codes(),
            _ => Vec::new(),
        }
    }

    pub(crate) fn transport(e: reqwest::Error) -> Error {
        let kind = if e.is_connect() {
            TransportKind::Connect
        } else if e.is_timeout() {
            TransportKind::Timeout
        } else {
            TransportKind::Other
        };
        // Without the URL: a query string could hold record data.
        Error::Transport {
            detail: node_api::error_with_causes(&e.without_url()),
            kind,
        }
    }
}

/// One entry of Salesforce's REST error array.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiError {
    /// E.g. `NOT_FOUND`.
    #[serde(default, alias = "statusCode")]
    pub error_code: String,
    /// Salesforce's message.
    #[serde(default)]
    pub message: String,
    /// The fields concerned, if any.
    #[serde(default)]
    pub fields: Vec<String>,
}

/// Seconds for a message: whole when whole (`15`), else to a tenth (`2.5`).
struct Secs(Duration);

impl fmt::Display for Secs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.subsec_nanos() == 0 {
            write!(f, "{}", self.0.as_secs())
        } else {
            write!(f, "{:.1}", self.0.as_secs_f64())
        }
    }
}

struct ApiErrors<'a>(&'a [ApiError]);

impl fmt::Display for ApiErrors<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{}: {}", e.error_code, e.message)?;
            if !e.fields.is_empty() {
                write!(f, " (fields: {})", e.fields.join(", "))?;
            }
        }
        Ok(())
    }
}

/// Turns Salesforce's OAuth error body into a [`Error::SignIn`] naming the step to fix.
pub fn sign_in_error(code: &str, description: &str) -> Error {
    let d = description.to_ascii_lowercase();
    let (problem, advice) = if d.contains("invalid assertion") {
        (SignInProblem::CertificateMismatch, "the certificate uploaded to the Salesforce app does not match this private key: upload the certificate made from this key, or paste the matching private key")
    } else if d.contains("hasn't approved this consumer") || code == "invalid_app_access" {
        (SignInProblem::UserNotPreAuthorized, "the user is not pre-authorized for the app: in the app's policies choose \"Admin approved users are pre-authorized\" and add the user's profile or a permission set")
    } else if d.contains("audience is invalid") {
        (SignInProblem::WrongAudience, "the audience is wrong: choose the right environment (production or sandbox) or set the My Domain URL")
    } else if code == "invalid_client_id" || d.contains("client identifier invalid") {
        (SignInProblem::UnknownClientId, "check the Client ID (Consumer Key) of the app; a new app can take a few minutes before it works")
    } else if d.contains("no client credentials user enabled") {
        (SignInProblem::NoRunAsUser, "no Run As user is set: in the app's policies enable the client credentials flow and set a Run As user")
    } else if d.contains("not supported on this domain") {
        (SignInProblem::WrongDomain, "use your My Domain URL (https://yourcompany.my.salesforce.com), not login.salesforce.com or test.salesforce.com")
    } else if code == "invalid_client" || d.contains("invalid client credentials") {
        (
            SignInProblem::WrongClientSecret,
            "check the Client Secret (Consumer Secret) of the app",
        )
    } else if d.contains("expired access/refresh token")
        || d.contains("token revoked")
        || d.contains("inactive user")
    {
        (
            SignInProblem::ReconnectNeeded,
            "the refresh token is no longer valid: reconnect this credential",
        )
    } else if d.contains("login rate exceeded") {
        (SignInProblem::LoginRateExceeded, "too many sign-ins for this user in the last hour: wait, and check that nothing else signs in with it in a loop")
    } else {
        (SignInProblem::Other, "Salesforce refused the sign-in")
    };
    Error::SignIn {
        problem,
        code: code.to_owned(),
        description: description.to_owned(),
        message: format!("{advice} (Salesforce said: {code}: {description})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_salesforce_error_names_its_setup_step() {
        let cases = [
            (
                "invalid_grant",
                "invalid assertion",
                SignInProblem::CertificateMismatch,
                "certificate",
            ),
            (
                "invalid_grant",
                "user hasn't approved this consumer",
                SignInProblem::UserNotPreAuthorized,
                "pre-authorized",
            ),
            (
                "invalid_app_access",
                "user is not admin approved to access this app",
                SignInProblem::UserNotPreAuthorized,
                "permission set",
            ),
            (
                "invalid_grant",
                "audience is invalid",
                SignInProblem::WrongAudience,
                "My Domain URL",
            ),
            (
                "invalid_client_id",
                "client identifier invalid",
                SignInProblem::UnknownClientId,
                "Client ID",
            ),
            (
                "invalid_grant",
                "no client credentials user enabled",
                SignInProblem::NoRunAsUser,
                "Run As user",
            ),
            (
                "invalid_grant",
                "request not supported on this domain",
                SignInProblem::WrongDomain,
                "My Domain URL",
            ),
            (
                "invalid_client",
                "invalid client credentials",
                SignInProblem::WrongClientSecret,
                "Client Secret",
            ),
            (
                "invalid_grant",
                "expired access/refresh token",
                SignInProblem::ReconnectNeeded,
                "reconnect this credential",
            ),
        ];
        for (code, description, problem, words) in cases {
            let e = sign_in_error(code, description);
            let Error::SignIn { problem: p, .. } = &e else {
                panic!("not a sign-in error")
            };
            assert_eq!(*p, problem, "{description}");
            let text = e.to_string();
            assert!(text.contains(words), "{text}");
            assert!(text.contains(description), "{text}");
        }
    }
}
