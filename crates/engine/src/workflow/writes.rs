//! Execution rows written in groups: every execution costs an insert when it starts and
//! an update (or delete) when it ends, and under load those writes are most of the work.
//!
//! One task per store takes the writes queued since its last commit and applies them in a
//! single transaction. SQLite then never has two connections racing for its one write
//! lock (whose busy handler sleeps for milliseconds), and both backends pay one commit for
//! many executions. Each caller still waits for its own write to be committed and gets
//! its own result: when a group fails, its writes are retried one by one.

use std::sync::OnceLock;

use credentials::Db;
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
    },
    /// How it ended.
    Finish {
        id: String,
        status: &'static str,
        stopped_at: String,
        data: Option<String>,
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

async fn apply_group(db: &Db, group: &[Queued]) -> Result<Vec<u64>, sqlx::Error> {
    if let [one] = group {
        return Ok(vec![apply_one(db, &one.write, None).await?]);
    }
    let mut tx = db.pool().begin().await?;
    let mut counts = Vec::with_capacity(group.len());
    for queued in group {
        counts.push(apply_one(db, &queued.write, Some(&mut tx)).await?);
    }
    tx.commit().await?;
    Ok(counts)
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
        } => sqlx::query(
            "INSERT INTO executions (id, workflow_id, mode, status, started_at) \
             VALUES ($1, $2, $3, 'running', $4)",
        )
        .bind(id)
        .bind(workflow_id)
        .bind(mode)
        .bind(started_at),
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
        .bind(stopped_at)
        .bind(data)
        .bind(error)
        .bind(id),
        Write::Delete { id } => sqlx::query("DELETE FROM executions WHERE id = $1").bind(id),
    };
    let done = match tx {
        Some(tx) => query.execute(&mut **tx).await?,
        None => query.execute(db.pool()).await?,
    };
    Ok(done.rows_affected())
}
