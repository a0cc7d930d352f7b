//! One query for the triggers that poll the same thing in the same tick.
//!
//! Triggers of the same credential, object and event whose polls arrive within a short
//! gathering time (the same tick of their schedules) join one batch. The batch runs one query
//! from the smallest cursor among them, and each row is offered to every member, which keeps
//! what is new to its own cursor. n8n makes one query per workflow; here ten workflows on
//! the same trigger cost one call per tick.
//!
//! The batch runs on its own task, so a member whose poll is dropped takes no one else's
//! answer with it. Joining a batch is the same as polling a few milliseconds earlier: a
//! record committed meanwhile is read by the next poll (the cursor moves only past what was
//! read), so sharing changes the cost, never what is delivered.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::TryStreamExt;
use node_api::NodeError;
use tokio::sync::oneshot;

use serde_json::Value;

use super::cursor::{soql_datetime, Cursor, Delivery};
use crate::client::{Client, QueryOptions};
use crate::node::api::node_error;

/// What makes two polls the same query.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct QueryKey {
    /// The credential's id.
    pub credential: String,
    /// `SELECT ... FROM Object`.
    pub select: String,
    /// The timestamp field the query is ordered by.
    pub field: &'static str,
}

struct Member {
    delivery: Delivery,
    reply: oneshot::Sender<Result<Finished, NodeError>>,
}

/// A member's answer: its cursor to save and its records.
pub(crate) type Finished = (Cursor, Vec<Value>);

type Open = HashMap<QueryKey, Arc<Mutex<Vec<Member>>>>;

/// The batches gathering members, by query.
pub(crate) struct Polls {
    gather: Duration,
    open: Arc<Mutex<Open>>,
}

impl Polls {
    /// Batches that gather polls for `gather` before querying.
    pub fn new(gather: Duration) -> Self {
        Polls {
            gather,
            open: Arc::default(),
        }
    }

    /// Runs `delivery` through the batch for `key`, starting one if none is gathering.
    pub async fn run(
        &self,
        client: &Client,
        key: QueryKey,
        delivery: Delivery,
    ) -> Result<Finished, NodeError> {
        let (reply, answer) = oneshot::channel();
        let member = Member { delivery, reply };
        let started = {
            let mut open = lock(&self.open);
            match open.get(&key) {
                Some(batch) => {
                    // Pushed under the map's lock: the batch cannot close in between.
                    lock(batch).push(member);
                    None
                }
                None => {
                    let batch = Arc::new(Mutex::new(vec![member]));
                    open.insert(key.clone(), batch.clone());
                    Some(batch)
                }
            }
        };
        if let Some(batch) = started {
            let (open, gather, client) = (self.open.clone(), self.gather, client.clone());
            tokio::spawn(async move {
                tokio::time::sleep(gather).await;
                // Closed: polls from now on start their own batch.
                lock(&open).remove(&key);
                let members = std::mem::take(&mut *lock(&batch));
                query(&client, &key, members).await;
            });
        }
        answer.await.map_err(|_| {
            NodeError::operation("the shared Salesforce query ended without an answer")
        })?
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Reads the query's pages until every member is full or the rows end, then answers each
/// with its cursor and records.
async fn query(client: &Client, key: &QueryKey, mut members: Vec<Member>) {
    let lowers: Vec<_> = members.iter().map(|m| m.delivery.lower()).collect();
    // A member without a cursor reads everything.
    let lower = if lowers.iter().any(Option::is_none) {
        None
    } else {
        lowers.into_iter().flatten().min()
    };
    let filter = lower
        .map(|t| format!(" WHERE {} >= {}", key.field, soql_datetime(t)))
        .unwrap_or_default();
    let soql = format!("{}{filter} ORDER BY {}, Id", key.select, key.field);
    tracing::debug!(credential_id = %key.credential, members = members.len(), %soql, "Salesforce trigger query");
    // The query read the org at the latest when the first page was answered, and at the
    // earliest a whole request timeout before.
    let margin =
        chrono::Duration::from_std(client.retry_policy().timeout).unwrap_or(chrono::Duration::MAX);
    let mut read_at = None;
    let mut read_all = false;
    let result: Result<(), NodeError> = async {
        let pages = client.query_pages(&key.credential, &soql, QueryOptions::default());
        futures::pin_mut!(pages);
        while !members.iter().all(|m| m.delivery.full()) {
            let Some(page) = pages.try_next().await.map_err(|e| node_error(&e))? else {
                read_all = true;
                break;
            };
            read_at = read_at.or(page.server_time.map(|t| t - margin));
            for row in &page.records {
                for m in &mut members {
                    m.delivery.offer(row).map_err(|e| {
                        NodeError::operation(format!("Salesforce answered an unusable row: {e}"))
                    })?;
                }
            }
        }
        Ok(())
    }
    .await;
    for m in members {
        let answer = result
            .clone()
            .map(|()| m.delivery.finish(read_all, read_at));
        let _ = m.reply.send(answer);
    }
}
