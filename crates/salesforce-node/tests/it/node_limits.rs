//! `REQUEST_LIMIT_EXCEEDED` is waited out within the node's budget, then reported.

use std::time::{Duration, Instant};

use serde_json::json;

use salesforce_node::{LimitBackoff, NodeSettings};

use crate::common::{env, fast_settings};

#[tokio::test]
async fn the_limit_is_waited_out_when_it_clears_within_the_budget() {
    let env = env().await;
    let node = env.node();
    // Sign in and warm up, then spend the daily limit.
    env.ctx(json!({"resource": "search", "query": "SELECT Id FROM Account"}))
        .json(&node, 1)
        .await
        .unwrap();
    // A budget no loaded machine runs through before the limit clears.
    let node = salesforce_node::SalesforceNode::with_settings(
        env.client.clone(),
        NodeSettings {
            limits: LimitBackoff {
                budget: Duration::from_secs(30),
                ..fast_settings().limits
            },
            ..fast_settings()
        },
    );
    let (_, max) = env.org.api_usage();
    env.org.set_api_usage(max);
    let ctx = env.ctx(json!({"resource": "account", "name": "Acme"}));
    let run = ctx.json(&node, 1);
    // The limit clears once the org has refused the create: an event, not a guessed delay.
    let clear = async {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !env.data_requests().iter().any(|r| r.method == "POST") {
            assert!(
                Instant::now() < deadline,
                "the create never reached the org"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        env.org.set_api_usage(0);
    };
    let (out, ()) = tokio::join!(run, clear);
    let out = out.unwrap();
    assert_eq!(out[0]["success"], true);
    let refused = env
        .data_requests()
        .iter()
        .filter(|r| r.method == "POST")
        .count();
    assert!(
        refused >= 2,
        "the create was sent again after the limit cleared"
    );
    assert_eq!(env.org.count("Account"), 1);
}

#[tokio::test]
async fn past_the_budget_the_node_fails_with_the_limit_error() {
    let env = env().await;
    let node = env.node();
    env.ctx(json!({"resource": "search", "query": "SELECT Id FROM Account"}))
        .json(&node, 1)
        .await
        .unwrap();
    env.org.clear_requests();
    let (_, max) = env.org.api_usage();
    env.org.set_api_usage(max);
    let started = Instant::now();
    let e = env
        .ctx(json!({"resource": "account", "operation": "getSummary"}))
        .json(&node, 1)
        .await
        .unwrap_err();
    let waited = started.elapsed();
    assert_eq!(
        (e.error_code.as_deref(), e.http_code),
        (Some("REQUEST_LIMIT_EXCEEDED"), Some(403))
    );
    assert!(
        e.message.contains("daily API request limit"),
        "{}",
        e.message
    );
    let description = e.description.as_deref().unwrap_or_default();
    assert!(description.contains("limit budget"), "{description}");
    // The test settings allow 600 ms of waiting in all, and the node waited all of it (a
    // lower bound: a sleep never ends early, however loaded the machine).
    assert!(waited >= Duration::from_millis(600), "{waited:?}");
    // It tried again while the budget lasted (the test above shows the retry succeeding),
    // then stopped: waits of 20 ms doubling to 100 ms fit at most 8 times in 600 ms, so at
    // most 9 sends of the one call, all refused; fewer when a loaded machine makes each
    // send slow, down to one when the first alone outlasts the budget.
    let refused = env.data_requests();
    assert!((1..=9).contains(&refused.len()), "{} sends", refused.len());
    assert!(
        refused
            .iter()
            .all(|r| r.method == "GET" && r.path == refused[0].path),
        "{:?}",
        refused.iter().map(|r| &r.path).collect::<Vec<_>>()
    );
}
