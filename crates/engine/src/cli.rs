//! The `switchyard` commands other than `start`.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use credentials::{Actor, ExportedCredential, RotateOptions};
use node_api::Plugin;

use crate::app;
use crate::config::{
    ApiKeyCommand, Cli, Command, CredentialsCommand, ExportCommand, ImportCommand, OwnerCommand,
    RotateArgs, Settings,
};

/// Runs the command the user asked for with `plugins` hosted; output goes to `out`, logs to
/// stderr.
pub async fn run(
    cli: Cli,
    plugins: Vec<Arc<dyn Plugin>>,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    match cli.command {
        Command::Start => app::start(cli.settings, plugins).await,
        Command::ApiKey(ApiKeyCommand::Create { name }) => {
            api_key_create(cli.settings, plugins, &name, out).await
        }
        Command::ApiKey(ApiKeyCommand::List) => api_key_list(cli.settings, plugins, out).await,
        Command::ApiKey(ApiKeyCommand::Revoke { id_or_name }) => {
            api_key_revoke(cli.settings, plugins, &id_or_name, out).await
        }
        Command::Owner(OwnerCommand::Create { email, name }) => {
            owner_create(cli.settings, plugins, &email, &name, out).await
        }
        Command::Audit { credential, limit } => {
            audit(cli.settings, plugins, credential.as_deref(), limit, out).await
        }
        Command::RotateKey(args) => rotate_key(cli.settings, plugins, args, out).await,
        Command::Export(ExportCommand::Credentials {
            decrypted: _,
            output,
        }) => export_credentials(cli.settings, plugins, &output, out).await,
        Command::Import(ImportCommand::Credentials { file, skip_unknown }) => {
            import_credentials(cli.settings, plugins, &file, skip_unknown, out).await
        }
        Command::Export(ExportCommand::Workflow { id, all: _, output }) => {
            export_workflows(cli.settings, plugins, id.as_deref(), output.as_deref(), out).await
        }
        Command::Import(ImportCommand::Workflow { file }) => {
            import_workflows(cli.settings, plugins, &file, out).await
        }
        Command::Credentials(CredentialsCommand::Connect { id }) => {
            credentials_connect(cli.settings, plugins, &id, out).await
        }
        Command::Demo(args) => crate::demo::run(cli.settings, args, plugins, out).await,
    }
}

/// Starts a connect attempt in the shared database, as the server's auth route does; the
/// server's callback completes it.
async fn credentials_connect(
    settings: Settings,
    plugins: Vec<Arc<dyn Plugin>>,
    id: &str,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let state = app::open(settings, plugins).await?;
    let url = crate::connect::authorize_url(&state, id).await;
    state.db.close().await;
    let url = url.map_err(|e| match e {
        crate::connect::StartError::Internal(inner) => inner,
        other => anyhow::anyhow!("{other}"),
    })?;
    writeln!(
        out,
        "Open this URL in a browser within 5 minutes and allow access; the service then sends you to {} \
         and the running Switchyard server completes the connection:",
        crate::connect::redirect_uri(&state.settings.public_url)
    )?;
    writeln!(out, "{url}")?;
    Ok(())
}

/// `switchyard owner create`: the password from `SWITCHYARD_OWNER_PASSWORD`, or else the
/// first line of standard input.
async fn owner_create(
    settings: Settings,
    plugins: Vec<Arc<dyn Plugin>>,
    email: &str,
    name: &str,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let password = match std::env::var("SWITCHYARD_OWNER_PASSWORD") {
        Ok(p) if !p.is_empty() => zeroize::Zeroizing::new(p),
        _ => {
            let mut line = zeroize::Zeroizing::new(String::new());
            std::io::stdin()
                .read_line(&mut line)
                .context("cannot read the password from standard input")?;
            let trimmed = zeroize::Zeroizing::new(line.trim_end_matches(['\r', '\n']).to_owned());
            anyhow::ensure!(
                !trimmed.is_empty(),
                "password: set SWITCHYARD_OWNER_PASSWORD or write the password on standard input"
            );
            trimmed
        }
    };
    let state = app::open(settings, plugins).await?;
    let created = crate::console::create_owner(&state.db, email, name, &password).await;
    state.db.close().await;
    created?;
    writeln!(
        out,
        "Created the console owner {}; sign in at {}/signin",
        email.trim().to_lowercase(),
        state.settings.public_url.trim_end_matches('/')
    )?;
    Ok(())
}

async fn api_key_create(
    settings: Settings,
    plugins: Vec<Arc<dyn Plugin>>,
    name: &str,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let state = app::open(settings, plugins).await?;
    let (key, secret) = crate::api_keys::create(&state.db, name).await?;
    writeln!(
        out,
        "Created API key {:?} (id {}). It is shown only this once; store it now:",
        key.name, key.id
    )?;
    writeln!(out, "{secret}")?;
    state.db.close().await;
    Ok(())
}

async fn api_key_list(
    settings: Settings,
    plugins: Vec<Arc<dyn Plugin>>,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let state = app::open(settings, plugins).await?;
    let keys = crate::api_keys::list(&state.db).await;
    state.db.close().await;
    let keys = keys?;
    writeln!(out, "NAME\tID\tCREATED\tLAST USED")?;
    for key in &keys {
        writeln!(
            out,
            "{}\t{}\t{}\t{}",
            key.name,
            key.id,
            key.created_at,
            key.last_used_at.as_deref().unwrap_or("never")
        )?;
    }
    Ok(())
}

async fn api_key_revoke(
    settings: Settings,
    plugins: Vec<Arc<dyn Plugin>>,
    id_or_name: &str,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let state = app::open(settings, plugins).await?;
    let revoked = crate::api_keys::revoke(&state.db, id_or_name).await;
    state.db.close().await;
    let revoked = revoked?;
    writeln!(
        out,
        "Revoked API key {:?} (id {}); requests made with it are refused from now on.",
        revoked.name, revoked.id
    )?;
    Ok(())
}

async fn audit(
    settings: Settings,
    plugins: Vec<Arc<dyn Plugin>>,
    credential: Option<&str>,
    limit: u32,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let state = app::open(settings, plugins).await?;
    let entries = state.credentials.audit(credential, limit).await;
    state.db.close().await;
    for entry in entries? {
        writeln!(
            out,
            "{}\t{}\t{}\t{}\t{}",
            entry
                .at
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            entry.actor,
            entry.action.as_str(),
            entry.credential_id,
            entry.credential_name.unwrap_or_default()
        )?;
    }
    Ok(())
}

async fn rotate_key(
    settings: Settings,
    plugins: Vec<Arc<dyn Plugin>>,
    args: RotateArgs,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let state = app::open(settings, plugins).await?;
    let options = RotateOptions {
        batch_size: args.batch_size,
        pause: Duration::from_millis(args.pause_ms),
    };
    let rotation = state
        .credentials
        .rotate(options, |moved| tracing::info!(moved, "rotation progress"));
    // Ctrl-C (handled even when the shell started us with SIGINT ignored): the batch under
    // way rolls back with its transaction (or, if its COMMIT was already sent, lands a moment
    // later); either way each row is whole under one key, and the database is closed cleanly.
    let report = tokio::select! {
        report = rotation => report.context("rotation stopped; it is safe to run it again")?,
        _ = tokio::signal::ctrl_c() => {
            state.db.close().await;
            anyhow::bail!(
                "rotation interrupted (Ctrl-C): every credential still reads with the current \
                 or a previous key; it is safe to run it again"
            );
        }
    };
    writeln!(
        out,
        "Re-encrypted {} credential rows under key {} ({} were already under it, {} were rewritten \
         under it by the running server meanwhile).",
        report.moved,
        state.credentials.current_key_id(),
        report.already_current,
        report.changed_concurrently
    )?;
    state.db.close().await;
    Ok(())
}

async fn export_credentials(
    settings: Settings,
    plugins: Vec<Arc<dyn Plugin>>,
    path: &Path,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let state = app::open(settings, plugins).await?;
    let all = state.credentials.export_decrypted().await?;
    let json = serde_json::to_vec_pretty(&all)?;
    write_private(path, &json).with_context(|| format!("cannot write {}", path.display()))?;
    writeln!(
        out,
        "Exported {} credentials, decrypted, to {}. Keep this file secret.",
        all.len(),
        path.display()
    )?;
    state.db.close().await;
    Ok(())
}

async fn import_credentials(
    settings: Settings,
    plugins: Vec<Arc<dyn Plugin>>,
    path: &Path,
    skip_unknown: bool,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let text = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let items: Vec<ExportedCredential> = serde_json::from_slice(&text).with_context(|| {
        format!(
            "{}: expected n8n's credential export format, a JSON array of {{id, name, type, data}}",
            path.display()
        )
    })?;
    let state = app::open(settings, plugins).await?;
    // An n8n export holds every integration's credentials; those whose types this build
    // does not have are skipped only when asked, and each is named so nothing goes missing
    // unnoticed.
    let types = state.credentials.types();
    let (items, unknown): (Vec<_>, Vec<_>) = items
        .into_iter()
        .partition(|c| types.get(&c.type_name).is_some());
    if !unknown.is_empty() && !skip_unknown {
        state.db.close().await;
        let list: Vec<String> = unknown.iter().map(describe_exported).collect();
        anyhow::bail!(
            "nothing was imported: {} credential(s) have a type this Switchyard does not have:\n{}\n\
             Run again with --skip-unknown to import the others and skip these.",
            unknown.len(),
            list.join("\n")
        );
    }
    let report = state.credentials.import(items, &Actor::Cli).await;
    state.db.close().await;
    let report = report?;
    writeln!(
        out,
        "Imported credentials: {} created, {} updated.",
        report.created, report.updated
    )?;
    if !unknown.is_empty() {
        writeln!(
            out,
            "Skipped {} credential(s) of types this Switchyard does not have:",
            unknown.len()
        )?;
        for c in &unknown {
            writeln!(out, "{}", describe_exported(c))?;
        }
    }
    Ok(())
}

/// `  - "NAME" (id ID), type TYPE`: how a skipped credential is named to the operator.
fn describe_exported(c: &ExportedCredential) -> String {
    format!("  - {:?} (id {:?}), type {:?}", c.name, c.id, c.type_name)
}

async fn export_workflows(
    settings: Settings,
    plugins: Vec<Arc<dyn Plugin>>,
    id: Option<&str>,
    output: Option<&Path>,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let state = app::open(settings, plugins).await?;
    let store = &state.workflows.store;
    let mut all = Vec::new();
    if let Some(id) = id {
        all.push(store.get(id).await?);
    } else {
        let mut cursor: Option<String> = None;
        loop {
            let (page, next) = store.list(Some(250), cursor.as_deref()).await?;
            all.extend(page);
            match next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
    }
    let json: Vec<_> = all
        .iter()
        .map(crate::store::StoredWorkflow::to_json)
        .collect();
    let text = serde_json::to_string_pretty(&json)?;
    match output {
        Some(path) => {
            std::fs::write(path, text)
                .with_context(|| format!("cannot write {}", path.display()))?;
            writeln!(
                out,
                "Exported {} workflows to {}.",
                json.len(),
                path.display()
            )?;
        }
        None => writeln!(out, "{text}")?,
    }
    state.db.close().await;
    Ok(())
}

async fn import_workflows(
    settings: Settings,
    plugins: Vec<Arc<dyn Plugin>>,
    path: &Path,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let text = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let parsed: serde_json::Value = serde_json::from_slice(&text).with_context(|| {
        format!(
            "{}: expected n8n workflow JSON (an object or an array of them)",
            path.display()
        )
    })?;
    let items = match parsed {
        serde_json::Value::Array(items) => items,
        one @ serde_json::Value::Object(_) => vec![one],
        _ => anyhow::bail!(
            "{}: expected n8n workflow JSON (an object or an array of them)",
            path.display()
        ),
    };
    let state = app::open(settings, plugins).await?;
    let service = &state.workflows;
    // Every workflow is checked before any is stored, so a bad file changes nothing.
    let mut valid = Vec::new();
    let mut problems = Vec::new();
    for (index, item) in items.into_iter().enumerate() {
        let label = item
            .get("name")
            .and_then(|n| n.as_str())
            .unwrap_or("(unnamed)")
            .to_owned();
        match service.parse_and_validate(item).await {
            Ok(workflow) => valid.push(workflow),
            Err(err) => problems.push(format!("workflow {index} ({label:?}): {err}")),
        }
    }
    anyhow::ensure!(
        problems.is_empty(),
        "nothing was imported:\n{}",
        problems.join("\n")
    );
    let (mut created, mut updated) = (0, 0);
    for workflow in valid {
        let existing = match workflow.id.as_deref() {
            Some(id) => service.store.get(id).await.ok().map(|w| w.id),
            None => None,
        };
        match existing {
            Some(id) => {
                service.store.update(&id, workflow).await?;
                updated += 1;
            }
            None => {
                service.store.create(workflow).await?;
                created += 1;
            }
        }
    }
    writeln!(
        out,
        "Imported workflows: {created} created, {updated} updated (new ones are inactive until activated; \
         a running server serves updated active ones within a second)."
    )?;
    state.db.close().await;
    Ok(())
}

/// Writes a file only its owner can read: it holds secrets in clear text.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    file.write_all(bytes)?;
    file.sync_all()
}
