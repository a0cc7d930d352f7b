//! `GET /metrics`: Prometheus text format, no API key (scrapers don't carry one). The
//! families come from the plugins (Salesforce: API usage, calls, sign-ins, refreshes per
//! credential id). Rendered by hand: a few lines of a stable text format need no exporter
//! crate.

use std::fmt::Write;

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use node_api::{MetricFamily, MetricKind};

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
        render(&state.plugins.metrics()),
    )
}

/// The Prometheus text of `families`.
pub fn render(families: &[MetricFamily]) -> String {
    let mut out = String::new();
    for family in families {
        let kind = match family.kind {
            MetricKind::Counter => "counter",
            MetricKind::Gauge => "gauge",
        };
        let _ = writeln!(out, "# HELP {} {}", family.name, family.help);
        let _ = writeln!(out, "# TYPE {} {kind}", family.name);
        for sample in &family.samples {
            let labels: Vec<String> = sample
                .labels
                .iter()
                .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
                .collect();
            let labels = if labels.is_empty() {
                String::new()
            } else {
                format!("{{{}}}", labels.join(","))
            };
            let _ = writeln!(out, "{}{labels} {}", family.name, sample.value);
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
    use node_api::Sample;

    #[test]
    fn renders_families_with_escaped_labels() {
        let text = render(&[
            MetricFamily {
                name: "x_used".into(),
                help: "Used.".into(),
                kind: MetricKind::Gauge,
                samples: vec![Sample {
                    labels: vec![("credential_id".into(), "a\"b\\c\nd".into())],
                    value: 45.0,
                }],
            },
            MetricFamily {
                name: "x_calls_total".into(),
                help: "Calls.".into(),
                kind: MetricKind::Counter,
                samples: vec![Sample {
                    labels: Vec::new(),
                    value: 3.0,
                }],
            },
        ]);
        assert_eq!(
            text,
            "# HELP x_used Used.\n# TYPE x_used gauge\n\
             x_used{credential_id=\"a\\\"b\\\\c\\nd\"} 45\n\
             # HELP x_calls_total Calls.\n# TYPE x_calls_total counter\nx_calls_total 3\n"
        );
    }
}
