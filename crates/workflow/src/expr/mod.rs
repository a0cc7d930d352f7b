//! n8n expressions: a parameter string starting with `=` whose `{{ ... }}` segments are
//! JavaScript.
//!
//! A template is parsed once per node run and evaluated per item. Plain property paths
//! (`$json.a.b`, `$json["x"]`, `$json.list[0]`) are read straight from the item without
//! JavaScript; anything else runs in the sandboxed QuickJS engine of [`js`].
//!
//! A template that is exactly one `{{ }}` keeps its result's type (a number stays a number);
//! text mixed with segments yields a string, as in n8n.

mod js;

use std::sync::Arc;

use node_api::JsonObject;
use serde_json::Value;

pub use js::{run_code, CodeFailure, CodeMode, CodeRun};
pub use js::{set_limits, Limits};

use super::error::{ExpressionError, ExpressionErrorKind};
use super::run::ExprData;

/// What an expression sees: the execution view and the item being resolved.
pub struct Scope<'a> {
    /// The execution view of the node run.
    pub data: &'a Arc<ExprData>,
    /// Index of the input item (`$itemIndex`).
    pub item_index: usize,
}

/// A parsed parameter value: literal text and code segments.
#[derive(Clone, Debug, PartialEq)]
pub struct Template {
    segments: Vec<Segment>,
}

#[derive(Clone, Debug, PartialEq)]
enum Segment {
    Text(String),
    Code(Code),
}

#[derive(Clone, Debug, PartialEq)]
struct Code {
    src: String,
    fast: Option<Vec<PathStep>>,
}

#[derive(Clone, Debug, PartialEq)]
enum PathStep {
    Key(String),
    Index(usize),
}

impl Template {
    /// Parses `text`, which must start with `=`.
    pub fn parse(text: &str) -> Result<Self, ExpressionError> {
        let body = text.strip_prefix('=').unwrap_or(text);
        let mut segments = Vec::new();
        let mut rest = body;
        while let Some(start) = rest.find("{{") {
            if start > 0 {
                segments.push(Segment::Text(rest[..start].to_string()));
            }
            let after = &rest[start + 2..];
            let end = find_close(after).ok_or_else(|| {
                ExpressionError::new(
                    ExpressionErrorKind::Syntax,
                    "expression has \"{{\" without a matching \"}}\"",
                )
            })?;
            let src = after[..end].trim().to_string();
            if src.is_empty() {
                return Err(ExpressionError::new(
                    ExpressionErrorKind::Syntax,
                    "empty expression \"{{ }}\"",
                ));
            }
            let fast = fast_path(&src);
            segments.push(Segment::Code(Code { src, fast }));
            rest = &after[end + 2..];
        }
        if !rest.is_empty() {
            segments.push(Segment::Text(rest.to_string()));
        }
        Ok(Self { segments })
    }

    /// Evaluates the template for one item.
    pub fn evaluate(&self, scope: &Scope<'_>) -> Result<Value, ExpressionError> {
        match self.segments.as_slice() {
            [] => Ok(Value::String(String::new())),
            [Segment::Code(code)] => eval_code(code, scope),
            [Segment::Text(t)] => Ok(Value::String(t.clone())),
            segments => {
                let mut out = String::new();
                for s in segments {
                    match s {
                        Segment::Text(t) => out.push_str(t),
                        Segment::Code(code) => push_text(&mut out, &eval_code(code, scope)?),
                    }
                }
                Ok(Value::String(out))
            }
        }
    }

    /// Evaluates the template for one item with extra variables (n8n's "additional keys",
    /// e.g. `$response` and `$pageCount` while paginating): each key of `bindings` is a
    /// variable of every segment. Segments are always run in JavaScript.
    pub fn evaluate_with(
        &self,
        scope: &Scope<'_>,
        bindings: &JsonObject,
    ) -> Result<Value, ExpressionError> {
        let eval = |code: &Code| js::evaluate_bound(&code.src, scope, Some(bindings));
        match self.segments.as_slice() {
            [] => Ok(Value::String(String::new())),
            [Segment::Code(code)] => eval(code),
            [Segment::Text(t)] => Ok(Value::String(t.clone())),
            segments => {
                let mut out = String::new();
                for s in segments {
                    match s {
                        Segment::Text(t) => out.push_str(t),
                        Segment::Code(code) => push_text(&mut out, &eval(code)?),
                    }
                }
                Ok(Value::String(out))
            }
        }
    }

    /// Whether the template runs JavaScript for at least one segment.
    pub fn needs_js(&self) -> bool {
        self.segments
            .iter()
            .any(|s| matches!(s, Segment::Code(Code { fast: None, .. })))
    }
}

/// Finds the `}}` closing a segment, skipping braces and `}}` inside strings and nested
/// object literals, so `{{ { a: {b: 1}} }}` parses.
fn find_close(code: &str) -> Option<usize> {
    let bytes = code.as_bytes();
    let mut depth = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            q @ (b'"' | b'\'' | b'`') => {
                i += 1;
                while i < bytes.len() && bytes[i] != q {
                    if bytes[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
            }
            b'{' => depth += 1,
            b'}' if depth == 0 && bytes.get(i + 1) == Some(&b'}') => return Some(i),
            b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    None
}

/// Recognises `$json` followed by `.ident`, `["key"]`, `['key']` or `[n]` steps.
fn fast_path(src: &str) -> Option<Vec<PathStep>> {
    let mut rest = src.strip_prefix("$json")?;
    let mut steps = Vec::new();
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('.') {
            let end = r
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '$'))
                .unwrap_or(r.len());
            let ident = &r[..end];
            if ident.is_empty() || ident.as_bytes()[0].is_ascii_digit() {
                return None;
            }
            steps.push(PathStep::Key(ident.to_string()));
            rest = &r[end..];
        } else if let Some(r) = rest.strip_prefix('[') {
            let close = r.find(']')?;
            let inner = r[..close].trim();
            let step = if let Some(k) = quoted(inner) {
                PathStep::Key(k.to_string())
            } else {
                PathStep::Index(inner.parse().ok()?)
            };
            steps.push(step);
            rest = &r[close + 1..];
        } else {
            return None;
        }
    }
    Some(steps)
}

fn quoted(s: &str) -> Option<&str> {
    let inner = s
        .strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .or_else(|| s.strip_prefix('\'').and_then(|s| s.strip_suffix('\'')))?;
    (!inner.contains(['\\', '"', '\''])).then_some(inner)
}

fn eval_code(code: &Code, scope: &Scope<'_>) -> Result<Value, ExpressionError> {
    if let Some(steps) = &code.fast {
        let empty = JsonObject::new();
        let json = scope
            .data
            .input_item(scope.item_index)
            .map_or(&empty, |i| &i.json);
        if let Some(v) = walk(json, steps) {
            return Ok(v);
        }
    }
    js::evaluate(&code.src, scope)
}

/// Walks a path the way JavaScript would. `None` means "let JavaScript decide" (a missing
/// parent throws a TypeError there, `.length` of a string is a number, ...).
fn walk(json: &JsonObject, steps: &[PathStep]) -> Option<Value> {
    let mut current: Option<&Value> = None;
    for (i, step) in steps.iter().enumerate() {
        let next = match (current, step) {
            (None, PathStep::Key(k)) if i == 0 => json.get(k),
            (None, PathStep::Index(_)) if i == 0 => None,
            (Some(Value::Object(o)), PathStep::Key(k)) => o.get(k),
            (Some(Value::Array(a)), PathStep::Index(n)) => a.get(*n),
            _ => return None,
        };
        match next {
            Some(v) => current = Some(v),
            // The last step missing is `undefined`, which we represent as null; an inner
            // step missing makes JavaScript throw, so let it produce that error.
            None if i + 1 == steps.len()
                && !matches!(step, PathStep::Key(k) if is_prototype_key(k)) =>
            {
                return Some(Value::Null)
            }
            None => return None,
        }
    }
    Some(current.map_or_else(|| Value::Object(json.clone()), Clone::clone))
}

fn is_prototype_key(k: &str) -> bool {
    matches!(
        k,
        "length" | "constructor" | "toString" | "valueOf" | "hasOwnProperty" | "__proto__"
    )
}

/// Appends a value the way a template renders it: strings as-is, numbers as JavaScript
/// prints them, objects as JSON, null as nothing.
fn push_text(out: &mut String, v: &Value) {
    match v {
        Value::Null => {}
        Value::String(s) => out.push_str(s),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&js_number(n)),
        other => out.push_str(&other.to_string()),
    }
}

/// Formats a float as JavaScript's `String(n)` does for the common cases (whole numbers
/// without a fraction, `NaN`, `Infinity`).
pub fn js_number_f64(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    if f.fract() == 0.0 && f.abs() < 1e21 {
        return format!("{f:.0}");
    }
    f.to_string()
}

/// Formats a number as JavaScript's `String(n)` does for the common cases.
pub fn js_number(n: &serde_json::Number) -> String {
    if n.is_f64() {
        let f = n.as_f64().unwrap_or(0.0);
        if f.fract() == 0.0 && f.abs() < 1e21 {
            return format!("{f:.0}");
        }
        return f.to_string();
    }
    n.to_string()
}

/// Tests `text` against a JavaScript regular expression, written `/pattern/flags` or as a
/// bare pattern (n8n's regex condition operators). Runs in the sandbox, under its limits.
pub fn regex_test(pattern: &str, text: &str) -> Result<bool, ExpressionError> {
    let mut json = JsonObject::new();
    json.insert("p".into(), Value::String(pattern.to_string()));
    json.insert("s".into(), Value::String(text.to_string()));
    let data = Arc::new(ExprData {
        input: Arc::new(vec![node_api::Item::new(json)]),
        ..ExprData::default()
    });
    let code = "(() => { const m = /^\\/(.*)\\/([a-z]*)$/s.exec($json.p); \
                return (m ? new RegExp(m[1], m[2]) : new RegExp($json.p)).test($json.s); })()";
    let scope = Scope {
        data: &data,
        item_index: 0,
    };
    match js::evaluate(code, &scope)? {
        Value::Bool(b) => Ok(b),
        other => Err(ExpressionError::new(
            ExpressionErrorKind::Runtime,
            format!("regular expression test returned {other}"),
        )),
    }
}

/// Renames the keys of `object` that match a JavaScript regular expression, as n8n's Rename
/// Keys node does (`key.replace(regex, replacement)`, `$1` captures, the first match only),
/// down to `depth` levels (-1 for all, 0 for the top level). Runs in the sandbox, under its
/// limits, so the regular expressions and replacements are JavaScript's own.
pub fn regex_rename_keys(
    object: &JsonObject,
    search: &str,
    replacement: &str,
    case_insensitive: bool,
    depth: i64,
) -> Result<JsonObject, ExpressionError> {
    let mut json = JsonObject::new();
    json.insert("o".into(), Value::Object(object.clone()));
    json.insert("s".into(), Value::String(search.to_string()));
    json.insert("r".into(), Value::String(replacement.to_string()));
    json.insert("i".into(), Value::Bool(case_insensitive));
    json.insert("d".into(), Value::from(depth));
    let data = Arc::new(ExprData {
        input: Arc::new(vec![node_api::Item::new(json)]),
        ..ExprData::default()
    });
    // The walk of n8n's `renameObjectKeys`: arrays are walked into, not renamed; an object's
    // children are renamed before its own keys.
    let code = "(() => { const regex = new RegExp($json.s, $json.i ? 'i' : undefined);                 const walk = (obj, depth) => { for (const key in obj) {                   if (Array.isArray(obj)) { if (depth !== 0) walk(obj[key], depth - 1); }                   else if (Object.prototype.hasOwnProperty.call(obj, key)) {                     if (typeof obj[key] === 'object' && depth !== 0) walk(obj[key], depth - 1);                     if (key.match(regex)) { const renamed = key.replace(regex, $json.r);                       if (renamed !== key) { obj[renamed] = obj[key]; delete obj[key]; } } } }                   return obj; };                 return walk($json.o, $json.d); })()";
    let scope = Scope {
        data: &data,
        item_index: 0,
    };
    match js::evaluate(code, &scope)? {
        Value::Object(o) => Ok(o),
        other => Err(ExpressionError::new(
            ExpressionErrorKind::Runtime,
            format!("renaming keys returned {other}"),
        )),
    }
}

/// Whether a parameter value is an expression.
pub fn is_expression(value: &Value) -> bool {
    matches!(value, Value::String(s) if s.starts_with('='))
}

#[cfg(test)]
mod tests {
    use super::*;
    use node_api::Item;
    use serde_json::json;

    fn data(items: Vec<Value>) -> Arc<ExprData> {
        Arc::new(ExprData {
            node_name: "Test".into(),
            input: Arc::new(
                items
                    .into_iter()
                    .map(|v| Item::from_value(v).unwrap())
                    .collect(),
            ),
            ..ExprData::default()
        })
    }

    fn eval(expr: &str, item: Value) -> Result<Value, ExpressionError> {
        let d = data(vec![item]);
        Template::parse(expr)?.evaluate(&Scope {
            data: &d,
            item_index: 0,
        })
    }

    #[test]
    fn fast_paths_are_recognised_and_others_are_not() {
        assert!(!Template::parse("={{ $json.a.b }}").unwrap().needs_js());
        assert!(!Template::parse("={{ $json[\"x y\"][0] }}")
            .unwrap()
            .needs_js());
        assert!(Template::parse("={{ $json.a + 1 }}").unwrap().needs_js());
    }

    #[test]
    fn single_segment_keeps_type_and_mixed_text_is_a_string() {
        let item = json!({"a": {"b": 7}, "name": "ada", "x": 0.5});
        assert_eq!(eval("={{ $json.a.b }}", item.clone()).unwrap(), json!(7));
        assert_eq!(
            eval("={{ $json.a.b + 1 }}", item.clone()).unwrap(),
            json!(8)
        );
        assert_eq!(eval("={{ $json.x * 2 }}", item.clone()).unwrap(), json!(1));
        assert_eq!(
            eval("=Hi {{ $json.name }}, {{ $json.a.b * 10 }}!", item.clone()).unwrap(),
            json!("Hi ada, 70!")
        );
        assert_eq!(eval("=plain", item.clone()).unwrap(), json!("plain"));
        assert_eq!(
            eval("={{ { k: {n: 1} } }}", item.clone()).unwrap(),
            json!({"k": {"n": 1}})
        );
        assert_eq!(eval("={{ $json.name.length }}", item).unwrap(), json!(3));
    }

    #[test]
    fn missing_inner_property_is_javascripts_type_error() {
        let err = eval("={{ $json.missing.deep }}", json!({})).unwrap_err();
        assert_eq!(err.kind, ExpressionErrorKind::Runtime);
        assert!(err.message.contains("TypeError"), "{}", err.message);
        assert_eq!(
            eval("={{ $json.missing }}", json!({})).unwrap(),
            Value::Null
        );
    }

    #[test]
    fn unclosed_and_bad_syntax_are_syntax_errors() {
        assert_eq!(
            Template::parse("={{ $json.a ").unwrap_err().kind,
            ExpressionErrorKind::Syntax
        );
        let err = eval("={{ $json.a + }}", json!({"a": 1})).unwrap_err();
        assert_eq!(err.kind, ExpressionErrorKind::Syntax, "{}", err.message);
    }

    #[test]
    fn regex_accepts_slash_form_with_flags_and_bare_patterns() {
        assert!(regex_test("/^AD/i", "ada").unwrap());
        assert!(!regex_test("^AD", "ada").unwrap());
        assert!(regex_test("d{1}a$", "ada").unwrap());
        let err = regex_test("(", "x").unwrap_err();
        assert!(err.message.starts_with("SyntaxError"), "{}", err.message);
    }

    #[test]
    fn an_infinite_loop_is_stopped_by_the_time_limit() {
        let started = std::time::Instant::now();
        let err = eval("={{ (() => { while (true) {} })() }}", json!({})).unwrap_err();
        assert_eq!(err.kind, ExpressionErrorKind::Timeout, "{}", err.message);
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
        // The engine is still usable afterwards.
        assert_eq!(eval("={{ 1 + 1 }}", json!({})).unwrap(), json!(2));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_slow_expression_on_a_runtime_worker_finishes_with_its_value() {
        // Runs past the inline budget, so it is interrupted and run again off the worker;
        // the second evaluation of the same source goes off the worker straight away.
        let src = "={{ (() => { const end = Date.now() + 30; let n = 0; \
                   while (Date.now() < end) n++; return n > 0 ? $json.tag : 'no'; })() }}";
        for _ in 0..2 {
            let value = tokio::spawn(async move { eval(src, json!({"tag": "done"})) })
                .await
                .unwrap();
            assert_eq!(value.unwrap(), json!("done"));
        }
        let err = tokio::spawn(async { eval("={{ (() => { while (true) {} })() }}", json!({})) })
            .await
            .unwrap()
            .unwrap_err();
        assert_eq!(err.kind, ExpressionErrorKind::Timeout, "{}", err.message);
    }

    #[test]
    fn a_memory_hog_is_stopped_by_the_memory_limit() {
        let err = eval(
            "={{ (() => { const a = []; while (true) a.push('x'.repeat(1 << 20)); })() }}",
            json!({}),
        )
        .unwrap_err();
        assert!(
            matches!(
                err.kind,
                ExpressionErrorKind::Memory | ExpressionErrorKind::Timeout
            ),
            "{:?}: {}",
            err.kind,
            err.message
        );
        assert_eq!(eval("={{ 2 * 3 }}", json!({})).unwrap(), json!(6));
    }

    #[test]
    fn sandbox_has_no_host_access_and_globals_cannot_leak() {
        for code in [
            "={{ typeof require }}",
            "={{ typeof process }}",
            "={{ typeof std }}",
            "={{ typeof os }}",
        ] {
            assert_eq!(eval(code, json!({})).unwrap(), json!("undefined"), "{code}");
        }
        let _ = eval("={{ globalThis.leak = 1 }}", json!({}));
        assert_eq!(
            eval("={{ typeof leak }}", json!({})).unwrap(),
            json!("undefined")
        );
        let _ = eval("={{ Array.prototype.evil = 1 }}", json!({}));
        assert_eq!(eval("={{ [].evil }}", json!({})).unwrap(), Value::Null);
    }
}
