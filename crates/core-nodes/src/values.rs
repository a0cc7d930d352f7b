//! JSON values the way n8n's nodes (JavaScript with lodash) treat them: field paths
//! (`a.b[0].c`), deep equality, ordering, text, and object key order.
//!
//! The data nodes (Aggregate, Sort, Summarize, Remove Duplicates, Rename Keys) are defined by
//! what lodash's `get`/`set`/`isEqual`/`lt` and JavaScript's `<` and `String()` do; these
//! functions do the same on JSON, so the nodes can be written as n8n's are. `None` stands for
//! JavaScript's `undefined`.

use std::cmp::Ordering;

use node_api::JsonObject;
use serde_json::{Number, Value};

use workflow::expr::js_number;

/// One step of a lodash path.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Key {
    Name(String),
    Index(usize),
}

impl Key {
    fn as_str(&self) -> String {
        match self {
            Key::Name(n) => n.clone(),
            Key::Index(i) => i.to_string(),
        }
    }
}

/// Splits a lodash path: `a.b`, `a[0].b`, `a["b.c"]`, `a['x']`.
fn parse_path(path: &str) -> Vec<Key> {
    let mut keys = Vec::new();
    let chars: Vec<char> = path.chars().collect();
    let mut current = String::new();
    let mut i = 0;
    let push = |keys: &mut Vec<Key>, current: &mut String| {
        let k = std::mem::take(current);
        keys.push(match k.parse::<usize>() {
            Ok(n) if n.to_string() == k => Key::Index(n),
            _ => Key::Name(k),
        });
    };
    while i < chars.len() {
        match chars[i] {
            '.' => {
                push(&mut keys, &mut current);
                i += 1;
            }
            '[' => {
                if !current.is_empty() {
                    push(&mut keys, &mut current);
                }
                let close = chars[i..].iter().position(|c| *c == ']').map(|p| p + i);
                let Some(close) = close else {
                    current.push('[');
                    i += 1;
                    continue;
                };
                let inner: String = chars[i + 1..close].iter().collect();
                let quoted = inner.len() >= 2
                    && ((inner.starts_with('"') && inner.ends_with('"'))
                        || (inner.starts_with('\'') && inner.ends_with('\'')));
                if quoted {
                    keys.push(Key::Name(inner[1..inner.len() - 1].to_string()));
                } else {
                    current = inner;
                    push(&mut keys, &mut current);
                }
                i = close + 1;
                if chars.get(i) == Some(&'.') {
                    i += 1;
                }
            }
            c => {
                current.push(c);
                i += 1;
            }
        }
    }
    if !current.is_empty() || keys.is_empty() {
        push(&mut keys, &mut current);
    }
    keys
}

fn step<'a>(v: &'a Value, key: &Key) -> Option<&'a Value> {
    match (v, key) {
        (Value::Object(o), k) => o.get(&k.as_str()),
        (Value::Array(a), Key::Index(i)) => a.get(*i),
        _ => None,
    }
}

/// lodash's `get(obj, path)`: a key holding the whole path wins, then the path's steps.
pub(crate) fn get<'a>(obj: &'a JsonObject, path: &str) -> Option<&'a Value> {
    if let Some(v) = obj.get(path) {
        return Some(v);
    }
    let keys = parse_path(path);
    let (first, rest) = keys.split_first()?;
    let mut current = obj.get(&first.as_str())?;
    for k in rest {
        current = step(current, k)?;
    }
    Some(current)
}

/// A field read as n8n's nodes read it: with dot notation (lodash `get`) or as one key.
pub(crate) fn field<'a>(obj: &'a JsonObject, path: &str, dot_notation: bool) -> Option<&'a Value> {
    if dot_notation {
        get(obj, path)
    } else {
        obj.get(path)
    }
}

/// lodash's `set(obj, path, value)`: creates the objects (or arrays, before an index) on the
/// way and replaces what is not one.
pub(crate) fn set(obj: &mut JsonObject, path: &str, value: Value) {
    let keys = parse_path(path);
    let Some((last, init)) = keys.split_last() else {
        return;
    };
    let mut current: &mut Value = {
        let Some((first, _)) = keys.split_first() else {
            return;
        };
        if init.is_empty() {
            obj.insert(last.as_str(), value);
            return;
        }
        let next_is_index = matches!(keys.get(1), Some(Key::Index(_)));
        let entry = obj
            .entry(first.as_str())
            .or_insert_with(|| container(next_is_index));
        if !entry.is_object() && !entry.is_array() {
            *entry = container(next_is_index);
        }
        entry
    };
    for (n, k) in init.iter().enumerate().skip(1) {
        let next_is_index = matches!(keys.get(n + 1), Some(Key::Index(_)));
        current = child(current, k, next_is_index);
    }
    match (current, last) {
        (Value::Array(a), Key::Index(i)) => {
            if a.len() <= *i {
                a.resize(*i + 1, Value::Null);
            }
            a[*i] = value;
        }
        (Value::Object(o), k) => {
            o.insert(k.as_str(), value);
        }
        (other, k) => {
            let mut o = JsonObject::new();
            o.insert(k.as_str(), value);
            *other = Value::Object(o);
        }
    }
}

fn container(array: bool) -> Value {
    if array {
        Value::Array(Vec::new())
    } else {
        Value::Object(JsonObject::new())
    }
}

fn child<'a>(v: &'a mut Value, key: &Key, next_is_index: bool) -> &'a mut Value {
    if let (Value::Array(a), Key::Index(i)) = (&*v, key) {
        if *i >= a.len() {
            if let Value::Array(a) = v {
                a.resize(*i + 1, Value::Null);
            }
        }
    }
    if !v.is_object() && !v.is_array() {
        *v = Value::Object(JsonObject::new());
    }
    if v.is_array() && !matches!(key, Key::Index(_)) {
        *v = Value::Object(JsonObject::new());
    }
    let slot = match (v, key) {
        (Value::Array(a), Key::Index(i)) => &mut a[*i],
        (Value::Object(o), k) => o.entry(k.as_str()).or_insert(Value::Null),
        _ => unreachable!("made an object or array just above"),
    };
    if !slot.is_object() && !slot.is_array() {
        *slot = container(next_is_index);
    }
    slot
}

/// lodash's `unset(obj, path)`: removes the field the path names, if it is there.
pub(crate) fn unset(obj: &mut JsonObject, path: &str) {
    if obj.remove(path).is_some() {
        return;
    }
    let keys = parse_path(path);
    let Some((last, init)) = keys.split_last() else {
        return;
    };
    let Some((first, rest)) = init.split_first() else {
        obj.remove(&last.as_str());
        return;
    };
    let mut current = match obj.get_mut(&first.as_str()) {
        Some(v) => v,
        None => return,
    };
    for k in rest {
        current = match (current, k) {
            (Value::Object(o), k) => match o.get_mut(&k.as_str()) {
                Some(v) => v,
                None => return,
            },
            (Value::Array(a), Key::Index(i)) => match a.get_mut(*i) {
                Some(v) => v,
                None => return,
            },
            _ => return,
        };
    }
    match (current, last) {
        (Value::Object(o), k) => {
            o.shift_remove(&k.as_str());
        }
        // lodash leaves a hole (`undefined`); JSON shows it as null.
        (Value::Array(a), Key::Index(i)) if *i < a.len() => a[*i] = Value::Null,
        _ => {}
    }
}

/// lodash's `isEqual` on JSON: deep, numbers by value (`1` equals `1.0`).
pub(crate) fn equal(a: Option<&Value>, b: Option<&Value>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(Value::Number(x)), Some(Value::Number(y))) => x.as_f64() == y.as_f64(),
        (Some(Value::Array(x)), Some(Value::Array(y))) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| equal(Some(p), Some(q)))
        }
        (Some(Value::Object(x)), Some(Value::Object(y))) => {
            x.len() == y.len() && x.iter().all(|(k, v)| equal(Some(v), y.get(k)))
        }
        (Some(x), Some(y)) => x == y,
        _ => false,
    }
}

/// A text that is the same for two values exactly when [`equal`] holds: numbers by value,
/// object keys in sorted order. Lets equality be looked up in a hash set.
pub(crate) fn canonical(v: Option<&Value>) -> String {
    fn write(v: &Value, out: &mut String) {
        match v {
            Value::Number(n) => {
                out.push('n');
                out.push_str(&workflow::expr::js_number_f64(
                    n.as_f64().unwrap_or(f64::NAN),
                ));
            }
            Value::Array(a) => {
                out.push('[');
                for x in a {
                    write(x, out);
                    out.push(',');
                }
                out.push(']');
            }
            Value::Object(o) => {
                let mut keys: Vec<&String> = o.keys().collect();
                keys.sort();
                out.push('{');
                for k in keys {
                    out.push_str(&serde_json::to_string(k).unwrap_or_default());
                    out.push(':');
                    write(&o[k], out);
                    out.push(',');
                }
                out.push('}');
            }
            other => out.push_str(&other.to_string()),
        }
    }
    let mut out = String::new();
    match v {
        None => out.push('u'),
        Some(v) => write(v, &mut out),
    }
    out
}

/// JavaScript's `typeof` for a JSON value (`undefined` for `None`).
pub(crate) fn type_of(v: Option<&Value>) -> &'static str {
    match v {
        None => "undefined",
        Some(Value::Null | Value::Array(_) | Value::Object(_)) => "object",
        Some(Value::Bool(_)) => "boolean",
        Some(Value::Number(_)) => "number",
        Some(Value::String(_)) => "string",
    }
}

/// JavaScript's `String(v)`.
pub(crate) fn to_text(v: Option<&Value>) -> String {
    match v {
        None => "undefined".into(),
        Some(Value::Null) => "null".into(),
        Some(Value::Bool(b)) => b.to_string(),
        Some(Value::Number(n)) => js_number(n),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(a)) => a
            .iter()
            .map(|x| match x {
                Value::Null => String::new(),
                other => to_text(Some(other)),
            })
            .collect::<Vec<_>>()
            .join(","),
        Some(Value::Object(_)) => "[object Object]".into(),
    }
}

/// JavaScript's `Number(v)`.
pub(crate) fn to_number(v: Option<&Value>) -> f64 {
    match v {
        None => f64::NAN,
        Some(Value::Null) => 0.0,
        Some(Value::Bool(b)) => f64::from(u8::from(*b)),
        Some(Value::Number(n)) => n.as_f64().unwrap_or(f64::NAN),
        Some(Value::String(s)) => text_to_number(s),
        Some(other @ (Value::Array(_) | Value::Object(_))) => text_to_number(&to_text(Some(other))),
    }
}

fn text_to_number(s: &str) -> f64 {
    let t = s.trim();
    if t.is_empty() {
        return 0.0;
    }
    if let Some(hex) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        return i64::from_str_radix(hex, 16).map_or(f64::NAN, |n| n as f64);
    }
    match t {
        "Infinity" | "+Infinity" => f64::INFINITY,
        "-Infinity" => f64::NEG_INFINITY,
        _ if t.contains(|c: char| c.is_ascii_alphabetic() && c != 'e' && c != 'E') => f64::NAN,
        _ => t.parse().unwrap_or(f64::NAN),
    }
}

/// Compares two strings as JavaScript does (by UTF-16 code units).
fn text_order(a: &str, b: &str) -> Ordering {
    a.encode_utf16().cmp(b.encode_utf16())
}

/// lodash's `lt(a, b)`: strings by text, anything else as numbers.
pub(crate) fn lodash_lt(a: Option<&Value>, b: Option<&Value>) -> bool {
    match (a, b) {
        (Some(Value::String(x)), Some(Value::String(y))) => text_order(x, y) == Ordering::Less,
        _ => to_number(a) < to_number(b),
    }
}

/// JavaScript's `a < b` (objects become their text first).
pub(crate) fn js_lt(a: Option<&Value>, b: Option<&Value>) -> bool {
    let primitive = |v: Option<&Value>| match v {
        Some(v @ (Value::Array(_) | Value::Object(_))) => Some(Value::String(to_text(Some(v)))),
        other => other.cloned(),
    };
    let (a, b) = (primitive(a), primitive(b));
    match (&a, &b) {
        (Some(Value::String(x)), Some(Value::String(y))) => text_order(x, y) == Ordering::Less,
        _ => to_number(a.as_ref()) < to_number(b.as_ref()),
    }
}

/// Sorts stably by `less` (a "comes before" test), as JavaScript's `Array.prototype.sort`
/// does with a comparator: a merge sort that gives some order even when `less` is not
/// consistent (n8n's comparators are not, across types), where `slice::sort_by` may panic.
pub(crate) fn stable_sort<T>(items: Vec<T>, less: &mut impl FnMut(&T, &T) -> bool) -> Vec<T> {
    if items.len() <= 1 {
        return items;
    }
    let mut right = items;
    let left_part: Vec<T> = right.drain(..right.len() / 2).collect();
    let left = stable_sort(left_part, less);
    let right = stable_sort(right, less);
    let mut out = Vec::with_capacity(left.len() + right.len());
    let mut left = left.into_iter().peekable();
    let mut right = right.into_iter().peekable();
    while let (Some(l), Some(r)) = (left.peek(), right.peek()) {
        // Take from the right only when it strictly comes first: equal items keep their order.
        if less(r, l) {
            out.extend(right.next());
        } else {
            out.extend(left.next());
        }
    }
    out.extend(left);
    out.extend(right);
    out
}

/// A number as a JSON value, whole floats as integers (as n8n shows them), `NaN` and the
/// infinities as null (as `JSON.stringify` writes them).
pub(crate) fn number(f: f64) -> Value {
    if f.is_finite() && f.fract() == 0.0 && f.abs() < 9_007_199_254_740_992.0 {
        Value::from(f as i64)
    } else {
        Number::from_f64(f).map_or(Value::Null, Value::Number)
    }
}

/// n8n's `prepareFieldsArray`: a comma-separated list of field names (or a list of them).
pub(crate) fn field_list(value: Option<&Value>, label: &str) -> Result<Vec<String>, String> {
    match value {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(s)) => Ok(s
            .split(',')
            .map(str::trim)
            .filter(|f| !f.is_empty())
            .map(str::to_string)
            .collect()),
        Some(Value::Array(list)) => Ok(list.iter().map(|v| to_text(Some(v))).collect()),
        Some(_) => Err(format!(
            "The '{label}' parameter must be a string of fields separated by commas or an array of strings."
        )),
    }
}

/// An object with JavaScript's key order: keys that are array indexes ("0", "12") first, in
/// numeric order, then the others as inserted (`Object.fromEntries` output).
pub(crate) fn js_object(entries: Vec<(String, Value)>) -> JsonObject {
    let is_index = |k: &str| {
        k.parse::<u32>()
            .is_ok_and(|n| n.to_string() == k && n < u32::MAX)
    };
    let mut indexed: Vec<(u32, String, Value)> = Vec::new();
    let mut named = JsonObject::new();
    for (k, v) in entries {
        if is_index(&k) {
            let n = k.parse().unwrap_or(0);
            match indexed.iter_mut().find(|(m, _, _)| *m == n) {
                Some(slot) => slot.2 = v,
                None => indexed.push((n, k, v)),
            }
        } else {
            named.insert(k, v);
        }
    }
    indexed.sort_by_key(|(n, _, _)| *n);
    let mut out = JsonObject::new();
    for (_, k, v) in indexed {
        out.insert(k, v);
    }
    out.extend(named);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> JsonObject {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn paths_read_and_write_as_lodash() {
        let o = obj(json!({"a": {"b": [{"c": 1}, {"c": 2}]}, "x.y": 3}));
        assert_eq!(get(&o, "a.b[1].c"), Some(&json!(2)));
        assert_eq!(get(&o, "a.b.0.c"), Some(&json!(1)));
        assert_eq!(get(&o, "a['b']"), Some(&json!([{"c": 1}, {"c": 2}])));
        assert_eq!(get(&o, "x.y"), Some(&json!(3)));
        assert_eq!(get(&o, "a.missing.deep"), None);
        let mut o = obj(json!({"keep": 1, "s": "text"}));
        set(&mut o, "n.list[1].v", json!(5));
        set(&mut o, "s.inner", json!(true));
        assert_eq!(
            Value::Object(o.clone()),
            json!({"keep": 1, "s": {"inner": true}, "n": {"list": [null, {"v": 5}]}})
        );
        unset(&mut o, "n.list[1].v");
        unset(&mut o, "keep");
        assert_eq!(
            Value::Object(o),
            json!({"s": {"inner": true}, "n": {"list": [null, {}]}})
        );
    }

    #[test]
    fn equality_order_and_text_follow_javascript() {
        assert!(equal(Some(&json!(1)), Some(&json!(1.0))));
        assert!(equal(
            Some(&json!({"a": [1, {"b": 2}]})),
            Some(&json!({"a": [1, {"b": 2}]}))
        ));
        assert!(!equal(
            Some(&json!({"a": 1})),
            Some(&json!({"a": 1, "b": null}))
        ));
        assert!(lodash_lt(Some(&json!("10")), Some(&json!("9"))));
        assert!(!lodash_lt(Some(&json!(10)), Some(&json!("9"))));
        assert!(js_lt(Some(&json!([1, 2])), Some(&json!("1,3"))));
        assert_eq!(to_text(Some(&json!([1, null, "a"]))), "1,,a");
        assert_eq!(to_number(Some(&json!(" 42 "))), 42.0);
        assert!(to_number(Some(&json!("4x"))).is_nan());
        let keys: Vec<String> = js_object(vec![
            ("b".into(), json!(1)),
            ("10".into(), json!(2)),
            ("2".into(), json!(3)),
        ])
        .keys()
        .cloned()
        .collect();
        assert_eq!(keys, ["2", "10", "b"]);
    }
}
