//! The credentials API over real HTTP, on SQLite and on Postgres.

use crate::common;

use crate::common::{Backend, TestEnv, TestServer, KEY_A};
use credentials::REDACTED;
use reqwest::StatusCode;
use serde_json::{json, Value};

common::on_both_backends!(
    list_pages_with_limit_and_cursor_and_audit_is_readable,
    authentication_is_required,
    create_read_update_delete_with_redaction,
    bad_input_is_refused_and_nothing_is_stored,
    schema_describes_each_type,
    restart_keeps_everything,
    readiness_follows_the_database_schema,
);

async fn setup(backend: Backend, test: &str) -> Option<(TestEnv, TestServer, String)> {
    let env = TestEnv::new(backend, test).await?;
    let key = env.api_key(KEY_A);
    let server = TestServer::start(env.settings(KEY_A, None)).await;
    Some((env, server, key))
}

fn oauth2_body(name: &str) -> Value {
    json!({
        "name": name,
        "type": "salesforceOAuth2Api",
        "data": {"environment": "sandbox", "clientId": "3MVG9-client", "clientSecret": "s3cr3t-oauth-value"}
    })
}

async fn authentication_is_required(backend: Backend) {
    let Some((_env, server, key)) = setup(backend, "authentication_is_required").await else {
        return;
    };
    let anonymous = server.anonymous();

    let (health, _) = anonymous.get("/healthz").await;
    assert_eq!(health, StatusCode::OK, "health needs no key");

    // No key says which header is expected (n8n's words); a wrong one says nothing more.
    let required = "'X-N8N-API-KEY' header required";
    for (header, value, message) in [
        ("", "", required),
        ("X-N8N-API-KEY", "sy_wrong", "unauthorized"),
        ("Authorization", "Bearer sy_wrong", "unauthorized"),
        ("Authorization", "Basic abc", required),
    ] {
        let client = if header.is_empty() {
            anonymous.clone()
        } else {
            anonymous.clone().with_header(header, value)
        };
        let (status, body) = client.get("/api/v1/credentials").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{header}: {value}");
        assert_eq!(body, json!({ "message": message }), "{header}: {value}");
    }

    let (via_header, _) = server.api(&key).get("/api/v1/credentials").await;
    assert_eq!(via_header, StatusCode::OK);
    let (via_bearer, _) = anonymous
        .with_header("Authorization", &format!("Bearer {key}"))
        .get("/api/v1/credentials")
        .await;
    assert_eq!(via_bearer, StatusCode::OK);
    server.stop().await;
}

async fn create_read_update_delete_with_redaction(backend: Backend) {
    let Some((_env, server, key)) =
        setup(backend, "create_read_update_delete_with_redaction").await
    else {
        return;
    };
    let api = server.api(&key);
    let pem = common::test_private_key();

    // A key pasted with its newlines turned into spaces, as users paste it.
    let pasted = pem.trim().replace('\n', " ");
    let (status, created) = api
        .post_json(
            "/api/v1/credentials",
            &json!({
                "name": "Salesforce JWT",
                "type": "salesforceJwtApi",
                "data": {"environment": "production", "clientId": "3MVG9-jwt", "username": "ops@example.com", "privateKey": pasted}
            }),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let id = created["id"].as_str().expect("id").to_owned();
    assert_eq!(created["name"], "Salesforce JWT");
    assert_eq!(created["type"], "salesforceJwtApi");
    assert!(created["createdAt"].as_str().unwrap().ends_with('Z'));
    assert!(created.get("data").is_none(), "create never echoes data");

    let (_, list) = api.get("/api/v1/credentials").await;
    let rows = list["data"].as_array().unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["id"], id.as_str());
    assert!(rows[0].get("data").is_none(), "list carries no data");

    let (_, read) = api.get(&format!("/api/v1/credentials/{id}")).await;
    assert_eq!(read["data"]["privateKey"], REDACTED);
    assert_eq!(read["data"]["clientId"], "3MVG9-jwt");
    assert_eq!(read["data"]["username"], "ops@example.com");
    assert!(!read.to_string().contains("PRIVATE KEY"));

    // The stored key was repaired into proper PEM.
    let stored = server.state.credentials.get(&id).await.unwrap();
    let stored_key = stored.data.expose()["privateKey"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        stored_key.starts_with("-----BEGIN PRIVATE KEY-----\n"),
        "repaired PEM"
    );
    assert_eq!(stored_key.trim(), pem.trim());

    // Sending the placeholder back keeps the stored secret.
    let (status, updated) = api
        .patch_json(
            &format!("/api/v1/credentials/{id}"),
            &json!({"name": "Salesforce JWT (ops)", "data": {"privateKey": REDACTED, "username": "admin@example.com"}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(updated["name"], "Salesforce JWT (ops)");
    let stored = server.state.credentials.get(&id).await.unwrap();
    assert_eq!(
        stored.data.expose()["privateKey"].as_str().unwrap(),
        stored_key
    );
    assert_eq!(stored.data.expose()["username"], "admin@example.com");

    // A new secret replaces the old one.
    let (_, created) = api
        .post_json("/api/v1/credentials", &oauth2_body("OAuth"))
        .await;
    let oauth_id = created["id"].as_str().unwrap().to_owned();
    let (status, _) = api
        .patch_json(
            &format!("/api/v1/credentials/{oauth_id}"),
            &json!({"data": {"clientSecret": "rotated-secret-2"}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let stored = server.state.credentials.get(&oauth_id).await.unwrap();
    assert_eq!(stored.data.expose()["clientSecret"], "rotated-secret-2");
    assert_eq!(stored.data.expose()["environment"], "sandbox");

    let (status, deleted) = api.delete(&format!("/api/v1/credentials/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(deleted["id"], id.as_str());
    let (status, body) = api.get(&format!("/api/v1/credentials/{id}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body["message"].as_str().unwrap().contains(&id));
    let (status, _) = api.delete(&format!("/api/v1/credentials/{id}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Every change is in the audit log, with the API key that made it, and no secret.
    let audit = server.state.credentials.audit(None, 100).await.unwrap();
    let actions: Vec<_> = audit
        .iter()
        .map(|a| (a.action.as_str().to_owned(), a.credential_id.clone()))
        .collect();
    assert!(
        actions.contains(&("created".into(), id.clone())),
        "{actions:?}"
    );
    assert!(
        actions.contains(&("updated".into(), id.clone())),
        "{actions:?}"
    );
    assert!(
        actions.contains(&("deleted".into(), id.clone())),
        "{actions:?}"
    );
    assert!(
        audit.iter().all(|a| a.actor.to_string().contains("tests")),
        "the key's name is recorded"
    );
    let audit_text = format!("{audit:?}");
    assert!(!audit_text.contains("rotated-secret-2") && !audit_text.contains("s3cr3t"));
    server.stop().await;
}

/// One bad request: how it is sent, and the words its message must contain.
struct Bad {
    what: &'static str,
    method: reqwest::Method,
    path: String,
    body: Option<Vec<u8>>,
    status: StatusCode,
    expect: Vec<&'static str>,
}

fn bad(what: &'static str, body: Value, expect: &[&'static str]) -> Bad {
    Bad {
        what,
        method: reqwest::Method::POST,
        path: "/api/v1/credentials".into(),
        body: Some(serde_json::to_vec(&body).unwrap()),
        status: StatusCode::BAD_REQUEST,
        expect: expect.to_vec(),
    }
}

async fn bad_input_is_refused_and_nothing_is_stored(backend: Backend) {
    let Some((_env, server, key)) =
        setup(backend, "bad_input_is_refused_and_nothing_is_stored").await
    else {
        return;
    };
    let api = server.api(&key);
    let (_, created) = api
        .post_json("/api/v1/credentials", &{
            let mut body = oauth2_body("Existing");
            body["id"] = json!("existing1");
            body
        })
        .await;
    let id = created["id"].as_str().unwrap().to_owned();
    let before = server.state.credentials.get(&id).await.unwrap();
    let audit_before = server
        .state
        .credentials
        .audit(None, 1000)
        .await
        .unwrap()
        .len();

    let jwt = |data: Value| json!({"name": "x", "type": "salesforceJwtApi", "data": data});
    let cc =
        |data: Value| json!({"name": "x", "type": "salesforceClientCredentialsApi", "data": data});
    let mut cases = vec![
        Bad {
            what: "malformed JSON",
            body: Some(br#"{"name": "x", "type": "#.to_vec()),
            ..bad("", json!(null), &["not valid JSON"])
        },
        Bad {
            what: "empty body",
            body: Some(Vec::new()),
            ..bad("", json!(null), &["empty body"])
        },
        bad(
            "body is an array",
            json!([1, 2]),
            &["expected a JSON object"],
        ),
        bad(
            "missing name",
            json!({"type": "salesforceOAuth2Api", "data": {"clientId": "a", "clientSecret": "b"}}),
            &["name: required"],
        ),
        bad(
            "empty name",
            json!({"name": "  ", "type": "salesforceOAuth2Api", "data": {"clientId": "a", "clientSecret": "b"}}),
            &["name: required"],
        ),
        bad(
            "missing type",
            json!({"name": "x", "data": {}}),
            &["type: required", "salesforceJwtApi"],
        ),
        bad(
            "unknown type",
            json!({"name": "x", "type": "salesforceApi", "data": {}}),
            &["type", "salesforceApi", "salesforceOAuth2Api"],
        ),
        bad(
            "missing data",
            json!({"name": "x", "type": "salesforceOAuth2Api"}),
            &["data: required"],
        ),
        bad(
            "data not an object",
            json!({"name": "x", "type": "salesforceOAuth2Api", "data": "clientId=a"}),
            &["data: expected a JSON object"],
        ),
        bad(
            "wrong enum value",
            json!({"name": "x", "type": "salesforceOAuth2Api", "data": {"environment": "prod", "clientId": "a", "clientSecret": "b"}}),
            &["environment", "production", "sandbox", "prod"],
        ),
        bad(
            "unparsable private key",
            jwt(
                json!({"clientId": "a", "username": "u@example.com", "privateKey": "not-a-key-zz9"}),
            ),
            &["privateKey", "PEM"],
        ),
        bad(
            "non-https url",
            cc(
                json!({"url": "http://acme.my.salesforce.com", "clientId": "a", "clientSecret": "b"}),
            ),
            &["url", "https"],
        ),
        bad(
            "url that is not a URL",
            cc(json!({"url": "acme", "clientId": "a", "clientSecret": "b"})),
            &["url", "https"],
        ),
        bad(
            "non-https My Domain",
            jwt(
                json!({"clientId": "a", "username": "u", "privateKey": "x", "myDomainUrl": "ftp://acme"}),
            ),
            &["myDomainUrl", "https"],
        ),
        bad(
            "missing required field",
            json!({"name": "x", "type": "salesforceOAuth2Api", "data": {"clientSecret": "b"}}),
            &["clientId", "required"],
        ),
        bad(
            "misspelt field",
            json!({"name": "x", "type": "salesforceOAuth2Api", "data": {"clientID": "a", "clientSecret": "b"}}),
            &["clientID", "unknown field"],
        ),
        bad(
            "unknown top-level field",
            json!({"name": "x", "type": "salesforceOAuth2Api", "data": {"clientId": "a", "clientSecret": "b"}, "nodesAccess": []}),
            &["nodesAccess", "unknown field"],
        ),
        bad(
            "every problem at once",
            json!({"type": "salesforceClientCredentialsApi", "data": {"url": "http://x.example.com"}}),
            &["name: required", "url", "clientId", "clientSecret"],
        ),
        Bad {
            method: reqwest::Method::PATCH,
            path: format!("/api/v1/credentials/{id}"),
            ..bad(
                "patch with a bad enum",
                json!({"data": {"environment": "staging"}}),
                &["environment", "staging"],
            )
        },
        Bad {
            method: reqwest::Method::PATCH,
            path: format!("/api/v1/credentials/{id}"),
            ..bad(
                "patch changing the type",
                json!({"type": "salesforceJwtApi"}),
                &["type", "cannot be changed"],
            )
        },
        Bad {
            method: reqwest::Method::PATCH,
            path: format!("/api/v1/credentials/{id}"),
            ..bad("patch with an empty name", json!({"name": ""}), &["name"])
        },
        Bad {
            method: reqwest::Method::PATCH,
            path: format!("/api/v1/credentials/{id}"),
            ..bad(
                "patch with data not an object",
                json!({"data": [1]}),
                &["data", "JSON object"],
            )
        },
        Bad {
            method: reqwest::Method::PATCH,
            path: "/api/v1/credentials/nope".into(),
            status: StatusCode::NOT_FOUND,
            ..bad("patch of an unknown id", json!({"name": "y"}), &["nope"])
        },
        Bad {
            method: reqwest::Method::GET,
            path: "/api/v1/credentials/schema/fooApi".into(),
            body: None,
            status: StatusCode::NOT_FOUND,
            ..bad("schema of an unknown type", json!(null), &["fooApi"])
        },
        Bad {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            ..bad(
                "body over the limit",
                json!({"name": "x".repeat(2 * 1024 * 1024), "type": "salesforceOAuth2Api", "data": {}}),
                &["limit"],
            )
        },
    ];
    cases.push(Bad {
        status: StatusCode::CONFLICT,
        ..bad(
            "id already taken",
            json!({"id": "existing1", "name": "x", "type": "salesforceOAuth2Api", "data": {"clientId": "a", "clientSecret": "b"}}),
            &["existing1"],
        )
    });
    assert!(cases.len() >= 15);
    for case in cases.drain(..) {
        let (status, body) = match case.body.clone() {
            Some(body) => {
                api.send_raw(case.method.clone(), &case.path, "application/json", body)
                    .await
            }
            None => common::answer(api.request(case.method.clone(), &case.path)).await,
        };
        assert_eq!(status, case.status, "{}", case.what);
        let message = body["message"]
            .as_str()
            .unwrap_or_else(|| panic!("{}: a JSON error message in {body}", case.what));
        for word in &case.expect {
            assert!(
                message.contains(word),
                "{}: {message:?} should mention {word:?}",
                case.what
            );
        }
        assert!(
            !message.contains("not-a-key-zz9"),
            "{}: a rejected secret is never echoed",
            case.what
        );
    }

    let (_, list) = api.get("/api/v1/credentials").await;
    assert_eq!(
        list["data"].as_array().unwrap().len(),
        1,
        "nothing was created"
    );
    let after = server.state.credentials.get(&id).await.unwrap();
    assert_eq!(after.meta.name, before.meta.name);
    assert_eq!(
        after.data.expose(),
        before.data.expose(),
        "nothing was changed"
    );
    assert_eq!(
        server
            .state
            .credentials
            .audit(None, 1000)
            .await
            .unwrap()
            .len(),
        audit_before,
        "no audit rows"
    );
    server.stop().await;
}

async fn schema_describes_each_type(backend: Backend) {
    let Some((_env, server, key)) = setup(backend, "schema_describes_each_type").await else {
        return;
    };
    let api = server.api(&key);
    let (status, schema) = api.get("/api/v1/credentials/schema/salesforceJwtApi").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(schema["type"], "object");
    for field in [
        "environment",
        "clientId",
        "username",
        "privateKey",
        "myDomainUrl",
    ] {
        assert!(
            schema["properties"].get(field).is_some(),
            "{field} in {schema}"
        );
    }
    let required: Vec<&str> = schema["required"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(required.contains(&"clientId") && required.contains(&"privateKey"));
    assert!(!required.contains(&"myDomainUrl"));
    assert_eq!(
        schema["properties"]["environment"]["enum"],
        json!(["production", "sandbox"])
    );
    for kind in ["salesforceOAuth2Api", "salesforceClientCredentialsApi"] {
        let (status, _) = api.get(&format!("/api/v1/credentials/schema/{kind}")).await;
        assert_eq!(status, StatusCode::OK, "{kind}");
    }
    server.stop().await;
}

async fn restart_keeps_everything(backend: Backend) {
    let Some((env, server, key)) = setup(backend, "restart_keeps_everything").await else {
        return;
    };
    let (_, created) = server
        .api(&key)
        .post_json("/api/v1/credentials", &oauth2_body("Kept"))
        .await;
    let id = created["id"].as_str().unwrap().to_owned();
    let (_, before) = server
        .api(&key)
        .get(&format!("/api/v1/credentials/{id}"))
        .await;
    server.stop().await;

    let server = TestServer::start(env.settings(KEY_A, None)).await;
    let (_, after) = server
        .api(&key)
        .get(&format!("/api/v1/credentials/{id}"))
        .await;
    assert_eq!(
        before, after,
        "the same credential after a restart, and the same API key works"
    );
    let stored = server.state.credentials.get(&id).await.unwrap();
    assert_eq!(stored.data.expose()["clientSecret"], "s3cr3t-oauth-value");
    server.stop().await;
}

/// `/healthz` is liveness and reads nothing; `/readyz` says 503 once the database no longer
/// holds this build's schema (dropped and recreated empty), and 200 again when it does.
async fn readiness_follows_the_database_schema(backend: Backend) {
    let Some((env, server, _key)) = setup(backend, "readiness_follows_the_database_schema").await
    else {
        return;
    };
    let anonymous = server.anonymous();
    let status = |path: &'static str| {
        let anonymous = anonymous.clone();
        async move { anonymous.get(path).await.0 }
    };
    assert_eq!(status("/readyz").await, StatusCode::OK);
    assert_eq!(status("/healthz").await, StatusCode::OK);

    // Another client empties the database, as `DROP DATABASE` + `CREATE DATABASE` would.
    let raw = sqlx::AnyPool::connect(&env.database_url).await.unwrap();
    let empty = match backend {
        Backend::Sqlite => "DROP TABLE _sqlx_migrations",
        Backend::Postgres => "DROP SCHEMA public CASCADE; CREATE SCHEMA public",
    };
    sqlx::raw_sql(empty).execute(&raw).await.unwrap();

    let (ready, text) = anonymous.get_text("/readyz").await;
    assert_eq!(ready, StatusCode::SERVICE_UNAVAILABLE);
    assert!(text.contains("schema"), "the answer says what is wrong");
    assert_eq!(
        status("/healthz").await,
        StatusCode::OK,
        "liveness does not depend on the database"
    );
    raw.close().await;
    server.stop().await;
}

async fn list_pages_with_limit_and_cursor_and_audit_is_readable(backend: Backend) {
    let Some((_env, server, key)) = setup(
        backend,
        "list_pages_with_limit_and_cursor_and_audit_is_readable",
    )
    .await
    else {
        return;
    };
    let api = server.api(&key);
    let mut created = Vec::new();
    for n in 0..5 {
        let (status, body) = api
            .post_json(
                "/api/v1/credentials",
                &json!({"name": format!("basic {n}"), "type": "httpBasicAuth",
                        "data": {"user": "u", "password": "p"}}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        created.push(body["id"].as_str().unwrap().to_owned());
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let url = match &cursor {
            Some(c) => format!("/api/v1/credentials?limit=2&cursor={c}"),
            None => "/api/v1/credentials?limit=2".to_owned(),
        };
        let (status, body) = api.get(&url).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let rows = body["data"].as_array().unwrap();
        assert!(rows.len() <= 2, "{body}");
        seen.extend(rows.iter().map(|r| r["id"].as_str().unwrap().to_owned()));
        pages += 1;
        match body["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, created, "every credential once, in creation order");
    let (status, body) = api.get("/api/v1/credentials?cursor=bogus").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["message"].as_str().unwrap().contains("cursor"),
        "{body}"
    );

    // The audit log names who created each credential, newest first, and never a secret.
    let (status, body) = api.get("/api/v1/audit?limit=3").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let rows = body["data"].as_array().unwrap();
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[0]["credentialId"], created[4].as_str());
    assert_eq!(rows[0]["action"], "created");
    assert!(
        rows[0]["actor"].as_str().unwrap().starts_with("api_key:"),
        "{body}"
    );
    let (status, body) = api
        .get(&format!("/api/v1/audit?credentialId={}", created[0]))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["data"].as_array().unwrap().len(), 1);
    assert!(!body.to_string().contains("\"p\""));
    let (status, _) = server.anonymous().get("/api/v1/audit").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    server.stop().await;
}
