//! Server processes on one database (migration 0007): each `switchyard start` registers a
//! row with its id, host and pid and keeps a heartbeat in it. An execution row names the
//! process running it, so a server starting beside another one (or after a `kill -9` of the
//! previous one) marks `crashed` only the executions of processes that are gone: a heartbeat
//! older than [`STALE_AFTER`], or a row of this host whose pid no longer runs (or is this
//! very pid, reused after a restart in a container).

use std::collections::HashSet;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use sqlx::Row;

use super::{now, StoreError, WorkflowStore};

/// How often a server writes its heartbeat (and looks for processes that are gone).
pub const HEARTBEAT_EVERY: Duration = Duration::from_secs(5);

/// A heartbeat older than this means the process is gone.
pub const STALE_AFTER: Duration = Duration::from_secs(30);

/// This host's name, as the processes table records it.
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown".to_owned())
}

/// Whether process `pid` of this host still runs. Only Linux can tell (by `/proc`); elsewhere
/// the heartbeat alone decides.
fn pid_runs(pid: i64) -> Option<bool> {
    if cfg!(target_os = "linux") {
        Some(std::path::Path::new(&format!("/proc/{pid}")).exists())
    } else {
        None
    }
}

/// The process ids registered by this OS process (tests run several servers in one).
static REGISTERED_HERE: Mutex<Option<HashSet<String>>> = Mutex::new(None);

fn registered_here(id: &str) -> bool {
    REGISTERED_HERE
        .lock()
        .map(|set| set.as_ref().is_some_and(|s| s.contains(id)))
        .unwrap_or(false)
}

fn set_registered_here(id: &str, registered: bool) {
    if let Ok(mut set) = REGISTERED_HERE.lock() {
        let set = set.get_or_insert_with(HashSet::new);
        if registered {
            set.insert(id.to_owned());
        } else {
            set.remove(id);
        }
    }
}

fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

impl WorkflowStore {
    /// The id this process writes into the executions it starts.
    pub fn process_id(&self) -> &str {
        &self.shared.process_id
    }

    /// Registers this process and its first heartbeat. Call once the listener is bound:
    /// a server that cannot serve must not claim anything.
    pub async fn register_process(&self) -> Result<(), StoreError> {
        let at = now();
        sqlx::query(
            "INSERT INTO processes (id, host, pid, started_at, heartbeat_at) VALUES ($1, $2, $3, $4, $4)",
        )
        .bind(self.process_id())
        .bind(host_name())
        .bind(i64::from(std::process::id()))
        .bind(&at)
        .execute(self.db.pool())
        .await?;
        set_registered_here(self.process_id(), true);
        Ok(())
    }

    /// Writes this process's heartbeat; registers again if another server took this one
    /// for gone (a database outage longer than [`STALE_AFTER`]).
    pub async fn heartbeat(&self) -> Result<(), StoreError> {
        let updated = sqlx::query("UPDATE processes SET heartbeat_at = $1 WHERE id = $2")
            .bind(now())
            .bind(self.process_id())
            .execute(self.db.pool())
            .await?
            .rows_affected();
        if updated == 0 {
            self.register_process().await?;
        }
        Ok(())
    }

    /// Removes this process's row at a clean stop.
    pub async fn unregister_process(&self) -> Result<(), StoreError> {
        set_registered_here(self.process_id(), false);
        sqlx::query("DELETE FROM processes WHERE id = $1")
            .bind(self.process_id())
            .execute(self.db.pool())
            .await?;
        Ok(())
    }

    /// The registered processes other than this one that are gone.
    async fn gone_processes(&self) -> Result<Vec<String>, StoreError> {
        let stale_before = stamp(Utc::now() - STALE_AFTER);
        let rows = sqlx::query("SELECT id, host, pid, heartbeat_at FROM processes WHERE id <> $1")
            .bind(self.process_id())
            .fetch_all(self.db.pool())
            .await?;
        let host = host_name();
        let me = i64::from(std::process::id());
        let mut gone = Vec::new();
        for row in rows {
            let id: String = row.try_get("id")?;
            let their_host: String = row.try_get("host")?;
            let pid: i64 = row.try_get("pid")?;
            let heartbeat: String = row.try_get("heartbeat_at")?;
            // On this host a pid that no longer runs is gone, and so is this very pid when
            // the row is not one of ours (a restarted container's process is pid 1 again).
            let dead_here = their_host == host
                && (pid_runs(pid) == Some(false) || (pid == me && !registered_here(&id)));
            if heartbeat < stale_before || dead_here {
                gone.push(id);
            }
        }
        Ok(gone)
    }

    /// Marks `crashed` the executions left `running` by processes that are gone, or that
    /// name no registered process (written before migration 0007, or left by a server that
    /// stopped past its drain time), and forgets the gone processes. Executions of live
    /// servers on the same database are left alone.
    pub async fn mark_crashed(&self) -> Result<u64, StoreError> {
        let gone = self.gone_processes().await?;
        // Called at every heartbeat: without a gone process, only a read, no write
        // transaction (SQLite has one writer), unless an orphaned running row exists.
        if gone.is_empty() {
            let orphan: Option<i64> = sqlx::query_scalar(
                "SELECT 1 FROM executions WHERE status = 'running' \
                 AND (process_id IS NULL OR process_id NOT IN (SELECT id FROM processes)) LIMIT 1",
            )
            .fetch_optional(self.db.pool())
            .await?;
            if orphan.is_none() {
                return Ok(0);
            }
        }
        let mut tx = self.db.pool().begin().await?;
        for id in &gone {
            sqlx::query("DELETE FROM processes WHERE id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            tracing::info!(process = %id, "a server process on this database is gone");
        }
        let marked = sqlx::query(
            "UPDATE executions SET status = 'crashed', stopped_at = $1 \
             WHERE status = 'running' \
             AND (process_id IS NULL OR process_id NOT IN (SELECT id FROM processes))",
        )
        .bind(now())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(marked)
    }

    /// Keeps the heartbeat and, at each beat, marks the executions of processes that died
    /// since as crashed. Aborted by the caller at stop.
    pub fn spawn_heartbeat(&self) -> tokio::task::JoinHandle<()> {
        let store = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(HEARTBEAT_EVERY);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            tick.tick().await;
            loop {
                tick.tick().await;
                if let Err(err) = store.heartbeat().await {
                    tracing::warn!(error = %err, "writing this server's heartbeat failed");
                    continue;
                }
                match store.mark_crashed().await {
                    Ok(0) => {}
                    Ok(crashed) => tracing::warn!(
                        crashed,
                        "executions of a server process that is gone were marked crashed"
                    ),
                    Err(err) => {
                        tracing::warn!(error = %err, "looking for gone server processes failed")
                    }
                }
            }
        })
    }
}
