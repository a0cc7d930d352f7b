//! The core credential types, with n8n's type and field names so that an n8n export imports
//! unchanged. They belong to no integration: the HTTP Request node signs requests with them
//! and the Webhook node checks callers against them.

use node_api::{CredentialType, FieldKind, FieldSpec};

// The types the Webhook node checks callers against are named in the workflow core, beside
// its authentication modes: the engine checks webhook callers with them.
pub use workflow::webhook::{HTTP_BASIC_AUTH, HTTP_HEADER_AUTH, JWT_AUTH};

/// `httpQueryAuth`: one query parameter name and its value.
pub const HTTP_QUERY_AUTH: &str = "httpQueryAuth";
/// `httpBearerAuth`: a bearer token.
pub const HTTP_BEARER_AUTH: &str = "httpBearerAuth";

/// The JWT algorithms n8n's `jwtAuth` offers, by name.
pub const JWT_ALGORITHMS: &[&str] = &[
    "HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "ES256", "ES384", "PS256", "PS384",
    "PS512",
];
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
        plain(
            JWT_AUTH,
            "JWT Auth",
            vec![
                FieldSpec {
                    name: "keyType",
                    kind: FieldKind::Options(&["passphrase", "pemKey"]),
                    required: true,
                    secret: false,
                    description: "passphrase (HS* algorithms) or pemKey (RS*, ES*, PS*)",
                    default: Some("passphrase"),
                },
                FieldSpec {
                    name: "secret",
                    kind: FieldKind::TextRequiredWhen {
                        field: "keyType",
                        equals: "passphrase",
                    },
                    required: false,
                    secret: true,
                    description: "The passphrase, when keyType is passphrase",
                    default: None,
                },
                FieldSpec {
                    name: "privateKey",
                    kind: FieldKind::Text,
                    required: false,
                    secret: true,
                    description: "PEM private key, for signing (not needed to verify)",
                    default: None,
                },
                FieldSpec {
                    name: "publicKey",
                    kind: FieldKind::TextRequiredWhen {
                        field: "keyType",
                        equals: "pemKey",
                    },
                    required: false,
                    secret: false,
                    description: "PEM public key that verifies tokens, when keyType is pemKey",
                    default: None,
                },
                FieldSpec {
                    name: "algorithm",
                    kind: FieldKind::Options(JWT_ALGORITHMS),
                    required: true,
                    secret: false,
                    description: "The JWT algorithm tokens must use",
                    default: Some("HS256"),
                },
            ],
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
