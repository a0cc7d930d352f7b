//! Parameters as a user sees them refused: n8n's `Parameter "X" is required` at save (the
//! description the engine validates with) and at run (the node judges each item the same
//! way), unknown values named, and `authentication` choosing the credential type.

use node_api::Node;
use serde_json::json;

use crate::common::env;

#[tokio::test]
async fn a_missing_required_parameter_says_n8n_s_words_at_save_and_at_run() {
    let env = env().await;
    let node = env.node();
    let cases = [
        (
            json!({"resource": "account", "operation": "get"}),
            "Parameter \"accountId\" is required",
        ),
        (
            json!({"resource": "contact"}),
            "Parameter \"lastname\" is required",
        ),
        (
            json!({"resource": "opportunity", "name": "N", "stageName": "Prospecting"}),
            "Parameter \"closeDate\" is required",
        ),
        (
            json!({"resource": "search", "query": "  "}),
            "Parameter \"query\" is required",
        ),
        (
            json!({"resource": "customObject", "operation": "get", "recordId": "a01"}),
            "Parameter \"customObject\" is required",
        ),
        (
            json!({"resource": "flow"}),
            "Parameter \"apiName\" is required",
        ),
        (
            json!({"resource": "case", "operation": "addComment"}),
            "Parameter \"caseId\" is required",
        ),
        (
            json!({"resource": "lead", "operation": "upsert", "externalIdValue": "x", "company": "C",
                "lastname": "L"}),
            "Parameter \"externalId\" is required",
        ),
    ];
    for (params, want) in cases {
        // At save: what the engine's validator finds with this description.
        let mut saved = params.as_object().unwrap().clone();
        saved.insert("authentication".into(), json!("clientCredentials"));
        assert_eq!(
            node.description().parameter_problems(&saved),
            [want],
            "{params}"
        );
        // At run: the same words, for the item.
        let e = env.ctx(params.clone()).json(&node, 1).await.unwrap_err();
        assert_eq!(
            (e.message.as_str(), e.item_index),
            (want, Some(0)),
            "{params}"
        );
    }
    assert!(env.data_requests().is_empty());
}

#[tokio::test]
async fn unknown_values_and_keys_are_refused_naming_the_parameter() {
    let env = env().await;
    let node = env.node();
    let e = env
        .ctx(json!({"resource": "user", "operation": "create"}))
        .json(&node, 1)
        .await
        .unwrap_err();
    assert_eq!(
        e.message,
        "Parameter \"operation\" has an unknown value \"create\" (accepted: get, getAll)"
    );
    let e = env
        .ctx(json!({"resource": "invoice"}))
        .json(&node, 1)
        .await
        .unwrap_err();
    assert!(
        e.message.starts_with("Parameter \"resource\" has an unknown value \"invoice\" (accepted: account, attachment,"),
        "{}",
        e.message
    );
    // n8n silently drops a key it does not know; we name it and the nearest known one.
    let e = env
        .ctx(json!({"resource": "account", "name": "Acme", "additionalFields": {"websit": "x"}}))
        .json(&node, 1)
        .await
        .unwrap_err();
    assert_eq!(
        e.message,
        "Parameter \"additionalFields.websit\" is not a field this node sets on Account: did you mean website?"
    );
    let e = env
        .ctx(
            json!({"resource": "case", "operation": "addComment", "caseId": "500x",
                    "options": {"body": "x"}}),
        )
        .json(&node, 1)
        .await
        .unwrap_err();
    assert_eq!(
        e.message,
        "Parameter \"options.body\" is not one this node knows (known: commentBody, isPublished)"
    );
    assert!(env.data_requests().is_empty());
}

#[tokio::test]
async fn authentication_picks_the_credential_type_and_tokens_are_never_written_by_the_node() {
    let mut env = env().await;
    let node = env.node();
    let params = |auth: Option<&str>| {
        let mut p = json!({"resource": "search", "query": "SELECT Id FROM Account"});
        if let Some(a) = auth {
            p["authentication"] = json!(a);
        }
        p
    };
    // No OAuth2 credential yet: n8n's default authentication needs one.
    let e = env
        .ctx_as_is(params(None))
        .json(&node, 1)
        .await
        .unwrap_err();
    assert_eq!(e.message, "the node has no salesforceOAuth2Api credential");
    let e = env
        .ctx(params(Some("jwt")))
        .json(&node, 1)
        .await
        .unwrap_err();
    assert_eq!(e.message, "the node has no salesforceJwtApi credential");

    let oauth = env.connect_oauth2("OAUTH-TOKEN").await;
    let tokens_before = env.store.get(&oauth).await.unwrap().token_data;
    env.ctx_as_is(params(None)).json(&node, 1).await.unwrap();
    let last = env.data_requests().pop().unwrap();
    assert!(last.authorization_is("Bearer OAUTH-TOKEN"));
    assert_eq!(env.org.counter("POST /services/oauth2/token"), 0);
    // The token provider owns the token data; the node wrote nothing.
    let tokens_after = env.store.get(&oauth).await.unwrap().token_data;
    assert_eq!(
        format!("{:?}", tokens_after.map(|t| t.expose().clone())),
        format!("{:?}", tokens_before.map(|t| t.expose().clone()))
    );

    // Client credentials sign in once and keep the token for the next runs.
    for _ in 0..2 {
        let out = env
            .ctx(params(Some("clientCredentials")))
            .json(&node, 1)
            .await
            .unwrap();
        assert!(out.is_empty());
    }
    assert_eq!(env.org.counter("POST /services/oauth2/token"), 1);
}

#[tokio::test]
async fn a_refused_session_fails_the_node_without_showing_the_token() {
    let mut env = env().await;
    let node = env.node();
    env.connect_oauth2("SECRET-TOKEN-123").await;
    env.org.revoke_all_tokens();
    let e = env
        .ctx_as_is(json!({"resource": "account", "operation": "getSummary"}))
        .json(&node, 1)
        .await
        .unwrap_err();
    // The stored token was refused and there is no refresh token to get another one.
    assert!(e.message.contains("not connected yet"), "{}", e.message);
    let shown = format!("{e:?} {} {node:?}", e.to_item_json());
    assert!(!shown.contains("SECRET-TOKEN-123"), "{shown}");
    assert!(!shown.contains(crate::common::SECRET), "{shown}");
}
