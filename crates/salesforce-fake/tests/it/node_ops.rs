//! The Salesforce node's operations (n8n-salesforce.md), one object at a
//! time, as a client sees them: create with the node's required fields,
//! get, update, delete, describe, user reads, attachment bodies and upsert
//! collections.

use base64::Engine;
use reqwest::{Method, StatusCode};
use salesforce_fake::{CustomObject, Field};
use serde_json::{json, Value};

use crate::common::*;

#[tokio::test]
async fn each_object_the_node_writes_supports_create_get_update_delete_and_describe() {
    let org = builder()
        .custom_object(CustomObject::new("Invoice__c").field(Field::number("Total__c")))
        .start()
        .await
        .unwrap();
    let api = Api::new(&org);
    let account = org.insert("Account", json!({"Name": "Parent"})).unwrap();
    let contact = org.insert("Contact", json!({"LastName": "Kid"})).unwrap();
    let case = org.insert("Case", json!({"Subject": "Help"})).unwrap();
    let campaign = org.insert("Campaign", json!({"Name": "Spring"})).unwrap();
    let body = base64::engine::general_purpose::STANDARD.encode(b"hello");
    // (object, create body with the node's required fields, an update, the field to check)
    let cases = [
        (
            "Account",
            json!({"Name": "Acme", "Website": "https://acme.test"}),
            json!({"Phone": "555"}),
            "Phone",
        ),
        (
            "Contact",
            json!({"LastName": "Lovelace", "Email": "ada@example.com"}),
            json!({"Title": "CTO"}),
            "Title",
        ),
        (
            "Lead",
            json!({"Company": "Initech", "LastName": "Lumbergh"}),
            json!({"Status": "Working - Contacted"}),
            "Status",
        ),
        (
            "Opportunity",
            json!({"Name": "Deal", "CloseDate": "2026-06-30", "StageName": "Prospecting"}),
            json!({"Amount": 1000}),
            "Amount",
        ),
        (
            "Case",
            json!({"Type": "Electrical"}),
            json!({"Status": "Working"}),
            "Status",
        ),
        (
            "Task",
            json!({"Status": "In Progress", "Subject": "Email"}),
            json!({"Description": "New description"}),
            "Description",
        ),
        (
            "Note",
            json!({"Title": "Hi", "ParentId": account, "Body": "text"}),
            json!({"IsPrivate": true}),
            "IsPrivate",
        ),
        (
            "CaseComment",
            json!({"ParentId": case, "CommentBody": "first", "IsPublished": false}),
            json!({"CommentBody": "edited"}),
            "CommentBody",
        ),
        (
            "CampaignMember",
            json!({"CampaignId": campaign, "ContactId": contact, "Status": "Sent"}),
            json!({"Status": "Responded"}),
            "Status",
        ),
        (
            "Attachment",
            json!({"Name": "a.txt", "ParentId": account, "Body": body, "ContentType": "text/plain"}),
            json!({"Description": "notes"}),
            "Description",
        ),
        (
            "Invoice__c",
            json!({"Name": "INV-1", "Total__c": 12.5}),
            json!({"Total__c": 13}),
            "Total__c",
        ),
    ];
    for (object, create, update, field) in cases {
        let lower = object.to_lowercase();
        let r = api.post(&format!("/sobjects/{lower}"), create).await;
        assert_eq!(r.status, StatusCode::CREATED, "{object}: {}", r.body);
        let id = r.body["id"].as_str().unwrap().to_string();
        assert_eq!(
            r.body,
            json!({"id": id, "success": true, "errors": []}),
            "{object}"
        );
        let got = api.get(&format!("/sobjects/{lower}/{id}")).await;
        assert_eq!(got.status, StatusCode::OK, "{object}");
        assert_eq!(got.body["attributes"]["type"], object);
        assert_eq!(got.body["Id"], id.as_str());
        let r = api
            .patch(&format!("/sobjects/{lower}/{id}"), update.clone())
            .await;
        assert_eq!(
            (r.status, &r.body),
            (StatusCode::NO_CONTENT, &Value::Null),
            "{object}"
        );
        let got = api
            .get(&format!("/sobjects/{object}/{id}?fields={field}"))
            .await;
        assert_eq!(got.body[field], update[field], "{object}");
        let d = api.get(&format!("/sobjects/{lower}/describe")).await;
        assert_eq!(d.body["name"], object);
        assert!(d.body["fields"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["name"] == field));
        let s = api.get(&format!("/sobjects/{lower}")).await;
        assert_eq!(s.body["objectDescribe"]["name"], object, "getSummary");
        assert_eq!(
            api.delete(&format!("/sobjects/{lower}/{id}")).await.status,
            StatusCode::NO_CONTENT,
            "{object}"
        );
        assert_eq!(
            api.get(&format!("/sobjects/{lower}/{id}")).await.status,
            StatusCode::NOT_FOUND
        );
    }
    // The node's required fields, missing, get Salesforce's error.
    for (object, missing) in [
        ("Note", vec!["Title", "ParentId"]),
        ("CaseComment", vec!["ParentId"]),
        ("CampaignMember", vec!["CampaignId"]),
        ("Attachment", vec!["Name", "ParentId", "Body"]),
    ] {
        let r = api.post(&format!("/sobjects/{object}"), json!({})).await;
        assert_eq!(r.body[0]["errorCode"], "REQUIRED_FIELD_MISSING", "{object}");
        assert_eq!(r.body[0]["fields"], json!(missing), "{object}");
    }
}

#[tokio::test]
async fn users_are_read_by_id_and_by_query() {
    let org = builder().start().await.unwrap();
    let api = Api::new(&org);
    let id = org.user_id(USER).unwrap();
    let r = api.get(&format!("/sobjects/user/{id}")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["Username"], USER);
    assert_eq!(r.body["Email"], USER);
    let r = api
        .query("SELECT id,name,email,LastModifiedDate FROM User")
        .await;
    assert_eq!(r.body["totalSize"], 1);
    let rec = &r.body["records"][0];
    assert_eq!(
        rec.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["attributes", "Id", "Name", "Email", "LastModifiedDate"]
    );
    assert_eq!(rec["Name"], "User User");
}

#[tokio::test]
async fn binary_fields_are_served_by_url_as_salesforce_does() {
    let org = builder().start().await.unwrap();
    let api = Api::new(&org);
    let parent = org.insert("Account", json!({"Name": "P"})).unwrap();
    let bytes = b"%PDF-1.4 binary \x00\x01 body";
    let r = api
        .post(
            "/sobjects/Attachment",
            json!({"Name": "r.pdf", "ParentId": parent, "ContentType": "application/pdf",
                   "Body": base64::engine::general_purpose::STANDARD.encode(bytes)}),
        )
        .await;
    let id = r.body["id"].as_str().unwrap().to_string();
    let url = format!("{V}/sobjects/Attachment/{id}/Body");
    let got = api.get(&format!("/sobjects/Attachment/{id}")).await;
    assert_eq!(got.body["Body"], url.as_str());
    assert_eq!(got.body["BodyLength"], bytes.len());
    let q = api
        .query("SELECT Id, Body, BodyLength FROM Attachment")
        .await;
    assert_eq!(q.body["records"][0]["Body"], url.as_str());
    let res = api
        .client
        .get(format!("{}{url}", api.base))
        .bearer_auth(&api.token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "application/pdf");
    assert_eq!(res.bytes().await.unwrap().as_ref(), bytes);
    // The library still shows the stored content.
    assert!(org.record(&id).unwrap()["Body"]
        .as_str()
        .unwrap()
        .starts_with("JVBER"));
}

#[tokio::test]
async fn upsert_collections_answer_in_order_with_per_record_errors() {
    let org = builder()
        .custom_object(CustomObject::new("Part__c").field(Field::text("Code__c", 20).external_id()))
        .start()
        .await
        .unwrap();
    let api = Api::new(&org);
    let existing = org
        .insert("Part__c", json!({"Name": "old", "Code__c": "P-1"}))
        .unwrap();
    let r = api
        .call(
            Method::PATCH,
            "/composite/sobjects/Part__c/Code__c",
            Some(json!({"allOrNone": false, "records": [
                {"attributes": {"type": "Part__c"}, "Code__c": "P-1", "Name": "updated"},
                {"attributes": {"type": "Part__c"}, "Code__c": "P-2", "Name": "created"},
                {"attributes": {"type": "Part__c"}, "Name": "no key"},
                {"attributes": {"type": "Part__c"}, "Code__c": "P-3", "Bogus__c": 1},
            ]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let res = r.body.as_array().unwrap();
    assert_eq!(
        res[0],
        json!({"id": existing, "success": true, "errors": [], "created": false})
    );
    assert_eq!(res[1]["created"], true);
    assert_eq!(res[2]["errors"][0]["statusCode"], "MISSING_ARGUMENT");
    assert_eq!(res[3]["errors"][0]["statusCode"], "INVALID_FIELD");
    assert_eq!(org.record(&existing).unwrap()["Name"], "updated");
    assert_eq!(org.count("Part__c"), 2);
}
