//! Sign-in for the three Salesforce credential types, and the checks on the URLs involved.

use std::fmt;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use node_api::SecretData;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{json, Map, Value};

use crate::error::{sign_in_error, Error, Result};

/// Production login host (also the JWT audience for production).
pub const PRODUCTION_LOGIN: &str = "https://login.salesforce.com";
/// Sandbox login host.
pub const SANDBOX_LOGIN: &str = "https://test.salesforce.com";
/// How far ahead a JWT assertion expires; Salesforce accepts at most 3 minutes.
const ASSERTION_LIFETIME_SECS: i64 = 170;

/// Settings shared by every sign-in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AuthSettings {
    /// Allow plain http to loopback hosts (`SWITCHYARD_ALLOW_INSECURE_HOSTS`): tests, the fake org.
    pub allow_insecure_hosts: bool,
}

impl AuthSettings {
    /// Refuses `url` unless it is https, or http to a loopback host when allowed.
    pub fn check_url(&self, what: &'static str, url: &str) -> Result<url::Url> {
        let insecure = || Error::InsecureUrl {
            what,
            url: url.to_owned(),
        };
        let parsed = url::Url::parse(url).map_err(|_| insecure())?;
        match parsed.scheme() {
            "https" => Ok(parsed),
            "http" if self.allow_insecure_hosts && is_loopback(&parsed) => Ok(parsed),
            _ => Err(insecure()),
        }
    }
}

fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// An access token and where to use it. `Debug` hides the tokens.
pub struct Token {
    /// The bearer token.
    pub access_token: SecretString,
    /// Where API calls go.
    pub instance_url: String,
    /// OAuth2 only: the refresh token.
    pub refresh_token: Option<SecretString>,
    /// The identity URL, when given.
    pub id: Option<String>,
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Token")
            .field("access_token", &"[redacted]")
            .field("instance_url", &self.instance_url)
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| "[redacted]"),
            )
            .field("id", &self.id)
            .finish()
    }
}

impl Token {
    /// The form stored (encrypted) as the credential's token data.
    pub fn to_token_data(&self) -> Value {
        let mut m = Map::new();
        m.insert(
            "access_token".into(),
            self.access_token.expose_secret().into(),
        );
        m.insert("instance_url".into(), self.instance_url.clone().into());
        if let Some(r) = &self.refresh_token {
            m.insert("refresh_token".into(), r.expose_secret().into());
        }
        if let Some(id) = &self.id {
            m.insert("id".into(), id.clone().into());
        }
        Value::Object(m)
    }

    /// Reads stored token data that lost its access token but kept the refresh token and
    /// instance URL (the client secret changed: the store drops only the access token).
    /// The result only serves [`Method::refresh`]; its access token is empty.
    pub fn refresh_only(data: &SecretData) -> Option<Token> {
        if data.get_str("access_token").is_some() {
            return None;
        }
        Some(Token {
            access_token: SecretString::from(String::new()),
            instance_url: data.get_str("instance_url")?.to_owned(),
            refresh_token: Some(SecretString::from(
                data.get_str("refresh_token")?.to_owned(),
            )),
            id: data.get_str("id").map(str::to_owned),
        })
    }

    /// Reads stored token data; `None` when it lacks an access token or instance URL.
    pub fn from_token_data(data: &SecretData) -> Option<Token> {
        Some(Token {
            access_token: SecretString::from(data.get_str("access_token")?.to_owned()),
            instance_url: data.get_str("instance_url")?.to_owned(),
            refresh_token: data
                .get_str("refresh_token")
                .map(|s| SecretString::from(s.to_owned())),
            id: data.get_str("id").map(str::to_owned),
        })
    }
}

/// One Salesforce credential, read from the store and checked.
pub enum Method {
    /// `salesforceJwtApi`.
    Jwt {
        /// Consumer key.
        client_id: String,
        /// Username signed in as.
        username: String,
        /// PEM private key.
        private_key: SecretString,
        /// Where the token request goes.
        login_url: String,
        /// The assertion's audience.
        audience: String,
    },
    /// `salesforceOAuth2Api`.
    OAuth2 {
        /// Consumer key.
        client_id: String,
        /// Consumer secret.
        client_secret: SecretString,
        /// Login host or My Domain URL: authorize and token requests go there.
        login_url: String,
    },
    /// `salesforceClientCredentialsApi`.
    ClientCredentials {
        /// Consumer key.
        client_id: String,
        /// Consumer secret.
        client_secret: SecretString,
        /// The My Domain URL.
        url: String,
    },
}

impl fmt::Debug for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Method::Jwt {
                client_id,
                username,
                login_url,
                audience,
                ..
            } => f
                .debug_struct("Jwt")
                .field("client_id", client_id)
                .field("username", username)
                .field("private_key", &"[redacted]")
                .field("login_url", login_url)
                .field("audience", audience)
                .finish(),
            Method::OAuth2 {
                client_id,
                login_url,
                ..
            } => f
                .debug_struct("OAuth2")
                .field("client_id", client_id)
                .field("client_secret", &"[redacted]")
                .field("login_url", login_url)
                .finish(),
            Method::ClientCredentials { client_id, url, .. } => f
                .debug_struct("ClientCredentials")
                .field("client_id", client_id)
                .field("client_secret", &"[redacted]")
                .field("url", url)
                .finish(),
        }
    }
}

fn field(data: &SecretData, name: &'static str) -> Result<String> {
    match data.get_str(name).map(str::trim) {
        Some(v) if !v.is_empty() => Ok(v.to_owned()),
        _ => Err(Error::InvalidField {
            field: name,
            expected: "a non-empty text value".into(),
        }),
    }
}

fn login_host(data: &SecretData, settings: &AuthSettings) -> Result<String> {
    if let Some(url) = data
        .get_str("myDomainUrl")
        .map(str::trim)
        .filter(|u| !u.is_empty())
    {
        settings.check_url("myDomainUrl", url)?;
        return Ok(url.trim_end_matches('/').to_owned());
    }
    match data.get_str("environment").unwrap_or("production") {
        "production" => Ok(PRODUCTION_LOGIN.into()),
        "sandbox" => Ok(SANDBOX_LOGIN.into()),
        other => Err(Error::InvalidField {
            field: "environment",
            expected: format!("\"production\" or \"sandbox\", got {other:?}"),
        }),
    }
}

impl Method {
    /// Reads a credential of one of the three Salesforce types.
    pub fn from_credential(
        type_name: &str,
        data: &SecretData,
        settings: &AuthSettings,
    ) -> Result<Method> {
        match type_name {
            "salesforceJwtApi" => {
                let login_url = login_host(data, settings)?;
                Ok(Method::Jwt {
                    client_id: field(data, "clientId")?,
                    username: field(data, "username")?,
                    private_key: SecretString::from(field(data, "privateKey")?),
                    audience: login_url.clone(),
                    login_url,
                })
            }
            "salesforceOAuth2Api" => Ok(Method::OAuth2 {
                client_id: field(data, "clientId")?,
                client_secret: SecretString::from(field(data, "clientSecret")?),
                login_url: login_host(data, settings)?,
            }),
            "salesforceClientCredentialsApi" => {
                let url = field(data, "url")?;
                settings.check_url("url", &url)?;
                Ok(Method::ClientCredentials {
                    client_id: field(data, "clientId")?,
                    client_secret: SecretString::from(field(data, "clientSecret")?),
                    url: url.trim_end_matches('/').to_owned(),
                })
            }
            other => Err(Error::UnsupportedType {
                type_name: other.to_owned(),
            }),
        }
    }

    /// The JWT bearer assertion (RS256).
    pub fn assertion(&self, now: i64) -> Result<String> {
        let Method::Jwt {
            client_id,
            username,
            private_key,
            audience,
            ..
        } = self
        else {
            return Err(Error::InvalidField {
                field: "privateKey",
                expected: "a JWT credential".into(),
            });
        };
        let key = EncodingKey::from_rsa_pem(private_key.expose_secret().as_bytes()).map_err(|_| {
            Error::InvalidField {
                field: "privateKey",
                expected: "a PEM RSA private key (-----BEGIN PRIVATE KEY----- or -----BEGIN RSA PRIVATE KEY-----)".into(),
            }
        })?;
        let claims = json!({"iss": client_id, "sub": username, "aud": audience, "exp": now + ASSERTION_LIFETIME_SECS});
        jsonwebtoken::encode(&Header::new(Algorithm::RS256), &claims, &key).map_err(|_| {
            Error::InvalidField {
                field: "privateKey",
                expected: "an RSA key that can sign RS256".into(),
            }
        })
    }

    /// The authorize URL for the OAuth2 web server flow.
    pub fn authorize_url(
        &self,
        redirect_uri: &str,
        state: &str,
        pkce_challenge: &str,
    ) -> Result<String> {
        let Method::OAuth2 {
            client_id,
            login_url,
            ..
        } = self
        else {
            return Err(Error::UnsupportedType {
                type_name: "not salesforceOAuth2Api".into(),
            });
        };
        let mut url =
            url::Url::parse(&format!("{login_url}/services/oauth2/authorize")).map_err(|_| {
                Error::InsecureUrl {
                    what: "myDomainUrl",
                    url: login_url.clone(),
                }
            })?;
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", client_id)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("state", state)
            .append_pair("scope", "full refresh_token")
            .append_pair("code_challenge", pkce_challenge)
            .append_pair("code_challenge_method", "S256")
            .append_pair("prompt", "login");
        Ok(url.into())
    }

    fn token_url(&self) -> String {
        match self {
            Method::Jwt { login_url, .. } | Method::OAuth2 { login_url, .. } => {
                format!("{login_url}/services/oauth2/token")
            }
            Method::ClientCredentials { url, .. } => format!("{url}/services/oauth2/token"),
        }
    }

    /// Signs in without a user present: JWT bearer or client credentials; OAuth2 needs
    /// [`Method::refresh`] or [`Method::exchange_code`].
    pub async fn sign_in(&self, http: &reqwest::Client, settings: &AuthSettings) -> Result<Token> {
        let form: Vec<(&str, String)> = match self {
            Method::Jwt { .. } => vec![
                (
                    "grant_type",
                    "urn:ietf:params:oauth:grant-type:jwt-bearer".into(),
                ),
                ("assertion", self.assertion(chrono::Utc::now().timestamp())?),
            ],
            Method::ClientCredentials {
                client_id,
                client_secret,
                ..
            } => vec![
                ("grant_type", "client_credentials".into()),
                ("client_id", client_id.clone()),
                ("client_secret", client_secret.expose_secret().to_owned()),
            ],
            Method::OAuth2 { .. } => return Err(Error::NotConnected),
        };
        post_token(http, &self.token_url(), &form, settings, None).await
    }

    /// OAuth2: a new access token from the refresh token. Keeps the old `instance_url` and
    /// refresh token when the answer omits them.
    pub async fn refresh(
        &self,
        http: &reqwest::Client,
        settings: &AuthSettings,
        old: &Token,
    ) -> Result<Token> {
        let (
            Method::OAuth2 {
                client_id,
                client_secret,
                ..
            },
            Some(refresh),
        ) = (self, &old.refresh_token)
        else {
            return Err(Error::NotConnected);
        };
        let form = vec![
            ("grant_type", "refresh_token".to_owned()),
            ("refresh_token", refresh.expose_secret().to_owned()),
            ("client_id", client_id.clone()),
            ("client_secret", client_secret.expose_secret().to_owned()),
        ];
        let mut token = post_token(http, &self.token_url(), &form, settings, Some(old)).await?;
        if token.refresh_token.is_none() {
            token.refresh_token = Some(SecretString::from(refresh.expose_secret().to_owned()));
        }
        Ok(token)
    }

    /// OAuth2: exchanges an authorization code (with its PKCE verifier) for tokens.
    pub async fn exchange_code(
        &self,
        http: &reqwest::Client,
        settings: &AuthSettings,
        code: &str,
        verifier: &SecretString,
        redirect_uri: &str,
    ) -> Result<Token> {
        let Method::OAuth2 {
            client_id,
            client_secret,
            ..
        } = self
        else {
            return Err(Error::NotConnected);
        };
        let form = vec![
            ("grant_type", "authorization_code".to_owned()),
            ("code", code.to_owned()),
            ("client_id", client_id.clone()),
            ("client_secret", client_secret.expose_secret().to_owned()),
            ("redirect_uri", redirect_uri.to_owned()),
            ("code_verifier", verifier.expose_secret().to_owned()),
        ];
        post_token(http, &self.token_url(), &form, settings, None).await
    }
}

async fn post_token(
    http: &reqwest::Client,
    url: &str,
    form: &[(&str, String)],
    settings: &AuthSettings,
    previous: Option<&Token>,
) -> Result<Token> {
    settings.check_url("token URL", url)?;
    let res = http
        .post(url)
        .form(form)
        .send()
        .await
        .map_err(Error::transport)?;
    let status = res.status().as_u16();
    let body: Value = res.json().await.unwrap_or(Value::Null);
    if !(200..300).contains(&status) {
        let code = body["error"].as_str();
        let description = body["error_description"].as_str().unwrap_or_default();
        return match code {
            Some(code) => Err(sign_in_error(code, description)),
            None => Err(Error::Unexpected {
                status,
                what: "the token endpoint",
                detail: "no OAuth error body".into(),
            }),
        };
    }
    let missing = |what: &str| Error::Unexpected {
        status,
        what: "the token endpoint",
        detail: format!("no {what} in the answer"),
    };
    let access_token = body["access_token"]
        .as_str()
        .ok_or_else(|| missing("access_token"))?;
    // A refresh may omit instance_url: keep the one we had (n8n loses it).
    let instance_url = match (body["instance_url"].as_str(), previous) {
        (Some(u), _) => u.trim_end_matches('/').to_owned(),
        (None, Some(p)) => p.instance_url.clone(),
        (None, None) => return Err(missing("instance_url")),
    };
    settings.check_url("instance_url", &instance_url)?;
    Ok(Token {
        access_token: SecretString::from(access_token.to_owned()),
        instance_url,
        refresh_token: body["refresh_token"]
            .as_str()
            .map(|s| SecretString::from(s.to_owned())),
        id: body["id"]
            .as_str()
            .map(str::to_owned)
            .or_else(|| previous.and_then(|p| p.id.clone())),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(v: Value) -> SecretData {
        SecretData::new(v.as_object().unwrap().clone())
    }

    #[test]
    fn https_is_required_and_loopback_http_only_when_allowed() {
        let strict = AuthSettings::default();
        let lax = AuthSettings {
            allow_insecure_hosts: true,
        };
        assert!(strict
            .check_url("url", "https://acme.my.salesforce.com")
            .is_ok());
        let e = strict
            .check_url("url", "http://127.0.0.1:8080")
            .unwrap_err();
        assert!(e.to_string().contains("url must be an https URL"), "{e}");
        assert!(lax.check_url("url", "http://127.0.0.1:8080").is_ok());
        assert!(lax.check_url("url", "http://localhost:8080").is_ok());
        assert!(lax
            .check_url("url", "http://acme.my.salesforce.com")
            .is_err());
    }

    #[test]
    fn login_host_and_audience_follow_environment_or_my_domain() {
        let s = AuthSettings::default();
        let base = json!({"clientId": "k", "username": "u@x", "privateKey": "pem", "environment": "sandbox"});
        let Method::Jwt {
            login_url,
            audience,
            ..
        } = Method::from_credential("salesforceJwtApi", &data(base.clone()), &s).unwrap()
        else {
            panic!()
        };
        assert_eq!(
            (login_url.as_str(), audience.as_str()),
            (SANDBOX_LOGIN, SANDBOX_LOGIN)
        );
        let mut md = base.clone();
        md["myDomainUrl"] = "https://acme.my.salesforce.com/".into();
        let Method::Jwt {
            login_url,
            audience,
            ..
        } = Method::from_credential("salesforceJwtApi", &data(md), &s).unwrap()
        else {
            panic!()
        };
        assert_eq!(login_url, "https://acme.my.salesforce.com");
        assert_eq!(audience, "https://acme.my.salesforce.com");
        let oauth = json!({"clientId": "k", "clientSecret": "s3cr3t", "environment": "production"});
        let m = Method::from_credential("salesforceOAuth2Api", &data(oauth), &s).unwrap();
        let url = m
            .authorize_url("https://sy.example/cb", "st", "ch")
            .unwrap();
        assert!(
            url.starts_with("https://login.salesforce.com/services/oauth2/authorize?"),
            "{url}"
        );
        assert!(
            url.contains("scope=full+refresh_token")
                && url.contains("prompt=login")
                && url.contains("code_challenge_method=S256"),
            "{url}"
        );
        assert!(!format!("{m:?}").contains("s3cr3t"));
    }

    #[test]
    fn a_missing_field_is_named() {
        let e = Method::from_credential(
            "salesforceOAuth2Api",
            &data(json!({"clientId": "k"})),
            &AuthSettings::default(),
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid credential field clientSecret: expected a non-empty text value"
        );
    }
}
