//! Execution rows written in groups: every execution costs an insert when it starts and
//! an update (or delete) when it ends, and under load those writes are most of the work.
//!
//! One task per store takes the writes queued since its last commit and applies them in a
//! single transaction. SQLite then never has two connections racing for its one write
//! lock (whose busy handler sleeps for milliseconds), and both backends pay one commit for
//! many executions. Each caller still waits for its own write to be committed and gets
//! its own result: when a group fails, its writes are retried one by one.

use std::collections::HashSet;
use std::sync::OnceLock;

use db::Db;
use tokio::sync::{mpsc, oneshot};

/// Writes taken into one transaction at most.
const MAX_GROUP: usize = 256;

/// Writes waiting at most; a full queue makes callers wait, so that a load the database
/// cannot keep up with slows the callers down instead of piling up in memory.
const QUEUE: usize = 2 * MAX_GROUP;

/// One execution row change.
#[derive(Debug)]
pub(crate) enum Write {
    /// A new `running` execution.
    Start {
        id: String,
        workflow_id: String,
        mode: String,
        started_at: String,
        process_id: String,
    },
    /// How it ended.
    Finish {
        id: String,
        status: &'static str,
        stopped_at: String,
        /// The run data as text, shared with the caller, which may send it again on a retry.
        data: Option<std::sync::Arc<String>>,
        error: Option<String>,
    },
    /// Not kept (saving policy).
    Delete { id: String },
}

struct Queued {
    write: Write,
    done: oneshot::Sender<Result<u64, sqlx::Error>>,
}

/// The queue in front of the writer task, started on first use.
#[derive(Debug, Default)]
pub(crate) struct Writer {
    queue: OnceLock<mpsc::Sender<Queued>>,
}

impl std::fmt::Debug for Queued {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Queued")
            .field("write", &self.write)
            .finish()
    }
}

impl Writer {
    /// Writes queued and not yet taken into a group.
    pub(crate) fn queued(&self) -> usize {
        self.queue
            .get()
            .map_or(0, |q| q.max_capacity() - q.capacity())
    }

    /// Applies `write` in the next group and returns the rows it affected.
    pub(crate) async fn apply(&self, db: &Db, write: Write) -> Result<u64, sqlx::Error> {
        self.submit(db, write)
            .await
            .await
            .map_err(|_| sqlx::Error::WorkerCrashed)?
    }

    /// Queues `write` (waiting while the queue is full) and returns without waiting for it to
    /// be applied. Writes are applied in the order they were queued, so a later write to the
    /// same row lands after it. A failure nobody waits for is logged.
    pub(crate) async fn submit(
        &self,
        db: &Db,
        write: Write,
    ) -> oneshot::Receiver<Result<u64, sqlx::Error>> {
        let queue = self.queue.get_or_init(|| {
            let (tx, rx) = mpsc::channel(QUEUE);
            tokio::spawn(run(db.clone(), rx));
            tx
        });
        let (done, result) = oneshot::channel();
        // The task only ends when the queue is dropped, so this send fails only if it
        // panicked; the caller then sees a closed channel.
        let _ = queue.send(Queued { write, done }).await;
        result
    }
}

fn reply(queued: Queued, result: Result<u64, sqlx::Error>) {
    if let Err(Err(err)) = queued.done.send(result) {
        tracing::warn!(error = %err, "an execution write failed");
    }
}

async fn run(db: Db, mut rx: mpsc::Receiver<Queued>) {
    let mut group = Vec::with_capacity(MAX_GROUP);
    while rx.recv_many(&mut group, MAX_GROUP).await > 0 {
        match apply_group(&db, &group).await {
            Ok(counts) => {
                for (queued, count) in group.drain(..).zip(counts) {
                    reply(queued, Ok(count));
                }
            }
            Err(err) => {
                tracing::debug!(error = %err, writes = group.len(), "a group of execution writes failed; applying them one by one");
                for queued in group.drain(..) {
                    let result = apply_one(&db, &queued.write, None).await;
                    reply(queued, result);
                }
            }
        }
    }
}

/// One transaction for the group, and one statement per kind of write: a multi-row insert
/// for the starts, an `UPDATE ... FROM (VALUES ...)` for the ends, one `DELETE ... IN` (both
/// backends accept these, and `RETURNING` tells which rows each touched). Statements are
/// built from placeholders only. A row's start always precedes its end in the queue, so
/// applying the starts first keeps each row's order.
async fn apply_group(db: &Db, group: &[Queued]) -> Result<Vec<u64>, sqlx::Error> {
    if let [one] = group {
        return Ok(vec![apply_one(db, &one.write, None).await?]);
    }
    let mut tx = db.pool().begin().await?;
    let mut counts = vec![0; group.len()];

    let starts: Vec<usize> = (0..group.len())
        .filter(|&i| matches!(group[i].write, Write::Start { .. }))
        .collect();
    if !starts.is_empty() {
        let rows = placeholders(starts.len(), 5, |p| {
            format!(
                "({}, {}, {}, 'running', {}, {})",
                p[0], p[1], p[2], p[3], p[4]
            )
        });
        let sql = format!(
            "INSERT INTO executions (id, workflow_id, mode, status, started_at, process_id) VALUES {rows}"
        );
        let mut query = sqlx::query(&sql);
        for &i in &starts {
            if let Write::Start {
                id,
                workflow_id,
                mode,
                started_at,
                process_id,
            } = &group[i].write
            {
                query = query
                    .bind(id)
                    .bind(workflow_id)
                    .bind(mode)
                    .bind(started_at)
                    .bind(process_id);
            }
        }
        query.execute(&mut *tx).await?;
        for &i in &starts {
            counts[i] = 1;
        }
    }

    let finishes: Vec<usize> = (0..group.len())
        .filter(|&i| matches!(group[i].write, Write::Finish { .. }))
        .collect();
    if !finishes.is_empty() {
        let rows = placeholders(finishes.len(), 5, |p| format!("({})", p.join(", ")));
        let sql = format!(
            "UPDATE executions SET status = v.column2, stopped_at = v.column3, data = v.column4, \
             error = v.column5 FROM (VALUES {rows}) AS v WHERE executions.id = v.column1 \
             RETURNING executions.id"
        );
        let mut query = sqlx::query(&sql);
        for &i in &finishes {
            if let Write::Finish {
                id,
                status,
                stopped_at,
                data,
                error,
            } = &group[i].write
            {
                // Borrowed: the Any driver copies a String it is handed by reference, and
                // the run data can be tens of megabytes.
                query = query
                    .bind(id.as_str())
                    .bind(*status)
                    .bind(stopped_at.as_str())
                    .bind(data.as_deref().map(String::as_str))
                    .bind(error.as_deref());
            }
        }
        let touched = returned_ids(query.fetch_all(&mut *tx).await?)?;
        for &i in &finishes {
            if let Write::Finish { id, .. } = &group[i].write {
                counts[i] = u64::from(touched.contains(id.as_str()));
            }
        }
    }

    let deletes: Vec<usize> = (0..group.len())
        .filter(|&i| matches!(group[i].write, Write::Delete { .. }))
        .collect();
    if !deletes.is_empty() {
        let list = placeholders(deletes.len(), 1, |p| p[0].clone());
        let sql = format!("DELETE FROM executions WHERE id IN ({list}) RETURNING id");
        let mut query = sqlx::query(&sql);
        for &i in &deletes {
            if let Write::Delete { id } = &group[i].write {
                query = query.bind(id);
            }
        }
        let touched = returned_ids(query.fetch_all(&mut *tx).await?)?;
        for &i in &deletes {
            if let Write::Delete { id } = &group[i].write {
                counts[i] = u64::from(touched.contains(id.as_str()));
            }
        }
    }
    tx.commit().await?;
    Ok(counts)
}

/// `rows` groups of `width` numbered placeholders (`$1`, `$2`, ...), each shaped by `row`,
/// joined with commas.
fn placeholders(rows: usize, width: usize, row: impl Fn(&[String]) -> String) -> String {
    (0..rows)
        .map(|r| {
            let p: Vec<String> = (1..=width).map(|c| format!("${}", r * width + c)).collect();
            row(&p)
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn returned_ids(rows: Vec<sqlx::any::AnyRow>) -> Result<HashSet<String>, sqlx::Error> {
    use sqlx::Row;
    rows.iter().map(|r| r.try_get::<String, _>(0)).collect()
}

async fn apply_one(
    db: &Db,
    write: &Write,
    tx: Option<&mut sqlx::Transaction<'static, sqlx::Any>>,
) -> Result<u64, sqlx::Error> {
    let query = match write {
        Write::Start {
            id,
            workflow_id,
            mode,
            started_at,
            process_id,
        } => sqlx::query(
            "INSERT INTO executions (id, workflow_id, mode, status, started_at, process_id) \
             VALUES ($1, $2, $3, 'running', $4, $5)",
        )
        .bind(id)
        .bind(workflow_id)
        .bind(mode)
        .bind(started_at)
        .bind(process_id),
        Write::Finish {
            id,
            status,
            stopped_at,
            data,
            error,
        } => sqlx::query(
            "UPDATE executions SET status = $1, stopped_at = $2, data = $3, error = $4 WHERE id = $5",
        )
        .bind(*status)
        .bind(stopped_at.as_str())
        .bind(data.as_deref().map(String::as_str))
        .bind(error.as_deref())
        .bind(id.as_str()),
        Write::Delete { id } => sqlx::query("DELETE FROM executions WHERE id = $1").bind(id),
    };
    let done = match tx {
        Some(tx) => query.execute(&mut **tx).await?,
        None => query.execute(db.pool()).await?,
    };
    Ok(done.rows_affected())
}
