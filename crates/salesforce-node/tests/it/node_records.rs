//! Every resource and operation against the fake org (real records, real rules): what the
//! node outputs, what the org received, and what the org now holds.

use std::collections::BTreeMap;

use base64::Engine;
use node_api::{BinaryData, Item, JsonObject};
use salesforce_fake::{CustomObject, Field};
use serde_json::{json, Value};

use crate::common::{calls, env, env_with, jsons, org_builder, pairing, soql, USER};

fn id_of(out: &[Value]) -> String {
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(out[0]["success"], true, "{out:?}");
    out[0]["id"].as_str().unwrap().to_owned()
}

fn ok() -> Value {
    json!({"success": true, "errors": []})
}

#[tokio::test]
async fn account_create_get_update_upsert_summary_note_get_all_and_delete() {
    let env = env().await;
    let node = env.node();
    let out = env
        .ctx(
            json!({"resource": "account", "name": "Acme", "additionalFields": {
            "website": "https://acme.example", "numberOfEmployees": 12, "type": "Partner",
            "billingCity": "Lyon"}}),
        )
        .json(&node, 1)
        .await
        .unwrap();
    let id = id_of(&out);
    assert_eq!(out[0]["errors"], json!([]));
    let stored = env.org.record(&id).unwrap();
    assert_eq!(
        (
            &stored["Name"],
            &stored["Website"],
            &stored["NumberOfEmployees"],
            &stored["Type"],
            &stored["BillingCity"]
        ),
        (
            &json!("Acme"),
            &json!("https://acme.example"),
            &json!(12),
            &json!("Partner"),
            &json!("Lyon")
        )
    );

    let got = env
        .ctx(json!({"resource": "account", "operation": "get", "accountId": id}))
        .json(&node, 1)
        .await
        .unwrap();
    assert_eq!(
        (got[0]["Id"].as_str(), got[0]["Name"].as_str()),
        (Some(id.as_str()), Some("Acme"))
    );
    assert_eq!(got[0]["attributes"]["type"], "Account");

    let updated = env
        .ctx(json!({"resource": "account", "operation": "update", "accountId": id,
                    "updateFields": {"name": "Acme SA", "ownerId": env.org.user_id(USER).unwrap()}}))
        .json(&node, 1)
        .await
        .unwrap();
    assert_eq!(updated, [ok()]);
    assert_eq!(env.org.record(&id).unwrap()["Name"], "Acme SA");

    // Upsert by Id: an existing record is updated, `created` says so.
    let upserted = env
        .ctx(
            json!({"resource": "account", "operation": "upsert", "externalId": "Id",
                    "externalIdValue": id, "name": "Acme Group", "additionalFields": {}}),
        )
        .json(&node, 1)
        .await
        .unwrap();
    assert_eq!(upserted[0]["created"], false, "{upserted:?}");
    assert_eq!(env.org.record(&id).unwrap()["Name"], "Acme Group");

    let summary = env
        .ctx(json!({"resource": "account", "operation": "getSummary"}))
        .json(&node, 1)
        .await
        .unwrap();
    assert_eq!(summary[0]["objectDescribe"]["name"], "Account");
    assert_eq!(summary[0]["recentItems"][0]["Id"], json!(id));

    let note = env
        .ctx(
            json!({"resource": "account", "operation": "addNote", "accountId": id,
                    "title": "Call back", "options": {"body": "Tuesday", "isPrivate": true}}),
        )
        .json(&node, 1)
        .await
        .unwrap();
    let note_id = id_of(&note);
    let stored = env.org.record(&note_id).unwrap();
    assert_eq!(
        (
            &stored["Title"],
            &stored["Body"],
            &stored["ParentId"],
            &stored["IsPrivate"]
        ),
        (
            &json!("Call back"),
            &json!("Tuesday"),
            &json!(id),
            &json!(true)
        )
    );

    env.org
        .insert("Account", json!({"Name": "Beta", "Type": "Prospect"}))
        .unwrap();
    let all = env
        .ctx(
            json!({"resource": "account", "operation": "getAll", "returnAll": true, "options": {}}),
        )
        .json(&node, 1)
        .await
        .unwrap();
    let names: Vec<&str> = all.iter().map(|a| a["Name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Acme Group", "Beta"]);
    // n8n's default fields: id, name, type, LastModifiedDate (and the attributes).
    let keys: Vec<&String> = all[1].as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        ["attributes", "Id", "Name", "Type", "LastModifiedDate"]
    );

    let deleted = env
        .ctx(json!({"resource": "account", "operation": "delete", "accountId": id}))
        .json(&node, 1)
        .await
        .unwrap();
    assert_eq!(deleted, [ok()]);
    assert_eq!(env.org.record(&id).unwrap()["IsDeleted"], true);

    let paths: Vec<(String, String)> = calls(&env.data_requests());
    let want: Vec<(&str, String)> = vec![
        ("POST", "/sobjects/account".into()),
        ("GET", format!("/sobjects/account/{id}")),
        ("PATCH", format!("/sobjects/account/{id}")),
        ("PATCH", format!("/sobjects/account/Id/{id}")),
        ("GET", "/sobjects/account".into()),
        ("POST", "/sobjects/note".into()),
        ("GET", "/query".into()),
        ("DELETE", format!("/sobjects/account/{id}")),
    ];
    let want: Vec<(String, String)> = want.into_iter().map(|(m, p)| (m.into(), p)).collect();
    assert_eq!(paths, want);
}

#[tokio::test]
async fn contact_create_with_custom_fields_campaign_note_update_get_all_and_delete() {
    let env = env().await;
    let node = env.node();
    let account = env.org.insert("Account", json!({"Name": "Acme"})).unwrap();
    let out = env
        .ctx(
            json!({"resource": "contact", "lastname": "Lovelace", "additionalFields": {
            "firstName": "Ada", "email": "ada@example.com", "acconuntId": account,
            "Assistant Phone": null, "customFieldsUi": {"customFieldsValues": [
                {"fieldId": "Department", "value": "Engines"}]}}}),
        )
        .json(&node, 1)
        .await
        .unwrap();
    let id = id_of(&out);
    let stored = env.org.record(&id).unwrap();
    // n8n declares `acconuntId` but reads `accountId` and drops the value; we set AccountId.
    assert_eq!(
        (
            &stored["LastName"],
            &stored["FirstName"],
            &stored["Email"],
            &stored["AccountId"],
            &stored["Department"]
        ),
        (
            &json!("Lovelace"),
            &json!("Ada"),
            &json!("ada@example.com"),
            &json!(account),
            &json!("Engines")
        )
    );

    let campaign = env
        .org
        .insert("Campaign", json!({"Name": "Spring"}))
        .unwrap();
    let member = env
        .ctx(
            json!({"resource": "contact", "operation": "addToCampaign", "contactId": id,
                    "campaignId": campaign, "options": {"status": "Responded"}}),
        )
        .json(&node, 1)
        .await
        .unwrap();
    let member = env.org.record(&id_of(&member)).unwrap();
    assert_eq!(
        (
            &member["ContactId"],
            &member["CampaignId"],
            &member["Status"]
        ),
        (&json!(id), &json!(campaign), &json!("Responded"))
    );

    let note = env
        .ctx(
            json!({"resource": "contact", "operation": "addNote", "contactId": id, "title": "Met"}),
        )
        .json(&node, 1)
        .await
        .unwrap();
    assert_eq!(
        env.org.record(&id_of(&note)).unwrap()["ParentId"],
        json!(id)
    );

    let updated = env
        .ctx(
            json!({"resource": "contact", "operation": "update", "contactId": id,
                    "updateFields": {"lastName": "King", "mailingCity": "London"}}),
        )
        .json(&node, 1)
        .await
        .unwrap();
    assert_eq!(updated, [ok()]);
    let stored = env.org.record(&id).unwrap();
    assert_eq!(
        (&stored["LastName"], &stored["MailingCity"]),
        (&json!("King"), &json!("London"))
    );

    let all = env
        .ctx(
            json!({"resource": "contact", "operation": "getAll", "returnAll": false, "limit": 5,
                    "options": {"fields": "Id, LastName, Email"}}),
        )
        .json(&node, 1)
        .await
        .unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0]["LastName"], "King");
    let queries: Vec<String> = env
        .data_requests()
        .iter()
        .filter(|r| r.path.ends_with("/query"))
        .map(soql)
        .collect();
    assert_eq!(queries, ["SELECT Id,LastName,Email FROM Contact LIMIT 5"]);

    let gone = env
        .ctx(json!({"resource": "contact", "operation": "delete", "contactId": id}))
        .json(&node, 1)
        .await
        .unwrap();
    assert_eq!(gone, [ok()]);
    assert_eq!(env.org.record(&id).unwrap()["IsDeleted"], true);
}

#[tokio::test]
async fn lead_create_campaign_update_get_summary_and_delete() {
    let env = env().await;
    let node = env.node();
    let out = env
        .ctx(
            json!({"resource": "lead", "company": "Acme", "lastname": "Ng", "additionalFields": {
            "firstname": "Lin", "IsUnreadByOwner": true, "annualRevenue": 1000,
            "status": "Working - Contacted"}}),
        )
        .json(&node, 1)
        .await
        .unwrap();
    let id = id_of(&out);
    let stored = env.org.record(&id).unwrap();
    assert_eq!(
        (
            &stored["Company"],
            &stored["LastName"],
            &stored["FirstName"],
            &stored["IsUnreadByOwner"],
            &stored["Status"]
        ),
        (
            &json!("Acme"),
            &json!("Ng"),
            &json!("Lin"),
            &json!(true),
            &json!("Working - Contacted")
        )
    );
    let campaign = env.org.insert("Campaign", json!({"Name": "Fair"})).unwrap();
    let member = env
        .ctx(json!({"resource": "lead", "operation": "addToCampaign", "leadId": id, "campaignId": campaign}))
        .json(&node, 1)
        .await
        .unwrap();
    assert_eq!(
        env.org.record(&id_of(&member)).unwrap()["LeadId"],
        json!(id)
    );
    assert_eq!(
        env.data_requests().last().unwrap().json().unwrap(),
        json!({"LeadId": id, "CampaignId": campaign})
    );

    // As n8n: a lead update without any field is refused before anything is sent.
    let before = env.data_requests().len();
    let e = env
        .ctx(json!({"resource": "lead", "operation": "update", "leadId": id, "updateFields": {}}))
        .json(&node, 1)
        .await
        .unwrap_err();
    assert_eq!(e.message, "You must add at least one update field");
    assert_eq!(e.item_index, Some(0));
    assert_eq!(env.data_requests().len(), before);

    let updated = env
        .ctx(
            json!({"resource": "lead", "operation": "update", "leadId": id,
                    "updateFields": {"company": "Acme Ltd", "website": "https://acme.example"}}),
        )
        .json(&node, 1)
        .await
        .unwrap();
    assert_eq!(updated, [ok()]);
    assert_eq!(env.org.record(&id).unwrap()["Company"], "Acme Ltd");

    let got = env
        .ctx(json!({"resource": "lead", "operation": "get", "leadId": id}))
        .json(&node, 1)
        .await
        .unwrap();
    assert_eq!(got[0]["Company"], "Acme Ltd");
    let summary = env
        .ctx(json!({"resource": "lead", "operation": "getSummary"}))
        .json(&node, 1)
        .await
        .unwrap();
    assert_eq!(summary[0]["objectDescribe"]["name"], "Lead");
    let all = env
        .ctx(json!({"resource": "lead", "operation": "getAll", "returnAll": true}))
        .json(&node, 1)
        .await
        .unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(
        soql(env.data_requests().last().unwrap()),
        "SELECT id,company,firstname,lastname,street,postalCode,city,email,status,LastModifiedDate FROM Lead"
    );
    let gone = env
        .ctx(json!({"resource": "lead", "operation": "delete", "leadId": id}))
        .json(&node, 1)
        .await
        .unwrap();
    assert_eq!(gone, [ok()]);
}

#[tokio::test]
async fn opportunity_create_update_get_all_note_summary_and_delete() {
    let env = env().await;
    let node = env.node();
    let out = env
        .ctx(json!({"resource": "opportunity", "name": "Big deal", "closeDate": "2026-01-31",
                    "stageName": "Prospecting", "additionalFields": {"amount": 5000, "probability": 10}}))
        .json(&node, 1)
        .await
        .unwrap();
    let id = id_of(&out);
    let stored = env.org.record(&id).unwrap();
    assert_eq!(
        (
            &stored["Name"],
            &stored["CloseDate"],
            &stored["StageName"],
            &stored["Amount"]
        ),
        (
            &json!("Big deal"),
            &json!("2026-01-31"),
            &json!("Prospecting"),
            &json!(5000)
        )
    );
    let updated = env
        .ctx(
            json!({"resource": "opportunity", "operation": "update", "opportunityId": id,
                    "updateFields": {"stageName": "Closed Won", "nextStep": "Invoice"}}),
        )
        .json(&node, 1)
        .await
        .unwrap();
    assert_eq!(updated, [ok()]);
    assert_eq!(env.org.record(&id).unwrap()["StageName"], "Closed Won");
    let note = env
        .ctx(json!({"resource": "opportunity", "operation": "addNote", "opportunityId": id, "title": "Won"}))
        .json(&node, 1)
        .await
        .unwrap();
    id_of(&note);
    let all = env
        .ctx(json!({"resource": "opportunity", "operation": "getAll", "returnAll": true}))
        .json(&node, 1)
        .await
        .unwrap();
    assert_eq!(all[0]["Amount"], 5000);
    let summary = env
        .ctx(json!({"resource": "opportunity", "operation": "getSummary"}))
        .json(&node, 1)
        .await
        .unwrap();
    assert_eq!(summary[0]["objectDescribe"]["name"], "Opportunity");
    let got = env
        .ctx(json!({"resource": "opportunity", "operation": "get", "opportunityId": id}))
        .json(&node, 1)
        .await
        .unwrap();
    assert_eq!(got[0]["NextStep"], "Invoice");
    let gone = env
        .ctx(json!({"resource": "opportunity", "operation": "delete", "opportunityId": id}))
        .json(&node, 1)
        .await
        .unwrap();
    assert_eq!(gone, [ok()]);
}

#[tokio::test]
async fn case_create_comment_get_summary_update_get_all_and_delete() {
    let env = env().await;
    let node = env.node();
    let out = env
        .ctx(
            json!({"resource": "case", "type": "Electrical", "additionalFields": {
            "subject": "Sparks", "priority": "High", "isEscalated": true}}),
        )
        .json(&node, 1)
        .await
        .unwrap();
    let id = id_of(&out);
    let stored = env.org.record(&id).unwrap();
    assert_eq!(
        (
            &stored["Type"],
            &stored["Subject"],
            &stored["Priority"],
            &stored["IsEscalated"]
        ),
        (
            &json!("Electrical"),
            &json!("Sparks"),
            &json!("High"),
            &json!(true)
        )
    );
    let comment = env
        .ctx(
            json!({"resource": "case", "operation": "addComment", "caseId": id,
                    "options": {"commentBody": "On it", "isPublished": true}}),
        )
        .json(&node, 1)
        .await
        .unwrap();
    let comment = env.org.record(&id_of(&comment)).unwrap();
    assert_eq!(
        (
            &comment["ParentId"],
            &comment["CommentBody"],
            &comment["IsPublished"]
        ),
        (&json!(id), &json!("On it"), &json!(true))
    );
    assert_eq!(
        calls(&env.data_requests()).last().unwrap().1,
        "/sobjects/casecomment"
    );
    let got = env
        .ctx(json!({"resource": "case", "operation": "get", "caseId": id}))
        .json(&node, 1)
        .await
        .unwrap();
    assert_eq!(got[0]["Subject"], "Sparks");
    let summary = env
        .ctx(json!({"resource": "case", "operation": "getSummary"}))
        .json(&node, 1)
        .await
        .unwrap();
    assert_eq!(summary[0]["objectDescribe"]["name"], "Case");
    let updated = env
        .ctx(
            json!({"resource": "case", "operation": "update", "caseId": id,
                    "updateFields": {"status": "Closed", "type": "Structural"}}),
        )
        .json(&node, 1)
        .await
        .unwrap();
    assert_eq!(updated, [ok()]);
    assert_eq!(env.org.record(&id).unwrap()["Status"], "Closed");
    let all = env
        .ctx(json!({"resource": "case", "operation": "getAll", "returnAll": true}))
        .json(&node, 1)
        .await
        .unwrap();
    assert_eq!(all[0]["Type"], "Structural");
    let gone = env
        .ctx(json!({"resource": "case", "operation": "delete", "caseId": id}))
        .json(&node, 1)
        .await
        .unwrap();
    assert_eq!(gone, [ok()]);
}

#[tokio::test]
async fn task_create_get_update_summary_get_all_and_delete() {
    let env = env().await;
    let node = env.node();
    let out = env
        .ctx(
            json!({"resource": "task", "status": "Not Started", "additionalFields": {
            "subject": "Call", "priority": "High", "activityDate": "2026-02-01",
            "callDurationInSeconds": 60}}),
        )
        .json(&node, 1)
        .await
        .unwrap();
    let id = id_of(&out);
    let stored = env.org.record(&id).unwrap();
    assert_eq!(
        (
            &stored["Status"],
            &stored["Subject"],
            &stored["Priority"],
            &stored["CallDurationInSeconds"]
        ),
        (
            &json!("Not Started"),
            &json!("Call"),
            &json!("High"),
            &json!(60)
        )
    );
    let got = env
        .ctx(json!({"resource": "task", "operation": "get", "taskId": id}))
        .json(&node, 1)
        .await
        .unwrap();
    assert_eq!(got[0]["Subject"], "Call");
    let updated = env
        .ctx(
            json!({"resource": "task", "operation": "update", "taskId": id,
                    "updateFields": {"status": "Completed"}}),
        )
        .json(&node, 1)
        .await
        .unwrap();
    assert_eq!(updated, [ok()]);
    let summary = env
        .ctx(json!({"resource": "task", "operation": "getSummary"}))
        .json(&node, 1)
        .await
        .unwrap();
    assert_eq!(summary[0]["objectDescribe"]["name"], "Task");
    let all = env
        .ctx(json!({"resource": "task", "operation": "getAll", "returnAll": true}))
        .json(&node, 1)
        .await
        .unwrap();
    assert_eq!(all[0]["Status"], "Completed");
    let gone = env
        .ctx(json!({"resource": "task", "operation": "delete", "taskId": id}))
        .json(&node, 1)
        .await
        .unwrap();
    assert_eq!(gone, [ok()]);
}

fn with_file(name: &str, bytes: &[u8], mime: &str, ext: Option<&str>) -> Item {
    let mut item = Item::new(JsonObject::new());
    item.binary = Some(BTreeMap::from([(
        name.to_owned(),
        BinaryData {
            data: base64::engine::general_purpose::STANDARD.encode(bytes),
            mime_type: mime.into(),
            file_name: None,
            file_extension: ext.map(str::to_owned),
            file_size: None,
        },
    )]));
    item
}

#[tokio::test]
async fn attachment_create_from_binary_get_update_get_all_summary_and_delete() {
    let env = env().await;
    let node = env.node();
    let account = env.org.insert("Account", json!({"Name": "Acme"})).unwrap();
    let ctx = env.ctx(
        json!({"resource": "attachment", "name": "notes.txt", "parentId": account,
                             "additionalFields": {"description": "Minutes"}}),
    );
    let out = jsons(
        &ctx.run(&node, vec![with_file("data", b"hello", "text/plain", None)])
            .await
            .unwrap(),
    );
    let id = id_of(&out);
    let stored = env.org.record(&id).unwrap();
    assert_eq!(
        (
            &stored["Name"],
            &stored["ContentType"],
            &stored["Description"],
            &stored["ParentId"]
        ),
        (
            &json!("notes.txt"),
            &json!("text/plain"),
            &json!("Minutes"),
            &json!(account)
        )
    );
    assert_eq!(
        stored["Body"],
        json!(base64::engine::general_purpose::STANDARD.encode(b"hello"))
    );

    // Without the binary property, the item fails and says which property it looked for.
    let e = ctx
        .run(&node, crate::common::empty_items(1))
        .await
        .unwrap_err();
    assert!(
        e.message.contains("no binary property \"data\""),
        "{}",
        e.message
    );

    let ctx = env.ctx(json!({"resource": "attachment", "operation": "update", "attachmentId": id,
                             "updateFields": {"name": "minutes.txt", "binaryPropertyName": "file"}}));
    let updated = jsons(
        &ctx.run(&node, vec![with_file("file", b"bye", "text/csv", None)])
            .await
            .unwrap(),
    );
    assert_eq!(updated, [ok()]);
    let stored = env.org.record(&id).unwrap();
    assert_eq!(
        (&stored["Name"], &stored["ContentType"]),
        (&json!("minutes.txt"), &json!("text/csv"))
    );

    let got = env
        .ctx(json!({"resource": "attachment", "operation": "get", "attachmentId": id}))
        .json(&node, 1)
        .await
        .unwrap();
    assert_eq!(got[0]["Name"], "minutes.txt");
    let all = env
        .ctx(json!({"resource": "attachment", "operation": "getAll", "returnAll": true}))
        .json(&node, 1)
        .await
        .unwrap();
    assert_eq!(all.len(), 1);
    let summary = env
        .ctx(json!({"resource": "attachment", "operation": "getSummary"}))
        .json(&node, 1)
        .await
        .unwrap();
    assert_eq!(summary[0]["objectDescribe"]["name"], "Attachment");
    let gone = env
        .ctx(json!({"resource": "attachment", "operation": "delete", "attachmentId": id}))
        .json(&node, 1)
        .await
        .unwrap();
    assert_eq!(gone, [ok()]);
}

#[tokio::test]
async fn user_get_and_get_all() {
    let env = env().await;
    let node = env.node();
    let user = env.org.user_id(USER).unwrap();
    let got = env
        .ctx(json!({"resource": "user", "userId": user}))
        .json(&node, 1)
        .await
        .unwrap();
    assert_eq!(
        (got[0]["Id"].as_str(), got[0]["Username"].as_str()),
        (Some(user.as_str()), Some(USER))
    );
    let all = env
        .ctx(json!({"resource": "user", "operation": "getAll", "returnAll": false, "limit": 10}))
        .json(&node, 1)
        .await
        .unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0]["Email"], USER);
    assert_eq!(
        soql(env.data_requests().last().unwrap()),
        "SELECT id,name,email,LastModifiedDate FROM User LIMIT 10"
    );
}

fn invoices() -> CustomObject {
    CustomObject::new("Invoice__c")
        .field(Field::text("Number__c", 20).external_id())
        .field(Field::number("Total__c"))
}

#[tokio::test]
async fn custom_object_create_upsert_get_update_get_all_and_delete() {
    let env = env_with(org_builder().custom_object(invoices())).await;
    let node = env.node();
    let fields = |n: &str, total: f64| {
        json!({"customFieldsValues": [
        {"fieldId": "Number__c", "value": n}, {"fieldId": "Total__c", "value": total}]})
    };
    let out = env
        .ctx(
            json!({"resource": "customObject", "customObject": "Invoice__c",
                    "customFieldsUi": fields("INV-1", 10.0)}),
        )
        .json(&node, 1)
        .await
        .unwrap();
    let id = id_of(&out);
    assert_eq!(env.org.record(&id).unwrap()["Number__c"], "INV-1");

    // Upsert by the external id: the first call creates, the second updates.
    let upsert = |total: f64| {
        env.ctx(json!({"resource": "customObject", "operation": "upsert", "customObject": "Invoice__c",
                       "externalId": "Number__c", "externalIdValue": "INV-2",
                       "customFieldsUi": {"customFieldsValues": [{"fieldId": "Total__c", "value": total}]}}))
    };
    let created = upsert(20.0).json(&node, 1).await.unwrap();
    assert_eq!(created[0]["created"], true, "{created:?}");
    let again = upsert(25.0).json(&node, 1).await.unwrap();
    assert_eq!(
        (again[0]["created"].clone(), again[0]["id"].clone()),
        (json!(false), created[0]["id"].clone())
    );
    let second = created[0]["id"].as_str().unwrap();
    assert_eq!(env.org.record(second).unwrap()["Total__c"], 25.0);

    let got = env
        .ctx(json!({"resource": "customObject", "operation": "get", "customObject": "Invoice__c", "recordId": id}))
        .json(&node, 1)
        .await
        .unwrap();
    assert_eq!(got[0]["Total__c"], 10.0);
    let updated = env
        .ctx(
            json!({"resource": "customObject", "operation": "update", "customObject": "Invoice__c",
                    "recordId": id, "customFieldsUi": fields("INV-1", 11.0)}),
        )
        .json(&node, 1)
        .await
        .unwrap();
    assert_eq!(updated, [ok()]);
    let all = env
        .ctx(json!({"resource": "customObject", "operation": "getAll", "customObject": "Invoice__c",
                    "returnAll": true, "options": {"fields": ["Number__c", "Total__c"],
                    "conditionsUi": {"conditionValues": [{"field": "Total__c", "operation": ">", "value": 10.5}]}}}))
        .json(&node, 1)
        .await
        .unwrap();
    let numbers: Vec<&str> = all
        .iter()
        .map(|r| r["Number__c"].as_str().unwrap())
        .collect();
    assert_eq!(numbers, ["INV-1", "INV-2"]);
    let gone = env
        .ctx(json!({"resource": "customObject", "operation": "delete", "customObject": "Invoice__c", "recordId": id}))
        .json(&node, 1)
        .await
        .unwrap();
    assert_eq!(gone, [ok()]);
    let reqs = calls(&env.data_requests());
    assert!(
        reqs.contains(&(
            "PATCH".into(),
            "/sobjects/Invoice__c/Number__c/INV-2".into()
        )),
        "{reqs:?}"
    );
}

#[tokio::test]
async fn document_upload_sends_a_multipart_content_version() {
    let env = env().await;
    let node = env.node();
    let account = env.org.insert("Account", json!({"Name": "Acme"})).unwrap();
    let ctx = env.ctx(json!({"resource": "document", "title": "Q3 report",
                             "additionalFields": {"linkToObjectId": account}}));
    let out = jsons(
        &ctx.run(
            &node,
            vec![with_file(
                "data",
                b"%PDF-1.7 ...",
                "application/pdf",
                Some("pdf"),
            )],
        )
        .await
        .unwrap(),
    );
    let id = id_of(&out);
    let stored = env.org.record(&id).unwrap();
    assert_eq!(
        (
            &stored["Title"],
            &stored["PathOnClient"],
            &stored["FirstPublishLocationId"]
        ),
        (
            &json!("Q3 report"),
            &json!("Q3 report.pdf"),
            &json!(account)
        )
    );
    assert_eq!(
        stored["VersionData"],
        json!(base64::engine::general_purpose::STANDARD.encode(b"%PDF-1.7 ..."))
    );
    let req = env.data_requests().pop().unwrap();
    assert_eq!(
        (
            req.method.as_str(),
            crate::common::short_path(&req.path).as_str()
        ),
        ("POST", "/sobjects/ContentVersion")
    );
    assert!(req
        .header("content-type")
        .unwrap()
        .starts_with("multipart/form-data; boundary="));
    assert!(req.body.contains("name=\"entity_content\""), "{}", req.body);
    assert!(
        req.body.contains("\"ContentLocation\":\"S\""),
        "{}",
        req.body
    );
}

#[tokio::test]
async fn flow_get_all_and_invoke_with_ui_or_json_variables() {
    let env = env_with(org_builder().flow("Welcome_Flow").flow("Other_Flow")).await;
    let node = env.node();
    let flows = env
        .ctx(json!({"resource": "flow", "operation": "getAll", "returnAll": false, "limit": 1}))
        .json(&node, 1)
        .await
        .unwrap();
    assert_eq!(flows.len(), 1);
    assert_eq!(flows[0]["name"], "Welcome_Flow");
    let all = env
        .ctx(json!({"resource": "flow", "operation": "getAll", "returnAll": true}))
        .json(&node, 1)
        .await
        .unwrap();
    assert_eq!(all.len(), 2);

    let out = env
        .ctx(
            json!({"resource": "flow", "apiName": "Welcome_Flow", "variablesUi": {
            "variablesValues": [{"name": "email", "value": "ada@example.com"}]}}),
        )
        .json(&node, 1)
        .await
        .unwrap();
    assert_eq!(out[0]["isSuccess"], true);
    assert_eq!(out[0]["outputValues"]["email"], "ada@example.com");
    assert_eq!(
        env.data_requests().last().unwrap().json().unwrap(),
        json!({"inputs": [{"email": "ada@example.com"}]})
    );
    let out = env
        .ctx(
            json!({"resource": "flow", "apiName": "Welcome_Flow", "jsonParameters": true,
                    "variablesJson": "{\"count\": 3}"}),
        )
        .json(&node, 1)
        .await
        .unwrap();
    assert_eq!(out[0]["outputValues"]["count"], 3);
}

#[tokio::test]
async fn search_reads_every_page_and_pairs_records_with_their_item() {
    let env = env().await;
    let node = env.node();
    for i in 0..2_100 {
        env.org
            .insert(
                "Lead",
                json!({"Company": format!("C{i:04}"), "LastName": "L"}),
            )
            .unwrap();
    }
    let ctx = env.ctx(
        json!({"resource": "search", "query": "SELECT Id, Company FROM Lead ORDER BY Company"}),
    );
    let out = ctx.run(&node, crate::common::empty_items(1)).await.unwrap();
    assert_eq!(out.len(), 2_100);
    assert_eq!(out[2_099].json["Company"], "C2099");
    assert!(pairing(&out).iter().all(|&i| i == 0));
    // Two pages: the query, then its nextRecordsUrl.
    let reqs = env.data_requests();
    assert_eq!(reqs.len(), 2, "{:?}", calls(&reqs));
    assert!(reqs[1].path.contains("/query/"), "{}", reqs[1].path);

    // Two input items run the query twice, each result paired with its item.
    let out = env
        .ctx(json!({"resource": "search", "query": "SELECT Id FROM Lead WHERE Company = 'C0001'"}))
        .run(&node, crate::common::empty_items(2))
        .await
        .unwrap();
    assert_eq!(pairing(&out), [0, 1]);
}
