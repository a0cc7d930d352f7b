//! Secrets never appear in errors, `Debug` output or logs.

use std::sync::Arc;

use credentials::{
    Actor, CredentialPatch, CredentialTypes, EncryptionKey, Error, ExportedCredential, KeyConfig,
    KeyRing, NewCredential, RotateOptions, SecretData, VaultError,
};
use secrecy::SecretString;
use serde_json::json;

use crate::common::{key_fragment, rsa_pkcs1_pem, store};

const CLIENT_SECRET: &str = "cs-9f8e7d6c5b4a-never-show";
const ACCESS_TOKEN: &str = "00D5g000004XYZ!AQ-never-show";
const KEY_HEX: &str = "5f1c0ab8d3e44f2a9b6c7d8e9f00112233445566778899aabbccddeeff001122";

/// Every string that must never be shown, including pieces of them.
fn secrets() -> Vec<String> {
    let key_b64 = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(hex::decode(KEY_HEX).unwrap())
    };
    vec![
        CLIENT_SECRET.into(),
        "9f8e7d6c5b4a".into(),
        ACCESS_TOKEN.into(),
        "004XYZ!AQ".into(),
        KEY_HEX.into(),
        KEY_HEX[..16].into(),
        key_b64[..16].into(),
        key_fragment(rsa_pkcs1_pem()),
        key_fragment(rsa_pkcs1_pem())[..12].into(),
    ]
}

fn assert_clean(what: &str, text: &str) {
    for secret in secrets() {
        assert!(
            !text.contains(&secret),
            "{what} shows a secret ({secret}): {text}"
        );
    }
}

fn jwt_data() -> serde_json::Value {
    json!({"clientId": "c", "username": "u@acme.com", "privateKey": rsa_pkcs1_pem()})
}

#[tokio::test]
async fn errors_and_debug_output_hold_no_secret() {
    let key = EncryptionKey::parse(KEY_HEX).unwrap();
    let ring = KeyRing::new(key.clone(), vec![]);
    assert_clean("EncryptionKey", &format!("{key:?}"));
    assert_clean("KeyRing", &format!("{ring:?}"));

    let (db, _dir) = db::testing::sqlite().await;
    let s = store(&db, Arc::new(ring));
    let jwt = s
        .create(
            NewCredential {
                id: None,
                name: "j".into(),
                type_name: "salesforceJwtApi".into(),
                data: jwt_data(),
            },
            &Actor::Cli,
        )
        .await
        .unwrap();
    let oauth_data = json!({"clientId": "c", "clientSecret": CLIENT_SECRET});
    let new = NewCredential {
        id: None,
        name: "o".into(),
        type_name: "salesforceOAuth2Api".into(),
        data: oauth_data.clone(),
    };
    assert_clean("NewCredential", &format!("{new:?}"));
    let oauth = s.create(new, &Actor::Cli).await.unwrap();
    s.set_token_data(&oauth.id, Some(json!({"access_token": ACCESS_TOKEN})))
        .await
        .unwrap();

    let credential = s.get(&oauth.id).await.unwrap();
    assert_eq!(
        credential.data.get_str("clientSecret"),
        Some(CLIENT_SECRET),
        "the secret is really there"
    );
    let debug = format!("{credential:?}");
    assert!(
        debug.contains("clientSecret: [redacted]")
            || debug.contains("\"clientSecret\": [redacted]"),
        "{debug}"
    );
    assert_clean("Credential", &debug);
    assert_clean("Credential (pretty)", &format!("{credential:#?}"));
    assert_clean(
        "SecretData",
        &format!("{:?}", credential.token_data.as_ref().unwrap()),
    );
    assert_clean(
        "SecretData::new",
        &format!(
            "{:?}",
            SecretData::new(oauth_data.as_object().unwrap().clone())
        ),
    );
    assert_clean(
        "Credential (jwt)",
        &format!("{:?}", s.get(&jwt.id).await.unwrap()),
    );
    assert_clean("CredentialStore", &format!("{s:?}"));
    let patch = CredentialPatch {
        name: None,
        data: Some(json!({"clientSecret": CLIENT_SECRET})),
    };
    assert_clean("CredentialPatch", &format!("{patch:?}"));
    let exported = s.export_decrypted().await.unwrap();
    assert!(
        serde_json::to_string(&exported)
            .unwrap()
            .contains(CLIENT_SECRET),
        "the export does hold it"
    );
    assert_clean("ExportedCredential", &format!("{exported:?}"));
    let (_, redacted) = s.get_redacted(&oauth.id).await.unwrap();
    assert_clean("get_redacted", &serde_json::to_string(&redacted).unwrap());

    // Errors built from secret-bearing input.
    let mut errors: Vec<Error> = Vec::new();
    let bad_key = json!({"clientId": "c", "username": "u", "privateKey": format!("{CLIENT_SECRET}{}", key_fragment(rsa_pkcs1_pem()))});
    errors.push(
        CredentialTypes::new(salesforce_node::credential_types::credential_types())
            .expect("distinct types")
            .get("salesforceJwtApi")
            .unwrap()
            .validate(&bad_key, &Default::default())
            .unwrap_err()
            .into(),
    );
    let wrong_types = json!({"clientId": CLIENT_SECRET, "clientSecret": 1, "environment": ["x"], "clientSecrte": ACCESS_TOKEN});
    errors.push(
        CredentialTypes::new(salesforce_node::credential_types::credential_types())
            .expect("distinct types")
            .get("salesforceOAuth2Api")
            .unwrap()
            .validate(&wrong_types, &Default::default())
            .unwrap_err()
            .into(),
    );
    let bad_url = json!({"url": format!("https://user:{CLIENT_SECRET}@acme.my.salesforce.com"), "clientId": "c", "clientSecret": "s"});
    errors.push(
        CredentialTypes::new(salesforce_node::credential_types::credential_types())
            .expect("distinct types")
            .get("salesforceClientCredentialsApi")
            .unwrap()
            .validate(&bad_url, &Default::default())
            .unwrap_err()
            .into(),
    );
    let bad_url = json!({"url": format!("http://acme.example/{CLIENT_SECRET}"), "clientId": "c", "clientSecret": "s"});
    errors.push(
        CredentialTypes::new(salesforce_node::credential_types::credential_types())
            .expect("distinct types")
            .get("salesforceClientCredentialsApi")
            .unwrap()
            .validate(&bad_url, &Default::default())
            .unwrap_err()
            .into(),
    );
    errors.push(
        s.update(
            &oauth.id,
            CredentialPatch {
                name: None,
                data: Some(json!({"clientSecret": 5, "environment": CLIENT_SECRET.len()})),
            },
            &Actor::Cli,
        )
        .await
        .unwrap_err(),
    );
    errors.push(
        s.set_token_data(&oauth.id, Some(json!(ACCESS_TOKEN)))
            .await
            .unwrap_err(),
    );
    let bad_import = vec![ExportedCredential {
        id: "x".into(),
        name: "x".into(),
        type_name: "salesforceOAuth2Api".into(),
        data: json!({"clientSecret": CLIENT_SECRET, "oauthTokenData": ACCESS_TOKEN}),
    }];
    errors.push(s.import(bad_import, &Actor::Cli).await.unwrap_err());
    errors.push(Error::Vault(VaultError::KeyFormat {
        source_name: "SWITCHYARD_ENCRYPTION_KEY".into(),
        error: EncryptionKey::parse(&KEY_HEX[..62]).unwrap_err(),
    }));
    errors.push(
        EncryptionKey::parse(&format!("{KEY_HEX}00"))
            .map(|_| ())
            .map_err(|error| VaultError::KeyFormat {
                source_name: "k".into(),
                error,
            })
            .unwrap_err()
            .into(),
    );
    let cfg = KeyConfig {
        key: Some(SecretString::from(CLIENT_SECRET.to_owned())),
        key_file: None,
        previous: None,
        data_dir: "/nonexistent".into(),
    };
    errors.push(KeyRing::load(&cfg).unwrap_err().into());
    let cfg = KeyConfig {
        key: Some(SecretString::from(KEY_HEX.to_owned())),
        previous: Some(SecretString::from(format!("{KEY_HEX},{CLIENT_SECRET}"))),
        ..cfg
    };
    errors.push(KeyRing::load(&cfg).unwrap_err().into());
    let other = store(
        &db,
        Arc::new(KeyRing::new(EncryptionKey::generate(), vec![])),
    );
    errors.push(other.check_keys().await.unwrap_err());
    errors.push(other.get(&oauth.id).await.unwrap_err());
    errors.push(
        other
            .rotate(RotateOptions::default(), |_| {})
            .await
            .unwrap_err(),
    );
    errors.push(Error::Decrypt {
        credential_id: oauth.id.clone(),
    });
    errors.push(Error::Vault(VaultError::Decrypt));
    errors.push(Error::Database(sqlx::Error::RowNotFound));
    for err in &errors {
        assert_clean("error Display", &err.to_string());
        assert_clean("error Debug", &format!("{err:?}"));
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_full_cycle_logged_at_trace_shows_no_secret() {
    let captured = testkit::LogCapture::this_thread(tracing::Level::TRACE);

    let (db, _dir) = db::testing::sqlite().await;
    let old = EncryptionKey::parse(KEY_HEX).unwrap();
    let s = store(&db, Arc::new(KeyRing::new(old.clone(), vec![])));
    let data = json!({"clientId": "c", "clientSecret": CLIENT_SECRET});
    let c = s
        .create(
            NewCredential {
                id: None,
                name: "o".into(),
                type_name: "salesforceOAuth2Api".into(),
                data,
            },
            &Actor::Cli,
        )
        .await
        .unwrap();
    s.set_token_data(&c.id, Some(json!({"access_token": ACCESS_TOKEN})))
        .await
        .unwrap();
    s.get(&c.id).await.unwrap();
    s.get_redacted(&c.id).await.unwrap();
    let patch = CredentialPatch {
        name: Some("n".into()),
        data: Some(json!({"clientSecret": format!("{CLIENT_SECRET}-2")})),
    };
    s.update(&c.id, patch, &Actor::Cli).await.unwrap();
    let jwt = json!({"clientId": "c", "username": "u", "privateKey": rsa_pkcs1_pem()});
    s.create(
        NewCredential {
            id: None,
            name: "j".into(),
            type_name: "salesforceJwtApi".into(),
            data: jwt,
        },
        &Actor::Cli,
    )
    .await
    .unwrap();
    let rotating = store(
        &db,
        Arc::new(KeyRing::new(EncryptionKey::generate(), vec![old])),
    );
    rotating
        .rotate(RotateOptions::default(), |_| {})
        .await
        .unwrap();
    let exported = rotating.export_decrypted().await.unwrap();
    rotating.import(exported, &Actor::Cli).await.unwrap();
    rotating.delete(&c.id, &Actor::Cli).await.unwrap();

    let logs = captured.text();
    assert!(
        logs.contains("key rotation finished") && logs.contains("credential created"),
        "logging was captured: {logs}"
    );
    assert_clean("logs", &logs);
}
