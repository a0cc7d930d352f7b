//! Validation of a workflow before it is saved or run: every problem names its node.

use std::collections::HashSet;

use async_trait::async_trait;
use node_api::{CredentialRef, NodeDescription};

use super::error::{Problem, WorkflowError};
use super::model::{Workflow, WorkflowNode};
use super::registry::NodeRegistry;

/// Answers which type a stored credential has; implemented over the credential store.
#[async_trait]
pub trait CredentialLookup: Send + Sync {
    /// The type of the credential `reference` points at, or `None` when it does not exist.
    async fn credential_type(&self, reference: &CredentialRef) -> Option<String>;
}

/// Checks `workflow` against the node types in `registry` and, when given, the credential
/// store. Returns every problem found, not just the first.
pub async fn validate(
    workflow: &Workflow,
    registry: &NodeRegistry,
    credentials: Option<&dyn CredentialLookup>,
) -> Result<(), WorkflowError> {
    let mut problems = Vec::new();
    let mut seen = HashSet::new();
    for node in &workflow.nodes {
        let problem = |message: String| Problem {
            node: Some(node.name.clone()),
            message,
        };
        if node.name.trim().is_empty() {
            problems.push(Problem {
                node: None,
                message: format!("a node of type \"{}\" has an empty name", node.node_type),
            });
        }
        if node.name.contains('\0') {
            problems.push(Problem {
                node: None,
                message: format!(
                    "a node of type \"{}\" has a name with a NUL byte",
                    node.node_type
                ),
            });
        }
        if !seen.insert(node.name.as_str()) {
            problems.push(problem("duplicate node name; names must be unique".into()));
        }
        let Some(desc) = registry.description(&node.node_type) else {
            problems.push(problem(format!("unknown node type \"{}\"", node.node_type)));
            continue;
        };
        if !desc.supports_version(node.version()) {
            let versions: Vec<String> = desc.versions.iter().map(|v| v.to_string()).collect();
            problems.push(problem(format!(
                "node type \"{}\" has no version {} (supported: {})",
                node.node_type,
                node.type_version,
                versions.join(", ")
            )));
        }
        if node.on_error.as_deref().is_some_and(|m| {
            !matches!(
                m,
                "stopWorkflow" | "continueRegularOutput" | "continueErrorOutput"
            )
        }) {
            problems.push(problem(
                "\"onError\" must be one of stopWorkflow, continueRegularOutput, continueErrorOutput"
                    .into(),
            ));
        }
        let parameter_problems = match registry.node(&node.node_type) {
            Some(implementation) => implementation.parameter_problems(&node.parameters),
            None => match registry.trigger(&node.node_type) {
                Some(trigger) => trigger.parameter_problems(&node.parameters),
                None => desc.parameter_problems(&node.parameters),
            },
        };
        for message in parameter_problems {
            problems.push(problem(message));
        }
        let predefined = check_predefined_credential(node, registry, &mut problems);
        check_credentials(node, desc, predefined, credentials, &mut problems).await;
    }
    for (source, outputs) in &workflow.connections {
        if workflow.node(source).is_none() {
            problems.push(Problem {
                node: Some(source.clone()),
                message: "has connections but no such node exists".into(),
            });
        }
        for targets in outputs.values().flatten().flatten().flatten() {
            if workflow.node(&targets.node).is_none() {
                problems.push(Problem {
                    node: Some(source.clone()),
                    message: format!(
                        "connects to node \"{}\", which does not exist",
                        targets.node
                    ),
                });
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(WorkflowError::Invalid(problems))
    }
}

/// n8n's `authentication: predefinedCredentialType` (HTTP Request): the node uses the
/// credential type named by `nodeCredentialType`, which some plugin must sign requests with;
/// any other value is refused here rather than sent unsigned. Returns the type when usable.
fn check_predefined_credential<'a>(
    node: &'a WorkflowNode,
    registry: &NodeRegistry,
    problems: &mut Vec<Problem>,
) -> Option<&'a str> {
    if node
        .parameters
        .get("authentication")
        .and_then(|v| v.as_str())
        != Some("predefinedCredentialType")
    {
        return None;
    }
    let problem = |message: String| Problem {
        node: Some(node.name.clone()),
        message,
    };
    let supported = registry.signed_credential_types().join(", ");
    let Some(type_name) = node
        .parameters
        .get("nodeCredentialType")
        .and_then(|v| v.as_str())
        .filter(|t| !t.is_empty())
    else {
        problems.push(problem(format!(
            "parameter \"nodeCredentialType\" is required with authentication \"predefinedCredentialType\" (one of: {supported})"
        )));
        return None;
    };
    if registry.signer(type_name).is_none() {
        problems.push(problem(format!(
            "parameter \"nodeCredentialType\" value \"{type_name}\" is not supported: no plugin signs HTTP requests with it (supported: {})",
            if supported.is_empty() { "none" } else { &supported }
        )));
        return None;
    }
    if !node
        .credentials
        .as_ref()
        .is_some_and(|c| c.contains_key(type_name))
    {
        problems.push(problem(format!(
            "needs a credential of type \"{type_name}\" (parameter \"nodeCredentialType\")"
        )));
    }
    Some(type_name)
}

async fn check_credentials(
    node: &WorkflowNode,
    desc: &NodeDescription,
    predefined: Option<&str>,
    lookup_store: Option<&dyn CredentialLookup>,
    problems: &mut Vec<Problem>,
) {
    let problem = |message: String| Problem {
        node: Some(node.name.clone()),
        message,
    };
    let refs = node.credentials.clone().unwrap_or_default();
    for spec in &desc.credentials {
        if spec.required
            && desc.shows(&spec.show, &node.parameters)
            && !refs.contains_key(&spec.type_name)
        {
            problems.push(problem(format!(
                "needs a credential of type \"{}\"",
                spec.type_name
            )));
        }
    }
    for (type_name, reference) in &refs {
        if !desc.credentials.iter().any(|c| &c.type_name == type_name)
            && predefined != Some(type_name.as_str())
        {
            let accepted: Vec<&str> = desc
                .credentials
                .iter()
                .map(|c| c.type_name.as_str())
                .collect();
            problems.push(problem(format!(
                "credential type \"{type_name}\" is not accepted by this node (accepts: {})",
                if accepted.is_empty() {
                    "none".to_string()
                } else {
                    accepted.join(", ")
                }
            )));
            continue;
        }
        let Some(store) = lookup_store else { continue };
        let r = CredentialRef::from(reference);
        match store.credential_type(&r).await {
            None => problems.push(problem(format!(
                "credential \"{}\"{} does not exist",
                r.name,
                r.id.as_deref()
                    .map(|id| format!(" (id {id})"))
                    .unwrap_or_default()
            ))),
            Some(actual) if &actual != type_name => problems.push(problem(format!(
                "credential \"{}\" is of type \"{actual}\", expected \"{type_name}\"",
                r.name
            ))),
            Some(_) => {}
        }
    }
}
