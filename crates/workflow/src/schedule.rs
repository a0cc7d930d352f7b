//! Schedules: the item n8n's Schedule Trigger emits when it fires, and the schedules behind
//! it and behind polling triggers' `pollTimes`: [`ScheduleRule`] turns n8n's parameters into
//! cron expressions (via `croner`, with seconds) and [`next_fire`] computes the next fire time
//! in a time zone, across daylight-saving changes. The engine's trigger runtime fires on
//! them; the executor builds a manual run's item with [`fired_item`].

use chrono::{DateTime, Datelike, LocalResult, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use croner::Cron;
use node_api::{Item, JsonObject, NodeError};
use serde_json::{json, Value};

/// The item n8n's schedule trigger emits when it fires at `at`, every field in zone `tz`
/// (n8n formats them with moment: `MMMM Do YYYY, h:mm:ss a` and so on).
pub fn fired_item(at: DateTime<Utc>, tz: Tz) -> Item {
    let local = at.with_timezone(&tz);
    let day = local.day();
    let v = json!({
        "timestamp": local.to_rfc3339_opts(chrono::SecondsFormat::Millis, false),
        "Readable date": format!(
            "{} {day}{} {}, {}",
            local.format("%B"),
            ordinal_suffix(day),
            local.format("%Y"),
            local.format("%-I:%M:%S %P")
        ),
        "Readable time": local.format("%-I:%M:%S %P").to_string(),
        "Day of week": local.format("%A").to_string(),
        "Year": local.format("%Y").to_string(),
        "Month": local.format("%B").to_string(),
        "Day of month": local.format("%d").to_string(),
        "Hour": local.format("%H").to_string(),
        "Minute": local.format("%M").to_string(),
        "Second": local.format("%S").to_string(),
        "Timezone": format!("{} (UTC{})", tz.name(), local.format("%:z")),
    });
    match v {
        Value::Object(o) => Item::new(o),
        _ => Item::new(JsonObject::new()),
    }
}

/// moment's `Do`: 1st, 2nd, 3rd, 4th ... 11th, 12th, 13th ... 21st.
fn ordinal_suffix(day: u32) -> &'static str {
    match (day % 10, day % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    }
}

/// The zone a workflow's schedules run in: its `settings.timezone`, or `default` (the
/// server's zone) when that is absent, empty or n8n's `DEFAULT`. A manual run of a workflow
/// starting with a Schedule Trigger builds its item in this zone too, as the active trigger
/// does.
pub fn workflow_timezone(settings: Option<&Value>, default: Tz) -> Result<Tz, String> {
    match settings {
        None | Some(Value::Null) => Ok(default),
        Some(Value::String(s)) if s.is_empty() || s == "DEFAULT" => Ok(default),
        Some(Value::String(s)) => parse_timezone(s),
        Some(other) => Err(format!(
            "expected a time zone name such as \"Europe/Berlin\", got {other}"
        )),
    }
}

/// A time zone by IANA name (`Europe/Berlin`), the error saying what was expected.
pub fn parse_timezone(name: &str) -> Result<Tz, String> {
    name.trim().parse::<Tz>().map_err(|_| {
        format!("unknown time zone \"{name}\": expected an IANA name such as \"Europe/Berlin\"")
    })
}

/// One schedule rule (a `rule.interval` entry or a `pollTimes.item` entry) as a cron
/// expression with seconds.
#[derive(Clone, Debug)]
pub struct ScheduleRule {
    expression: String,
    cron: Cron,
    recurrence: Option<Recurrence>,
}

/// n8n's `recurrenceCheck` for intervals cron cannot express (every 3 days, every 2 weeks):
/// the cron fires more often, and a fire counts only when `size` hours, days, weeks or months
/// have passed since the rule last fired.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Recurrence {
    unit: Unit,
    size: i64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Unit {
    Hours,
    Days,
    Weeks,
    Months,
}

impl Recurrence {
    fn of(unit: Unit, size: u32) -> Option<Self> {
        (size > 1).then_some(Self {
            unit,
            size: i64::from(size),
        })
    }

    /// The calendar value n8n remembers for a fire at `local`: hour, day of year, week
    /// (moment's default locale: weeks start on Sunday, week 1 holds January 1st) or month
    /// (0-11).
    fn value_at(&self, local: &DateTime<Tz>) -> i64 {
        match self.unit {
            Unit::Hours => i64::from(local.hour()),
            Unit::Days => i64::from(local.ordinal()),
            Unit::Weeks => i64::from(sunday_week(local.date_naive())),
            Unit::Months => i64::from(local.month0()),
        }
    }

    /// Whether a fire with calendar value `value` counts, given the value of the last one.
    fn allows(&self, value: i64, last: Option<i64>) -> bool {
        let Some(last) = last else { return true };
        let passed = |modulo: i64| (value - last).rem_euclid(modulo) >= self.size;
        match self.unit {
            Unit::Hours => passed(24),
            Unit::Days => passed(365),
            // Several weekdays of the same week all fire.
            Unit::Weeks => passed(52) || value == last,
            Unit::Months => passed(12),
        }
    }
}

/// The week of the year as moment's `week()` counts it in its default locale: weeks run
/// Sunday to Saturday and week 1 is the one holding January 1st (so the last days of December
/// can be week 1 of the next year).
fn sunday_week(date: chrono::NaiveDate) -> u32 {
    let week_start =
        date - chrono::Duration::days(i64::from(date.weekday().num_days_from_sunday()));
    let saturday = week_start + chrono::Duration::days(6);
    if saturday.year() > date.year() {
        return 1;
    }
    let jan1 = chrono::NaiveDate::from_ymd_opt(date.year(), 1, 1).unwrap_or(date);
    let first_start =
        jan1 - chrono::Duration::days(i64::from(jan1.weekday().num_days_from_sunday()));
    ((date - first_start).num_days() / 7 + 1) as u32
}

impl ScheduleRule {
    /// Reads every rule of a schedule trigger's parameters (`rule.interval[]`, n8n's default
    /// being one daily rule); errors name the parameter and what was expected.
    pub fn from_parameters(params: &JsonObject) -> Result<Vec<Self>, NodeError> {
        let rules = match params.get("rule").and_then(|r| r.get("interval")) {
            None | Some(Value::Null) => vec![json!({"field": "days"})],
            Some(Value::Array(list)) => list.clone(),
            Some(_) => {
                return Err(NodeError::parameter(
                    "Parameter \"rule.interval\": expected a list of rules",
                ))
            }
        };
        if rules.is_empty() {
            return Err(NodeError::parameter(
                "Parameter \"rule.interval\": at least one rule is required",
            ));
        }
        rules
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let at = format!("rule.interval[{i}]");
                let (expr, recurrence) =
                    interval_cron(r).map_err(|(field, m)| parameter_error(&at, field, &m))?;
                let mut rule =
                    Self::parse(&expr).map_err(|m| parameter_error(&at, cron_field(r), &m))?;
                rule.recurrence = recurrence;
                Ok(rule)
            })
            .collect()
    }

    /// Reads a polling trigger's `pollTimes.item[]` (n8n's default: every minute).
    pub fn from_poll_times(params: &JsonObject) -> Result<Vec<Self>, NodeError> {
        let items = match params.get("pollTimes").and_then(|p| p.get("item")) {
            None | Some(Value::Null) => vec![json!({"mode": "everyMinute"})],
            Some(Value::Array(list)) => list.clone(),
            Some(_) => {
                return Err(NodeError::parameter(
                    "Parameter \"pollTimes.item\": expected a list of poll times",
                ))
            }
        };
        if items.is_empty() {
            return Err(NodeError::parameter(
                "Parameter \"pollTimes.item\": at least one poll time is required",
            ));
        }
        items
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let at = format!("pollTimes.item[{i}]");
                let expr = poll_cron(p).map_err(|(field, m)| parameter_error(&at, field, &m))?;
                Self::parse(&expr).map_err(|m| parameter_error(&at, "cronExpression", &m))
            })
            .collect()
    }

    /// A rule from a cron expression with five fields, or six with seconds first.
    pub fn parse(expression: &str) -> Result<Self, String> {
        let expression = expression.trim();
        let cron = Cron::new(expression)
            .with_seconds_optional()
            .parse()
            .map_err(|e| format!("invalid cron expression \"{expression}\": {e}"))?;
        Ok(Self {
            expression: expression.to_string(),
            cron,
            recurrence: None,
        })
    }

    /// The cron expression this rule runs on.
    pub fn expression(&self) -> &str {
        &self.expression
    }

    /// Whether the rule remembers its last fire (an interval cron cannot express).
    pub fn has_recurrence(&self) -> bool {
        self.recurrence.is_some()
    }

    /// The first fire strictly after `after` that counts given `last` (the calendar value of
    /// the rule's last fire, see [`record_fires`]).
    fn next_counting(
        &self,
        after: DateTime<Utc>,
        tz: Tz,
        last: Option<i64>,
    ) -> Option<DateTime<Utc>> {
        let mut from = after;
        // Bounded: the longest wait (every 52 weeks on one weekday) is a year of daily fires.
        for _ in 0..800 {
            let at = self.next_after(from, tz)?;
            match &self.recurrence {
                Some(r) if !r.allows(r.value_at(&at.with_timezone(&tz)), last) => from = at,
                _ => return Some(at),
            }
        }
        None
    }

    /// The first fire strictly after `after`, reading the expression in zone `tz`.
    ///
    /// When clocks go back, the wall-clock hour after the change happens a second time. As
    /// cron daemons do, a rule that fires at set hours does not fire again in it, while one
    /// that runs every hour or more often (its hour field has a `*`) keeps running through it.
    fn next_after(&self, after: DateTime<Utc>, tz: Tz) -> Option<DateTime<Utc>> {
        let next = self.next_wall_clock(after, tz)?;
        let (before, then) = (utc_offset(after, tz), utc_offset(next, tz));
        if then >= before || !self.every_hour() {
            return Some(next);
        }
        // The first instant on the later offset: where the wall clock went back.
        let (mut lo, mut hi) = (after, next);
        while hi - lo > chrono::Duration::seconds(1) {
            let mid = lo + (hi - lo) / 2;
            if utc_offset(mid, tz) == then {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        let repeated_end = hi + chrono::Duration::seconds(i64::from(before - then));
        let fixed = chrono::FixedOffset::east_opt(then)?;
        let start = (hi - chrono::Duration::seconds(1)).with_timezone(&fixed);
        match self.cron.find_next_occurrence(&start, false) {
            Ok(found) => {
                let found = found.with_timezone(&Utc);
                Some(if found > after && found < repeated_end && found < next {
                    found
                } else {
                    next
                })
            }
            Err(_) => Some(next),
        }
    }

    /// Whether the rule's hour field has a `*` (every hour, or a step over every hour).
    fn every_hour(&self) -> bool {
        let fields: Vec<&str> = self.expression.split_whitespace().collect();
        let hour = match fields.len() {
            6 | 7 => fields.get(2),
            _ => fields.get(1),
        };
        hour.is_some_and(|h| h.contains('*'))
    }

    /// The next fire by wall-clock time in `tz`.
    fn next_wall_clock(&self, after: DateTime<Utc>, tz: Tz) -> Option<DateTime<Utc>> {
        let mut from = after.with_timezone(&tz);
        // A handful of steps is enough: each one either answers or moves past one ambiguous
        // wall-clock time.
        for _ in 0..4 {
            let found = self.cron.find_next_occurrence(&from, false).ok()?;
            let utc = found.with_timezone(&Utc);
            if utc > after {
                return Some(utc);
            }
            // When clocks go back, a wall-clock time happens twice and croner picks the first
            // instant, which can lie before `after`; the second one is the next fire.
            match tz.from_local_datetime(&found.naive_local()) {
                LocalResult::Ambiguous(_, later) if later.with_timezone(&Utc) > after => {
                    return Some(later.with_timezone(&Utc))
                }
                LocalResult::Ambiguous(_, later) => from = later,
                _ => from = found,
            }
        }
        None
    }
}

/// Seconds `tz` is ahead of UTC at `at`.
fn utc_offset(at: DateTime<Utc>, tz: Tz) -> i32 {
    use chrono::Offset;
    tz.offset_from_utc_datetime(&at.naive_utc())
        .fix()
        .local_minus_utc()
}

fn parameter_error(at: &str, field: &str, message: &str) -> NodeError {
    NodeError::parameter(format!("Parameter \"{at}.{field}\": {message}"))
}

fn cron_field(rule: &Value) -> &'static str {
    match rule.get("field").and_then(Value::as_str) {
        Some("cronExpression") => "expression",
        _ => "field",
    }
}

/// A whole number parameter within `range`, or `default` when absent.
fn num(
    r: &Value,
    key: &'static str,
    default: u32,
    range: std::ops::RangeInclusive<u32>,
) -> Result<u32, (&'static str, String)> {
    let n = match r.get(key) {
        None | Some(Value::Null) => return Ok(default),
        Some(v) => v
            .as_u64()
            .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
            .ok_or_else(|| (key, "expected a whole number".to_string()))?,
    };
    match u32::try_from(n) {
        Ok(n) if range.contains(&n) => Ok(n),
        _ => Err((
            key,
            format!(
                "expected a number from {} to {}, got {n}",
                range.start(),
                range.end()
            ),
        )),
    }
}

/// n8n's `toCronExpression` for a schedule rule. Unset seconds are 0 (n8n spreads them by a
/// hash of the node, which only matters with many instances firing together).
fn interval_cron(r: &Value) -> Result<(String, Option<Recurrence>), (&'static str, String)> {
    let field = match r.get("field") {
        None | Some(Value::Null) => "days",
        Some(Value::String(s)) => s.as_str(),
        Some(_) => return Err(("field", "expected a string".into())),
    };
    let minute = || num(r, "triggerAtMinute", 0, 0..=59);
    let hour = || num(r, "triggerAtHour", 0, 0..=23);
    let mut recurrence = None;
    let expression = match field {
        "cronExpression" => match r.get("expression").and_then(Value::as_str) {
            Some(e) if !e.trim().is_empty() => e.trim().to_string(),
            _ => return Err(("expression", "a cron expression is required".into())),
        },
        "seconds" => format!("*/{} * * * * *", num(r, "secondsInterval", 30, 1..=59)?),
        "minutes" => format!("0 */{} * * * *", num(r, "minutesInterval", 5, 1..=59)?),
        "hours" => {
            let every = num(r, "hoursInterval", 1, 1..=23)?;
            if 24 % every == 0 {
                format!("0 {} */{every} * * *", minute()?)
            } else {
                // `*/18` would fire at 00:xx and 18:xx; fire hourly and count the hours.
                recurrence = Recurrence::of(Unit::Hours, every);
                format!("0 {} * * * *", minute()?)
            }
        }
        "days" => {
            recurrence = Recurrence::of(Unit::Days, num(r, "daysInterval", 1, 1..=31)?);
            format!("0 {} {} * * *", minute()?, hour()?)
        }
        "weeks" => {
            let days = match r.get("triggerAtDay") {
                None | Some(Value::Null) => "0".to_string(),
                Some(Value::Array(list)) if list.is_empty() => "*".to_string(),
                Some(Value::Array(list)) => list
                    .iter()
                    .map(|d| match d.as_u64().or_else(|| d.as_str()?.parse().ok()) {
                        Some(n) if n <= 7 => Ok(n.to_string()),
                        _ => Err((
                            "triggerAtDay",
                            format!("expected weekday numbers 0 (Sunday) to 6, got {d}"),
                        )),
                    })
                    .collect::<Result<Vec<_>, _>>()?
                    .join(","),
                Some(_) => {
                    return Err(("triggerAtDay", "expected a list of weekday numbers".into()))
                }
            };
            recurrence = Recurrence::of(Unit::Weeks, num(r, "weeksInterval", 1, 1..=52)?);
            format!("0 {} {} * * {days}", minute()?, hour()?)
        }
        "months" => {
            let every = num(r, "monthsInterval", 1, 1..=12)?;
            recurrence = Recurrence::of(Unit::Months, every);
            format!(
                "0 {} {} {} */{every} *",
                minute()?,
                hour()?,
                num(r, "triggerAtDayOfMonth", 1, 1..=31)?
            )
        }
        other => {
            return Err((
                "field",
                format!(
                    "unknown interval \"{other}\": expected seconds, minutes, hours, days, weeks, months or cronExpression"
                ),
            ))
        }
    };
    Ok((expression, recurrence))
}

/// n8n's `toCronExpression` for a `pollTimes` entry.
fn poll_cron(p: &Value) -> Result<String, (&'static str, String)> {
    let mode = p
        .get("mode")
        .and_then(Value::as_str)
        .unwrap_or("everyMinute");
    let minute = || num(p, "minute", 0, 0..=59);
    let hour = || num(p, "hour", 0, 0..=23);
    Ok(match mode {
        "everyMinute" => "0 * * * * *".to_string(),
        "everyHour" => format!("0 {} * * * *", minute()?),
        "everyDay" => format!("0 {} {} * * *", minute()?, hour()?),
        "everyWeek" => format!(
            "0 {} {} * * {}",
            minute()?,
            hour()?,
            num(p, "weekday", 1, 0..=7)?
        ),
        "everyMonth" => format!(
            "0 {} {} {} * *",
            minute()?,
            hour()?,
            num(p, "dayOfMonth", 1, 1..=31)?
        ),
        "everyX" => {
            let value = num(p, "value", 2, 1..=59)?;
            match p.get("unit").and_then(Value::as_str).unwrap_or("hours") {
                "minutes" => format!("0 */{value} * * * *"),
                "hours" if value <= 23 => format!("0 0 */{value} * * *"),
                "hours" => return Err(("value", format!("expected 1 to 23 hours, got {value}"))),
                other => {
                    return Err((
                        "unit",
                        format!("unknown unit \"{other}\": expected minutes or hours"),
                    ))
                }
            }
        }
        "custom" => match p.get("cronExpression").and_then(Value::as_str) {
            Some(e) if !e.trim().is_empty() => e.trim().to_string(),
            _ => return Err(("cronExpression", "a cron expression is required".into())),
        },
        other => {
            return Err((
                "mode",
                format!(
                    "unknown mode \"{other}\": expected everyMinute, everyHour, everyDay, everyWeek, everyMonth, everyX or custom"
                ),
            ))
        }
    })
}

/// The first time strictly after `after` that any of `rules` fires, the rules read in zone
/// `tz`. A wall-clock time skipped by a daylight-saving change fires at the first instant
/// after the gap; one that happens twice fires once.
pub fn next_fire(rules: &[ScheduleRule], after: DateTime<Utc>, tz: Tz) -> Option<DateTime<Utc>> {
    next_counting_fire(rules, after, tz, &[]).map(|(at, _)| at)
}

/// Like [`next_fire`], for rules that remember their last fire (`last[i]` for rule `i`, as
/// [`record_fires`] keeps it): the first time a rule fires and its interval has passed, and
/// the indexes of the rules firing then.
pub fn next_counting_fire(
    rules: &[ScheduleRule],
    after: DateTime<Utc>,
    tz: Tz,
    last: &[Option<i64>],
) -> Option<(DateTime<Utc>, Vec<usize>)> {
    let times: Vec<Option<DateTime<Utc>>> = rules
        .iter()
        .enumerate()
        .map(|(i, r)| r.next_counting(after, tz, last.get(i).copied().flatten()))
        .collect();
    let at = times.iter().flatten().min().copied()?;
    let firing = (0..rules.len()).filter(|i| times[*i] == Some(at)).collect();
    Some((at, firing))
}

/// Remembers that rules `firing` fired at `at` (n8n's `recurrenceRules`).
pub fn record_fires(
    rules: &[ScheduleRule],
    firing: &[usize],
    at: DateTime<Utc>,
    tz: Tz,
    last: &mut Vec<Option<i64>>,
) {
    if last.len() < rules.len() {
        last.resize(rules.len(), None);
    }
    for &i in firing {
        if let Some(r) = rules.get(i).and_then(|r| r.recurrence) {
            last[i] = Some(r.value_at(&at.with_timezone(&tz)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap()
    }

    fn rules(params: Value) -> Vec<ScheduleRule> {
        ScheduleRule::from_parameters(params.as_object().unwrap()).unwrap()
    }

    #[test]
    fn intervals_and_cron_fire_when_expected_in_utc() {
        let r = rules(json!({"rule": {"interval": [
            {"field": "minutes", "minutesInterval": 15},
            {"field": "cronExpression", "expression": "30 9 * * 1"}
        ]}}));
        let at = utc(2026, 1, 5, 9, 7, 0);
        assert_eq!(next_fire(&r, at, Tz::UTC), Some(utc(2026, 1, 5, 9, 15, 0)));
        let every_second =
            rules(json!({"rule": {"interval": [{"field": "seconds", "secondsInterval": 1}]}}));
        assert_eq!(
            next_fire(&every_second, at, Tz::UTC),
            Some(utc(2026, 1, 5, 9, 7, 1))
        );
        let weekly = rules(json!({"rule": {"interval": [
            {"field": "weeks", "triggerAtDay": [3], "triggerAtHour": 8, "triggerAtMinute": 45}
        ]}}));
        // 2026-01-05 is a Monday: the next Wednesday 08:45.
        assert_eq!(
            next_fire(&weekly, at, Tz::UTC),
            Some(utc(2026, 1, 7, 8, 45, 0))
        );
    }

    #[test]
    fn a_cron_in_a_named_zone_follows_its_daylight_saving_changes() {
        let ny: Tz = parse_timezone("America/New_York").unwrap();
        let daily = rules(json!({"rule": {"interval": [
            {"field": "cronExpression", "expression": "0 30 9 * * *"}
        ]}}));
        // Saturday 2026-03-07, 10:00 EST: the next 09:30 is Sunday, the first day of EDT.
        let sat = utc(2026, 3, 7, 15, 0, 0);
        assert_eq!(next_fire(&daily, sat, ny), Some(utc(2026, 3, 8, 13, 30, 0)));
        // The day before, still EST (UTC-5).
        let fri = utc(2026, 3, 6, 12, 0, 0);
        assert_eq!(next_fire(&daily, fri, ny), Some(utc(2026, 3, 6, 14, 30, 0)));

        let berlin: Tz = parse_timezone("Europe/Berlin").unwrap();
        // 02:30 does not exist on 2026-03-29 in Berlin (02:00 CET -> 03:00 CEST): it fires at
        // 03:00 CEST, then at 02:30 CEST the next day.
        let at_0230 = rules(json!({"rule": {"interval": [
            {"field": "days", "triggerAtHour": 2, "triggerAtMinute": 30}
        ]}}));
        let first = next_fire(&at_0230, utc(2026, 3, 28, 12, 0, 0), berlin).unwrap();
        assert_eq!(first, utc(2026, 3, 29, 1, 0, 0));
        assert_eq!(
            next_fire(&at_0230, first, berlin),
            Some(utc(2026, 3, 30, 0, 30, 0))
        );

        // 2026-10-25 02:00-03:00 happens twice in Berlin. During the second pass (CET) the
        // next quarter hour is the CET one, not the CEST one an hour in the past.
        let quarterly =
            rules(json!({"rule": {"interval": [{"field": "minutes", "minutesInterval": 15}]}}));
        let second_pass = utc(2026, 10, 25, 1, 20, 0); // 02:20 CET
        assert_eq!(
            next_fire(&quarterly, second_pass, berlin),
            Some(utc(2026, 10, 25, 1, 30, 0))
        );
        // From the first pass on, it keeps firing every quarter hour through both passes.
        let mut at = utc(2026, 10, 25, 0, 20, 0); // 02:20 CEST
        let mut fires = Vec::new();
        for _ in 0..7 {
            at = next_fire(&quarterly, at, berlin).unwrap();
            fires.push(at.format("%H:%M").to_string());
        }
        assert_eq!(
            fires,
            ["00:30", "00:45", "01:00", "01:15", "01:30", "01:45", "02:00"],
            "UTC times of 02:30 and 02:45 CEST, 02:00 to 02:45 CET, 03:00 CET"
        );
        // A rule at a set hour fires once: 02:30 CEST, then the next day.
        let at_0230 = rules(json!({"rule": {"interval": [
            {"field": "days", "triggerAtHour": 2, "triggerAtMinute": 30}
        ]}}));
        let once = next_fire(&at_0230, utc(2026, 10, 25, 0, 0, 0), berlin).unwrap();
        assert_eq!(once, utc(2026, 10, 25, 0, 30, 0));
        assert_eq!(
            next_fire(&at_0230, once, berlin),
            Some(utc(2026, 10, 26, 1, 30, 0))
        );
        let item = fired_item(utc(2026, 10, 25, 1, 30, 0), berlin);
        assert_eq!(item.json["timestamp"], "2026-10-25T02:30:00.000+01:00");
        assert_eq!(item.json["Timezone"], "Europe/Berlin (UTC+01:00)");
    }

    #[test]
    fn the_fired_item_has_n8ns_fields_in_the_zone() {
        let tokyo = parse_timezone("Asia/Tokyo").unwrap();
        let item = fired_item(utc(2026, 1, 1, 15, 4, 5), tokyo);
        assert_eq!(
            item.json.into_value(),
            json!({
                "timestamp": "2026-01-02T00:04:05.000+09:00",
                "Readable date": "January 2nd 2026, 12:04:05 am",
                "Readable time": "12:04:05 am",
                "Day of week": "Friday",
                "Year": "2026",
                "Month": "January",
                "Day of month": "02",
                "Hour": "00",
                "Minute": "04",
                "Second": "05",
                "Timezone": "Asia/Tokyo (UTC+09:00)"
            })
        );
        let utc_item = fired_item(utc(2026, 3, 23, 13, 0, 0), Tz::UTC);
        assert_eq!(
            utc_item.json["Readable date"],
            "March 23rd 2026, 1:00:00 pm"
        );
        assert_eq!(utc_item.json["timestamp"], "2026-03-23T13:00:00.000+00:00");
    }

    #[test]
    fn bad_rules_name_the_parameter() {
        let err = |v: Value| {
            ScheduleRule::from_parameters(v.as_object().unwrap())
                .unwrap_err()
                .message
        };
        let m =
            err(json!({"rule": {"interval": [{"field": "cronExpression", "expression": "nope"}]}}));
        assert!(
            m.starts_with(
                "Parameter \"rule.interval[0].expression\": invalid cron expression \"nope\""
            ),
            "{m}"
        );
        let m = err(
            json!({"rule": {"interval": [{"field": "days"}, {"field": "hours", "triggerAtMinute": 75}]}}),
        );
        assert_eq!(
            m,
            "Parameter \"rule.interval[1].triggerAtMinute\": expected a number from 0 to 59, got 75"
        );
        let m = err(json!({"rule": {"interval": [{"field": "fortnights"}]}}));
        assert!(
            m.starts_with("Parameter \"rule.interval[0].field\": unknown interval \"fortnights\""),
            "{m}"
        );
        let poll = |v: Value| ScheduleRule::from_poll_times(v.as_object().unwrap());
        let m = poll(
            json!({"pollTimes": {"item": [{"mode": "custom", "cronExpression": "61 * * * *"}]}}),
        )
        .unwrap_err()
        .message;
        assert!(
            m.starts_with("Parameter \"pollTimes.item[0].cronExpression\": invalid cron"),
            "{m}"
        );
        assert!(parse_timezone("Mars/Olympus")
            .unwrap_err()
            .contains("\"Mars/Olympus\""));
    }

    #[test]
    fn intervals_cron_cannot_express_count_from_the_last_fire() {
        let berlin = parse_timezone("Europe/Berlin").unwrap();
        let walk = |params: Value, from: DateTime<Utc>, n: usize| {
            let rules = rules(params);
            let mut last = Vec::new();
            let mut at = from;
            let mut fires = Vec::new();
            for _ in 0..n {
                let (next, firing) = next_counting_fire(&rules, at, berlin, &last).unwrap();
                record_fires(&rules, &firing, next, berlin, &mut last);
                fires.push(next);
                at = next;
            }
            fires
        };
        // Every 3 days at 06:00 Berlin (05:00 UTC in winter), across a month end.
        let fires = walk(
            json!({"rule": {"interval": [{"field": "days", "daysInterval": 3, "triggerAtHour": 6}]}}),
            utc(2026, 1, 29, 12, 0, 0),
            3,
        );
        assert_eq!(
            fires,
            vec![
                utc(2026, 1, 30, 5, 0, 0),
                utc(2026, 2, 2, 5, 0, 0),
                utc(2026, 2, 5, 5, 0, 0)
            ]
        );
        // Every 2 weeks on Monday and Wednesday at 09:30: both days of a week, then a week off.
        let fires = walk(
            json!({"rule": {"interval": [{"field": "weeks", "weeksInterval": 2,
                "triggerAtDay": [1, 3], "triggerAtHour": 9, "triggerAtMinute": 30}]}}),
            utc(2026, 1, 4, 12, 0, 0),
            4,
        );
        assert_eq!(
            fires,
            vec![
                utc(2026, 1, 5, 8, 30, 0),
                utc(2026, 1, 7, 8, 30, 0),
                utc(2026, 1, 19, 8, 30, 0),
                utc(2026, 1, 21, 8, 30, 0)
            ]
        );
        // Every 18 hours: not at fixed clock hours but 18 hours apart.
        let fires = walk(
            json!({"rule": {"interval": [{"field": "hours", "hoursInterval": 18}]}}),
            utc(2026, 1, 5, 22, 30, 0),
            3,
        );
        assert_eq!(
            fires,
            vec![
                utc(2026, 1, 5, 23, 0, 0),
                utc(2026, 1, 6, 17, 0, 0),
                utc(2026, 1, 7, 11, 0, 0)
            ]
        );
        assert_eq!(
            sunday_week(chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap()),
            1
        );
        assert_eq!(
            sunday_week(chrono::NaiveDate::from_ymd_opt(2026, 1, 4).unwrap()),
            2
        );
        assert_eq!(
            sunday_week(chrono::NaiveDate::from_ymd_opt(2026, 12, 31).unwrap()),
            1
        );
        assert_eq!(
            sunday_week(chrono::NaiveDate::from_ymd_opt(2026, 12, 26).unwrap()),
            52
        );
    }

    #[test]
    fn poll_times_become_cron_rules() {
        let exprs = |v: Value| {
            ScheduleRule::from_poll_times(v.as_object().unwrap())
                .unwrap()
                .iter()
                .map(|r| r.expression().to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(exprs(json!({})), vec!["0 * * * * *"]);
        assert_eq!(
            exprs(json!({"pollTimes": {"item": [
                {"mode": "everyHour", "minute": 5},
                {"mode": "everyX", "value": 10, "unit": "minutes"},
                {"mode": "everyWeek", "hour": 7, "minute": 30, "weekday": "2"},
                {"mode": "custom", "cronExpression": "*/2 * * * * *"}
            ]}})),
            vec![
                "0 5 * * * *",
                "0 */10 * * * *",
                "0 30 7 * * 2",
                "*/2 * * * * *"
            ]
        );
    }
}
