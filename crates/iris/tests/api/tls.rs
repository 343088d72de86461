//! HTTPS built in (issue 13): a certificate chain generated for the test (a root, an intermediate
//! and the server's certificate, the root trusted by the client and nothing else), served over
//! HTTP/1.1 and HTTP/2 to verifying clients; the certificate replaced on disk and reloaded (what
//! SIGHUP does), new connections getting the new one while an open connection goes on; a reload
//! of broken files keeping the certificate served; and, with the real binary, startup errors for
//! files that cannot be served and a reload on an actual SIGHUP.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use reqwest::{StatusCode, Version};
use serde_json::json;

use crate::harness::{Backend, TestApp, USER};
use crate::operator::{command, free_port};

/// A certificate authority of the test's own.
struct Authority {
    issuer: Issuer<'static, KeyPair>,
    pem: String,
}

impl Authority {
    fn root(name: &str) -> Self {
        let key = KeyPair::generate().unwrap();
        let params = ca_params(name);
        let pem = params.self_signed(&key).unwrap().pem();
        Self {
            issuer: Issuer::new(params, key),
            pem,
        }
    }

    fn intermediate(&self, name: &str) -> Self {
        let key = KeyPair::generate().unwrap();
        let params = ca_params(name);
        let pem = params.signed_by(&key, &self.issuer).unwrap().pem();
        Self {
            issuer: Issuer::new(params, key),
            pem,
        }
    }

    /// A server certificate for 127.0.0.1 and localhost, with this authority's certificate after
    /// it (the chain a server sends), and its key: both PEM.
    fn server_chain_and_key(&self) -> (String, String) {
        let key = KeyPair::generate().unwrap();
        let params =
            CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()]).unwrap();
        let leaf = params.signed_by(&key, &self.issuer).unwrap();
        (format!("{}{}", leaf.pem(), self.pem), key.serialize_pem())
    }

    /// A client that trusts this authority only, and verifies. It never resumes a TLS session
    /// (a resumed session skips the certificate), so each new connection verifies the
    /// certificate served, and a request that succeeds after a reload without verifying the new
    /// one went over a connection opened before.
    fn client(&self, version: Option<Version>) -> reqwest::Client {
        use rustls::pki_types::CertificateDer;
        use rustls::pki_types::pem::PemObject;
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(CertificateDer::from_pem_slice(self.pem.as_bytes()).unwrap())
            .unwrap();
        let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
        let mut tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        tls.resumption = rustls::client::Resumption::disabled();
        tls.alpn_protocols = match version {
            Some(Version::HTTP_11) => vec![b"http/1.1".to_vec()],
            Some(Version::HTTP_2) => vec![b"h2".to_vec()],
            _ => vec![b"h2".to_vec(), b"http/1.1".to_vec()],
        };
        let builder = reqwest::Client::builder()
            .use_preconfigured_tls(tls)
            .timeout(Duration::from_secs(20));
        match version {
            Some(Version::HTTP_11) => builder.http1_only(),
            Some(Version::HTTP_2) => builder.http2_prior_knowledge(),
            _ => builder,
        }
        .build()
        .unwrap()
    }
}

fn ca_params(name: &str) -> CertificateParams {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params
}

/// The certificate files a server is pointed at.
struct CertificateFiles {
    _dir: tempfile::TempDir,
    cert: PathBuf,
    key: PathBuf,
}

impl CertificateFiles {
    /// Files holding a server certificate issued by `root` through an intermediate.
    fn issued_by(root: &Authority) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let files = Self {
            cert: dir.path().join("chain.pem"),
            key: dir.path().join("key.pem"),
            _dir: dir,
        };
        files.replace_with(root);
        files
    }

    fn replace_with(&self, root: &Authority) {
        let (chain, key) = root
            .intermediate("Iris Test Intermediate")
            .server_chain_and_key();
        std::fs::write(&self.cert, chain).unwrap();
        std::fs::write(&self.key, key).unwrap();
    }
}

/// Runs `test` on a server over HTTPS with `files` on `backend`, its harness client trusting
/// `root`.
async fn on_https<F, Fut>(backend: Backend, root: &Authority, files: &CertificateFiles, test: F)
where
    F: FnOnce(TestApp) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = TestApp> + Send + 'static,
{
    on_https_with(backend, root, files, |_| {}, test).await;
}

/// [`on_https`] on a server whose other settings `configure` adjusts.
async fn on_https_with<F, Fut>(
    backend: Backend,
    root: &Authority,
    files: &CertificateFiles,
    configure: fn(&mut iris::config::Config),
    test: F,
) where
    F: FnOnce(TestApp) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = TestApp> + Send + 'static,
{
    let (cert, key) = (files.cert.clone(), files.key.clone());
    crate::harness::run_with_client(
        backend,
        move |config| {
            configure(config);
            config.tls_cert = Some(cert);
            config.tls_key = Some(key);
        },
        root.client(None),
        test,
    )
    .await;
}

async fn get_users(app: &TestApp, client: &reqwest::Client) -> reqwest::Result<reqwest::Response> {
    client
        .get(format!("{}/Users", app.tenant_url))
        .bearer_auth(&app.token)
        .send()
        .await
}

async fn https_with_a_chain_serves_http1_and_http2_to_verifying_clients(backend: Backend) {
    let root = Authority::root("Iris Test Root");
    let files = CertificateFiles::issued_by(&root);
    let clients = [
        (root.client(Some(Version::HTTP_11)), Version::HTTP_11),
        (root.client(Some(Version::HTTP_2)), Version::HTTP_2),
        // ALPN picks HTTP/2 when the client offers it.
        (root.client(None), Version::HTTP_2),
    ];
    let root_pem = root.pem.clone();
    on_https(backend, &root, &files, |app| async move {
        assert!(app.base_url.starts_with("https://127.0.0.1:"));
        for (client, version) in &clients {
            let reply = get_users(&app, client).await.expect("a verified exchange");
            assert_eq!(reply.status(), StatusCode::OK);
            assert_eq!(reply.version(), *version);
        }
        // TLS 1.2 is served too.
        let tls12 = reqwest::Client::builder()
            .tls_built_in_root_certs(false)
            .add_root_certificate(reqwest::Certificate::from_pem(root_pem.as_bytes()).unwrap())
            .max_tls_version(reqwest::tls::Version::TLS_1_2)
            .build()
            .unwrap();
        let reply = get_users(&app, &tls12).await.expect("TLS 1.2");
        assert_eq!(reply.status(), StatusCode::OK);
        // Resources are located on HTTPS.
        let created = app
            .post(
                "/Users",
                &json!({"schemas": [USER], "userName": "tls@example.com"}),
            )
            .await
            .expect(StatusCode::CREATED);
        let location = created.body["meta"]["location"].as_str().unwrap();
        assert!(location.starts_with(&app.tenant_url), "{location}");
        assert!(location.starts_with("https://"), "{location}");
        // Plain HTTP on the HTTPS port gets nothing.
        let plain = reqwest::Client::new()
            .get(app.base_url.replace("https://", "http://") + "/healthz")
            .send()
            .await;
        assert!(plain.is_err_and(|e| !e.is_status()));
        app
    })
    .await;
}

async fn a_reloaded_certificate_is_served_to_new_connections_while_open_ones_go_on(
    backend: Backend,
) {
    let before = Authority::root("Iris Test Root Before");
    let after = Authority::root("Iris Test Root After");
    let files = CertificateFiles::issued_by(&before);
    let open_client = before.client(Some(Version::HTTP_2));
    let (trusts_before, trusts_after) = (before.client(None), after.client(None));
    let replace = {
        let (cert, key) = (files.cert.clone(), files.key.clone());
        let (chain, new_key) = after
            .intermediate("Iris Test Intermediate")
            .server_chain_and_key();
        move || {
            std::fs::write(&cert, chain).unwrap();
            std::fs::write(&key, new_key).unwrap();
        }
    };
    on_https(backend, &before, &files, |app| async move {
        // One HTTP/2 connection, opened before the reload.
        let reply = get_users(&app, &open_client).await.unwrap();
        assert_eq!(reply.status(), StatusCode::OK);
        assert!(get_users(&app, &trusts_after).await.is_err());

        replace();
        app.reload_certificate().await.expect("the reload");

        let reply = get_users(&app, &trusts_after)
            .await
            .expect("the new certificate");
        assert_eq!(reply.status(), StatusCode::OK);
        assert!(
            get_users(&app, &trusts_before).await.is_err(),
            "a new connection still got the old certificate"
        );
        // The connection opened before goes on (a new one would fail: it trusts the old root).
        let reply = get_users(&app, &open_client)
            .await
            .expect("the open connection");
        assert_eq!(reply.status(), StatusCode::OK);
        app
    })
    .await;
}

/// An idle HTTP/2 connection stays open past the header-read timeout and closes at the idle
/// timeout. Whether it is the same connection is told by the certificate: after a reload, the
/// client's new connections fail. (That frames between HTTP/2 requests, which reqwest does not
/// send here, start no head clock is a unit test of `iris_http::serve`'s timeouts.)
async fn an_http2_connection_lasts_until_the_idle_timeout(backend: Backend) {
    fn timeouts(config: &mut iris::config::Config) {
        config.header_read_timeout_seconds = 1;
        config.idle_timeout_seconds = 4;
    }
    let before = Authority::root("Iris Test Root Before");
    let after = Authority::root("Iris Test Root After");
    let files = CertificateFiles::issued_by(&before);
    let open_client = before.client(Some(Version::HTTP_2));
    let replace = {
        let (cert, key) = (files.cert.clone(), files.key.clone());
        let (chain, new_key) = after
            .intermediate("Iris Test Intermediate")
            .server_chain_and_key();
        move || {
            std::fs::write(&cert, chain).unwrap();
            std::fs::write(&key, new_key).unwrap();
        }
    };
    on_https_with(backend, &before, &files, timeouts, |app| async move {
        let reply = get_users(&app, &open_client).await.unwrap();
        assert_eq!(reply.status(), StatusCode::OK);
        replace();
        app.reload_certificate().await.expect("the reload");
        // Past the header-read timeout, within the idle one: the connection is still there.
        tokio::time::sleep(Duration::from_millis(2500)).await;
        let reply = get_users(&app, &open_client)
            .await
            .expect("the connection closed before the idle timeout");
        assert_eq!(reply.status(), StatusCode::OK);
        // Past the idle timeout: closed, and a new connection does not verify.
        tokio::time::sleep(Duration::from_millis(5500)).await;
        assert!(
            get_users(&app, &open_client).await.is_err(),
            "the connection outlived the idle timeout"
        );
        app
    })
    .await;
}

async fn a_reload_of_broken_files_keeps_the_certificate_served(backend: Backend) {
    let root = Authority::root("Iris Test Root");
    let files = CertificateFiles::issued_by(&root);
    let key = files.key.clone();
    let client = root.client(None);
    on_https(backend, &root, &files, |app| async move {
        std::fs::write(&key, "not a key").unwrap();
        let refused = app.reload_certificate().await.unwrap_err();
        assert!(refused.contains(&key.display().to_string()), "{refused}");
        let reply = get_users(&app, &client)
            .await
            .expect("the certificate kept");
        assert_eq!(reply.status(), StatusCode::OK);
        app
    })
    .await;
}

macro_rules! on_both_engines {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::harness::Backend::Sqlite).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::harness::Backend::Postgres).await;
                }
            )*
        }
    };
}

on_both_engines!(
    https_with_a_chain_serves_http1_and_http2_to_verifying_clients,
    a_reloaded_certificate_is_served_to_new_connections_while_open_ones_go_on,
    a_reload_of_broken_files_keeps_the_certificate_served,
    an_http2_connection_lasts_until_the_idle_timeout,
);

/// The real binary: files it cannot serve are a startup error naming them; SIGHUP reloads.
mod binary {
    use super::*;

    /// `iris serve` over HTTPS with `cert` and `key` on a SQLite database in `dir`.
    fn serve(dir: &Path, port: u16, cert: &Path, key: &Path) -> tokio::process::Command {
        let database = format!("sqlite://{}", dir.join("iris.db").display());
        let mut cmd = command(&database, &format!("https://127.0.0.1:{port}"));
        cmd.args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .arg("--tls-cert")
            .arg(cert)
            .arg("--tls-key")
            .arg(key)
            .stdin(Stdio::null());
        cmd
    }

    async fn startup_error(dir: &Path, cert: &Path, key: &Path) -> String {
        let out = tokio::time::timeout(
            Duration::from_secs(30),
            serve(dir, free_port(), cert, key).output(),
        )
        .await
        .expect("iris serve exits")
        .unwrap();
        assert!(!out.status.success(), "iris serve started");
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    #[tokio::test]
    async fn certificate_files_that_cannot_be_served_are_a_startup_error_naming_them() {
        let root = Authority::root("Iris Test Root");
        let files = CertificateFiles::issued_by(&root);
        let other = CertificateFiles::issued_by(&root);
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing-key.pem");

        let stderr = startup_error(dir.path(), &files.cert, &missing).await;
        assert!(
            stderr.contains(&format!("cannot read TLS key file {}", missing.display())),
            "{stderr}"
        );
        let stderr = startup_error(dir.path(), &files.cert, &other.key).await;
        assert!(
            stderr.contains("does not belong to the certificate"),
            "{stderr}"
        );
        assert!(
            stderr.contains(&other.key.display().to_string()),
            "{stderr}"
        );
        let stderr = startup_error(dir.path(), &files.key, &files.key).await;
        assert!(stderr.contains("holds no PEM CERTIFICATE"), "{stderr}");
    }

    #[tokio::test]
    async fn sighup_reloads_the_certificate() {
        let before = Authority::root("Iris Test Root Before");
        let after = Authority::root("Iris Test Root After");
        let files = CertificateFiles::issued_by(&before);
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let mut child = serve(dir.path(), port, &files.cert, &files.key)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let healthz = format!("https://127.0.0.1:{port}/healthz");
        let answers = |client: reqwest::Client| {
            let url = healthz.clone();
            async move {
                for _ in 0..200 {
                    if client.get(&url).send().await.is_ok() {
                        return true;
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                false
            }
        };
        assert!(
            answers(before.client(None)).await,
            "iris serve never answered"
        );
        let open_client = before.client(Some(Version::HTTP_2));
        open_client.get(&healthz).send().await.unwrap();

        files.replace_with(&after);
        let pid = child.id().unwrap().to_string();
        let sent = std::process::Command::new("kill")
            .args(["-HUP", &pid])
            .status()
            .unwrap();
        assert!(sent.success());
        assert!(
            answers(after.client(None)).await,
            "the new certificate was never served"
        );
        assert!(child.try_wait().unwrap().is_none(), "SIGHUP ended iris");
        let reply = open_client.get(&healthz).send().await.unwrap();
        assert_eq!(reply.status(), StatusCode::OK);
        let _ = child.start_kill();
    }
}
