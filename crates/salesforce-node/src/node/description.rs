//! The node's [`NodeDescription`]: its type, versions, the three credential types, and the
//! parameters the engine checks when a workflow is saved (and the node again for each item):
//! every parameter n8n marks required, with the conditions under which it is shown and its
//! default, and every fixed list (authentication, resource, operation per resource,
//! condition operators, a few picklists inside collections).

use std::collections::BTreeMap;

use node_api::{CredentialSpec, NodeDescription, ParameterSpec};
use serde_json::{json, Value};

use super::catalog::{
    self, CONDITION_OPERATORS, FIXED_LISTS, OTHER_RESOURCES, REQUIRED, RESOURCES, RESOURCE_NAMES,
};

/// n8n's type name of the node.
pub const TYPE_NAME: &str = "n8n-nodes-base.salesforce";

/// The `authentication` values and the credential type each one uses.
pub(crate) const AUTHENTICATION: &[(&str, &str)] = &[
    ("oAuth2", "salesforceOAuth2Api"),
    ("jwt", "salesforceJwtApi"),
    ("clientCredentials", "salesforceClientCredentialsApi"),
];

fn strings(values: &[&str]) -> Vec<Value> {
    values.iter().map(|v| json!(v)).collect()
}

fn show(conditions: &[(&str, &[&str])]) -> BTreeMap<String, Vec<Value>> {
    conditions
        .iter()
        .map(|(name, values)| (name.to_string(), strings(values)))
        .collect()
}

fn param(name: &str) -> ParameterSpec {
    ParameterSpec {
        required: false,
        ..ParameterSpec::required(name)
    }
}

/// The description of `n8n-nodes-base.salesforce`, typeVersion 1 and 1.1.
pub(crate) fn description() -> NodeDescription {
    let mut d = NodeDescription::new(TYPE_NAME, "Salesforce", &[1.0, 1.1]);
    d.credentials = AUTHENTICATION
        .iter()
        .map(|(auth, type_name)| CredentialSpec {
            type_name: (*type_name).into(),
            required: true,
            show: show(&[("authentication", &[auth])]),
        })
        .collect();
    let auth_values: Vec<&str> = AUTHENTICATION.iter().map(|(a, _)| *a).collect();
    d.parameters.push(ParameterSpec {
        default: Some(json!("oAuth2")),
        options: Some(strings(&auth_values)),
        ..param("authentication")
    });
    d.parameters.push(ParameterSpec {
        default: Some(json!("lead")),
        options: Some(strings(RESOURCE_NAMES)),
        ..param("resource")
    });
    for name in RESOURCE_NAMES {
        let (ops, default) = catalog::operations(name).expect("every resource has operations");
        d.parameters.push(ParameterSpec {
            default: Some(json!(default)),
            options: Some(strings(ops)),
            show: show(&[("resource", &[name])]),
            ..param("operation")
        });
    }
    for (resource, ops, name, default) in REQUIRED {
        d.parameters.push(ParameterSpec {
            default: default.map(|v| json!(v)),
            show: show(&[("resource", &[resource]), ("operation", ops)]),
            ..ParameterSpec::required(name)
        });
    }
    let with_get_all = RESOURCES
        .iter()
        .map(|r| r.name)
        .chain(OTHER_RESOURCES.iter().map(|(name, _, _)| *name))
        .filter(|name| {
            *name != "flow"
                && catalog::operations(name).is_some_and(|(ops, _)| ops.contains(&"getAll"))
        });
    for resource in with_get_all {
        d.parameters.push(ParameterSpec {
            options: Some(strings(CONDITION_OPERATORS)),
            show: show(&[("resource", &[resource]), ("operation", &["getAll"])]),
            ..param("options.conditionsUi.conditionValues.operation")
        });
    }
    for (resource, ops, path, values) in FIXED_LISTS {
        d.parameters.push(ParameterSpec {
            options: Some(strings(values)),
            show: show(&[("resource", &[resource]), ("operation", ops)]),
            ..param(path)
        });
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn problems(params: Value) -> Vec<String> {
        description().parameter_problems(params.as_object().unwrap())
    }

    #[test]
    fn n8n_workflows_as_exported_pass() {
        // The compatibility workflows leave defaults out (no operation for create / query).
        for params in [
            json!({"resource": "account", "name": "Test Account", "additionalFields": {}}),
            json!({"resource": "search", "query": "SELECT id FROM Account"}),
            json!({"authentication": "jwt", "resource": "search", "query": "SELECT id FROM Account"}),
            json!({"resource": "user", "operation": "getAll", "returnAll": true, "options": {}}),
            json!({"resource": "opportunity", "operation": "upsert", "externalId": "Name",
                   "externalIdValue": "SomeName", "name": "N", "closeDate": "2025-01-01T00:00:00",
                   "stageName": "Prospecting", "additionalFields": {}}),
            json!({"resource": "task", "status": "In Progress", "additionalFields": {}}),
            json!({"resource": "document", "title": "Report"}),
        ] {
            assert!(
                problems(params.clone()).is_empty(),
                "{params}: {:?}",
                problems(params.clone())
            );
        }
    }

    #[test]
    fn missing_and_unknown_values_are_named() {
        assert_eq!(
            problems(json!({"resource": "contact", "operation": "create", "lastName": "Ng"})),
            ["Parameter \"lastname\" is required"]
        );
        // No resource: lead, create.
        assert_eq!(
            problems(json!({})),
            [
                "Parameter \"company\" is required",
                "Parameter \"lastname\" is required"
            ]
        );
        // The user resource runs `get` by default.
        assert_eq!(
            problems(json!({"resource": "user"})),
            ["Parameter \"userId\" is required"]
        );
        assert_eq!(
            problems(json!({"resource": "flow"})),
            ["Parameter \"apiName\" is required"]
        );
        let unknown = problems(json!({"resource": "account", "operation": "upload"}));
        assert_eq!(unknown.len(), 1);
        assert!(
            unknown[0].starts_with("Parameter \"operation\" has an unknown value \"upload\" (accepted: addNote, create,"),
            "{unknown:?}"
        );
        assert_eq!(
            problems(json!({"authentication": "password", "resource": "search", "query": "q"})),
            ["Parameter \"authentication\" has an unknown value \"password\" (accepted: oAuth2, jwt, clientCredentials)"]
        );
        assert_eq!(
            problems(json!({"resource": "lead", "operation": "getAll", "options": {"conditionsUi":
                {"conditionValues": [{"field": "Name", "operation": "contains", "value": "x"}]}}})),
            ["Parameter \"options.conditionsUi.conditionValues.operation\" has an unknown value \"contains\" (accepted: <, <=, equal, >, >=)"]
        );
    }

    #[test]
    fn each_authentication_needs_its_own_credential_type() {
        let d = description();
        let needed = |params: Value| -> Vec<String> {
            d.credentials
                .iter()
                .filter(|c| d.shows(&c.show, params.as_object().unwrap()))
                .map(|c| c.type_name.clone())
                .collect()
        };
        assert_eq!(needed(json!({})), ["salesforceOAuth2Api"]);
        assert_eq!(
            needed(json!({"authentication": "jwt"})),
            ["salesforceJwtApi"]
        );
        assert_eq!(
            needed(json!({"authentication": "clientCredentials"})),
            ["salesforceClientCredentialsApi"]
        );
    }
}
