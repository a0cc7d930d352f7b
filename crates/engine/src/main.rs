//! The `switchyard` command: see `switchyard --help`.

use std::io::IsTerminal;

use engine::config::LogFormat;
use tracing_subscriber::EnvFilter;

// Opt-in allocator (`--features mimalloc`): see BENCHMARKS.md, memory per item.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let settings = engine::plugins::settings(&engine::plugins::builtin());
    let cli = engine::config::parse(&settings, std::env::args_os()).unwrap_or_else(|e| e.exit());
    let filter = EnvFilter::try_new(&cli.settings.log).unwrap_or_else(|err| {
        eprintln!("SWITCHYARD_LOG: {err}; using `info`");
        EnvFilter::new("info")
    });
    // Logs go to stderr so that command output (an API key, a count) stays alone on stdout.
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    match cli.settings.log_format {
        LogFormat::Text => logs.init(),
        LogFormat::Json => logs.json().init(),
    }
    let mut out = std::io::stdout();
    match engine::cli::run(cli, &mut out).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
