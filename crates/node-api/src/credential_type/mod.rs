//! Credential types as plugins declare them: which fields a type has, which are required or
//! secret, how values are validated and normalized, how secrets are redacted for display, how
//! an update is merged into stored data, what a change does to stored tokens, and the JSON
//! Schema shown to API clients.
//!
//! Plugins keep n8n's type and field names so that credentials exported from n8n import
//! unchanged. Unlike n8n, unknown fields are refused: a silently dropped typo is a defect
//! users hit in n8n.

mod pem;

use std::fmt;

use serde_json::{json, Map, Value};

use crate::item::json_kind;

/// The placeholder n8n returns instead of a secret value. An update that sends it back
/// keeps the stored secret.
pub const REDACTED: &str = "__n8n_BLANK_VALUE_e5362baf-c777-4d57-a609-6eaf1f9e87f6";

/// What kind of value a field holds, and so how it is validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    /// A non-empty string (surrounding whitespace is trimmed).
    Text,
    /// One of a fixed set of strings.
    Options(&'static [&'static str]),
    /// An absolute https URL (plain http only to a loopback host, when allowed); a trailing
    /// slash is trimmed.
    HttpsUrl,
    /// A PEM RSA private key, PKCS#8 or PKCS#1; stored as repaired, standard PEM.
    RsaPrivateKeyPem,
    /// A non-empty string required only while another field has a given value (n8n's
    /// `displayOptions`): jwtAuth's `secret` when `keyType` is `passphrase`. Give such a
    /// field `required: false`; the requirement is checked once defaults are filled.
    TextRequiredWhen {
        /// The field whose value decides.
        field: &'static str,
        /// The value that makes this field required.
        equals: &'static str,
    },
}

impl FieldKind {
    /// What a value of this kind looks like, for error messages.
    fn expected(&self) -> String {
        match self {
            FieldKind::Text => "a non-empty string".into(),
            FieldKind::Options(options) => format!("one of {}", options.join(", ")),
            FieldKind::HttpsUrl => "an absolute https URL such as https://api.example.com".into(),
            FieldKind::RsaPrivateKeyPem => {
                "a PEM RSA private key (BEGIN PRIVATE KEY or BEGIN RSA PRIVATE KEY)".into()
            }
            FieldKind::TextRequiredWhen { field, equals } => {
                format!("a non-empty string when {field} is {equals}")
            }
        }
    }
}

/// One field of a credential type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldSpec {
    /// The field's name in the credential data (n8n's name).
    pub name: &'static str,
    /// What the field holds.
    pub kind: FieldKind,
    /// Whether the field must be present (after defaults are filled).
    pub required: bool,
    /// Whether the value is secret: redacted on display, write-only in the schema.
    pub secret: bool,
    /// A one-line description for forms and the schema.
    pub description: &'static str,
    /// The value used when the field is absent.
    pub default: Option<&'static str>,
}

/// A credential type: its n8n name, fields, and how its tokens behave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialType {
    /// The n8n type name, e.g. `salesforceJwtApi`.
    pub name: &'static str,
    /// A human-readable name.
    pub display_name: &'static str,
    /// The fields, in display order.
    pub fields: Vec<FieldSpec>,
    /// Connected by a person through the OAuth2 flow: its token data is what n8n exports as
    /// `oauthTokenData`, and its plugin offers an OAuth2 connect strategy.
    pub oauth2: bool,
    /// Fields whose change, when nothing else changes, keeps the refresh token (only the
    /// access token is dropped), e.g. a rotated client secret the provider still honours
    /// refresh tokens across. Any other change clears all token data.
    pub keep_refresh_token_on_change_of: &'static [&'static str],
}

/// What a change of a credential's data does to its token data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokensAfterUpdate {
    /// Everything goes: the tokens were issued for other settings (the default).
    Clear,
    /// The access token goes, the refresh token and instance URL stay, so the next call
    /// refreshes with the new settings and no reconnect is needed.
    DropAccessToken,
}

/// Options for [`CredentialType::validate`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ValidateOptions {
    /// Accept plain `http://` URLs to a loopback host (127.0.0.1, ::1, localhost); set from
    /// `SWITCHYARD_ALLOW_INSECURE_HOSTS` for tests and the fake Salesforce org.
    pub allow_insecure_loopback: bool,
}

/// One problem with one field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldProblem {
    /// The field's name (`data` when the data is not an object).
    pub field: String,
    /// What was expected, and what was found when that is not secret.
    pub expected: String,
}

impl fmt::Display for FieldProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.expected)
    }
}

/// Every problem found in some credential data. Never holds a secret value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ValidationError {
    /// The problems, one per field, in the type's field order then unknown fields.
    pub problems: Vec<FieldProblem>,
}

impl ValidationError {
    /// An error with one problem.
    pub fn single(field: impl Into<String>, expected: impl Into<String>) -> Self {
        Self {
            problems: vec![FieldProblem {
                field: field.into(),
                expected: expected.into(),
            }],
        }
    }
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("invalid credential data: ")?;
        for (i, problem) in self.problems.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{problem}")?;
        }
        Ok(())
    }
}

/// Quotes a non-secret value for an error message, shortened so a pasted blob stays readable.
fn quote_short(text: &str) -> String {
    const MAX: usize = 40;
    if text.chars().count() > MAX {
        let head: String = text.chars().take(MAX).collect();
        format!("{:?}...", head)
    } else {
        format!("{text:?}")
    }
}

impl CredentialType {
    /// A type with these fields, not connected through OAuth2, whose tokens are cleared by
    /// any change.
    pub fn new(name: &'static str, display_name: &'static str, fields: Vec<FieldSpec>) -> Self {
        Self {
            name,
            display_name,
            fields,
            oauth2: false,
            keep_refresh_token_on_change_of: &[],
        }
    }

    /// The field with this name.
    pub fn field(&self, name: &str) -> Option<&FieldSpec> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// What changing stored data `old` into `new` does to the token data; see
    /// [`CredentialType::keep_refresh_token_on_change_of`].
    pub fn tokens_after_update(
        &self,
        old: &Map<String, Value>,
        new: &Map<String, Value>,
    ) -> TokensAfterUpdate {
        let mut changed = old
            .keys()
            .chain(new.keys())
            .filter(|k| old.get(k.as_str()) != new.get(k.as_str()))
            .peekable();
        if changed.peek().is_none() {
            return TokensAfterUpdate::Clear;
        }
        if changed.all(|k| self.keep_refresh_token_on_change_of.contains(&k.as_str())) {
            TokensAfterUpdate::DropAccessToken
        } else {
            TokensAfterUpdate::Clear
        }
    }

    /// Returns the normalized data (defaults filled, strings trimmed, URLs without a
    /// trailing slash, a PEM key repaired) or every problem found; `opts` says whether
    /// plain http to a loopback host is allowed.
    pub fn validate(
        &self,
        data: &Value,
        opts: &ValidateOptions,
    ) -> Result<Map<String, Value>, ValidationError> {
        let Some(input) = data.as_object() else {
            return Err(ValidationError::single(
                "data",
                format!(
                    "expected a JSON object with the fields of {}, got {}",
                    self.name,
                    json_kind(data)
                ),
            ));
        };
        let mut problems = Vec::new();
        let mut out = Map::new();
        for spec in &self.fields {
            let value = match input.get(spec.name) {
                None | Some(Value::Null) => None,
                Some(Value::String(s)) if s.trim().is_empty() => None,
                Some(v) => Some(v),
            };
            let Some(value) = value else {
                if let Some(default) = spec.default {
                    out.insert(spec.name.into(), Value::String(default.into()));
                } else if spec.required {
                    problems.push(FieldProblem {
                        field: spec.name.into(),
                        expected: format!("required, {}", spec.kind.expected()),
                    });
                }
                continue;
            };
            match check_field(spec, value, opts) {
                Ok(normalized) => {
                    out.insert(spec.name.into(), Value::String(normalized));
                }
                Err(expected) => problems.push(FieldProblem {
                    field: spec.name.into(),
                    expected,
                }),
            }
        }
        for spec in &self.fields {
            if let FieldKind::TextRequiredWhen { field, equals } = spec.kind {
                let decides = out.get(field).and_then(Value::as_str) == Some(equals);
                if decides
                    && !out.contains_key(spec.name)
                    && !problems.iter().any(|p| p.field == spec.name)
                {
                    problems.push(FieldProblem {
                        field: spec.name.into(),
                        expected: format!("required, {}", spec.kind.expected()),
                    });
                }
            }
        }
        let known: Vec<&str> = self.fields.iter().map(|f| f.name).collect();
        for key in input.keys() {
            if self.field(key).is_none() {
                problems.push(FieldProblem {
                    field: key.clone(),
                    expected: format!(
                        "unknown field for {} (its fields are {})",
                        self.name,
                        known.join(", ")
                    ),
                });
            }
        }
        if problems.is_empty() {
            Ok(out)
        } else {
            Err(ValidationError { problems })
        }
    }

    /// A copy of `data` with every secret field that is present replaced by [`REDACTED`].
    pub fn redact(&self, data: &Map<String, Value>) -> Map<String, Value> {
        data.iter()
            .map(|(k, v)| {
                let secret = self.field(k).is_some_and(|f| f.secret);
                let v = if secret && !v.is_null() {
                    Value::String(REDACTED.into())
                } else {
                    v.clone()
                };
                (k.clone(), v)
            })
            .collect()
    }

    /// Applies an update to stored data: keys in `patch` override, a value equal to
    /// [`REDACTED`] keeps the stored value, `null` removes the field. The result still
    /// needs [`Self::validate`].
    pub fn merge_update(
        &self,
        stored: &Map<String, Value>,
        patch: &Map<String, Value>,
    ) -> Map<String, Value> {
        let mut merged = stored.clone();
        for (key, value) in patch {
            match value {
                Value::String(s) if s == REDACTED && stored.contains_key(key) => {}
                Value::Null => {
                    merged.remove(key);
                }
                other => {
                    merged.insert(key.clone(), other.clone());
                }
            }
        }
        merged
    }

    /// The JSON Schema (draft 2020-12) of this type's data; secret fields are `writeOnly`.
    pub fn json_schema(&self) -> Value {
        let mut properties = Map::new();
        let mut required = Vec::new();
        for spec in &self.fields {
            let mut prop = Map::new();
            prop.insert("type".into(), json!("string"));
            prop.insert("description".into(), json!(spec.description));
            match spec.kind {
                FieldKind::Text | FieldKind::TextRequiredWhen { .. } => {
                    prop.insert("minLength".into(), json!(1));
                }
                FieldKind::Options(options) => {
                    prop.insert("enum".into(), json!(options));
                }
                FieldKind::HttpsUrl => {
                    prop.insert("format".into(), json!("uri"));
                    prop.insert("pattern".into(), json!("^https://"));
                }
                FieldKind::RsaPrivateKeyPem => {
                    prop.insert("contentMediaType".into(), json!("application/x-pem-file"));
                    prop.insert(
                        "pattern".into(),
                        json!("-----BEGIN (RSA )?PRIVATE KEY-----"),
                    );
                }
            }
            if let Some(default) = spec.default {
                prop.insert("default".into(), json!(default));
            }
            if spec.secret {
                prop.insert("writeOnly".into(), json!(true));
            }
            if spec.required && spec.default.is_none() {
                required.push(spec.name);
            }
            properties.insert(spec.name.into(), Value::Object(prop));
        }
        json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "title": self.display_name,
            "type": "object",
            "properties": properties,
            "required": required,
            "additionalProperties": false,
        })
    }
}

/// Checks one present value; returns its normalized form or what was expected.
fn check_field(spec: &FieldSpec, value: &Value, opts: &ValidateOptions) -> Result<String, String> {
    let Value::String(text) = value else {
        return Err(format!(
            "expected {}, got {}",
            spec.kind.expected(),
            json_kind(value)
        ));
    };
    if text == REDACTED {
        return Err(format!(
            "expected {}, got the redaction placeholder, which only keeps a value already stored",
            spec.kind.expected()
        ));
    }
    let text = text.trim();
    match spec.kind {
        FieldKind::Text | FieldKind::TextRequiredWhen { .. } => Ok(text.to_owned()),
        FieldKind::Options(options) => {
            if options.contains(&text) {
                Ok(text.to_owned())
            } else {
                Err(format!(
                    "expected {}, got {}",
                    spec.kind.expected(),
                    quote_short(text)
                ))
            }
        }
        FieldKind::HttpsUrl => {
            check_url(text, opts).map_err(|why| format!("expected {}, {why}", spec.kind.expected()))
        }
        FieldKind::RsaPrivateKeyPem => pem::repair_rsa_private_key(text)
            .map_err(|why| format!("expected {}; {why}", spec.kind.expected())),
    }
}

/// Checks an https URL; the error says what was found without quoting the URL, which
/// could carry a password in its user-info part.
fn check_url(text: &str, opts: &ValidateOptions) -> Result<String, String> {
    let url =
        url::Url::parse(text).map_err(|e| format!("got text that is not an absolute URL ({e})"))?;
    let host = url.host_str().unwrap_or_default();
    if host.is_empty() {
        return Err("got a URL without a host".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("got a URL with a user name or password in it".into());
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err("got a URL with a query or fragment".into());
    }
    match url.scheme() {
        "https" => {}
        "http" if opts.allow_insecure_loopback && is_loopback(host) => {}
        "http" if is_loopback(host) => {
            return Err(
                "got plain http to a loopback host, which is allowed only when \
                        SWITCHYARD_ALLOW_INSECURE_HOSTS is on"
                    .into(),
            )
        }
        other => return Err(format!("got scheme {other:?}")),
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

fn is_loopback(host: &str) -> bool {
    matches!(host, "127.0.0.1" | "[::1]" | "::1" | "localhost")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A type with a field of every kind; `clientSecret` alone keeps the refresh token.
    fn keyed() -> CredentialType {
        let text = |name, required, secret| FieldSpec {
            name,
            kind: FieldKind::Text,
            required,
            secret,
            description: "",
            default: None,
        };
        CredentialType {
            keep_refresh_token_on_change_of: &["clientSecret"],
            ..CredentialType::new(
                "testKeyedApi",
                "Test Keyed API",
                vec![
                    FieldSpec {
                        name: "environment",
                        kind: FieldKind::Options(&["production", "sandbox"]),
                        required: true,
                        secret: false,
                        description: "",
                        default: Some("production"),
                    },
                    text("clientId", true, false),
                    text("username", true, false),
                    text("clientSecret", false, true),
                    FieldSpec {
                        name: "privateKey",
                        kind: FieldKind::RsaPrivateKeyPem,
                        required: true,
                        secret: true,
                        description: "",
                        default: None,
                    },
                    FieldSpec {
                        name: "myDomainUrl",
                        kind: FieldKind::HttpsUrl,
                        required: false,
                        secret: false,
                        description: "",
                        default: None,
                    },
                ],
            )
        }
    }

    #[test]
    fn only_listed_fields_keep_the_refresh_token() {
        let t = keyed();
        let old = json!({"clientId": "a", "clientSecret": "s1"});
        let obj = |v: Value| v.as_object().unwrap().clone();
        let old = obj(old);
        assert_eq!(
            t.tokens_after_update(&old, &obj(json!({"clientId": "a", "clientSecret": "s2"}))),
            TokensAfterUpdate::DropAccessToken
        );
        assert_eq!(
            t.tokens_after_update(&old, &obj(json!({"clientId": "b", "clientSecret": "s2"}))),
            TokensAfterUpdate::Clear
        );
        assert_eq!(
            t.tokens_after_update(&old, &old),
            TokensAfterUpdate::Clear,
            "no change at all"
        );
        let plain = CredentialType::new("plainApi", "Plain", t.fields.clone());
        assert_eq!(
            plain.tokens_after_update(&old, &obj(json!({"clientId": "a", "clientSecret": "s2"}))),
            TokensAfterUpdate::Clear
        );
    }

    #[test]
    fn url_rules() {
        let strict = ValidateOptions::default();
        let loose = ValidateOptions {
            allow_insecure_loopback: true,
        };
        assert_eq!(
            check_url("https://acme.my.salesforce.com/", &strict).unwrap(),
            "https://acme.my.salesforce.com"
        );
        assert_eq!(
            check_url("https://acme.my.salesforce.com", &strict).unwrap(),
            "https://acme.my.salesforce.com"
        );
        assert!(check_url("http://acme.my.salesforce.com", &loose)
            .unwrap_err()
            .contains("scheme \"http\""));
        assert!(check_url("http://127.0.0.1:8080", &strict)
            .unwrap_err()
            .contains("SWITCHYARD_ALLOW_INSECURE_HOSTS"));
        assert_eq!(
            check_url("http://127.0.0.1:8080/", &loose).unwrap(),
            "http://127.0.0.1:8080"
        );
        assert_eq!(
            check_url("http://localhost:1", &loose).unwrap(),
            "http://localhost:1"
        );
        assert_eq!(
            check_url("http://[::1]:1", &loose).unwrap(),
            "http://[::1]:1"
        );
        assert!(check_url("acme.my.salesforce.com", &strict)
            .unwrap_err()
            .contains("not an absolute URL"));
        let with_password =
            check_url("https://bob:hunter2@acme.my.salesforce.com", &strict).unwrap_err();
        assert!(!with_password.contains("hunter2"));
        assert!(check_url("https://a.example?x=1", &strict).is_err());
        assert!(check_url("ftp://a.example", &strict)
            .unwrap_err()
            .contains("\"ftp\""));
    }

    #[test]
    fn merge_update_keeps_placeholder_and_removes_null() {
        let t = keyed();
        let stored = json!({"environment": "production", "clientId": "a", "privateKey": "PEM", "myDomainUrl": "https://x.example"});
        let patch =
            json!({"clientId": "b", "privateKey": REDACTED, "myDomainUrl": null, "username": "u"});
        let merged = t.merge_update(stored.as_object().unwrap(), patch.as_object().unwrap());
        assert_eq!(
            Value::Object(merged),
            json!({"environment": "production", "clientId": "b", "privateKey": "PEM", "username": "u"})
        );
        // A placeholder for a field that was never stored stays, so validation refuses it.
        let merged = t.merge_update(&Map::new(), patch.as_object().unwrap());
        assert_eq!(merged.get("privateKey"), Some(&json!(REDACTED)));
    }

    #[test]
    fn redact_replaces_only_secret_fields() {
        let t = keyed();
        let data = json!({"clientId": "a", "privateKey": "PEM", "username": "u"});
        let red = t.redact(data.as_object().unwrap());
        assert_eq!(
            Value::Object(red),
            json!({"clientId": "a", "privateKey": REDACTED, "username": "u"})
        );
    }

    #[test]
    fn json_schema_shape() {
        let s = keyed().json_schema();
        assert_eq!(s["type"], "object");
        assert_eq!(s["additionalProperties"], false);
        assert_eq!(s["required"], json!(["clientId", "username", "privateKey"]));
        assert_eq!(s["title"], "Test Keyed API");
        assert_eq!(
            s["properties"]["environment"]["enum"],
            json!(["production", "sandbox"])
        );
        assert_eq!(s["properties"]["environment"]["default"], "production");
        assert_eq!(s["properties"]["privateKey"]["writeOnly"], true);
        assert!(s["properties"]["clientId"].get("writeOnly").is_none());
        assert_eq!(s["properties"]["myDomainUrl"]["format"], "uri");
    }
}
