//! The store story on both backends: create, get, list, update, delete, audit, token
//! data, tampering, missing keys, and nothing stored on any error.

use db::Db;
use std::sync::Arc;

use credentials::{
    Actor, AuditAction, CredentialPatch, EncryptionKey, Error, KeyRing, NewCredential, REDACTED,
};
use serde_json::{json, Value};

use crate::both_backends;
use crate::common::{count, ring, rsa_pkcs1_pem, store};

fn api_key() -> Actor {
    Actor::ApiKey {
        id: "k1".into(),
        name: "ci".into(),
    }
}

fn jwt(name: &str, key: &str) -> NewCredential {
    NewCredential {
        id: None,
        name: name.into(),
        type_name: "salesforceJwtApi".into(),
        data: json!({"clientId": "3MVG9-jwt", "username": "int@acme.com", "privateKey": key, "myDomainUrl": "https://acme.my.salesforce.com"}),
    }
}

fn oauth(name: &str) -> NewCredential {
    NewCredential {
        id: None,
        name: name.into(),
        type_name: "salesforceOAuth2Api".into(),
        data: json!({"environment": "sandbox", "clientId": "3MVG9-oauth", "clientSecret": "oauth-secret-value"}),
    }
}

async fn crud(db: Db) {
    let store = store(&db, ring());
    // A key pasted with its newlines turned into spaces is stored repaired.
    let pasted = rsa_pkcs1_pem().replace('\n', " ");
    let a = store
        .create(jwt("Acme JWT", &pasted), &api_key())
        .await
        .unwrap();
    assert_eq!(a.id.len(), 16);
    assert!(a.id.bytes().all(|b| b.is_ascii_alphanumeric()));
    assert_eq!(a.type_name, "salesforceJwtApi");
    assert_eq!(a.created_at, a.updated_at);
    let b = store
        .create(oauth("Acme OAuth"), &Actor::Cli)
        .await
        .unwrap();

    let got = store.get(&a.id).await.unwrap();
    assert_eq!(got.meta, a);
    assert_eq!(got.data.get_str("privateKey"), Some(rsa_pkcs1_pem()));
    assert_eq!(
        got.data.get_str("environment"),
        Some("production"),
        "default filled"
    );
    assert!(got.token_data.is_none());

    let listed = store.list().await.unwrap();
    assert_eq!(listed, vec![a.clone(), b.clone()]);

    let (meta, redacted) = store.get_redacted(&a.id).await.unwrap();
    assert_eq!(meta, a);
    assert_eq!(redacted["privateKey"], REDACTED);
    assert_eq!(redacted["clientId"], "3MVG9-jwt");

    // The placeholder keeps the stored secret, null removes an optional field.
    let mut patch_data = redacted.clone();
    patch_data.insert("clientId".into(), json!("3MVG9-new"));
    patch_data.insert("myDomainUrl".into(), Value::Null);
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let updated = store
        .update(
            &a.id,
            CredentialPatch {
                name: None,
                data: Some(Value::Object(patch_data)),
            },
            &api_key(),
        )
        .await
        .unwrap();
    assert!(updated.updated_at > a.updated_at);
    assert_eq!(updated.created_at, a.created_at);
    let got = store.get(&a.id).await.unwrap();
    assert_eq!(got.data.get_str("privateKey"), Some(rsa_pkcs1_pem()));
    assert_eq!(got.data.get_str("clientId"), Some("3MVG9-new"));
    assert!(got.data.expose().get("myDomainUrl").is_none());
    assert_eq!(got.meta, updated);

    let renamed = store
        .update(
            &b.id,
            CredentialPatch {
                name: Some("  Renamed  ".into()),
                data: None,
            },
            &Actor::Cli,
        )
        .await
        .unwrap();
    assert_eq!(renamed.name, "Renamed");
    assert_eq!(
        store.get(&b.id).await.unwrap().data.get_str("clientSecret"),
        Some("oauth-secret-value")
    );

    store.delete(&a.id, &api_key()).await.unwrap();
    assert!(matches!(store.get(&a.id).await, Err(Error::NotFound { id }) if id == a.id));
    assert_eq!(store.list().await.unwrap().len(), 1);

    let audit = store.audit(Some(&a.id), 10).await.unwrap();
    let actions: Vec<AuditAction> = audit.iter().map(|e| e.action).collect();
    assert_eq!(
        actions,
        [
            AuditAction::Deleted,
            AuditAction::Updated,
            AuditAction::Created
        ],
        "newest first"
    );
    assert!(audit
        .iter()
        .all(|e| e.actor == "api_key:k1:ci" && e.credential_name.as_deref() == Some("Acme JWT")));
    let all = store.audit(None, 100).await.unwrap();
    assert_eq!(all.len(), 5);
    assert_eq!(all[1].actor, "cli");
    assert_eq!(all[1].credential_name.as_deref(), Some("Renamed"));
    assert_eq!(store.audit(None, 2).await.unwrap().len(), 2);

    // Serialized as n8n does.
    let json = serde_json::to_value(&renamed).unwrap();
    assert_eq!(json["type"], "salesforceOAuth2Api");
    let created = json["createdAt"].as_str().unwrap();
    assert!(
        created.ends_with('Z') && created.len() == "2026-01-01T00:00:00.000Z".len(),
        "{created}"
    );
    assert!(json.get("data").is_none());

    // Unknown ids are NotFound everywhere.
    let nobody = "doesNotExist0000";
    assert!(matches!(
        store.get(nobody).await,
        Err(Error::NotFound { .. })
    ));
    assert!(matches!(
        store.get_redacted(nobody).await,
        Err(Error::NotFound { .. })
    ));
    assert!(matches!(
        store.delete(nobody, &Actor::Cli).await,
        Err(Error::NotFound { .. })
    ));
    assert!(matches!(
        store
            .update(nobody, CredentialPatch::default(), &Actor::Cli)
            .await,
        Err(Error::NotFound { .. })
    ));
    assert!(matches!(
        store.set_token_data(nobody, Some(json!({"a": 1}))).await,
        Err(Error::NotFound { .. })
    ));
}
both_backends!(crud);

/// Snapshot of everything a failed call must leave untouched.
async fn snapshot(db: &Db) -> Vec<(String, String, String, Vec<u8>, String)> {
    sqlx::query_as("SELECT id, name, data_key_id, data, updated_at FROM credentials ORDER BY id")
        .fetch_all(db.pool())
        .await
        .unwrap()
}

async fn nothing_stored_on_error(db: Db) {
    let store = store(&db, ring());
    let ok = store.create(oauth("ok"), &Actor::Cli).await.unwrap();
    let before = snapshot(&db).await;
    let audit_before = count(&db, "SELECT COUNT(*) FROM credential_audit").await;

    let mut unknown = oauth("x");
    unknown.type_name = "salesforceOAuth3Api".into();
    assert!(
        matches!(store.create(unknown, &Actor::Cli).await, Err(Error::UnknownType { type_name }) if type_name == "salesforceOAuth3Api")
    );

    let bad = NewCredential {
        id: Some("bad id!".into()),
        name: " ".into(),
        type_name: "salesforceOAuth2Api".into(),
        data: json!({"environment": "prod"}),
    };
    let Err(Error::Invalid(err)) = store.create(bad, &Actor::Cli).await else {
        panic!("expected Invalid")
    };
    let fields: Vec<&str> = err.problems.iter().map(|p| p.field.as_str()).collect();
    assert_eq!(
        fields,
        ["id", "name", "environment", "clientId", "clientSecret"]
    );

    let not_object = NewCredential {
        data: json!("text"),
        ..oauth("x")
    };
    assert!(
        matches!(store.create(not_object, &Actor::Cli).await, Err(Error::Invalid(e)) if e.problems[0].field == "data")
    );

    let dup = NewCredential {
        id: Some(ok.id.clone()),
        ..oauth("dup")
    };
    assert!(
        matches!(store.create(dup, &Actor::Cli).await, Err(Error::AlreadyExists { id }) if id == ok.id)
    );

    let bad_patch = CredentialPatch {
        name: Some("".into()),
        data: Some(json!({"environment": "prod", "clientSecret": null})),
    };
    let Err(Error::Invalid(err)) = store.update(&ok.id, bad_patch, &Actor::Cli).await else {
        panic!("expected Invalid")
    };
    let fields: Vec<&str> = err.problems.iter().map(|p| p.field.as_str()).collect();
    assert_eq!(fields, ["name", "environment", "clientSecret"]);
    let typo = CredentialPatch {
        name: Some("fine".into()),
        data: Some(json!({"clientSecrte": "x"})),
    };
    assert!(matches!(
        store.update(&ok.id, typo, &Actor::Cli).await,
        Err(Error::Invalid(_))
    ));
    let array = CredentialPatch {
        name: None,
        data: Some(json!([])),
    };
    assert!(
        matches!(store.update(&ok.id, array, &Actor::Cli).await, Err(Error::Invalid(e)) if e.problems[0].field == "data")
    );
    assert!(matches!(
        store.set_token_data(&ok.id, Some(json!("tok"))).await,
        Err(Error::Invalid(_))
    ));

    assert_eq!(snapshot(&db).await, before, "no row changed");
    assert_eq!(
        count(&db, "SELECT COUNT(*) FROM credential_audit").await,
        audit_before,
        "no audit row"
    );
    assert_eq!(
        store
            .get(&ok.id)
            .await
            .unwrap()
            .data
            .get_str("clientSecret"),
        Some("oauth-secret-value")
    );
    // An update that changes nothing writes nothing either.
    let same = CredentialPatch {
        name: Some("ok".into()),
        data: Some(json!({"clientSecret": REDACTED})),
    };
    assert_eq!(store.update(&ok.id, same, &Actor::Cli).await.unwrap(), ok);
    assert_eq!(snapshot(&db).await, before);
}
both_backends!(nothing_stored_on_error);

async fn token_data_round_trip(db: Db) {
    let store = store(&db, ring());
    let c = store.create(oauth("o"), &Actor::Cli).await.unwrap();
    let token = json!({"access_token": "00Dxx!AQ-access", "refresh_token": "5Aep-refresh", "instance_url": "https://acme.my.salesforce.com"});
    store
        .set_token_data(&c.id, Some(token.clone()))
        .await
        .unwrap();
    let got = store.get(&c.id).await.unwrap();
    assert_eq!(
        Value::Object(got.token_data.unwrap().expose().clone()),
        token
    );
    assert_eq!(
        got.meta.updated_at, c.updated_at,
        "token refreshes do not count as edits"
    );
    let (_, redacted) = store.get_redacted(&c.id).await.unwrap();
    assert!(
        redacted.get("oauthTokenData").is_none(),
        "token data is never part of the shown data"
    );

    // Stored apart from the data, with its own key id.
    let (key_id, blob): (Option<String>, Option<Vec<u8>>) =
        sqlx::query_as("SELECT token_key_id, token_data FROM credentials WHERE id = $1")
            .bind(&c.id)
            .fetch_one(db.pool())
            .await
            .unwrap();
    assert_eq!(key_id.as_deref(), Some(store.keys().current_id()));
    assert!(!String::from_utf8_lossy(&blob.unwrap()).contains("refresh"));

    // Changing the data clears tokens issued for the old settings; renaming does not.
    store
        .update(
            &c.id,
            CredentialPatch {
                name: Some("renamed".into()),
                data: None,
            },
            &Actor::Cli,
        )
        .await
        .unwrap();
    assert!(store.get(&c.id).await.unwrap().token_data.is_some());
    let patch = CredentialPatch {
        name: None,
        data: Some(json!({"clientId": "3MVG9-other"})),
    };
    store.update(&c.id, patch, &Actor::Cli).await.unwrap();
    assert!(store.get(&c.id).await.unwrap().token_data.is_none());

    store.set_token_data(&c.id, Some(token)).await.unwrap();
    store.set_token_data(&c.id, None).await.unwrap();
    assert!(store.get(&c.id).await.unwrap().token_data.is_none());
    assert_eq!(count(&db, "SELECT COUNT(*) FROM credentials WHERE token_data IS NOT NULL OR token_key_id IS NOT NULL").await, 0);
}
both_backends!(token_data_round_trip);

async fn tampered_or_moved_ciphertext_fails(db: Db) {
    let store = store(&db, ring()).with_cache_ttl(std::time::Duration::ZERO);
    let a = store.create(oauth("a"), &Actor::Cli).await.unwrap();
    let b = store.create(oauth("b"), &Actor::Cli).await.unwrap();
    store
        .set_token_data(&a.id, Some(json!({"access_token": "t"})))
        .await
        .unwrap();

    // A's ciphertext copied into B's row does not decrypt: the id is the associated data.
    sqlx::query(
        "UPDATE credentials SET data = (SELECT data FROM credentials WHERE id = $1) WHERE id = $2",
    )
    .bind(&a.id)
    .bind(&b.id)
    .execute(db.pool())
    .await
    .unwrap();
    let err = store.get(&b.id).await.unwrap_err();
    assert!(
        matches!(&err, Error::Decrypt { credential_id } if *credential_id == b.id),
        "{err}"
    );
    assert!(err.to_string().contains(&b.id));
    assert!(store.get(&a.id).await.is_ok());

    // A's data blob moved into its own token column does not decrypt either.
    sqlx::query("UPDATE credentials SET token_data = data WHERE id = $1")
        .bind(&a.id)
        .execute(db.pool())
        .await
        .unwrap();
    assert!(matches!(store.get(&a.id).await, Err(Error::Decrypt { .. })));

    // A flipped byte fails with an error, not a panic.
    let c = store.create(oauth("c"), &Actor::Cli).await.unwrap();
    let (mut blob,): (Vec<u8>,) = sqlx::query_as("SELECT data FROM credentials WHERE id = $1")
        .bind(&c.id)
        .fetch_one(db.pool())
        .await
        .unwrap();
    let last = blob.len() - 1;
    blob[last] ^= 0x80;
    sqlx::query("UPDATE credentials SET data = $1 WHERE id = $2")
        .bind(blob)
        .bind(&c.id)
        .execute(db.pool())
        .await
        .unwrap();
    assert!(
        matches!(store.get(&c.id).await, Err(Error::Decrypt { credential_id }) if credential_id == c.id)
    );
    assert!(matches!(
        store
            .update(
                &c.id,
                CredentialPatch {
                    name: None,
                    data: Some(json!({"clientId": "x"}))
                },
                &Actor::Cli
            )
            .await,
        Err(Error::Decrypt { .. })
    ));
}
both_backends!(tampered_or_moved_ciphertext_fails);

async fn check_keys_refuses_a_ring_without_the_needed_key(db: Db) {
    let old = EncryptionKey::generate();
    let old_store = store(&db, Arc::new(KeyRing::new(old.clone(), vec![])));
    old_store.check_keys().await.unwrap();
    let c = old_store.create(oauth("o"), &Actor::Cli).await.unwrap();
    old_store
        .set_token_data(&c.id, Some(json!({"access_token": "t"})))
        .await
        .unwrap();
    old_store.check_keys().await.unwrap();

    let wrong = store(&db, ring());
    let err = wrong.check_keys().await.unwrap_err();
    assert!(
        matches!(&err, Error::MissingKey { key_id, rows: 2 } if key_id == old.id()),
        "{err}"
    );
    let msg = err.to_string();
    assert!(
        msg.contains(old.id()) && msg.contains("SWITCHYARD_PREVIOUS_ENCRYPTION_KEYS"),
        "{msg}"
    );
    assert!(
        matches!(wrong.get(&c.id).await, Err(Error::MissingKey { key_id, .. }) if key_id == old.id())
    );

    let with_previous = store(
        &db,
        Arc::new(KeyRing::new(EncryptionKey::generate(), vec![old])),
    );
    with_previous.check_keys().await.unwrap();
    assert_eq!(
        with_previous
            .get(&c.id)
            .await
            .unwrap()
            .data
            .get_str("clientSecret"),
        Some("oauth-secret-value")
    );
}
both_backends!(check_keys_refuses_a_ring_without_the_needed_key);

async fn cache_never_serves_a_row_older_than_this_process_wrote(db: Db) {
    let store = store(&db, ring());
    let other_process = store.clone().with_cache_ttl(std::time::Duration::ZERO);
    let c = store.create(oauth("o"), &Actor::Cli).await.unwrap();
    assert_eq!(
        store.get(&c.id).await.unwrap().data.get_str("clientId"),
        Some("3MVG9-oauth")
    );
    // Writes through a clone of the store are seen at once.
    let patch = CredentialPatch {
        name: None,
        data: Some(json!({"clientId": "v2"})),
    };
    store
        .clone()
        .update(&c.id, patch, &Actor::Cli)
        .await
        .unwrap();
    assert_eq!(
        store.get(&c.id).await.unwrap().data.get_str("clientId"),
        Some("v2")
    );
    store
        .set_token_data(&c.id, Some(json!({"access_token": "t"})))
        .await
        .unwrap();
    assert!(store.get(&c.id).await.unwrap().token_data.is_some());
    // A write by another store (another process) is seen after the bound.
    let patch = CredentialPatch {
        name: None,
        data: Some(json!({"clientId": "v3"})),
    };
    other_process
        .update(&c.id, patch, &Actor::Cli)
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(
        store.get(&c.id).await.unwrap().data.get_str("clientId"),
        Some("v3")
    );
    store.delete(&c.id, &Actor::Cli).await.unwrap();
    assert!(matches!(
        store.get(&c.id).await,
        Err(Error::NotFound { .. })
    ));
}
both_backends!(cache_never_serves_a_row_older_than_this_process_wrote);

/// Rotating only an OAuth2 credential's client secret keeps the refresh token (Salesforce
/// keeps it valid) and drops the access token; any other change needs a reconnect.
async fn client_secret_rotation_keeps_the_refresh_token(db: Db) {
    let store = store(&db, ring());
    let c = store.create(oauth("o"), &Actor::Cli).await.unwrap();
    let token = json!({"access_token": "00Dxx!AQ-access", "refresh_token": "5Aep-refresh",
                       "instance_url": "https://acme.my.salesforce.com", "id": "https://login.salesforce.com/id/00D/005"});
    let patch = |data: Value| CredentialPatch {
        name: None,
        data: Some(data),
    };
    store
        .set_token_data(&c.id, Some(token.clone()))
        .await
        .unwrap();
    store
        .update(
            &c.id,
            patch(json!({"clientSecret": "rotated-secret"})),
            &Actor::Cli,
        )
        .await
        .unwrap();
    let got = store.get(&c.id).await.unwrap();
    assert_eq!(got.data.get_str("clientSecret"), Some("rotated-secret"));
    assert_eq!(
        Value::Object(got.token_data.expect("tokens kept").expose().clone()),
        json!({"refresh_token": "5Aep-refresh", "instance_url": "https://acme.my.salesforce.com",
               "id": "https://login.salesforce.com/id/00D/005"})
    );

    // A second rotation keeps it still; the sealed blob stays bound to the row.
    store
        .update(
            &c.id,
            patch(json!({"clientSecret": "rotated-again"})),
            &Actor::Cli,
        )
        .await
        .unwrap();
    let kept = store.get(&c.id).await.unwrap().token_data.unwrap();
    assert_eq!(kept.get_str("refresh_token"), Some("5Aep-refresh"));

    // A secret change together with anything else, or any other field alone: reconnect.
    for change in [
        json!({"clientSecret": "s3", "clientId": "3MVG9-other"}),
        json!({"environment": "production"}),
        json!({"myDomainUrl": "https://other.my.salesforce.com"}),
    ] {
        store
            .set_token_data(&c.id, Some(token.clone()))
            .await
            .unwrap();
        store
            .update(&c.id, patch(change.clone()), &Actor::Cli)
            .await
            .unwrap();
        assert!(
            store.get(&c.id).await.unwrap().token_data.is_none(),
            "{change} must clear the tokens"
        );
    }

    // Token data without a refresh token has nothing worth keeping.
    store
        .set_token_data(
            &c.id,
            Some(json!({"access_token": "a", "instance_url": "https://acme.my.salesforce.com"})),
        )
        .await
        .unwrap();
    store
        .update(&c.id, patch(json!({"clientSecret": "s4"})), &Actor::Cli)
        .await
        .unwrap();
    assert!(store.get(&c.id).await.unwrap().token_data.is_none());

    // Other types keep today's rule: a secret change clears everything.
    let cc = store
        .create(
            NewCredential {
                id: None,
                name: "cc".into(),
                type_name: "salesforceClientCredentialsApi".into(),
                data: json!({"url": "https://acme.my.salesforce.com", "clientId": "3MVG9-cc", "clientSecret": "s"}),
            },
            &Actor::Cli,
        )
        .await
        .unwrap();
    store
        .set_token_data(&cc.id, Some(token.clone()))
        .await
        .unwrap();
    store
        .update(&cc.id, patch(json!({"clientSecret": "s2"})), &Actor::Cli)
        .await
        .unwrap();
    assert!(store.get(&cc.id).await.unwrap().token_data.is_none());
}
both_backends!(client_secret_rotation_keeps_the_refresh_token);

/// `swap_token_data` is a compare-and-set on the decrypted token data as the database
/// holds it: it writes only over what the caller read, whatever another store instance
/// (another process, with its own cache) or a key rotation did in between.
async fn token_data_compare_and_set(db: Db) {
    let keys = ring();
    let (a, b) = (store(&db, keys.clone()), store(&db, keys));
    let id = a.create(oauth("o"), &Actor::Cli).await.unwrap().id;
    let first = json!({"access_token": "t1", "refresh_token": "r1"});
    // Nothing stored yet: only an expected `None` matches.
    assert!(!a
        .swap_token_data(&id, Some(&first), Some(first.clone()))
        .await
        .unwrap());
    assert!(a
        .swap_token_data(&id, None, Some(first.clone()))
        .await
        .unwrap());
    // Both instances read (and cache) the same data; one claims it first.
    let read_a = a.get(&id).await.unwrap().token_data.unwrap();
    let read_b = b.get(&id).await.unwrap().token_data.unwrap();
    let read_a = Value::Object(read_a.expose().clone());
    let read_b = Value::Object(read_b.expose().clone());
    let claimed = json!({"access_token": "t1", "refresh_token": "r1", "refreshing_until": 1});
    assert!(b
        .swap_token_data(&id, Some(&read_b), Some(claimed.clone()))
        .await
        .unwrap());
    // The other one's read is stale, although its cache still holds it: refused.
    let late = json!({"access_token": "t2", "refresh_token": "stale"});
    assert!(!a
        .swap_token_data(&id, Some(&read_a), Some(late))
        .await
        .unwrap());
    // ... and its next read sees the claim.
    let seen = a.get(&id).await.unwrap().token_data.unwrap();
    assert_eq!(seen.get_str("refresh_token"), Some("r1"));
    assert!(seen.expose().contains_key("refreshing_until"));
    // The same value sealed again (as a key rotation does) still matches.
    a.set_token_data(&id, Some(claimed.clone())).await.unwrap();
    let done = json!({"access_token": "t2", "refresh_token": "r2"});
    assert!(b
        .swap_token_data(&id, Some(&claimed), Some(done.clone()))
        .await
        .unwrap());
    let stored = a.get(&id).await.unwrap().token_data.unwrap();
    assert_eq!(Value::Object(stored.expose().clone()), done);
    // Not an object: refused, naming the field, nothing written.
    let e = b
        .swap_token_data(&id, Some(&done), Some(json!("t3")))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("tokenData"), "{e}");
    let stored = b.get(&id).await.unwrap().token_data.unwrap();
    assert_eq!(stored.get_str("access_token"), Some("t2"));
    assert!(matches!(
        a.swap_token_data("doesNotExist0000", None, None).await,
        Err(Error::NotFound { .. })
    ));
}
both_backends!(token_data_compare_and_set);
