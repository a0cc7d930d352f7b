//! Configuration: every setting is an environment variable, and a flag of the same name.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use node_api::{Setting, SettingValues};
use secrecy::SecretString;

/// The `switchyard` command line.
#[derive(Debug, Parser)]
#[command(
    name = "switchyard",
    version,
    about = "Self-hosted workflow automation, n8n-compatible"
)]
pub struct Cli {
    /// Settings shared by every command.
    #[command(flatten)]
    pub settings: Settings,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the HTTP API and run active workflows.
    Start,
    /// Manage API keys.
    #[command(subcommand)]
    ApiKey(ApiKeyCommand),
    /// Manage the web console's owner account.
    #[command(subcommand)]
    Owner(OwnerCommand),
    /// Re-encrypt every stored credential under the current encryption key.
    RotateKey(RotateArgs),
    /// Export data in n8n's format.
    #[command(subcommand)]
    Export(ExportCommand),
    /// Import data in n8n's format.
    #[command(subcommand)]
    Import(ImportCommand),
    /// Work with stored credentials.
    #[command(subcommand)]
    Credentials(CredentialsCommand),
    /// Print the audit log (who changed which credential), newest first.
    Audit {
        /// Only this credential's records.
        #[arg(long)]
        credential: Option<String>,
        /// At most this many records.
        #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=100_000))]
        limit: u32,
    },
    /// Try Switchyard without accounts of your own: the server with the plugins' stand-in
    /// services in the same process, their credentials and workflows, each run once, then the
    /// commands to try next.
    Demo(DemoArgs),
}

/// `switchyard demo`
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Records each stand-in service starts with, per object.
    #[arg(long, default_value_t = 25)]
    pub seed: usize,
}

/// `switchyard credentials ...`
#[derive(Debug, Subcommand)]
pub enum CredentialsCommand {
    /// Print the URL that connects an OAuth2 credential, for headless set-ups:
    /// open it in any browser within 5 minutes; the running server (at
    /// SWITCHYARD_PUBLIC_URL) completes the connection.
    Connect {
        /// The credential's id.
        id: String,
    },
}

/// `switchyard owner ...`
#[derive(Debug, Subcommand)]
pub enum OwnerCommand {
    /// Create the console's owner without a browser (what the setup page does). The password
    /// comes from SWITCHYARD_OWNER_PASSWORD, or else the first line of standard input, so it
    /// never shows in the process list.
    Create {
        /// The owner's email address (signs in to the console).
        #[arg(long)]
        email: String,
        /// The owner's name.
        #[arg(long)]
        name: String,
    },
}

/// `switchyard api-key ...`
#[derive(Debug, Subcommand)]
pub enum ApiKeyCommand {
    /// Create an API key; the key is printed once, alone on the last line.
    Create {
        /// A name to recognise the key by in the audit log.
        #[arg(long)]
        name: String,
    },
    /// List the API keys: name, id, when created and last used (never the key).
    List,
    /// Revoke a key by id or name; a running server refuses it from the next request.
    Revoke {
        /// The key's id, or its name when no key has that id.
        id_or_name: String,
    },
}

/// `switchyard rotate-key` options.
#[derive(Debug, Args)]
pub struct RotateArgs {
    /// Credentials re-encrypted per transaction.
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub batch_size: u32,
    /// Milliseconds to wait between batches, to go gently on a busy database.
    #[arg(long, default_value_t = 0)]
    pub pause_ms: u64,
}

/// `switchyard export ...`
#[derive(Debug, Subcommand)]
pub enum ExportCommand {
    /// Write every credential, decrypted, as `n8n export:credentials --decrypted` does.
    Credentials {
        /// Required: the file will hold secrets in clear text.
        #[arg(long, required = true)]
        decrypted: bool,
        /// Where to write the JSON (created with mode 0600).
        #[arg(long)]
        output: PathBuf,
    },
    /// Write workflows as `n8n export:workflow` does: a JSON array.
    Workflow {
        /// The workflow to export.
        #[arg(long, required_unless_present = "all", conflicts_with = "all")]
        id: Option<String>,
        /// Export every workflow.
        #[arg(long)]
        all: bool,
        /// Where to write the JSON; standard output when not given.
        #[arg(long)]
        output: Option<PathBuf>,
    },
}

/// `switchyard import ...`
#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// Read credentials from a file in n8n's export format (`[{id, name, type, data}]`).
    Credentials {
        /// The JSON file.
        file: PathBuf,
        /// Import the credentials whose types this build has and list the others (by name
        /// and type) as skipped, instead of refusing the whole file.
        #[arg(long)]
        skip_unknown: bool,
    },
    /// Read workflows exported from n8n (one workflow object or an array of them).
    Workflow {
        /// The JSON file.
        file: PathBuf,
    },
}

/// Log line format.
#[derive(Debug, Clone, Copy, clap::ValueEnum, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Settings shared by every command, read from flags or the environment.
#[derive(Args)]
pub struct Settings {
    /// Directory for the SQLite file and the generated key file.
    #[arg(
        long,
        env = "SWITCHYARD_DATA_DIR",
        default_value = "./.switchyard",
        global = true
    )]
    pub data_dir: PathBuf,
    /// `sqlite://PATH` or `postgres://...`; defaults to a SQLite file in the data directory.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true, global = true)]
    database_url: Option<String>,
    /// The encryption key: 32 bytes as 64 hex characters or base64.
    #[arg(
        long,
        env = "SWITCHYARD_ENCRYPTION_KEY",
        hide_env_values = true,
        global = true
    )]
    encryption_key: Option<String>,
    /// A file holding the encryption key.
    #[arg(long, env = "SWITCHYARD_ENCRYPTION_KEY_FILE", global = true)]
    pub encryption_key_file: Option<PathBuf>,
    /// Comma-separated earlier keys, accepted for decryption while rotating.
    #[arg(
        long,
        env = "SWITCHYARD_PREVIOUS_ENCRYPTION_KEYS",
        hide_env_values = true,
        global = true
    )]
    previous_encryption_keys: Option<String>,
    /// Address the HTTP server binds.
    #[arg(
        long,
        env = "SWITCHYARD_LISTEN",
        default_value = "0.0.0.0:5678",
        global = true
    )]
    pub listen: SocketAddr,
    /// Public base URL: the OAuth redirect URI and webhook URLs are built from it.
    #[arg(
        long,
        env = "SWITCHYARD_PUBLIC_URL",
        default_value = "http://localhost:5678",
        global = true
    )]
    pub public_url: String,
    /// Tracing filter, e.g. `info` or `engine=debug,info`.
    #[arg(long, env = "SWITCHYARD_LOG", default_value = "info", global = true)]
    pub log: String,
    /// `text` or `json`.
    #[arg(
        long,
        env = "SWITCHYARD_LOG_FORMAT",
        value_enum,
        default_value = "text",
        global = true
    )]
    pub log_format: LogFormat,
    /// Serve no web console (n8n's `N8N_DISABLE_UI`): the API, webhooks and OAuth2 routes stay;
    /// the console's pages answer 404.
    #[arg(long, env = "SWITCHYARD_DISABLE_UI", default_value_t = false,
          value_parser = parse_flag("SWITCHYARD_DISABLE_UI"), global = true)]
    pub disable_ui: bool,
    /// Allow plain http to loopback hosts of the services plugins call (tests, fake services).
    #[arg(long, env = "SWITCHYARD_ALLOW_INSECURE_HOSTS", default_value_t = false,
          value_parser = parse_flag("SWITCHYARD_ALLOW_INSECURE_HOSTS"), global = true)]
    pub allow_insecure_hosts: bool,
    /// A PEM file of CA certificates trusted for outbound HTTPS besides the system's store
    /// (a private CA, or the CA of a TLS-inspecting proxy).
    #[arg(long, env = "SWITCHYARD_CA_FILE", global = true)]
    pub ca_file: Option<PathBuf>,
    /// Largest request body accepted by the API, in bytes.
    #[arg(long, env = "SWITCHYARD_MAX_BODY_BYTES", default_value_t = 1024 * 1024, global = true)]
    pub max_body_bytes: usize,
    /// Reverse proxies in front of the server that append to `X-Forwarded-For` (n8n's
    /// `N8N_PROXY_HOPS`). 0, the default, trusts no such header: a webhook's IP allow list
    /// checks the TCP peer. With N, the client is the Nth address from the right.
    #[arg(long, env = "SWITCHYARD_PROXY_HOPS", default_value_t = 0,
          value_parser = clap::value_parser!(u64).range(0..=16), global = true)]
    pub proxy_hops: u64,
    /// Largest webhook request body, in bytes (n8n's default is 16 MiB).
    #[arg(long, env = "SWITCHYARD_MAX_WEBHOOK_BODY_BYTES", default_value_t = 16 * 1024 * 1024, global = true)]
    pub max_webhook_body_bytes: usize,
    /// Seconds a client has to send a complete request header; a kept-alive connection that
    /// sends no new request within it is closed too.
    #[arg(long, env = "SWITCHYARD_HEADER_READ_TIMEOUT_SECS", default_value_t = 15,
          value_parser = clap::value_parser!(u64).range(1..=300), global = true)]
    pub header_read_timeout_secs: u64,
    /// Bytes per second a request body must keep up once its grace period is over (0: no floor).
    #[arg(
        long,
        env = "SWITCHYARD_BODY_MIN_BYTES_PER_SEC",
        default_value_t = 1024,
        global = true
    )]
    pub body_min_bytes_per_sec: u64,
    /// Seconds a request body may take before the rate floor applies.
    #[arg(long, env = "SWITCHYARD_BODY_RATE_GRACE_SECS", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(0..=300), global = true)]
    pub body_rate_grace_secs: u64,
    /// Connections served at once; past it a new connection gets 503 with Retry-After.
    #[arg(long, env = "SWITCHYARD_MAX_CONNECTIONS", default_value_t = 1024,
          value_parser = clap::value_parser!(u64).range(1..=1_000_000), global = true)]
    pub max_connections: u64,
    /// Webhook executions running at once; more wait in a queue.
    #[arg(long, env = "SWITCHYARD_WEBHOOK_CONCURRENCY", default_value_t = 64,
          value_parser = clap::value_parser!(u64).range(1..=100_000), global = true)]
    pub webhook_concurrency: u64,
    /// Webhook calls waiting for a slot at most; past it a call gets 503 with Retry-After.
    #[arg(long, env = "SWITCHYARD_WEBHOOK_QUEUE", default_value_t = 1024,
          value_parser = clap::value_parser!(u64).range(0..=1_000_000), global = true)]
    pub webhook_queue: u64,
    /// Seconds to keep retrying the first connection to a Postgres server that does not
    /// answer yet (it may still be starting); 0 fails at once.
    #[arg(long, env = "SWITCHYARD_DATABASE_CONNECT_WAIT_SECS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(0..=3600), global = true)]
    pub database_connect_wait_secs: u64,
    /// Milliseconds one expression or Code node evaluation may run before it is stopped.
    #[arg(long, env = "SWITCHYARD_EXPRESSION_TIME_LIMIT_MS", default_value_t = 1000,
          value_parser = clap::value_parser!(u64).range(1..=600_000), global = true)]
    pub expression_time_limit_ms: u64,
    /// Megabytes of memory the JavaScript sandbox of one worker thread may hold.
    #[arg(long, env = "SWITCHYARD_EXPRESSION_MEMORY_LIMIT_MB", default_value_t = 64,
          value_parser = clap::value_parser!(u64).range(1..=4096), global = true)]
    pub expression_memory_limit_mb: u64,
    /// How deep Execute Workflow calls may nest (a workflow calling itself stops here).
    #[arg(long, env = "SWITCHYARD_MAX_WORKFLOW_DEPTH", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..=1000), global = true)]
    pub max_workflow_depth: u64,
    /// Wait nodes waiting less than this many seconds sleep in the running execution; longer
    /// waits store it as waiting and resume it on time, after a restart too (n8n: 65).
    #[arg(long, env = "SWITCHYARD_WAIT_IN_PROCESS_SECS", default_value_t = 65,
          value_parser = clap::value_parser!(u64).range(0..=86_400), global = true)]
    pub wait_in_process_secs: u64,
    /// Time zone of schedules whose workflow sets none (IANA name, e.g. `Europe/Berlin`).
    #[arg(long, env = "SWITCHYARD_TIMEZONE", global = true)]
    pub timezone: Option<String>,
    /// n8n's name for the same setting, read when `SWITCHYARD_TIMEZONE` is not set.
    #[arg(long, env = "GENERIC_TIMEZONE", hide = true, global = true)]
    pub generic_timezone: Option<String>,
    /// Which executions are kept, and for how long (n8n's `EXECUTIONS_DATA_*`).
    #[command(flatten)]
    pub executions: ExecutionSettings,
    /// The plugins' settings (each an environment variable and a flag), filled by [`parse`].
    #[arg(skip)]
    pub plugins: SettingValues,
}

/// n8n's `EXECUTIONS_DATA_*` settings: which finished executions are saved, and pruning.
/// Each workflow's `settings` may override the saving ones.
#[derive(Args, Clone, Debug, PartialEq, Eq)]
pub struct ExecutionSettings {
    /// Save failed (and cancelled) executions: `all` or `none`.
    #[arg(long = "executions-data-save-on-error", env = "EXECUTIONS_DATA_SAVE_ON_ERROR", default_value = "all",
          value_parser = parse_save("EXECUTIONS_DATA_SAVE_ON_ERROR"), action = clap::ArgAction::Set, global = true)]
    pub save_on_error: bool,
    /// Save successful executions: `all` or `none`.
    #[arg(long = "executions-data-save-on-success", env = "EXECUTIONS_DATA_SAVE_ON_SUCCESS", default_value = "all",
          value_parser = parse_save("EXECUTIONS_DATA_SAVE_ON_SUCCESS"), action = clap::ArgAction::Set, global = true)]
    pub save_on_success: bool,
    /// Save manual executions (`true` or `false`), whatever their outcome.
    #[arg(long = "executions-data-save-manual-executions", env = "EXECUTIONS_DATA_SAVE_MANUAL_EXECUTIONS", default_value = "true",
          value_parser = parse_flag("EXECUTIONS_DATA_SAVE_MANUAL_EXECUTIONS"), action = clap::ArgAction::Set, global = true)]
    pub save_manual: bool,
    /// Delete old finished executions in the background (`true` or `false`).
    #[arg(long = "executions-data-prune", env = "EXECUTIONS_DATA_PRUNE", default_value = "true",
          value_parser = parse_flag("EXECUTIONS_DATA_PRUNE"), action = clap::ArgAction::Set, global = true)]
    pub prune: bool,
    /// Finished executions older than this many hours are pruned.
    #[arg(long = "executions-data-max-age", env = "EXECUTIONS_DATA_MAX_AGE", default_value = "336",
          value_parser = parse_count("EXECUTIONS_DATA_MAX_AGE", 1), global = true)]
    pub max_age_hours: u64,
    /// At most this many finished executions are kept (oldest pruned first); 0 = no limit.
    #[arg(long = "executions-data-prune-max-count", env = "EXECUTIONS_DATA_PRUNE_MAX_COUNT", default_value = "10000",
          value_parser = parse_count("EXECUTIONS_DATA_PRUNE_MAX_COUNT", 0), global = true)]
    pub prune_max_count: u64,
    /// How often old executions are pruned after the prune at start (n8n's hard-delete
    /// interval, 15 minutes). Not a setting: embedders and tests may shorten it.
    #[arg(skip = PRUNE_EVERY)]
    pub prune_every: std::time::Duration,
}

/// How often old executions are pruned while the server runs.
pub const PRUNE_EVERY: std::time::Duration = std::time::Duration::from_secs(15 * 60);

impl ExecutionSettings {
    /// The policy the execution store applies.
    pub fn policy(&self) -> crate::store::ExecutionPolicy {
        crate::store::ExecutionPolicy {
            save_on_error: self.save_on_error,
            save_on_success: self.save_on_success,
            save_manual: self.save_manual,
            prune: self.prune,
            max_age_hours: self.max_age_hours,
            prune_max_count: self.prune_max_count,
        }
    }
}

// The parsers name the environment variable: that is what operators set, and clap's own
// message would only name the flag.
fn parse_save(var: &'static str) -> impl Fn(&str) -> Result<bool, String> + Clone {
    move |value| match value {
        "all" => Ok(true),
        "none" => Ok(false),
        other => Err(format!("{var} must be `all` or `none`, got `{other}`")),
    }
}

fn parse_flag(var: &'static str) -> impl Fn(&str) -> Result<bool, String> + Clone {
    move |value| match value.to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(format!("{var} must be `true` or `false`, got `{value}`")),
    }
}

fn parse_count(var: &'static str, min: u64) -> impl Fn(&str) -> Result<u64, String> + Clone {
    move |value| match value.trim().parse::<u64>() {
        Ok(n) if n >= min => Ok(n),
        _ => Err(format!(
            "{var} must be a whole number of at least {min}, got `{value}`"
        )),
    }
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("data_dir", &self.data_dir)
            .field("database", &self.database_url.as_deref().map(redact_url))
            .field(
                "encryption_key",
                &self.encryption_key.as_ref().map(|_| "[redacted]"),
            )
            .field("encryption_key_file", &self.encryption_key_file)
            .field(
                "previous_encryption_keys",
                &self.previous_encryption_keys.as_ref().map(|_| "[redacted]"),
            )
            .field("listen", &self.listen)
            .field("public_url", &self.public_url)
            .field("log", &self.log)
            .field("log_format", &self.log_format)
            .field("disable_ui", &self.disable_ui)
            .field("allow_insecure_hosts", &self.allow_insecure_hosts)
            .field("ca_file", &self.ca_file)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("max_webhook_body_bytes", &self.max_webhook_body_bytes)
            .field("header_read_timeout_secs", &self.header_read_timeout_secs)
            .field("body_min_bytes_per_sec", &self.body_min_bytes_per_sec)
            .field("body_rate_grace_secs", &self.body_rate_grace_secs)
            .field("max_connections", &self.max_connections)
            .field("webhook_concurrency", &self.webhook_concurrency)
            .field("webhook_queue", &self.webhook_queue)
            .field(
                "database_connect_wait_secs",
                &self.database_connect_wait_secs,
            )
            .field("expression_time_limit_ms", &self.expression_time_limit_ms)
            .field(
                "expression_memory_limit_mb",
                &self.expression_memory_limit_mb,
            )
            .field("max_workflow_depth", &self.max_workflow_depth)
            .field("wait_in_process_secs", &self.wait_in_process_secs)
            .field("timezone", &self.timezone)
            .field("generic_timezone", &self.generic_timezone)
            .field("executions", &self.executions)
            .field("plugins", &self.plugins)
            .finish()
    }
}

impl Settings {
    /// Settings with every default, for a data directory (used by tests and embedders).
    pub fn with_data_dir(data_dir: impl Into<PathBuf>) -> Self {
        let mut settings = Cli::parse_from(["switchyard", "start"]).settings;
        settings.data_dir = data_dir.into();
        settings
    }

    /// The database URL: the configured one, or the SQLite file in the data directory.
    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(url) if !url.is_empty() => url.clone(),
            _ => format!("sqlite://{}", self.data_dir.join("switchyard.db").display()),
        }
    }

    /// Points the settings at another database.
    pub fn set_database_url(&mut self, url: impl Into<String>) {
        self.database_url = Some(url.into());
    }

    /// Sets the encryption key (hex or base64) and the previous keys (comma list).
    pub fn set_keys(&mut self, key: Option<&str>, previous: Option<&str>) {
        self.encryption_key = key.map(str::to_owned);
        self.previous_encryption_keys = previous.map(str::to_owned);
    }

    /// The default time zone of schedules: `SWITCHYARD_TIMEZONE`, else n8n's
    /// `GENERIC_TIMEZONE`, else UTC. The error names the setting and what was expected.
    pub fn default_timezone(&self) -> Result<chrono_tz::Tz, String> {
        let (name, value) = match (&self.timezone, &self.generic_timezone) {
            (Some(tz), _) if !tz.trim().is_empty() => ("SWITCHYARD_TIMEZONE", tz),
            (_, Some(tz)) if !tz.trim().is_empty() => ("GENERIC_TIMEZONE", tz),
            _ => return Ok(chrono_tz::Tz::UTC),
        };
        workflow::schedule::parse_timezone(value).map_err(|e| format!("{name}: {e}"))
    }

    /// The limits the accept loop serves every connection under.
    pub fn connection_limits(&self) -> crate::server::ConnectionLimits {
        crate::server::ConnectionLimits {
            header_read_timeout: std::time::Duration::from_secs(self.header_read_timeout_secs),
            body_min_bytes_per_sec: self.body_min_bytes_per_sec,
            body_rate_grace: std::time::Duration::from_secs(self.body_rate_grace_secs),
            max_connections: usize::try_from(self.max_connections).unwrap_or(usize::MAX),
        }
    }

    /// How long the first Postgres connection is retried.
    pub fn database_connect_wait(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.database_connect_wait_secs)
    }

    /// The limits of the JavaScript sandbox (expressions, Code nodes).
    pub fn expression_limits(&self) -> workflow::expr::Limits {
        workflow::expr::Limits {
            time: std::time::Duration::from_millis(self.expression_time_limit_ms),
            memory_bytes: usize::try_from(self.expression_memory_limit_mb << 20)
                .unwrap_or(usize::MAX),
        }
    }

    /// What the key ring is loaded from.
    pub fn key_config(&self) -> credentials::KeyConfig {
        credentials::KeyConfig {
            key: self.encryption_key.clone().map(SecretString::from),
            key_file: self.encryption_key_file.clone(),
            previous: self
                .previous_encryption_keys
                .clone()
                .map(SecretString::from),
            data_dir: self.data_dir.clone(),
        }
    }
}

/// The command line with every plugin's settings added as global flags (each also read from
/// its environment variable), so `--help` lists them.
pub fn command(plugins: &[Setting]) -> clap::Command {
    plugins.iter().fold(Cli::command(), |cmd, setting| {
        let check = setting.check;
        cmd.arg(
            clap::Arg::new(setting.env)
                .long(setting.flag())
                .env(setting.env)
                .default_value(setting.default)
                .help(setting.help)
                .global(true)
                .value_parser(move |v: &str| check(v).map(|()| v.to_owned())),
        )
    })
}

/// Parses `args` (the program name first) with the plugins' settings; their values land in
/// [`Settings::plugins`].
pub fn parse<I, T>(plugins: &[Setting], args: I) -> Result<Cli, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let matches = command(plugins).try_get_matches_from(args)?;
    let mut cli = Cli::from_arg_matches(&matches)?;
    let values = plugins.iter().filter_map(|s| {
        let value = matches.get_one::<String>(s.env)?;
        Some((s.env.to_owned(), value.clone()))
    });
    cli.settings.plugins = SettingValues::new(values);
    Ok(cli)
}

/// A database URL with any password replaced, safe to log.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("redacted"));
            parsed.to_string()
        }
        Ok(_) => url.to_owned(),
        Err(_) => "[unparsable url]".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_keys_or_database_passwords() {
        let mut settings = Settings::with_data_dir("/tmp/x");
        settings.set_database_url("postgres://sy:hunter2@db/sy");
        settings.set_keys(Some("k3y-material"), Some("old-k3y"));
        let shown = format!("{settings:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(!shown.contains("k3y"), "{shown}");
        assert!(shown.contains("postgres://sy:redacted@db/sy"), "{shown}");
    }

    #[test]
    fn the_default_time_zone_is_utc_unless_set_and_must_exist() {
        let mut settings = Settings::with_data_dir("/tmp/x");
        assert_eq!(settings.default_timezone(), Ok(chrono_tz::Tz::UTC));
        settings.generic_timezone = Some("America/Chicago".into());
        assert_eq!(
            settings.default_timezone(),
            Ok(chrono_tz::Tz::America__Chicago)
        );
        settings.timezone = Some("Europe/Paris".into());
        assert_eq!(
            settings.default_timezone(),
            Ok(chrono_tz::Tz::Europe__Paris)
        );
        settings.timezone = Some("Europe/Nowhere".into());
        let err = settings.default_timezone().unwrap_err();
        assert!(
            err.starts_with("SWITCHYARD_TIMEZONE: unknown time zone \"Europe/Nowhere\""),
            "{err}"
        );
    }

    fn plugin_setting() -> Vec<Setting> {
        vec![Setting {
            env: "SWITCHYARD_TEST_PLUGIN_LEVEL",
            help: "How loud the test plugin is",
            default: "3",
            check: |v| match v.parse::<u8>() {
                Ok(1..=5) => Ok(()),
                _ => Err("expected a whole number in 1..=5".into()),
            },
        }]
    }

    #[test]
    fn plugin_settings_are_flags_with_defaults_checked_and_in_help() {
        let settings = plugin_setting();
        let cli = parse(&settings, ["switchyard", "start"]).unwrap();
        assert_eq!(
            cli.settings.plugins.get("SWITCHYARD_TEST_PLUGIN_LEVEL"),
            Some("3")
        );
        let cli = parse(
            &settings,
            ["switchyard", "start", "--test-plugin-level", "5"],
        )
        .unwrap();
        assert_eq!(
            cli.settings.plugins.get("SWITCHYARD_TEST_PLUGIN_LEVEL"),
            Some("5")
        );
        let cli = parse(&settings, ["switchyard", "--test-plugin-level=4", "start"]).unwrap();
        assert_eq!(
            cli.settings.plugins.get("SWITCHYARD_TEST_PLUGIN_LEVEL"),
            Some("4")
        );
        let e = parse(
            &settings,
            ["switchyard", "start", "--test-plugin-level", "9"],
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("--test-plugin-level") && e.contains("expected a whole number in 1..=5"),
            "{e}"
        );
        let help = command(&settings).render_long_help().to_string();
        assert!(
            help.contains("--test-plugin-level") && help.contains("SWITCHYARD_TEST_PLUGIN_LEVEL"),
            "{help}"
        );
    }

    #[test]
    fn execution_settings_default_as_n8n() {
        let settings = Settings::with_data_dir("/srv/sy");
        assert_eq!(
            settings.executions.policy(),
            crate::store::ExecutionPolicy::default()
        );
        let cli = Cli::try_parse_from([
            "switchyard",
            "--executions-data-save-on-success",
            "none",
            "--executions-data-prune-max-count",
            "0",
            "start",
        ])
        .expect("valid settings");
        assert!(!cli.settings.executions.save_on_success);
        assert_eq!(cli.settings.executions.policy().prune_max_count, 0);
    }

    #[test]
    fn bad_execution_settings_name_the_variable() {
        for (flag, value, var) in [
            (
                "--executions-data-save-on-error",
                "some",
                "EXECUTIONS_DATA_SAVE_ON_ERROR",
            ),
            (
                "--executions-data-save-on-success",
                "yes",
                "EXECUTIONS_DATA_SAVE_ON_SUCCESS",
            ),
            (
                "--executions-data-save-manual-executions",
                "maybe",
                "EXECUTIONS_DATA_SAVE_MANUAL_EXECUTIONS",
            ),
            ("--executions-data-prune", "1x", "EXECUTIONS_DATA_PRUNE"),
            ("--executions-data-max-age", "0", "EXECUTIONS_DATA_MAX_AGE"),
            (
                "--executions-data-prune-max-count",
                "-3",
                "EXECUTIONS_DATA_PRUNE_MAX_COUNT",
            ),
        ] {
            let err = Cli::try_parse_from(["switchyard", &format!("{flag}={value}"), "start"])
                .expect_err("refused")
                .to_string();
            assert!(err.contains(var), "{flag}={value}: {err}");
        }
    }

    #[test]
    fn default_database_is_sqlite_in_the_data_dir() {
        let settings = Settings::with_data_dir("/srv/sy");
        assert_eq!(settings.database_url(), "sqlite:///srv/sy/switchyard.db");
        assert_eq!(settings.listen.to_string(), "0.0.0.0:5678");
    }
}
