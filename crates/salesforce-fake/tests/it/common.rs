//! Shared helpers for the fake org's HTTP tests: throwaway keys and certificates, a
//! started org, and a small authenticated client.

use std::path::Path;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::{Method, StatusCode};
use salesforce_fake::{FakeOrg, FakeOrgBuilder};
use serde_json::{json, Value};

pub const KEY: &str = "test-consumer-key";
pub const SECRET: &str = "test-consumer-secret";
pub const USER: &str = "user@example.com";
pub const V: &str = "/services/data/v65.0";

/// An RSA private key and its self-signed certificate.
pub struct KeyPair {
    pub private_pem: String,
    pub certificate_pem: String,
}

pub fn keypair(_dir: &Path, name: &str) -> KeyPair {
    let key = testkit::RsaKey::generate();
    KeyPair {
        private_pem: key.private_pem(),
        certificate_pem: key.self_signed_certificate(&format!("salesforce-fake-test-{name}")),
    }
}

pub fn builder() -> FakeOrgBuilder {
    FakeOrg::builder().consumer_key(KEY).consumer_secret(SECRET)
}

/// A signed JWT bearer assertion.
pub fn assertion(key: &KeyPair, claims: Value) -> String {
    jsonwebtoken::encode(
        &Header::new(Algorithm::RS256),
        &claims,
        &EncodingKey::from_rsa_pem(key.private_pem.as_bytes()).unwrap(),
    )
    .unwrap()
}

pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// A reqwest client that does not follow redirects (the authorize tests read
/// them). Its timeout bounds every call, so a stuck org fails a test instead
/// of hanging it; it is generous because the machine may be loaded.
pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(std::time::Duration::from_secs(60))
        .build()
        .unwrap()
}

/// POSTs a form to the token endpoint; returns status and JSON body.
pub async fn token(org: &FakeOrg, form: &[(&str, &str)]) -> (StatusCode, Value) {
    let res = http()
        .post(org.token_url())
        .form(form)
        .send()
        .await
        .unwrap();
    let status = res.status();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// An authenticated REST client for one org.
pub struct Api {
    pub base: String,
    pub token: String,
    pub client: reqwest::Client,
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Api {
    pub fn new(org: &FakeOrg) -> Self {
        Self {
            base: org.base_url().to_string(),
            token: org.issue_token(USER).unwrap(),
            client: http(),
        }
    }

    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Reply {
        self.call_with(method, path, body, &[]).await
    }

    pub async fn call_with(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let url = if path.starts_with("/services/") {
            format!("{}{path}", self.base)
        } else {
            format!("{}{V}{path}", self.base)
        };
        let mut req = self.client.request(method, url).bearer_auth(&self.token);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        let text = res.text().await.unwrap();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Reply {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.call(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.call(Method::POST, path, Some(body)).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> Reply {
        self.call(Method::PATCH, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> Reply {
        self.call(Method::DELETE, path, None).await
    }

    pub async fn query(&self, soql: &str) -> Reply {
        let q = url::form_urlencoded::byte_serialize(soql.as_bytes()).collect::<String>();
        self.get(&format!("/query?q={q}")).await
    }
}

/// A single REST error body.
pub fn rest_error(code: &str, message: &str) -> Value {
    json!([{"message": message, "errorCode": code}])
}
