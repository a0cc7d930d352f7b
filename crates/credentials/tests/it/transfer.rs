//! Export and import in n8n's format, on both backends.

use credentials::{Actor, Error, ExportedCredential, ImportReport, NewCredential};
use db::Db;
use serde_json::{json, Value};

use crate::both_backends;
use crate::common::{another_db_like, count, ring, rsa_pkcs8_pem, store};

/// The export as JSON, in id order: credentials created in the same millisecond (as an
/// import does) have no other order.
fn by_id(mut items: Vec<ExportedCredential>) -> Value {
    items.sort_by(|a, b| a.id.cmp(&b.id));
    serde_json::to_value(items).unwrap()
}

async fn export_import_round_trip(db: Db) {
    let source = store(&db, ring());
    let jwt = source
        .create(
            NewCredential {
                id: None,
                name: "JWT".into(),
                type_name: "salesforceJwtApi".into(),
                data: json!({"environment": "sandbox", "clientId": "3MVG9-j", "username": "u@acme.com", "privateKey": rsa_pkcs8_pem()}),
            },
            &Actor::Cli,
        )
        .await
        .unwrap();
    let oauth = source
        .create(
            NewCredential {
                id: None,
                name: "OAuth".into(),
                type_name: "salesforceOAuth2Api".into(),
                data: json!({"clientId": "3MVG9-o", "clientSecret": "s3cr3t"}),
            },
            &Actor::Cli,
        )
        .await
        .unwrap();
    let token = json!({"access_token": "00D!tok", "refresh_token": "5Aep", "instance_url": "https://acme.my.salesforce.com"});
    source
        .set_token_data(&oauth.id, Some(token.clone()))
        .await
        .unwrap();
    let cc = source
        .create(
            NewCredential {
                id: Some("ccFixedId".into()),
                name: "CC".into(),
                type_name: "salesforceClientCredentialsApi".into(),
                data: json!({"url": "https://acme.my.salesforce.com", "clientId": "3MVG9-c", "clientSecret": "c-secret"}),
            },
            &Actor::Cli,
        )
        .await
        .unwrap();
    assert_eq!(cc.id, "ccFixedId");
    // JWT token caches are not exported: they are minted again on demand.
    source
        .set_token_data(&jwt.id, Some(json!({"access_token": "jwt-cached"})))
        .await
        .unwrap();

    let file = by_id(source.export_decrypted().await.unwrap());
    assert_eq!(
        file,
        by_id(serde_json::from_value(json!([
            {"id": jwt.id, "name": "JWT", "type": "salesforceJwtApi", "data": {"environment": "sandbox", "clientId": "3MVG9-j", "username": "u@acme.com", "privateKey": rsa_pkcs8_pem()}},
            {"id": oauth.id, "name": "OAuth", "type": "salesforceOAuth2Api", "data": {"environment": "production", "clientId": "3MVG9-o", "clientSecret": "s3cr3t", "oauthTokenData": token}},
            {"id": "ccFixedId", "name": "CC", "type": "salesforceClientCredentialsApi", "data": {"url": "https://acme.my.salesforce.com", "clientId": "3MVG9-c", "clientSecret": "c-secret"}},
        ])).unwrap())
    );

    // Into an empty database (with another key), through the file's JSON text.
    let mut dirs = Vec::new();
    let target_db = another_db_like(&db, &mut dirs).await;
    let target = store(&target_db, ring());
    let parsed: Vec<ExportedCredential> =
        serde_json::from_str(&serde_json::to_string_pretty(&file).unwrap()).unwrap();
    assert_eq!(
        target.import(parsed.clone(), &Actor::Cli).await.unwrap(),
        ImportReport {
            created: 3,
            updated: 0
        }
    );
    assert_eq!(by_id(target.export_decrypted().await.unwrap()), file);
    let got = target.get(&oauth.id).await.unwrap();
    assert_eq!(
        Value::Object(got.token_data.unwrap().expose().clone()),
        token
    );
    assert!(
        got.data.expose().get("oauthTokenData").is_none(),
        "token data is kept apart from the fields"
    );

    // Importing again overwrites by id.
    assert_eq!(
        target.import(parsed, &Actor::Cli).await.unwrap(),
        ImportReport {
            created: 0,
            updated: 3
        }
    );
    assert_eq!(target.list().await.unwrap().len(), 3);
    let imported = count(
        &target_db,
        "SELECT COUNT(*) FROM credential_audit WHERE action = 'imported' AND actor = 'cli'",
    )
    .await;
    assert_eq!(imported, 6);
}
both_backends!(export_import_round_trip);

/// A file as `n8n export:credentials --decrypted` writes it, with n8n's extra keys.
fn n8n_file(second_environment: &str) -> String {
    format!(
        r#"[
  {{
    "createdAt": "2025-05-02T10:11:12.000Z",
    "updatedAt": "2025-05-02T10:11:12.000Z",
    "id": "Xk2nS0p3QwErTy12",
    "name": "Salesforce account",
    "data": {{
      "environment": "production",
      "clientId": "3MVG9n8n",
      "clientSecret": "n8n-client-secret",
      "csrfSecret": "n8n-csrf",
      "codeVerifier": "n8n-verifier",
      "oauthTokenData": {{"access_token": "00Dn8n", "refresh_token": "5Aepn8n", "instance_url": "https://acme.my.salesforce.com"}}
    }},
    "type": "salesforceOAuth2Api",
    "isManaged": false
  }},
  {{
    "id": "Jw7nS0p3QwErTy34",
    "name": "Salesforce JWT",
    "data": {{"environment": "{second_environment}", "clientId": "3MVG9jwt", "username": "a@acme.com", "privateKey": "{key}"}},
    "type": "salesforceJwtApi"
  }}
]"#,
        key = rsa_pkcs8_pem().replace('\n', "\\n")
    )
}

async fn import_of_n8n_file(db: Db) {
    let s = store(&db, ring());
    let items: Vec<ExportedCredential> = serde_json::from_str(&n8n_file("sandbox")).unwrap();
    assert_eq!(
        s.import(items, &Actor::Cli).await.unwrap(),
        ImportReport {
            created: 2,
            updated: 0
        }
    );
    let oauth = s.get("Xk2nS0p3QwErTy12").await.unwrap();
    let keys: Vec<&String> = oauth.data.expose().keys().collect();
    assert_eq!(
        keys,
        ["environment", "clientId", "clientSecret"],
        "n8n-internal keys dropped"
    );
    assert_eq!(
        oauth.token_data.unwrap().get_str("refresh_token"),
        Some("5Aepn8n")
    );
    assert_eq!(
        s.get("Jw7nS0p3QwErTy34")
            .await
            .unwrap()
            .data
            .get_str("privateKey"),
        Some(rsa_pkcs8_pem())
    );
}
both_backends!(import_of_n8n_file);

async fn import_with_one_bad_item_stores_nothing(db: Db) {
    let s = store(&db, ring());
    let mut items: Vec<ExportedCredential> = serde_json::from_str(&n8n_file("staging")).unwrap();
    items.push(ExportedCredential {
        id: "Xk2nS0p3QwErTy12".into(),
        name: "dup".into(),
        type_name: "salesforceOAuth2Api".into(),
        data: json!({"clientId": "c", "clientSecret": "s"}),
    });
    items.push(ExportedCredential {
        id: "unknownType01".into(),
        name: "u".into(),
        type_name: "httpBasicAuth".into(),
        data: json!({}),
    });
    let Err(Error::Invalid(err)) = s.import(items, &Actor::Cli).await else {
        panic!("expected Invalid")
    };
    let fields: Vec<&str> = err.problems.iter().map(|p| p.field.as_str()).collect();
    assert_eq!(
        fields,
        [
            "items[1] (id \"Jw7nS0p3QwErTy34\").data.environment",
            "items[2] (id \"Xk2nS0p3QwErTy12\").id",
            "items[3] (id \"unknownType01\").type",
        ]
    );
    let msg = err.to_string();
    assert!(
        msg.contains("got \"staging\"") && msg.contains("httpBasicAuth"),
        "{msg}"
    );
    assert!(!msg.contains("n8n-client-secret"));
    assert_eq!(
        count(&db, "SELECT COUNT(*) FROM credentials").await,
        0,
        "nothing stored"
    );
    assert_eq!(count(&db, "SELECT COUNT(*) FROM credential_audit").await, 0);
}
both_backends!(import_with_one_bad_item_stores_nothing);
