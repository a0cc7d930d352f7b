//! `n8n-nodes-base.dateTime` v2 ("Date & Time"): the current date, adding and subtracting,
//! formatting, rounding, the time between two dates, and a part of a date.
//!
//! Dates are read as n8n reads them (`parseDate`: epoch seconds or milliseconds, ISO and the
//! formats Moment and JavaScript's `Date` accept, or a `fromFormat`) and written as Luxon's
//! `toString()`, in the workflow's time zone, with [`workflow::datetime`].

use async_trait::async_trait;
use node_api::{ExecuteContext, Item, JsonObject, Node, NodeDescription, NodeError, Parameters};
use serde_json::Value;

use super::values;
use super::{choice, describe, shown_when, unknown_options};
use workflow::datetime::{self, Unit, Zone, ZonedTime};
use workflow::NodeContext;

/// The Date & Time node.
pub struct DateTimeNode(NodeDescription);

const OPERATIONS: &[&str] = &[
    "addToDate",
    "extractDate",
    "formatDate",
    "getCurrentDate",
    "getTimeBetweenDates",
    "roundDate",
    "subtractFromDate",
];

const TIME_UNITS: &[&str] = &[
    "years",
    "quarters",
    "months",
    "weeks",
    "days",
    "hours",
    "minutes",
    "seconds",
    "milliseconds",
];

const PARTS: &[&str] = &["year", "month", "week", "day", "hour", "minute", "second"];

impl DateTimeNode {
    /// The node.
    pub fn new() -> Self {
        let mut d = describe("dateTime", "Date & Time", &[2.0]);
        d.parameters
            .push(choice("operation", "getCurrentDate", OPERATIONS));
        d.parameters.push(shown_when(
            choice("timeUnit", "days", TIME_UNITS),
            "operation",
            &["addToDate", "subtractFromDate"],
        ));
        d.parameters.push(shown_when(
            choice(
                "format",
                "MM/dd/yyyy",
                &[
                    "custom",
                    "MM/dd/yyyy",
                    "yyyy/MM/dd",
                    "MMMM dd yyyy",
                    "MM-dd-yyyy",
                    "yyyy-MM-dd",
                    "X",
                    "x",
                ],
            ),
            "operation",
            &["formatDate"],
        ));
        d.parameters.push(shown_when(
            choice("mode", "roundDown", &["roundDown", "roundUp"]),
            "operation",
            &["roundDate"],
        ));
        d.parameters.push(shown_when(
            shown_when(choice("toNearest", "month", PARTS), "mode", &["roundDown"]),
            "operation",
            &["roundDate"],
        ));
        d.parameters.push(shown_when(
            shown_when(choice("to", "month", &["month"]), "mode", &["roundUp"]),
            "operation",
            &["roundDate"],
        ));
        d.parameters.push(shown_when(
            choice("part", "month", PARTS),
            "operation",
            &["extractDate"],
        ));
        let mut magnitude = node_api::ParameterSpec::required("magnitude");
        magnitude = shown_when(magnitude, "operation", &["addToDate", "subtractFromDate"]);
        d.parameters.push(magnitude);
        Self(d)
    }
}

#[async_trait]
impl Node for DateTimeNode {
    fn description(&self) -> &NodeDescription {
        &self.0
    }

    fn parameter_problems(&self, parameters: &JsonObject) -> Vec<String> {
        let mut problems = self.0.parameter_problems(parameters);
        let operation = parameters
            .get("operation")
            .and_then(Value::as_str)
            .unwrap_or("getCurrentDate");
        let options: &[&str] = match operation {
            "getCurrentDate" => &["includeInputFields", "timezone"],
            "formatDate" => &["includeInputFields", "fromFormat", "timezone"],
            "getTimeBetweenDates" => &["includeInputFields", "isoString"],
            _ => &["includeInputFields"],
        };
        problems.extend(unknown_options(parameters, "options", options));
        if operation == "getTimeBetweenDates" {
            let units = match parameters.get("units") {
                Some(Value::Array(list)) => list.clone(),
                Some(one) => vec![one.clone()],
                None => Vec::new(),
            };
            for u in units {
                let known = u.as_str().is_some_and(|u| {
                    u.starts_with('=')
                        || [
                            "year",
                            "month",
                            "week",
                            "day",
                            "hour",
                            "minute",
                            "second",
                            "millisecond",
                        ]
                        .contains(&u)
                });
                if !known {
                    problems.push(format!(
                        "Parameter \"units\" has an unknown value {u} (accepted: year, month, week, day, hour, minute, second, millisecond)"
                    ));
                }
            }
        }
        problems
    }

    async fn execute(
        &self,
        ctx: &dyn ExecuteContext,
        input: Vec<Item>,
    ) -> Result<Vec<Vec<Item>>, NodeError> {
        let engine = NodeContext::of(ctx, "Date & Time")?;
        let workflow_zone_name = if engine.data().timezone.is_empty() {
            "UTC".to_string()
        } else {
            engine.data().timezone.clone()
        };
        let p0 = ctx.parameters(0)?;
        let include_input = p0.bool_or("options.includeInputFields", false)?;
        let operation = p0.string_or("operation", "getCurrentDate")?.to_string();
        let mut out = Vec::with_capacity(input.len());
        for (i, item) in input.iter().enumerate() {
            let result = ctx.parameters(i).and_then(|p| {
                let (name, value) = compute(&p, &operation, &workflow_zone_name)?;
                let mut json = if include_input {
                    JsonObject::clone(&item.json)
                } else {
                    JsonObject::new()
                };
                json.insert(name, value);
                let mut new = Item::new(json).paired_with(i);
                if include_input {
                    new.binary = item.binary.clone();
                }
                Ok(new)
            });
            match result {
                Ok(new) => out.push(new),
                Err(e) if ctx.continue_on_fail() => {
                    let mut json = JsonObject::new();
                    json.insert("error".into(), Value::String(e.message));
                    out.push(Item::new(json));
                }
                Err(e) => return Err(e.at_item(i)),
            }
        }
        Ok(vec![out])
    }
}

/// The output field and its value for one item.
fn compute(
    p: &Parameters,
    operation: &str,
    workflow_zone: &str,
) -> Result<(String, Value), NodeError> {
    let name = |default: &str| -> Result<String, NodeError> {
        Ok(p.string_or("outputFieldName", default)?.to_string())
    };
    let zone_named = |z: &str| {
        Zone::parse(z).ok_or_else(|| {
            NodeError::operation(format!(
                "The timezone {z} is not valid. Please check the timezone."
            ))
        })
    };
    let workflow = zone_named(workflow_zone)?;
    let text = |t: ZonedTime| Value::String(t.to_iso());
    Ok(match operation {
        "getCurrentDate" => {
            let zone = match p.opt_string("options.timezone")? {
                Some(z) if !z.is_empty() => zone_named(z)?,
                _ => workflow,
            };
            let now = ZonedTime::new(chrono::Utc::now().timestamp_millis(), zone);
            let now = if p.bool_or("includeTime", true)? {
                now
            } else {
                now.start_of(Unit::Day)
            };
            (name("currentDate")?, text(now))
        }
        "addToDate" | "subtractFromDate" => {
            let date = parse_date(p.get("magnitude"), Some(workflow), None)?;
            let unit = unit(p.string_or("timeUnit", "days")?)?;
            let amount = p.number_or("duration", 0.0)?;
            let amount = if operation == "addToDate" {
                amount
            } else {
                -amount
            };
            (name("newDate")?, text(date.plus(&[(unit, amount)])))
        }
        "formatDate" => {
            let field = name("formattedDate")?;
            let raw = p.get("date");
            if raw.is_none() {
                return Ok((field, Value::Null));
            }
            let zone = if p.bool_or("options.timezone", false)? {
                Some(workflow)
            } else {
                None
            };
            let from_format = p
                .opt_string("options.fromFormat")?
                .filter(|f| !f.is_empty());
            let date = parse_date(raw, zone, from_format)?;
            let format = match p.string_or("format", "MM/dd/yyyy")? {
                "custom" => p.string_or("customFormat", "")?,
                other => other,
            };
            (field, Value::String(date.format(format)))
        }
        "roundDate" => {
            let date = parse_date(p.get("date"), Some(workflow), None)?;
            let rounded = if p.string_or("mode", "roundDown")? == "roundUp" {
                let to = unit(p.string_or("to", "month")?)?;
                date.plus(&[(to, 1.0)]).start_of(to)
            } else {
                date.start_of(unit(p.string_or("toNearest", "month")?)?)
            };
            (name("roundedDate")?, text(rounded))
        }
        "getTimeBetweenDates" => {
            let start = parse_date(p.get("startDate"), Some(workflow), None)?;
            let end = parse_date(p.get("endDate"), Some(workflow), None)?;
            let units: Vec<Unit> = match p.get("units") {
                None => vec![Unit::Day],
                Some(Value::Array(list)) => list
                    .iter()
                    .map(|u| unit(u.as_str().unwrap_or_default()))
                    .collect::<Result<_, _>>()?,
                Some(Value::String(u)) => vec![unit(u)?],
                Some(other) => {
                    return Err(NodeError::parameter(format!(
                        "Parameter \"units\" must be a list of units, got {other}"
                    )))
                }
            };
            let diff = end.diff(&start, &units);
            let value = if p.bool_or("options.isoString", false)? {
                Value::String(datetime::duration_iso(&diff))
            } else {
                Value::Object(
                    diff.into_iter()
                        .map(|(u, v)| (u.plural().to_string(), values::number(v)))
                        .collect(),
                )
            };
            (name("timeDifference")?, value)
        }
        "extractDate" => {
            let date = parse_date(p.get("date"), Some(workflow), None)?;
            let part = p.string_or("part", "month")?;
            let value = date.get(part).ok_or_else(|| {
                NodeError::parameter(format!(
                    "Parameter \"part\" has an unknown value \"{part}\""
                ))
            })?;
            (name("datePart")?, Value::from(value))
        }
        other => {
            return Err(NodeError::parameter(format!(
                "Parameter \"operation\" has an unknown value \"{other}\" (accepted: {})",
                OPERATIONS.join(", ")
            )))
        }
    })
}

fn unit(name: &str) -> Result<Unit, NodeError> {
    Unit::parse(name)
        .ok_or_else(|| NodeError::parameter(format!("\"{name}\" is not a unit of time")))
}

/// n8n's `parseDate`: numbers (and numeric text) are epoch seconds when shorter than 12
/// digits, else milliseconds; text is read as Moment reads it (or with `from_format`); the
/// result is shown in `zone`, or, without one, at the offset the text gives (whole hours, as
/// n8n's `Etc/GMT` trick has it) or in `Etc/UTC`.
fn parse_date(
    value: Option<&Value>,
    zone: Option<Zone>,
    from_format: Option<&str>,
) -> Result<ZonedTime, NodeError> {
    let invalid = || NodeError::operation("Invalid date format");
    let etc_utc = || Zone::parse("Etc/UTC").unwrap_or(Zone::UTC);
    let as_number = values::to_number(value);
    let numeric = !as_number.is_nan() && from_format.is_none() && value.is_some();
    if numeric {
        let mut n = as_number;
        if n.fract() != 0.0 {
            n *= 1000.0;
        }
        if n.fract() != 0.0 || !n.is_finite() {
            return Err(invalid());
        }
        let digits = values::to_text(Some(&values::number(n))).len();
        let ms = if digits < 12 { n * 1000.0 } else { n };
        return Ok(ZonedTime::new(ms as i64, zone.unwrap_or_else(etc_utc)));
    }
    let text = match value {
        Some(Value::String(s)) => s.clone(),
        Some(other) => values::to_text(Some(other)),
        None => return Err(invalid()),
    };
    let zone = match zone {
        Some(z) => z,
        None => match text.split_once('+') {
            Some((_, after)) => {
                let hours: String = after.chars().take(2).collect();
                let hours: i32 = hours.parse().map_err(|_| invalid())?;
                Zone::parse(&format!("Etc/GMT-{hours}")).ok_or_else(invalid)?
            }
            None => etc_utc(),
        },
    };
    let parsed = match from_format {
        Some(f) => datetime::parse_format(&text, f, Zone::UTC).map_err(|_| invalid())?,
        None => datetime::parse_loose(&text, Zone::UTC).ok_or_else(invalid)?,
    };
    Ok(parsed.set_zone(zone))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parsed(v: Value, zone: Option<&str>) -> String {
        parse_date(Some(&v), zone.and_then(Zone::parse), None)
            .map(|t| t.to_iso())
            .unwrap_or_else(|e| e.message)
    }

    #[test]
    fn dates_are_read_as_n8n_reads_them() {
        assert_eq!(
            parsed(json!(1_700_000_000), None),
            "2023-11-14T22:13:20.000+00:00"
        );
        assert_eq!(
            parsed(json!("1700000000000"), None),
            "2023-11-14T22:13:20.000+00:00"
        );
        assert_eq!(
            parsed(json!(1_700_000_000.5), None),
            "2023-11-14T22:13:20.500+00:00"
        );
        assert_eq!(
            parsed(json!("2024-01-15T10:00:00+05:30"), None),
            "2024-01-15T09:30:00.000+05:00"
        );
        assert_eq!(
            parsed(json!("2024-01-15 10:00"), Some("Europe/Berlin")),
            "2024-01-15T11:00:00.000+01:00"
        );
        assert_eq!(parsed(json!("nope"), None), "Invalid date format");
    }
}
