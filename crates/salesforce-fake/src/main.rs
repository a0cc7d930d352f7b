//! `salesforce-fake`: run a fake Salesforce org for demos and benchmarks.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use salesforce_fake::{CustomObject, FakeOrg, Field, User};

/// A fake Salesforce org over real HTTP: OAuth, REST, SOQL, faults.
// No `Debug`: the arguments hold the consumer secret.
#[derive(Parser)]
#[command(version, about)]
struct Args {
    /// Address to listen on.
    #[arg(long, env = "SALESFORCE_FAKE_LISTEN", default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// The connected app's consumer key (client id).
    #[arg(
        long,
        env = "SALESFORCE_FAKE_CONSUMER_KEY",
        default_value = "fake-consumer-key"
    )]
    consumer_key: String,
    /// The connected app's consumer secret.
    #[arg(
        long,
        env = "SALESFORCE_FAKE_CONSUMER_SECRET",
        default_value = "fake-consumer-secret",
        hide_env_values = true
    )]
    consumer_secret: String,
    /// X.509 certificate (PEM) for the JWT bearer flow.
    #[arg(long, env = "SALESFORCE_FAKE_CERTIFICATE")]
    certificate: Option<PathBuf>,
    /// A username of the org (repeatable; all are pre-authorized).
    #[arg(
        long = "username",
        env = "SALESFORCE_FAKE_USERNAME",
        value_delimiter = ','
    )]
    usernames: Vec<String>,
    /// The client credentials flow's Run As user.
    #[arg(long, env = "SALESFORCE_FAKE_CLIENT_CREDENTIALS_USER")]
    client_credentials_user: Option<String>,
    /// A My Domain URL also accepted as JWT audience.
    #[arg(long, env = "SALESFORCE_FAKE_MY_DOMAIN")]
    my_domain: Option<String>,
    /// The URL clients reach the org at (default http://<listen address>).
    #[arg(long, env = "SALESFORCE_FAKE_PUBLIC_URL")]
    public_url: Option<String>,
    /// Create N realistic records per main object (deterministic).
    #[arg(long, default_value_t = 0)]
    seed: usize,
    /// Access token lifetime, e.g. 2h, 30m, 90s.
    #[arg(long, default_value = "2h", value_parser = humantime::parse_duration)]
    token_lifetime: std::time::Duration,
    /// Daily API request limit.
    #[arg(long, default_value_t = 100_000)]
    daily_limit: u64,
    /// Rotate refresh tokens on every refresh.
    #[arg(long)]
    refresh_token_rotation: bool,
    /// Approve authorize requests without showing the page.
    #[arg(long)]
    auto_approve: bool,
    /// Job-info polls a closed Bulk API job answers InProgress before completing.
    #[arg(long, env = "SALESFORCE_FAKE_BULK_POLLS", default_value_t = 1)]
    bulk_polls: u32,
    /// A custom object with an external id field `External_Id__c` (repeatable), e.g. Foo__c.
    #[arg(long = "custom-object")]
    custom_objects: Vec<String>,
    /// An autolaunched flow that echoes inputs (repeatable).
    #[arg(long = "flow")]
    flows: Vec<String>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // Logs go to stderr: stdout's first line is the URL, for scripts to read.
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SALESFORCE_FAKE_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .init();
    let args = Args::parse();
    let mut b = FakeOrg::builder()
        .listen(args.listen)
        .consumer_key(&args.consumer_key)
        .consumer_secret(&args.consumer_secret)
        .seed(args.seed)
        .token_lifetime(args.token_lifetime)
        .daily_limit(args.daily_limit)
        .refresh_token_rotation(args.refresh_token_rotation)
        .auto_approve(args.auto_approve)
        .bulk_polls(args.bulk_polls);
    if let Some(path) = &args.certificate {
        let pem = std::fs::read_to_string(path)
            .with_context(|| format!("reading --certificate {}", path.display()))?;
        b = b.certificate_pem(&pem);
    }
    for u in &args.usernames {
        b = b.user(User::new(u));
    }
    if let Some(u) = &args.client_credentials_user {
        if !args.usernames.iter().any(|n| n.eq_ignore_ascii_case(u)) {
            b = b.user(User::new(u));
        }
        b = b.client_credentials_user(u);
    }
    if let Some(d) = &args.my_domain {
        b = b.my_domain(d);
    }
    if let Some(u) = &args.public_url {
        b = b.public_url(u);
    }
    for name in &args.custom_objects {
        b = b.custom_object(
            CustomObject::new(name).field(Field::text("External_Id__c", 80).external_id()),
        );
    }
    for f in &args.flows {
        b = b.flow(f);
    }
    let org = b.start().await.context("starting the fake org")?;
    println!("salesforce-fake listening on {}", org.base_url());
    tracing::info!(url = %org.base_url(), "ready; inspect at /__fake/requests and /__fake/counters");
    tokio::signal::ctrl_c()
        .await
        .context("waiting for Ctrl-C")?;
    org.shutdown().await;
    Ok(())
}
