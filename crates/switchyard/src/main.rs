//! The `switchyard` command: see `switchyard --help`.

use std::io::IsTerminal;

use engine::config::LogFormat;
use tracing_subscriber::EnvFilter;

// The allocator: glibc's malloc unless a feature picks another (`mimalloc` or `jemalloc`); see
// BENCHMARKS.md, memory per item.
#[cfg(all(feature = "mimalloc", feature = "jemalloc"))]
compile_error!("the features `mimalloc` and `jemalloc` each pick the allocator: turn on one");
#[cfg(all(feature = "mimalloc", not(feature = "jemalloc")))]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
#[cfg(feature = "jemalloc")]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let plugins = switchyard::builtin();
    let settings = engine::plugins::settings(&plugins);
    let cli = engine::config::parse(&settings, std::env::args_os()).unwrap_or_else(|e| e.exit());
    // A bad filter is reported once the subscriber exists, in the chosen format.
    let (filter, bad_filter) = match EnvFilter::try_new(&cli.settings.log) {
        Ok(filter) => (filter, None),
        Err(err) => (EnvFilter::new("info"), Some(err)),
    };
    let format = cli.settings.log_format;
    // Logs go to stderr so that command output (an API key, a count) stays alone on stdout.
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    match format {
        LogFormat::Text => logs.init(),
        LogFormat::Json => logs.json().init(),
    }
    if let Some(err) = bad_filter {
        tracing::warn!("SWITCHYARD_LOG: {err}; using `info`");
    }
    let mut out = std::io::stdout();
    match engine::cli::run(cli, plugins, &mut out).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            match format {
                LogFormat::Text => eprintln!("error: {err:#}"),
                // One JSON object like every other line, whatever the filter lets through:
                // a log collector must not lose (or choke on) the reason the command failed.
                LogFormat::Json => eprintln!(
                    "{}",
                    serde_json::json!({
                        "timestamp": chrono::Utc::now()
                            .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
                        "level": "ERROR",
                        "fields": {"message": format!("error: {err:#}")},
                        "target": "switchyard",
                    })
                ),
            }
            std::process::ExitCode::FAILURE
        }
    }
}
