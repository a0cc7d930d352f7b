//! `/services/oauth2/...`: the token endpoint for the four grants, the
//! authorize page, userinfo and revoke, answering with Salesforce's exact
//! error bodies.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use hmac::{Hmac, Mac};
use jsonwebtoken::{Algorithm, Validation};
use secrecy::ExposeSecret;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::error::{json_body, ApiError};
use crate::state::{AppState, AuthCode, Grant};

/// How far a JWT's `exp` may lie ahead (Salesforce: 3 minutes).
const MAX_EXP_AHEAD_SECS: i64 = 180;
/// Clock skew tolerated on `exp` in both directions.
const SKEW_SECS: i64 = 10;
/// Authorization codes live 15 minutes.
const CODE_LIFETIME_MS: i64 = 15 * 60 * 1000;

const JWT_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/services/oauth2/token", post(token))
        .route(
            "/services/oauth2/authorize",
            get(authorize_page).post(authorize_decision),
        )
        .route("/services/oauth2/userinfo", get(userinfo).post(userinfo))
        .route(
            "/services/oauth2/revoke",
            post(revoke_form).get(revoke_query),
        )
        .route("/id/{org}/{user}", get(userinfo_by_id))
}

type Form = HashMap<String, String>;

fn parse_form(body: &[u8]) -> Form {
    url::form_urlencoded::parse(body).into_owned().collect()
}

fn invalid_assertion() -> ApiError {
    ApiError::oauth("invalid_grant", "invalid assertion")
}

fn invalid_client_id() -> ApiError {
    ApiError::oauth("invalid_client_id", "client identifier invalid")
}

fn invalid_client() -> ApiError {
    ApiError::oauth("invalid_client", "invalid client credentials")
}

fn dead_refresh() -> ApiError {
    ApiError::oauth("invalid_grant", "expired access/refresh token")
}

async fn token(
    State(st): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    // Held by a test (`FakeOrg::hold_token_requests`): wait for the release. The sender
    // lives in the state, so the wait cannot fail.
    let _ = st.token_hold.subscribe().wait_for(|held| !held).await;
    let form = parse_form(&body);
    let body = match form.get("grant_type").map(String::as_str) {
        Some(JWT_GRANT) => jwt_bearer(&st, &form)?,
        Some("authorization_code") => authorization_code(&st, &form)?,
        Some("refresh_token") => refresh(&st, &form)?,
        Some("client_credentials") => client_credentials(&st, &form, &headers)?,
        _ => {
            return Err(ApiError::oauth(
                "unsupported_grant_type",
                "grant type not supported",
            ))
        }
    };
    Ok(json_body(&body).into_response())
}

/// The success body shared by all grants; `signature` is HMAC-SHA256 of
/// `id + issued_at` keyed by the consumer secret, as Salesforce signs it.
fn token_body(
    st: &AppState,
    access: &str,
    refresh: Option<&str>,
    user_id: &str,
    scope: &str,
) -> Value {
    let issued_at = st.now_ms().to_string();
    let id = format!("{}/id/{}/{}", st.base_url, st.config.org_id, user_id);
    let mut mac =
        Hmac::<Sha256>::new_from_slice(st.config.consumer_secret.expose_secret().as_bytes())
            .expect("HMAC takes keys of any length");
    mac.update(id.as_bytes());
    mac.update(issued_at.as_bytes());
    let signature = STANDARD.encode(mac.finalize().into_bytes());
    let mut v = json!({"access_token": access});
    if let Some(r) = refresh {
        v["refresh_token"] = json!(r);
    }
    for (k, val) in [
        ("signature", signature),
        ("scope", scope.to_string()),
        ("instance_url", st.base_url.clone()),
        ("id", id),
        ("token_type", "Bearer".to_string()),
        ("issued_at", issued_at),
    ] {
        v[k] = json!(val);
    }
    v
}

fn jwt_bearer(st: &AppState, form: &Form) -> Result<Value, ApiError> {
    let assertion = form.get("assertion").ok_or_else(invalid_assertion)?;
    let header = jsonwebtoken::decode_header(assertion).map_err(|_| invalid_assertion())?;
    if header.alg != Algorithm::RS256 {
        return Err(invalid_assertion());
    }
    // The issuer decides which certificate to check against, so it is read
    // before the signature is verified.
    let claims: Value = assertion
        .split('.')
        .nth(1)
        .and_then(|p| URL_SAFE_NO_PAD.decode(p).ok())
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or_else(invalid_assertion)?;
    if claims["iss"].as_str() != Some(st.config.consumer_key.as_str()) {
        return Err(invalid_client_id());
    }
    let key = st.config.jwt_key.as_ref().ok_or_else(invalid_assertion)?;
    let mut validation = Validation::new(Algorithm::RS256);
    validation.validate_exp = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    jsonwebtoken::decode::<Value>(assertion, key, &validation).map_err(|_| invalid_assertion())?;
    let auds: Vec<&str> = match &claims["aud"] {
        Value::String(s) => vec![s.as_str()],
        Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    };
    let accepted = auds.iter().any(|a| {
        st.config
            .audiences
            .iter()
            .any(|ok| ok == a.trim_end_matches('/'))
    });
    if !accepted {
        return Err(ApiError::oauth("invalid_grant", "audience is invalid"));
    }
    let exp = claims["exp"].as_i64().ok_or_else(invalid_assertion)?;
    let now = st.now().timestamp();
    if exp < now - SKEW_SECS {
        return Err(ApiError::oauth(
            "invalid_grant",
            "expired authorization code",
        ));
    }
    if exp > now + MAX_EXP_AHEAD_SECS + SKEW_SECS {
        return Err(invalid_assertion());
    }
    let sub = claims["sub"].as_str().unwrap_or_default();
    // Salesforce gives the same answer for an unknown username as for one
    // that never approved the app.
    let (user_id, username) =
        st.config.user(sub).cloned().ok_or_else(|| {
            ApiError::oauth("invalid_grant", "user hasn't approved this consumer")
        })?;
    let key = username.to_ascii_lowercase();
    if !st.config.pre_authorized.contains(&key) {
        if st.config.admin_approval_required {
            return Err(ApiError::oauth(
                "invalid_app_access",
                "user is not admin approved to access this app",
            ));
        }
        if !st.auth().approved.contains(&key) {
            return Err(ApiError::oauth(
                "invalid_grant",
                "user hasn't approved this consumer",
            ));
        }
    }
    let access = st.mint_access_token(&user_id, &username, None);
    Ok(token_body(st, &access, None, &user_id, "id full"))
}

fn check_secret(st: &AppState, secret: Option<&String>) -> Result<(), ApiError> {
    match secret {
        Some(s) if s.as_str() == st.config.consumer_secret.expose_secret() => Ok(()),
        _ => Err(invalid_client()),
    }
}

fn authorization_code(st: &AppState, form: &Form) -> Result<Value, ApiError> {
    if form.get("client_id") != Some(&st.config.consumer_key) {
        return Err(invalid_client_id());
    }
    check_secret(st, form.get("client_secret"))?;
    let code = form.get("code").map(String::as_str).unwrap_or_default();
    // Removing the code on first use makes it single-use even when this
    // exchange fails further down.
    let entry = st.auth_mut().codes.remove(code);
    let entry = entry
        .filter(|c| c.expires_at_ms > st.now_ms())
        .ok_or_else(|| ApiError::oauth("invalid_grant", "expired authorization code"))?;
    if form.get("redirect_uri") != Some(&entry.redirect_uri) {
        return Err(ApiError::oauth(
            "redirect_uri_mismatch",
            "redirect_uri must match configuration",
        ));
    }
    if let Some(challenge) = &entry.challenge {
        let verifier = form
            .get("code_verifier")
            .ok_or_else(|| ApiError::oauth("invalid_grant", "invalid code verifier"))?;
        let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        if &computed != challenge {
            return Err(ApiError::oauth("invalid_request", "invalid code verifier"));
        }
    }
    let wants_refresh = entry.scope.is_empty()
        || entry
            .scope
            .split_whitespace()
            .any(|s| s == "refresh_token" || s == "offline_access");
    let scope = if entry.scope.is_empty() {
        "refresh_token full id".to_string()
    } else {
        entry.scope.clone()
    };
    let (grant, refresh) = {
        let mut auth = st.auth_mut();
        auth.next_grant += 1;
        let grant = auth.next_grant;
        auth.grants.insert(
            grant,
            Grant {
                user_id: entry.user_id.clone(),
                username: entry.username.clone(),
                scope: scope.clone(),
                revoked: false,
            },
        );
        let refresh = wants_refresh.then(new_refresh_token);
        if let Some(r) = &refresh {
            auth.refresh.insert(r.clone(), (grant, true));
        }
        (grant, refresh)
    };
    let access = st.mint_access_token(&entry.user_id, &entry.username, Some(grant));
    Ok(token_body(
        st,
        &access,
        refresh.as_deref(),
        &entry.user_id,
        &scope,
    ))
}

fn new_refresh_token() -> String {
    format!("5Aep{}", crate::state::random_token(83))
}

fn refresh(st: &AppState, form: &Form) -> Result<Value, ApiError> {
    if form.get("client_id") != Some(&st.config.consumer_key) {
        return Err(invalid_client_id());
    }
    if form.contains_key("client_secret") {
        check_secret(st, form.get("client_secret"))?;
    }
    let presented = form
        .get("refresh_token")
        .map(String::as_str)
        .unwrap_or_default();
    let mut auth = st.auth_mut();
    let (grant, current) = *auth.refresh.get(presented).ok_or_else(dead_refresh)?;
    let live = auth.grants.get(&grant).is_some_and(|g| !g.revoked);
    if !live {
        return Err(dead_refresh());
    }
    if !current {
        // A rotated-out token coming back means two parties hold the grant:
        // Salesforce revokes the whole grant.
        auth.revoke_grant(grant);
        return Err(dead_refresh());
    }
    let (user_id, username, scope) = {
        let g = &auth.grants[&grant];
        (g.user_id.clone(), g.username.clone(), g.scope.clone())
    };
    let rotated = if st.config.refresh_token_rotation {
        let next = new_refresh_token();
        auth.refresh.insert(presented.to_string(), (grant, false));
        auth.refresh.insert(next.clone(), (grant, true));
        Some(next)
    } else {
        None
    };
    drop(auth);
    let access = st.mint_access_token(&user_id, &username, Some(grant));
    Ok(token_body(
        st,
        &access,
        rotated.as_deref(),
        &user_id,
        &scope,
    ))
}

fn client_credentials(st: &AppState, form: &Form, headers: &HeaderMap) -> Result<Value, ApiError> {
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| STANDARD.decode(b.trim()).ok())
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| {
            s.split_once(':')
                .map(|(a, b)| (a.to_string(), b.to_string()))
        });
    let (id, secret) = match basic {
        Some((id, secret)) => (Some(id), Some(secret)),
        None => (
            form.get("client_id").cloned(),
            form.get("client_secret").cloned(),
        ),
    };
    if id.as_ref() != Some(&st.config.consumer_key) {
        return Err(invalid_client_id());
    }
    check_secret(st, secret.as_ref())?;
    // Salesforce serves this grant only on My Domain hosts; a client sent
    // through a proxy that keeps the login host's name is refused.
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    let host = host.split(':').next().unwrap_or_default();
    if matches!(host, "login.salesforce.com" | "test.salesforce.com") {
        return Err(ApiError::oauth(
            "invalid_grant",
            "request not supported on this domain",
        ));
    }
    let username = st
        .config
        .client_credentials_user
        .as_deref()
        .ok_or_else(|| ApiError::oauth("invalid_grant", "no client credentials user enabled"))?;
    let (user_id, username) =
        st.config.user(username).cloned().ok_or_else(|| {
            ApiError::oauth("invalid_grant", "no client credentials user enabled")
        })?;
    let access = st.mint_access_token(&user_id, &username, None);
    Ok(token_body(st, &access, None, &user_id, "api"))
}

/// An error page for requests that cannot safely be redirected back.
fn error_page(error: &str, description: &str) -> Response {
    let q = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("error", error)
        .append_pair("error_description", description)
        .finish();
    (
        StatusCode::BAD_REQUEST,
        Html(format!(
            "<!doctype html><title>Error</title><p id=\"error\">{}</p>",
            escape(&q)
        )),
    )
        .into_response()
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn redirect_with(redirect_uri: &str, pairs: &[(&str, &str)]) -> Response {
    match url::Url::parse(redirect_uri) {
        Ok(mut u) => {
            {
                let mut q = u.query_pairs_mut();
                for (k, v) in pairs {
                    q.append_pair(k, v);
                }
            }
            Redirect::to(u.as_str()).into_response()
        }
        Err(_) => error_page(
            "redirect_uri_mismatch",
            "redirect_uri must match configuration",
        ),
    }
}

/// Checks client and redirect URI; these errors must not redirect, so they
/// come back as `(error, description)` for an error page.
fn check_authorize(st: &AppState, q: &Form) -> Result<(), (&'static str, &'static str)> {
    if q.get("client_id") != Some(&st.config.consumer_key) {
        return Err(("invalid_client_id", "client identifier invalid"));
    }
    let redirect = q
        .get("redirect_uri")
        .map(String::as_str)
        .unwrap_or_default();
    let allowed = if st.config.callback_urls.is_empty() {
        url::Url::parse(redirect).is_ok()
    } else {
        st.config.callback_urls.iter().any(|c| c == redirect)
    };
    if !allowed {
        return Err((
            "redirect_uri_mismatch",
            "redirect_uri must match configuration",
        ));
    }
    Ok(())
}

fn state_pair(q: &Form) -> Vec<(&str, &str)> {
    q.get("state")
        .map(|s| vec![("state", s.as_str())])
        .unwrap_or_default()
}

/// Issues a code for `username` and redirects back with it.
fn approve(st: &AppState, q: &Form, username: &str) -> Response {
    let redirect = q["redirect_uri"].clone();
    let Some((user_id, username)) = st.config.user(username).cloned() else {
        return error_page("invalid_request", "unknown user");
    };
    let challenge = q.get("code_challenge").filter(|c| !c.is_empty()).cloned();
    let code = format!("aPrx{}", crate::state::random_token(60));
    {
        let mut auth = st.auth_mut();
        auth.approved.insert(username.to_ascii_lowercase());
        auth.codes.insert(
            code.clone(),
            AuthCode {
                user_id,
                username,
                redirect_uri: redirect.clone(),
                challenge,
                scope: q.get("scope").cloned().unwrap_or_default(),
                expires_at_ms: st.now_ms() + CODE_LIFETIME_MS,
            },
        );
    }
    let mut pairs = vec![("code", code.as_str())];
    pairs.extend(state_pair(q));
    redirect_with(&redirect, &pairs)
}

async fn authorize_page(State(st): State<AppState>, Query(q): Query<Form>) -> Response {
    if let Err((error, description)) = check_authorize(&st, &q) {
        return error_page(error, description);
    }
    let redirect = q["redirect_uri"].clone();
    if q.get("response_type").map(String::as_str) != Some("code") {
        let mut pairs = vec![
            ("error", "unsupported_response_type"),
            ("error_description", "response type not supported"),
        ];
        pairs.extend(state_pair(&q));
        return redirect_with(&redirect, &pairs);
    }
    if q.get("code_challenge_method").is_some_and(|m| m != "S256") {
        let mut pairs = vec![
            ("error", "invalid_request"),
            ("error_description", "invalid code challenge method"),
        ];
        pairs.extend(state_pair(&q));
        return redirect_with(&redirect, &pairs);
    }
    let default_user = st
        .config
        .authorize_as
        .clone()
        .or_else(|| st.config.users.values().map(|(_, u)| u.clone()).min())
        .unwrap_or_default();
    if st.config.auto_approve {
        return approve(&st, &q, &default_user);
    }
    let hidden: String = q
        .iter()
        .map(|(k, v)| {
            format!(
                "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
                escape(k),
                escape(v)
            )
        })
        .collect();
    Html(format!(
        "<!doctype html><html><head><title>Allow Access?</title></head><body>\
         <h1>Allow Access?</h1><p>The app is asking to access your Salesforce data.</p>\
         <form method=\"post\" action=\"/services/oauth2/authorize\">{hidden}\
         <label>Username <input name=\"username\" value=\"{}\"></label>\
         <button type=\"submit\" name=\"decision\" value=\"approve\" id=\"oaapprove\">Allow</button>\
         <button type=\"submit\" name=\"decision\" value=\"deny\" id=\"oadeny\">Deny</button>\
         </form></body></html>",
        escape(&default_user)
    ))
    .into_response()
}

async fn authorize_decision(State(st): State<AppState>, body: Bytes) -> Response {
    let form = parse_form(&body);
    if let Err((error, description)) = check_authorize(&st, &form) {
        return error_page(error, description);
    }
    if form.get("decision").map(String::as_str) == Some("approve") {
        let username = form.get("username").cloned().unwrap_or_default();
        return approve(&st, &form, &username);
    }
    let mut pairs = vec![
        ("error", "access_denied"),
        ("error_description", "end-user denied authorization"),
    ];
    pairs.extend(state_pair(&form));
    redirect_with(&form["redirect_uri"], &pairs)
}

/// The token of an `Authorization: Bearer ...` (or legacy `OAuth ...`) header.
pub(crate) fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("OAuth "))
        .map(str::trim)
}

async fn userinfo(State(st): State<AppState>, headers: HeaderMap) -> Response {
    match bearer_token(&headers).and_then(|t| st.session(t)) {
        Some(s) => json_body(&user_json(&st, &s.user_id, &s.username)).into_response(),
        // Salesforce answers a bad token here with a bare text body.
        None => (StatusCode::FORBIDDEN, "Bad_OAuth_Token").into_response(),
    }
}

async fn userinfo_by_id(
    State(st): State<AppState>,
    Path((_org, user)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    match bearer_token(&headers).and_then(|t| st.session(t)) {
        Some(s) if crate::ids::normalize(&user).as_deref() == Some(s.user_id.as_str()) => {
            json_body(&user_json(&st, &s.user_id, &s.username)).into_response()
        }
        Some(_) => (StatusCode::FORBIDDEN, "Bad_Id").into_response(),
        None => (StatusCode::FORBIDDEN, "Bad_OAuth_Token").into_response(),
    }
}

fn user_json(st: &AppState, user_id: &str, username: &str) -> Value {
    let rec = st
        .store()
        .get(user_id)
        .map(|r| r.fields.clone())
        .unwrap_or_default();
    let s = |k: &str| rec.get(k).cloned().unwrap_or(Value::Null);
    let base = &st.base_url;
    let org = &st.config.org_id;
    json!({
        "sub": format!("{base}/id/{org}/{user_id}"),
        "user_id": user_id,
        "organization_id": org,
        "preferred_username": username,
        "nickname": s("CommunityNickname"),
        "name": s("Name"),
        "email": s("Email"),
        "email_verified": true,
        "given_name": s("FirstName"),
        "family_name": s("LastName"),
        "zoneinfo": s("TimeZoneSidKey"),
        "active": true,
        "user_type": "STANDARD",
        "language": s("LanguageLocaleKey"),
        "locale": s("LocaleSidKey"),
        "utcOffset": 0,
        "updated_at": s("LastModifiedDate"),
        "is_app_installed": true,
        "urls": {
            "rest": format!("{base}/services/data/v{{version}}/"),
            "sobjects": format!("{base}/services/data/v{{version}}/sobjects/"),
            "query": format!("{base}/services/data/v{{version}}/query/"),
            "profile": format!("{base}/{user_id}"),
        },
    })
}

async fn revoke_form(State(st): State<AppState>, body: Bytes) -> Result<StatusCode, ApiError> {
    revoke(
        &st,
        parse_form(&body)
            .get("token")
            .map(String::as_str)
            .unwrap_or_default(),
    )
}

async fn revoke_query(
    State(st): State<AppState>,
    Query(q): Query<Form>,
) -> Result<StatusCode, ApiError> {
    revoke(&st, q.get("token").map(String::as_str).unwrap_or_default())
}

/// Revoking an access token ends it; revoking a refresh token ends its grant.
fn revoke(st: &AppState, token: &str) -> Result<StatusCode, ApiError> {
    let mut auth = st.auth_mut();
    if auth.tokens.remove(token).is_some() {
        return Ok(StatusCode::OK);
    }
    if let Some((grant, _)) = auth.refresh.get(token).copied() {
        auth.revoke_grant(grant);
        return Ok(StatusCode::OK);
    }
    Err(ApiError::oauth("invalid_token", "invalid token"))
}
