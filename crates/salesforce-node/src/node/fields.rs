//! The field check: names a user typed (custom fields, `options.fields`, conditions) are
//! looked up in the object's describe before the first call that uses them, so a typo fails
//! with the nearest names ("did you mean AccountId?") where n8n silently drops the value.
//!
//! Describes are cached per credential and object for the life of the process: fields change
//! rarely, and a describe costs an API call. A name missing from a cached describe triggers
//! one fresh describe before it is refused (the field may be new), and a call Salesforce
//! refuses with `INVALID_FIELD` drops the cached describe (a field may be gone).
//!
//! Names the node maps itself (`website` -> `Website`) are not checked: they are standard
//! fields, and checking them would cost a describe call per object where n8n makes none.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use node_api::NodeError;
use serde_json::Value;

use super::api::{node_error, segment, Api};
use crate::error::Error;

/// A field name a user supplied, and the parameter it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FieldUse {
    /// The name as typed (checked as an identifier already).
    pub name: String,
    /// Where it came from, e.g. `additionalFields.customFieldsUi`.
    pub parameter: String,
}

/// The names one object's describe lists.
#[derive(Debug)]
struct ObjectFields {
    /// The object's name as Salesforce spells it.
    object: String,
    /// Field names as Salesforce spells them.
    names: Vec<String>,
    /// The same, lower-cased (Salesforce names are case-insensitive).
    lower: HashSet<String>,
    /// Relationship names (`Account`, `Owner`, `Parent__r`), lower-cased.
    relationships: HashSet<String>,
}

impl ObjectFields {
    fn from_describe(requested: &str, body: &Value) -> ObjectFields {
        let mut names = Vec::new();
        let mut relationships = HashSet::new();
        for f in body["fields"].as_array().into_iter().flatten() {
            if let Some(name) = f["name"].as_str() {
                names.push(name.to_owned());
            }
            if let Some(rel) = f["relationshipName"].as_str() {
                relationships.insert(rel.to_ascii_lowercase());
            }
        }
        ObjectFields {
            object: body["name"].as_str().unwrap_or(requested).to_owned(),
            lower: names.iter().map(|n| n.to_ascii_lowercase()).collect(),
            names,
            relationships,
        }
    }

    /// Whether `name` is a field, or a path starting at a relationship (`Account.Name`: only
    /// the first step is this object's to judge).
    fn knows(&self, name: &str) -> bool {
        match name.split_once('.') {
            Some((first, _)) => self.relationships.contains(&first.to_ascii_lowercase()),
            None => self.lower.contains(&name.to_ascii_lowercase()),
        }
    }
}

/// Cached describes, per credential and object.
#[derive(Debug, Default)]
pub(crate) struct Describes {
    cache: Mutex<HashMap<(String, String), Arc<ObjectFields>>>,
}

impl Describes {
    fn key(credential: &str, object: &str) -> (String, String) {
        (credential.to_owned(), object.to_ascii_lowercase())
    }

    fn cached(&self, credential: &str, object: &str) -> Option<Arc<ObjectFields>> {
        let cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        cache.get(&Self::key(credential, object)).cloned()
    }

    /// Forgets the describe of `object`: Salesforce just refused a field name.
    pub fn forget(&self, credential: &str, object: &str) {
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        cache.remove(&Self::key(credential, object));
    }

    /// Forgets the describe of `object` when `e` is Salesforce refusing a field name.
    pub fn forget_on_invalid_field(&self, credential: &str, object: &str, e: &Error) {
        if super::api::is_invalid_field(e) {
            tracing::debug!(credential_id = %credential, object, "INVALID_FIELD: describe dropped from the cache");
            self.forget(credential, object);
        }
    }

    async fn fetch(&self, api: &Api<'_>, object: &str) -> Result<Arc<ObjectFields>, NodeError> {
        let path = format!("/sobjects/{}/describe", segment(object));
        let res = api.get(&path).await.map_err(|e| match &e {
            Error::Api { status: 404, .. } => NodeError::parameter(format!(
                "Salesforce has no object \"{object}\", or this user may not see it"
            ))
            .with_error_code("NOT_FOUND"),
            other => node_error(other),
        })?;
        let fields = Arc::new(ObjectFields::from_describe(object, &res.body));
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        cache.insert(Self::key(api.credential(), object), fields.clone());
        Ok(fields)
    }

    /// Checks `uses` against the describe of `object`; returns the index and error of each
    /// unknown name. Fails as a whole only when the describe cannot be read.
    pub async fn check(
        &self,
        api: &Api<'_>,
        object: &str,
        uses: &[FieldUse],
    ) -> Result<Vec<(usize, NodeError)>, NodeError> {
        if uses.is_empty() {
            return Ok(Vec::new());
        }
        let (mut fields, mut fresh) = match self.cached(api.credential(), object) {
            Some(f) => (f, false),
            None => (self.fetch(api, object).await?, true),
        };
        loop {
            let unknown: Vec<usize> = (0..uses.len())
                .filter(|&i| !fields.knows(&uses[i].name))
                .collect();
            if unknown.is_empty() {
                return Ok(Vec::new());
            }
            if !fresh {
                // The field may have been added since the describe was cached.
                fields = self.fetch(api, object).await?;
                fresh = true;
                continue;
            }
            return Ok(unknown
                .into_iter()
                .map(|i| (i, unknown_field(&fields, &uses[i])))
                .collect());
        }
    }
}

fn unknown_field(fields: &ObjectFields, use_: &FieldUse) -> NodeError {
    let first = use_.name.split('.').next().unwrap_or(&use_.name);
    let mut message = if first.len() < use_.name.len() {
        format!(
            "\"{first}\" in \"{}\" is not a relationship of {} (parameter \"{}\")",
            use_.name, fields.object, use_.parameter
        )
    } else {
        format!(
            "Field \"{}\" does not exist on {} (parameter \"{}\")",
            use_.name, fields.object, use_.parameter
        )
    };
    let near = nearest(first, fields.names.iter().map(String::as_str));
    if !near.is_empty() {
        message.push_str(&format!(": did you mean {}?", or_list(&near)));
    }
    NodeError::parameter(message)
        .with_error_code("INVALID_FIELD")
        .with_fields(vec![use_.name.clone()])
}

/// `a`, `a or b`, `a, b or c`.
pub(crate) fn or_list(names: &[&str]) -> String {
    match names {
        [] => String::new(),
        [one] => (*one).to_owned(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

/// Edit distance between `a` and `b`, ignoring case.
fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.to_lowercase().chars().collect();
    let b: Vec<char> = b.to_lowercase().chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut row = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != cb);
            row.push((prev[j] + cost).min(prev[j + 1] + 1).min(row[j] + 1));
        }
        prev = row;
    }
    prev[b.len()]
}

/// Up to three `candidates` close to `name` (within a third of its length, at least 2
/// edits), nearest first.
pub(crate) fn nearest<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Vec<&'a str> {
    let limit = (name.chars().count() / 3).max(2);
    let mut scored: Vec<(usize, &str)> = candidates
        .into_iter()
        .map(|c| (distance(name, c), c))
        .filter(|(d, _)| *d <= limit)
        .collect();
    scored.sort();
    scored.dedup_by(|a, b| a.1 == b.1);
    scored.into_iter().take(3).map(|(_, c)| c).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nearest_names_come_first_and_far_ones_not_at_all() {
        let fields = [
            "AccountId",
            "Account__c",
            "Email",
            "LastName",
            "AssistantName",
        ];
        assert_eq!(nearest("AcountId", fields), ["AccountId"]);
        // Case does not count; the nearest comes first.
        assert_eq!(nearest("accountid", fields), ["AccountId", "Account__c"]);
        assert_eq!(nearest("Emial", fields), ["Email"]);
        assert!(nearest("Birthdate", fields).is_empty());
        assert_eq!(or_list(&["A", "B", "C"]), "A, B or C");
        assert_eq!(distance("kitten", "sitting"), 3);
    }

    #[test]
    fn a_describe_knows_fields_and_relationship_paths() {
        let f = ObjectFields::from_describe(
            "contact",
            &json!({"name": "Contact", "fields": [
                {"name": "Id", "relationshipName": null},
                {"name": "AccountId", "relationshipName": "Account"},
                {"name": "Rating__c", "relationshipName": null}
            ]}),
        );
        assert!(f.knows("accountid") && f.knows("Rating__c") && f.knows("Account.Name"));
        assert!(!f.knows("Acount") && !f.knows("Owner.Name"));
        let e = unknown_field(
            &f,
            &FieldUse {
                name: "AcountId".into(),
                parameter: "updateFields.customFieldsUi".into(),
            },
        );
        assert_eq!(
            e.message,
            "Field \"AcountId\" does not exist on Contact (parameter \"updateFields.customFieldsUi\"): did you mean AccountId?"
        );
        assert_eq!(e.error_code.as_deref(), Some("INVALID_FIELD"));
    }
}
