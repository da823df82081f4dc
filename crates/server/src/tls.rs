//! TLS for the HTTP API and the device listeners: loading and checking the
//! certificate and key, the acceptors, and reloading them while running.
//!
//! Both acceptors resolve the certificate through one [`CurrentCert`], which
//! every new handshake reads; a reload swaps it, so open connections keep
//! the session they negotiated and new ones get the new certificate.

use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};

use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

use crate::config::TlsFiles;

/// Why a certificate or key cannot be used. Each message is one line that
/// names the file.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read.
    // `cause`, not `source`: the message already says it, and a source
    // would print it twice in an error chain.
    #[error("cannot read TLS file {}: {cause}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        cause: std::io::Error,
    },
    /// The certificate file holds no usable PEM certificate.
    #[error("TLS certificate {}: {reason}", path.display())]
    BadCertificate {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The leaf certificate's validity ended.
    #[error("TLS certificate {} expired on {not_after}", path.display())]
    Expired {
        /// The file.
        path: PathBuf,
        /// The end of its validity (RFC 3339).
        not_after: String,
    },
    /// The leaf certificate is not valid yet.
    #[error("TLS certificate {} is not valid before {not_before}", path.display())]
    NotYetValid {
        /// The file.
        path: PathBuf,
        /// The start of its validity (RFC 3339).
        not_before: String,
    },
    /// The key file holds no usable private key.
    #[error("TLS key {}: {reason}", path.display())]
    BadKey {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The key is not the certificate's.
    #[error("TLS key {} does not match certificate {}", key.display(), cert.display())]
    KeyMismatch {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
    },
    /// rustls refused the configuration.
    #[error("TLS configuration: {0}")]
    Config(rustls::Error),
}

/// The certificate new handshakes get.
#[derive(Debug)]
struct CurrentCert(RwLock<Arc<CertifiedKey>>);

impl ResolvesServerCert for CurrentCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(
            self.0
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .clone(),
        )
    }
}

/// The loaded certificate and the acceptors that serve it.
pub(crate) struct Tls {
    files: TlsFiles,
    provider: Arc<CryptoProvider>,
    current: Arc<CurrentCert>,
    http: TlsAcceptor,
    device: TlsAcceptor,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls").field("files", &self.files).finish()
    }
}

impl Tls {
    /// Loads and checks `files`; fails on anything a client would refuse.
    pub(crate) fn load(files: &TlsFiles) -> Result<Tls, TlsError> {
        // ring, chosen explicitly: no process-wide default provider needed.
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let key = load_certified_key(files, &provider)?;
        let current = Arc::new(CurrentCert(RwLock::new(Arc::new(key))));
        // The HTTP server speaks HTTP/1.1 only, so that is all ALPN offers.
        let http = acceptor(&provider, &current, vec![b"http/1.1".to_vec()])?;
        // Devices speak their own protocols: no ALPN.
        let device = acceptor(&provider, &current, Vec::new())?;
        Ok(Tls {
            files: files.clone(),
            provider,
            current,
            http,
            device,
        })
    }

    /// Reads the files again and serves the new certificate to new
    /// handshakes; on failure the old one stays in force.
    pub(crate) fn reload(&self) -> Result<(), TlsError> {
        let key = load_certified_key(&self.files, &self.provider)?;
        *self
            .current
            .0
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Arc::new(key);
        Ok(())
    }

    /// The acceptor of the HTTP API and HTTP ingest (ALPN `http/1.1`).
    pub(crate) fn http_acceptor(&self) -> TlsAcceptor {
        self.http.clone()
    }

    /// The acceptor of device stream listeners.
    pub(crate) fn device_acceptor(&self) -> TlsAcceptor {
        self.device.clone()
    }
}

fn acceptor(
    provider: &Arc<CryptoProvider>,
    current: &Arc<CurrentCert>,
    alpn: Vec<Vec<u8>>,
) -> Result<TlsAcceptor, TlsError> {
    let mut config = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(TlsError::Config)?
        .with_no_client_auth()
        .with_cert_resolver(current.clone());
    if !alpn.is_empty() {
        config.alpn_protocols = alpn;
    }
    Ok(TlsAcceptor::from(Arc::new(config)))
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|cause| TlsError::Read {
        path: path.to_owned(),
        cause,
    })
}

/// The chain and key of `files`, checked: parseable, leaf currently valid,
/// key matching the leaf.
fn load_certified_key(
    files: &TlsFiles,
    provider: &CryptoProvider,
) -> Result<CertifiedKey, TlsError> {
    let bad_cert = |reason: String| TlsError::BadCertificate {
        path: files.cert.clone(),
        reason,
    };
    let bad_key = |reason: String| TlsError::BadKey {
        path: files.key.clone(),
        reason,
    };
    let cert_pem = read(&files.cert)?;
    let chain = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|err| bad_cert(format!("invalid PEM: {err}")))?;
    let leaf = chain
        .first()
        .ok_or_else(|| bad_cert("no PEM CERTIFICATE block".to_owned()))?;
    check_validity(&files.cert, leaf)?;

    let key_pem = read(&files.key)?;
    let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|err| match err {
        rustls_pki_types::pem::Error::NoItemsFound => bad_key("no PEM private key block".into()),
        err => bad_key(format!("invalid PEM: {err}")),
    })?;
    let signing = provider
        .key_provider
        .load_private_key(key)
        .map_err(|err| bad_key(err.to_string()))?;
    let certified = CertifiedKey::new(chain, signing);
    match certified.keys_match() {
        Ok(()) => Ok(certified),
        Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch)) => {
            Err(TlsError::KeyMismatch {
                cert: files.cert.clone(),
                key: files.key.clone(),
            })
        }
        // The provider cannot say (ring always can): the handshake is the judge.
        Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::Unknown)) => Ok(certified),
        Err(err) => Err(bad_cert(err.to_string())),
    }
}

/// Refuses a leaf certificate outside its validity period now: clients
/// would refuse every handshake with it.
fn check_validity(path: &Path, leaf: &CertificateDer<'_>) -> Result<(), TlsError> {
    let (_, cert) = x509_parser::parse_x509_certificate(leaf.as_ref()).map_err(|err| {
        TlsError::BadCertificate {
            path: path.to_owned(),
            reason: format!("not an X.509 certificate: {err}"),
        }
    })?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| {
            i64::try_from(since.as_secs()).unwrap_or(i64::MAX)
        });
    let validity = cert.validity();
    let rfc3339 = |secs: i64| {
        chrono::DateTime::from_timestamp(secs, 0)
            .map_or_else(|| secs.to_string(), |t| t.to_rfc3339())
    };
    if validity.not_after.timestamp() < now {
        return Err(TlsError::Expired {
            path: path.to_owned(),
            not_after: rfc3339(validity.not_after.timestamp()),
        });
    }
    if validity.not_before.timestamp() > now {
        return Err(TlsError::NotYetValid {
            path: path.to_owned(),
            not_before: rfc3339(validity.not_before.timestamp()),
        });
    }
    Ok(())
}

/// The plain-HTTP port's only answer: `308` to the same host and path on
/// the HTTPS port.
pub(crate) fn redirect_router(https_port: u16) -> axum::Router {
    axum::Router::new().fallback(
        move |headers: axum::http::HeaderMap, uri: axum::http::Uri| async move {
            redirect(&headers, &uri, https_port)
        },
    )
}

fn redirect(
    headers: &axum::http::HeaderMap,
    uri: &axum::http::Uri,
    https_port: u16,
) -> axum::response::Response {
    use axum::http::{header, StatusCode};
    use axum::response::IntoResponse;
    let host = headers
        .get(header::HOST)
        .and_then(|value| value.to_str().ok())
        .map(host_without_port)
        .filter(|host| is_host(host));
    let Some(host) = host else {
        return (StatusCode::BAD_REQUEST, "a Host header is needed\n").into_response();
    };
    let path = uri.path_and_query().map_or("/", |pq| pq.as_str());
    let location = if https_port == 443 {
        format!("https://{host}{path}")
    } else {
        format!("https://{host}:{https_port}{path}")
    };
    (
        StatusCode::PERMANENT_REDIRECT,
        [(header::LOCATION, location)],
    )
        .into_response()
}

/// `example.com:80` → `example.com`, `[::1]:80` → `[::1]`.
fn host_without_port(host: &str) -> &str {
    if host.starts_with('[') {
        return host.find(']').map_or(host, |end| &host[..=end]);
    }
    match host.rsplit_once(':') {
        Some((name, _port)) if !name.contains(':') => name,
        _ => host,
    }
}

/// Only name and address characters: the host goes into `Location`.
fn is_host(host: &str) -> bool {
    !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '[' | ']' | ':'))
}

#[cfg(test)]
mod tests {
    use super::host_without_port;

    #[test]
    fn ports_are_taken_off_hosts() {
        assert_eq!(host_without_port("example.com:8080"), "example.com");
        assert_eq!(host_without_port("example.com"), "example.com");
        assert_eq!(host_without_port("[::1]:80"), "[::1]");
        assert_eq!(host_without_port("127.0.0.1:80"), "127.0.0.1");
    }
}
