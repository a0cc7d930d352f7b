//! The Salesforce credential types, with n8n's type and field names so that credentials
//! exported from n8n import unchanged.

use node_api::{CredentialType, FieldKind, FieldSpec};

/// `salesforceJwtApi`: JWT bearer sign-in with a certificate's private key.
pub const JWT: &str = "salesforceJwtApi";
/// `salesforceOAuth2Api`: a person connects once through the OAuth2 web server flow.
pub const OAUTH2: &str = "salesforceOAuth2Api";
/// `salesforceClientCredentialsApi`: the client credentials grant with a Run As user.
pub const CLIENT_CREDENTIALS: &str = "salesforceClientCredentialsApi";

/// The values allowed for `environment`.
pub const ENVIRONMENTS: &[&str] = &["production", "sandbox"];

/// The three Salesforce credential types, one per sign-in method.
///
/// Salesforce keeps refresh tokens valid across a change of the app's consumer secret, so
/// rotating only `clientSecret` of a `salesforceOAuth2Api` credential keeps its refresh token
/// (the next call refreshes with the new secret, and a wrong one shows up at once); a new
/// `clientId`, `environment` or `myDomainUrl` points at another app or org, where the tokens
/// are useless.
pub fn credential_types() -> Vec<CredentialType> {
    let environment = FieldSpec {
            name: "environment",
            kind: FieldKind::Options(ENVIRONMENTS),
            required: true,
            secret: false,
            description: "Salesforce environment: production (login.salesforce.com) or sandbox (test.salesforce.com)",
            default: Some("production"),
        };
    let client_id = FieldSpec {
        name: "clientId",
        kind: FieldKind::Text,
        required: true,
        secret: false,
        description: "Consumer key of the External Client App or Connected App",
        default: None,
    };
    let client_secret = FieldSpec {
        name: "clientSecret",
        kind: FieldKind::Text,
        required: true,
        secret: true,
        description: "Consumer secret of the External Client App or Connected App",
        default: None,
    };
    let my_domain = FieldSpec {
            name: "myDomainUrl",
            kind: FieldKind::HttpsUrl,
            required: false,
            secret: false,
            description: "My Domain URL (e.g. https://yourcompany.my.salesforce.com); used instead of the environment's login host",
            default: None,
        };
    vec![
        CredentialType {
            oauth2: false,
            keep_refresh_token_on_change_of: &[],
            name: JWT,
            display_name: "Salesforce JWT API",
            fields: vec![
                environment.clone(),
                client_id.clone(),
                FieldSpec {
                    name: "username",
                    kind: FieldKind::Text,
                    required: true,
                    secret: false,
                    description: "Salesforce username the app signs in as",
                    default: None,
                },
                FieldSpec {
                    name: "privateKey",
                    kind: FieldKind::RsaPrivateKeyPem,
                    required: true,
                    secret: true,
                    description: "PEM RSA private key matching the certificate uploaded to the app",
                    default: None,
                },
                my_domain.clone(),
            ],
        },
        CredentialType {
            oauth2: true,
            keep_refresh_token_on_change_of: &["clientSecret"],
            name: OAUTH2,
            display_name: "Salesforce OAuth2 API",
            fields: vec![
                environment,
                client_id.clone(),
                client_secret.clone(),
                my_domain,
            ],
        },
        CredentialType {
            oauth2: false,
            keep_refresh_token_on_change_of: &[],
            name: CLIENT_CREDENTIALS,
            display_name: "Salesforce Client Credentials API",
            fields: vec![
                FieldSpec {
                    name: "url",
                    kind: FieldKind::HttpsUrl,
                    required: true,
                    secret: false,
                    description:
                        "Instance or My Domain URL, e.g. https://yourcompany.my.salesforce.com",
                    default: None,
                },
                client_id,
                client_secret,
            ],
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_types_and_their_secrets() {
        let types = credential_types();
        let names: Vec<_> = types.iter().map(|t| t.name).collect();
        assert_eq!(names, [JWT, OAUTH2, CLIENT_CREDENTIALS]);
        let secrets: Vec<_> = types
            .iter()
            .flat_map(|t| t.fields.iter().filter(|f| f.secret).map(|f| f.name))
            .collect();
        assert_eq!(secrets, ["privateKey", "clientSecret", "clientSecret"]);
        let oauth2: Vec<_> = types.iter().filter(|t| t.oauth2).map(|t| t.name).collect();
        assert_eq!(oauth2, [OAUTH2]);
    }
}
