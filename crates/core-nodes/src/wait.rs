//! `n8n-nodes-base.wait` (v1, v1.1): pauses the execution for a time interval or until a
//! date, then passes its input on.
//!
//! As in n8n, a wait shorter than 65 s (a setting) sleeps in the running execution; a
//! longer one stops it: the executor stores it as `waiting` with its `waitTill`, and the
//! engine resumes it on time, after a restart too. `resume: webhook` stops the execution
//! until a call to `$execution.resumeUrl` (`/webhook-waiting/{executionId}`) with the
//! node's `httpMethod`, whose item the node passes on, or until its time limit. Resuming on
//! a form, webhook authentication and webhook options are refused at save.

use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};
use node_api::{ExecuteContext, Item, JsonObject, Node, NodeDescription, NodeError};

use super::{choice, describe, shown_when};

/// n8n's "wait for ever" (`WAIT_INDEFINITELY`): a webhook wait without a time limit.
fn indefinitely() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(3000, 1, 1, 0, 0, 0)
        .single()
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// Until when a webhook wait lasts: its limit, or for ever.
fn webhook_limit(ctx: &dyn ExecuteContext, now: DateTime<Utc>) -> Result<DateTime<Utc>, NodeError> {
    let p = ctx.parameters(0)?;
    if !p.bool_or("limitWaitTime", false)? {
        return Ok(indefinitely());
    }
    if p.string_or("limitType", "afterTimeInterval")? == "atSpecifiedTime" {
        let text = p.string("maxDateAndTime")?;
        return parse_date(text, ctx).ok_or_else(|| {
            NodeError::parameter(format!(
                "Parameter \"maxDateAndTime\" value \"{text}\" is not a date"
            ))
        });
    }
    let amount = p.number_or("resumeAmount", 1.0)?;
    let unit = match p.string_or("resumeUnit", "hours")? {
        "seconds" => 1.0,
        "minutes" => 60.0,
        "days" => 86_400.0,
        _ => 3600.0,
    };
    Ok(now + chrono::Duration::milliseconds((amount.max(0.0) * unit * 1000.0).min(1e15) as i64))
}
use workflow::NodeContext;

/// The Wait node.
pub struct Wait(NodeDescription);

impl Wait {
    /// The node.
    pub fn new() -> Self {
        let mut d = describe("wait", "Wait", &[1.0, 1.1]);
        d.parameters.push(choice(
            "resume",
            "timeInterval",
            &["timeInterval", "specificTime", "webhook"],
        ));
        for spec in [
            choice(
                "httpMethod",
                "GET",
                &["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"],
            ),
            choice("responseMode", "onReceived", &["onReceived"]),
            choice("incomingAuthentication", "none", &["none"]),
            choice(
                "limitType",
                "afterTimeInterval",
                &["afterTimeInterval", "atSpecifiedTime"],
            ),
            choice(
                "resumeUnit",
                "hours",
                &["seconds", "minutes", "hours", "days"],
            ),
        ] {
            d.parameters.push(shown_when(spec, "resume", &["webhook"]));
        }
        d.parameters.push(shown_when(
            choice("unit", "hours", &["seconds", "minutes", "hours", "days"]),
            "resume",
            &["timeInterval"],
        ));
        let mut date = shown_when(
            node_api::ParameterSpec::required("dateTime"),
            "resume",
            &["specificTime"],
        );
        date.required = true;
        d.parameters.push(date);
        Self(d)
    }
}

/// When the wait ends, from the parameters of the first item (n8n reads them once).
fn wait_till(ctx: &dyn ExecuteContext, now: DateTime<Utc>) -> Result<DateTime<Utc>, NodeError> {
    let p = ctx.parameters(0)?;
    match p.string_or("resume", "timeInterval")? {
        "timeInterval" => {
            let amount = p.number_or("amount", 1.0)?;
            if !(amount.is_finite() && amount >= 0.0) {
                return Err(NodeError::parameter(
                    "Parameter \"amount\" must be a number of at least 0",
                ));
            }
            let unit_secs = match p.string_or("unit", "hours")? {
                "seconds" => 1.0,
                "minutes" => 60.0,
                "hours" => 3600.0,
                "days" => 86_400.0,
                other => {
                    return Err(NodeError::parameter(format!(
                        "Parameter \"unit\" value \"{other}\" is not supported (expected seconds, minutes, hours or days)"
                    )))
                }
            };
            let ms = (amount * unit_secs * 1000.0).min(1e15) as i64;
            Ok(now + chrono::Duration::milliseconds(ms))
        }
        "specificTime" => {
            let text = p.string("dateTime")?;
            parse_date(text, ctx).ok_or_else(|| {
                NodeError::parameter(format!(
                    "Parameter \"dateTime\" value \"{text}\" is not a date (expected e.g. 2026-12-24T18:00:00)"
                ))
            })
        }
        other => Err(NodeError::parameter(format!(
            "Parameter \"resume\" value \"{other}\" is not supported (expected timeInterval or specificTime)"
        ))),
    }
}

/// An ISO date; without an offset it is a time in the workflow's time zone, as n8n reads it.
fn parse_date(text: &str, ctx: &dyn ExecuteContext) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if let Ok(d) = DateTime::parse_from_rfc3339(text) {
        return Some(d.with_timezone(&Utc));
    }
    let naive = chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f")
        .or_else(|_| chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f"))
        .or_else(|_| chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M"))
        .ok()
        .or_else(|| {
            chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
        })?;
    let zone: chrono_tz::Tz = NodeContext::of(ctx, "Wait")
        .ok()
        .and_then(|c| c.data().timezone.parse().ok())
        .unwrap_or(chrono_tz::Tz::UTC);
    zone.from_local_datetime(&naive)
        .earliest()
        .map(|d| d.with_timezone(&Utc))
}

#[async_trait]
impl Node for Wait {
    fn description(&self) -> &NodeDescription {
        &self.0
    }

    fn parameter_problems(&self, parameters: &JsonObject) -> Vec<String> {
        let mut problems = self.0.parameter_problems(parameters);
        if parameters.get("resume").and_then(|v| v.as_str()) == Some("webhook") {
            problems.extend(super::unknown_options(parameters, "options", &[]));
        }
        problems
    }

    async fn execute(
        &self,
        ctx: &dyn ExecuteContext,
        input: Vec<Item>,
    ) -> Result<Vec<Vec<Item>>, NodeError> {
        let engine = NodeContext::of(ctx, "Wait")?;
        if engine.resuming() {
            return Ok(vec![input]);
        }
        let now = Utc::now();
        if ctx.parameters(0)?.string_or("resume", "timeInterval")? == "webhook" {
            // Always stored: the call may come much later, to another process.
            let till = webhook_limit(ctx, now)?;
            if !engine.put_to_wait(till) {
                return Err(NodeError::operation(
                    "the Wait node can stop only a running execution",
                ));
            }
            return Ok(vec![input]);
        }
        let till = wait_till(ctx, now)?;
        let left = (till - now).to_std().unwrap_or_default();
        if left < engine.wait_in_process() {
            // Short waits happen here; the executor's cancel and time limit still apply.
            tokio::time::sleep(left).await;
            return Ok(vec![input]);
        }
        if !engine.put_to_wait(till) {
            return Err(NodeError::operation(
                "the Wait node can stop only a running execution",
            ));
        }
        Ok(vec![input])
    }
}
