//! `n8n-nodes-base.scheduleTrigger` v1.x: the node's output item, and [`next_fire`], which
//! computes when its rules fire next (cron via `croner`).

use async_trait::async_trait;
use chrono::{DateTime, Datelike, Timelike, Utc};
use croner::Cron;
use node_api::{ExecuteContext, Item, JsonObject, Node, NodeDescription, NodeError};
use serde_json::{json, Value};

use super::describe;

/// The Schedule Trigger node.
pub struct ScheduleTrigger(NodeDescription);

impl ScheduleTrigger {
    /// The node.
    pub fn new() -> Self {
        let mut d = describe("scheduleTrigger", "Schedule Trigger", &[1.0, 1.1, 1.2]);
        d.inputs = 0;
        d.trigger = true;
        Self(d)
    }
}

#[async_trait]
impl Node for ScheduleTrigger {
    fn description(&self) -> &NodeDescription {
        &self.0
    }

    async fn execute(
        &self,
        _ctx: &dyn ExecuteContext,
        input: Vec<Item>,
    ) -> Result<Vec<Vec<Item>>, NodeError> {
        if !input.is_empty() {
            return Ok(vec![input]);
        }
        Ok(vec![vec![fired_item(Utc::now())]])
    }
}

/// The item n8n's schedule trigger emits when it fires at `at`.
pub fn fired_item(at: DateTime<Utc>) -> Item {
    let v = json!({
        "timestamp": at.to_rfc3339_opts(chrono::SecondsFormat::Millis, false),
        "Readable date": at.format("%B %-d, %Y, %-I:%M:%S %p").to_string(),
        "Readable time": at.format("%-I:%M:%S %p").to_string(),
        "Day of week": at.format("%A").to_string(),
        "Year": at.year().to_string(),
        "Month": at.format("%B").to_string(),
        "Day of month": format!("{:02}", at.day()),
        "Hour": format!("{:02}", at.hour()),
        "Minute": format!("{:02}", at.minute()),
        "Second": format!("{:02}", at.second()),
        "Timezone": "UTC (UTC+00:00)",
    });
    match v {
        Value::Object(o) => Item::new(o),
        _ => Item::new(JsonObject::new()),
    }
}

/// One rule of `rule.interval`, as a cron expression with seconds.
#[derive(Clone, Debug)]
pub struct ScheduleRule {
    cron: Cron,
}

impl ScheduleRule {
    /// Reads every rule of a schedule trigger's parameters; errors name the rule and field.
    pub fn from_parameters(params: &JsonObject) -> Result<Vec<Self>, NodeError> {
        let rules = params
            .get("rule")
            .and_then(|r| r.get("interval"))
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_else(|| vec![json!({"field": "days"})]);
        rules
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let expr = cron_for(r).map_err(|m| {
                    NodeError::parameter(format!("Parameter \"rule.interval[{i}]\": {m}"))
                })?;
                let cron = Cron::new(&expr)
                    .with_seconds_optional()
                    .parse()
                    .map_err(|e| {
                        NodeError::parameter(format!(
                        "Parameter \"rule.interval[{i}]\": invalid cron expression \"{expr}\": {e}"
                    ))
                    })?;
                Ok(Self { cron })
            })
            .collect()
    }
}

fn num(r: &Value, key: &str, default: u32) -> Result<u32, String> {
    match r.get(key) {
        None | Some(Value::Null) => Ok(default),
        Some(v) => v
            .as_u64()
            .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
            .map(|n| n as u32)
            .ok_or_else(|| format!("\"{key}\" must be a whole number")),
    }
}

fn cron_for(r: &Value) -> Result<String, String> {
    let field = r.get("field").and_then(Value::as_str).unwrap_or("days");
    let at_minute = num(r, "triggerAtMinute", 0)?;
    let at_hour = num(r, "triggerAtHour", 0)?;
    Ok(match field {
        "cronExpression" => r
            .get("expression")
            .and_then(Value::as_str)
            .ok_or("\"expression\" is required for a cron rule")?
            .to_string(),
        "seconds" => format!("*/{} * * * * *", num(r, "secondsInterval", 30)?.max(1)),
        "minutes" => format!("0 */{} * * * *", num(r, "minutesInterval", 5)?.max(1)),
        "hours" => format!(
            "0 {at_minute} */{} * * *",
            num(r, "hoursInterval", 1)?.max(1)
        ),
        "days" => format!(
            "0 {at_minute} {at_hour} */{} * *",
            num(r, "daysInterval", 1)?.max(1)
        ),
        "weeks" => {
            let days = r
                .get("triggerAtDay")
                .and_then(Value::as_array)
                .map(|d| {
                    d.iter()
                        .filter_map(Value::as_u64)
                        .map(|n| n.to_string())
                        .collect::<Vec<_>>()
                        .join(",")
                })
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| "0".into());
            format!("0 {at_minute} {at_hour} * * {days}")
        }
        "months" => format!(
            "0 {at_minute} {at_hour} {} */{} *",
            num(r, "triggerAtDayOfMonth", 1)?.max(1),
            num(r, "monthsInterval", 1)?.max(1)
        ),
        other => return Err(format!("unknown interval field \"{other}\"")),
    })
}

/// The first time after `after` that any of `rules` fires.
pub fn next_fire(rules: &[ScheduleRule], after: DateTime<Utc>) -> Option<DateTime<Utc>> {
    rules
        .iter()
        .filter_map(|r| r.cron.find_next_occurrence(&after, false).ok())
        .min()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn intervals_and_cron_fire_when_expected() {
        let params = json!({"rule": {"interval": [
            {"field": "minutes", "minutesInterval": 15},
            {"field": "cronExpression", "expression": "30 9 * * 1"}
        ]}});
        let rules = ScheduleRule::from_parameters(params.as_object().unwrap()).unwrap();
        let at = Utc.with_ymd_and_hms(2026, 1, 5, 9, 7, 0).unwrap();
        assert_eq!(
            next_fire(&rules, at),
            Some(Utc.with_ymd_and_hms(2026, 1, 5, 9, 15, 0).unwrap())
        );
        let bad =
            json!({"rule": {"interval": [{"field": "cronExpression", "expression": "nope"}]}});
        let err = ScheduleRule::from_parameters(bad.as_object().unwrap()).unwrap_err();
        assert!(
            err.message
                .starts_with("Parameter \"rule.interval[0]\": invalid cron"),
            "{}",
            err.message
        );
    }
}
