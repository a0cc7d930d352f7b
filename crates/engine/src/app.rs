//! Assembling the server: settings -> key ring -> database -> stores -> router.

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use axum::extract::DefaultBodyLimit;
use axum::http::Request;
use backon::{ExponentialBuilder, Retryable};
use credentials::CredentialStore;
use credentials::{CredentialTypes, ValidateOptions};
use credentials::{KeyRing, KeySource};
use db::Db;
use node_api::Plugin;
use tokio::net::TcpListener;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::config::{redact_url, Settings};
use crate::node_credentials::StoreCredentials;
use crate::plugins::{self, HostParts};
use crate::store::WorkflowStore;
use crate::triggers::{start_active_workflows, TriggerRuntime};
use crate::workflows::WorkflowService;
use workflow::{Executor, NodeRegistry};

/// What every handler shares. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// The database.
    pub db: Db,
    /// The credential store (it knows the credential types).
    pub credentials: CredentialStore,
    /// The started plugins.
    pub plugins: Arc<plugins::Registry>,
    /// How credential data is validated (insecure loopback hosts or not).
    pub validate_options: ValidateOptions,
    /// Workflows and executions: storage, executor, API.
    pub workflows: Arc<WorkflowService>,
    /// Webhook executions at once, and waiting.
    pub webhook_gate: Arc<crate::api::gate::WebhookGate>,
    /// The settings the server started with.
    pub settings: Arc<Settings>,
    /// The web console's in-memory state (the sign-in rate limit).
    pub console: Arc<crate::console::Shared>,
}

/// Opens everything the settings name: the key ring (generating a key file on first
/// start), the database (migrated), the stores, and `plugins` (their nodes, the core nodes
/// included, are all the node types there are). Refuses when stored credentials need a key
/// the ring does not hold.
pub async fn open(settings: Settings, plugins: Vec<Arc<dyn Plugin>>) -> anyhow::Result<AppState> {
    let default_timezone = settings
        .default_timezone()
        .map_err(|e| anyhow::anyhow!("refusing to start: {e}"))?;
    crate::files::private_data_dir(&settings.data_dir).with_context(|| {
        format!(
            "cannot create the data directory {} (mode 0700)",
            settings.data_dir.display()
        )
    })?;
    // Process-wide: every evaluation in this process runs under them.
    workflow::expr::set_limits(settings.expression_limits());
    let (keys, source) = KeyRing::load(&settings.key_config())?;
    if let KeySource::Generated(path) = &source {
        tracing::warn!(
            path = %path.display(),
            key_id = %keys.current_id(),
            "generated a new encryption key; back up this file: without it stored credentials cannot be decrypted"
        );
    }
    let url = settings.database_url();
    let sqlite_file = crate::files::sqlite_file(&url);
    if let Some(path) = &sqlite_file {
        crate::files::create_private_database(path)
            .with_context(|| format!("cannot create the database file {}", path.display()))?;
    }
    let db = connect(&url, settings.database_connect_wait())
        .await
        .with_context(|| format!("cannot open the database at {}", redact_url(&url)))?;
    if let Some(path) = &sqlite_file {
        crate::files::private_database_files(path).with_context(|| {
            format!(
                "cannot make the database files under {} private (0600)",
                path.display()
            )
        })?;
    }
    let types = CredentialTypes::new(plugins::credential_types(&plugins))
        .map_err(|e| anyhow::anyhow!("refusing to start: {e}"))?;
    let validate_options = ValidateOptions {
        allow_insecure_loopback: settings.allow_insecure_hosts,
    };
    let credentials = CredentialStore::new(
        db.clone(),
        Arc::new(keys),
        Arc::new(types),
        validate_options,
    );
    credentials.check_keys().await.context(
        "refusing to start: set SWITCHYARD_ENCRYPTION_KEY to the key these credentials were stored with, \
         or list it in SWITCHYARD_PREVIOUS_ENCRYPTION_KEYS and run `switchyard rotate-key`",
    )?;
    // One outbound client (connection pool, timeouts) for every node and plugin.
    let http = http_client(settings.ca_file.as_deref())?;
    let started = plugins::Registry::start(
        &plugins,
        &HostParts {
            http: http.clone(),
            credentials: Arc::new(credentials.clone()),
            settings: settings.plugins.clone(),
            allow_insecure_hosts: settings.allow_insecure_hosts,
        },
    )
    .map_err(|e| anyhow::anyhow!("refusing to start: {e}"))?;
    let mut nodes = NodeRegistry::new();
    started.register_nodes(&mut nodes);
    let executor = Executor::new(Arc::new(nodes), http, Arc::new(credentials.clone()))
        .with_default_timezone(default_timezone)
        .with_max_workflow_depth(usize::try_from(settings.max_workflow_depth).unwrap_or(10))
        .with_wait_in_process(std::time::Duration::from_secs(
            settings.wait_in_process_secs,
        ))
        .with_public_url(&settings.public_url);
    let workflows = Arc::new(WorkflowService::new(
        WorkflowStore::with_settings(db.clone(), settings.executions.policy()),
        executor,
        Some(Arc::new(StoreCredentials::new(credentials.clone()))),
        TriggerRuntime::new(default_timezone),
    ));
    Ok(AppState {
        db,
        credentials,
        plugins: Arc::new(started),
        validate_options,
        workflows,
        webhook_gate: Arc::new(crate::api::gate::WebhookGate::new(
            usize::try_from(settings.webhook_concurrency).unwrap_or(usize::MAX),
            usize::try_from(settings.webhook_queue).unwrap_or(usize::MAX),
        )),
        settings: Arc::new(settings),
        console: Arc::default(),
    })
}

/// Connects to the database. A Postgres server may still be starting (a compose stack brings
/// both up together), so connection failures are retried for up to `wait`; a SQLite file
/// that cannot be opened, or a failed migration, fails at once.
async fn connect(url: &str, wait: std::time::Duration) -> Result<Db, db::DbError> {
    let retry = matches!(db::backend_of(url), Ok(db::Backend::Postgres));
    (|| Db::connect(url))
        .retry(
            ExponentialBuilder::default()
                .with_min_delay(std::time::Duration::from_millis(250))
                .with_max_delay(std::time::Duration::from_secs(5))
                .with_total_delay(Some(wait))
                .without_max_times(),
        )
        .when(|e| retry && matches!(e, db::DbError::Sqlx(_)))
        .notify(|e, next| {
            tracing::warn!(error = %e, retry_in_ms = next.as_millis() as u64, "the database does not answer yet; retrying");
        })
        .await
}

/// The one outbound HTTP client (connection pool, rustls), shared by every node. It trusts the
/// platform's CA store, and the certificates of `ca_file` (`SWITCHYARD_CA_FILE`) when given.
pub fn http_client(ca_file: Option<&std::path::Path>) -> anyhow::Result<reqwest::Client> {
    let mut builder = reqwest::Client::builder()
        .connect_timeout(std::time::Duration::from_secs(10))
        .timeout(std::time::Duration::from_secs(300))
        .user_agent(concat!("switchyard/", env!("CARGO_PKG_VERSION")));
    if let Some(path) = ca_file {
        let pem = std::fs::read(path)
            .with_context(|| format!("SWITCHYARD_CA_FILE: cannot read {}", path.display()))?;
        let certificates = reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|e| anyhow::anyhow!(node_api::error_with_causes(&e)))
            .with_context(|| format!("SWITCHYARD_CA_FILE: {} is not a PEM file", path.display()))?;
        if certificates.is_empty() {
            anyhow::bail!(
                "SWITCHYARD_CA_FILE: {} holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
                path.display()
            );
        }
        for certificate in certificates {
            builder = builder.add_root_certificate(certificate);
        }
    }
    builder.build().context("cannot build the HTTP client")
}

/// The router with its middleware: request ids, a span per request (method and path,
/// never the query, which can carry OAuth codes), the body limit.
pub fn router(state: AppState) -> axum::Router {
    let limit = state.settings.max_body_bytes;
    let limits = crate::api::BodyLimits {
        api: limit,
        webhook: state.settings.max_webhook_body_bytes,
    };
    let routes = crate::api::router(state.clone());
    let routes = if state.settings.disable_ui {
        routes
    } else {
        routes.merge(crate::console::router(state))
    };
    routes
        .layer(axum::middleware::from_fn(crate::api::refuse_nul_bytes))
        .layer(axum::middleware::from_fn(crate::api::errors_as_json))
        .layer(DefaultBodyLimit::max(limit))
        .layer(axum::middleware::from_fn_with_state(
            limits,
            crate::api::refuse_oversized,
        ))
        .layer(
            TraceLayer::new_for_http().make_span_with(|req: &Request<_>| {
                let request_id = req
                    .headers()
                    .get("x-request-id")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default();
                tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id)
            }),
        )
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
}

/// How often waiting executions are checked for being due (n8n's wait tracker).
const WAIT_TRACKER_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// How long shutdown waits for executions still running once requests have drained.
const DRAIN_EXECUTIONS: std::time::Duration = std::time::Duration::from_secs(30);

/// How long shutdown then waits for the cancelled executions to store their end.
const CANCEL_GRACE: std::time::Duration = std::time::Duration::from_secs(5);

/// Starts the active workflows' triggers and the pruning task, serves until `shutdown`
/// completes, then stops the triggers (no new executions), lets in-flight requests and
/// executions finish and their ends be stored, and closes the database.
pub async fn serve(
    state: AppState,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let db = state.db.clone();
    let workflows = state.workflows.clone();
    // Only a server that holds its listener does this (a second server on the same address
    // fails to bind before it touches anything), and only for executions of processes that
    // are gone: a live server beside this one on the same database keeps its own.
    workflows
        .store
        .register_process()
        .await
        .context("cannot register this server process in the database")?;
    let crashed = workflows.store.mark_crashed().await?;
    if crashed > 0 {
        tracing::warn!(
            crashed,
            "executions left running by a server that is gone were marked crashed"
        );
    }
    let heartbeat = workflows.store.spawn_heartbeat();
    let watching = crate::sync::start(workflows.clone(), crate::sync::SYNC_EVERY)
        .await
        .context("cannot read the workflows")?;
    workflows
        .store
        .claim_active_webhook_paths()
        .await
        .context("cannot record which workflows own the webhook paths")?;
    let started = start_active_workflows(&workflows)
        .await
        .context("cannot read the active workflows")?;
    if started > 0 {
        tracing::info!(workflows = started, "triggers of active workflows started");
    }
    // Once at start, then every `prune_every` (15 minutes unless an embedder says otherwise).
    let pruning = workflows
        .store
        .spawn_pruning(state.settings.executions.prune_every);
    let limits = state.settings.connection_limits();
    let waits = workflows.runner.spawn_wait_tracker(WAIT_TRACKER_EVERY);
    let app = router(state);
    let stopping = workflows.clone();
    crate::server::serve(listener, app, limits, async move {
        shutdown.await;
        // Stop firing at once, while in-flight requests drain.
        stopping.triggers.close().await;
    })
    .await;
    workflows.triggers.shutdown().await;
    waits.abort();
    // A webhook's answer can go out before its execution ends (onReceived, Respond to
    // Webhook): wait for those ends to be stored before the database closes; past the drain
    // time, cancel what still runs and store those ends as canceled.
    if !workflows.store.wait_until_idle(DRAIN_EXECUTIONS).await {
        let cancelled = workflows.runner.cancel_all();
        tracing::warn!(
            cancelled,
            "executions still running at shutdown were cancelled"
        );
        if !workflows.store.wait_until_idle(CANCEL_GRACE).await {
            tracing::warn!(
                running = workflows.store.running_count(),
                "executions did not stop in time; they will be marked crashed at the next start"
            );
        }
    }
    if let Some(pruning) = pruning {
        pruning.abort();
    }
    heartbeat.abort();
    watching.abort();
    if let Err(err) = workflows.store.unregister_process().await {
        tracing::warn!(error = %err, "could not remove this server's process row");
    }
    db.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// `switchyard start`: open with `plugins`, bind, serve until SIGTERM or SIGINT.
pub async fn start(settings: Settings, plugins: Vec<Arc<dyn Plugin>>) -> anyhow::Result<()> {
    let began = Instant::now();
    let listen = settings.listen;
    let state = open(settings, plugins).await?;
    let listener = TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    tracing::info!(
        address = %listener.local_addr()?,
        startup_ms = began.elapsed().as_millis() as u64,
        "Switchyard is ready"
    );
    serve(state, listener, shutdown_signal()).await
}

/// Resolves on Ctrl+C or SIGTERM.
pub(crate) async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { () = ctrl_c => {}, () = term => {} }
    tracing::info!("shutting down: finishing in-flight requests");
}
