//! Items: the unit of data that flows along a workflow's connections.

use std::collections::BTreeMap;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use crate::error::NodeError;

/// A JSON object, as items and parameters hold them (insertion order kept, as n8n does).
pub type JsonObject = serde_json::Map<String, Value>;

/// An item's JSON object, shared: cloning an item (into run data, onto each connection, into
/// the expression view) shares its data instead of copying every key and value. Reading goes
/// through `Deref`; the first write to a shared object copies it (`Arc::make_mut`), so an
/// item changed by one node is never changed under another.
#[derive(Clone, Default, PartialEq)]
pub struct ItemJson(Arc<JsonObject>);

impl ItemJson {
    /// The object, copied only if it is shared.
    pub fn into_inner(self) -> JsonObject {
        Arc::try_unwrap(self.0).unwrap_or_else(|shared| (*shared).clone())
    }

    /// The object as a JSON value, copied only if it is shared.
    pub fn into_value(self) -> Value {
        Value::Object(self.into_inner())
    }

    /// Whether `a` and `b` are the same shared object (not a copy).
    pub fn ptr_eq(a: &Self, b: &Self) -> bool {
        Arc::ptr_eq(&a.0, &b.0)
    }
}

impl Deref for ItemJson {
    type Target = JsonObject;
    fn deref(&self) -> &JsonObject {
        &self.0
    }
}

impl DerefMut for ItemJson {
    fn deref_mut(&mut self) -> &mut JsonObject {
        Arc::make_mut(&mut self.0)
    }
}

impl From<JsonObject> for ItemJson {
    fn from(json: JsonObject) -> Self {
        Self(Arc::new(json))
    }
}

impl From<ItemJson> for JsonObject {
    fn from(json: ItemJson) -> Self {
        json.into_inner()
    }
}

impl From<ItemJson> for Value {
    fn from(json: ItemJson) -> Self {
        json.into_value()
    }
}

impl PartialEq<JsonObject> for ItemJson {
    fn eq(&self, other: &JsonObject) -> bool {
        *self.0 == *other
    }
}

impl std::fmt::Debug for ItemJson {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl Serialize for ItemJson {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for ItemJson {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        JsonObject::deserialize(deserializer).map(Self::from)
    }
}

impl<'a> IntoIterator for &'a ItemJson {
    type Item = (&'a String, &'a Value);
    type IntoIter = serde_json::map::Iter<'a>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

/// One item: a JSON object, optional binary attachments, and where it came from.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Item {
    /// The item's data, shared between the item's clones until one of them changes it.
    pub json: ItemJson,
    /// Binary attachments keyed by property name (n8n's `binary`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binary: Option<BTreeMap<String, BinaryData>>,
    /// The input item(s) this item was made from; lets `$('Node').item` walk back.
    #[serde(
        rename = "pairedItem",
        default,
        skip_serializing_if = "Vec::is_empty",
        serialize_with = "ser_paired",
        deserialize_with = "de_paired"
    )]
    pub paired_item: Vec<ItemRef>,
}

impl Item {
    /// An item holding `json` (an object, or the shared object of another item), with no
    /// binary data and no pairing.
    pub fn new(json: impl Into<ItemJson>) -> Self {
        Self {
            json: json.into(),
            binary: None,
            paired_item: Vec::new(),
        }
    }

    /// An item from any JSON value; n8n wraps non-objects, we refuse them with a clear error.
    pub fn from_value(value: Value) -> Result<Self, NodeError> {
        match value {
            Value::Object(json) => Ok(Self::new(json)),
            other => Err(NodeError::operation(format!(
                "an item must be a JSON object, got {}",
                json_type_name(&other)
            ))),
        }
    }

    /// This item, marked as made from input item `item` of input 0.
    pub fn paired_with(mut self, item: usize) -> Self {
        self.paired_item = vec![ItemRef::new(item, 0)];
        self
    }

    /// This item, marked as made from input item `item` of input `input`.
    pub fn paired_with_input(mut self, item: usize, input: usize) -> Self {
        self.paired_item = vec![ItemRef::new(item, input)];
        self
    }
}

/// A reference to one input item of the node that produced an item (n8n's `IPairedItemData`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemRef {
    /// Index of the item within that input.
    pub item: usize,
    /// Which input of the node (0 for single-input nodes).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub input: usize,
    /// Where the item came from when that is not the node's input of this run: a loop node
    /// (Loop Over Items) hands out items it received in an earlier run, and names that run's
    /// source here so `$('Node').item` can follow them back (n8n's `sourceOverwrite`).
    #[serde(
        rename = "sourceOverwrite",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub source_overwrite: Option<PairedSource>,
}

impl ItemRef {
    /// A reference to item `item` of input `input`.
    pub fn new(item: usize, input: usize) -> Self {
        Self {
            item,
            input,
            source_overwrite: None,
        }
    }
}

/// The output of a node run an item came from (n8n's `ISourceData`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PairedSource {
    /// The node.
    pub previous_node: String,
    /// Which of its outputs.
    #[serde(default)]
    pub previous_node_output: usize,
    /// Which of its runs.
    #[serde(default)]
    pub previous_node_run: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// A binary attachment (n8n's `IBinaryData`): base64 data and what it is.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BinaryData {
    /// The content, base64-encoded.
    pub data: String,
    /// MIME type, e.g. `application/pdf`.
    pub mime_type: String,
    /// Original file name, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_name: Option<String>,
    /// File extension without the dot, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_extension: Option<String>,
    /// Human-readable size as n8n shows it (e.g. `"1.2 kB"`), if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_size: Option<String>,
}

/// The name of a JSON value's type, for error messages.
pub fn json_type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// The name of a JSON value's type with its article ("a string", "an array", "null"), for
/// error messages that describe a value without quoting it (it may be secret).
pub fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

// n8n writes `pairedItem` as a number, an object or an array of objects; we accept all three
// and write an object for one reference and an array for several, as n8n does.
fn ser_paired<S: Serializer>(refs: &[ItemRef], s: S) -> Result<S::Ok, S::Error> {
    if let [one] = refs {
        one.serialize(s)
    } else {
        refs.serialize(s)
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum PairedRepr {
    Index(usize),
    One(ItemRef),
    Many(Vec<PairedOne>),
}

#[derive(Deserialize)]
#[serde(untagged)]
enum PairedOne {
    Index(usize),
    One(ItemRef),
}

fn de_paired<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<ItemRef>, D::Error> {
    let repr = Option::<PairedRepr>::deserialize(d)?;
    Ok(match repr {
        None => Vec::new(),
        Some(PairedRepr::Index(item)) => vec![ItemRef::new(item, 0)],
        Some(PairedRepr::One(r)) => vec![r],
        Some(PairedRepr::Many(v)) => v
            .into_iter()
            .map(|p| match p {
                PairedOne::Index(item) => ItemRef::new(item, 0),
                PairedOne::One(r) => r,
            })
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_cloned_item_shares_its_json_until_one_side_writes() {
        let mut a = Item::from_value(json!({"big": "x".repeat(1000), "n": 1})).unwrap();
        let b = a.clone();
        assert!(ItemJson::ptr_eq(&a.json, &b.json));
        a.json.insert("n".into(), json!(2));
        assert!(!ItemJson::ptr_eq(&a.json, &b.json));
        assert_eq!(b.json["n"], json!(1));
        assert_eq!(a.json["n"], json!(2));
        // Serialized as the plain object it holds, and read back the same.
        let text = serde_json::to_string(&b).unwrap();
        assert_eq!(serde_json::from_str::<Item>(&text).unwrap(), b);
        assert!(text.starts_with(r#"{"json":{"big":"#));
        // Taking the object out of an unshared item moves it.
        let alone = Item::from_value(json!({"k": true})).unwrap();
        assert_eq!(alone.json.into_value(), json!({"k": true}));
    }

    #[test]
    fn paired_item_reads_every_n8n_form_and_writes_an_object() {
        for (input, want) in [
            (
                json!({"json": {}, "pairedItem": 2}),
                vec![ItemRef::new(2, 0)],
            ),
            (
                json!({"json": {}, "pairedItem": {"item": 1, "input": 1}}),
                vec![ItemRef::new(1, 1)],
            ),
            (
                json!({"json": {}, "pairedItem": [{"item": 0}, 3]}),
                vec![ItemRef::new(0, 0), ItemRef::new(3, 0)],
            ),
        ] {
            let item: Item = serde_json::from_value(input).unwrap();
            assert_eq!(item.paired_item, want);
        }
        let item = Item::new(JsonObject::new()).paired_with(4);
        assert_eq!(
            serde_json::to_value(&item).unwrap(),
            json!({"json": {}, "pairedItem": {"item": 4}})
        );
    }

    #[test]
    fn a_source_overwrite_round_trips_in_n8ns_shape() {
        let shape = json!({"json": {}, "pairedItem": {"item": 2, "sourceOverwrite": {
            "previousNode": "Set", "previousNodeOutput": 0, "previousNodeRun": 1}}});
        let item: Item = serde_json::from_value(shape.clone()).unwrap();
        assert_eq!(
            item.paired_item[0].source_overwrite,
            Some(PairedSource {
                previous_node: "Set".into(),
                previous_node_output: 0,
                previous_node_run: 1
            })
        );
        assert_eq!(serde_json::to_value(&item).unwrap(), shape);
    }

    #[test]
    fn a_non_object_is_refused_naming_its_type() {
        let err = Item::from_value(json!([1])).unwrap_err();
        assert_eq!(err.message, "an item must be a JSON object, got array");
    }
}
