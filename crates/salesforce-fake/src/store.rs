//! The org's records, kept in memory, and the rules Salesforce applies when
//! they are written: field names resolved case-insensitively, values checked
//! against their field types, required fields, read-only fields, server-set
//! timestamps and ids. Writes can be undone (for `allOrNone`).

use std::collections::HashMap;
use std::sync::Arc;

use axum::http::StatusCode;
use base64::Engine;
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde_json::{Map, Value};

use crate::error::SfError;
use crate::ids;
use crate::schema::{Field, FieldType, ObjectSchema, Schema};

/// Salesforce's timestamp format, e.g. `2025-03-30T17:57:34.000+0000`.
pub(crate) fn format_datetime(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3f+0000").to_string()
}

/// Parses the datetime spellings clients send: RFC 3339, Salesforce's own
/// `+0000` form, a naive `YYYY-MM-DDTHH:MM:SS` (read as UTC) or a bare date.
pub(crate) fn parse_datetime(s: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    for fmt in ["%Y-%m-%dT%H:%M:%S%.f%z", "%Y-%m-%dT%H:%M:%S%z"] {
        if let Ok(t) = DateTime::parse_from_str(s, fmt) {
            return Some(t.with_timezone(&Utc));
        }
    }
    for fmt in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, fmt) {
            return Some(t.and_utc());
        }
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
}

/// One stored record.
#[derive(Debug, Clone)]
pub(crate) struct Record {
    pub object: usize,
    /// Every field of the object, by canonical name, in describe order.
    pub fields: Map<String, Value>,
    pub deleted: bool,
    /// When this version becomes visible to queries (the commit delay fault).
    pub visible_at_ms: i64,
    /// The version queries see until `visible_at_ms` (None for a new record).
    pub committed: Option<Arc<Map<String, Value>>>,
}

impl Record {
    /// The fields a query sees at `now_ms`, if any.
    pub fn query_view(&self, now_ms: i64) -> Option<&Map<String, Value>> {
        if self.visible_at_ms <= now_ms {
            Some(&self.fields)
        } else {
            self.committed.as_deref()
        }
    }

    pub fn id(&self) -> &str {
        self.fields
            .get("Id")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }
}

/// `visible_at_ms` of a write held back until `Store::commit`.
pub(crate) const UNCOMMITTED: i64 = i64::MAX;

/// Who writes, when, and whether server-owned fields may be set (seeding).
pub(crate) struct WriteCtx {
    /// The time the write is stamped with (its transaction's start).
    pub now: DateTime<Utc>,
    pub user_id: String,
    /// The org's clock when the write happens; `now` may differ from it
    /// when a test places a record in time.
    pub clock_ms: i64,
    /// When queries start to see the write: `clock_ms` for at once, later
    /// for the commit delay fault, [`UNCOMMITTED`] until `Store::commit`.
    pub visible_at_ms: i64,
    /// Seeding may set read-only fields such as `CreatedDate`.
    pub system: bool,
}

impl WriteCtx {
    /// A write stamped and visible at `now`.
    pub fn at(now: DateTime<Utc>, user_id: &str, system: bool) -> Self {
        let ms = now.timestamp_millis();
        Self {
            now,
            user_id: user_id.to_string(),
            clock_ms: ms,
            visible_at_ms: ms,
            system,
        }
    }
}

/// Previous states of the records a batch touched, newest last.
pub(crate) type Undo = Vec<(String, Option<Record>)>;

/// What an upsert did.
pub(crate) enum Upserted {
    Created(String),
    Updated(String),
    /// Several records carry the external id value: their ids.
    Multiple(Vec<String>),
}

/// All records of the org.
#[derive(Default, Clone)]
pub(crate) struct Store {
    records: HashMap<String, Record>,
    /// Ids per object in creation order (deleted ones included).
    order: Vec<Vec<String>>,
    seq: u64,
    case_seq: u64,
}

impl Store {
    pub fn new(objects: usize) -> Self {
        Self {
            order: vec![Vec::new(); objects],
            case_seq: 1000,
            ..Self::default()
        }
    }

    /// The record with this id (15 or 18 characters).
    pub fn get(&self, id: &str) -> Option<&Record> {
        if let Some(r) = self.records.get(id) {
            return Some(r);
        }
        ids::normalize(id).and_then(|n| self.records.get(&n))
    }

    /// Records of one object in creation order.
    pub fn of_object(&self, object: usize) -> impl Iterator<Item = &Record> {
        self.order[object]
            .iter()
            .filter_map(|id| self.records.get(id))
    }

    /// Records of one object, soft-deleted ones included (hard-deleted
    /// ones are gone from `records` and skipped).
    pub fn count(&self, object: usize) -> usize {
        self.order[object]
            .iter()
            .filter(|id| self.records.contains_key(*id))
            .count()
    }

    /// Removes a record for good, as a Bulk API `hardDelete` does: it
    /// skips the recycle bin, so `queryAll` and `/deleted` never see it.
    /// The id stays in `order` (removing it there would cost O(n) per
    /// record); `of_object` skips ids with no record.
    pub fn hard_delete(&mut self, object: usize, id: &str) -> Result<String, SfError> {
        let key = self.live_key(object, id)?;
        self.records.remove(&key);
        Ok(key)
    }

    /// Live records of `object` by the lower-cased text of `field`, so a
    /// batch of upserts finds matches in O(1) each instead of scanning.
    pub fn index_by(&self, object: usize, field: &str) -> HashMap<String, Vec<String>> {
        let mut index: HashMap<String, Vec<String>> = HashMap::new();
        for r in self.of_object(object).filter(|r| !r.deleted) {
            if let Some(v) = r.fields.get(field).filter(|v| !v.is_null()) {
                index
                    .entry(value_text(v).to_lowercase())
                    .or_default()
                    .push(r.id().to_string());
            }
        }
        index
    }

    fn next_id(&mut self, prefix: &str) -> String {
        self.seq += 1;
        ids::make(prefix, self.seq)
    }

    pub fn create(
        &mut self,
        schema: &Schema,
        object: usize,
        body: &Map<String, Value>,
        ctx: &WriteCtx,
        undo: &mut Undo,
    ) -> Result<String, SfError> {
        let obj = &schema.objects[object];
        let given = check_fields(obj, body, Mode::Create, ctx.system)?;
        let missing: Vec<String> = obj
            .fields
            .iter()
            .filter(|f| f.required_on_create() && given.get(&f.name).is_none_or(is_blank))
            .map(|f| f.name.clone())
            .collect();
        if !missing.is_empty() {
            return Err(required_missing(missing));
        }
        let id = match given.get("Id").and_then(Value::as_str) {
            Some(id) if ctx.system => id.to_string(),
            _ => self.next_id(&obj.key_prefix),
        };
        // Seeded records may be placed in time: a given CreatedDate also
        // stands for the modification stamps unless those are given too.
        let created = given
            .get("CreatedDate")
            .cloned()
            .unwrap_or_else(|| Value::String(format_datetime(ctx.now)));
        let modified = given
            .get("LastModifiedDate")
            .cloned()
            .unwrap_or_else(|| created.clone());
        let user = Value::String(ctx.user_id.clone());
        let mut fields = Map::with_capacity(obj.fields.len());
        for f in &obj.fields {
            let v = match f.name.as_str() {
                "Id" => Value::String(id.clone()),
                "IsDeleted" => Value::Bool(false),
                "CreatedDate" => created.clone(),
                "LastModifiedDate" => modified.clone(),
                "SystemModstamp" => given
                    .get("SystemModstamp")
                    .cloned()
                    .unwrap_or_else(|| modified.clone()),
                "CreatedById" | "LastModifiedById" | "OwnerId" => match given.get(&f.name) {
                    Some(v) if !v.is_null() => v.clone(),
                    _ => user.clone(),
                },
                _ => match given.get(&f.name) {
                    Some(v) => v.clone(),
                    None => f.default_value.clone().unwrap_or(Value::Null),
                },
            };
            fields.insert(f.name.clone(), v);
        }
        if obj.name == "Case" && fields.get("CaseNumber").is_none_or(Value::is_null) {
            self.case_seq += 1;
            fields.insert(
                "CaseNumber".into(),
                Value::String(format!("{:08}", self.case_seq)),
            );
        }
        if obj.name == "ContentVersion" {
            let doc = self.next_id("069");
            fields.insert("ContentDocumentId".into(), Value::String(doc));
        }
        derive_fields(&obj.name, &mut fields);
        undo.push((id.clone(), None));
        self.order[object].push(id.clone());
        self.records.insert(
            id.clone(),
            Record {
                object,
                fields,
                deleted: false,
                visible_at_ms: ctx.visible_at_ms,
                committed: None,
            },
        );
        Ok(id)
    }

    pub fn update(
        &mut self,
        schema: &Schema,
        object: usize,
        id: &str,
        body: &Map<String, Value>,
        ctx: &WriteCtx,
        undo: &mut Undo,
    ) -> Result<String, SfError> {
        let obj = &schema.objects[object];
        let key = self.live_key(object, id)?;
        let given = check_fields(obj, body, Mode::Update, ctx.system)?;
        let blanked: Vec<String> = obj
            .fields
            .iter()
            .filter(|f| !f.nillable && f.updateable && given.get(&f.name).is_some_and(is_blank))
            .map(|f| f.name.clone())
            .collect();
        if !blanked.is_empty() {
            return Err(required_missing(blanked));
        }
        let rec = self.records.get_mut(&key).expect("live_key found it");
        undo.push((key.clone(), Some(rec.clone())));
        if rec.visible_at_ms <= ctx.clock_ms {
            // Queries keep seeing the version they saw until this write lands.
            rec.committed =
                (ctx.visible_at_ms > ctx.clock_ms).then(|| Arc::new(rec.fields.clone()));
            rec.visible_at_ms = ctx.visible_at_ms;
        } else {
            // A write still in flight stays in flight: the earlier committed
            // version remains what queries see.
            rec.visible_at_ms = rec.visible_at_ms.max(ctx.visible_at_ms);
        }
        let stamp_given = given.contains_key("LastModifiedDate");
        let modstamp_given = given.contains_key("SystemModstamp");
        for (k, v) in given {
            rec.fields.insert(k, v);
        }
        if !stamp_given {
            rec.fields.insert(
                "LastModifiedDate".into(),
                Value::String(format_datetime(ctx.now)),
            );
        }
        if !modstamp_given {
            // SystemModstamp moves with every write, to the given
            // LastModifiedDate when a test places the write in time.
            let stamp = rec.fields["LastModifiedDate"].clone();
            rec.fields.insert("SystemModstamp".into(), stamp);
        }
        rec.fields.insert(
            "LastModifiedById".into(),
            Value::String(ctx.user_id.clone()),
        );
        derive_fields(&obj.name, &mut rec.fields);
        Ok(key)
    }

    pub fn delete(
        &mut self,
        object: Option<usize>,
        id: &str,
        ctx: &WriteCtx,
        undo: &mut Undo,
    ) -> Result<String, SfError> {
        let object = match object {
            Some(o) => o,
            None => self.get(id).ok_or_else(SfError::not_found)?.object,
        };
        let key = self.live_key(object, id)?;
        let rec = self.records.get_mut(&key).expect("live_key found it");
        undo.push((key.clone(), Some(rec.clone())));
        rec.deleted = true;
        rec.committed = None;
        rec.visible_at_ms = ctx.clock_ms;
        rec.fields.insert("IsDeleted".into(), Value::Bool(true));
        let now = Value::String(format_datetime(ctx.now));
        rec.fields.insert("LastModifiedDate".into(), now.clone());
        rec.fields.insert("SystemModstamp".into(), now);
        Ok(key)
    }

    /// Creates or updates the record whose `field` equals `value`.
    #[allow(clippy::too_many_arguments)]
    pub fn upsert(
        &mut self,
        schema: &Schema,
        object: usize,
        field: &str,
        value: &str,
        body: &Map<String, Value>,
        ctx: &WriteCtx,
        undo: &mut Undo,
    ) -> Result<Upserted, SfError> {
        let obj = &schema.objects[object];
        let f = obj
            .field(field)
            .filter(|f| f.external_id || f.ty == FieldType::Id)
            .ok_or_else(|| {
                SfError::new(
                    StatusCode::NOT_FOUND,
                    "NOT_FOUND",
                    format!(
                        "Provided external ID field does not exist or is not accessible: {field}"
                    ),
                )
            })?;
        if f.ty == FieldType::Id {
            let id = self.update(schema, object, value, body, ctx, undo)?;
            return Ok(Upserted::Updated(id));
        }
        let name = f.name.clone();
        let matches: Vec<String> = self
            .of_object(object)
            .filter(|r| !r.deleted)
            .filter(|r| {
                r.fields
                    .get(&name)
                    .map(value_text)
                    .is_some_and(|v| v.eq_ignore_ascii_case(value))
            })
            .map(|r| r.id().to_string())
            .collect();
        match matches.len() {
            0 => {
                let mut with_key = body.clone();
                with_key.retain(|k, _| !k.eq_ignore_ascii_case(&name));
                with_key.insert(name, Value::String(value.to_string()));
                self.create(schema, object, &with_key, ctx, undo)
                    .map(Upserted::Created)
            }
            1 => {
                let id = self.update(schema, object, &matches[0], body, ctx, undo)?;
                Ok(Upserted::Updated(id))
            }
            _ => Ok(Upserted::Multiple(matches)),
        }
    }

    /// Makes a write held back by [`UNCOMMITTED`] (or a commit delay)
    /// visible to queries now, keeping the stamps it was written with.
    pub fn commit(&mut self, id: &str) -> Result<(), SfError> {
        let key = self
            .get(id)
            .ok_or_else(SfError::not_found)?
            .id()
            .to_string();
        let rec = self.records.get_mut(&key).expect("found above");
        rec.visible_at_ms = i64::MIN;
        rec.committed = None;
        Ok(())
    }

    /// Puts back the records a failed batch touched.
    pub fn rollback(&mut self, undo: Undo) {
        for (id, before) in undo.into_iter().rev() {
            match before {
                Some(rec) => {
                    self.records.insert(id, rec);
                }
                None => {
                    if let Some(rec) = self.records.remove(&id) {
                        let order = &mut self.order[rec.object];
                        if let Some(pos) = order.iter().rposition(|x| *x == id) {
                            order.remove(pos);
                        }
                    }
                }
            }
        }
    }

    /// The stored key of a live record of `object`, or Salesforce's error.
    fn live_key(&self, object: usize, id: &str) -> Result<String, SfError> {
        let rec = self
            .get(id)
            .filter(|r| r.object == object)
            .ok_or_else(SfError::not_found)?;
        if rec.deleted {
            return Err(SfError::deleted());
        }
        Ok(rec.id().to_string())
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Create,
    Update,
}

fn is_blank(v: &Value) -> bool {
    v.is_null() || v.as_str().is_some_and(str::is_empty)
}

fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn required_missing(fields: Vec<String>) -> SfError {
    SfError::bad_request(
        "REQUIRED_FIELD_MISSING",
        format!("Required fields are missing: [{}]", fields.join(", ")),
    )
    .with_fields(fields)
}

/// Resolves names, refuses unknown and read-only fields, and converts values
/// to their stored form. Returns canonical name -> value.
fn check_fields(
    obj: &ObjectSchema,
    body: &Map<String, Value>,
    mode: Mode,
    system: bool,
) -> Result<Map<String, Value>, SfError> {
    let mut out = Map::new();
    let mut read_only = Vec::new();
    for (key, value) in body {
        if key == "attributes" {
            continue;
        }
        let field = obj.field(key).ok_or_else(|| {
            SfError::bad_request(
                "INVALID_FIELD",
                format!("No such column '{key}' on sobject of type {}", obj.name),
            )
        })?;
        let writable = match mode {
            Mode::Create => field.createable,
            Mode::Update => field.updateable,
        };
        if !writable && !system {
            read_only.push(field.name.clone());
            continue;
        }
        out.insert(field.name.clone(), coerce(field, value)?);
    }
    if !read_only.is_empty() {
        return Err(SfError::bad_request(
            "INVALID_FIELD_FOR_INSERT_UPDATE",
            format!(
                "Unable to create/update fields: {}. Please check the security settings of this field and verify that it is read/write for your profile or permission set.",
                read_only.join(", ")
            ),
        )
        .with_fields(read_only));
    }
    Ok(out)
}

fn json_token(v: &Value) -> (&'static str, String) {
    match v {
        Value::String(s) => ("VALUE_STRING", s.clone()),
        Value::Bool(true) => ("VALUE_TRUE", "true".into()),
        Value::Bool(false) => ("VALUE_FALSE", "false".into()),
        Value::Number(n) if n.is_f64() => ("VALUE_NUMBER_FLOAT", n.to_string()),
        Value::Number(n) => ("VALUE_NUMBER_INT", n.to_string()),
        Value::Array(_) => ("START_ARRAY", "[".into()),
        Value::Object(_) => ("START_OBJECT", "{".into()),
        Value::Null => ("VALUE_NULL", "null".into()),
    }
}

fn cannot_deserialize(ty: &str, v: &Value) -> SfError {
    let (token, text) = json_token(v);
    SfError::bad_request(
        "JSON_PARSER_ERROR",
        format!("Cannot deserialize instance of {ty} from {token} value {text} or request may be missing a required field"),
    )
}

/// Converts a client's JSON value to the stored form of `field`.
pub(crate) fn coerce(field: &Field, v: &Value) -> Result<Value, SfError> {
    if v.is_null() {
        return Ok(Value::Null);
    }
    let ty = field.ty;
    if ty.is_text() {
        let s = match v {
            Value::String(s) => s.clone(),
            Value::Number(_) | Value::Bool(_) => v.to_string(),
            _ => return Err(cannot_deserialize("string", v)),
        };
        if s.is_empty() {
            return Ok(Value::Null);
        }
        if matches!(ty, FieldType::Id | FieldType::Reference) {
            return ids::normalize(&s).map(Value::String).ok_or_else(|| {
                SfError::bad_request(
                    "MALFORMED_ID",
                    format!("{}: id value of incorrect type: {s}", field.label),
                )
                .with_fields(vec![field.name.clone()])
            });
        }
        if ty == FieldType::Email && !looks_like_email(&s) {
            return Err(SfError::bad_request(
                "INVALID_EMAIL_ADDRESS",
                format!("{}: invalid email address: {s}", field.label),
            )
            .with_fields(vec![field.name.clone()]));
        }
        if ty == FieldType::Base64 {
            if base64::engine::general_purpose::STANDARD
                .decode(s.as_bytes())
                .is_err()
            {
                return Err(cannot_deserialize("base64Binary", v));
            }
        } else if s.chars().count() > field.length as usize {
            return Err(SfError::bad_request(
                "STRING_TOO_LONG",
                format!(
                    "{}: data value too large: {s} (max length={})",
                    field.label, field.length
                ),
            )
            .with_fields(vec![field.name.clone()]));
        }
        return Ok(Value::String(s));
    }
    match ty {
        FieldType::Boolean => v
            .as_bool()
            .map(Value::Bool)
            .ok_or_else(|| cannot_deserialize("boolean", v)),
        t if t.is_number() => {
            let name = if t == FieldType::Int { "int" } else { "double" };
            let n = match v {
                Value::Number(n) => n.as_f64(),
                Value::String(s) => s.trim().parse::<f64>().ok(),
                _ => None,
            }
            .filter(|n| n.is_finite())
            .ok_or_else(|| cannot_deserialize(name, v))?;
            if t == FieldType::Int {
                if n.fract() != 0.0 {
                    return Err(cannot_deserialize(name, v));
                }
                return Ok(Value::from(n as i64));
            }
            // Keep whole numbers integral in JSON, as Salesforce prints them.
            if n.fract() == 0.0 && n.abs() < 1e15 {
                Ok(Value::from(n as i64))
            } else {
                Ok(serde_json::Number::from_f64(n)
                    .map(Value::Number)
                    .unwrap_or(Value::Null))
            }
        }
        FieldType::Date => v
            .as_str()
            .and_then(|s| NaiveDate::parse_from_str(s.get(..10).unwrap_or(s), "%Y-%m-%d").ok())
            .map(|d| Value::String(d.format("%Y-%m-%d").to_string()))
            .ok_or_else(|| cannot_deserialize("date", v)),
        FieldType::DateTime => v
            .as_str()
            .and_then(parse_datetime)
            .map(|t| Value::String(format_datetime(t)))
            .ok_or_else(|| cannot_deserialize("datetime", v)),
        _ => Ok(v.clone()),
    }
}

fn looks_like_email(s: &str) -> bool {
    match s.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !s.contains(' ')
        }
        None => false,
    }
}

/// Size in bytes of base64 content (already validated on write).
fn decoded_len(b64: &str) -> usize {
    base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map(|b| b.len())
        .unwrap_or(0)
}

/// Fields Salesforce computes from others.
fn derive_fields(object: &str, f: &mut Map<String, Value>) {
    let text = |f: &Map<String, Value>, k: &str| {
        f.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    match object {
        "Contact" | "Lead" | "User" => {
            let name = format!("{} {}", text(f, "FirstName"), text(f, "LastName"));
            f.insert("Name".into(), Value::String(name.trim().to_string()));
        }
        "Opportunity" => {
            let stage = text(f, "StageName");
            f.insert("IsClosed".into(), Value::Bool(stage.starts_with("Closed")));
            f.insert("IsWon".into(), Value::Bool(stage == "Closed Won"));
            let amount = f.get("Amount").and_then(Value::as_f64);
            let prob = f.get("Probability").and_then(Value::as_f64);
            let expected = match (amount, prob) {
                (Some(a), Some(p)) => Value::from(a * p / 100.0),
                _ => Value::Null,
            };
            f.insert("ExpectedRevenue".into(), expected);
        }
        "Case" => {
            let closed = text(f, "Status") == "Closed";
            f.insert("IsClosed".into(), Value::Bool(closed));
        }
        "Task" => {
            let closed = text(f, "Status") == "Completed";
            f.insert("IsClosed".into(), Value::Bool(closed));
        }
        "Attachment" => {
            let len = decoded_len(&text(f, "Body"));
            f.insert("BodyLength".into(), Value::from(len));
        }
        "ContentVersion" => {
            let len = decoded_len(&text(f, "VersionData"));
            f.insert("ContentSize".into(), Value::from(len));
            let path = text(f, "PathOnClient");
            let ext = path.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
            f.insert(
                "FileExtension".into(),
                ext.map(Value::String).unwrap_or(Value::Null),
            );
            if text(f, "Title").is_empty() {
                let title = path
                    .rsplit_once('.')
                    .map(|(t, _)| t.to_string())
                    .unwrap_or(path);
                f.insert("Title".into(), Value::String(title));
            }
            f.insert("VersionNumber".into(), Value::String("1".into()));
            f.insert("IsLatest".into(), Value::Bool(true));
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ctx() -> WriteCtx {
        WriteCtx::at(Utc::now(), &ids::make("005", 1), false)
    }

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn create_sets_server_fields_and_canonical_names() {
        let schema = Schema::new(&[]);
        let acc = schema.index_of("Account").unwrap();
        let mut store = Store::new(schema.objects.len());
        let id = store
            .create(
                &schema,
                acc,
                &obj(json!({"name": "Acme", "annualrevenue": "1000"})),
                &ctx(),
                &mut vec![],
            )
            .unwrap();
        let rec = store.get(&id).unwrap();
        assert_eq!(rec.fields["Name"], "Acme");
        assert_eq!(rec.fields["AnnualRevenue"], 1000);
        assert!(rec.fields["CreatedDate"]
            .as_str()
            .unwrap()
            .ends_with("+0000"));
        assert!(id.starts_with("001"));
    }

    #[test]
    fn rollback_removes_created_and_restores_updated() {
        let schema = Schema::new(&[]);
        let acc = schema.index_of("Account").unwrap();
        let mut store = Store::new(schema.objects.len());
        let id = store
            .create(
                &schema,
                acc,
                &obj(json!({"Name": "A"})),
                &ctx(),
                &mut vec![],
            )
            .unwrap();
        let mut undo = vec![];
        store
            .update(
                &schema,
                acc,
                &id,
                &obj(json!({"Name": "B"})),
                &ctx(),
                &mut undo,
            )
            .unwrap();
        let new = store
            .create(&schema, acc, &obj(json!({"Name": "C"})), &ctx(), &mut undo)
            .unwrap();
        store.rollback(undo);
        assert_eq!(store.get(&id).unwrap().fields["Name"], "A");
        assert!(store.get(&new).is_none());
        assert_eq!(store.count(acc), 1);
    }

    #[test]
    fn datetimes_normalise_to_salesforce_format() {
        let t = parse_datetime("2025-03-30T19:57:34+02:00").unwrap();
        assert_eq!(format_datetime(t), "2025-03-30T17:57:34.000+0000");
        let t = parse_datetime("2025-03-30T17:57:34.000+0000").unwrap();
        assert_eq!(format_datetime(t), "2025-03-30T17:57:34.000+0000");
    }
}
