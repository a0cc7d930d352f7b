//! What a polling trigger's tests script: records placed at exact
//! timestamps (many sharing one), writes held back until committed, keyset
//! pages over `(LastModifiedDate, Id)`, and 503s on a chosen query call or
//! page fetch. No test here sleeps.

use chrono::{DateTime, Duration, TimeZone, Utc};
use reqwest::{Method, StatusCode};
use salesforce_fake::FakeOrg;
use serde_json::{json, Value};

use crate::common::*;

fn t(h: u32, m: u32, s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, h, m, s).unwrap()
}

fn soql_time(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn ids(r: &Reply) -> Vec<String> {
    r.body["records"]
        .as_array()
        .unwrap_or_else(|| panic!("no records in {}", r.body))
        .iter()
        .map(|x| x["Id"].as_str().unwrap().to_string())
        .collect()
}

/// Reads every Account changed after `since` with keyset pages of `size`,
/// the way a trigger resumes from its cursor.
async fn keyset_pages(api: &Api, since: DateTime<Utc>, size: usize) -> Vec<Vec<String>> {
    let mut cursor: Option<(String, String)> = None;
    let mut pages = Vec::new();
    loop {
        let filter = match &cursor {
            None => format!("LastModifiedDate > {}", soql_time(since)),
            Some((ts, id)) => {
                format!("(LastModifiedDate > {ts}) OR (LastModifiedDate = {ts} AND Id > '{id}')")
            }
        };
        let r = api
            .query(&format!(
                "SELECT Id, LastModifiedDate FROM Account WHERE {filter} ORDER BY LastModifiedDate, Id LIMIT {size}"
            ))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        let page = ids(&r);
        if page.is_empty() {
            return pages;
        }
        let last = r.body["records"].as_array().unwrap().last().unwrap();
        cursor = Some((
            last["LastModifiedDate"].as_str().unwrap().to_string(),
            last["Id"].as_str().unwrap().to_string(),
        ));
        pages.push(page);
    }
}

#[tokio::test]
async fn keyset_pages_over_shared_timestamps_miss_and_repeat_nothing() {
    let org = builder().start().await.unwrap();
    let api = Api::new(&org);
    let early = org
        .insert_at("Account", json!({"Name": "early"}), t(9, 0, 0))
        .unwrap();
    let mut want = Vec::new();
    // Seven records stamped in the same millisecond, then two later ones.
    for i in 0..7 {
        want.push(
            org.insert_at("Account", json!({"Name": format!("same {i}")}), t(10, 0, 0))
                .unwrap(),
        );
    }
    for (i, at) in [t(10, 0, 1), t(11, 0, 0)].into_iter().enumerate() {
        want.push(
            org.insert_at("Account", json!({"Name": format!("later {i}")}), at)
                .unwrap(),
        );
    }
    let rec = org.record(&want[0]).unwrap();
    for stamp in ["CreatedDate", "LastModifiedDate", "SystemModstamp"] {
        assert_eq!(rec[stamp], "2026-01-01T10:00:00.000+0000", "{stamp}");
    }

    let pages = keyset_pages(&api, t(9, 30, 0), 3).await;
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [3, 3, 3]);
    assert_eq!(pages.concat(), want, "creation order, each once");
    assert!(!pages.concat().contains(&early));

    // An update placed in time moves the record to the end of the order.
    org.update_at(&want[1], json!({"Name": "edited"}), t(12, 0, 0))
        .unwrap();
    let rec = org.record(&want[1]).unwrap();
    assert_eq!(rec["LastModifiedDate"], "2026-01-01T12:00:00.000+0000");
    assert_eq!(rec["SystemModstamp"], "2026-01-01T12:00:00.000+0000");
    assert_eq!(rec["CreatedDate"], "2026-01-01T10:00:00.000+0000");
    let after = keyset_pages(&api, t(11, 0, 0), 10).await;
    assert_eq!(after, [vec![want[1].clone()]]);

    // Several keys, mixed directions.
    let r = api
        .query("SELECT Id FROM Account WHERE LastModifiedDate = 2026-01-01T10:00:00.000+0000 ORDER BY LastModifiedDate DESC, Id DESC LIMIT 2")
        .await;
    let mut desc: Vec<String> = want[..7]
        .iter()
        .filter(|id| **id != want[1])
        .cloned()
        .collect();
    desc.reverse();
    assert_eq!(ids(&r), desc[..2]);
}

#[tokio::test]
async fn mixing_and_with_or_needs_parentheses_as_in_salesforce() {
    let org = builder().start().await.unwrap();
    let api = Api::new(&org);
    let r = api
        .query("SELECT Id FROM Account WHERE Name = 'a' AND Name = 'b' OR Name = 'c'")
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.body[0]["errorCode"], "MALFORMED_QUERY");
    assert!(r.body[0]["message"]
        .as_str()
        .unwrap()
        .ends_with("unexpected token: OR"));
    let a = org.insert("Account", json!({"Name": "a"})).unwrap();
    let c = org.insert("Account", json!({"Name": "c"})).unwrap();
    org.insert("Account", json!({"Name": "b"})).unwrap();
    let r = api
        .query("SELECT Id FROM Account WHERE (Name = 'a' AND Id = '' ) OR (Name = 'c') OR (NOT Name != 'a') ORDER BY Id")
        .await;
    assert_eq!(ids(&r), [a.clone(), c.clone()]);
    // Ids compare by their exact characters: a lower-cased id is another id.
    let r = api
        .query(&format!(
            "SELECT Id FROM Account WHERE Id = '{}'",
            a.to_lowercase()
        ))
        .await;
    assert_eq!(r.body["totalSize"], 0, "{}", r.body);
    let r = api
        .query(&format!("SELECT Id FROM Account WHERE Id = '{}'", &a[..15]))
        .await;
    assert_eq!(ids(&r), [a]);
}

#[tokio::test]
async fn uncommitted_writes_appear_later_with_their_original_stamps() {
    let org = builder().start().await.unwrap();
    let api = Api::new(&org);
    // A long transaction starts at 10:00 and commits after a quicker one
    // stamped 10:05 has been read.
    let slow = org
        .insert_uncommitted("Account", json!({"Name": "slow"}), t(10, 0, 0))
        .unwrap();
    let quick = org
        .insert_at("Account", json!({"Name": "quick"}), t(10, 5, 0))
        .unwrap();
    let q = |since: DateTime<Utc>| {
        format!(
            "SELECT Id FROM Account WHERE LastModifiedDate >= {} ORDER BY LastModifiedDate, Id",
            soql_time(since)
        )
    };
    assert_eq!(ids(&api.query(&q(t(9, 0, 0))).await), vec![quick.clone()]);
    let all = api
        .get(&format!(
            "/queryAll?q={}",
            url::form_urlencoded::byte_serialize(q(t(9, 0, 0)).as_bytes()).collect::<String>()
        ))
        .await;
    assert_eq!(
        ids(&all),
        vec![quick.clone()],
        "queryAll does not see it either"
    );
    // A retrieve by id (the writer's own view) finds it already.
    assert_eq!(
        api.get(&format!("/sobjects/Account/{slow}")).await.status,
        StatusCode::OK
    );

    org.commit(&slow).unwrap();
    // A poller that resumed strictly after what it saw misses it...
    assert_eq!(ids(&api.query(&q(t(10, 5, 1))).await), Vec::<String>::new());
    // ...one that re-reads an overlap window finds it, stamped 10:00.
    let r = api.query(&q(t(9, 55, 0))).await;
    assert_eq!(ids(&r), [slow.clone(), quick.clone()]);
    assert_eq!(
        org.record(&slow).unwrap()["CreatedDate"],
        "2026-01-01T10:00:00.000+0000"
    );

    // An update held back: queries see the old version until it commits.
    org.update_uncommitted(&quick, json!({"Name": "renamed"}), t(10, 10, 0))
        .unwrap();
    let r = api
        .query("SELECT Name, LastModifiedDate FROM Account WHERE Name = 'quick'")
        .await;
    assert_eq!(
        r.body["records"][0]["LastModifiedDate"],
        "2026-01-01T10:05:00.000+0000"
    );
    org.commit(&quick).unwrap();
    let r = api
        .query("SELECT Name, LastModifiedDate FROM Account WHERE Name = 'renamed'")
        .await;
    assert_eq!(
        r.body["records"][0]["LastModifiedDate"],
        "2026-01-01T10:10:00.000+0000"
    );
    assert!(matches!(
        org.commit("001Fk0000000zzzAAA"),
        Err(salesforce_fake::Error::UnknownRecord(_))
    ));
}

async fn leads(org: &FakeOrg, n: usize) {
    for i in 0..n {
        org.insert_at(
            "Lead",
            json!({"LastName": format!("L{i:05}"), "Company": "C"}),
            t(8, 0, 0) + Duration::seconds(i as i64),
        )
        .unwrap();
    }
}

async fn page_sizes(api: &Api, soql: &str, options: Option<&str>) -> Vec<usize> {
    let q = url::form_urlencoded::byte_serialize(soql.as_bytes()).collect::<String>();
    let headers: Vec<(&str, &str)> = options
        .map(|o| vec![("Sforce-Query-Options", o)])
        .unwrap_or_default();
    let mut r = api
        .call_with(Method::GET, &format!("/query?q={q}"), None, &headers)
        .await;
    let mut sizes = vec![];
    loop {
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        sizes.push(r.body["records"].as_array().unwrap().len());
        match r.body["nextRecordsUrl"].as_str() {
            Some(n) => r = api.get(n).await,
            None => return sizes,
        }
    }
}

#[tokio::test]
async fn batch_size_is_kept_within_200_and_2000() {
    let org = builder().start().await.unwrap();
    leads(&org, 2100).await;
    let api = Api::new(&org);
    let q = "SELECT Id FROM Lead";
    assert_eq!(page_sizes(&api, q, None).await, [2000, 100]);
    assert_eq!(
        page_sizes(&api, q, Some("batchSize=5000")).await,
        [2000, 100]
    );
    assert_eq!(
        page_sizes(&api, "SELECT Id FROM Lead LIMIT 450", Some("batchSize=50")).await,
        [200, 200, 50]
    );
    assert_eq!(
        page_sizes(
            &api,
            "SELECT Id FROM Lead LIMIT 1000",
            Some("batchSize=500")
        )
        .await,
        [500, 500]
    );
}

#[tokio::test]
async fn a_chosen_query_or_page_fetch_fails_and_calls_are_counted() {
    let org = builder().start().await.unwrap();
    leads(&org, 450).await;
    let api = Api::new(&org);
    let soql = "SELECT Id FROM Lead ORDER BY LastModifiedDate, Id";
    let q = format!(
        "/query?q={}",
        url::form_urlencoded::byte_serialize(soql.as_bytes()).collect::<String>()
    );
    let small = [("Sforce-Query-Options", "batchSize=200")];

    org.fail_nth_page(2);
    let first = api.call_with(Method::GET, &q, None, &small).await;
    assert_eq!(first.status, StatusCode::OK);
    let next = first.body["nextRecordsUrl"].as_str().unwrap().to_string();
    let second = api.get(&next).await;
    assert_eq!(second.status, StatusCode::OK);
    let third_url = second.body["nextRecordsUrl"].as_str().unwrap().to_string();
    let failed = api.get(&third_url).await;
    assert_eq!(
        (failed.status, failed.body),
        (
            StatusCode::SERVICE_UNAVAILABLE,
            rest_error("SERVER_UNAVAILABLE", "Server Unavailable")
        )
    );
    assert!(failed.headers.contains_key("sforce-limit-info"));
    // The cursor survived: the same URL serves the last page on retry.
    let retried = api.get(&third_url).await;
    assert_eq!(retried.body["records"].as_array().unwrap().len(), 50);
    assert_eq!(retried.body["done"], true);

    org.fail_nth_query(2);
    org.fail_nth_query(3);
    let statuses = [
        api.query("SELECT Id FROM Lead LIMIT 1").await.status,
        api.query("SELECT Id FROM Lead LIMIT 1").await.status,
        api.query("SELECT Id FROM Lead LIMIT 1").await.status,
        api.query("SELECT Id FROM Lead LIMIT 1").await.status,
    ];
    assert_eq!(
        statuses,
        [
            StatusCode::OK,
            StatusCode::SERVICE_UNAVAILABLE,
            StatusCode::SERVICE_UNAVAILABLE,
            StatusCode::OK
        ]
    );
    // Every call is counted per endpoint, failed ones included.
    assert_eq!(org.counter("GET /services/data/{v}/query"), 5);
    assert_eq!(org.counter("GET /services/data/{v}/query/{locator}"), 3);
}

#[tokio::test]
async fn placed_writes_and_query_faults_over_http() {
    let org = builder().start().await.unwrap();
    let api = Api::new(&org);
    let c = http();
    let fake = |path: &str| format!("{}/__fake/{path}", org.base_url());
    let res = c
        .post(fake("records"))
        .json(&json!({"object": "Contact", "fields": {"LastName": "Held"}, "at": "2026-01-01T10:00:00Z", "uncommitted": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let id = res.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let q = "SELECT Id, CreatedDate FROM Contact";
    assert_eq!(api.query(q).await.body["totalSize"], 0);
    let res = c
        .post(fake(&format!("records/{id}/commit")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let r = api.query(q).await;
    assert_eq!(
        r.body["records"][0]["CreatedDate"],
        "2026-01-01T10:00:00.000+0000"
    );

    let res = c
        .patch(fake(&format!("records/{id}")))
        .json(&json!({"fields": {"Title": "CTO"}, "at": "2026-01-01T11:00:00Z"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        org.record(&id).unwrap()["LastModifiedDate"],
        "2026-01-01T11:00:00.000+0000"
    );

    // Bad input names what was wrong and changes nothing.
    let res = c
        .post(fake("records"))
        .json(&json!({"object": "Contact", "fields": {"FirstName": "NoLast"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(res.text().await.unwrap().contains("REQUIRED_FIELD_MISSING"));
    let res = c
        .post(fake("records"))
        .json(&json!({"object": "Contact", "fields": {"LastName": "x"}, "at": "noon"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(res.text().await.unwrap().contains("at:"));
    let res = c
        .post(fake("records/003Fk0000000zzzAAA/commit"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_eq!(org.count("Contact"), 1);

    let faults: Value = c
        .post(fake("faults"))
        .body(r#"{"fail_nth_query": 2, "fail_nth_page": 1}"#)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(faults["failing_queries"], json!([2]));
    assert_eq!(faults["failing_pages"], json!([1]));
    assert_eq!(api.query(q).await.status, StatusCode::OK);
    assert_eq!(api.query(q).await.status, StatusCode::SERVICE_UNAVAILABLE);
}

#[tokio::test]
async fn the_date_header_follows_the_org_clock() {
    let org = builder().start().await.unwrap();
    let api = Api::new(&org);
    org.advance_clock(std::time::Duration::from_secs(3 * 3600));
    let r = api.query("SELECT Id FROM Account LIMIT 1").await;
    let date = r.headers["date"].to_str().unwrap();
    let at = DateTime::parse_from_rfc2822(date).unwrap();
    let drift = (org.now() - at.with_timezone(&Utc)).num_seconds();
    assert!((0..=2).contains(&drift), "{date} against {}", org.now());
}
