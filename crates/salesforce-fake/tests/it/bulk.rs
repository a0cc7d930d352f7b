//! Bulk API 2.0 ingest over HTTP: the job lifecycle a client polls through,
//! CSV results with `sf__` columns, per-row errors worded as Salesforce
//! words them, file-level failures, and a 100,000-row job.

use reqwest::{Method, StatusCode};
use salesforce_fake::{CustomObject, FakeOrg, Field};
use serde_json::{json, Value};

use crate::common::*;

async fn org() -> FakeOrg {
    builder()
        .custom_object(
            CustomObject::new("Item__c")
                .field(Field::text("Sku__c", 40).external_id())
                .field(Field::number("Qty__c"))
                .field(Field::checkbox("Active__c")),
        )
        .start()
        .await
        .unwrap()
}

/// PUTs CSV to a job's upload URL.
async fn upload(api: &Api, job: &str, csv: &str) -> reqwest::Response {
    api.client
        .put(format!("{}{V}/jobs/ingest/{job}/batches", api.base))
        .bearer_auth(&api.token)
        .header("content-type", "text/csv")
        .body(csv.to_string())
        .send()
        .await
        .unwrap()
}

/// GETs a results CSV as text.
async fn csv(api: &Api, job: &str, which: &str) -> (StatusCode, String, String) {
    let res = api
        .client
        .get(format!("{}{V}/jobs/ingest/{job}/{which}", api.base))
        .bearer_auth(&api.token)
        .send()
        .await
        .unwrap();
    let status = res.status();
    let ct = res
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (status, ct, res.text().await.unwrap())
}

/// Creates a job, uploads `csv`, closes it and polls until it ends;
/// returns the final job info and how many polls saw InProgress.
async fn run_job(api: &Api, spec: Value, data: &str) -> (Value, usize) {
    let created = api.post("/jobs/ingest", spec).await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.body);
    let id = created.body["id"].as_str().unwrap().to_string();
    assert_eq!(upload(api, &id, data).await.status(), StatusCode::CREATED);
    let closed = api
        .patch(
            &format!("/jobs/ingest/{id}"),
            json!({"state": "UploadComplete"}),
        )
        .await;
    assert_eq!(closed.body["state"], "UploadComplete", "{}", closed.body);
    let mut in_progress = 0;
    for _ in 0..100 {
        let info = api.get(&format!("/jobs/ingest/{id}")).await;
        match info.body["state"].as_str().unwrap() {
            "InProgress" => in_progress += 1,
            "JobComplete" | "Failed" | "Aborted" => return (info.body, in_progress),
            other => panic!("unexpected state {other}"),
        }
    }
    panic!("job {id} never finished");
}

#[tokio::test]
async fn insert_job_goes_through_its_states_and_reports_each_row() {
    let org = org().await;
    let api = Api::new(&org);
    let created = api
        .post(
            "/jobs/ingest",
            json!({"object": "Contact", "operation": "insert", "contentType": "CSV", "lineEnding": "LF"}),
        )
        .await;
    assert_eq!(created.status, StatusCode::OK);
    let id = created.body["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("750") && id.len() == 18, "{id}");
    assert_eq!(
        created.body,
        json!({
            "id": id, "operation": "insert", "object": "Contact",
            "createdById": org.user_id(USER).unwrap(),
            "createdDate": created.body["createdDate"], "systemModstamp": created.body["systemModstamp"],
            "state": "Open", "concurrencyMode": "Parallel", "contentType": "CSV", "apiVersion": 65.0,
            "contentUrl": format!("services/data/v65.0/jobs/ingest/{id}/batches"),
            "lineEnding": "LF", "columnDelimiter": "COMMA",
        })
    );
    // Quoting: a comma, a doubled quote and a line break inside values.
    let data = "FirstName,LastName,Email,Description\n\
                Ada,Lovelace,ada@example.com,\"Analyst, Engine\"\n\
                Grace,,grace@example.com,no last name\n\
                Alan,Turing,not-an-email,\"said \"\"hi\"\"\nthen left\"\n";
    assert_eq!(upload(&api, &id, data).await.status(), StatusCode::CREATED);
    // Salesforce takes one upload per job.
    let again = upload(&api, &id, data).await;
    assert_eq!(again.status(), StatusCode::CONFLICT);
    let body: Value = again.json().await.unwrap();
    assert_eq!(body[0]["errorCode"], "INVALIDJOBSTATE");
    assert!(body[0]["message"]
        .as_str()
        .unwrap()
        .starts_with("Found multiple contents for job"));

    let closed = api
        .patch(
            &format!("/jobs/ingest/{id}"),
            json!({"state": "UploadComplete"}),
        )
        .await;
    assert_eq!(closed.status, StatusCode::OK);
    assert_eq!(closed.body["state"], "UploadComplete");
    // Results are not there before the job ends.
    let (status, _, _) = csv(&api, &id, "successfulResults").await;
    assert_eq!(status, StatusCode::CONFLICT);
    let first = api.get(&format!("/jobs/ingest/{id}")).await;
    assert_eq!(first.body["state"], "InProgress");
    assert_eq!(first.body["numberRecordsProcessed"], 0);
    assert_eq!(
        org.count("Contact"),
        0,
        "nothing written before the job runs"
    );
    let done = api.get(&format!("/jobs/ingest/{id}")).await;
    assert_eq!(done.body["state"], "JobComplete");
    assert_eq!(done.body["jobType"], "V2Ingest");
    assert_eq!(done.body["numberRecordsProcessed"], 3);
    assert_eq!(done.body["numberRecordsFailed"], 2);
    assert_eq!(org.count("Contact"), 1);

    let (status, ct, ok) = csv(&api, &id, "successfulResults/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(ct.starts_with("text/csv"), "{ct}");
    let mut lines = ok.lines();
    assert_eq!(
        lines.next().unwrap(),
        "\"sf__Id\",\"sf__Created\",FirstName,LastName,Email,Description"
    );
    let row = lines.next().unwrap();
    let ada = row.split('"').nth(1).unwrap().to_string();
    assert_eq!(
        row,
        format!("\"{ada}\",\"true\",\"Ada\",\"Lovelace\",\"ada@example.com\",\"Analyst, Engine\"")
    );
    assert_eq!(lines.next(), None);
    assert_eq!(org.record(&ada).unwrap()["Description"], "Analyst, Engine");

    let (_, _, failed) = csv(&api, &id, "failedResults").await;
    let mut reader = csv_reader(&failed);
    assert_eq!(
        reader.headers().unwrap().iter().collect::<Vec<_>>(),
        [
            "sf__Id",
            "sf__Error",
            "FirstName",
            "LastName",
            "Email",
            "Description"
        ]
    );
    let rows: Vec<Vec<String>> = reader
        .records()
        .map(|r| r.unwrap().iter().map(str::to_string).collect())
        .collect();
    assert_eq!(
        rows,
        [
            vec![
                "",
                "REQUIRED_FIELD_MISSING:Required fields are missing: [LastName]:LastName --",
                "Grace",
                "",
                "grace@example.com",
                "no last name"
            ],
            vec![
                "",
                "INVALID_EMAIL_ADDRESS:Email: invalid email address: not-an-email:Email --",
                "Alan",
                "Turing",
                "not-an-email",
                "said \"hi\"\nthen left"
            ],
        ]
    );
    let (_, _, unprocessed) = csv(&api, &id, "unprocessedrecords").await;
    assert_eq!(unprocessed, "FirstName,LastName,Email,Description\n");

    // Listed, then deleted.
    let all = api.get("/jobs/ingest").await;
    assert_eq!(all.body["done"], true);
    assert_eq!(all.body["records"][0]["id"], id.as_str());
    assert_eq!(
        api.delete(&format!("/jobs/ingest/{id}")).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        api.get(&format!("/jobs/ingest/{id}")).await.status,
        StatusCode::NOT_FOUND
    );
}

fn csv_reader(text: &str) -> csv::Reader<&[u8]> {
    csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(text.as_bytes())
}

#[tokio::test]
async fn update_upsert_delete_and_hard_delete_jobs() {
    let org = org().await;
    let api = Api::new(&org);
    let a = org
        .insert(
            "Item__c",
            json!({"Name": "a", "Sku__c": "A-1", "Qty__c": 1}),
        )
        .unwrap();
    let b = org
        .insert("Item__c", json!({"Name": "b", "Sku__c": "B-1"}))
        .unwrap();

    // Update: empty cells leave fields alone, #N/A clears them.
    let (info, _) = run_job(
        &api,
        json!({"object": "Item__c", "operation": "update"}),
        &format!(
            "Id,Qty__c,Active__c,Sku__c\n{a},5,true,#N/A\n{b},,false,\n001Fk0000000zzzAAA,1,,\n"
        ),
    )
    .await;
    assert_eq!(info["numberRecordsFailed"], 1, "{info}");
    let rec = org.record(&a).unwrap();
    assert_eq!(
        (
            rec["Qty__c"].clone(),
            rec["Active__c"].clone(),
            rec["Sku__c"].clone()
        ),
        (json!(5), json!(true), Value::Null)
    );
    assert_eq!(org.record(&b).unwrap()["Sku__c"], "B-1");
    let (_, _, failed) = csv(&api, info["id"].as_str().unwrap(), "failedResults").await;
    assert!(
        failed.contains(
            "\"001Fk0000000zzzAAA\",\"NOT_FOUND:The requested resource does not exist:--\""
        ),
        "{failed}"
    );

    // Upsert by external id: one match updates, none creates, in one pass.
    let (info, _) = run_job(
        &api,
        json!({"object": "Item__c", "operation": "upsert", "externalIdFieldName": "Sku__c"}),
        "Sku__c,Name,Qty__c\nb-1,renamed,2\nC-1,new,3\n,blank,4\n",
    )
    .await;
    let job = info["id"].as_str().unwrap().to_string();
    assert_eq!(info["numberRecordsProcessed"], 3);
    assert_eq!(info["numberRecordsFailed"], 1);
    assert_eq!(info["externalIdFieldName"], "Sku__c");
    let (_, _, ok) = csv(&api, &job, "successfulResults").await;
    let rows: Vec<Vec<String>> = csv_reader(&ok)
        .records()
        .map(|r| r.unwrap().iter().map(str::to_string).collect())
        .collect();
    assert_eq!(rows[0][..2], [b.clone(), "false".to_string()]);
    assert_eq!(rows[1][1], "true");
    assert_eq!(org.record(&rows[1][0]).unwrap()["Sku__c"], "C-1");
    assert_eq!(org.record(&b).unwrap()["Name"], "renamed");

    // Delete goes to the recycle bin (queryAll sees it); hardDelete does not.
    let (info, _) = run_job(
        &api,
        json!({"object": "Item__c", "operation": "delete"}),
        &format!("Id\n{a}\n"),
    )
    .await;
    assert_eq!(info["numberRecordsFailed"], 0);
    let (info, _) = run_job(
        &api,
        json!({"object": "Item__c", "operation": "hardDelete"}),
        &format!("Id\n{b}\n"),
    )
    .await;
    assert_eq!(info["numberRecordsFailed"], 0);
    let all = api
        .get("/queryAll?q=SELECT+Id,IsDeleted+FROM+Item__c+WHERE+Name+!=+'new'")
        .await;
    assert_eq!(all.body["totalSize"], 1, "{}", all.body);
    assert_eq!(all.body["records"][0]["Id"], a.as_str());
    assert_eq!(org.count("Item__c"), 2);
    let (_, _, ok) = csv(&api, info["id"].as_str().unwrap(), "successfulResults").await;
    assert_eq!(
        ok,
        format!("\"sf__Id\",\"sf__Created\",Id\n\"{b}\",\"false\",\"{b}\"\n")
    );
}

#[tokio::test]
async fn bad_job_definitions_and_state_changes_are_refused() {
    let org = org().await;
    let api = Api::new(&org);
    for (spec, needle) in [
        (json!({"operation": "insert"}), "object"),
        (
            json!({"object": "Nope__c", "operation": "insert"}),
            "Nope__c",
        ),
        (json!({"object": "Account", "operation": "merge"}), "merge"),
        (
            json!({"object": "Account", "operation": "upsert"}),
            "externalIdFieldName",
        ),
        (
            json!({"object": "Account", "operation": "upsert", "externalIdFieldName": "Name"}),
            "Name",
        ),
        (
            json!({"object": "Account", "operation": "insert", "lineEnding": "CR"}),
            "lineEnding",
        ),
        (
            json!({"object": "Account", "operation": "insert", "contentType": "JSON"}),
            "contentType",
        ),
    ] {
        let r = api.post("/jobs/ingest", spec.clone()).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{spec}");
        assert_eq!(r.body[0]["errorCode"], "INVALIDJOB", "{spec}");
        assert!(
            r.body[0]["message"].as_str().unwrap().contains(needle),
            "{spec}: {}",
            r.body
        );
    }
    let created = api
        .post(
            "/jobs/ingest",
            json!({"object": "Account", "operation": "insert"}),
        )
        .await;
    let id = created.body["id"].as_str().unwrap().to_string();
    let wrong_type = api
        .client
        .put(format!("{}{V}/jobs/ingest/{id}/batches", api.base))
        .bearer_auth(&api.token)
        .header("content-type", "application/json")
        .body("Name\nA\n")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_type.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    // An open job cannot be deleted; it can be aborted, once.
    assert_eq!(
        api.delete(&format!("/jobs/ingest/{id}")).await.status,
        StatusCode::CONFLICT
    );
    assert_eq!(
        upload(&api, &id, "Name\nKept\nOut\n").await.status(),
        StatusCode::CREATED
    );
    let aborted = api
        .patch(&format!("/jobs/ingest/{id}"), json!({"state": "Aborted"}))
        .await;
    assert_eq!(aborted.body["state"], "Aborted");
    let again = api
        .patch(&format!("/jobs/ingest/{id}"), json!({"state": "Aborted"}))
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert_eq!(again.body[0]["errorCode"], "INVALIDJOBSTATE");
    let (_, _, unprocessed) = csv(&api, &id, "unprocessedrecords").await;
    assert_eq!(unprocessed, "Name\n\"Kept\"\n\"Out\"\n");
    assert_eq!(org.count("Account"), 0);
    assert_eq!(
        upload(&api, &id, "Name\nA\n").await.status(),
        StatusCode::CONFLICT
    );
    assert_eq!(
        api.get("/jobs/ingest/750Fk0000000zzzAAA").await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn unusable_files_fail_the_whole_job() {
    let org = org().await;
    let api = Api::new(&org);
    let (info, _) = run_job(
        &api,
        json!({"object": "Account", "operation": "insert"}),
        "Name,Bogus__c\nA,1\n",
    )
    .await;
    assert_eq!(info["state"], "Failed");
    assert_eq!(
        info["errorMessage"],
        "InvalidBatch : Field name not found : Bogus__c"
    );
    assert_eq!(info["numberRecordsProcessed"], 0);
    let (_, _, unprocessed) = csv(&api, info["id"].as_str().unwrap(), "unprocessedrecords").await;
    assert_eq!(unprocessed, "Name,Bogus__c\n\"A\",\"1\"\n");

    let (info, _) = run_job(
        &api,
        json!({"object": "Account", "operation": "insert", "lineEnding": "LF"}),
        "Name\r\nA\r\n",
    )
    .await;
    assert_eq!(info["state"], "Failed");
    assert_eq!(
        info["errorMessage"],
        "ClientInputError : LineEnding is invalid on user data. Current LineEnding setting is LF"
    );
    // CRLF declared and sent, with another delimiter, works.
    let (info, _) = run_job(
        &api,
        json!({"object": "Account", "operation": "insert", "lineEnding": "CRLF", "columnDelimiter": "PIPE"}),
        "Name|Website\r\nPiped|https://a.test\r\n",
    )
    .await;
    assert_eq!(info["state"], "JobComplete");
    let (_, _, ok) = csv(&api, info["id"].as_str().unwrap(), "successfulResults").await;
    assert!(
        ok.starts_with("\"sf__Id\"|\"sf__Created\"|Name|Website\r\n"),
        "{ok}"
    );
    assert_eq!(org.count("Account"), 1);
}

#[tokio::test]
async fn polls_before_completion_are_configurable_and_lock_faults_hit_rows() {
    let org = org().await;
    let api = Api::new(&org);
    let spec = json!({"object": "Account", "operation": "insert"});
    let (_, polls) = run_job(&api, spec.clone(), "Name\nA\n").await;
    assert_eq!(polls, 1, "default");
    org.set_bulk_polls(3);
    let (_, polls) = run_job(&api, spec.clone(), "Name\nB\n").await;
    assert_eq!(polls, 3);
    let set = http()
        .post(format!("{}/__fake/bulk", org.base_url()))
        .body(r#"{"polls": 0}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(set.status(), StatusCode::OK);
    org.lock_next_writes(1);
    let (info, polls) = run_job(&api, spec, "Name\nC\nD\n").await;
    assert_eq!(polls, 0);
    assert_eq!(info["numberRecordsFailed"], 1);
    let (_, _, failed) = csv(&api, info["id"].as_str().unwrap(), "failedResults").await;
    assert!(failed.contains("UNABLE_TO_LOCK_ROW:"), "{failed}");
}

#[tokio::test]
async fn a_100000_row_upsert_job_completes_in_one_pass() {
    let org = org().await;
    org.set_bulk_polls(0);
    let api = Api::new(&org);
    let mut data = String::from("Sku__c,Name,Qty__c\n");
    for i in 0..100_000 {
        data.push_str(&format!("S{i},Item {i},{i}\n"));
    }
    // Every row looks its external id up: linear only with an index.
    let (info, _) = run_job(
        &api,
        json!({"object": "Item__c", "operation": "upsert", "externalIdFieldName": "Sku__c"}),
        &data,
    )
    .await;
    assert_eq!(info["state"], "JobComplete");
    assert_eq!(info["numberRecordsProcessed"], 100_000);
    assert_eq!(info["numberRecordsFailed"], 0);
    let (_, _, ok) = csv(&api, info["id"].as_str().unwrap(), "successfulResults").await;
    assert_eq!(ok.lines().count(), 100_001);
    assert!(ok
        .lines()
        .nth(100_000)
        .unwrap()
        .ends_with(",\"true\",\"S99999\",\"Item 99999\",\"99999\""));
    let r = api
        .call(Method::GET, "/query?q=SELECT+COUNT()+FROM+Item__c", None)
        .await;
    assert_eq!(r.body["totalSize"], 100_000);
}
