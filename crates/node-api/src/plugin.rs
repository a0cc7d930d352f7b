//! [`Plugin`]: everything an integration crate hands the engine, as one value.
//!
//! A plugin says what it is before the server starts (its settings, so `--help` lists them,
//! and its credential types, so the store can validate them), and is then started with a
//! [`Host`]: the shared HTTP client, the credential store and the values of its settings. What
//! it gives back, a [`PluginRuntime`], brings its nodes and polling triggers and the optional
//! hooks the engine calls: test a credential, connect one through OAuth2, sign an HTTP
//! request with a credential, forget what is cached for a credential that changed, and
//! report metrics. A plugin may also bring a [`Demo`] for `switchyard demo`. The engine never
//! names a plugin: it asks each one.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use secrecy::SecretString;
use serde_json::Value;

use crate::credential::{CredentialProvider, StoredCredential};
use crate::credential_type::CredentialType;
use crate::demo::Demo;
use crate::node::{Node, PollingTrigger};

/// An integration: its settings, credential types, and how to start it.
pub trait Plugin: Send + Sync {
    /// A short name for logs and errors, e.g. `salesforce`.
    fn name(&self) -> &'static str;

    /// Settings the plugin reads; each is an environment variable and a flag of `switchyard`.
    fn settings(&self) -> Vec<Setting> {
        Vec::new()
    }

    /// Credential types the plugin's nodes use.
    fn credential_types(&self) -> Vec<CredentialType> {
        Vec::new()
    }

    /// Starts the plugin once the engine has its store, HTTP client and settings. An error
    /// says what is wrong (a setting's value, say); the server then refuses to start.
    fn start(&self, host: Host) -> Result<Arc<dyn PluginRuntime>, String>;

    /// What `switchyard demo` shows of the plugin, with a stand-in for its service; `None`
    /// when it has no demo.
    fn demo(&self) -> Option<Arc<dyn Demo>> {
        None
    }
}

/// What a started plugin offers. Every hook has a default: a plugin implements what it has.
#[async_trait]
pub trait PluginRuntime: Send + Sync {
    /// Node types (n8n type names). The engine registers every plugin's, in plugin order; the
    /// core nodes too come from a plugin (`core-nodes`).
    fn nodes(&self) -> Vec<Arc<dyn Node>> {
        Vec::new()
    }

    /// Polling trigger types, run on their `pollTimes` while their workflow is active.
    fn polling_triggers(&self) -> Vec<Arc<dyn PollingTrigger>> {
        Vec::new()
    }

    /// Tests a stored credential of one of the plugin's types (the API's
    /// `POST /credentials/{id}/test`): `Ok`, or the message to show, naming the setup step to
    /// fix. `None` when the type has no test.
    async fn test_credential(&self, credential: &StoredCredential) -> Option<Result<(), String>> {
        let _ = credential;
        None
    }

    /// How credentials of `credential_type` are connected through OAuth2, for the types the
    /// plugin declares with `oauth2: true`.
    fn oauth2(&self, credential_type: &str) -> Option<&dyn OAuth2Connect> {
        let _ = credential_type;
        None
    }

    /// Credential types whose HTTP requests [`PluginRuntime::sign_request`] signs: what the
    /// HTTP Request node accepts as `nodeCredentialType` with `authentication:
    /// predefinedCredentialType`. Any other type is refused when the workflow is saved.
    fn signed_credential_types(&self) -> Vec<&'static str> {
        Vec::new()
    }

    /// Signs an outbound request with credential `credential_id` of `credential_type` (one
    /// of [`PluginRuntime::signed_credential_types`]): where to send it (a relative URL
    /// resolved against the service's base) and the headers that authenticate it. The error
    /// says what to fix and holds no secret.
    async fn sign_request(
        &self,
        credential_type: &str,
        credential_id: &str,
        request: &SignRequest,
    ) -> Result<SignedRequest, String> {
        let _ = (credential_id, request);
        Err(format!(
            "credential type \"{credential_type}\" cannot sign HTTP requests"
        ))
    }

    /// Credential `id` was changed or deleted (or new tokens were stored for it): drop what
    /// is cached for it, so the next call uses the new settings.
    fn credential_changed(&self, id: &str) {
        let _ = id;
    }

    /// The plugin's metrics, read when `/metrics` is scraped.
    fn metrics(&self) -> Vec<MetricFamily> {
        Vec::new()
    }
}

/// An outbound HTTP request a node wants signed with a credential.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignRequest {
    /// The URL as the node has it: absolute, or relative to the service's base URL (for
    /// Salesforce, the instance URL).
    pub url: String,
    /// The service refused the previous signature (401): get a new token before signing.
    pub after_unauthorized: bool,
}

/// Where to send a signed request and the headers that sign it. `Debug` hides the values.
pub struct SignedRequest {
    /// The absolute URL to send the request to.
    pub url: reqwest::Url,
    /// Header names and their (secret) values, e.g. `Authorization: Bearer ...`.
    pub headers: Vec<(String, SecretString)>,
}

impl SignedRequest {
    /// Adds the signing headers to `request`, marked sensitive (never logged by `reqwest`
    /// or `hyper`). Fails when a value is not a valid header value.
    pub fn apply(
        &self,
        mut request: reqwest::RequestBuilder,
    ) -> Result<reqwest::RequestBuilder, String> {
        use secrecy::ExposeSecret;
        for (name, value) in &self.headers {
            let name = reqwest::header::HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| format!("the signature's header name \"{name}\" is not valid"))?;
            let mut value = reqwest::header::HeaderValue::from_str(value.expose_secret())
                .map_err(|_| format!("the signature's \"{name}\" value is not a valid header"))?;
            value.set_sensitive(true);
            request = request.header(name, value);
        }
        Ok(request)
    }
}

impl fmt::Debug for SignedRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.headers.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("SignedRequest")
            .field("url", &self.url.as_str())
            .field("headers", &names)
            .finish()
    }
}

/// What the engine gives a plugin when it starts it.
#[derive(Clone)]
pub struct Host {
    /// The one outbound HTTP client (connection pool, timeouts); reuse it.
    pub http: reqwest::Client,
    /// The credential store: credentials by id, and where token data is written back.
    pub credentials: Arc<dyn CredentialProvider>,
    /// The values of the plugin's [`Setting`]s, checked.
    pub settings: SettingValues,
    /// `SWITCHYARD_ALLOW_INSECURE_HOSTS`: plain http to loopback hosts is allowed (tests, fakes).
    pub allow_insecure_hosts: bool,
}

impl fmt::Debug for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Host")
            .field("settings", &self.settings)
            .field("allow_insecure_hosts", &self.allow_insecure_hosts)
            .finish_non_exhaustive()
    }
}

/// A setting a plugin reads: an environment variable and the flag of the same name.
#[derive(Clone, Debug)]
pub struct Setting {
    /// The environment variable, e.g. `SWITCHYARD_SALESFORCE_API_VERSION`. The flag is its
    /// name without `SWITCHYARD_`, lower case, `_` as `-`: `--salesforce-api-version`.
    pub env: &'static str,
    /// One line for `--help`.
    pub help: &'static str,
    /// The value when neither is given.
    pub default: &'static str,
    /// Checks a value; the error says what was expected (the engine names the setting).
    pub check: fn(&str) -> Result<(), String>,
}

impl Setting {
    /// The flag's long name, without the dashes.
    pub fn flag(&self) -> String {
        self.env
            .strip_prefix("SWITCHYARD_")
            .unwrap_or(self.env)
            .to_ascii_lowercase()
            .replace('_', "-")
    }
}

/// Checked setting values by environment variable name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SettingValues(BTreeMap<String, String>);

impl SettingValues {
    /// Values as given; the engine checks each with its [`Setting::check`] first.
    pub fn new(values: impl IntoIterator<Item = (String, String)>) -> Self {
        Self(values.into_iter().collect())
    }

    /// The value of setting `env`, if the engine was given one (it always gives the
    /// declared ones, defaults included).
    pub fn get(&self, env: &str) -> Option<&str> {
        self.0.get(env).map(String::as_str)
    }

    /// The value of setting `env` parsed as `T`, or the default `or` when absent.
    pub fn parse_or<T: std::str::FromStr>(&self, env: &str, or: T) -> Result<T, String> {
        match self.get(env) {
            None => Ok(or),
            Some(text) => text
                .trim()
                .parse()
                .map_err(|_| format!("{env}: cannot read {text:?}")),
        }
    }

    /// Sets one value (tests and embedders).
    pub fn set(&mut self, env: &str, value: impl Into<String>) {
        self.0.insert(env.to_owned(), value.into());
    }
}

/// An OAuth2 authorization code flow with PKCE for one credential type. The engine keeps the
/// state and the verifier, serves the callback, and stores the token data this returns.
#[async_trait]
pub trait OAuth2Connect: Send + Sync {
    /// The service's name for the pages a person sees, e.g. `Salesforce`.
    fn provider(&self) -> &str;

    /// The URL to send the person's browser to.
    fn authorize_url(
        &self,
        credential: &StoredCredential,
        request: &AuthorizeRequest<'_>,
    ) -> Result<String, String>;

    /// Exchanges the code the callback received for token data, which the engine stores
    /// (encrypted) as the credential's token data.
    async fn exchange_code(
        &self,
        credential: &StoredCredential,
        exchange: &CodeExchange<'_>,
    ) -> Result<Value, ConnectError>;
}

/// What an authorize URL must carry.
#[derive(Debug)]
pub struct AuthorizeRequest<'a> {
    /// Where the service sends the browser back.
    pub redirect_uri: &'a str,
    /// The `state` to hand over and get back unchanged.
    pub state: &'a str,
    /// The PKCE S256 challenge.
    pub code_challenge: &'a str,
}

/// What a code exchange needs. `Debug` hides the code and the verifier.
pub struct CodeExchange<'a> {
    /// The code from the callback.
    pub code: &'a str,
    /// The PKCE verifier of the attempt.
    pub code_verifier: &'a SecretString,
    /// The redirect URI the authorize URL named.
    pub redirect_uri: &'a str,
}

impl fmt::Debug for CodeExchange<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CodeExchange")
            .field("redirect_uri", &self.redirect_uri)
            .finish_non_exhaustive()
    }
}

/// Why a code exchange failed; the message is shown to the person and holds no secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ConnectError {
    /// What happened and what to fix.
    pub message: String,
    /// The service could not be reached or answered nonsense (the page says 502), as
    /// opposed to refusing (400).
    pub unreachable: bool,
}

/// One metric family in Prometheus terms.
#[derive(Clone, Debug, PartialEq)]
pub struct MetricFamily {
    /// The metric name, e.g. `switchyard_salesforce_api_calls_total`.
    pub name: String,
    /// One line of help.
    pub help: String,
    /// Counter or gauge.
    pub kind: MetricKind,
    /// One value per label set.
    pub samples: Vec<Sample>,
}

/// What kind of metric.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetricKind {
    /// Only goes up.
    Counter,
    /// Goes up and down.
    Gauge,
}

/// One value of a metric family.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    /// Label names and values; never a secret, never a person's name.
    pub labels: Vec<(String, String)>,
    /// The value.
    pub value: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_is_sensitive_and_hidden_from_debug() {
        let signed = SignedRequest {
            url: reqwest::Url::parse("https://acme.my.salesforce.com/x").unwrap(),
            headers: vec![("Authorization".into(), SecretString::from("Bearer s3cret"))],
        };
        let debug = format!("{signed:?}");
        assert!(
            debug.contains("Authorization") && !debug.contains("s3cret"),
            "{debug}"
        );
        let request = signed
            .apply(reqwest::Client::new().get(signed.url.clone()))
            .unwrap()
            .build()
            .unwrap();
        let value = &request.headers()["authorization"];
        assert_eq!(value, "Bearer s3cret");
        assert!(value.is_sensitive());
        let bad = SignedRequest {
            url: signed.url.clone(),
            headers: vec![("Bad Name".into(), SecretString::from("x"))],
        };
        assert!(bad
            .apply(reqwest::Client::new().get(bad.url.clone()))
            .is_err());
    }

    #[test]
    fn flags_follow_the_variable() {
        let s = Setting {
            env: "SWITCHYARD_SALESFORCE_API_VERSION",
            help: "",
            default: "v64.0",
            check: |_| Ok(()),
        };
        assert_eq!(s.flag(), "salesforce-api-version");
        let mut values = SettingValues::default();
        values.set("SWITCHYARD_X", "12");
        assert_eq!(values.parse_or("SWITCHYARD_X", 3u8), Ok(12));
        assert_eq!(values.parse_or("SWITCHYARD_Y", 3u8), Ok(3));
        assert!(values.parse_or::<u8>("SWITCHYARD_X", 0).is_ok());
        values.set("SWITCHYARD_X", "x");
        assert_eq!(
            values.parse_or::<u8>("SWITCHYARD_X", 0),
            Err("SWITCHYARD_X: cannot read \"x\"".into())
        );
    }
}
