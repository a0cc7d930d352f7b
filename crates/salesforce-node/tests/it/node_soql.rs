//! getAll's SOQL against the fake org: values escaped so they cannot change the query,
//! names and operators checked before anything is sent, numeric strings bare in
//! typeVersion 1 and quoted from 1.1.

use serde_json::{json, Value};

use crate::common::{env, soql};

fn get_all(conditions: Value) -> Value {
    json!({"resource": "account", "operation": "getAll", "returnAll": true,
           "options": {"fields": "Name", "conditionsUi": {"conditionValues": conditions}}})
}

fn names(out: &[Value]) -> Vec<&str> {
    out.iter().map(|r| r["Name"].as_str().unwrap()).collect()
}

#[tokio::test]
async fn values_are_escaped_so_a_quote_cannot_open_the_query() {
    let env = env().await;
    let node = env.node();
    for name in [
        "O'Brien & Co",
        r"Back\slash",
        "Line\nbreak",
        "Tab\there",
        "Plain",
    ] {
        env.org.insert("Account", json!({"Name": name})).unwrap();
    }
    for name in ["O'Brien & Co", r"Back\slash", "Line\nbreak", "Tab\there"] {
        let out = env
            .ctx(get_all(
                json!([{"field": "Name", "operation": "equal", "value": name}]),
            ))
            .json(&node, 1)
            .await
            .unwrap();
        assert_eq!(names(&out), [name], "{name:?}");
    }
    // An injection attempt is one string value: it matches nothing and widens nothing.
    let attack = "x' OR Name != 'x";
    let out = env
        .ctx(get_all(
            json!([{"field": "Name", "operation": "equal", "value": attack}]),
        ))
        .json(&node, 1)
        .await
        .unwrap();
    assert!(out.is_empty(), "{out:?}");
    let sent = soql(env.data_requests().last().unwrap());
    assert_eq!(
        sent,
        r"SELECT Name FROM Account WHERE Name = 'x\' OR Name != \'x'"
    );
}

#[tokio::test]
async fn names_operators_and_objects_are_refused_before_anything_is_sent() {
    let env = env().await;
    let node = env.node();
    let cases = [
        (
            get_all(json!([{"field": "Name = 'a' OR Id", "operation": "equal", "value": "b"}])),
            "Parameter \"options.conditionsUi.field\" must be a Salesforce field name",
        ),
        (
            get_all(json!([{"field": "Name", "operation": "= 'a' OR Name", "value": "b"}])),
            "Parameter \"options.conditionsUi.operation\" must be a comparison",
        ),
        (
            json!({"resource": "account", "operation": "getAll", "returnAll": true,
                   "options": {"fields": "Name FROM User --"}}),
            "Parameter \"options.fields\" must be a Salesforce field name",
        ),
        (
            json!({"resource": "customObject", "operation": "getAll", "returnAll": true,
                   "customObject": "Account WHERE Name != null"}),
            "Parameter \"customObject\" must be a Salesforce object name",
        ),
        (
            get_all(json!([{"field": "Name", "operation": "equal", "value": "bell\u{7}"}])),
            "Parameter \"options.conditionsUi.value\" holds a control character",
        ),
    ];
    for (params, want) in cases {
        let e = env.ctx(params.clone()).json(&node, 1).await.unwrap_err();
        assert!(e.message.starts_with(want), "{params}: {}", e.message);
        assert_eq!(e.item_index, Some(0));
    }
    assert!(env.data_requests().is_empty());
}

#[tokio::test]
async fn numeric_strings_are_bare_in_version_1_and_quoted_in_1_1() {
    let env = env().await;
    let node = env.node();
    env.org
        .insert(
            "Account",
            json!({"Name": "Numbered", "AccountNumber": "42", "NumberOfEmployees": 42}),
        )
        .unwrap();
    let on = |field: &str| get_all(json!([{"field": field, "operation": "equal", "value": "42"}]));

    // 1.0: the number field compares with a bare 42, as n8n 1.0 sends it.
    let out = env
        .ctx(on("NumberOfEmployees"))
        .json(&node, 1)
        .await
        .unwrap();
    assert_eq!(names(&out), ["Numbered"]);
    assert_eq!(
        soql(env.data_requests().last().unwrap()),
        "SELECT Name FROM Account WHERE NumberOfEmployees = 42"
    );
    // 1.1: a text field (an account number, an external id) compares with '42'.
    let out = env
        .ctx(on("AccountNumber"))
        .version(1.1)
        .json(&node, 1)
        .await
        .unwrap();
    assert_eq!(names(&out), ["Numbered"]);
    assert_eq!(
        soql(env.data_requests().last().unwrap()),
        "SELECT Name FROM Account WHERE AccountNumber = '42'"
    );
    // A real number stays a number in 1.1; dates and keywords are never quoted.
    let out = env
        .ctx(get_all(json!([
            {"field": "NumberOfEmployees", "operation": ">=", "value": 40},
            {"field": "CreatedDate", "operation": "<", "value": "tomorrow"}
        ])))
        .version(1.1)
        .json(&node, 1)
        .await
        .unwrap();
    assert_eq!(names(&out), ["Numbered"]);
    assert_eq!(
        soql(env.data_requests().last().unwrap()),
        "SELECT Name FROM Account WHERE NumberOfEmployees >= 40 AND CreatedDate < TOMORROW"
    );
}

#[tokio::test]
async fn limit_and_default_fields_follow_n8n() {
    let env = env().await;
    let node = env.node();
    for i in 0..3 {
        env.org
            .insert("Opportunity", json!({"Name": format!("O{i}"), "StageName": "Prospecting", "CloseDate": "2026-01-01"}))
            .unwrap();
    }
    let out = env
        .ctx(json!({"resource": "opportunity", "operation": "getAll", "limit": 2}))
        .json(&node, 1)
        .await
        .unwrap();
    assert_eq!(out.len(), 2);
    assert_eq!(
        soql(env.data_requests().last().unwrap()),
        "SELECT id,accountId,amount,probability,type,LastModifiedDate FROM Opportunity LIMIT 2"
    );
    let e = env
        .ctx(json!({"resource": "opportunity", "operation": "getAll", "limit": 2.5}))
        .json(&node, 1)
        .await
        .unwrap_err();
    assert_eq!(
        e.message,
        "Parameter \"limit\" must be a whole number of at least 1, got 2.5"
    );
}

#[tokio::test]
async fn an_operator_from_an_expression_may_be_any_soql_comparison() {
    let env = env().await;
    let node = env.node();
    env.org
        .insert("Account", json!({"Name": "Acme Corp"}))
        .unwrap();
    env.org.insert("Account", json!({"Name": "Other"})).unwrap();
    // The editor offers five comparisons (and saving refuses others); an expression that
    // resolves to LIKE runs, as in n8n.
    let out = env
        .ctx(get_all(
            json!([{"field": "Name", "operation": "LIKE", "value": "Acme%"}]),
        ))
        .json(&node, 1)
        .await
        .unwrap();
    assert_eq!(names(&out), ["Acme Corp"]);
    assert_eq!(
        soql(env.data_requests().last().unwrap()),
        "SELECT Name FROM Account WHERE Name LIKE 'Acme%'"
    );
}
