//! `GET /metrics`: Prometheus text format, no API key (scrapers don't carry one).
//!
//! Per Salesforce credential: the API usage last reported by `Sforce-Limit-Info` (used and
//! max, gauges) and counters of API calls, sign-ins and token refreshes. Labels are
//! credential ids only: names can say whose account it is, and secrets never leave the
//! client. Rendered by hand: a few lines of a stable text format need no exporter crate.

use std::fmt::Write;

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use salesforce_node::CredentialMetrics;

use crate::app::AppState;

/// The exposition format's content type.
const TEXT_FORMAT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// `GET /metrics`.
pub fn router() -> Router<AppState> {
    Router::new().route("/metrics", get(metrics))
}

async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(CONTENT_TYPE, TEXT_FORMAT)],
        render(&state.salesforce.metrics()),
    )
}

/// The Prometheus text for a snapshot of the Salesforce client's counters.
pub fn render(all: &[CredentialMetrics]) -> String {
    type Value = fn(&CredentialMetrics) -> Option<u64>;
    let families: [(&str, &str, &str, Value); 5] = [
        (
            "switchyard_salesforce_api_requests_used",
            "gauge",
            "API requests the org used in the last 24 hours, as last reported by Sforce-Limit-Info.",
            |m| m.api_usage.map(|u| u.used),
        ),
        (
            "switchyard_salesforce_api_requests_max",
            "gauge",
            "The org's daily API request allowance, as last reported by Sforce-Limit-Info.",
            |m| m.api_usage.map(|u| u.max),
        ),
        (
            "switchyard_salesforce_api_calls_total",
            "counter",
            "Salesforce REST requests sent, retries included.",
            |m| Some(m.api_calls),
        ),
        (
            "switchyard_salesforce_sign_ins_total",
            "counter",
            "Salesforce sign-ins attempted (JWT bearer, client credentials).",
            |m| Some(m.sign_ins),
        ),
        (
            "switchyard_salesforce_token_refreshes_total",
            "counter",
            "OAuth2 access token refreshes attempted.",
            |m| Some(m.refreshes),
        ),
    ];
    let mut out = String::new();
    for (name, kind, help, value) in families {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} {kind}");
        for m in all {
            if let Some(v) = value(m) {
                let _ = writeln!(
                    out,
                    "{name}{{credential_id=\"{}\"}} {v}",
                    escape(&m.credential_id)
                );
            }
        }
    }
    out
}

/// A label value as the text format wants it: backslash, quote and newline escaped.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use salesforce_node::ApiUsage;

    #[test]
    fn renders_gauges_and_counters_per_credential() {
        let text = render(&[
            CredentialMetrics {
                credential_id: "a\"b".into(),
                api_calls: 3,
                sign_ins: 1,
                refreshes: 0,
                api_usage: Some(ApiUsage {
                    used: 45,
                    max: 15000,
                }),
            },
            CredentialMetrics {
                credential_id: "c".into(),
                api_calls: 0,
                sign_ins: 1,
                refreshes: 2,
                api_usage: None,
            },
        ]);
        for line in [
            "# TYPE switchyard_salesforce_api_requests_used gauge",
            "switchyard_salesforce_api_requests_used{credential_id=\"a\\\"b\"} 45",
            "switchyard_salesforce_api_requests_max{credential_id=\"a\\\"b\"} 15000",
            "# TYPE switchyard_salesforce_api_calls_total counter",
            "switchyard_salesforce_api_calls_total{credential_id=\"a\\\"b\"} 3",
            "switchyard_salesforce_sign_ins_total{credential_id=\"c\"} 1",
            "switchyard_salesforce_token_refreshes_total{credential_id=\"c\"} 2",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "{line} missing from\n{text}"
            );
        }
        // No usage seen for "c": no gauge sample rather than a made-up 0.
        assert!(!text.contains("switchyard_salesforce_api_requests_used{credential_id=\"c\"}"));
    }
}
