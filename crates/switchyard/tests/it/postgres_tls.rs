//! Postgres over TLS (issue 15): `sslmode=require` and `verify-full` with `sslrootcert` in
//! DATABASE_URL, against a throwaway cluster of the machine's PostgreSQL that accepts TLS
//! connections only, with a certificate from a CA made for the test. The machine's own cluster
//! is not touched. Skipped where no PostgreSQL server binaries are installed, except under
//! CI=true.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::tls;

/// A cluster in a temporary folder, run by the `postgres` user when the tests run as root
/// (PostgreSQL refuses to run as root); stopped and removed on drop.
struct Cluster {
    bin: PathBuf,
    data: PathBuf,
    port: u16,
    run_as: Option<String>,
    _dir: tempfile::TempDir,
}

impl Cluster {
    fn command(&self, program: &str) -> Command {
        command(&self.bin, program, self.run_as.as_deref())
    }

    fn url(&self, query: &str) -> String {
        format!(
            "postgres://postgres@127.0.0.1:{}/postgres?{query}",
            self.port
        )
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self
            .command("pg_ctl")
            .arg("-D")
            .arg(&self.data)
            .args(["-m", "immediate", "-w", "stop"])
            .output();
    }
}

fn command(bin: &Path, program: &str, run_as: Option<&str>) -> Command {
    match run_as {
        Some(user) => {
            let mut c = Command::new("runuser");
            c.args(["-u", user, "--"]).arg(bin.join(program));
            c
        }
        None => Command::new(bin.join(program)),
    }
}

fn run(mut c: Command, what: &str) {
    let out = c.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The newest installed PostgreSQL's server binaries (Debian's layout).
fn postgres_bin() -> Option<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

fn id(args: &[&str]) -> u32 {
    let out = Command::new("id").args(args).output().expect("id runs");
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("a numeric id")
}

/// Starts a cluster on a free port that takes TLS connections on 127.0.0.1 only.
fn start_tls_cluster() -> Option<(Cluster, tls::TestCerts)> {
    if !tls::openssl_available() {
        return None;
    }
    let Some(bin) = postgres_bin() else {
        assert!(
            !db::testing::in_ci(),
            "PostgreSQL's server binaries (initdb) are needed for the Postgres TLS test"
        );
        eprintln!("skipped: no /usr/lib/postgresql/*/bin/initdb");
        return None;
    };
    let dir = tempfile::tempdir().expect("temporary directory");
    let certs = tls::make_certs(dir.path());
    let data = dir.path().join("data");
    let run_as = (id(&["-u"]) == 0).then(|| "postgres".to_owned());
    if run_as.is_some() {
        let (uid, gid) = (id(&["-u", "postgres"]), id(&["-g", "postgres"]));
        std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid)).expect("chown");
    }
    let port = tls::free_port();
    let cluster = Cluster {
        bin,
        data: data.clone(),
        port,
        run_as,
        _dir: dir,
    };
    let mut initdb = cluster.command("initdb");
    initdb
        .arg("-D")
        .arg(&data)
        .args(["-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"]);
    run(initdb, "initdb");
    // The server certificate and key go into the data folder, owned by the server's user.
    for (from, to) in [(&certs.cert, "server.pem"), (&certs.key, "server.key")] {
        std::fs::copy(from, data.join(to)).expect("copy the certificate");
    }
    let mut chmod = Command::new("chmod");
    chmod.arg("0600").arg(data.join("server.key"));
    run(chmod, "chmod the key");
    if let Some(user) = &cluster.run_as {
        let mut c = Command::new("chown");
        c.arg(format!("{user}:"))
            .arg(data.join("server.pem"))
            .arg(data.join("server.key"));
        run(c, "chown the certificate");
    }
    let socket_dir = cluster._dir.path().display().to_string();
    let conf = format!(
        "\nlisten_addresses = '127.0.0.1'\nport = {port}\nunix_socket_directories = '{socket_dir}'\n\
         ssl = on\nssl_cert_file = 'server.pem'\nssl_key_file = 'server.key'\nfsync = off\n"
    );
    let mut postgresql_conf = std::fs::read_to_string(data.join("postgresql.conf")).unwrap();
    postgresql_conf.push_str(&conf);
    std::fs::write(data.join("postgresql.conf"), postgresql_conf).unwrap();
    std::fs::write(
        data.join("pg_hba.conf"),
        "local all all trust\nhostssl all all 127.0.0.1/32 trust\nhostnossl all all 127.0.0.1/32 reject\n",
    )
    .unwrap();
    let mut start = cluster.command("pg_ctl");
    start
        .arg("-D")
        .arg(&data)
        .arg("-l")
        .arg(data.join("server.log"))
        .args(["-w", "-t", "60", "start"]);
    run(start, "pg_ctl start");
    Some((cluster, certs))
}

fn error_text(e: &db::DbError) -> String {
    node_api::error_with_causes(e)
}

#[tokio::test]
async fn database_url_sslmode_and_sslrootcert_are_honoured() {
    let Some((cluster, certs)) = start_tls_cluster() else {
        return;
    };

    // The cluster refuses plain connections, so a connection that works is a TLS one.
    let Err(plain) = db::Db::connect(&cluster.url("sslmode=disable")).await else {
        panic!("a plain connection was accepted");
    };
    assert!(
        error_text(&plain).contains("no encryption"),
        "{}",
        error_text(&plain)
    );

    // require: encrypted, the certificate not checked (as libpq does).
    let db = db::Db::connect(&cluster.url("sslmode=require"))
        .await
        .unwrap_or_else(|e| panic!("sslmode=require: {}", error_text(&e)));
    let (ssl,): (bool,) =
        sqlx::query_as("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
            .fetch_one(db.pool())
            .await
            .unwrap();
    assert!(ssl, "the connection is not encrypted");
    db.close().await;

    // verify-full checks the chain and the host name: with the test CA as sslrootcert it
    // connects; with only the platform's store it is refused, saying why.
    let rootcert = format!("sslmode=verify-full&sslrootcert={}", certs.ca.display());
    let db = db::Db::connect(&cluster.url(&rootcert))
        .await
        .unwrap_or_else(|e| panic!("verify-full with sslrootcert: {}", error_text(&e)));
    db.close().await;
    let Err(unverified) = db::Db::connect(&cluster.url("sslmode=verify-full")).await else {
        panic!("verify-full without the CA was accepted");
    };
    let text = error_text(&unverified);
    assert!(text.contains("UnknownIssuer"), "{text}");
}
