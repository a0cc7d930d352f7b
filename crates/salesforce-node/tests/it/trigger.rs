//! The Salesforce Trigger against the fake org over real HTTP. The engine's part (saving the
//! state only once the execution holding the records is stored) is played by [`Poller`]: it
//! keeps the state a poll leaves when the poll succeeds, and can drop it as a crash would.
//! Time moves on the org's clock; nothing sleeps.

use std::collections::HashSet;
use std::time::Duration;

use chrono::{DateTime, Utc};
use node_api::{NodeError, PollMode, PollingTrigger};
use salesforce_node::{SalesforceTrigger, TriggerSettings};
use serde_json::{json, Value};

use crate::common::{env, soql, Ctx, Env};

const QUERY: &str = "GET /services/data/{v}/query";
const PAGE: &str = "GET /services/data/{v}/query/{locator}";

fn settings() -> TriggerSettings {
    TriggerSettings {
        gather: Duration::from_millis(50),
        ..TriggerSettings::default()
    }
}

/// One trigger as the engine runs it: its parameters and its saved state.
struct Poller {
    trigger: SalesforceTrigger,
    ctx: Ctx,
    state: Value,
}

impl Poller {
    fn new(env: &Env, params: Value) -> Poller {
        Poller {
            trigger: SalesforceTrigger::with_settings(env.client.clone(), settings()),
            ctx: env.ctx(params),
            state: json!({}),
        }
    }

    /// A scheduled poll; its state is kept when it succeeds (the execution was stored).
    async fn poll(&mut self) -> Result<Vec<Value>, NodeError> {
        let mut state = self.state.clone();
        let out = self
            .trigger
            .poll(&self.ctx, &mut state, PollMode::Trigger)
            .await?;
        self.state = state;
        Ok(records(out))
    }

    /// A scheduled poll whose execution is never stored (a crash): the state stays.
    async fn poll_and_crash(&self) -> Vec<Value> {
        let mut state = self.state.clone();
        let out = self
            .trigger
            .poll(&self.ctx, &mut state, PollMode::Trigger)
            .await
            .unwrap();
        records(out)
    }

    async fn ok(&mut self) -> Vec<Value> {
        self.poll().await.unwrap()
    }
}

fn records(out: Option<Vec<node_api::Item>>) -> Vec<Value> {
    out.unwrap_or_default()
        .into_iter()
        .map(|i| i.json.into_value())
        .collect()
}

fn names(records: &[Value]) -> Vec<&str> {
    records
        .iter()
        .map(|r| r["Name"].as_str().unwrap())
        .collect()
}

/// Moves the org's clock one second on and returns the new time.
fn tick(env: &Env) -> DateTime<Utc> {
    env.org.advance_clock(Duration::from_secs(1));
    env.org.now()
}

fn account(env: &Env, name: &str) -> String {
    let at = tick(env);
    env.org
        .insert_at("Account", json!({"Name": name}), at)
        .unwrap()
}

fn rename(env: &Env, id: &str, name: &str) {
    let at = tick(env);
    env.org.update_at(id, json!({"Name": name}), at).unwrap();
}

/// REST calls the org received (token requests aside).
fn api_calls(env: &Env) -> usize {
    env.data_requests().len()
}

#[tokio::test]
async fn first_activation_starts_from_now_and_created_fires_once_per_record() {
    let env = env().await;
    account(&env, "before 1");
    let before = account(&env, "before 2");
    let mut t = Poller::new(&env, json!({"triggerOn": "accountCreated"}));
    assert!(
        t.ok().await.is_empty(),
        "records from before are not delivered"
    );
    assert_eq!(t.state["salesforce"]["last"][1], before.as_str());

    let calls = api_calls(&env);
    assert!(t.ok().await.is_empty());
    assert_eq!(
        api_calls(&env),
        calls + 1,
        "a poll with no changes is one call"
    );
    let sent = soql(env.data_requests().last().unwrap());
    assert!(
        sent.starts_with(
            "SELECT Id,name,type,CreatedDate,LastModifiedDate FROM Account WHERE CreatedDate >= "
        ) && sent.ends_with(" ORDER BY CreatedDate, Id"),
        "{sent}"
    );

    let a = account(&env, "a");
    account(&env, "b");
    let out = t.ok().await;
    assert_eq!(names(&out), ["a", "b"]);
    let first = &out[0];
    assert_eq!(first["Id"], a.as_str());
    for field in ["Id", "Name", "Type", "CreatedDate", "LastModifiedDate"] {
        assert!(first.get(field).is_some(), "{field} in {first}");
    }
    // An edit is not a creation.
    rename(&env, &a, "a edited");
    assert!(t.ok().await.is_empty());
    account(&env, "c");
    assert_eq!(names(&t.ok().await), ["c"]);
}

#[tokio::test]
async fn a_restart_or_a_crash_between_polls_repeats_and_misses_nothing() {
    let env = env().await;
    let mut t = Poller::new(&env, json!({"triggerOn": "accountCreated"}));
    t.ok().await;
    account(&env, "a");
    account(&env, "b");
    // The execution holding a and b was never stored: the next poll delivers them again.
    assert_eq!(names(&t.poll_and_crash().await), ["a", "b"]);
    assert_eq!(names(&t.ok().await), ["a", "b"]);

    // A restart: a new trigger (new process) from the saved state.
    let saved = t.state.clone();
    drop(t);
    account(&env, "c");
    let mut t = Poller::new(&env, json!({"triggerOn": "accountCreated"}));
    t.state = saved;
    assert_eq!(names(&t.ok().await), ["c"]);
    assert!(t.ok().await.is_empty());
}

#[tokio::test]
async fn a_503_mid_pagination_is_retried_or_the_poll_fails_and_redelivers_whole() {
    let env = env().await;
    let mut t = Poller::new(&env, json!({"triggerOn": "leadCreated"}));
    t.ok().await;
    let at = tick(&env);
    for i in 0..4500 {
        env.org
            .insert_at(
                "Lead",
                json!({"LastName": format!("L{i:04}"), "Company": "C"}),
                at,
            )
            .unwrap();
    }
    // One 503 on the second page: the client retries that page, nothing is lost.
    env.org.fail_nth_page(1);
    let out = t.ok().await;
    assert_eq!(out.len(), 4500);
    let ids: HashSet<&str> = out.iter().map(|r| r["Id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 4500, "each once");
    assert!(t.ok().await.is_empty());

    // 503s outlasting the retries: the poll fails, the state stays, the next poll delivers
    // the whole backlog once.
    let at = tick(&env);
    for i in 0..2500 {
        env.org
            .insert_at(
                "Lead",
                json!({"LastName": format!("M{i:04}"), "Company": "C"}),
                at,
            )
            .unwrap();
    }
    let before = t.state.clone();
    for n in 1..=4 {
        env.org.fail_nth_page(n);
    }
    let e = t.poll().await.unwrap_err();
    assert_eq!(e.http_code, Some(503), "{e:?}");
    assert_eq!(t.state, before);
    let out = t.ok().await;
    assert_eq!(out.len(), 2500);
    assert!(out
        .iter()
        .all(|r| r["LastName"].as_str().unwrap().starts_with('M')));
    assert!(t.ok().await.is_empty());
}

#[tokio::test]
async fn updates_fire_once_per_state_seen_and_never_for_a_creation() {
    let env = env().await;
    let mut updated = Poller::new(&env, json!({"triggerOn": "accountUpdated"}));
    let mut created = Poller::new(&env, json!({"triggerOn": "accountCreated"}));
    let old = account(&env, "old");
    updated.ok().await;
    created.ok().await;

    // Three updates between two polls: one delivery, the state seen.
    rename(&env, &old, "v1");
    rename(&env, &old, "v2");
    rename(&env, &old, "v3");
    assert_eq!(names(&updated.ok().await), ["v3"]);
    assert!(updated.ok().await.is_empty());

    // Updates spaced over several polls: one delivery each.
    for v in ["v4", "v5", "v6"] {
        rename(&env, &old, v);
        assert_eq!(names(&updated.ok().await), [v]);
    }

    // A record edited a second after its creation: Created once, Updated once; a record
    // never edited: Created only.
    let fresh = account(&env, "fresh");
    rename(&env, &fresh, "fresh edited");
    account(&env, "untouched");
    assert_eq!(names(&updated.ok().await), ["fresh edited"]);
    assert_eq!(names(&created.ok().await), ["fresh edited", "untouched"]);
    assert!(updated.ok().await.is_empty());
    assert!(created.ok().await.is_empty());

    // An edit 300 ms after the creation, inside the same second (n8n's `CreatedDate < start`
    // hides it).
    let at = tick(&env);
    let quick = env
        .org
        .insert_at("Account", json!({"Name": "quick"}), at)
        .unwrap();
    env.org
        .update_at(
            &quick,
            json!({"Name": "quick edited"}),
            at + chrono::Duration::milliseconds(300),
        )
        .unwrap();
    assert_eq!(names(&updated.ok().await), ["quick edited"]);
    assert_eq!(names(&created.ok().await), ["quick edited"]);
}

#[tokio::test]
async fn a_record_committing_30_seconds_late_is_delivered_once() {
    let env = env().await;
    let mut t = Poller::new(&env, json!({"triggerOn": "contactCreated"}));
    t.ok().await;
    // Stamped now, readable only 30 s later (its transaction commits late).
    env.org.set_commit_delay(Duration::from_secs(30));
    let late = env
        .org
        .insert("Contact", json!({"LastName": "Late"}))
        .unwrap();
    env.org.set_commit_delay(Duration::ZERO);
    let at = tick(&env);
    env.org
        .insert_at("Contact", json!({"LastName": "Quick"}), at)
        .unwrap();
    let out = t.ok().await;
    assert_eq!(out.len(), 1);
    assert_eq!(out[0]["LastName"], "Quick");
    assert!(t.ok().await.is_empty());

    env.org.advance_clock(Duration::from_secs(30));
    let out = t.ok().await;
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(out[0]["Id"], late.as_str());
    assert!(
        out[0]["CreatedDate"].as_str().unwrap()
            < t.state["salesforce"]["last"][0].as_str().unwrap(),
        "stamped before the cursor"
    );
    assert!(t.ok().await.is_empty());
}

#[tokio::test]
async fn ten_thousand_records_in_one_second_are_each_delivered_once() {
    let env = env().await;
    let mut t = Poller::new(&env, json!({"triggerOn": "accountCreated"}));
    let mut limited = Poller::new(
        &env,
        json!({"triggerOn": "accountCreated", "options": {"limit": 4000}}),
    );
    t.ok().await;
    limited.ok().await;
    let at = tick(&env);
    for i in 0..10_000 {
        env.org
            .insert_at("Account", json!({"Name": format!("A{i:05}")}), at)
            .unwrap();
    }
    let calls = api_calls(&env);
    let out = t.ok().await;
    assert_eq!(api_calls(&env) - calls, 5, "2,000 records a page");
    let ids: HashSet<&str> = out.iter().map(|r| r["Id"].as_str().unwrap()).collect();
    assert_eq!((out.len(), ids.len()), (10_000, 10_000));
    assert!(t.ok().await.is_empty());

    // A limit per execution leaves the rest for the next polls, in order.
    let mut sizes = Vec::new();
    let mut all = Vec::new();
    loop {
        let out = limited.ok().await;
        if out.is_empty() {
            break;
        }
        sizes.push(out.len());
        all.extend(
            out.into_iter()
                .map(|r| r["Name"].as_str().unwrap().to_owned()),
        );
    }
    assert_eq!(sizes, [4000, 4000, 2000]);
    let want: Vec<String> = (0..10_000).map(|i| format!("A{i:05}")).collect();
    assert_eq!(all, want);
}

#[tokio::test]
async fn a_manual_run_returns_the_latest_record_and_keeps_the_cursor() {
    let env = env().await;
    let mut t = Poller::new(&env, json!({"triggerOn": "opportunityUpdated"}));
    let id = env
        .org
        .insert_at(
            "Opportunity",
            json!({"Name": "Deal", "StageName": "Prospecting", "CloseDate": "2026-12-31"}),
            tick(&env),
        )
        .unwrap();
    t.ok().await;
    rename(&env, &id, "Deal won");
    env.org
        .insert_at(
            "Opportunity",
            json!({"Name": "New", "StageName": "Prospecting", "CloseDate": "2026-12-31"}),
            tick(&env),
        )
        .unwrap();
    let saved = t.state.clone();
    let mut state = saved.clone();
    let out = t
        .trigger
        .poll(&t.ctx, &mut state, PollMode::Manual)
        .await
        .unwrap();
    let out = records(out);
    // The newest record is a creation: the latest update is the sample (n8n's default fields
    // for opportunities have no Name).
    let ids = |r: &[Value]| -> Vec<String> {
        r.iter()
            .map(|r| r["Id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(ids(&out), std::slice::from_ref(&id));
    assert!(out[0].get("Amount").is_some() && out[0].get("Name").is_none());
    assert_eq!(state, saved, "a manual run leaves the state alone");
    assert_eq!(ids(&t.ok().await), [id]);
    assert!(t.ok().await.is_empty());
}

#[tokio::test]
async fn ten_triggers_of_one_query_share_one_call_per_tick() {
    let env = env().await;
    let trigger = SalesforceTrigger::with_settings(env.client.clone(), settings());
    let ctx = env.ctx(json!({"triggerOn": "caseCreated"}));
    let mut states = vec![json!({}); 10];
    for s in &mut states {
        trigger.poll(&ctx, s, PollMode::Trigger).await.unwrap();
    }
    env.org
        .insert_at("Case", json!({"Subject": "first"}), tick(&env))
        .unwrap();
    // Half the triggers see the first case in one tick...
    let calls = api_calls(&env);
    let polls = states[..5]
        .iter_mut()
        .map(|s| trigger.poll(&ctx, s, PollMode::Trigger));
    for out in futures::future::join_all(polls).await {
        assert_eq!(records(out.unwrap()).len(), 1);
    }
    assert_eq!(api_calls(&env) - calls, 1);
    env.org
        .insert_at("Case", json!({"Subject": "second"}), tick(&env))
        .unwrap();
    // ...then all ten poll in the next: one query from the oldest cursor, each its own part.
    let calls = api_calls(&env);
    let counters = (env.org.counter(QUERY), env.org.counter(PAGE));
    let polls = states
        .iter_mut()
        .map(|s| trigger.poll(&ctx, s, PollMode::Trigger));
    let outs: Vec<Vec<String>> = futures::future::join_all(polls)
        .await
        .into_iter()
        .map(|o| {
            records(o.unwrap())
                .iter()
                .map(|r| r["Subject"].as_str().unwrap().to_owned())
                .collect()
        })
        .collect();
    assert_eq!(api_calls(&env) - calls, 1, "one call for ten triggers");
    assert_eq!(
        (env.org.counter(QUERY), env.org.counter(PAGE)),
        (counters.0 + 1, counters.1)
    );
    for (i, out) in outs.iter().enumerate() {
        let want: &[&str] = if i < 5 {
            &["second"]
        } else {
            &["first", "second"]
        };
        assert_eq!(out, want, "trigger {i}");
    }
}

#[tokio::test]
async fn a_custom_object_delivers_all_its_fields() {
    let env = crate::common::env_with(
        crate::common::org_builder()
            .custom_object(salesforce_fake::CustomObject::new("Invoice__c")),
    )
    .await;
    let mut t = Poller::new(
        &env,
        json!({"triggerOn": "customObjectCreated", "customObject": "Invoice__c"}),
    );
    t.ok().await;
    env.org
        .insert_at("Invoice__c", json!({"Name": "INV-1"}), tick(&env))
        .unwrap();
    let out = t.ok().await;
    assert_eq!(names(&out), ["INV-1"]);
    for field in ["Id", "Name", "CreatedDate", "LastModifiedDate", "OwnerId"] {
        assert!(out[0].get(field).is_some(), "{field} in {}", out[0]);
    }
    // The describe is read once; later polls are one call each.
    let calls = api_calls(&env);
    assert!(t.ok().await.is_empty());
    assert_eq!(api_calls(&env), calls + 1);
}

#[tokio::test]
async fn a_backlog_of_50_000_changes_costs_at_most_26_calls() {
    let env = env().await;
    let mut t = Poller::new(&env, json!({"triggerOn": "taskUpdated"}));
    let at = tick(&env);
    let mut ids = Vec::new();
    for i in 0..50_000 {
        ids.push(
            env.org
                .insert_at(
                    "Task",
                    json!({"Subject": format!("T{i}"), "Status": "Open"}),
                    at,
                )
                .unwrap(),
        );
    }
    t.ok().await;
    let at = tick(&env);
    for id in &ids {
        env.org
            .update_at(id, json!({"Status": "Completed"}), at)
            .unwrap();
    }
    let calls = api_calls(&env);
    let started = std::time::Instant::now();
    let out = t.ok().await;
    let took = started.elapsed();
    let used = api_calls(&env) - calls;
    assert_eq!(out.len(), 50_000);
    assert!(used <= 26, "{used} calls");
    eprintln!("backlog of 50,000 updates: {used} calls, {took:?}");
    // Until the backlog's stamps leave the overlap window, each poll reads them again (and
    // skips them): the cost of catching late commits, measured for the benchmarks.
    let calls = api_calls(&env);
    assert!(t.ok().await.is_empty());
    eprintln!(
        "the next poll, nothing new, backlog inside the window: {} calls",
        api_calls(&env) - calls
    );
    // 18 minutes on (the window and the query margin passed), one poll notes the org's
    // clock; from then on the backlog is settled and not read again.
    env.org.advance_clock(Duration::from_secs(18 * 60));
    assert!(t.ok().await.is_empty());
    let at = tick(&env);
    env.org
        .update_at(&ids[0], json!({"Status": "Deferred"}), at)
        .unwrap();
    let calls = api_calls(&env);
    assert_eq!(t.ok().await.len(), 1);
    assert_eq!(api_calls(&env) - calls, 1, "the backlog left the window");
}

#[tokio::test]
async fn a_session_that_cannot_be_renewed_fails_the_poll_and_keeps_the_cursor() {
    let mut env = env().await;
    // An OAuth2 connection holding an access token and no refresh token.
    let oauth = env.connect_oauth2("OAUTH-TOKEN").await;
    let params = json!({"triggerOn": "accountCreated", "authentication": "oAuth2"});
    let mut t = Poller::new(&env, params);
    t.ok().await;
    account(&env, "a");
    env.org.revoke_all_tokens();
    let before = t.state.clone();
    let e = t.poll().await.unwrap_err();
    assert_eq!(t.state, before, "{e:?}");
    // Connected again (the OAuth2 callback stores new tokens and tells the plugin): the
    // record arrives, once.
    env.org
        .accept_token("NEW-TOKEN", crate::common::USER)
        .unwrap();
    let tokens = json!({"access_token": "NEW-TOKEN", "instance_url": env.org.base_url()});
    env.store
        .set_token_data(&oauth, Some(tokens))
        .await
        .unwrap();
    env.client.provider().invalidate(&oauth);
    assert_eq!(names(&t.ok().await), ["a"]);
    assert!(t.ok().await.is_empty());
}
