//! OAuth over HTTP: each grant's success body and every error body from the
//! reference, PKCE, code replay, refresh rotation, revocation and expiry.

use crate::common::*;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use hmac::{Hmac, Mac};
use reqwest::StatusCode;
use salesforce_fake::{FakeOrg, User};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

const JWT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

fn err(error: &str, description: &str) -> Value {
    json!({"error": error, "error_description": description})
}

async fn jwt_org(key: &KeyPair) -> FakeOrg {
    builder()
        .certificate_pem(&key.certificate_pem)
        .user(User::new(USER))
        .user(User::new("other@example.com"))
        .pre_authorize(USER)
        .my_domain("https://acme.my.salesforce.com")
        .start()
        .await
        .unwrap()
}

fn claims(aud: &str, sub: &str, exp: i64) -> Value {
    json!({"iss": KEY, "sub": sub, "aud": aud, "exp": exp})
}

async fn jwt(org: &FakeOrg, assertion: &str) -> (StatusCode, Value) {
    token(org, &[("grant_type", JWT), ("assertion", assertion)]).await
}

#[tokio::test]
async fn jwt_bearer_success_body_is_shaped_like_salesforce() {
    let dir = tempfile::tempdir().unwrap();
    let key = keypair(dir.path(), "app");
    let org = jwt_org(&key).await;
    let (status, body) = jwt(
        &org,
        &assertion(
            &key,
            claims("https://login.salesforce.com", USER, now() + 170),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.get("refresh_token").is_none());
    assert_eq!(body["instance_url"], org.base_url());
    assert_eq!(body["token_type"], "Bearer");
    let user_id = org.user_id(USER).unwrap();
    let id = format!("{}/id/{}/{}", org.base_url(), org.org_id(), user_id);
    assert_eq!(body["id"], id);
    let issued_at = body["issued_at"].as_str().expect("issued_at is a string");
    assert!(
        issued_at.parse::<i64>().unwrap() > 1_700_000_000_000,
        "millis"
    );
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(format!("{id}{issued_at}").as_bytes());
    assert_eq!(
        body["signature"],
        STANDARD.encode(mac.finalize().into_bytes())
    );
    // The token works on REST and on userinfo.
    let api = Api {
        base: org.base_url().into(),
        token: body["access_token"].as_str().unwrap().into(),
        client: http(),
    };
    assert_eq!(api.get("/limits").await.status, StatusCode::OK);
    let info = api.get("/services/oauth2/userinfo").await;
    assert_eq!(info.body["preferred_username"], USER);
    assert_eq!(info.body["user_id"], user_id.as_str());
    // My Domain and the org's own URL are accepted audiences too.
    for aud in ["https://acme.my.salesforce.com", org.base_url()] {
        let (status, body) = jwt(&org, &assertion(&key, claims(aud, USER, now() + 60))).await;
        assert_eq!(status, StatusCode::OK, "{aud}: {body}");
    }
}

#[tokio::test]
async fn jwt_bearer_errors_are_salesforce_bodies() {
    let dir = tempfile::tempdir().unwrap();
    let key = keypair(dir.path(), "app");
    let stranger = keypair(dir.path(), "stranger");
    let org = jwt_org(&key).await;
    let login = "https://login.salesforce.com";
    let cases: Vec<(&str, String, Value)> = vec![
        (
            "not pre-authorized",
            assertion(&key, claims(login, "other@example.com", now() + 60)),
            err("invalid_grant", "user hasn't approved this consumer"),
        ),
        (
            "unknown user",
            assertion(&key, claims(login, "nobody@example.com", now() + 60)),
            err("invalid_grant", "user hasn't approved this consumer"),
        ),
        (
            "wrong certificate",
            assertion(&stranger, claims(login, USER, now() + 60)),
            err("invalid_grant", "invalid assertion"),
        ),
        (
            "malformed",
            "not.a.jwt".to_string(),
            err("invalid_grant", "invalid assertion"),
        ),
        (
            "wrong audience",
            assertion(
                &key,
                claims("https://test.salesforce.com", USER, now() + 60),
            ),
            err("invalid_grant", "audience is invalid"),
        ),
        (
            "unknown consumer key",
            assertion(
                &key,
                json!({"iss": "nope", "sub": USER, "aud": login, "exp": now() + 60}),
            ),
            err("invalid_client_id", "client identifier invalid"),
        ),
        (
            "expired",
            assertion(&key, claims(login, USER, now() - 60)),
            err("invalid_grant", "expired authorization code"),
        ),
        (
            "exp too far ahead",
            assertion(&key, claims(login, USER, now() + 600)),
            err("invalid_grant", "invalid assertion"),
        ),
    ];
    for (what, a, expected) in cases {
        let (status, body) = jwt(&org, &a).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{what}");
        assert_eq!(body, expected, "{what}");
    }
    let (status, body) = token(&org, &[("grant_type", "password"), ("username", USER)]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        err("unsupported_grant_type", "grant type not supported")
    );
}

#[tokio::test]
async fn jwt_bearer_admin_approval_and_spring_26_audience() {
    let dir = tempfile::tempdir().unwrap();
    let key = keypair(dir.path(), "app");
    let org = builder()
        .certificate_pem(&key.certificate_pem)
        .pre_authorize_none()
        .admin_approval_required(true)
        .my_domain("https://acme.my.salesforce.com")
        .my_domain_audience_only()
        .start()
        .await
        .unwrap();
    let (_, body) = jwt(
        &org,
        &assertion(
            &key,
            claims("https://acme.my.salesforce.com", USER, now() + 60),
        ),
    )
    .await;
    assert_eq!(
        body,
        err(
            "invalid_app_access",
            "user is not admin approved to access this app"
        )
    );
    let (_, body) = jwt(
        &org,
        &assertion(
            &key,
            claims("https://login.salesforce.com", USER, now() + 60),
        ),
    )
    .await;
    assert_eq!(body, err("invalid_grant", "audience is invalid"));
}

fn pkce() -> (String, String) {
    let verifier = "a-verifier-of-enough-length-0123456789abcdefghijklmnop".to_string();
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

const CALLBACK: &str = "http://localhost:5678/rest/oauth2-credential/callback";

fn authorize_url(org: &FakeOrg, challenge: Option<&str>) -> String {
    let mut u = url::Url::parse(&format!("{}/services/oauth2/authorize", org.base_url())).unwrap();
    u.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", KEY)
        .append_pair("redirect_uri", CALLBACK)
        .append_pair("state", "st4te")
        .append_pair("scope", "full refresh_token");
    if let Some(c) = challenge {
        u.query_pairs_mut()
            .append_pair("code_challenge", c)
            .append_pair("code_challenge_method", "S256");
    }
    u.to_string()
}

fn redirect_params(res: &reqwest::Response) -> std::collections::HashMap<String, String> {
    assert!(
        res.status().is_redirection(),
        "expected a redirect, got {}",
        res.status()
    );
    let loc = res.headers()["location"].to_str().unwrap();
    assert!(loc.starts_with(CALLBACK), "{loc}");
    url::Url::parse(loc)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect()
}

/// Gets a code by clicking Approve on the authorize page (a plain form POST).
async fn code_via_page(
    org: &FakeOrg,
    challenge: Option<&str>,
    decision: &str,
) -> std::collections::HashMap<String, String> {
    let page = http()
        .get(authorize_url(org, challenge))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(
        html.contains("value=\"approve\"") && html.contains("value=\"deny\""),
        "{html}"
    );
    // Re-post the page's hidden fields, as a browser would.
    let mut form: Vec<(String, String)> = html
        .split("<input type=\"hidden\" ")
        .skip(1)
        .map(|chunk| {
            let name = chunk
                .split("name=\"")
                .nth(1)
                .unwrap()
                .split('"')
                .next()
                .unwrap()
                .to_string();
            let value = chunk
                .split("value=\"")
                .nth(1)
                .unwrap()
                .split('"')
                .next()
                .unwrap()
                .replace("&amp;", "&");
            (name, value)
        })
        .collect();
    form.push(("username".into(), USER.into()));
    form.push(("decision".into(), decision.into()));
    let res = http()
        .post(format!("{}/services/oauth2/authorize", org.base_url()))
        .form(&form)
        .send()
        .await
        .unwrap();
    redirect_params(&res)
}

#[tokio::test]
async fn authorization_code_with_pkce_and_its_errors() {
    let org = builder().callback_url(CALLBACK).start().await.unwrap();
    let (verifier, challenge) = pkce();

    let denied = code_via_page(&org, Some(&challenge), "deny").await;
    assert_eq!(denied["error"], "access_denied");
    assert_eq!(denied["error_description"], "end-user denied authorization");
    assert_eq!(denied["state"], "st4te");

    let params = code_via_page(&org, Some(&challenge), "approve").await;
    assert_eq!(params["state"], "st4te");
    let code = params["code"].clone();
    let exchange =
        |code: String, verifier: Option<String>, secret: &'static str, redirect: &'static str| {
            let org = &org;
            async move {
                let mut form = vec![
                    ("grant_type", "authorization_code".to_string()),
                    ("code", code),
                    ("client_id", KEY.to_string()),
                    ("client_secret", secret.to_string()),
                    ("redirect_uri", redirect.to_string()),
                ];
                if let Some(v) = verifier {
                    form.push(("code_verifier", v));
                }
                let res = http()
                    .post(org.token_url())
                    .form(&form)
                    .send()
                    .await
                    .unwrap();
                (res.status(), res.json::<Value>().await.unwrap())
            }
        };
    // Wrong verifier, then missing verifier: each consumes a fresh code.
    let (status, body) = exchange(code, Some("wrong-verifier".into()), SECRET, CALLBACK).await;
    assert_eq!(
        (status, body),
        (
            StatusCode::BAD_REQUEST,
            err("invalid_request", "invalid code verifier")
        )
    );
    let code = code_via_page(&org, Some(&challenge), "approve").await["code"].clone();
    let (_, body) = exchange(code, None, SECRET, CALLBACK).await;
    assert_eq!(body, err("invalid_grant", "invalid code verifier"));
    let code = code_via_page(&org, Some(&challenge), "approve").await["code"].clone();
    let (_, body) = exchange(
        code.clone(),
        Some(verifier.clone()),
        "wrong-secret",
        CALLBACK,
    )
    .await;
    assert_eq!(body, err("invalid_client", "invalid client credentials"));
    let (_, body) = exchange(
        code.clone(),
        Some(verifier.clone()),
        SECRET,
        "http://elsewhere/cb",
    )
    .await;
    assert_eq!(
        body,
        err(
            "redirect_uri_mismatch",
            "redirect_uri must match configuration"
        )
    );

    let code = code_via_page(&org, Some(&challenge), "approve").await["code"].clone();
    let (status, body) = exchange(code.clone(), Some(verifier.clone()), SECRET, CALLBACK).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["refresh_token"]
        .as_str()
        .is_some_and(|r| !r.is_empty()));
    assert_eq!(body["scope"], "full refresh_token");
    assert_eq!(body["instance_url"], org.base_url());
    // Codes are single-use.
    let (status, body) = exchange(code, Some(verifier), SECRET, CALLBACK).await;
    assert_eq!(
        (status, body),
        (
            StatusCode::BAD_REQUEST,
            err("invalid_grant", "expired authorization code")
        )
    );
}

#[tokio::test]
async fn authorize_rejects_unknown_clients_and_callbacks_without_redirecting() {
    let org = builder().callback_url(CALLBACK).start().await.unwrap();
    let url = authorize_url(&org, None).replace(KEY, "unknown-client");
    let res = http().get(url).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(res
        .text()
        .await
        .unwrap()
        .contains("error=invalid_client_id"));
    let url = authorize_url(&org, None).replace("localhost%3A5678", "evil.example");
    let res = http().get(url).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(res
        .text()
        .await
        .unwrap()
        .contains("error=redirect_uri_mismatch"));
}

async fn refresh_token_via_auto_approve(org: &FakeOrg) -> Value {
    let res = http().get(authorize_url(org, None)).send().await.unwrap();
    let code = redirect_params(&res)["code"].clone();
    let (status, body) = token(
        org,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("client_id", KEY),
            ("client_secret", SECRET),
            ("redirect_uri", CALLBACK),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

async fn refresh(org: &FakeOrg, rt: &str) -> (StatusCode, Value) {
    token(
        org,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", rt),
            ("client_id", KEY),
            ("client_secret", SECRET),
        ],
    )
    .await
}

#[tokio::test]
async fn refresh_without_rotation_keeps_the_token() {
    let org = builder().auto_approve(true).start().await.unwrap();
    let first = refresh_token_via_auto_approve(&org).await;
    let rt = first["refresh_token"].as_str().unwrap();
    for _ in 0..2 {
        let (status, body) = refresh(&org, rt).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(body.get("refresh_token").is_none());
        assert_eq!(body["instance_url"], org.base_url());
    }
    let (_, body) = refresh(&org, "5Aepunknown").await;
    assert_eq!(body, err("invalid_grant", "expired access/refresh token"));
}

/// Waits (polling every 20 ms, up to 30 s) until the org has counted `n` token requests.
async fn token_requests_reach(org: &FakeOrg, n: u64) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while org.counter("POST /services/oauth2/token") < n {
        assert!(
            std::time::Instant::now() < deadline,
            "the org never saw {n} token requests"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn held_token_requests_wait_until_released() {
    let org = builder().auto_approve(true).start().await.unwrap();
    let rt = refresh_token_via_auto_approve(&org).await["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    // Held over HTTP, as a shell script driving the binary would.
    let hold = format!("{}/__fake/tokens/hold", org.base_url());
    let res = http().post(&hold).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let pending = {
        let (org_url, rt) = (org.token_url(), rt.clone());
        tokio::spawn(async move {
            http()
                .post(org_url)
                .form(&[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", rt.as_str()),
                    ("client_id", KEY),
                    ("client_secret", SECRET),
                ])
                .send()
                .await
                .unwrap()
                .status()
        })
    };
    // Counted on arrival (the authorization code exchange was the first), then held:
    // nothing answers it while the hold lasts.
    token_requests_reach(&org, 2).await;
    assert!(!pending.is_finished(), "a held token request was answered");
    let res = http().delete(&hold).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(pending.await.unwrap(), StatusCode::OK);
    // Released for good: the next one is answered at once.
    assert_eq!(refresh(&org, &rt).await.0, StatusCode::OK);

    // The same from Rust.
    org.hold_token_requests();
    let pending = {
        let org_url = org.token_url();
        tokio::spawn(async move {
            http()
                .post(org_url)
                .form(&[("grant_type", "refresh_token"), ("refresh_token", "5Aepx")])
                .send()
                .await
                .unwrap()
                .status()
        })
    };
    token_requests_reach(&org, 4).await;
    assert!(!pending.is_finished(), "a held token request was answered");
    org.release_token_requests();
    assert_eq!(pending.await.unwrap(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn rotated_refresh_token_reuse_revokes_the_grant() {
    let org = builder()
        .auto_approve(true)
        .refresh_token_rotation(true)
        .start()
        .await
        .unwrap();
    let first = refresh_token_via_auto_approve(&org).await;
    let rt1 = first["refresh_token"].as_str().unwrap().to_string();
    let (_, second) = refresh(&org, &rt1).await;
    let rt2 = second["refresh_token"]
        .as_str()
        .expect("rotation returns a new refresh token")
        .to_string();
    assert_ne!(rt1, rt2);
    let access2 = second["access_token"].as_str().unwrap().to_string();
    // Reusing the rotated-out token fails and kills the grant: rt2 and its access token too.
    let (status, body) = refresh(&org, &rt1).await;
    assert_eq!(
        (status, body),
        (
            StatusCode::BAD_REQUEST,
            err("invalid_grant", "expired access/refresh token")
        )
    );
    let (_, body) = refresh(&org, &rt2).await;
    assert_eq!(body, err("invalid_grant", "expired access/refresh token"));
    let api = Api {
        base: org.base_url().into(),
        token: access2,
        client: http(),
    };
    let r = api.get("/limits").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        r.body,
        rest_error("INVALID_SESSION_ID", "Session expired or invalid")
    );
}

#[tokio::test]
async fn client_credentials_in_body_or_basic_and_errors() {
    let org = builder()
        .client_credentials_user(USER)
        .start()
        .await
        .unwrap();
    let (status, body) = token(
        &org,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", KEY),
            ("client_secret", SECRET),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.get("refresh_token").is_none());
    let res = http()
        .post(org.token_url())
        .basic_auth(KEY, Some(SECRET))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let (_, body) = token(
        &org,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", KEY),
            ("client_secret", "bad"),
        ],
    )
    .await;
    assert_eq!(body, err("invalid_client", "invalid client credentials"));
    let (_, body) = token(
        &org,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", "who"),
            ("client_secret", SECRET),
        ],
    )
    .await;
    assert_eq!(body, err("invalid_client_id", "client identifier invalid"));
    // The secret must not show up in what the org recorded.
    let recorded = org.requests();
    assert!(recorded.iter().all(|r| !r.body.contains(SECRET)
        && r.headers
            .iter()
            .all(|(_, v)| !v.contains(&STANDARD.encode(format!("{KEY}:{SECRET}"))))));
    assert!(recorded
        .iter()
        .any(|r| r.header("authorization") == Some("Basic [masked]")));

    let res = http()
        .post(org.token_url())
        .header("host", "login.salesforce.com")
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", KEY),
            ("client_secret", SECRET),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        err("invalid_grant", "request not supported on this domain")
    );

    let no_user = builder().start().await.unwrap();
    let (status, body) = token(
        &no_user,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", KEY),
            ("client_secret", SECRET),
        ],
    )
    .await;
    assert_eq!(
        (status, body),
        (
            StatusCode::BAD_REQUEST,
            err("invalid_grant", "no client credentials user enabled")
        )
    );
}

#[tokio::test]
async fn expired_and_revoked_tokens_get_invalid_session_id() {
    let org = builder().start().await.unwrap();
    let api = Api::new(&org);
    assert_eq!(api.get("/sobjects").await.status, StatusCode::OK);
    org.expire_tokens_now();
    for path in [
        "/sobjects",
        "/query?q=SELECT+Id+FROM+Account",
        "/sobjects/Account/describe",
        "/limits",
    ] {
        let r = api.get(path).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{path}");
        assert_eq!(
            r.body,
            rest_error("INVALID_SESSION_ID", "Session expired or invalid"),
            "{path}"
        );
    }
    let api = Api::new(&org);
    assert_eq!(api.get("/sobjects").await.status, StatusCode::OK);
    org.revoke_all_tokens();
    assert_eq!(api.get("/sobjects").await.status, StatusCode::UNAUTHORIZED);

    // A token runs out by itself at the end of its lifetime, by the org's
    // clock: moved forward rather than waited for.
    let short = builder()
        .token_lifetime(std::time::Duration::from_secs(60))
        .start()
        .await
        .unwrap();
    let api = Api::new(&short);
    assert_eq!(api.get("/limits").await.status, StatusCode::OK);
    short.advance_clock(std::time::Duration::from_secs(59));
    assert_eq!(api.get("/limits").await.status, StatusCode::OK);
    // The same move over HTTP, as a shell script driving the binary would.
    let moved: Value = http()
        .post(format!("{}/__fake/clock", short.base_url()))
        .body(r#"{"advance_ms": 2000}"#)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(moved["now"].as_str().unwrap().ends_with("+0000"), "{moved}");
    assert_eq!(api.get("/limits").await.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn revoke_endpoint_and_userinfo_with_bad_token() {
    let org = builder().auto_approve(true).start().await.unwrap();
    let body = refresh_token_via_auto_approve(&org).await;
    let access = body["access_token"].as_str().unwrap();
    let rt = body["refresh_token"].as_str().unwrap();
    let revoke = |t: String| {
        let url = format!("{}/services/oauth2/revoke", org.base_url());
        async move { http().post(url).form(&[("token", t)]).send().await.unwrap() }
    };
    assert_eq!(revoke(access.into()).await.status(), StatusCode::OK);
    let api = Api {
        base: org.base_url().into(),
        token: access.into(),
        client: http(),
    };
    assert_eq!(api.get("/limits").await.status, StatusCode::UNAUTHORIZED);
    let info = api.get("/services/oauth2/userinfo").await;
    assert_eq!(info.status, StatusCode::FORBIDDEN);
    assert_eq!(info.body, "Bad_OAuth_Token");
    assert_eq!(revoke(rt.into()).await.status(), StatusCode::OK);
    let (_, body) = refresh(&org, rt).await;
    assert_eq!(body, err("invalid_grant", "expired access/refresh token"));
    let res = revoke("nonsense".into()).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        err("invalid_token", "invalid token")
    );
}

#[tokio::test]
async fn secrets_stay_out_of_debug_and_recordings() {
    let b = builder();
    assert!(!format!("{b:?}").contains(SECRET));
    let org = b.auto_approve(true).start().await.unwrap();
    assert!(!format!("{org:?}").contains(SECRET));
    let body = refresh_token_via_auto_approve(&org).await;
    let access = body["access_token"].as_str().unwrap();
    let api = Api {
        base: org.base_url().into(),
        token: access.into(),
        client: http(),
    };
    api.get("/limits").await;
    let recorded = format!("{:?}", org.requests());
    let served = http()
        .get(format!("{}/__fake/requests", org.base_url()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for text in [&recorded, &served] {
        assert!(!text.contains(access), "access token leaked");
        assert!(
            !text.contains(body["refresh_token"].as_str().unwrap()),
            "refresh token leaked"
        );
        assert!(!text.contains(SECRET), "client secret leaked");
    }
    let limits_call = org
        .requests()
        .into_iter()
        .find(|r| r.path.ends_with("/limits"))
        .unwrap();
    assert_eq!(limits_call.header("authorization"), Some("Bearer [masked]"));
    assert!(limits_call.authorization_is(&format!("Bearer {access}")));
    assert!(!limits_call.authorization_is("Bearer something-else"));
}
