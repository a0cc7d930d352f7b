//! SOQL built from parameters: getAll's `SELECT <fields> FROM <object> [WHERE ...] [LIMIT n]`.
//!
//! Everything a user supplies is either checked or escaped, never pasted: object and field
//! names must be identifiers (`Account`, `Foo__c`, `Account.Name`), operators come from a
//! fixed list, and values become literals: quoted and escaped strings, numbers, booleans,
//! `null`, date and datetime literals, or Salesforce's date keywords (`TODAY`,
//! `LAST_N_DAYS:7`). A string holding a control character SOQL has no escape for is
//! refused rather than sent.
//!
//! typeVersion 1 turns a numeric-looking string (`"42"`, `"-1.5"`) into a bare number, as
//! n8n 1.0 does; from 1.1 it stays a quoted string, as n8n 1.1 does (an external id of
//! digits must compare as text).

use chrono::{NaiveDate, NaiveDateTime};
use node_api::NodeError;
use serde_json::Value;

/// The typeVersion from which numeric-looking strings stay quoted.
const QUOTE_NUMERIC_STRINGS_FROM: f64 = 1.1;

/// Salesforce's date keywords, unquoted in SOQL.
const DATE_KEYWORDS: &[&str] = &[
    "YESTERDAY",
    "TODAY",
    "TOMORROW",
    "LAST_WEEK",
    "THIS_WEEK",
    "NEXT_WEEK",
    "LAST_MONTH",
    "THIS_MONTH",
    "NEXT_MONTH",
    "LAST_90_DAYS",
    "NEXT_90_DAYS",
    "THIS_QUARTER",
    "LAST_QUARTER",
    "NEXT_QUARTER",
    "THIS_YEAR",
    "LAST_YEAR",
    "NEXT_YEAR",
    "THIS_FISCAL_QUARTER",
    "LAST_FISCAL_QUARTER",
    "NEXT_FISCAL_QUARTER",
    "THIS_FISCAL_YEAR",
    "LAST_FISCAL_YEAR",
    "NEXT_FISCAL_YEAR",
];

/// Units of the `LAST_N_DAYS:n` family.
const DATE_UNITS: &[&str] = &[
    "DAYS",
    "WEEKS",
    "MONTHS",
    "QUARTERS",
    "YEARS",
    "FISCAL_QUARTERS",
    "FISCAL_YEARS",
];

/// Salesforce's longest API names are 80 characters; relationship paths chain a few.
const MAX_NAME: usize = 255;

/// One `field operator value` condition.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Condition {
    /// A checked field name.
    pub field: String,
    /// A SOQL operator from [`operator`].
    pub operator: &'static str,
    /// A literal from [`literal`].
    pub literal: String,
}

fn invalid(parameter: &str, what: &str, got: &str) -> NodeError {
    NodeError::parameter(format!(
        "Parameter \"{parameter}\" must be {what}, got {got:?}"
    ))
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Checks an object name (`Account`, `Invoice__c`, `ns__Thing__c`).
pub(crate) fn object_name<'a>(parameter: &str, name: &'a str) -> Result<&'a str, NodeError> {
    if name.len() <= MAX_NAME && is_identifier(name) {
        Ok(name)
    } else {
        Err(invalid(
            parameter,
            "a Salesforce object name (letters, digits and underscores, starting with a letter)",
            name,
        ))
    }
}

/// Checks a field name, relationship paths included (`Name`, `Foo__c`, `Account.Name`).
pub(crate) fn field_name<'a>(parameter: &str, name: &'a str) -> Result<&'a str, NodeError> {
    if name.len() <= MAX_NAME && name.split('.').all(is_identifier) {
        Ok(name)
    } else {
        Err(invalid(
            parameter,
            "a Salesforce field name (letters, digits and underscores, starting with a letter; dots between relationships)",
            name,
        ))
    }
}

/// Checks the name of one field of the object itself (`Email`, `Rating__c`): a custom field
/// id or an external id field.
pub(crate) fn simple_field_name<'a>(parameter: &str, name: &'a str) -> Result<&'a str, NodeError> {
    if name.len() <= MAX_NAME && is_identifier(name) {
        Ok(name)
    } else {
        Err(invalid(
            parameter,
            "a Salesforce field name (letters, digits and underscores, starting with a letter)",
            name,
        ))
    }
}

/// The SOQL operator for one of n8n's (`equal`, `<` ...) or, from an expression, any
/// comparison SOQL has; case and inner spaces do not matter (`not  like`).
pub(crate) fn operator(parameter: &str, op: &str) -> Result<&'static str, NodeError> {
    let normal = op.split_whitespace().collect::<Vec<_>>().join(" ");
    Ok(match normal.to_ascii_uppercase().as_str() {
        "EQUAL" | "=" => "=",
        "!=" => "!=",
        "<>" => "<>",
        "<" => "<",
        "<=" => "<=",
        ">" => ">",
        ">=" => ">=",
        "LIKE" => "LIKE",
        "NOT LIKE" => "NOT LIKE",
        "IN" => "IN",
        "NOT IN" => "NOT IN",
        "INCLUDES" => "INCLUDES",
        "EXCLUDES" => "EXCLUDES",
        _ => {
            return Err(invalid(
                parameter,
                "a comparison (equal, <, <=, >, >=, !=, LIKE, NOT LIKE, IN, NOT IN, INCLUDES, EXCLUDES)",
                op,
            ))
        }
    })
}

/// `s` inside single quotes, with SOQL's escapes; `None` when it holds a control character
/// SOQL cannot express.
pub(crate) fn quote(s: &str) -> Option<String> {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{c}' => out.push_str("\\f"),
            '\u{8}' => out.push_str("\\b"),
            c if c.is_control() => return None,
            c => out.push(c),
        }
    }
    out.push('\'');
    Some(out)
}

/// A number as JavaScript prints it (n8n builds its SOQL in JavaScript): `1`, `1.5`, `1e+21`.
fn js_number(f: f64) -> String {
    if f == 0.0 {
        return "0".into();
    }
    let magnitude = f.abs();
    if (1e-6..1e21).contains(&magnitude) {
        return format!("{f}");
    }
    let e = format!("{f:e}");
    match e.split_once('e') {
        Some((mantissa, exp)) if !exp.starts_with('-') => format!("{mantissa}e+{exp}"),
        _ => e,
    }
}

fn number(n: &serde_json::Number) -> Option<String> {
    if let Some(i) = n.as_i64() {
        return Some(i.to_string());
    }
    if let Some(u) = n.as_u64() {
        return Some(u.to_string());
    }
    n.as_f64().filter(|f| f.is_finite()).map(js_number)
}

fn is_date_keyword(upper: &str) -> bool {
    if DATE_KEYWORDS.contains(&upper) {
        return true;
    }
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    // LAST_N_DAYS:7, NEXT_N_FISCAL_YEARS:2
    let n_unit = upper
        .strip_prefix("LAST_N_")
        .or_else(|| upper.strip_prefix("NEXT_N_"))
        .and_then(|rest| rest.split_once(':'))
        .is_some_and(|(unit, n)| DATE_UNITS.contains(&unit) && digits(n));
    // N_DAYS_AGO:3
    let ago = upper
        .strip_prefix("N_")
        .and_then(|rest| rest.split_once("_AGO:"))
        .is_some_and(|(unit, n)| DATE_UNITS.contains(&unit) && digits(n));
    n_unit || ago
}

/// `2025-03-30`, a real date.
fn is_date(s: &str) -> bool {
    s.len() == 10 && NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok()
}

/// `2025-03-30T17:57:34`, optional `.000`, optional `Z` or `+01:00`: a real date and time.
fn is_datetime(s: &str) -> bool {
    let (local, zone) = if let Some(local) = s.strip_suffix('Z') {
        (local, "")
    } else if s.len() > 6 && matches!(s.as_bytes()[s.len() - 6], b'+' | b'-') {
        s.split_at(s.len() - 6)
    } else {
        (s, "")
    };
    let zone_ok = zone.is_empty() || {
        let z = zone.as_bytes();
        z[3] == b':' && [1, 2, 4, 5].iter().all(|&i| z[i].is_ascii_digit())
    };
    let shape_ok = matches!(local.len(), 19 | 23)
        && local.as_bytes()[10] == b'T'
        && (local.len() == 19 || local.as_bytes()[19] == b'.');
    zone_ok
        && shape_ok
        && local
            .bytes()
            .all(|b| b.is_ascii_digit() || b"-:T.".contains(&b))
        && NaiveDateTime::parse_from_str(local, "%Y-%m-%dT%H:%M:%S%.f").is_ok()
}

/// `-?(0|[1-9][0-9]*)(\.[0-9]+)?`: what n8n 1.0 sends as a bare number.
fn is_plain_number(s: &str) -> bool {
    let body = s.strip_prefix('-').unwrap_or(s);
    let (int, frac) = match body.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (body, None),
    };
    let int_ok = int == "0"
        || (!int.is_empty() && !int.starts_with('0') && int.bytes().all(|b| b.is_ascii_digit()));
    let frac_ok = frac.is_none_or(|f| !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()));
    int_ok && frac_ok
}

/// The SOQL literal for a condition's value, as n8n (typeVersion `version`) writes it.
pub(crate) fn literal(parameter: &str, value: &Value, version: f64) -> Result<String, NodeError> {
    let unsupported = |what: &str| {
        NodeError::parameter(format!(
            "Parameter \"{parameter}\" cannot be {what} in a SOQL condition"
        ))
    };
    let control = || {
        NodeError::parameter(format!(
            "Parameter \"{parameter}\" holds a control character that SOQL cannot express"
        ))
    };
    match value {
        Value::Null => Ok("null".into()),
        Value::Bool(b) => Ok(b.to_string()),
        Value::Number(n) => number(n).ok_or_else(|| unsupported("a number that is not finite")),
        Value::Array(list) => {
            let parts = list
                .iter()
                .map(|v| match v {
                    Value::String(s) => quote(s).ok_or_else(control),
                    Value::Bool(b) => Ok(b.to_string()),
                    Value::Number(n) => {
                        number(n).ok_or_else(|| unsupported("a number that is not finite"))
                    }
                    _ => Err(unsupported(
                        "a list holding something other than strings, numbers or booleans",
                    )),
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok(format!("({})", parts.join(",")))
        }
        Value::Object(_) => Err(unsupported("an object")),
        Value::String(raw) => {
            let s = raw.trim();
            let upper = s.to_ascii_uppercase();
            if is_date_keyword(&upper) {
                return Ok(upper);
            }
            if is_datetime(s) || is_date(s) {
                return Ok(s.to_owned());
            }
            if version < QUOTE_NUMERIC_STRINGS_FROM && is_plain_number(s) {
                if let Some(n) = s.parse::<f64>().ok().filter(|f| f.is_finite()) {
                    return Ok(js_number(n));
                }
            }
            quote(s).ok_or_else(control)
        }
    }
}

/// `SELECT a,b FROM Object [WHERE c1 AND c2] [LIMIT n]`, from checked parts.
pub(crate) fn select(
    object: &str,
    fields: &[String],
    conditions: &[Condition],
    limit: Option<u64>,
) -> String {
    let mut q = format!("SELECT {} FROM {object}", fields.join(","));
    if !conditions.is_empty() {
        let parts: Vec<String> = conditions
            .iter()
            .map(|c| format!("{} {} {}", c.field, c.operator, c.literal))
            .collect();
        q.push_str(" WHERE ");
        q.push_str(&parts.join(" AND "));
    }
    if let Some(n) = limit {
        q.push_str(&format!(" LIMIT {n}"));
    }
    q
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn lit(v: Value, version: f64) -> String {
        literal("options.conditionsUi", &v, version).unwrap()
    }

    #[test]
    fn strings_are_quoted_with_every_escape_soql_knows() {
        assert_eq!(lit(json!("Acme"), 1.0), "'Acme'");
        assert_eq!(lit(json!("O'Brien"), 1.0), r"'O\'Brien'");
        assert_eq!(lit(json!(r"back\slash"), 1.0), r"'back\\slash'");
        assert_eq!(lit(json!("say \"hi\""), 1.0), r#"'say \"hi\"'"#);
        assert_eq!(
            lit(json!("a\nb\rc\td\u{c}e\u{8}f"), 1.0),
            r"'a\nb\rc\td\fe\bf'"
        );
        // An attempt to close the string and add a condition stays inside it.
        assert_eq!(lit(json!("x' OR Name != 'y"), 1.1), r"'x\' OR Name != \'y'");
        assert_eq!(lit(json!("  padded  "), 1.0), "'padded'");
        let e = literal("options.conditionsUi", &json!("bell\u{7}"), 1.0).unwrap_err();
        assert!(e.message.contains("control character"), "{}", e.message);
        assert!(e.message.contains("options.conditionsUi"), "{}", e.message);
    }

    #[test]
    fn numeric_strings_are_bare_in_version_1_and_quoted_from_1_1() {
        for (s, bare) in [("42", "42"), ("-1.50", "-1.5"), ("0", "0"), ("-0", "0")] {
            assert_eq!(lit(json!(s), 1.0), bare, "{s}");
            assert_eq!(lit(json!(s), 1.1), format!("'{s}'"), "{s}");
        }
        // Not plain numbers in n8n's sense: leading zeros, exponents, hex stay strings.
        for s in ["007", "1e5", "0x1F", "1.", ".5", "12a"] {
            assert_eq!(lit(json!(s), 1.0), format!("'{s}'"), "{s}");
        }
        // Real numbers are numbers in every version.
        assert_eq!(lit(json!(42), 1.1), "42");
        assert_eq!(lit(json!(2.5), 1.1), "2.5");
        assert_eq!(lit(json!(1e21), 1.0), "1e+21");
    }

    #[test]
    fn dates_keywords_and_other_types_are_literals() {
        assert_eq!(lit(json!("2025-03-30"), 1.1), "2025-03-30");
        assert_eq!(
            lit(json!("2025-03-30T17:57:34.000+01:00"), 1.1),
            "2025-03-30T17:57:34.000+01:00"
        );
        assert_eq!(
            lit(json!("2025-03-30T17:57:34Z"), 1.1),
            "2025-03-30T17:57:34Z"
        );
        // Not a real date: a string.
        assert_eq!(lit(json!("2025-02-30"), 1.1), "'2025-02-30'");
        assert_eq!(lit(json!("today"), 1.1), "TODAY");
        assert_eq!(lit(json!("last_n_days:7"), 1.1), "LAST_N_DAYS:7");
        assert_eq!(lit(json!("N_WEEKS_AGO:2"), 1.1), "N_WEEKS_AGO:2");
        assert_eq!(lit(json!("LAST_N_DAYS:x"), 1.1), "'LAST_N_DAYS:x'");
        assert_eq!(lit(json!(true), 1.0), "true");
        assert_eq!(lit(Value::Null, 1.0), "null");
        assert_eq!(lit(json!(["a'b", 2, false]), 1.0), r"('a\'b',2,false)");
        assert!(literal("p", &json!({"a": 1}), 1.0).is_err());
        assert!(literal("p", &json!([[1]]), 1.0).is_err());
    }

    #[test]
    fn names_and_operators_are_checked() {
        for ok in [
            "Name",
            "Foo__c",
            "ns__Thing__c",
            "Account.Name",
            "Owner.Profile.Name",
        ] {
            assert_eq!(field_name("options.fields", ok).unwrap(), ok);
        }
        for bad in [
            "Name,Id FROM User--",
            "Name)",
            "1abc",
            "",
            "a..b",
            ".a",
            "Name ",
            "Na'me",
            "COUNT()",
        ] {
            let e = field_name("options.fields", bad).unwrap_err();
            assert!(e.message.contains("options.fields"), "{bad}: {}", e.message);
        }
        assert!(object_name("customObject", "Invoice__c").is_ok());
        assert!(object_name("customObject", "Account WHERE").is_err());
        assert!(object_name("customObject", "Account.Name").is_err());
        assert_eq!(operator("op", "equal").unwrap(), "=");
        assert_eq!(operator("op", " not   like ").unwrap(), "NOT LIKE");
        assert_eq!(operator("op", ">=").unwrap(), ">=");
        assert!(operator("op", "= 1 OR Id !=").is_err());
    }

    #[test]
    fn select_puts_the_parts_together() {
        let fields = ["id".to_string(), "name".to_string()];
        assert_eq!(
            select("Account", &fields, &[], None),
            "SELECT id,name FROM Account"
        );
        let c = Condition {
            field: "Name".into(),
            operator: "=",
            literal: "'Acme'".into(),
        };
        let d = Condition {
            field: "AnnualRevenue".into(),
            operator: ">",
            literal: "10".into(),
        };
        assert_eq!(
            select("Account", &fields, &[c, d], Some(50)),
            "SELECT id,name FROM Account WHERE Name = 'Acme' AND AnnualRevenue > 10 LIMIT 50"
        );
    }
}
