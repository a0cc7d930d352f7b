//! What one trigger remembers between polls, and how it picks the records to deliver from
//! a query's rows.
//!
//! The cursor is the last `(stamp, Id)` delivered. Salesforce stamps a record when its
//! transaction starts, but readers see it only when it commits, so a record may appear with a
//! stamp below the cursor after the cursor has passed it. Every poll therefore reads from
//! `cursor - window` (an overlap window, 15 minutes by default as in n8n), in `(stamp, Id)`
//! order, and skips the rows it already delivered: the keys `(Id, stamp)` delivered with a
//! stamp inside the window are kept, and a key leaves the set when its stamp falls below the
//! window. The set is bounded by the window, not by a count (n8n keeps the last 10,000 keys,
//! so a burst of more repeats records).
//!
//! A cursor alone would re-read its window on every poll while nothing changes. So each poll
//! that read its query to the end also notes when, on the org's clock, it surely read (the
//! `Date` of the first answer, less the longest a request may take): whatever was stamped
//! more than the window before that had committed when the query ran, and was read. The next query starts at the
//! later of the two bounds, so a quiet org costs one call returning nothing.
//!
//! The Id half of the keyset is not sent as `(ts = :t AND Id > :id)`: a record committing
//! late may carry the cursor's very stamp and a smaller Id. The Id orders rows that share a
//! stamp, so that a limited delivery stops at a well-defined row.
//!
//! Created fires on `CreatedDate` (an edit never moves it). Updated fires on
//! `LastModifiedDate` when it is after `CreatedDate` (SOQL cannot compare two fields, so that
//! test is made here): one delivery per modification a poll sees, the record's state as read.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, SubsecRound, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The two kinds of events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Event {
    /// A record was created: `CreatedDate`.
    Created,
    /// A record was modified after its creation: `LastModifiedDate`.
    Updated,
}

impl Event {
    /// The timestamp field the event is read from and ordered by.
    pub fn field(self) -> &'static str {
        match self {
            Event::Created => "CreatedDate",
            Event::Updated => "LastModifiedDate",
        }
    }
}

/// A stamp in one fixed format (`2026-01-01T10:00:00.000Z`), so stamps compare as strings.
pub(crate) type Stamp = String;

fn stamp(t: DateTime<Utc>) -> Stamp {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// Reads a stamp as Salesforce writes it (`2026-01-01T10:00:00.000+0000`) or as RFC 3339.
pub(crate) fn parse_stamp(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f%z")
        .or_else(|_| DateTime::parse_from_rfc3339(s))
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// A SOQL datetime literal for `t`, floored to the second (Salesforce's literals have none
/// smaller; reading a little more is harmless, the seen keys skip it).
pub(crate) fn soql_datetime(t: DateTime<Utc>) -> String {
    t.trunc_subsecs(0).format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// The saved state of one trigger (n8n's static data for the node).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Cursor {
    /// What the state is about (`<credential id>:Account.CreatedDate`): a trigger edited to
    /// watch something else starts afresh instead of reading another object from this cursor.
    pub query: String,
    /// The last `(stamp, Id)` delivered; `None` while nothing has been seen.
    pub last: Option<(Stamp, String)>,
    /// Ids delivered (or present at activation), by stamp, for stamps inside the window.
    pub seen: BTreeMap<Stamp, BTreeSet<String>>,
    /// Stamps below this had all committed when a poll read them all.
    #[serde(default)]
    pub settled: Option<Stamp>,
}

impl Cursor {
    /// The state of a trigger that has never polled: `None` (also for a state that belongs
    /// to another query).
    pub fn load(state: &Value, query: &str) -> Option<Cursor> {
        let saved = state.get("salesforce")?;
        let cursor: Cursor = serde_json::from_value(saved.clone()).ok()?;
        (cursor.query == query).then_some(cursor)
    }

    /// Writes the cursor into the trigger's state.
    pub fn store(&self, state: &mut Value) {
        if !state.is_object() {
            *state = Value::Object(Default::default());
        }
        state["salesforce"] = serde_json::to_value(self).unwrap_or(Value::Null);
    }

    /// Where the next query starts: the overlap window below the cursor, or the settled
    /// stamp when that is later.
    pub fn lower(&self, window: Duration) -> Option<DateTime<Utc>> {
        let below_last = self
            .last
            .as_ref()
            .and_then(|(ts, _)| parse_stamp(ts))
            .map(|t| t - window);
        let settled = self.settled.as_deref().and_then(parse_stamp);
        below_last.max(settled)
    }

    /// A poll read everything from its lower bound, at `read_at` on the org's clock or later.
    fn settle(&mut self, window: Duration, read_at: Option<DateTime<Utc>>) {
        let Some(at) = read_at else { return };
        let settled = stamp(at - window);
        if self.settled.as_ref().is_none_or(|s| settled > *s) {
            self.settled = Some(settled);
        }
    }

    /// The first stamp the next query reads (the window's start, floored to the second as
    /// the query's literal is): keys below it can never come back.
    fn from(&self, window: Duration) -> Option<Stamp> {
        self.lower(window).map(|t| stamp(t.trunc_subsecs(0)))
    }

    fn has(&self, ts: &str, id: &str) -> bool {
        self.seen.get(ts).is_some_and(|ids| ids.contains(id))
    }

    fn remember(&mut self, ts: Stamp, id: String) {
        let newer = self.last.as_ref().is_none_or(|(last, _)| ts >= *last);
        self.seen.entry(ts.clone()).or_default().insert(id.clone());
        if newer {
            self.last = Some((ts, id));
        }
    }

    /// Drops the keys whose stamps fell below the window.
    fn prune(&mut self, window: Duration) {
        if let Some(from) = self.from(window) {
            self.seen = self.seen.split_off(&from);
        }
    }

    /// The first state of a trigger: every key of `rows` (newest first, as far back as the
    /// window below the newest) counts as seen, so records from before the activation are
    /// not delivered.
    pub fn baseline(
        query: &str,
        event: Event,
        window: Duration,
        rows: &[Value],
        read_at: Option<DateTime<Utc>>,
    ) -> Result<Cursor, String> {
        let mut cursor = Cursor {
            query: query.to_owned(),
            ..Cursor::default()
        };
        for row in rows.iter().rev() {
            let key = Key::of(row, event)?;
            cursor.remember(key.ts, key.id);
        }
        cursor.settle(window, read_at);
        cursor.prune(window);
        Ok(cursor)
    }
}

/// One row's key.
#[derive(Debug)]
struct Key {
    ts: Stamp,
    id: String,
    /// Updated only: the row is a creation nobody modified since.
    unmodified: bool,
}

impl Key {
    fn of(row: &Value, event: Event) -> Result<Key, String> {
        let id = row["Id"].as_str().ok_or("a row without an Id")?.to_owned();
        let time = |field: &str| {
            row[field]
                .as_str()
                .and_then(parse_stamp)
                .ok_or_else(|| format!("record {id} has no readable {field}"))
        };
        let at = time(event.field())?;
        let unmodified = match event {
            Event::Created => false,
            Event::Updated => at <= time("CreatedDate")?,
        };
        Ok(Key {
            ts: stamp(at),
            id,
            unmodified,
        })
    }
}

/// One trigger's share of a poll: its cursor, the rows it takes, and its limit.
#[derive(Debug)]
pub(crate) struct Delivery {
    event: Event,
    window: Duration,
    cursor: Cursor,
    /// Rows below this stamp were settled before the cursor's window: not this trigger's.
    from: Option<Stamp>,
    limit: Option<usize>,
    items: Vec<Value>,
}

impl Delivery {
    /// A delivery from `cursor`, taking at most `limit` records.
    pub fn new(event: Event, window: Duration, cursor: Cursor, limit: Option<usize>) -> Self {
        let from = cursor.from(window);
        Delivery {
            event,
            window,
            cursor,
            from,
            limit,
            items: Vec::new(),
        }
    }

    /// Where this trigger's query starts.
    pub fn lower(&self) -> Option<DateTime<Utc>> {
        self.cursor.lower(self.window)
    }

    /// Whether the limit is reached: later rows are for the next poll.
    pub fn full(&self) -> bool {
        self.limit.is_some_and(|n| self.items.len() >= n)
    }

    /// Takes `row` (in `(stamp, Id)` order) when it is new to this trigger.
    pub fn offer(&mut self, row: &Value) -> Result<(), String> {
        if self.full() {
            return Ok(());
        }
        let key = Key::of(row, self.event)?;
        let below = self.from.as_ref().is_some_and(|from| key.ts < *from);
        if key.unmodified || below || self.cursor.has(&key.ts, &key.id) {
            return Ok(());
        }
        self.cursor.remember(key.ts, key.id);
        self.items.push(row.clone());
        Ok(())
    }

    /// The records to deliver and the cursor to save once they are stored. `read_all`:
    /// the query's rows were read to their end, by a query that read the org at `read_at`
    /// or later.
    pub fn finish(
        mut self,
        read_all: bool,
        read_at: Option<DateTime<Utc>>,
    ) -> (Cursor, Vec<Value>) {
        // Rows left unread past a limit have not been seen: nothing settles.
        if read_all && !self.full() {
            self.cursor.settle(self.window, read_at);
        }
        self.cursor.prune(self.window);
        (self.cursor, self.items)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const W: Duration = Duration::minutes(15);

    fn row(id: &str, created: &str, modified: &str) -> Value {
        json!({"attributes": {"type": "Account"}, "Id": id,
               "CreatedDate": format!("2026-01-01T{created}.000+0000"),
               "LastModifiedDate": format!("2026-01-01T{modified}.000+0000")})
    }

    fn ids(items: &[Value]) -> Vec<&str> {
        items.iter().map(|r| r["Id"].as_str().unwrap()).collect()
    }

    fn poll(
        event: Event,
        cursor: Cursor,
        limit: Option<usize>,
        rows: &[Value],
    ) -> (Cursor, Vec<Value>) {
        let mut d = Delivery::new(event, W, cursor, limit);
        for r in rows {
            d.offer(r).unwrap();
        }
        d.finish(true, None)
    }

    #[test]
    fn created_fires_once_and_late_rows_inside_the_window_are_delivered() {
        let start = Cursor::baseline(
            "Account.CreatedDate",
            Event::Created,
            W,
            &[row("a0", "09:00:00", "09:00:00")],
            None,
        )
        .unwrap();
        let rows = [
            row("a0", "09:00:00", "09:00:00"),
            row("a1", "10:00:00", "10:00:00"),
        ];
        let (c, out) = poll(Event::Created, start, None, &rows);
        assert_eq!(ids(&out), ["a1"]);
        // An edit of a1 and a late row stamped before the cursor.
        let rows = [
            row("late", "09:59:00", "09:59:00"),
            row("a1", "10:00:00", "10:05:00"),
        ];
        let (c, out) = poll(Event::Created, c, None, &rows);
        assert_eq!(ids(&out), ["late"]);
        assert_eq!(
            c.last,
            Some(("2026-01-01T10:00:00.000Z".into(), "a1".into()))
        );
        let (_, out) = poll(Event::Created, c, None, &rows);
        assert!(out.is_empty());
    }

    #[test]
    fn updated_skips_creations_and_fires_per_modification() {
        let c = Cursor {
            query: "q".into(),
            ..Cursor::default()
        };
        let rows = [
            row("new", "10:00:00", "10:00:00"),
            row("edited", "10:00:00", "10:00:01"),
        ];
        let (c, out) = poll(Event::Updated, c, None, &rows);
        assert_eq!(ids(&out), ["edited"]);
        let rows = [
            row("new", "10:00:00", "10:00:00"),
            row("edited", "10:00:00", "10:03:00"),
        ];
        let (c, out) = poll(Event::Updated, c, None, &rows);
        assert_eq!(ids(&out), ["edited"]);
        let (_, out) = poll(Event::Updated, c, None, &rows);
        assert!(out.is_empty());
    }

    #[test]
    fn keys_leave_with_the_window_and_a_limit_stops_at_a_row() {
        let c = Cursor {
            query: "q".into(),
            ..Cursor::default()
        };
        let rows: Vec<Value> = (0..5)
            .map(|i| row(&format!("r{i}"), "10:00:00", "10:00:00"))
            .collect();
        let (c, out) = poll(Event::Created, c, Some(2), &rows);
        assert_eq!(ids(&out), ["r0", "r1"]);
        let (c, out) = poll(Event::Created, c, Some(2), &rows);
        assert_eq!(ids(&out), ["r2", "r3"]);
        let later = [row("x", "11:00:00", "11:00:00")];
        let (c, _) = poll(Event::Created, c, None, &later);
        assert_eq!(
            c.seen.len(),
            1,
            "10:00 is below 11:00 - 15 min: {:?}",
            c.seen
        );
        // Rows below the window are not this trigger's (another trigger's shared query).
        let (_, out) = poll(Event::Created, c, None, &rows);
        assert!(out.is_empty());
    }

    #[test]
    fn a_quiet_org_settles_and_the_window_stops_being_read() {
        let at = |t: &str| parse_stamp(&format!("2026-01-01T{t}.000+0000"));
        let c = Cursor::baseline(
            "q",
            Event::Created,
            W,
            &[row("a", "10:00:00", "10:00:00")],
            at("09:59:00"),
        )
        .unwrap();
        assert_eq!(c.lower(W), at("09:45:00"));
        // An hour later, nothing new, read at 10:59 or later: the next query starts 15
        // minutes before that.
        let d = Delivery::new(Event::Created, W, c, None);
        let (c, _) = d.finish(true, at("10:59:00"));
        assert_eq!(c.lower(W), at("10:44:00"));
        assert!(c.seen.is_empty(), "{:?}", c.seen);
        // A delivery cut by its limit settles nothing.
        let mut d = Delivery::new(Event::Created, W, c.clone(), Some(1));
        d.offer(&row("b", "11:00:00", "11:00:00")).unwrap();
        let (after, out) = d.finish(false, at("12:00:00"));
        assert_eq!((ids(&out), after.settled), (vec!["b"], c.settled));
    }

    #[test]
    fn state_round_trips_and_belongs_to_one_query() {
        let c = Cursor::baseline(
            "Account.CreatedDate",
            Event::Created,
            W,
            &[row("a", "10:00:00", "10:00:00")],
            None,
        )
        .unwrap();
        let mut state = json!({});
        c.store(&mut state);
        assert_eq!(Cursor::load(&state, "Account.CreatedDate"), Some(c));
        assert_eq!(Cursor::load(&state, "Lead.CreatedDate"), None);
        assert_eq!(Cursor::load(&json!({}), "Account.CreatedDate"), None);
        assert!(Key::of(&json!({"Id": "x"}), Event::Created)
            .unwrap_err()
            .contains("CreatedDate"));
    }
}
