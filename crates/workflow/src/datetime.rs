//! Dates the way n8n's Luxon has them: an instant in a time zone, with calendar arithmetic
//! (`plus`, `startOf`, `diff`), Luxon's format tokens and ISO output.
//!
//! One implementation serves the `DateTime` of expressions and the Code node (the sandbox
//! calls into it: QuickJS has no time zone data) and the Date & Time node, so both format and
//! compute alike. The rules follow Luxon's documented behaviour: adding months clamps the day
//! to the month's end, adding days keeps the wall-clock time across a DST change, `diff` counts
//! calendar units first and leaves the rest to the smaller units.

use chrono::{Datelike, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeZone, Timelike};
use chrono_tz::Tz;

/// A time zone as Luxon names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Zone {
    /// A fixed offset in minutes east of UTC (`UTC`, `UTC+2`, `Etc/GMT-2`).
    Fixed(i32),
    /// An IANA zone (`Europe/Berlin`).
    Iana(Tz),
}

impl Zone {
    /// UTC, Luxon's fixed zone of offset 0 (ISO output ends in `Z`).
    pub const UTC: Zone = Zone::Fixed(0);

    /// Parses a zone name as Luxon's `normalizeZone` does: `UTC`/`GMT`, `UTC+5`, `UTC-3:30`,
    /// `Etc/GMT+5` (POSIX sign: 5 hours west), or an IANA name. `None` when unknown.
    pub fn parse(name: &str) -> Option<Zone> {
        let name = name.trim();
        let lower = name.to_ascii_lowercase();
        if lower == "utc" || lower == "gmt" || lower == "z" {
            return Some(Zone::UTC);
        }
        if let Some(rest) = lower.strip_prefix("utc") {
            return parse_signed_offset(rest).map(Zone::Fixed);
        }
        if let Some(rest) = lower.strip_prefix("etc/gmt") {
            if rest == "0" || rest.is_empty() {
                return Some(Zone::UTC);
            }
            let (sign, digits) = rest.split_at(1);
            let hours: i32 = digits.parse().ok().filter(|h| (0..=14).contains(h))?;
            return match sign {
                "+" => Some(Zone::Fixed(-hours * 60)),
                "-" => Some(Zone::Fixed(hours * 60)),
                _ => None,
            };
        }
        name.parse::<Tz>().ok().map(Zone::Iana)
    }

    /// Offset from UTC in minutes at the instant `ms` (milliseconds since the epoch).
    pub fn offset_at(&self, ms: i64) -> i32 {
        match self {
            Zone::Fixed(m) => *m,
            Zone::Iana(tz) => {
                let utc = naive(ms);
                tz.offset_from_utc_datetime(&utc).fix().local_minus_utc() / 60
            }
        }
    }

    /// Luxon's name for the zone: the IANA name, `UTC`, or `UTC+5:30`.
    pub fn name(&self) -> String {
        match self {
            Zone::Iana(tz) => tz.name().to_string(),
            Zone::Fixed(0) => "UTC".into(),
            Zone::Fixed(m) => {
                let sign = if *m < 0 { '-' } else { '+' };
                let (h, mm) = (m.abs() / 60, m.abs() % 60);
                if mm == 0 {
                    format!("UTC{sign}{h}")
                } else {
                    format!("UTC{sign}{h}:{mm:02}")
                }
            }
        }
    }

    /// The zone's abbreviation at `ms` (`CET`, `EST`), or its offset when it has none.
    fn abbreviation(&self, ms: i64) -> String {
        match self {
            Zone::Iana(tz) => {
                let abbr = tz.offset_from_utc_datetime(&naive(ms)).to_string();
                if abbr.starts_with(['+', '-']) {
                    format!("GMT{}", offset_text(self.offset_at(ms), OffsetStyle::Short))
                } else {
                    abbr
                }
            }
            Zone::Fixed(0) => "UTC".into(),
            Zone::Fixed(m) => format!("GMT{}", offset_text(*m, OffsetStyle::Short)),
        }
    }
}

/// `+5`, `-03:30`, `+0100` after a `UTC` prefix (an empty rest is UTC itself).
fn parse_signed_offset(rest: &str) -> Option<i32> {
    if rest.is_empty() {
        return Some(0);
    }
    let (sign, body) = match rest.as_bytes()[0] {
        b'+' => (1, &rest[1..]),
        b'-' => (-1, &rest[1..]),
        _ => return None,
    };
    let (h, m) = match body.split_once(':') {
        Some((h, m)) => (h.parse::<i32>().ok()?, m.parse::<i32>().ok()?),
        None if body.len() == 4 => (body[..2].parse().ok()?, body[2..].parse().ok()?),
        None => (body.parse().ok()?, 0),
    };
    (h <= 23 && m <= 59).then_some(sign * (h * 60 + m))
}

fn naive(ms: i64) -> NaiveDateTime {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .naive_utc()
}

/// Calendar units, as Luxon normalises their names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Unit {
    /// Years.
    Year,
    /// Quarters.
    Quarter,
    /// Months.
    Month,
    /// ISO weeks (Monday first).
    Week,
    /// Days.
    Day,
    /// Hours.
    Hour,
    /// Minutes.
    Minute,
    /// Seconds.
    Second,
    /// Milliseconds.
    Millisecond,
}

impl Unit {
    /// Every unit, largest first (Luxon's `orderedUnits`).
    pub const ALL: [Unit; 9] = [
        Unit::Year,
        Unit::Quarter,
        Unit::Month,
        Unit::Week,
        Unit::Day,
        Unit::Hour,
        Unit::Minute,
        Unit::Second,
        Unit::Millisecond,
    ];

    /// A unit by Luxon's names, singular or plural (`day`, `days`).
    pub fn parse(name: &str) -> Option<Unit> {
        Some(match name.trim().trim_end_matches('s') {
            "year" => Unit::Year,
            "quarter" => Unit::Quarter,
            "month" => Unit::Month,
            "week" => Unit::Week,
            "day" => Unit::Day,
            "hour" => Unit::Hour,
            "minute" => Unit::Minute,
            "second" => Unit::Second,
            "millisecond" => Unit::Millisecond,
            _ => return None,
        })
    }

    /// The plural name Luxon's `Duration.toObject()` uses.
    pub fn plural(self) -> &'static str {
        match self {
            Unit::Year => "years",
            Unit::Quarter => "quarters",
            Unit::Month => "months",
            Unit::Week => "weeks",
            Unit::Day => "days",
            Unit::Hour => "hours",
            Unit::Minute => "minutes",
            Unit::Second => "seconds",
            Unit::Millisecond => "milliseconds",
        }
    }

    /// Luxon's casual conversion to milliseconds (a day is 24 hours, a month 30 days, a year
    /// 365 days), used for fractions and for units below days.
    pub fn millis(self) -> f64 {
        match self {
            Unit::Year => 365.0 * 86_400_000.0,
            Unit::Quarter => 91.0 * 86_400_000.0,
            Unit::Month => 30.0 * 86_400_000.0,
            Unit::Week => 7.0 * 86_400_000.0,
            Unit::Day => 86_400_000.0,
            Unit::Hour => 3_600_000.0,
            Unit::Minute => 60_000.0,
            Unit::Second => 1_000.0,
            Unit::Millisecond => 1.0,
        }
    }
}

/// The wall-clock parts of an instant in a zone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Parts {
    /// Year.
    pub year: i32,
    /// Month, 1 to 12.
    pub month: u32,
    /// Day of the month.
    pub day: u32,
    /// Hour, 0 to 23.
    pub hour: u32,
    /// Minute.
    pub minute: u32,
    /// Second.
    pub second: u32,
    /// Millisecond.
    pub millisecond: u32,
}

/// An instant and the zone it is shown in (Luxon's `DateTime`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ZonedTime {
    /// Milliseconds since the epoch.
    pub ms: i64,
    /// The zone.
    pub zone: Zone,
}

impl ZonedTime {
    /// The instant `ms` in `zone`.
    pub fn new(ms: i64, zone: Zone) -> Self {
        Self { ms, zone }
    }

    /// The offset from UTC in minutes.
    pub fn offset(&self) -> i32 {
        self.zone.offset_at(self.ms)
    }

    fn local(&self) -> NaiveDateTime {
        naive(self.ms + i64::from(self.offset()) * 60_000)
    }

    /// The wall-clock parts.
    pub fn parts(&self) -> Parts {
        let l = self.local();
        Parts {
            year: l.year(),
            month: l.month(),
            day: l.day(),
            hour: l.hour(),
            minute: l.minute(),
            second: l.second(),
            millisecond: l.nanosecond() / 1_000_000,
        }
    }

    /// ISO weekday, Monday 1 to Sunday 7.
    pub fn weekday(&self) -> u32 {
        self.local().weekday().number_from_monday()
    }

    /// Day of the year, from 1.
    pub fn ordinal(&self) -> u32 {
        self.local().ordinal()
    }

    /// ISO week number and the year it belongs to.
    pub fn iso_week(&self) -> (i32, u32) {
        let w = self.local().iso_week();
        (w.year(), w.week())
    }

    /// The instant whose wall clock in `zone` shows `local`, resolving gaps and overlaps as
    /// Luxon's `fixOffset` does, starting from the offset guess `guess`.
    fn from_local(local: NaiveDateTime, zone: Zone, guess: i32) -> Self {
        let local_ms = local.and_utc().timestamp_millis();
        let mut utc = local_ms - i64::from(guess) * 60_000;
        let o2 = zone.offset_at(utc);
        if o2 == guess {
            return Self::new(utc, zone);
        }
        utc -= i64::from(o2 - guess) * 60_000;
        let o3 = zone.offset_at(utc);
        if o2 == o3 {
            return Self::new(utc, zone);
        }
        Self::new(local_ms - i64::from(o2.min(o3)) * 60_000, zone)
    }

    /// The instant showing these wall-clock parts in `zone` (`None` for an impossible date).
    pub fn from_parts(p: Parts, zone: Zone) -> Option<Self> {
        let local = NaiveDate::from_ymd_opt(p.year, p.month, p.day)?.and_hms_milli_opt(
            p.hour,
            p.minute,
            p.second,
            p.millisecond,
        )?;
        let guess = zone.offset_at(local.and_utc().timestamp_millis());
        Some(Self::from_local(local, zone, guess))
    }

    /// The same instant shown in another zone.
    pub fn set_zone(&self, zone: Zone) -> Self {
        Self::new(self.ms, zone)
    }

    /// Luxon's `plus`: years, quarters, months, weeks and days move the calendar (the day
    /// clamped to the month's end, the wall-clock time kept), smaller units add elapsed time.
    pub fn plus(&self, amounts: &[(Unit, f64)]) -> Self {
        let get = |u: Unit| {
            amounts
                .iter()
                .filter(|(x, _)| *x == u)
                .map(|(_, v)| v)
                .sum::<f64>()
        };
        let (years, quarters, months) = (get(Unit::Year), get(Unit::Quarter), get(Unit::Month));
        let (weeks, days) = (get(Unit::Week), get(Unit::Day));
        let p = self.parts();
        let year = i64::from(p.year) + years.trunc() as i64;
        let month = i64::from(p.month) + months.trunc() as i64 + quarters.trunc() as i64 * 3;
        let (year, month) = normalize_month(year, month);
        let day = i64::from(p.day.min(days_in_month(year, month)))
            + days.trunc() as i64
            + weeks.trunc() as i64 * 7;
        let Some(first) = NaiveDate::from_ymd_opt(year, month, 1) else {
            return *self;
        };
        let date = first + chrono::Duration::days(day - 1);
        let time = NaiveTime::from_hms_milli_opt(p.hour, p.minute, p.second, p.millisecond)
            .unwrap_or_default();
        let mut out = Self::from_local(date.and_time(time), self.zone, self.offset());
        let rest = (years.fract()) * Unit::Year.millis()
            + quarters.fract() * Unit::Quarter.millis()
            + months.fract() * Unit::Month.millis()
            + weeks.fract() * Unit::Week.millis()
            + days.fract() * Unit::Day.millis()
            + [Unit::Hour, Unit::Minute, Unit::Second, Unit::Millisecond]
                .iter()
                .map(|u| get(*u) * u.millis())
                .sum::<f64>();
        if rest != 0.0 {
            out.ms += rest.round() as i64;
        }
        out
    }

    /// Luxon's `startOf`: the first millisecond of the unit containing this instant, in its
    /// zone (weeks start on Monday).
    pub fn start_of(&self, unit: Unit) -> Self {
        let mut p = self.parts();
        let mut date = NaiveDate::from_ymd_opt(p.year, p.month, p.day).unwrap_or_default();
        if unit <= Unit::Year {
            p.month = 1;
        }
        if unit == Unit::Quarter {
            p.month = (p.month - 1) / 3 * 3 + 1;
        }
        if unit <= Unit::Month {
            date = NaiveDate::from_ymd_opt(p.year, p.month, 1).unwrap_or(date);
        }
        if unit == Unit::Week {
            date -= chrono::Duration::days(i64::from(self.weekday()) - 1);
        }
        if unit <= Unit::Day {
            p.hour = 0;
        }
        if unit <= Unit::Hour {
            p.minute = 0;
        }
        if unit <= Unit::Minute {
            p.second = 0;
        }
        if unit <= Unit::Second {
            p.millisecond = 0;
        }
        let time = NaiveTime::from_hms_milli_opt(p.hour, p.minute, p.second, p.millisecond)
            .unwrap_or_default();
        Self::from_local(date.and_time(time), self.zone, self.offset())
    }

    /// Luxon's `endOf`: the last millisecond of the unit containing this instant.
    pub fn end_of(&self, unit: Unit) -> Self {
        let next = self.start_of(unit).plus(&[(unit, 1.0)]);
        Self::new(next.ms - 1, self.zone)
    }

    /// Luxon's `diff`: how far `self` is after `other`, in `units` (milliseconds when none).
    /// Calendar units are counted first, whole; the rest goes to hours and below, or becomes
    /// a fraction of the smallest calendar unit asked for. Negative when `self` is earlier.
    pub fn diff(&self, other: &ZonedTime, units: &[Unit]) -> Vec<(Unit, f64)> {
        let mut units: Vec<Unit> = if units.is_empty() {
            vec![Unit::Millisecond]
        } else {
            units.to_vec()
        };
        units.sort();
        units.dedup();
        let other = other.set_zone(self.zone);
        let (earlier, later, negate) = if other.ms > self.ms {
            (*self, other, true)
        } else {
            (other, *self, false)
        };
        let mut results: Vec<(Unit, f64)> = Vec::new();
        let mut cursor = earlier;
        let mut high_water = earlier;
        let mut lowest = None;
        for unit in [
            Unit::Year,
            Unit::Quarter,
            Unit::Month,
            Unit::Week,
            Unit::Day,
        ] {
            if !units.contains(&unit) {
                continue;
            }
            lowest = Some(unit);
            let (a, b) = (cursor.parts(), later.parts());
            let count = match unit {
                Unit::Year => f64::from(b.year - a.year),
                Unit::Quarter => {
                    f64::from((b.month as i32 - 1) / 3 - (a.month as i32 - 1) / 3)
                        + f64::from(b.year - a.year) * 4.0
                }
                Unit::Month => {
                    f64::from(b.month as i32 - a.month as i32) + f64::from(b.year - a.year) * 12.0
                }
                Unit::Week => {
                    let days = day_diff(&cursor, &later);
                    ((days - days % 7) / 7) as f64
                }
                _ => day_diff(&cursor, &later) as f64,
            };
            results.push((unit, count));
            high_water = earlier.plus(&results);
            if high_water.ms > later.ms {
                bump(&mut results, unit, -1.0);
                cursor = earlier.plus(&results);
                if cursor.ms > later.ms {
                    high_water = cursor;
                    bump(&mut results, unit, -1.0);
                    cursor = earlier.plus(&results);
                }
            } else {
                cursor = high_water;
            }
        }
        let remaining = (later.ms - cursor.ms) as f64;
        let lower: Vec<Unit> = units.iter().copied().filter(|u| *u >= Unit::Hour).collect();
        if lower.is_empty() {
            if let Some(lowest) = lowest {
                if high_water.ms < later.ms {
                    high_water = cursor.plus(&[(lowest, 1.0)]);
                }
                if high_water.ms != cursor.ms {
                    bump(
                        &mut results,
                        lowest,
                        remaining / (high_water.ms - cursor.ms) as f64,
                    );
                }
            }
        } else {
            // Duration.fromMillis(rest).shiftTo(...lower): whole units largest first, the
            // remainder as a fraction of the smallest.
            let mut rest = remaining;
            let last = *lower.last().expect("not empty");
            for unit in &lower {
                if *unit == last {
                    results.push((*unit, rest / unit.millis()));
                } else {
                    let whole = (rest / unit.millis()).trunc();
                    results.push((*unit, whole));
                    rest -= whole * unit.millis();
                }
            }
        }
        let mut ordered: Vec<(Unit, f64)> = Unit::ALL
            .iter()
            .filter_map(|u| {
                results
                    .iter()
                    .find(|(x, _)| x == u)
                    .map(|(_, v)| (*u, if negate { -v } else { *v }))
            })
            .collect();
        for (_, v) in &mut ordered {
            if *v == 0.0 {
                *v = 0.0; // no `-0` in the output
            }
        }
        ordered
    }

    /// Luxon's `toISO()`: `2024-01-15T10:00:00.000+01:00`, `Z` for a fixed zone at offset 0.
    pub fn to_iso(&self) -> String {
        let p = self.parts();
        let o = self.offset();
        let offset = if matches!(self.zone, Zone::Fixed(0)) {
            "Z".to_string()
        } else {
            offset_text(o, OffsetStyle::Colon)
        };
        format!(
            "{}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}{offset}",
            year_text(p.year),
            p.month,
            p.day,
            p.hour,
            p.minute,
            p.second,
            p.millisecond
        )
    }

    /// Luxon's `toISODate()`: `2024-01-15`.
    pub fn to_iso_date(&self) -> String {
        let p = self.parts();
        format!("{}-{:02}-{:02}", year_text(p.year), p.month, p.day)
    }

    /// Luxon's `toFormat`: format tokens (`yyyy-MM-dd HH:mm`, `'literal'`), English names.
    pub fn format(&self, fmt: &str) -> String {
        let mut out = String::new();
        for token in tokenize(fmt) {
            match token {
                Token::Literal(s) => out.push_str(&s),
                Token::Field(c, n) => out.push_str(&self.field(c, n)),
            }
        }
        out
    }

    fn field(&self, c: char, n: usize) -> String {
        let p = self.parts();
        let pad = |v: i64, w: usize| {
            if v < 0 {
                format!("-{:0w$}", -v)
            } else {
                format!("{v:0w$}")
            }
        };
        let hour12 = |h: u32| if h % 12 == 0 { 12 } else { h % 12 };
        match (c, n) {
            ('S', 1) => p.millisecond.to_string(),
            ('S', _) => format!("{:03}", p.millisecond),
            ('u', _) => format!("{:03}", p.millisecond),
            ('s', 1) => p.second.to_string(),
            ('s', _) => format!("{:02}", p.second),
            ('m', 1) => p.minute.to_string(),
            ('m', _) => format!("{:02}", p.minute),
            ('h', 1) => hour12(p.hour).to_string(),
            ('h', _) => format!("{:02}", hour12(p.hour)),
            ('H', 1) => p.hour.to_string(),
            ('H', _) => format!("{:02}", p.hour),
            ('Z', 1) => offset_text(self.offset(), OffsetStyle::Short),
            ('Z', 2) => offset_text(self.offset(), OffsetStyle::Colon),
            ('Z', 3) => offset_text(self.offset(), OffsetStyle::Compact),
            ('Z', _) => self.zone.abbreviation(self.ms),
            ('z', _) => self.zone.name(),
            ('a', _) => if p.hour < 12 { "AM" } else { "PM" }.into(),
            ('d', 1) => p.day.to_string(),
            ('d', _) => format!("{:02}", p.day),
            ('c' | 'E', 1) => self.weekday().to_string(),
            ('c' | 'E', 3) => WEEKDAYS[self.weekday() as usize - 1][..3].into(),
            ('c' | 'E', 4) => WEEKDAYS[self.weekday() as usize - 1].into(),
            ('c' | 'E', 5) => WEEKDAYS[self.weekday() as usize - 1][..1].into(),
            ('L' | 'M', 1) => p.month.to_string(),
            ('L' | 'M', 2) => format!("{:02}", p.month),
            ('L' | 'M', 3) => MONTHS[p.month as usize - 1][..3].into(),
            ('L' | 'M', 4) => MONTHS[p.month as usize - 1].into(),
            ('L' | 'M', 5) => MONTHS[p.month as usize - 1][..1].into(),
            ('y', 1) => p.year.to_string(),
            ('y', 2) => format!("{:02}", p.year.rem_euclid(100)),
            ('y', 4) => pad(i64::from(p.year), 4),
            ('y', 6) => pad(i64::from(p.year), 6),
            ('k', 2) => format!("{:02}", self.iso_week().0.rem_euclid(100)),
            ('k', 4) => pad(i64::from(self.iso_week().0), 4),
            ('W', 1) => self.iso_week().1.to_string(),
            ('W', 2) => format!("{:02}", self.iso_week().1),
            ('o', 1) => self.ordinal().to_string(),
            ('o', 3) => format!("{:03}", self.ordinal()),
            ('q', 1) => ((p.month - 1) / 3 + 1).to_string(),
            ('q', 2) => format!("{:02}", (p.month - 1) / 3 + 1),
            ('X', _) => self.ms.div_euclid(1000).to_string(),
            ('x', _) => self.ms.to_string(),
            ('G', _) => if p.year > 0 { "AD" } else { "BC" }.into(),
            // Localized macros, in Luxon's en-US forms.
            ('D', 1) => format!("{}/{}/{}", p.month, p.day, p.year),
            ('D', 2) => format!(
                "{} {}, {}",
                &MONTHS[p.month as usize - 1][..3],
                p.day,
                p.year
            ),
            ('D', 3) => format!("{} {}, {}", MONTHS[p.month as usize - 1], p.day, p.year),
            ('D', 4) => format!(
                "{}, {} {}, {}",
                WEEKDAYS[self.weekday() as usize - 1],
                MONTHS[p.month as usize - 1],
                p.day,
                p.year
            ),
            ('t', 1) => format!("{}:{:02} {}", hour12(p.hour), p.minute, self.field('a', 1)),
            ('t', 2) => format!(
                "{}:{:02}:{:02} {}",
                hour12(p.hour),
                p.minute,
                p.second,
                self.field('a', 1)
            ),
            ('T', 1) => format!("{:02}:{:02}", p.hour, p.minute),
            ('T', 2) => format!("{:02}:{:02}:{:02}", p.hour, p.minute, p.second),
            ('f', 1) => format!("{}, {}", self.field('D', 1), self.field('t', 1)),
            ('f', 2) => format!("{}, {}", self.field('D', 2), self.field('t', 1)),
            ('F', 1) => format!("{}, {}", self.field('D', 1), self.field('t', 2)),
            ('F', 2) => format!("{}, {}", self.field('D', 2), self.field('t', 2)),
            // Luxon writes a token it does not know as it is.
            (c, n) => std::iter::repeat_n(c, n).collect(),
        }
    }

    /// A calendar part by Luxon's `get` names (`year`, `month`, `day`, `hour`, `minute`,
    /// `second`, `millisecond`, `weekday`, `weekNumber`, `ordinal`, `quarter`).
    pub fn get(&self, part: &str) -> Option<i64> {
        let p = self.parts();
        Some(match part {
            "year" => i64::from(p.year),
            "month" => i64::from(p.month),
            "day" => i64::from(p.day),
            "hour" => i64::from(p.hour),
            "minute" => i64::from(p.minute),
            "second" => i64::from(p.second),
            "millisecond" => i64::from(p.millisecond),
            "weekday" => i64::from(self.weekday()),
            "week" | "weekNumber" => i64::from(self.iso_week().1),
            "weekYear" => i64::from(self.iso_week().0),
            "ordinal" => i64::from(self.ordinal()),
            "quarter" => i64::from((p.month - 1) / 3 + 1),
            _ => return None,
        })
    }
}

fn bump(results: &mut [(Unit, f64)], unit: Unit, by: f64) {
    if let Some(r) = results.iter_mut().find(|(u, _)| *u == unit) {
        r.1 += by;
    }
}

/// Whole days between the calendar dates (wall clock) of two instants (Luxon's `dayDiff`).
fn day_diff(a: &ZonedTime, b: &ZonedTime) -> i64 {
    let (da, db) = (a.local().date(), b.local().date());
    (db - da).num_days()
}

fn normalize_month(year: i64, month: i64) -> (i32, u32) {
    let m0 = (month - 1).rem_euclid(12);
    let y = year + (month - 1 - m0) / 12;
    (y as i32, (m0 + 1) as u32)
}

fn days_in_month(year: i32, month: u32) -> u32 {
    let (ny, nm) = if month == 12 {
        (year + 1, 1)
    } else {
        (year, month + 1)
    };
    NaiveDate::from_ymd_opt(ny, nm, 1)
        .and_then(|d| d.pred_opt())
        .map_or(31, |d| d.day())
}

fn year_text(year: i32) -> String {
    if (0..=9999).contains(&year) {
        format!("{year:04}")
    } else if year < 0 {
        format!("-{:06}", -year)
    } else {
        format!("+{year:06}")
    }
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const WEEKDAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

#[derive(Clone, Copy)]
enum OffsetStyle {
    /// `+5`, `+5:30`.
    Short,
    /// `+05:00`.
    Colon,
    /// `+0500`.
    Compact,
}

fn offset_text(minutes: i32, style: OffsetStyle) -> String {
    let sign = if minutes < 0 { '-' } else { '+' };
    let (h, m) = (minutes.abs() / 60, minutes.abs() % 60);
    match style {
        OffsetStyle::Short if m == 0 => format!("{sign}{h}"),
        OffsetStyle::Short => format!("{sign}{h}:{m:02}"),
        OffsetStyle::Colon => format!("{sign}{h:02}:{m:02}"),
        OffsetStyle::Compact => format!("{sign}{h:02}{m:02}"),
    }
}

enum Token {
    Literal(String),
    Field(char, usize),
}

/// Splits a Luxon format string into runs of the same letter and literal text (`'...'`
/// quotes text, `''` is a quote).
fn tokenize(fmt: &str) -> Vec<Token> {
    let chars: Vec<char> = fmt.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' {
            let mut lit = String::new();
            i += 1;
            while i < chars.len() && chars[i] != '\'' {
                lit.push(chars[i]);
                i += 1;
            }
            i += 1;
            out.push(Token::Literal(lit));
        } else if c.is_ascii_alphabetic() {
            let mut n = 1;
            while i + n < chars.len() && chars[i + n] == c {
                n += 1;
            }
            out.push(Token::Field(c, n));
            i += n;
        } else {
            out.push(Token::Literal(c.to_string()));
            i += 1;
        }
    }
    out
}

/// Parses an ISO 8601 date-time as Luxon's `fromISO`: `2024-01-15`, `2024-01-15T10:00`,
/// `20240115T100000Z`, with an optional fraction and offset. A time without an offset is
/// read in `zone`; with one, the instant is shown in `zone` unless `keep_offset`, which shows
/// it at the offset given (Luxon's `setZone: true`).
pub fn parse_iso(text: &str, zone: Zone, keep_offset: bool) -> Option<ZonedTime> {
    let (local, offset) = parse_iso_parts(text.trim(), 'T')?;
    Some(resolve(local, offset, zone, keep_offset))
}

fn resolve(local: NaiveDateTime, offset: Option<i32>, zone: Zone, keep_offset: bool) -> ZonedTime {
    match offset {
        Some(o) => {
            let ms = local.and_utc().timestamp_millis() - i64::from(o) * 60_000;
            let shown = if keep_offset { Zone::Fixed(o) } else { zone };
            ZonedTime::new(ms, shown)
        }
        None => {
            let guess = zone.offset_at(local.and_utc().timestamp_millis());
            ZonedTime::from_local(local, zone, guess)
        }
    }
}

/// The wall-clock time and the offset (minutes) an ISO string gives; `sep` separates date
/// and time (`T`, or a space for the SQL form).
fn parse_iso_parts(s: &str, sep: char) -> Option<(NaiveDateTime, Option<i32>)> {
    let (date_part, time_part) = match s.find([sep, 't']) {
        Some(i) if i >= 4 => (&s[..i], Some(&s[i + 1..])),
        _ => (s, None),
    };
    let date = parse_iso_date(date_part)?;
    let Some(time_part) = time_part else {
        return Some((date.and_hms_opt(0, 0, 0)?, None));
    };
    let (time_text, offset) = split_offset(time_part)?;
    let time = parse_iso_time(time_text)?;
    Some((date.and_time(time), offset))
}

fn parse_iso_date(s: &str) -> Option<NaiveDate> {
    let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    let parts: Vec<&str> = s.split('-').collect();
    match parts.as_slice() {
        [y] if y.len() == 8 && digits(y) => NaiveDate::from_ymd_opt(
            y[..4].parse().ok()?,
            y[4..6].parse().ok()?,
            y[6..].parse().ok()?,
        ),
        [y] if y.len() == 4 && digits(y) => NaiveDate::from_ymd_opt(y.parse().ok()?, 1, 1),
        [y, m] if y.len() == 4 && m.len() == 2 && digits(y) && digits(m) => {
            NaiveDate::from_ymd_opt(y.parse().ok()?, m.parse().ok()?, 1)
        }
        [y, m, d]
            if y.len() == 4
                && m.len() == 2
                && d.len() == 2
                && digits(y)
                && digits(m)
                && digits(d) =>
        {
            NaiveDate::from_ymd_opt(y.parse().ok()?, m.parse().ok()?, d.parse().ok()?)
        }
        _ => None,
    }
}

/// Splits `10:00:00.5+01:00` into the time and the offset in minutes.
fn split_offset(s: &str) -> Option<(&str, Option<i32>)> {
    if let Some(t) = s.strip_suffix(['Z', 'z']) {
        return Some((t, Some(0)));
    }
    match s.rfind(['+', '-']) {
        Some(i) => {
            let offset = parse_signed_offset(&s[i..])?;
            Some((&s[..i], Some(offset)))
        }
        None => Some((s, None)),
    }
}

fn parse_iso_time(s: &str) -> Option<NaiveTime> {
    let (main, fraction) = match s.split_once(['.', ',']) {
        Some((m, f)) => (m, Some(f)),
        None => (s, None),
    };
    let fields: Vec<u32> = if main.contains(':') {
        main.split(':')
            .map(|p| p.parse().ok())
            .collect::<Option<_>>()?
    } else {
        (0..main.len() / 2)
            .map(|i| main.get(i * 2..i * 2 + 2)?.parse().ok())
            .collect::<Option<_>>()?
    };
    let (h, m, sec) = match fields.as_slice() {
        [h] => (*h, 0, 0),
        [h, m] => (*h, *m, 0),
        [h, m, s] => (*h, *m, *s),
        _ => return None,
    };
    let ms = match fraction {
        Some(f) if !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()) => {
            let mut digits: String = f.chars().take(3).collect();
            while digits.len() < 3 {
                digits.push('0');
            }
            digits.parse().ok()?
        }
        Some(_) => return None,
        None => 0,
    };
    if h == 24 && m == 0 && sec == 0 {
        return NaiveTime::from_hms_milli_opt(23, 59, 59, 999);
    }
    NaiveTime::from_hms_milli_opt(h, m, sec, ms)
}

/// Parses a date string the way n8n's Date & Time node does (Moment, falling back to the
/// JavaScript `Date` parser): ISO 8601 (a space may separate date and time), RFC 2822
/// (`Tue, 15 Jan 2024 10:00:00 GMT`), `2024/01/15`, `01/15/2024` (month first),
/// `January 15, 2024` and `15 January 2024`, each with an optional time. A time without an
/// offset is read in `zone`.
pub fn parse_loose(text: &str, zone: Zone) -> Option<ZonedTime> {
    let s = text.trim();
    if let Some(t) = parse_iso(s, zone, false) {
        return Some(t);
    }
    if let Some((local, offset)) = parse_iso_parts(s, ' ') {
        return Some(resolve(local, offset, zone, false));
    }
    if let Ok(d) = chrono::DateTime::parse_from_rfc2822(s) {
        return Some(ZonedTime::new(d.timestamp_millis(), zone));
    }
    parse_human(s).map(|(local, offset)| resolve(local, offset, zone, false))
}

/// `2024/01/15 10:00`, `01/15/2024`, `January 15, 2024 10:00:00`, `15 Jan 2024`, with an
/// optional trailing `GMT`/`UTC`/`Z` or offset.
fn parse_human(s: &str) -> Option<(NaiveDateTime, Option<i32>)> {
    let words: Vec<&str> = s
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|w| !w.is_empty())
        .collect();
    let mut date = None;
    let mut time = None;
    let mut offset = None;
    let mut pending_month: Option<u32> = None;
    let mut numbers: Vec<i64> = Vec::new();
    for w in &words {
        let lower = w.to_ascii_lowercase();
        if let Some(m) = MONTHS
            .iter()
            .position(|name| lower.len() >= 3 && name.to_ascii_lowercase().starts_with(&lower))
        {
            pending_month = Some(m as u32 + 1);
        } else if WEEKDAYS
            .iter()
            .any(|d| lower.len() >= 3 && d.to_ascii_lowercase().starts_with(&lower))
        {
        } else if w.contains(':') {
            let (t, o) = split_offset(w)?;
            time = Some(parse_iso_time(t)?);
            offset = o.or(offset);
        } else if lower == "am" || lower == "pm" {
            let t: NaiveTime = time?;
            let h = t.hour() % 12 + if lower == "pm" { 12 } else { 0 };
            time = t.with_hour(h);
        } else if lower == "gmt" || lower == "utc" || lower == "z" {
            offset = Some(0);
        } else if (w.starts_with('+') || w.starts_with('-')) && w.len() >= 3 {
            offset = Some(parse_signed_offset(w)?);
        } else if w.contains('/') || (w.contains('-') && w.len() >= 8) {
            let parts: Vec<i64> = w
                .split(['/', '-'])
                .map(|p| p.parse().ok())
                .collect::<Option<_>>()?;
            date = match parts.as_slice() {
                [y, m, d] if *y > 31 => NaiveDate::from_ymd_opt(*y as i32, *m as u32, *d as u32),
                [m, d, y] => NaiveDate::from_ymd_opt(
                    if *y < 100 {
                        *y as i32 + 2000
                    } else {
                        *y as i32
                    },
                    *m as u32,
                    *d as u32,
                ),
                _ => None,
            };
            date?;
        } else {
            numbers.push(
                w.trim_end_matches(['s', 't', 'h', 'n', 'd', 'r'])
                    .parse()
                    .ok()?,
            );
        }
    }
    if date.is_none() {
        let month = pending_month?;
        let (day, year) = match numbers.as_slice() {
            [a, b] if *a > 31 => (*b, *a),
            [a, b] => (*a, *b),
            _ => return None,
        };
        date = NaiveDate::from_ymd_opt(year as i32, month, day as u32);
    }
    let time = time.unwrap_or_default();
    Some((date?.and_time(time), offset))
}

/// Parses `text` with a Luxon format (`fromFormat`): the common tokens (`yyyy`, `yy`, `MM`,
/// `M`, `MMM`, `MMMM`, `dd`, `d`, `HH`, `H`, `hh`, `h`, `mm`, `ss`, `SSS`, `a`, `ZZ`, `X`, `x`,
/// weekday names) and literal text. Fields not given default as in Luxon (January 1st,
/// midnight); without an offset the time is read in `zone`.
pub fn parse_format(text: &str, fmt: &str, zone: Zone) -> Result<ZonedTime, String> {
    let mut rest = text;
    let (mut year, mut month, mut day) = (None, None, None);
    let (mut hour, mut minute, mut second, mut milli) = (0u32, 0u32, 0u32, 0u32);
    let mut pm = None;
    let mut offset = None;
    let mut epoch = None;
    let take_digits = |rest: &mut &str, min: usize, max: usize| -> Option<i64> {
        let n = rest
            .bytes()
            .take(max)
            .take_while(u8::is_ascii_digit)
            .count();
        if n < min {
            return None;
        }
        let v = rest[..n].parse().ok()?;
        *rest = &rest[n..];
        Some(v)
    };
    let bad =
        |token: &str| format!("the input \"{text}\" can't be parsed as format {fmt} (at {token})");
    for token in tokenize(fmt) {
        match token {
            Token::Literal(l) => {
                rest = rest.strip_prefix(l.as_str()).ok_or_else(|| bad(&l))?;
            }
            Token::Field(c, n) => {
                let label: String = std::iter::repeat_n(c, n).collect();
                let fail = || bad(&label);
                match (c, n) {
                    ('y', 2) => year = Some(2000 + take_digits(&mut rest, 2, 2).ok_or_else(fail)?),
                    ('y', _) => year = Some(take_digits(&mut rest, 1, 6).ok_or_else(fail)?),
                    ('M' | 'L', 1 | 2) => {
                        month = Some(take_digits(&mut rest, n, 2).ok_or_else(fail)? as u32)
                    }
                    ('M' | 'L', _) => {
                        let lower = rest.to_ascii_lowercase();
                        let (idx, len) = MONTHS
                            .iter()
                            .enumerate()
                            .find_map(|(i, m)| {
                                let m = m.to_ascii_lowercase();
                                if n >= 4 && lower.starts_with(&m) {
                                    Some((i, m.len()))
                                } else if lower.starts_with(&m[..3]) {
                                    Some((i, 3))
                                } else {
                                    None
                                }
                            })
                            .ok_or_else(fail)?;
                        month = Some(idx as u32 + 1);
                        rest = &rest[len..];
                    }
                    ('d', _) => {
                        day = Some(take_digits(&mut rest, n.min(2), 2).ok_or_else(fail)? as u32)
                    }
                    ('H' | 'h', _) => {
                        hour = take_digits(&mut rest, n.min(2), 2).ok_or_else(fail)? as u32
                    }
                    ('m', _) => {
                        minute = take_digits(&mut rest, n.min(2), 2).ok_or_else(fail)? as u32
                    }
                    ('s', _) => {
                        second = take_digits(&mut rest, n.min(2), 2).ok_or_else(fail)? as u32
                    }
                    ('S', _) => {
                        let before = rest.len();
                        let v = take_digits(&mut rest, 1, 3).ok_or_else(fail)?;
                        let width = before - rest.len();
                        milli = (v * 10_i64.pow(3 - width as u32)) as u32;
                    }
                    ('a', _) => {
                        let lower = rest.get(..2).map(str::to_ascii_lowercase);
                        pm = Some(match lower.as_deref() {
                            Some("am") => false,
                            Some("pm") => true,
                            _ => return Err(fail()),
                        });
                        rest = &rest[2..];
                    }
                    ('E' | 'c', _) => {
                        let lower = rest.to_ascii_lowercase();
                        let len = WEEKDAYS
                            .iter()
                            .find_map(|d| {
                                let d = d.to_ascii_lowercase();
                                if n >= 4 && lower.starts_with(&d) {
                                    Some(d.len())
                                } else if lower.starts_with(&d[..3]) {
                                    Some(3)
                                } else {
                                    None
                                }
                            })
                            .ok_or_else(fail)?;
                        rest = &rest[len..];
                    }
                    ('Z', _) => {
                        if let Some(r) = rest.strip_prefix('Z') {
                            offset = Some(0);
                            rest = r;
                        } else {
                            let n = rest
                                .char_indices()
                                .skip(1)
                                .find(|(_, ch)| !(ch.is_ascii_digit() || *ch == ':'))
                                .map_or(rest.len(), |(i, _)| i);
                            offset = Some(parse_signed_offset(&rest[..n]).ok_or_else(fail)?);
                            rest = &rest[n..];
                        }
                    }
                    ('X', _) => {
                        epoch = Some(take_digits(&mut rest, 1, 12).ok_or_else(fail)? * 1000)
                    }
                    ('x', _) => epoch = Some(take_digits(&mut rest, 1, 15).ok_or_else(fail)?),
                    _ => return Err(format!("the format token \"{label}\" is not supported")),
                }
            }
        }
    }
    if !rest.is_empty() {
        return Err(format!(
            "the input \"{text}\" can't be parsed as format {fmt} (left over: \"{rest}\")"
        ));
    }
    if let Some(ms) = epoch {
        return Ok(ZonedTime::new(ms, zone));
    }
    if let Some(pm) = pm {
        hour = hour % 12 + if pm { 12 } else { 0 };
    }
    let date = NaiveDate::from_ymd_opt(
        year.unwrap_or(1970) as i32,
        month.unwrap_or(1),
        day.unwrap_or(1),
    )
    .ok_or_else(|| format!("the input \"{text}\" is not a valid date"))?;
    let time = NaiveTime::from_hms_milli_opt(hour, minute, second, milli)
        .ok_or_else(|| format!("the input \"{text}\" is not a valid time"))?;
    Ok(resolve(date.and_time(time), offset, zone, false))
}

/// Luxon's `Duration.toISO()` of unit amounts: `P1Y2M3DT4H5M6.007S`, `PT0S` when empty.
pub fn duration_iso(amounts: &[(Unit, f64)]) -> String {
    let get = |u: Unit| {
        amounts
            .iter()
            .find(|(x, _)| *x == u)
            .map_or(0.0, |(_, v)| *v)
    };
    let num = |v: f64| crate::expr::js_number_f64(v);
    let mut s = String::from("P");
    if get(Unit::Year) != 0.0 {
        s += &format!("{}Y", num(get(Unit::Year)));
    }
    let months = get(Unit::Month) + get(Unit::Quarter) * 3.0;
    if months != 0.0 {
        s += &format!("{}M", num(months));
    }
    if get(Unit::Week) != 0.0 {
        s += &format!("{}W", num(get(Unit::Week)));
    }
    if get(Unit::Day) != 0.0 {
        s += &format!("{}D", num(get(Unit::Day)));
    }
    let (h, m, sec, ms) = (
        get(Unit::Hour),
        get(Unit::Minute),
        get(Unit::Second),
        get(Unit::Millisecond),
    );
    if h != 0.0 || m != 0.0 || sec != 0.0 || ms != 0.0 {
        s.push('T');
    }
    if h != 0.0 {
        s += &format!("{}H", num(h));
    }
    if m != 0.0 {
        s += &format!("{}M", num(m));
    }
    if sec != 0.0 || ms != 0.0 {
        let secs = ((sec + ms / 1000.0) * 1000.0).round() / 1000.0;
        s += &format!("{}S", num(secs));
    }
    if s == "P" {
        s += "T0S";
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn berlin() -> Zone {
        Zone::parse("Europe/Berlin").unwrap()
    }

    fn at(iso: &str, zone: Zone) -> ZonedTime {
        parse_iso(iso, zone, false).unwrap()
    }

    #[test]
    fn zones_are_named_as_luxon_names_them() {
        assert_eq!(Zone::parse("utc"), Some(Zone::UTC));
        assert_eq!(Zone::parse("Etc/GMT-2"), Some(Zone::Fixed(120)));
        assert_eq!(Zone::parse("UTC+5:30"), Some(Zone::Fixed(330)));
        assert_eq!(Zone::Fixed(330).name(), "UTC+5:30");
        assert_eq!(berlin().name(), "Europe/Berlin");
        assert_eq!(Zone::parse("Mars/Olympus"), None);
    }

    #[test]
    fn iso_output_shows_the_offset_and_z_only_for_utc() {
        let t = at("2024-01-15T10:00:00Z", berlin());
        assert_eq!(t.to_iso(), "2024-01-15T11:00:00.000+01:00");
        assert_eq!(t.set_zone(Zone::UTC).to_iso(), "2024-01-15T10:00:00.000Z");
        let etc = Zone::Iana("Etc/UTC".parse().unwrap());
        assert_eq!(t.set_zone(etc).to_iso(), "2024-01-15T10:00:00.000+00:00");
        // A time without an offset is read in the zone.
        assert_eq!(
            at("2024-07-01T09:30", berlin()).ms,
            at("2024-07-01T07:30:00Z", Zone::UTC).ms
        );
    }

    #[test]
    fn adding_months_clamps_the_day_and_days_keep_the_wall_clock_across_dst() {
        let t = at("2024-01-31T10:00:00Z", Zone::UTC);
        assert_eq!(
            t.plus(&[(Unit::Month, 1.0)]).to_iso(),
            "2024-02-29T10:00:00.000Z"
        );
        assert_eq!(
            t.plus(&[(Unit::Month, -2.0)]).to_iso(),
            "2023-11-30T10:00:00.000Z"
        );
        let before_dst = at("2024-03-30T12:00:00", berlin());
        assert_eq!(
            before_dst.plus(&[(Unit::Day, 1.0)]).to_iso(),
            "2024-03-31T12:00:00.000+02:00"
        );
        assert_eq!(
            before_dst.plus(&[(Unit::Hour, 24.0)]).to_iso(),
            "2024-03-31T13:00:00.000+02:00"
        );
    }

    #[test]
    fn start_and_end_of_units() {
        let t = at("2024-05-16T13:45:30.250", berlin()); // a Thursday
        assert_eq!(
            t.start_of(Unit::Week).to_iso(),
            "2024-05-13T00:00:00.000+02:00"
        );
        assert_eq!(
            t.start_of(Unit::Quarter).to_iso(),
            "2024-04-01T00:00:00.000+02:00"
        );
        assert_eq!(
            t.end_of(Unit::Month).to_iso(),
            "2024-05-31T23:59:59.999+02:00"
        );
        assert_eq!(
            t.start_of(Unit::Hour).to_iso(),
            "2024-05-16T13:00:00.000+02:00"
        );
    }

    #[test]
    fn diff_counts_calendar_units_then_the_rest() {
        let a = at("2024-01-31T00:00:00Z", Zone::UTC);
        let b = at("2024-03-01T12:00:00Z", Zone::UTC);
        assert_eq!(
            b.diff(&a, &[Unit::Month, Unit::Day]),
            [(Unit::Month, 1.0), (Unit::Day, 1.5)]
        );
        assert_eq!(b.diff(&a, &[Unit::Day]), [(Unit::Day, 30.5)]);
        assert_eq!(a.diff(&b, &[Unit::Day]), [(Unit::Day, -30.5)]);
        assert_eq!(
            b.diff(&a, &[Unit::Day, Unit::Hour, Unit::Minute]),
            [(Unit::Day, 30.0), (Unit::Hour, 12.0), (Unit::Minute, 0.0)]
        );
        assert_eq!(
            duration_iso(&b.diff(&a, &[Unit::Day, Unit::Hour])),
            "P30DT12H"
        );
    }

    #[test]
    fn format_tokens() {
        let t = at("2024-01-05T09:07:03.042", berlin());
        assert_eq!(
            t.format("yyyy-MM-dd HH:mm:ss.SSS ZZ"),
            "2024-01-05 09:07:03.042 +01:00"
        );
        assert_eq!(t.format("MMMM d, yyyy h:mm a"), "January 5, 2024 9:07 AM");
        assert_eq!(t.format("EEE, dd LLL yy 'week' W"), "Fri, 05 Jan 24 week 1");
        assert_eq!(t.format("DDD"), "January 5, 2024");
        assert_eq!(t.format("X"), "1704442023");
        assert_eq!(t.format("z ZZZ"), "Europe/Berlin +0100");
    }

    #[test]
    fn loose_and_format_parsing() {
        let utc = Zone::UTC;
        for s in [
            "2024-01-15T10:00:00Z",
            "2024-01-15 10:00:00",
            "Mon, 15 Jan 2024 10:00:00 GMT",
            "2024/01/15 10:00",
            "01/15/2024 10:00:00",
            "January 15, 2024 10:00",
            "15 Jan 2024 10:00 UTC",
        ] {
            assert_eq!(
                parse_loose(s, utc).map(|t| t.to_iso()).as_deref(),
                Some("2024-01-15T10:00:00.000Z"),
                "{s}"
            );
        }
        assert!(parse_loose("not a date", utc).is_none());
        let t = parse_format("15.01.2024 7:05 PM", "dd.MM.yyyy h:mm a", utc).unwrap();
        assert_eq!(t.to_iso(), "2024-01-15T19:05:00.000Z");
        assert!(parse_format("2024-13-01", "yyyy-MM-dd", utc).is_err());
    }
}
