//! How the PostgreSQL store reaches its server: the libpq `sslmode` / `sslrootcert` settings
//! of the connection string mapped onto rustls (ring), and a pool with connect and statement
//! timeouts that replaces connections the server closed (a restart) on its own.
//!
//! `sslmode` follows libpq: `disable` never encrypts; `prefer` (the default) encrypts when the
//! server offers TLS and otherwise goes on in plain text; `require` encrypts without checking
//! the certificate, unless `sslrootcert` is given, which makes it `verify-ca` (as libpq does);
//! `verify-ca` checks the chain up to a trusted root but not the host name; `verify-full`
//! checks both. The trusted roots are the `sslrootcert` file (PEM), or the system's store
//! when it is absent or `system`.

use deadpool_postgres::{Manager, ManagerConfig, Pool, PoolError, RecyclingMethod, Runtime};
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};
use std::sync::Arc;
use std::time::Duration;
use tokio_postgres_rustls::MakeRustlsConnect;

/// libpq's `sslmode` values (`allow` is not offered: it only ever downgrades).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl SslMode {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "disable" => SslMode::Disable,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            _ => return None,
        })
    }
}

/// Pool size and timeouts (`[store] postgres_*`).
#[derive(Debug, Clone)]
pub struct PgOptions {
    /// Most connections one replica holds open.
    pub pool_size: usize,
    /// Longest wait for a new connection (TCP, TLS and authentication together).
    pub connect_timeout: Duration,
    /// Longest a statement may run: the server cancels it (`statement_timeout`), and the
    /// client gives up on a call after connect + statement timeout whatever the server does.
    pub statement_timeout: Duration,
}

impl Default for PgOptions {
    fn default() -> Self {
        Self {
            pool_size: 8,
            connect_timeout: Duration::from_secs(5),
            statement_timeout: Duration::from_secs(10),
        }
    }
}

impl PgOptions {
    /// The most one store call may take, waiting for a connection included.
    pub fn call_deadline(&self) -> Duration {
        self.connect_timeout + self.statement_timeout
    }
}

/// A connection string split into what tokio-postgres understands and the TLS settings that
/// it does not (it knows no `verify-ca` / `verify-full` and no `sslrootcert`).
pub struct PgTarget {
    pub config: tokio_postgres::Config,
    pub sslmode: SslMode,
    pub root_cert: Option<String>,
}

/// TLS keys of libpq that need client certificates or revocation lists: refused by name
/// rather than ignored, so nobody believes they are in force.
const UNSUPPORTED: &[&str] = &["sslcert", "sslkey", "sslpassword", "sslcrl", "sslcrldir"];

/// Reads the TLS settings out of a `postgres://` URL or a `key=value` string. Errors never
/// include the string itself (it may hold a password).
pub fn parse_target(conn: &str) -> Result<PgTarget, String> {
    let mut sslmode = None;
    let mut root_cert = None;
    let mut take = |key: &str, value: String| -> Result<bool, String> {
        match key {
            "sslmode" => {
                sslmode = Some(SslMode::parse(&value).ok_or_else(|| {
                    format!(
                        "sslmode {value:?} is not one of disable, prefer, require, verify-ca, verify-full"
                    )
                })?);
                Ok(true)
            }
            "sslrootcert" => {
                root_cert = Some(value);
                Ok(true)
            }
            k if UNSUPPORTED.contains(&k) => Err(format!(
                "{k} is not supported (client certificates and CRLs are not implemented)"
            )),
            _ => Ok(false),
        }
    };
    let rest = if conn.starts_with("postgres://") || conn.starts_with("postgresql://") {
        let mut url = url::Url::parse(conn)
            .map_err(|e| format!("the PostgreSQL URL is not a valid URL ({e})"))?;
        let mut kept = Vec::new();
        for (k, v) in url.query_pairs() {
            if !take(&k, v.to_string())? {
                kept.push((k.to_string(), v.to_string()));
            }
        }
        url.set_query(None);
        if !kept.is_empty() {
            url.query_pairs_mut().extend_pairs(kept);
        }
        url.to_string()
    } else {
        let mut kept = Vec::new();
        for word in conn.split_whitespace() {
            match word.split_once('=') {
                Some((k, v)) if take(k.trim(), v.trim_matches('\'').to_string())? => {}
                _ => kept.push(word),
            }
        }
        kept.join(" ")
    };
    let config: tokio_postgres::Config = rest.parse().map_err(|e| {
        format!(
            "the PostgreSQL connection string is invalid ({})",
            chain(&e)
        )
    })?;
    Ok(PgTarget {
        config,
        sslmode: sslmode.unwrap_or(SslMode::Prefer),
        root_cert,
    })
}

/// Checks what `serve` would check before its first connection: the TLS settings and the
/// trusted roots they name (`wedock check`).
pub fn check_tls(target: &PgTarget) -> Result<(), String> {
    tls_connector(target.sslmode, target.root_cert.as_deref()).map(|_| ())
}

/// The rustls connector for `mode`; with `Disable` it is never used.
pub fn tls_connector(mode: SslMode, root_cert: Option<&str>) -> Result<MakeRustlsConnect, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    // libpq: with a root certificate at hand, `require` verifies the chain like `verify-ca`.
    let mode = match (mode, root_cert) {
        (SslMode::Require, Some(_)) => SslMode::VerifyCa,
        (m, _) => m,
    };
    let verifier: Arc<dyn ServerCertVerifier> = match mode {
        SslMode::Disable | SslMode::Prefer | SslMode::Require => Arc::new(Relaxed {
            chain: None,
            provider: provider.clone(),
        }),
        SslMode::VerifyCa | SslMode::VerifyFull => {
            let roots = load_roots(root_cert)?;
            let webpki = WebPkiServerVerifier::builder_with_provider(roots, provider.clone())
                .build()
                .map_err(|e| format!("cannot build the certificate verifier: {e}"))?;
            if mode == SslMode::VerifyFull {
                webpki
            } else {
                Arc::new(Relaxed {
                    chain: Some(webpki),
                    provider: provider.clone(),
                })
            }
        }
    };
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup failed: {e}"))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Ok(MakeRustlsConnect::new(config))
}

fn load_roots(root_cert: Option<&str>) -> Result<Arc<RootCertStore>, String> {
    let mut roots = RootCertStore::empty();
    match root_cert {
        Some(path) if path != "system" => {
            let certs = CertificateDer::pem_file_iter(path)
                .map_err(|e| format!("sslrootcert {path}: cannot read it ({e})"))?;
            for cert in certs {
                let cert = cert.map_err(|e| format!("sslrootcert {path}: not PEM ({e})"))?;
                roots
                    .add(cert)
                    .map_err(|e| format!("sslrootcert {path}: bad certificate ({e})"))?;
            }
            if roots.is_empty() {
                return Err(format!("sslrootcert {path}: holds no certificate"));
            }
        }
        _ => {
            let found = rustls_native_certs::load_native_certs();
            roots.add_parsable_certificates(found.certs);
            if roots.is_empty() {
                return Err(
                    "no trusted root certificates on this system: set sslrootcert=/path/ca.crt in the URL"
                        .into(),
                );
            }
        }
    }
    Ok(Arc::new(roots))
}

/// The modes below `verify-full`. `verify-ca`: the chain must lead to a trusted root; the
/// name in it is not checked. `prefer` / `require`: encrypted, but any certificate is taken.
/// Either way the handshake signature is checked with the provider's algorithms (as the
/// WebPKI verifier itself does), so the session key belongs to whoever holds that
/// certificate's key.
#[derive(Debug)]
struct Relaxed {
    /// The chain check of `verify-ca`; `None` takes any certificate.
    chain: Option<Arc<WebPkiServerVerifier>>,
    provider: Arc<CryptoProvider>,
}

/// The TLS 1.2 and 1.3 handshake checks differ only in the rustls function they call.
macro_rules! handshake_signature {
    ($check:ident) => {
        fn $check(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            let algs = &self.provider.signature_verification_algorithms;
            rustls::crypto::$check(message, cert, dss, algs)
        }
    };
}

impl ServerCertVerifier for Relaxed {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Some(chain) = &self.chain else {
            return Ok(ServerCertVerified::assertion());
        };
        match chain.verify_server_cert(end_entity, intermediates, server_name, ocsp, now) {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }
    handshake_signature!(verify_tls12_signature);
    handshake_signature!(verify_tls13_signature);
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// The tokio-postgres settings for a target: TLS per `sslmode`, connect timeout, keepalives,
/// and the statement timeout as a session setting the server enforces.
pub fn client_config(target: &PgTarget, opts: &PgOptions) -> tokio_postgres::Config {
    use tokio_postgres::config::SslMode as Pg;
    let mut config = target.config.clone();
    config.ssl_mode(match target.sslmode {
        SslMode::Disable => Pg::Disable,
        SslMode::Prefer => Pg::Prefer,
        SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => Pg::Require,
    });
    config.connect_timeout(opts.connect_timeout);
    // A peer that vanished (no RST) is noticed by the kernel instead of hanging a call.
    config.keepalives_idle(Duration::from_secs(30));
    config.tcp_user_timeout(opts.call_deadline());
    let statement = format!(
        "-c statement_timeout={}",
        opts.statement_timeout.as_millis()
    );
    let options = match config.get_options() {
        Some(o) if !o.trim().is_empty() => format!("{o} {statement}"),
        _ => statement,
    };
    config.options(options);
    config
}

/// A pool of at most `pool_size` connections. Connections are opened on demand; one the
/// server closed is dropped when it comes back to the pool and replaced by a new one.
pub fn pool(conn: &str, opts: &PgOptions) -> Result<Pool, String> {
    let target = parse_target(conn)?;
    let tls = tls_connector(target.sslmode, target.root_cert.as_deref())?;
    let manager = Manager::from_config(
        client_config(&target, opts),
        tls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    Pool::builder(manager)
        .max_size(opts.pool_size.max(1))
        .runtime(Runtime::Tokio1)
        .wait_timeout(Some(opts.call_deadline()))
        .create_timeout(Some(opts.connect_timeout))
        .recycle_timeout(Some(opts.connect_timeout))
        .build()
        .map_err(|e| format!("cannot build the connection pool: {e}"))
}

/// One unpooled connection with the same TLS and timeouts as the store, for tooling and
/// tests that need a plain client (creating a database, say). The connection's task ends
/// when the client is dropped.
pub async fn connect_once(conn: &str, opts: &PgOptions) -> Result<tokio_postgres::Client, String> {
    let target = parse_target(conn)?;
    let tls = tls_connector(target.sslmode, target.root_cert.as_deref())?;
    let config = client_config(&target, opts);
    let (client, connection) = tokio::time::timeout(opts.connect_timeout, config.connect(tls))
        .await
        .map_err(|_| {
            format!(
                "PostgreSQL: no connection within {} ms",
                opts.connect_timeout.as_millis()
            )
        })?
        .map_err(|e| format!("PostgreSQL: {}", describe(&e)))?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!(error = %describe(&e), "PostgreSQL connection closed");
        }
    });
    Ok(client)
}

/// An error with its causes, `a: b: c` (tokio-postgres puts the useful part in the causes:
/// "error performing TLS handshake" alone does not say that the certificate was refused).
pub fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let s = c.to_string();
        if !out.contains(&s) {
            out.push_str(": ");
            out.push_str(&s);
        }
        cur = c.source();
    }
    out
}

/// A pool error in words that say which setting to look at.
pub fn pool_error(e: PoolError, opts: &PgOptions) -> String {
    use deadpool_postgres::TimeoutType;
    match e {
        PoolError::Timeout(TimeoutType::Create) => format!(
            "PostgreSQL: no connection within {} ms (store.postgres_connect_timeout_ms)",
            opts.connect_timeout.as_millis()
        ),
        PoolError::Timeout(TimeoutType::Wait) => format!(
            "PostgreSQL: all {} pooled connections stayed busy for {} ms (store.postgres_pool_size)",
            opts.pool_size,
            opts.call_deadline().as_millis()
        ),
        PoolError::Timeout(TimeoutType::Recycle) => format!(
            "PostgreSQL: a pooled connection did not answer within {} ms",
            opts.connect_timeout.as_millis()
        ),
        PoolError::Backend(e) => format!("PostgreSQL: {}", describe(&e)),
        other => format!("PostgreSQL: {}", chain(&other)),
    }
}

/// A driver error with the server's message when there is one.
pub fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(d) => format!("{}: {}", d.code().code(), d.message()),
        None => chain(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sslmode_and_rootcert_are_taken_out_of_the_url() {
        let t = parse_target(
            "postgres://u:p@db.example:5433/app?sslmode=verify-full&sslrootcert=/etc/ca.crt&application_name=w",
        )
        .unwrap();
        assert_eq!(t.sslmode, SslMode::VerifyFull);
        assert_eq!(t.root_cert.as_deref(), Some("/etc/ca.crt"));
        assert_eq!(t.config.get_application_name(), Some("w"));
        assert_eq!(t.config.get_dbname(), Some("app"));
        let kv = parse_target("host=db user=u sslmode=require dbname=app").unwrap();
        assert_eq!(kv.sslmode, SslMode::Require);
        assert_eq!(
            parse_target("postgres://u@h/db").unwrap().sslmode,
            SslMode::Prefer
        );
    }

    #[test]
    fn bad_settings_are_named_without_the_password() {
        let e = parse_target("postgres://u:secretpw@h/db?sslmode=verify")
            .err()
            .unwrap();
        assert!(e.contains("sslmode") && !e.contains("secretpw"), "{e}");
        let e = parse_target("postgres://u:secretpw@h/db?sslcert=/c.pem")
            .err()
            .unwrap();
        assert!(e.contains("sslcert") && !e.contains("secretpw"), "{e}");
        let e = tls_connector(SslMode::VerifyFull, Some("/nonexistent/ca.crt"))
            .err()
            .unwrap();
        assert!(e.contains("sslrootcert /nonexistent/ca.crt"), "{e}");
    }
}
