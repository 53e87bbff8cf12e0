//! PostgreSQL as a production dependency: TLS per `sslmode` against the test server (which
//! `.ci/run` gives a certificate for `localhost` signed by a CA it makes, named by
//! `WEDOCK_TEST_PG_CA`), and readiness that comes back by itself after the database restarts
//! (on a private PostgreSQL instance, so the shared server is never restarted under the
//! other tests).

use crate::store::{PgDatabase, with_dbname};
use crate::support::TestServer;
use crate::support::private_pg::PrivatePg;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};
use wedock::store::{PgOptions, PostgresStore, Store, pg_connect};

/// The test server's database URL with `host=localhost` and the given query, and the CA.
fn tls_target(test: &str) -> Option<(url::Url, PathBuf)> {
    let (Ok(url), Ok(ca)) = (
        std::env::var("WEDOCK_TEST_PG_URL"),
        std::env::var("WEDOCK_TEST_PG_CA"),
    ) else {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("CI=true but WEDOCK_TEST_PG_URL or WEDOCK_TEST_PG_CA is not set");
        }
        eprintln!("SKIPPED {test}: set WEDOCK_TEST_PG_URL and WEDOCK_TEST_PG_CA (see .ci/run)");
        return None;
    };
    let mut u = url::Url::parse(&url).expect("WEDOCK_TEST_PG_URL is a URL");
    u.set_host(Some("localhost")).unwrap();
    u.set_query(None);
    Some((u, PathBuf::from(ca)))
}

fn with_query(u: &url::Url, query: &str) -> String {
    let mut u = u.clone();
    u.set_query(Some(query));
    u.to_string()
}

/// Is the session behind `url` encrypted, as the server sees it.
async fn server_sees_tls(url: &str) -> bool {
    let c = pg_connect(url, &PgOptions::default()).await.unwrap();
    c.query_one(
        "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
        &[],
    )
    .await
    .unwrap()
    .get(0)
}

/// A CA the server's certificate was not signed by.
fn other_ca(dir: &Path) -> PathBuf {
    let (key, crt) = (dir.join("other.key"), dir.join("other.crt"));
    let ok = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        ])
        .args(["-subj", "/CN=not the wedock test CA", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&crt)
        .output()
        .expect("openssl")
        .status
        .success();
    assert!(ok, "openssl could not make a CA");
    crt
}

#[tokio::test]
async fn verify_full_connects_encrypted_and_a_wrong_ca_is_refused() {
    let Some((base, ca)) = tls_target("verify-full test") else {
        return;
    };
    let db = PgDatabase::create().await.unwrap();
    let u = url::Url::parse(&with_dbname(base.as_str(), &db.name)).unwrap();
    let good = with_query(
        &u,
        &format!("sslmode=verify-full&sslrootcert={}", ca.display()),
    );
    let store = PostgresStore::open(&good).await.expect("verify-full opens");
    store.kv_set("tls:probe", "ok", None).await.unwrap();
    assert_eq!(
        store.kv_get("tls:probe").await.unwrap().as_deref(),
        Some("ok")
    );
    assert!(server_sees_tls(&good).await, "verify-full must encrypt");

    let dir = tempfile::tempdir().unwrap();
    let wrong = other_ca(dir.path());
    for mode in ["verify-full", "verify-ca", "require"] {
        // `require` with a root certificate verifies the chain, as libpq does.
        let bad = with_query(
            &u,
            &format!("sslmode={mode}&sslrootcert={}", wrong.display()),
        );
        let err = match PostgresStore::open(&bad).await {
            Ok(_) => panic!("sslmode={mode} with a foreign CA must not connect"),
            Err(e) => e.to_string(),
        };
        assert!(
            err.contains("certificate") && err.contains("UnknownIssuer"),
            "sslmode={mode}: the error should say the certificate is not trusted: {err}"
        );
        assert!(
            !err.contains("wedock:wedock"),
            "no password in errors: {err}"
        );
    }
    db.drop_db().await;
}

#[tokio::test]
async fn require_encrypts_without_a_root_and_disable_meets_a_tls_only_server() {
    let Some((base, _ca)) = tls_target("require test") else {
        return;
    };
    let require = with_query(&base, "sslmode=require");
    assert!(server_sees_tls(&require).await, "require must encrypt");
    let plain = with_query(&base, "sslmode=disable");
    assert!(!server_sees_tls(&plain).await, "disable must not encrypt");

    // `.ci/run` makes database `wedock_sslonly` reachable over TLS only (hostnossl … reject).
    let only_tls = with_query(
        &url::Url::parse(&with_dbname(base.as_str(), "wedock_sslonly")).unwrap(),
        "sslmode=disable",
    );
    let err = match PostgresStore::open(&only_tls).await {
        Ok(_) => panic!("a plain-text client must be refused by a TLS-only server"),
        Err(e) => e.to_string(),
    };
    assert!(
        err.contains("no encryption") && err.contains("pg_hba.conf"),
        "the error should say encryption is required: {err}"
    );
}

async fn status(client: &reqwest::Client, url: String) -> Option<u16> {
    client
        .get(url)
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .ok()
        .map(|r| r.status().as_u16())
}

/// Polls `path` until it answers `want`; returns how long that took.
async fn wait_for(
    server: &TestServer,
    path: &str,
    want: u16,
    within: Duration,
) -> Option<Duration> {
    let client = reqwest::Client::new();
    let start = Instant::now();
    while start.elapsed() < within {
        if status(&client, server.url(path)).await == Some(want) {
            return Some(start.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_comes_back_after_postgresql_restarts() {
    let Some(pg) = PrivatePg::start("PostgreSQL restart test") else {
        return;
    };
    // Default health interval (2 s), short timeouts so a down database is noticed quickly.
    let server = TestServer::start(&format!(
        "[store]\nbackend = \"postgres\"\npostgres_url = \"{}\"\n[docker]\nenabled = false\n",
        pg.url()
    ))
    .await;
    assert!(server.chat("/ping").await["reply"].is_string());

    pg.ctl("stop");
    assert!(
        wait_for(&server, "/readyz", 503, Duration::from_secs(15))
            .await
            .is_some(),
        "/readyz must say not ready while PostgreSQL is down"
    );
    let client = reqwest::Client::new();
    assert_eq!(
        status(&client, server.url("/healthz")).await,
        Some(200),
        "a database outage is not a wedged process: /healthz stays ok"
    );
    // The details need a console login; anonymous callers see only {"ready": false}.
    let down = server.readyz().await;
    let reason = down["components"]["store"]["detail"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    // Caught while the server is still stopping, the reason is its own 57P03 ("the database
    // system is shutting down"); once it is gone, a refused connection.
    assert!(
        reason.contains("connect") || reason.contains("shutting down"),
        "the reason says what failed: {down}"
    );

    pg.ctl("start");
    // Within one interval (2 s) after the database is back, plus one connect.
    let back = wait_for(&server, "/readyz", 200, Duration::from_secs(4)).await;
    assert!(
        back.is_some(),
        "/readyz must be 200 again within one health interval after PostgreSQL is back"
    );
    // And the store works again without a process restart.
    let again = server.chat("/ping").await;
    assert!(again["reply"].is_string(), "{again}");
    server.stop().await.unwrap();
    drop(pg);
}

#[test]
fn check_names_the_postgres_key_without_the_password() {
    let dir = tempfile::tempdir().unwrap();
    let pg = |query: &str| {
        format!(
            "[store]\nbackend = \"postgres\"\npostgres_url = \"postgres://w:s3cr3t-pw@db:5432/w?{query}\"\n"
        )
    };
    let cases = [
        (pg("sslmode=verify"), "store.postgres_url"),
        (
            pg("sslmode=verify-full&sslrootcert=/nonexistent/ca.crt"),
            "store.postgres_url",
        ),
        (pg("sslcert=/c.pem"), "store.postgres_url"),
        (
            "[store]\npostgres_pool_size = 0\n".to_string(),
            "store.postgres_pool_size",
        ),
        (
            "[store]\npostgres_connect_timeout_ms = 5\n".to_string(),
            "store.postgres_connect_timeout_ms",
        ),
        (
            "[store]\npostgres_statement_timeout_ms = 0\n".to_string(),
            "store.postgres_statement_timeout_ms",
        ),
        (
            "[server]\nhealth_interval_ms = 5\n".to_string(),
            "server.health_interval_ms",
        ),
    ];
    let check = |config: &Path| {
        Command::new(crate::support::wedock_bin())
            .args(["check", "--config"])
            .arg(config)
            .current_dir(dir.path())
            .output()
            .unwrap()
    };
    for (toml, key) in cases {
        let p = dir.path().join("c.toml");
        std::fs::write(&p, &toml).unwrap();
        let out = check(&p);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{toml}: {err}");
        assert!(err.contains(key), "expected {key} in: {err}");
        assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
        assert!(!err.contains("s3cr3t-pw"), "password echoed: {err}");
    }
    let ok = dir.path().join("ok.toml");
    std::fs::write(&ok, pg("sslmode=require")).unwrap();
    let out = check(&ok);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
