//! The HTTP Request node with stored credentials through the real server, on SQLite and
//! Postgres: a node whose authentication has no credential is refused at save (nothing
//! stored), a header credential signs the request a local server checks, and a generic
//! OAuth2 credential is connected through `/rest/oauth2-credential/*` against a local
//! authorization server, its token stored encrypted and sent by the node.

use crate::common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use crate::common::{Backend, TestEnv, TestServer, KEY_A};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use serde_json::{json, Value};

#[derive(Default)]
struct Seen {
    /// The authorization header of each call to `/api`.
    api_auth: Vec<Option<String>>,
    /// The forms posted to `/token`.
    token_forms: Vec<BTreeMap<String, String>>,
}

type Shared = Arc<Mutex<Seen>>;

/// A service with an OAuth2 authorization server (`/authorize` approves at once, `/token`)
/// and an API (`/api`) that accepts the header credential or the token it issued.
async fn service() -> (String, Shared) {
    let seen: Shared = Arc::default();
    let app = Router::new()
        .route(
            "/authorize",
            get(|Query(q): Query<BTreeMap<String, String>>| async move {
                let mut back = url::Url::parse(&q["redirect_uri"]).unwrap();
                back.query_pairs_mut()
                    .append_pair("code", &format!("code-for-{}", q["client_id"]))
                    .append_pair("state", &q["state"]);
                Redirect::to(back.as_str())
            }),
        )
        .route(
            "/token",
            post(
                |State(s): State<Shared>, Form(f): Form<BTreeMap<String, String>>| async move {
                    s.lock().unwrap().token_forms.push(f.clone());
                    if f.get("code").map(String::as_str) == Some("code-for-cid")
                        && f.get("client_secret").map(String::as_str) == Some("csecret")
                    {
                        Json(
                            json!({"access_token": "ac-token", "refresh_token": "ac-refresh",
                                    "token_type": "bearer"}),
                        )
                        .into_response()
                    } else {
                        (
                            StatusCode::BAD_REQUEST,
                            Json(json!({"error": "invalid_grant"})),
                        )
                            .into_response()
                    }
                },
            ),
        )
        .route(
            "/api",
            get(|State(s): State<Shared>, h: HeaderMap| async move {
                let auth = h
                    .get("authorization")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                s.lock().unwrap().api_auth.push(auth.clone());
                let key = h.get("x-api-key").and_then(|v| v.to_str().ok());
                let ok: Response =
                    if key == Some("k-123") || auth.as_deref() == Some("Bearer ac-token") {
                        Json(json!({"ok": true})).into_response()
                    } else {
                        (StatusCode::UNAUTHORIZED, "no").into_response()
                    };
                ok
            }),
        )
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (base, seen)
}

fn workflow(api: &str, auth_type: &str, credential: Option<&str>) -> Value {
    let mut call = json!({"name": "Call", "type": "n8n-nodes-base.httpRequest", "typeVersion": 4.2,
        "position": [200, 0],
        "parameters": {"url": api, "authentication": "genericCredentialType",
                       "genericAuthType": auth_type, "options": {}}});
    if let Some(id) = credential {
        call["credentials"] = json!({auth_type: {"id": id, "name": "the credential"}});
    }
    json!({
        "name": "HTTP with a credential",
        "nodes": [
            {"name": "Start", "type": "n8n-nodes-base.manualTrigger", "typeVersion": 1,
             "position": [0, 0], "parameters": {}},
            call
        ],
        "connections": {"Start": {"main": [[{"node": "Call", "type": "main", "index": 0}]]}},
        "settings": {"executionOrder": "v1"}
    })
}

common::on_both_backends!(
    a_node_without_its_credential_is_refused_and_with_it_signs_the_request,
    a_generic_oauth2_credential_connects_and_its_token_is_sent,
);

async fn a_node_without_its_credential_is_refused_and_with_it_signs_the_request(backend: Backend) {
    let Some(env) = TestEnv::new(backend, "http_generic_credential").await else {
        return;
    };
    let key = env.api_key(KEY_A);
    let settings = env.settings_for_fakes();
    let server = TestServer::start(settings).await;
    let api = server.api(&key);
    let (base, seen) = service().await;

    let (status, body) = api
        .post_json(
            "/api/v1/workflows",
            &workflow(&format!("{base}/api"), "httpHeaderAuth", None),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let message = body["message"].as_str().unwrap().to_owned();
    assert!(
        message.contains("\"Call\"")
            && message.contains("needs a credential of type \"httpHeaderAuth\""),
        "{message}"
    );
    let (_, list) = api.get("/api/v1/workflows").await;
    assert_eq!(list["data"], json!([]), "nothing stored");

    let (_, cred) = api
        .post_json(
            "/api/v1/credentials",
            &json!({"name": "API key", "type": "httpHeaderAuth",
                    "data": {"name": "X-API-Key", "value": "k-123"}}),
        )
        .await;
    let id = cred["id"].as_str().unwrap();
    let (status, created) = api
        .post_json(
            "/api/v1/workflows",
            &workflow(&format!("{base}/api"), "httpHeaderAuth", Some(id)),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{created}");
    let wf_id = created["id"].as_str().unwrap().to_owned();
    let (_, done) = api
        .post_json(
            &format!("/api/v1/workflows/{wf_id}/run?wait=true"),
            &json!({}),
        )
        .await;
    assert_eq!(done["status"], "success", "{done}");
    assert_eq!(
        done["data"]["resultData"]["runData"]["Call"][0]["data"]["main"][0][0]["json"],
        json!({"ok": true})
    );
    assert_eq!(seen.lock().unwrap().api_auth.len(), 1);
    server.stop().await;
}

async fn a_generic_oauth2_credential_connects_and_its_token_is_sent(backend: Backend) {
    let Some(env) = TestEnv::new(backend, "http_generic_oauth2").await else {
        return;
    };
    let key = env.api_key(KEY_A);
    let settings = env.settings_for_fakes();
    let server = TestServer::start_public(settings).await;
    let api = server.api(&key);
    let (base, seen) = service().await;

    let (status, cred) = api
        .post_json(
            "/api/v1/credentials",
            &json!({"name": "Service", "type": "oAuth2Api",
                    "data": {"grantType": "authorizationCode",
                             "authUrl": format!("{base}/authorize"),
                             "accessTokenUrl": format!("{base}/token"),
                             "clientId": "cid", "clientSecret": "csecret",
                             "scope": "read", "authentication": "body"}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{cred}");
    let id = cred["id"].as_str().unwrap().to_owned();

    // Before connecting, a run fails saying so, and the API is never called unsigned.
    let (status, created) = api
        .post_json(
            "/api/v1/workflows",
            &workflow(&format!("{base}/api"), "oAuth2Api", Some(&id)),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{created}");
    let wf_id = created["id"].as_str().unwrap().to_owned();
    let run_path = format!("/api/v1/workflows/{wf_id}/run?wait=true");
    let run = || async { api.post_json(&run_path, &json!({})).await.1 };
    let before = run().await;
    assert_eq!(before["status"], "error");
    assert!(
        before["data"]["resultData"]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("is not connected yet"),
        "{before}"
    );
    assert!(seen.lock().unwrap().api_auth.is_empty());

    let (_, auth) = api
        .get(&format!("/rest/oauth2-credential/auth?id={id}"))
        .await;
    let authorize = auth["data"].as_str().unwrap();
    let parsed = url::Url::parse(authorize).unwrap();
    let q: BTreeMap<String, String> = parsed.query_pairs().into_owned().collect();
    assert!(
        authorize.starts_with(&format!("{base}/authorize?")),
        "{authorize}"
    );
    assert_eq!(q["client_id"], "cid");
    assert_eq!(q["scope"], "read");
    assert_eq!(q["response_type"], "code");
    assert_eq!(
        q["redirect_uri"],
        server.url("/rest/oauth2-credential/callback")
    );
    // The browser goes to the service, which sends it back to our callback.
    let page = reqwest::get(authorize).await.unwrap();
    assert_eq!(
        page.status(),
        StatusCode::OK,
        "{}",
        page.text().await.unwrap()
    );
    let form = seen.lock().unwrap().token_forms[0].clone();
    assert_eq!(form["grant_type"], "authorization_code");
    assert_eq!(form["client_id"], "cid");

    let stored = server.state.credentials.get(&id).await.unwrap();
    let tokens = format!("{:?}", stored);
    assert!(
        !tokens.contains("ac-token"),
        "Debug shows no token: {tokens}"
    );

    let after = run().await;
    assert_eq!(after["status"], "success", "{after}");
    assert_eq!(
        seen.lock().unwrap().api_auth,
        [Some("Bearer ac-token".to_string())]
    );
    server.stop().await;
}
