//! The Salesforce plugin: what this crate hands the engine. Its settings, its three
//! credential types, and once started, the node, the polling trigger, the credential test
//! (sign in, then `userinfo`), the OAuth2 connect strategy for `salesforceOAuth2Api`, request
//! signing for the HTTP Request node, cache invalidation when a credential changes,
//! per-credential metrics, and the demo with a fake org.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use node_api::{
    AuthorizeRequest, CodeExchange, ConnectError, CredentialType, Demo, Host, MetricFamily,
    MetricKind, Node, OAuth2Connect, Plugin, PluginRuntime, PollingTrigger, Sample, Setting,
    SettingValues, SignRequest, SignedRequest, StoredCredential,
};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

use crate::auth::{AuthSettings, Method};
use crate::client::{parse_api_version, Client, RetryPolicy, API_VERSION_SETTING};
use crate::credential_types::{credential_types, CLIENT_CREDENTIALS, JWT, OAUTH2};
use crate::demo::SalesforceDemo;
use crate::error::Error;
use crate::metrics::{CredentialMetrics, DEFAULT_WARNING_PERCENT};
use crate::node::SalesforceNode;
use crate::provider::TokenProvider;
use crate::trigger::{SalesforceTrigger, TriggerSettings};

const MAX_ATTEMPTS: &str = "SWITCHYARD_SALESFORCE_MAX_ATTEMPTS";
const MAX_RETRY_WAIT: &str = "SWITCHYARD_SALESFORCE_MAX_RETRY_WAIT_SECS";
const TIMEOUT: &str = "SWITCHYARD_SALESFORCE_TIMEOUT_SECS";
const TRIGGER_OVERLAP: &str = "SWITCHYARD_SALESFORCE_TRIGGER_OVERLAP_SECS";
const LIMIT_WARNING_PERCENT: &str = "SWITCHYARD_SALESFORCE_LIMIT_WARNING_PERCENT";

/// The Salesforce plugin; hand it to the engine.
#[derive(Debug, Default, Clone, Copy)]
pub struct SalesforcePlugin;

/// The plugin, ready to register.
pub fn plugin() -> Arc<dyn Plugin> {
    Arc::new(SalesforcePlugin)
}

fn whole_number(min: u64, max: u64) -> impl Fn(&str) -> Result<u64, String> {
    move |text| match text.trim().parse::<u64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(format!("expected a whole number in {min}..={max}")),
    }
}

impl Plugin for SalesforcePlugin {
    fn name(&self) -> &'static str {
        "salesforce"
    }

    fn demo(&self) -> Option<Arc<dyn Demo>> {
        Some(Arc::new(SalesforceDemo))
    }

    fn settings(&self) -> Vec<Setting> {
        vec![
            Setting {
                env: API_VERSION_SETTING,
                help: "Salesforce REST API version in request URLs, `vNN.N`",
                default: crate::client::DEFAULT_API_VERSION,
                check: |v| parse_api_version(v).map(drop).map_err(|e| e.to_string()),
            },
            Setting {
                env: MAX_ATTEMPTS,
                help: "Sends of one Salesforce call at most, the first included, when it fails \
                       transiently (503, 429, timeout, connection, locked row) and is safe to repeat; \
                       1 turns retries off",
                default: "4",
                check: |v| whole_number(1, 10)(v).map(drop),
            },
            Setting {
                env: MAX_RETRY_WAIT,
                help: "Most seconds spent waiting between the retries of one Salesforce call, \
                       all together, Retry-After waits included; a longer Retry-After fails the \
                       call at once, naming the wait asked for",
                default: "15",
                check: |v| whole_number(0, 600)(v).map(drop),
            },
            Setting {
                env: TIMEOUT,
                help: "Seconds one Salesforce request may take before it counts as a timeout",
                default: "120",
                check: |v| whole_number(1, 3600)(v).map(drop),
            },
            Setting {
                env: TRIGGER_OVERLAP,
                help: "Seconds below its cursor the Salesforce Trigger reads again on each poll, \
                       for records that commit after their timestamp (n8n uses 15 minutes)",
                default: "900",
                check: |v| whole_number(0, 86_400)(v).map(drop),
            },
            Setting {
                env: LIMIT_WARNING_PERCENT,
                help: "Share of the org's daily API limit (percent, from Sforce-Limit-Info) at \
                       which a warning is logged, once per crossing, and shown on /metrics",
                default: "90",
                check: |v| whole_number(1, 100)(v).map(drop),
            },
        ]
    }

    fn credential_types(&self) -> Vec<CredentialType> {
        credential_types()
    }

    fn start(&self, host: Host) -> Result<Arc<dyn PluginRuntime>, String> {
        let settings = &host.settings;
        let api_version = settings
            .get(API_VERSION_SETTING)
            .unwrap_or(crate::client::DEFAULT_API_VERSION);
        parse_api_version(api_version).map_err(|e| e.to_string())?;
        let auth = AuthSettings {
            allow_insecure_hosts: host.allow_insecure_hosts,
        };
        let warn_at = settings.parse_or(LIMIT_WARNING_PERCENT, DEFAULT_WARNING_PERCENT)?;
        let provider = TokenProvider::new(host.credentials, host.http, auth)
            .with_limit_warning_percent(warn_at);
        let client =
            Client::new(Arc::new(provider), api_version).with_retry(retry_policy(settings)?);
        Ok(Arc::new(Salesforce {
            node: Arc::new(SalesforceNode::new(client.clone())),
            trigger: Arc::new(SalesforceTrigger::with_settings(
                client.clone(),
                TriggerSettings {
                    window: Duration::from_secs(settings.parse_or(TRIGGER_OVERLAP, 900)?),
                    ..TriggerSettings::default()
                },
            )),
            oauth2: Connect {
                client: client.clone(),
            },
            client,
        }))
    }
}

/// How the client retries: attempts, total wait and per-request timeout from the settings,
/// the backoff's first and longest single wait fixed.
pub fn retry_policy(settings: &SettingValues) -> Result<RetryPolicy, String> {
    let defaults = RetryPolicy::default();
    let secs = |env: &str, default: Duration| -> Result<Duration, String> {
        settings
            .parse_or(env, default.as_secs())
            .map(Duration::from_secs)
    };
    Ok(RetryPolicy {
        max_attempts: settings.parse_or(MAX_ATTEMPTS, defaults.max_attempts)?,
        max_total_delay: secs(MAX_RETRY_WAIT, defaults.max_total_delay)?,
        timeout: secs(TIMEOUT, defaults.timeout)?,
        ..defaults
    })
}

/// The started plugin.
struct Salesforce {
    client: Client,
    node: Arc<SalesforceNode>,
    trigger: Arc<SalesforceTrigger>,
    oauth2: Connect,
}

#[async_trait]
impl PluginRuntime for Salesforce {
    fn nodes(&self) -> Vec<Arc<dyn Node>> {
        vec![self.node.clone()]
    }

    fn polling_triggers(&self) -> Vec<Arc<dyn PollingTrigger>> {
        vec![self.trigger.clone()]
    }

    async fn test_credential(&self, credential: &StoredCredential) -> Option<Result<(), String>> {
        // A fresh sign-in and `userinfo`, as n8n's Test button does.
        let result = self.client.userinfo(&credential.id).await;
        Some(result.map(drop).map_err(|e| e.to_string()))
    }

    fn oauth2(&self, credential_type: &str) -> Option<&dyn OAuth2Connect> {
        (credential_type == OAUTH2).then_some(&self.oauth2 as &dyn OAuth2Connect)
    }

    fn signed_credential_types(&self) -> Vec<&'static str> {
        vec![OAUTH2, JWT, CLIENT_CREDENTIALS]
    }

    /// A bearer token for the credential's org, and the URL on its instance: n8n users call
    /// endpoints the node lacks this way. A 401 the caller saw makes the rejected token be
    /// replaced (one new sign-in or refresh, shared with concurrent callers).
    async fn sign_request(
        &self,
        _credential_type: &str,
        credential_id: &str,
        request: &SignRequest,
    ) -> Result<SignedRequest, String> {
        let provider = self.client.provider();
        let mut token = provider
            .token(credential_id)
            .await
            .map_err(|e| e.to_string())?;
        if request.after_unauthorized {
            tracing::info!(credential_id = %credential_id, "the signed request was refused; signing in again once");
            provider.rejected(credential_id, &token).await;
            token = provider
                .token(credential_id)
                .await
                .map_err(|e| e.to_string())?;
        }
        let url = instance_url(&token.instance_url, &request.url)?;
        provider.counters(credential_id).api_call();
        let bearer = format!("Bearer {}", token.access_token.expose_secret());
        Ok(SignedRequest {
            url,
            headers: vec![("Authorization".into(), SecretString::from(bearer))],
        })
    }

    fn credential_changed(&self, id: &str) {
        self.client.provider().invalidate(id);
    }

    fn metrics(&self) -> Vec<MetricFamily> {
        metric_families(&self.client.metrics())
    }
}

/// Where a signed request goes: a relative URL (`/services/data/v64.0/limits`) below the
/// instance URL, an absolute one only when it is on the instance: the token is never sent
/// to another host.
fn instance_url(instance: &str, url: &str) -> Result<url::Url, String> {
    let base = url::Url::parse(instance)
        .map_err(|e| format!("the credential's instance URL is not valid ({e})"))?;
    let bad = |e: url::ParseError| format!("Parameter \"url\" is not a valid URL ({e})");
    let target = match url::Url::parse(url) {
        Ok(absolute) => absolute,
        Err(url::ParseError::RelativeUrlWithoutBase) => base
            .join(&format!("/{}", url.trim_start_matches('/')))
            .map_err(bad)?,
        Err(e) => return Err(bad(e)),
    };
    if target.origin() != base.origin() {
        return Err(format!(
            "Parameter \"url\": {} is not on the credential's Salesforce instance ({}); \
             use a path such as /services/data/v64.0/limits, or a URL on the instance",
            target.origin().ascii_serialization(),
            base.origin().ascii_serialization()
        ));
    }
    Ok(target)
}

/// The OAuth2 web server flow of `salesforceOAuth2Api`.
struct Connect {
    client: Client,
}

#[async_trait]
impl OAuth2Connect for Connect {
    fn provider(&self) -> &str {
        "Salesforce"
    }

    fn authorize_url(
        &self,
        credential: &StoredCredential,
        request: &AuthorizeRequest<'_>,
    ) -> Result<String, String> {
        let settings = self.client.provider().settings();
        let method = Method::from_credential(&credential.type_name, &credential.data, settings)
            .map_err(|e| e.to_string())?;
        method
            .authorize_url(request.redirect_uri, request.state, request.code_challenge)
            .map_err(|e| e.to_string())
    }

    async fn exchange_code(
        &self,
        credential: &StoredCredential,
        exchange: &CodeExchange<'_>,
    ) -> Result<Value, ConnectError> {
        let provider = self.client.provider();
        let refused = |e: Error| ConnectError {
            unreachable: matches!(e, Error::Transport { .. } | Error::Unexpected { .. }),
            message: e.to_string(),
        };
        let method =
            Method::from_credential(&credential.type_name, &credential.data, provider.settings())
                .map_err(refused)?;
        let token = method
            .exchange_code(
                provider.http(),
                provider.settings(),
                exchange.code,
                exchange.code_verifier,
                exchange.redirect_uri,
            )
            .await
            .map_err(refused)?;
        Ok(token.to_token_data())
    }
}

/// Per credential: the API usage Salesforce last reported (used and max, gauges, and
/// whether it is above the warning share) and counters of API calls, sign-ins, token
/// refreshes and usage warnings. Labels are credential ids only:
/// names can say whose account it is.
pub fn metric_families(all: &[CredentialMetrics]) -> Vec<MetricFamily> {
    type Read = fn(&CredentialMetrics) -> Option<u64>;
    let families: [(&str, MetricKind, &str, Read); 7] = [
        (
            "switchyard_salesforce_api_requests_used",
            MetricKind::Gauge,
            "API requests the org used in the last 24 hours, as last reported by Sforce-Limit-Info.",
            |m| m.api_usage.map(|u| u.used),
        ),
        (
            "switchyard_salesforce_api_requests_max",
            MetricKind::Gauge,
            "The org's daily API request allowance, as last reported by Sforce-Limit-Info.",
            |m| m.api_usage.map(|u| u.max),
        ),
        (
            "switchyard_salesforce_api_calls_total",
            MetricKind::Counter,
            "Salesforce REST requests sent, retries included.",
            |m| Some(m.api_calls),
        ),
        (
            "switchyard_salesforce_sign_ins_total",
            MetricKind::Counter,
            "Salesforce sign-ins attempted (JWT bearer, client credentials).",
            |m| Some(m.sign_ins),
        ),
        (
            "switchyard_salesforce_token_refreshes_total",
            MetricKind::Counter,
            "OAuth2 access token refreshes attempted.",
            |m| Some(m.refreshes),
        ),
        (
            "switchyard_salesforce_api_usage_above_warning",
            MetricKind::Gauge,
            "1 while the last reported API usage is at or above SWITCHYARD_SALESFORCE_LIMIT_WARNING_PERCENT of the daily limit.",
            |m| m.api_usage.map(|_| u64::from(m.above_warning)),
        ),
        (
            "switchyard_salesforce_api_usage_warnings_total",
            MetricKind::Counter,
            "Times the API usage crossed SWITCHYARD_SALESFORCE_LIMIT_WARNING_PERCENT of the daily limit (each logged once).",
            |m| Some(m.usage_warnings),
        ),
    ];
    families
        .into_iter()
        .map(|(name, kind, help, read)| MetricFamily {
            name: name.into(),
            help: help.into(),
            kind,
            samples: all
                .iter()
                .filter_map(|m| {
                    read(m).map(|v| Sample {
                        labels: vec![("credential_id".into(), m.credential_id.clone())],
                        value: v as f64,
                    })
                })
                .collect(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::ApiUsage;

    #[test]
    fn settings_default_and_are_checked() {
        let p = SalesforcePlugin;
        let by_env = |env: &str| p.settings().into_iter().find(|s| s.env == env).unwrap();
        assert_eq!(by_env(API_VERSION_SETTING).default, "v64.0");
        assert_eq!(by_env(API_VERSION_SETTING).flag(), "salesforce-api-version");
        assert!((by_env(API_VERSION_SETTING).check)("v66.0").is_ok());
        assert!((by_env(API_VERSION_SETTING).check)("66")
            .unwrap_err()
            .contains("like v64.0"));
        assert_eq!(
            (by_env(MAX_ATTEMPTS).check)("0").unwrap_err(),
            "expected a whole number in 1..=10"
        );
        assert_eq!(
            retry_policy(&SettingValues::default()).unwrap(),
            RetryPolicy::default()
        );
        let mut values = SettingValues::default();
        values.set(MAX_ATTEMPTS, "1");
        values.set(TIMEOUT, "30");
        assert_eq!(by_env(LIMIT_WARNING_PERCENT).default, "90");
        assert!((by_env(LIMIT_WARNING_PERCENT).check)("101").is_err());
        let retry = retry_policy(&values).unwrap();
        assert_eq!(retry.max_attempts, 1);
        assert_eq!(retry.timeout, Duration::from_secs(30));
        assert_eq!(by_env(TRIGGER_OVERLAP).default, "900");
        assert!((by_env(TRIGGER_OVERLAP).check)("86401").is_err());
    }

    #[test]
    fn metrics_are_per_credential_and_skip_unknown_usage() {
        let families = metric_families(&[
            CredentialMetrics {
                credential_id: "a".into(),
                api_calls: 3,
                sign_ins: 1,
                refreshes: 0,
                api_usage: Some(ApiUsage {
                    used: 45,
                    max: 15000,
                }),
                above_warning: false,
                usage_warnings: 0,
            },
            CredentialMetrics {
                credential_id: "c".into(),
                api_calls: 0,
                sign_ins: 1,
                refreshes: 2,
                api_usage: None,
                above_warning: false,
                usage_warnings: 0,
            },
        ]);
        let used = &families[0];
        assert_eq!(used.name, "switchyard_salesforce_api_requests_used");
        assert_eq!(used.kind, MetricKind::Gauge);
        // No usage seen for "c": no sample rather than a made-up 0.
        assert_eq!(
            used.samples,
            vec![Sample {
                labels: vec![("credential_id".into(), "a".into())],
                value: 45.0
            }]
        );
        let refreshes = &families[4];
        assert_eq!(refreshes.kind, MetricKind::Counter);
        assert_eq!(refreshes.samples[1].value, 2.0);
    }
}
