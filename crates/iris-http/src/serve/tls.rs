//! HTTPS on the SCIM listener: rustls (the `ring` provider) with TLS 1.2 and 1.3 only, its
//! default cipher suites (ECDHE key exchange with AES-GCM or ChaCha20-Poly1305 only, which include
//! the ones Entra's provisioning service offers), ALPN `h2` then `http/1.1`, and a certificate
//! chain and key read from PEM files. [`TlsCertificates::reload`] reads the files again (what
//! `iris serve` does on SIGHUP): new handshakes get the new certificate, and connections already
//! open keep the keys they agreed.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use tokio_rustls::TlsAcceptor;

/// Why a certificate could not be loaded; each names the file at fault.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read {what} {}: {source}", path.display())]
    Unreadable {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{what} {} holds no PEM {expected}", path.display())]
    Empty {
        what: &'static str,
        path: PathBuf,
        expected: &'static str,
    },
    #[error("{what} {} is not valid PEM: {detail}", path.display())]
    Malformed {
        what: &'static str,
        path: PathBuf,
        detail: String,
    },
    #[error(
        "the private key {} does not belong to the certificate {} (or is not a key rustls \
         supports: {detail})",
        key.display(), cert.display()
    )]
    Mismatch {
        cert: PathBuf,
        key: PathBuf,
        detail: String,
    },
    #[error("TLS cannot be set up: {0}")]
    Setup(String),
}

/// The server's certificate chain and key, reloadable, and the TLS setup that serves them.
#[derive(Clone)]
pub struct TlsCertificates {
    resolver: Arc<ReloadableCertificate>,
    acceptor: TlsAcceptor,
}

impl TlsCertificates {
    /// Loads the chain (the server's certificate first, then intermediates) from `cert` and its
    /// private key (PKCS#8, PKCS#1 or SEC1) from `key`.
    pub fn load(cert: &Path, key: &Path) -> Result<Self, TlsError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let resolver = Arc::new(ReloadableCertificate {
            current: RwLock::new(load_certified_key(cert, key, &provider)?),
            cert_path: cert.to_owned(),
            key_path: key.to_owned(),
            provider: provider.clone(),
        });
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .map_err(|e| TlsError::Setup(e.to_string()))?
            .with_no_client_auth()
            .with_cert_resolver(resolver.clone());
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Self {
            resolver,
            acceptor: TlsAcceptor::from(Arc::new(config)),
        })
    }

    /// Reads the files again; new connections get what they hold from now on. On an error the
    /// certificate served so far stays.
    pub fn reload(&self) -> Result<(), TlsError> {
        let resolver = &self.resolver;
        let fresh =
            load_certified_key(&resolver.cert_path, &resolver.key_path, &resolver.provider)?;
        *resolver
            .current
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = fresh;
        Ok(())
    }

    pub(crate) fn acceptor(&self) -> &TlsAcceptor {
        &self.acceptor
    }
}

impl std::fmt::Debug for TlsCertificates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsCertificates")
            .field("cert", &self.resolver.cert_path)
            .field("key", &self.resolver.key_path)
            .finish_non_exhaustive()
    }
}

#[derive(Debug)]
struct ReloadableCertificate {
    current: RwLock<Arc<CertifiedKey>>,
    cert_path: PathBuf,
    key_path: PathBuf,
    provider: Arc<CryptoProvider>,
}

impl ResolvesServerCert for ReloadableCertificate {
    fn resolve(&self, _: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let current = self
            .current
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        Some(current.clone())
    }
}

fn load_certified_key(
    cert: &Path,
    key: &Path,
    provider: &CryptoProvider,
) -> Result<Arc<CertifiedKey>, TlsError> {
    const CERT: &str = "TLS certificate file";
    const KEY: &str = "TLS key file";
    let chain = CertificateDer::<'static>::pem_slice_iter(&read(CERT, cert)?)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::Malformed {
            what: CERT,
            path: cert.to_owned(),
            detail: e.to_string(),
        })?;
    if chain.is_empty() {
        return Err(TlsError::Empty {
            what: CERT,
            path: cert.to_owned(),
            expected: "CERTIFICATE",
        });
    }
    let private_key = match PrivateKeyDer::<'static>::from_pem_slice(&read(KEY, key)?) {
        Ok(k) => k,
        Err(rustls::pki_types::pem::Error::NoItemsFound) => {
            return Err(TlsError::Empty {
                what: KEY,
                path: key.to_owned(),
                expected: "PRIVATE KEY",
            });
        }
        Err(e) => {
            return Err(TlsError::Malformed {
                what: KEY,
                path: key.to_owned(),
                detail: e.to_string(),
            });
        }
    };
    let certified = CertifiedKey::from_der(chain, private_key, provider)
        .and_then(|certified| certified.keys_match().map(|()| certified))
        .map_err(|e| TlsError::Mismatch {
            cert: cert.to_owned(),
            key: key.to_owned(),
            detail: e.to_string(),
        })?;
    Ok(Arc::new(certified))
}

fn read(what: &'static str, path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Unreadable {
        what,
        path: path.to_owned(),
        source,
    })
}
