//! Changes made by another process reach this server: `switchyard import workflow` (or a
//! second server on the same database) writes workflows the running server would otherwise
//! keep serving from memory, old definition on the old path, until a restart.
//!
//! Each second the server reads the workflows' count and latest `updated_at` (one small
//! query, on SQLite and Postgres alike); when that changes it compares every workflow's
//! active flag and `updated_at` with what it runs, and for each that differs it re-reads the
//! workflow, refreshes the webhook index and restarts (or stops) its triggers, under the
//! same lock the API's activate and deactivate take. Its own API changes show up too and
//! are recognised: triggers already running that definition are left alone.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use crate::store::StoreError;
use crate::workflows::WorkflowService;

/// How often the server looks for changes made elsewhere.
pub const SYNC_EVERY: Duration = Duration::from_secs(1);

type Versions = HashMap<String, (bool, String)>;

async fn versions(svc: &WorkflowService) -> Result<Versions, StoreError> {
    Ok(svc
        .store
        .workflow_versions()
        .await?
        .into_iter()
        .map(|(id, active, updated)| (id, (active, updated)))
        .collect())
}

/// Applies workflow `id` as the database holds it now.
async fn apply(svc: &Arc<WorkflowService>, id: &str) -> Result<(), StoreError> {
    let _changing = svc.triggers.changing().await;
    let Some(stored) = svc.store.reindex(id).await? else {
        if svc.triggers.is_running(id) {
            svc.triggers.stop(id).await;
            tracing::info!(workflow_id = %id, "workflow deleted by another process; its triggers stopped");
        }
        return Ok(());
    };
    if !stored.active {
        if svc.triggers.is_running(id) {
            svc.triggers.stop(id).await;
            tracing::info!(workflow_id = %id, "workflow deactivated by another process; its triggers stopped");
        }
        return Ok(());
    }
    if svc.triggers.running_version(id).as_deref() == Some(stored.updated_at.as_str()) {
        return Ok(());
    }
    match svc.triggers.plan(&stored.workflow, svc.executor.registry()) {
        Ok(plans) => {
            let restarted = !plans.is_empty();
            svc.triggers.start(svc, &stored, plans).await;
            if restarted {
                tracing::info!(workflow_id = %id, "workflow changed; its triggers run the stored definition");
            }
        }
        Err(e) => {
            svc.triggers.stop(id).await;
            tracing::error!(workflow_id = %id, error = %e, "workflow changed by another process cannot start its triggers; fix and activate it again");
        }
    }
    Ok(())
}

/// Reads what the database holds now, then watches for workflow changes made elsewhere
/// until aborted. Call it before the active workflows' triggers start, so that nothing
/// changed in between is missed.
pub async fn start(
    svc: Arc<WorkflowService>,
    every: Duration,
) -> Result<tokio::task::JoinHandle<()>, StoreError> {
    let mut known = (
        svc.store.workflows_fingerprint().await?,
        versions(&svc).await?,
    );
    Ok(tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        loop {
            tick.tick().await;
            let result: Result<(), StoreError> = async {
                let fingerprint = svc.store.workflows_fingerprint().await?;
                let (seen, before) = &known;
                if *seen == fingerprint {
                    return Ok(());
                }
                let now = versions(&svc).await?;
                let changed: Vec<&String> = now
                    .iter()
                    .filter(|(id, v)| before.get(*id) != Some(v))
                    .map(|(id, _)| id)
                    .chain(before.keys().filter(|id| !now.contains_key(*id)))
                    .collect();
                for id in changed {
                    apply(&svc, id).await?;
                }
                known = (fingerprint, now);
                Ok(())
            }
            .await;
            if let Err(err) = result {
                tracing::warn!(error = %err, "looking for workflow changes made elsewhere failed; trying again");
            }
        }
    }))
}
