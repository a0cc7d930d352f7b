//! Checks a parsed query against the schema and runs it over records.

use std::cmp::Ordering;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde_json::{Map, Value};

use super::{CmpOp, Cond, ErrorKind, Ident, Literal, Query, RelativeDate, Select, SoqlError};
use crate::ids;
use crate::schema::{FieldType, ObjectSchema, Schema};
use crate::store::format_datetime;

/// A query checked against the schema, ready to run.
#[derive(Debug)]
pub(crate) struct Plan {
    pub object: usize,
    pub object_name: String,
    pub count_only: bool,
    /// Selected fields, canonical names, in select order.
    pub fields: Vec<String>,
    /// Per selected field: binary, so answered with its URL.
    blobs: Vec<bool>,
    filter: Option<CCond>,
    order: Vec<OrderKey>,
    pub limit: Option<u64>,
    pub offset: Option<u64>,
}

#[derive(Debug)]
struct OrderKey {
    field: String,
    ty: FieldType,
    descending: bool,
    nulls_last: bool,
}

#[derive(Debug)]
enum CCond {
    And(Vec<CCond>),
    Or(Vec<CCond>),
    Not(Box<CCond>),
    Cmp {
        field: String,
        ty: FieldType,
        op: CmpOp,
        val: CVal,
    },
    In {
        field: String,
        ty: FieldType,
        negated: bool,
        vals: Vec<CVal>,
    },
}

/// A literal in its comparable form: text lowercased, dates in stored format.
#[derive(Debug)]
enum CVal {
    Null,
    Bool(bool),
    Num(f64),
    Str(String),
    /// A day range `[start, end)` in stored format.
    Range(String, String),
}

/// Resolves object and field names (case-insensitively) and checks literal types.
pub(crate) fn compile(q: &Query, schema: &Schema, now: DateTime<Utc>) -> Result<Plan, SoqlError> {
    let object = schema.index_of(&q.from.name).ok_or_else(|| {
        SoqlError::new(
            ErrorKind::InvalidType,
            q.from.pos,
            format!(
                "sObject type '{}' is not supported. If you are attempting to use a custom object, be sure to append the '__c' after the entity name. Please reference your WSDL or the describe call for the appropriate names.",
                q.from.name
            ),
        )
    })?;
    let obj = &schema.objects[object];
    let (count_only, fields) = match &q.select {
        Select::Count => (true, Vec::new()),
        Select::Fields(list) => {
            let mut out: Vec<String> = Vec::with_capacity(list.len());
            for ident in list {
                let (name, _) = resolve(obj, ident)?;
                if out.contains(&name) {
                    return Err(SoqlError::new(
                        ErrorKind::Malformed,
                        ident.pos,
                        format!("duplicate field selected: {}", ident.name),
                    ));
                }
                out.push(name);
            }
            (false, out)
        }
    };
    let today = now.date_naive();
    let filter = q
        .filter
        .as_ref()
        .map(|c| compile_cond(obj, c, today))
        .transpose()?;
    let order = q
        .order_by
        .iter()
        .map(|o| {
            resolve(obj, &o.field).map(|(field, ty)| OrderKey {
                field,
                ty,
                descending: o.descending,
                nulls_last: o.nulls_last,
            })
        })
        .collect::<Result<_, _>>()?;
    let blobs = fields.iter().map(|f| obj.is_blob(f)).collect();
    Ok(Plan {
        object,
        object_name: obj.name.clone(),
        count_only,
        fields,
        blobs,
        filter,
        order,
        limit: q.limit,
        offset: q.offset,
    })
}

fn resolve(obj: &ObjectSchema, ident: &Ident) -> Result<(String, FieldType), SoqlError> {
    if let Some((rel, _)) = ident.name.split_once('.') {
        return Err(SoqlError::new(
            ErrorKind::InvalidField,
            ident.pos,
            format!(
                "Didn't understand relationship '{rel}' in field path. If you are attempting to use a custom relationship, be sure to append the '__r' after the custom relationship name. Please reference your WSDL or the describe call for the appropriate names."
            ),
        ));
    }
    obj.field(&ident.name).map(|f| (f.name.clone(), f.ty)).ok_or_else(|| {
        SoqlError::new(
            ErrorKind::InvalidField,
            ident.pos,
            format!(
                "No such column '{}' on entity '{}'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name. Please reference your WSDL or the describe call for the appropriate names.",
                ident.name, obj.name
            ),
        )
    })
}

fn compile_cond(obj: &ObjectSchema, c: &Cond, today: NaiveDate) -> Result<CCond, SoqlError> {
    Ok(match c {
        Cond::And(parts) => CCond::And(
            parts
                .iter()
                .map(|p| compile_cond(obj, p, today))
                .collect::<Result<_, _>>()?,
        ),
        Cond::Or(parts) => CCond::Or(
            parts
                .iter()
                .map(|p| compile_cond(obj, p, today))
                .collect::<Result<_, _>>()?,
        ),
        Cond::Not(inner) => CCond::Not(Box::new(compile_cond(obj, inner, today)?)),
        Cond::Cmp {
            field,
            op,
            value,
            value_pos,
        } => {
            let (name, ty) = resolve(obj, field)?;
            if *op == CmpOp::Like && !ty.is_text() {
                return Err(SoqlError::new(
                    ErrorKind::InvalidField,
                    field.pos,
                    format!("invalid operator on field '{name}': LIKE can only be used with string fields"),
                ));
            }
            let mut val = literal(&name, ty, value, today)
                .map_err(|detail| SoqlError::new(ErrorKind::InvalidField, *value_pos, detail))?;
            // LIKE matches case-insensitively on every text field, ids too.
            if let (CmpOp::Like, CVal::Str(p)) = (op, &mut val) {
                *p = p.to_lowercase();
            }
            CCond::Cmp {
                field: name,
                ty,
                op: *op,
                val,
            }
        }
        Cond::In {
            field,
            negated,
            values,
            value_pos,
        } => {
            let (name, ty) = resolve(obj, field)?;
            let vals = values
                .iter()
                .map(|v| literal(&name, ty, v, today))
                .collect::<Result<_, _>>()
                .map_err(|detail| SoqlError::new(ErrorKind::InvalidField, *value_pos, detail))?;
            CCond::In {
                field: name,
                ty,
                negated: *negated,
                vals,
            }
        }
    })
}

fn literal(field: &str, ty: FieldType, lit: &Literal, today: NaiveDate) -> Result<CVal, String> {
    let wrong = |expected: &str, quoted: bool| {
        format!(
            "value of filter criterion for field '{field}' must be of type {expected} and should {}be enclosed in quotes",
            if quoted { "" } else { "not " }
        )
    };
    if *lit == Literal::Null {
        return Ok(CVal::Null);
    }
    if ty.is_text() {
        return match lit {
            Literal::String(s) => Ok(CVal::Str(if folds_case(ty) {
                s.to_lowercase()
            } else {
                ids::normalize(s).unwrap_or_else(|| s.clone())
            })),
            _ => Err(wrong("string", true)),
        };
    }
    let day = |d: NaiveDate| -> String {
        if ty == FieldType::Date {
            d.format("%Y-%m-%d").to_string()
        } else {
            format_datetime(d.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc())
        }
    };
    match (ty, lit) {
        (FieldType::Boolean, Literal::Bool(b)) => Ok(CVal::Bool(*b)),
        (FieldType::Boolean, _) => Err(wrong("boolean", false)),
        (t, Literal::Number(n)) if t.is_number() => Ok(CVal::Num(*n)),
        (FieldType::Int, _) => Err(wrong("integer", false)),
        (t, _) if t.is_number() => Err(wrong("double", false)),
        (FieldType::Date, Literal::Date(d)) => Ok(CVal::Str(day(*d))),
        (FieldType::DateTime, Literal::DateTime(t)) => Ok(CVal::Str(format_datetime(*t))),
        (FieldType::Date | FieldType::DateTime, Literal::Relative(r)) => {
            let (start, days) = match *r {
                RelativeDate::Today => (today, 1),
                RelativeDate::Yesterday => (today - Duration::days(1), 1),
                RelativeDate::Tomorrow => (today + Duration::days(1), 1),
                RelativeDate::LastNDays(n) => {
                    (today - Duration::days(i64::from(n)), i64::from(n) + 1)
                }
                RelativeDate::NextNDays(n) => (today + Duration::days(1), i64::from(n)),
            };
            Ok(CVal::Range(day(start), day(start + Duration::days(days))))
        }
        (FieldType::Date, _) => Err(wrong("date", false)),
        _ => Err(wrong("dateTime", false)),
    }
}

impl Plan {
    /// Whether a record's fields satisfy the `WHERE` clause.
    pub fn matches(&self, rec: &Map<String, Value>) -> bool {
        self.filter.as_ref().is_none_or(|c| eval(c, rec))
    }

    /// Sorts matching records by `ORDER BY`.
    pub fn sort(&self, rows: &mut [&Map<String, Value>]) {
        if self.order.is_empty() {
            return;
        }
        rows.sort_by(|a, b| {
            for k in &self.order {
                let (va, vb) = (
                    a.get(&k.field).unwrap_or(&Value::Null),
                    b.get(&k.field).unwrap_or(&Value::Null),
                );
                let ord = match (va.is_null(), vb.is_null()) {
                    (true, true) => Ordering::Equal,
                    (true, false) => {
                        if k.nulls_last {
                            Ordering::Greater
                        } else {
                            Ordering::Less
                        }
                    }
                    (false, true) => {
                        if k.nulls_last {
                            Ordering::Less
                        } else {
                            Ordering::Greater
                        }
                    }
                    (false, false) => {
                        let o = compare_values(va, vb, k.ty);
                        if k.descending {
                            o.reverse()
                        } else {
                            o
                        }
                    }
                };
                if ord != Ordering::Equal {
                    return ord;
                }
            }
            Ordering::Equal
        });
    }

    /// The record as a query returns it: `attributes`, then the selected fields.
    pub fn project(&self, rec: &Map<String, Value>, version: &str) -> Value {
        let id = rec.get("Id").and_then(Value::as_str).unwrap_or_default();
        let mut out = Map::with_capacity(self.fields.len() + 1);
        out.insert(
            "attributes".into(),
            serde_json::json!({
                "type": self.object_name,
                "url": format!("/services/data/{version}/sobjects/{}/{id}", self.object_name),
            }),
        );
        for (f, blob) in self.fields.iter().zip(&self.blobs) {
            let v = match rec.get(f) {
                Some(v) if *blob && !v.is_null() => {
                    Value::String(crate::rest::blob_url(version, &self.object_name, id, f))
                }
                Some(v) => v.clone(),
                None => Value::Null,
            };
            out.insert(f.clone(), v);
        }
        Value::Object(out)
    }
}

/// Whether values of this type compare case-insensitively. Ids do not:
/// `001...a` and `001...A` are different records, and ordering them by
/// their bytes keeps `ORDER BY Id` in creation order, which keyset paging
/// (`Id > :last`) relies on.
fn folds_case(ty: FieldType) -> bool {
    ty.is_text() && !matches!(ty, FieldType::Id | FieldType::Reference)
}

fn compare_values(a: &Value, b: &Value, ty: FieldType) -> Ordering {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x
            .as_f64()
            .partial_cmp(&y.as_f64())
            .unwrap_or(Ordering::Equal),
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        // Folded char by char: sorting 100,000 rows must not allocate per comparison.
        (Value::String(x), Value::String(y)) if folds_case(ty) => x
            .chars()
            .flat_map(char::to_lowercase)
            .cmp(y.chars().flat_map(char::to_lowercase)),
        (Value::String(x), Value::String(y)) => x.cmp(y),
        _ => Ordering::Equal,
    }
}

fn eval(c: &CCond, rec: &Map<String, Value>) -> bool {
    match c {
        CCond::And(parts) => parts.iter().all(|p| eval(p, rec)),
        CCond::Or(parts) => parts.iter().any(|p| eval(p, rec)),
        CCond::Not(inner) => !eval(inner, rec),
        CCond::Cmp { field, ty, op, val } => {
            compare(rec.get(field).unwrap_or(&Value::Null), *ty, *op, val)
        }
        CCond::In {
            field,
            ty,
            negated,
            vals,
        } => {
            let v = rec.get(field).unwrap_or(&Value::Null);
            let hit = vals.iter().any(|lit| compare(v, *ty, CmpOp::Eq, lit));
            hit != *negated
        }
    }
}

fn compare(v: &Value, ty: FieldType, op: CmpOp, lit: &CVal) -> bool {
    match lit {
        CVal::Null => {
            return match op {
                CmpOp::Eq => v.is_null(),
                CmpOp::Ne => !v.is_null(),
                _ => false,
            }
        }
        CVal::Range(start, end) => {
            let Some(s) = v.as_str() else {
                return op == CmpOp::Ne;
            };
            let inside = s >= start.as_str() && s < end.as_str();
            return match op {
                CmpOp::Eq => inside,
                CmpOp::Ne => !inside,
                CmpOp::Lt => s < start.as_str(),
                CmpOp::Le => s < end.as_str(),
                CmpOp::Gt => s >= end.as_str(),
                CmpOp::Ge => s >= start.as_str(),
                CmpOp::Like => false,
            };
        }
        _ => {}
    }
    if op == CmpOp::Like {
        return match (v.as_str(), lit) {
            (Some(s), CVal::Str(p)) => like(&s.to_lowercase(), p),
            _ => false,
        };
    }
    let ord = match (v, lit) {
        (Value::String(s), CVal::Str(l)) if folds_case(ty) => {
            Some(s.chars().flat_map(char::to_lowercase).cmp(l.chars()))
        }
        (Value::String(s), CVal::Str(l)) => Some(s.as_str().cmp(l.as_str())),
        (Value::Number(n), CVal::Num(l)) => n.as_f64().and_then(|n| n.partial_cmp(l)),
        (Value::Bool(b), CVal::Bool(l)) => Some(b.cmp(l)),
        _ => None,
    };
    match ord {
        // A null (or incomparable) value is only ever "not equal".
        None => op == CmpOp::Ne,
        Some(o) => match op {
            CmpOp::Eq => o == Ordering::Equal,
            CmpOp::Ne => o != Ordering::Equal,
            CmpOp::Lt => o == Ordering::Less,
            CmpOp::Le => o != Ordering::Greater,
            CmpOp::Gt => o == Ordering::Greater,
            CmpOp::Ge => o != Ordering::Less,
            CmpOp::Like => false,
        },
    }
}

/// SOQL LIKE: `%` any run, `_` one character, `\` escapes the next one.
fn like(text: &str, pattern: &str) -> bool {
    #[derive(Clone, Copy, PartialEq)]
    enum P {
        Any,
        One,
        Lit(char),
    }
    let mut pat = Vec::new();
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        pat.push(match c {
            '%' => P::Any,
            '_' => P::One,
            '\\' => P::Lit(chars.next().unwrap_or('\\')),
            c => P::Lit(c),
        });
    }
    let text: Vec<char> = text.chars().collect();
    // matches[j]: the pattern prefix so far matches text[..j].
    let mut matches = vec![false; text.len() + 1];
    matches[0] = true;
    for p in pat {
        let mut next = vec![false; text.len() + 1];
        match p {
            P::Any => {
                let mut seen = false;
                for j in 0..=text.len() {
                    seen |= matches[j];
                    next[j] = seen;
                }
            }
            P::One | P::Lit(_) => {
                for j in 0..text.len() {
                    if matches[j] && (p == P::One || p == P::Lit(text[j])) {
                        next[j + 1] = true;
                    }
                }
            }
        }
        matches = next;
    }
    matches[text.len()]
}

#[cfg(test)]
mod tests {
    use super::super::parse;
    use super::*;
    use serde_json::json;

    fn plan(q: &str) -> Result<Plan, SoqlError> {
        let now = DateTime::parse_from_rfc3339("2025-03-30T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        compile(&parse(q)?, &Schema::new(&[]), now)
    }

    fn rec(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    fn hits(q: &str, r: &Value) -> bool {
        plan(q).unwrap().matches(&rec(r.clone()))
    }

    #[test]
    fn like_handles_wildcards_and_escapes() {
        assert!(like("acme corp", "acme%"));
        assert!(like("acme", "a_me"));
        assert!(!like("acme", "a_e"));
        assert!(like("50%", "50\\%"));
        assert!(!like("500", "50\\%"));
        assert!(like("", "%"));
    }

    #[test]
    fn operators_compare_by_field_type() {
        let r = json!({"Name": "Acme", "AnnualRevenue": 500, "Industry": null, "CreatedDate": "2025-03-30T08:00:00.000+0000", "IsDeleted": false});
        assert!(hits("SELECT Id FROM Account WHERE name = 'ACME'", &r));
        assert!(hits("SELECT Id FROM Account WHERE Name != 'Other'", &r));
        assert!(hits(
            "SELECT Id FROM Account WHERE AnnualRevenue > 100 AND AnnualRevenue <= 500",
            &r
        ));
        assert!(!hits(
            "SELECT Id FROM Account WHERE AnnualRevenue < 500",
            &r
        ));
        assert!(hits(
            "SELECT Id FROM Account WHERE AnnualRevenue >= 500",
            &r
        ));
        assert!(hits("SELECT Id FROM Account WHERE Industry = null", &r));
        assert!(hits(
            "SELECT Id FROM Account WHERE Industry != 'Energy'",
            &r
        ));
        assert!(!hits(
            "SELECT Id FROM Account WHERE Industry = 'Energy'",
            &r
        ));
        assert!(hits(
            "SELECT Id FROM Account WHERE Name IN ('x', 'acme')",
            &r
        ));
        assert!(hits("SELECT Id FROM Account WHERE Name NOT IN ('x')", &r));
        assert!(hits(
            "SELECT Id FROM Account WHERE NOT (Name = 'x' OR IsDeleted = true)",
            &r
        ));
        assert!(hits("SELECT Id FROM Account WHERE CreatedDate = TODAY", &r));
        assert!(hits(
            "SELECT Id FROM Account WHERE CreatedDate > 2025-03-30T07:59:59Z",
            &r
        ));
        assert!(!hits(
            "SELECT Id FROM Account WHERE CreatedDate > 2025-03-30T10:00:00+02:00",
            &r
        ));
        assert!(hits(
            "SELECT Id FROM Account WHERE CreatedDate = LAST_N_DAYS:3",
            &r
        ));
        assert!(!hits(
            "SELECT Id FROM Account WHERE CreatedDate = YESTERDAY",
            &r
        ));
        assert!(hits(
            "SELECT Id FROM Account WHERE CreatedDate < TOMORROW",
            &r
        ));
    }

    #[test]
    fn schema_errors_use_salesforce_wording() {
        let e = plan("SELECT Id FROM Acount").unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidType);
        assert!(e
            .detail
            .starts_with("sObject type 'Acount' is not supported."));
        let e = plan("SELECT Id, Nme FROM Account").unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidField);
        assert!(e
            .detail
            .starts_with("No such column 'Nme' on entity 'Account'."));
        assert_eq!(e.pos.col, 12);
        let e = plan("SELECT Id FROM Account WHERE CreatedDate > '2025-01-01'").unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidField);
        assert_eq!(e.detail, "value of filter criterion for field 'CreatedDate' must be of type dateTime and should not be enclosed in quotes");
        let e = plan("SELECT Id FROM Account WHERE Name = 5").unwrap_err();
        assert_eq!(e.detail, "value of filter criterion for field 'Name' must be of type string and should be enclosed in quotes");
        assert_eq!(
            plan("SELECT Id, id FROM Account").unwrap_err().kind,
            ErrorKind::Malformed
        );
    }

    #[test]
    fn ids_compare_by_exact_characters() {
        // Base62 ids in creation order: digits, then upper, then lower case.
        let (a, b, c) = (
            rec(json!({"Id": "001Fk000000000AAAA"})),
            rec(json!({"Id": "001Fk000000000ZAAA"})),
            rec(json!({"Id": "001Fk000000000aAAA"})),
        );
        let p = plan("SELECT Id FROM Account ORDER BY Id").unwrap();
        let mut rows = vec![&c, &a, &b];
        p.sort(&mut rows);
        assert_eq!(rows, [&a, &b, &c]);
        let after_z = "SELECT Id FROM Account WHERE Id > '001Fk000000000ZAAA'";
        assert!(!plan(after_z).unwrap().matches(&a));
        assert!(plan(after_z).unwrap().matches(&c));
        assert!(!hits(
            "SELECT Id FROM Account WHERE Id = '001fk000000000aaaa'",
            &json!({"Id": "001Fk000000000aAAA"})
        ));
        assert!(hits(
            "SELECT Id FROM Account WHERE Id LIKE '001fk%'",
            &json!({"Id": "001Fk000000000aAAA"})
        ));
    }

    #[test]
    fn order_by_sorts_nulls_and_directions() {
        let p = plan("SELECT Name FROM Account ORDER BY Industry DESC, Name").unwrap();
        let a = rec(json!({"Name": "b", "Industry": "Energy"}));
        let b = rec(json!({"Name": "A", "Industry": "Energy"}));
        let c = rec(json!({"Name": "c", "Industry": null}));
        let d = rec(json!({"Name": "d", "Industry": "Retail"}));
        let mut rows = vec![&a, &b, &c, &d];
        p.sort(&mut rows);
        let names: Vec<&str> = rows.iter().map(|r| r["Name"].as_str().unwrap()).collect();
        assert_eq!(names, ["d", "A", "b", "c"]);
        assert_eq!(p.fields, ["Name"]);
    }
}
