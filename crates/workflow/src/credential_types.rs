//! The core credential types, with n8n's type and field names so that an n8n export imports
//! unchanged. They belong to no integration: the HTTP Request node signs requests with them
//! and the Webhook node checks callers against them.

use node_api::{CredentialType, FieldKind, FieldSpec};

/// `httpBasicAuth`: a user name and password (HTTP Basic).
pub const HTTP_BASIC_AUTH: &str = "httpBasicAuth";
/// `httpHeaderAuth`: one header name and its value.
pub const HTTP_HEADER_AUTH: &str = "httpHeaderAuth";
/// `httpQueryAuth`: one query parameter name and its value.
pub const HTTP_QUERY_AUTH: &str = "httpQueryAuth";
/// `httpBearerAuth`: a bearer token.
pub const HTTP_BEARER_AUTH: &str = "httpBearerAuth";

fn text(name: &'static str, secret: bool, description: &'static str) -> FieldSpec {
    FieldSpec {
        name,
        kind: FieldKind::Text,
        required: true,
        secret,
        description,
        default: None,
    }
}

fn plain(name: &'static str, display_name: &'static str, fields: Vec<FieldSpec>) -> CredentialType {
    CredentialType {
        name,
        display_name,
        fields,
        oauth2: false,
        keep_refresh_token_on_change_of: &[],
    }
}

/// Every core credential type.
pub fn credential_types() -> Vec<CredentialType> {
    vec![
        plain(
            HTTP_BASIC_AUTH,
            "Basic Auth",
            vec![
                text("user", false, "User name"),
                text("password", true, "Password"),
            ],
        ),
        plain(
            HTTP_HEADER_AUTH,
            "Header Auth",
            vec![
                text("name", false, "Header name, e.g. X-API-Key"),
                text("value", true, "Header value"),
            ],
        ),
        plain(
            HTTP_QUERY_AUTH,
            "Query Auth",
            vec![
                text("name", false, "Query parameter name, e.g. api_key"),
                text("value", true, "Query parameter value"),
            ],
        ),
        plain(
            HTTP_BEARER_AUTH,
            "Bearer Auth",
            vec![text("token", true, "Bearer token")],
        ),
    ]
}
