//! Measures how long seeding 100,000 records takes, then authenticated
//! `GET /sobjects/Account/{id}` per second against a seeded org, with the
//! load generator in the same process:
//! `cargo run --release -p salesforce-fake --example get_throughput -- [seconds] [connections]`.
//! With `FAKE_ORG_URL` and `FAKE_ORG_TOKEN` set it loads a separately running
//! org instead, so the server's CPU time can be read from `/proc`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use salesforce_fake::FakeOrg;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let seconds: u64 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(5);
    let connections: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(32);
    // Keeps the in-process org alive for the run.
    let mut _local = None;
    let (base, token, ids) = match (
        std::env::var("FAKE_ORG_URL"),
        std::env::var("FAKE_ORG_TOKEN"),
    ) {
        // A separately running `salesforce-fake --seed N`, so its CPU time can
        // be measured apart from this load generator's.
        (Ok(url), Ok(token)) => {
            let q: serde_json::Value = reqwest::Client::new()
                .get(format!(
                    "{url}/services/data/v65.0/query?q=SELECT+Id+FROM+Account+LIMIT+200"
                ))
                .bearer_auth(&token)
                .send()
                .await?
                .json()
                .await?;
            let ids: Vec<String> = q["records"]
                .as_array()
                .map(|r| {
                    r.iter()
                        .filter_map(|x| x["Id"].as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            anyhow::ensure!(
                !ids.is_empty(),
                "the org at {url} has no accounts: start it with --seed"
            );
            (url, token, ids)
        }
        _ => {
            let started = Instant::now();
            // Six main objects: 16,667 each is just over 100,000 records.
            let seeded = FakeOrg::builder().seed(16_667).start().await?;
            println!("seeded 100,002 records in {:?}", started.elapsed());
            drop(seeded);
            let org = FakeOrg::builder()
                .seed(1000)
                .record_limit(1000)
                .start()
                .await?;
            let token = org.issue_token("user@example.com")?;
            let ids: Vec<String> = (0..200)
                .map(|i| org.insert("Account", serde_json::json!({"Name": format!("Bench {i}")})))
                .collect::<Result<_, _>>()?;
            let base = org.base_url().to_string();
            _local = Some(org);
            (base, token, ids)
        }
    };
    let ids = Arc::new(ids);
    let done = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(connections)
        .build()?;
    let mut tasks = Vec::new();
    for w in 0..connections {
        let (client, ids, done, failed, token) = (
            client.clone(),
            ids.clone(),
            done.clone(),
            failed.clone(),
            token.clone(),
        );
        let base = format!("{base}/services/data/v65.0/sobjects/Account/");
        tasks.push(tokio::spawn(async move {
            let mut i = w;
            while Instant::now() < deadline {
                let url = format!("{base}{}", ids[i % ids.len()]);
                i += 1;
                match client.get(&url).bearer_auth(&token).send().await {
                    Ok(r) if r.status().is_success() => {
                        let _ = r.bytes().await;
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                    _ => {
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }));
    }
    for t in tasks {
        t.await?;
    }
    let ok = done.load(Ordering::Relaxed);
    println!(
        "{ok} requests in {seconds}s over {connections} connections: {:.0} req/s ({} failed)",
        ok as f64 / seconds as f64,
        failed.load(Ordering::Relaxed)
    );
    Ok(())
}
