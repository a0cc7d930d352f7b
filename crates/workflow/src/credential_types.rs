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
/// `oAuth2Api`: generic OAuth2, client credentials or authorization code (with or without
/// PKCE), as n8n's "OAuth2 API" credential.
pub const OAUTH2_API: &str = "oAuth2Api";

/// The grant types of `oAuth2Api`, n8n's values.
pub const OAUTH2_GRANT_TYPES: &[&str] = &["authorizationCode", "clientCredentials", "pkce"];

fn optional(
    name: &'static str,
    kind: FieldKind,
    secret: bool,
    description: &'static str,
) -> FieldSpec {
    FieldSpec {
        name,
        kind,
        required: false,
        secret,
        description,
        default: None,
    }
}

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
        CredentialType {
            name: OAUTH2_API,
            display_name: "OAuth2 API",
            fields: vec![
                FieldSpec {
                    default: Some("authorizationCode"),
                    ..optional(
                        "grantType",
                        FieldKind::Options(OAUTH2_GRANT_TYPES),
                        false,
                        "Grant type: authorizationCode, clientCredentials or pkce",
                    )
                },
                optional(
                    "authUrl",
                    FieldKind::HttpsUrl,
                    false,
                    "Authorization URL (authorization code and PKCE grants)",
                ),
                FieldSpec {
                    required: true,
                    ..optional(
                        "accessTokenUrl",
                        FieldKind::HttpsUrl,
                        false,
                        "Access token URL",
                    )
                },
                text("clientId", false, "Client ID"),
                optional("clientSecret", FieldKind::Text, true, "Client secret"),
                optional(
                    "scope",
                    FieldKind::Text,
                    false,
                    "Scopes, separated by spaces",
                ),
                optional(
                    "authQueryParameters",
                    FieldKind::Text,
                    false,
                    "Extra query parameters of the authorization URL, e.g. access_type=offline",
                ),
                FieldSpec {
                    default: Some("header"),
                    ..optional(
                        "authentication",
                        FieldKind::Options(&["header", "body"]),
                        false,
                        "How the client ID and secret reach the token URL: header (Basic) or body",
                    )
                },
            ],
            oauth2: true,
            keep_refresh_token_on_change_of: &["clientSecret"],
        },
    ]
}
