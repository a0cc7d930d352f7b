//! [`NodeError`]: what a node reports when it fails.
//!
//! Shaped like n8n's `NodeApiError` / `NodeOperationError` so `continueOnFail` output and stored
//! executions look the same as n8n's. A node must never put a secret into any field: these
//! errors are stored, logged and shown to users.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What kind of failure this is, so the engine (and callers) can act on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum NodeErrorKind {
    /// A parameter is missing or has the wrong type or value.
    Parameter,
    /// The credential is missing, of the wrong type, or incomplete.
    Credentials,
    /// A remote API answered with an error (see `http_code`, `error_code`).
    Api,
    /// The remote could not be reached, or the request timed out.
    Network,
    /// The node's own logic refused the input (n8n's `NodeOperationError`).
    Operation,
    /// An expression in a parameter failed to evaluate.
    Expression,
    /// The execution was cancelled or ran out of time.
    Cancelled,
}

/// A node's failure: a message, an optional longer description and remote details.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, thiserror::Error)]
#[serde(rename_all = "camelCase")]
#[error("{message}")]
pub struct NodeError {
    /// What went wrong, in one line.
    pub message: String,
    /// Longer explanation or a hint on how to fix it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// HTTP status the remote answered with, when there was one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_code: Option<u16>,
    /// The remote's own error code (e.g. Salesforce's `INVALID_FIELD`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    /// Fields the remote named as the cause.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<String>,
    /// The input item being processed when the error happened.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item_index: Option<usize>,
    /// What kind of failure this is.
    pub kind: NodeErrorKind,
}

impl NodeError {
    /// An error of `kind` with `message` and nothing else.
    pub fn new(kind: NodeErrorKind, message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            description: None,
            http_code: None,
            error_code: None,
            fields: Vec::new(),
            item_index: None,
            kind,
        }
    }

    /// The node's logic refused its input.
    pub fn operation(message: impl Into<String>) -> Self {
        Self::new(NodeErrorKind::Operation, message)
    }

    /// A parameter is missing or wrong.
    pub fn parameter(message: impl Into<String>) -> Self {
        Self::new(NodeErrorKind::Parameter, message)
    }

    /// A credential problem.
    pub fn credentials(message: impl Into<String>) -> Self {
        Self::new(NodeErrorKind::Credentials, message)
    }

    /// A remote API answered `http_code`.
    pub fn api(http_code: u16, message: impl Into<String>) -> Self {
        let mut e = Self::new(NodeErrorKind::Api, message);
        e.http_code = Some(http_code);
        e
    }

    /// Adds a longer description.
    pub fn with_description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// Adds the remote's error code.
    pub fn with_error_code(mut self, code: impl Into<String>) -> Self {
        self.error_code = Some(code.into());
        self
    }

    /// Adds the fields the remote named.
    pub fn with_fields(mut self, fields: Vec<String>) -> Self {
        self.fields = fields;
        self
    }

    /// Records which input item failed.
    pub fn at_item(mut self, index: usize) -> Self {
        self.item_index = Some(index);
        self
    }

    /// The JSON n8n puts in an item when a node fails with `continueOnFail`:
    /// `{error, description?, httpCode?, errorCode?, fields?}`.
    pub fn to_item_json(&self) -> Value {
        let mut out = serde_json::Map::new();
        out.insert("error".into(), Value::String(self.message.clone()));
        if let Some(d) = &self.description {
            out.insert("description".into(), Value::String(d.clone()));
        }
        if let Some(c) = self.http_code {
            out.insert("httpCode".into(), Value::String(c.to_string()));
        }
        if let Some(c) = &self.error_code {
            out.insert("errorCode".into(), Value::String(c.clone()));
        }
        if !self.fields.is_empty() {
            out.insert("fields".into(), Value::from(self.fields.clone()));
        }
        Value::Object(out)
    }
}

/// An error's text followed by its causes, `error: cause: cause`, each once. An HTTP client's
/// own text ("error sending request") hides why; the causes say it ("invalid peer certificate:
/// UnknownIssuer"). For a `reqwest::Error`, pass `e.without_url()`: a query string can hold data.
pub fn error_with_causes(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(c) = cause {
        let part = c.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        cause = c.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn causes_follow_the_error_once() {
        #[derive(Debug)]
        struct Outer(std::io::Error);
        impl std::fmt::Display for Outer {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("error sending request")
            }
        }
        impl std::error::Error for Outer {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                Some(&self.0)
            }
        }
        let e = Outer(std::io::Error::other(
            "invalid peer certificate: UnknownIssuer",
        ));
        assert_eq!(
            error_with_causes(&e),
            "error sending request: invalid peer certificate: UnknownIssuer"
        );
    }

    #[test]
    fn continue_on_fail_json_has_n8n_keys() {
        let e = NodeError::api(400, "Bad field")
            .with_error_code("INVALID_FIELD")
            .with_fields(vec!["Foo__c".into()]);
        assert_eq!(
            e.to_item_json(),
            json!({"error": "Bad field", "httpCode": "400", "errorCode": "INVALID_FIELD", "fields": ["Foo__c"]})
        );
        assert_eq!(e.to_string(), "Bad field");
    }
}
