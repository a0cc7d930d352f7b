//! The `switchyard` commands other than `start`.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use credentials::{Actor, ExportedCredential, RotateOptions};

use crate::app;
use crate::config::{
    ApiKeyCommand, Cli, Command, ExportCommand, ImportCommand, RotateArgs, Settings,
};

/// Runs the command the user asked for; output goes to `out`, logs to stderr.
pub async fn run(cli: Cli, out: &mut impl Write) -> anyhow::Result<()> {
    match cli.command {
        Command::Start => app::start(cli.settings).await,
        Command::ApiKey(ApiKeyCommand::Create { name }) => {
            api_key_create(cli.settings, &name, out).await
        }
        Command::RotateKey(args) => rotate_key(cli.settings, args, out).await,
        Command::Export(ExportCommand::Credentials {
            decrypted: _,
            output,
        }) => export_credentials(cli.settings, &output, out).await,
        Command::Import(ImportCommand::Credentials { file }) => {
            import_credentials(cli.settings, &file, out).await
        }
    }
}

async fn api_key_create(
    settings: Settings,
    name: &str,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let state = app::open(settings).await?;
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

async fn rotate_key(
    settings: Settings,
    args: RotateArgs,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let state = app::open(settings).await?;
    let options = RotateOptions {
        batch_size: args.batch_size,
        pause: Duration::from_millis(args.pause_ms),
    };
    let report = state
        .credentials
        .rotate(options, |moved| tracing::info!(moved, "rotation progress"))
        .await
        .context("rotation stopped; it is safe to run it again")?;
    writeln!(
        out,
        "Re-encrypted {} credential rows under key {} ({} were already under it).",
        report.moved,
        state.credentials.current_key_id(),
        report.already_current
    )?;
    state.db.close().await;
    Ok(())
}

async fn export_credentials(
    settings: Settings,
    path: &Path,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let state = app::open(settings).await?;
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
    path: &Path,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let text = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let items: Vec<ExportedCredential> = serde_json::from_slice(&text).with_context(|| {
        format!(
            "{}: expected n8n's credential export format, a JSON array of {{id, name, type, data}}",
            path.display()
        )
    })?;
    let state = app::open(settings).await?;
    let report = state.credentials.import(items, &Actor::Cli).await?;
    writeln!(
        out,
        "Imported credentials: {} created, {} updated.",
        report.created, report.updated
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
