//! The Salesforce plugin's [`Demo`]: the fake org of `salesforce-fake`, seeded with records,
//! a client credentials credential for it, and two workflows: webhook -> Salesforce upsert
//! contact -> Respond to Webhook, and a Salesforce search run by hand.

use async_trait::async_trait;
use node_api::{Demo, DemoCredential, DemoRun, DemoSetup, DemoWorkflow};
use salesforce_fake::{CustomObject, FakeOrg, Field};
use serde_json::{json, Value};

use crate::credential_types::CLIENT_CREDENTIALS;

const CONSUMER_KEY: &str = "demo-consumer-key";
const CONSUMER_SECRET: &str = "demo-consumer-secret";
const RUN_AS: &str = "user@example.com";
/// The contact field the upsert matches on: Salesforce upserts by an external id field, so
/// the demo org's contacts get one, as an admin would add it.
const EXTERNAL_ID: &str = "External_Id__c";
const WEBHOOK_PATH: &str = "demo-contact";
const CREDENTIAL: &str = "Demo org";
/// The search workflow's Salesforce node, whose output the summary counts.
const SEARCH_NODE: &str = "Search";

/// The Salesforce demo.
#[derive(Debug, Default, Clone, Copy)]
pub struct SalesforceDemo;

#[async_trait]
impl Demo for SalesforceDemo {
    async fn start(&self, records: usize) -> Result<DemoSetup, String> {
        let org = FakeOrg::builder()
            .consumer_key(CONSUMER_KEY)
            .consumer_secret(CONSUMER_SECRET)
            .client_credentials_user(RUN_AS)
            .custom_object(
                CustomObject::new("Contact").field(Field::text(EXTERNAL_ID, 80).external_id()),
            )
            .seed(records)
            .start()
            .await
            .map_err(|e| format!("cannot start the fake Salesforce org: {e}"))?;
        Ok(DemoSetup {
            service: format!(
                "a fake Salesforce org at {} ({records} records per object)",
                org.base_url()
            ),
            credentials: vec![DemoCredential {
                name: CREDENTIAL.into(),
                credential_type: CLIENT_CREDENTIALS.into(),
                data: json!({"url": org.base_url(), "clientId": CONSUMER_KEY,
                             "clientSecret": CONSUMER_SECRET}),
            }],
            workflows: vec![upsert_contact(), search_accounts()],
            guard: Box::new(org),
        })
    }
}

/// The node's reference to the demo credential; the engine fills in its id.
fn credential_ref() -> Value {
    json!({CLIENT_CREDENTIALS: {"name": CREDENTIAL}})
}

fn upsert_contact() -> DemoWorkflow {
    DemoWorkflow {
        workflow: json!({
            "name": "Demo: upsert a contact from a webhook",
            "nodes": [
                {"name": "Webhook", "type": "n8n-nodes-base.webhook", "typeVersion": 2,
                 "parameters": {"httpMethod": "POST", "path": WEBHOOK_PATH,
                                "responseMode": "responseNode"}},
                {"name": "Upsert contact", "type": "n8n-nodes-base.salesforce", "typeVersion": 1,
                 "parameters": {"authentication": "clientCredentials", "resource": "contact",
                                "operation": "upsert", "externalId": EXTERNAL_ID,
                                "externalIdValue": "={{ $json.body.email }}",
                                "lastname": "={{ $json.body.lastName }}",
                                "additionalFields": {"firstName": "={{ $json.body.firstName }}",
                                                     "email": "={{ $json.body.email }}"}},
                 "credentials": credential_ref()},
                {"name": "Respond", "type": "n8n-nodes-base.respondToWebhook", "typeVersion": 1.1,
                 "parameters": {"respondWith": "firstIncomingItem"}}
            ],
            "connections": {
                "Webhook": {"main": [[{"node": "Upsert contact", "type": "main", "index": 0}]]},
                "Upsert contact": {"main": [[{"node": "Respond", "type": "main", "index": 0}]]}
            }
        }),
        run: DemoRun::Webhook {
            path: WEBHOOK_PATH.into(),
            body: json!({"email": "ada@example.com", "firstName": "Ada", "lastName": "Lovelace"}),
            try_body: json!({"email": "grace@example.com", "firstName": "Grace",
                             "lastName": "Hopper"}),
        },
        try_next: "upsert a contact through the webhook".into(),
    }
}

fn search_accounts() -> DemoWorkflow {
    DemoWorkflow {
        workflow: json!({
            "name": "Demo: search accounts",
            "nodes": [
                {"name": "Start", "type": "n8n-nodes-base.manualTrigger", "typeVersion": 1,
                 "parameters": {}},
                {"name": SEARCH_NODE, "type": "n8n-nodes-base.salesforce", "typeVersion": 1,
                 "parameters": {"authentication": "clientCredentials", "resource": "search",
                                "query": "SELECT Id, Name, Industry FROM Account"},
                 "credentials": credential_ref()}
            ],
            "connections": {
                "Start": {"main": [[{"node": SEARCH_NODE, "type": "main", "index": 0}]]}
            }
        }),
        run: DemoRun::Manual {
            summary: accounts_found,
        },
        try_next: "run the search again".into(),
    }
}

/// `found N accounts`, N the search node's output items in `execution`.
fn accounts_found(execution: &Value) -> String {
    let found = execution["data"]["resultData"]["runData"][SEARCH_NODE][0]["data"]["main"][0]
        .as_array()
        .map_or(0, Vec::len);
    format!("found {found} accounts")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_counts_the_search_nodes_items() {
        let execution = json!({"data": {"resultData": {"runData": {"Search": [
            {"data": {"main": [[{"json": {"Id": "1"}}, {"json": {"Id": "2"}}]]}}
        ]}}}});
        assert_eq!(accounts_found(&execution), "found 2 accounts");
        assert_eq!(accounts_found(&json!({})), "found 0 accounts");
    }
}
