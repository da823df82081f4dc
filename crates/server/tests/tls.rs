//! TLS over real loopback sockets: the HTTPS API (Secure cookie, HSTS,
//! redirect port, WebSocket), a Teltonika device on a TLS listener beside
//! the plain one, certificate reload with connections open, and the start
//! refusing certificates clients would refuse.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures_util::StreamExt;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use rustls_pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use trackd_protocols::teltonika::{encode_imei, encode_tcp_frame, Codec};
use trackd_protocols::Transport;
use trackd_server::{Server, ServerConfig, TlsFiles};

use support::{avl, create_device, create_user, loopback, Db, Env, MUST, PASSWORD, START_MS};

const IMEI: &str = "356307042441013";
const ADMIN: &str = "admin@example.com";

/// A test certificate authority and the files of the server's certificate.
struct Pki {
    dir: tempfile::TempDir,
    ca: CertifiedIssuer<'static, KeyPair>,
}

/// One issued server certificate.
struct Leaf {
    cert_pem: String,
    key_pem: String,
    der: CertificateDer<'static>,
}

impl Pki {
    fn new() -> Pki {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, "trackd test CA");
        let ca = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
        Pki {
            dir: tempfile::tempdir().unwrap(),
            ca,
        }
    }

    /// A certificate for 127.0.0.1 and localhost; `expired` ends its
    /// validity in 2020.
    fn issue(&self, name: &str, expired: bool) -> Leaf {
        let mut params =
            CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()]).unwrap();
        params.distinguished_name.push(DnType::CommonName, name);
        if expired {
            params.not_before = rcgen::date_time_ymd(2019, 1, 1);
            params.not_after = rcgen::date_time_ymd(2020, 1, 1);
        }
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.ca).unwrap();
        Leaf {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            der: cert.der().clone(),
        }
    }

    fn cert_path(&self) -> PathBuf {
        self.dir.path().join("cert.pem")
    }

    fn key_path(&self) -> PathBuf {
        self.dir.path().join("key.pem")
    }

    /// Writes `leaf` where the server reads its certificate and key.
    fn install(&self, leaf: &Leaf) {
        std::fs::write(self.cert_path(), &leaf.cert_pem).unwrap();
        std::fs::write(self.key_path(), &leaf.key_pem).unwrap();
    }

    fn files(&self) -> TlsFiles {
        TlsFiles {
            cert: self.cert_path(),
            key: self.key_path(),
        }
    }

    fn ca_pem(&self) -> String {
        self.ca.pem()
    }

    /// A TLS client trusting only the test CA.
    fn connector(&self) -> TlsConnector {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.ca.der().clone()).unwrap();
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
        TlsConnector::from(Arc::new(config))
    }

    async fn connect(&self, addr: SocketAddr) -> TlsStream<TcpStream> {
        let tcp = TcpStream::connect(addr).await.unwrap();
        let name = ServerName::IpAddress(addr.ip().into());
        tokio::time::timeout(MUST, self.connector().connect(name, tcp))
            .await
            .unwrap()
            .unwrap()
    }

    /// An HTTPS client trusting only the test CA, following no redirects.
    fn https_client(&self) -> reqwest::Client {
        reqwest::Client::builder()
            .use_rustls_tls()
            .tls_built_in_root_certs(false)
            .add_root_certificate(reqwest::Certificate::from_pem(self.ca_pem().as_bytes()).unwrap())
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
    }
}

/// The certificate the server presented on `stream`.
fn peer_cert(stream: &TlsStream<TcpStream>) -> CertificateDer<'static> {
    stream.get_ref().1.peer_certificates().unwrap()[0].clone()
}

/// Identifies as `imei` on `stream`; the server's one-byte answer.
async fn identify<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(
    stream: &mut S,
    imei: &str,
) -> u8 {
    stream.write_all(&encode_imei(imei)).await.unwrap();
    let mut reply = [0u8; 1];
    tokio::time::timeout(MUST, stream.read_exact(&mut reply))
        .await
        .unwrap()
        .unwrap();
    reply[0]
}

/// Sends one AVL record; the acknowledged record count.
async fn report<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(
    stream: &mut S,
    fix_ms: i64,
) -> u32 {
    let frame = encode_tcp_frame(Codec::Codec8Ext, &[avl(fix_ms)]);
    stream.write_all(&frame).await.unwrap();
    stream.flush().await.unwrap();
    let mut ack = [0u8; 4];
    tokio::time::timeout(MUST, stream.read_exact(&mut ack))
        .await
        .unwrap()
        .unwrap();
    u32::from_be_bytes(ack)
}

/// A server with the HTTPS API, a redirect port, and Teltonika over TCP
/// both plain and TLS.
async fn start(pki: &Pki) -> Env {
    let config = ServerConfig {
        tls: Some(pki.files()),
        http_redirect: Some(loopback()),
        ..ServerConfig::none()
    }
    .listen("teltonika", Transport::Tcp, loopback())
    .listen_tls("teltonika", Transport::Tcp, loopback());
    Env::start(config, |store| async move {
        create_user(&store, ADMIN, true).await;
        create_device(&store, IMEI).await;
    })
    .await
}

#[tokio::test]
async fn https_api_sets_secure_cookies_and_hsts_and_the_plain_port_redirects() {
    let pki = Pki::new();
    pki.install(&pki.issue("trackd one", false));
    let env = start(&pki).await;
    let https = env.http();
    let client = pki.https_client();

    let response = client
        .post(format!("https://{https}/api/session"))
        .form(&[("email", ADMIN), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["strict-transport-security"],
        "max-age=31536000"
    );
    let set_cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        set_cookie.split(';').any(|part| part.trim() == "Secure"),
        "{set_cookie}"
    );
    let cookie = set_cookie.split(';').next().unwrap().to_owned();

    let response = client
        .get(format!("https://{https}/api/devices"))
        .header("Cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["strict-transport-security"],
        "max-age=31536000"
    );
    let devices: serde_json::Value = response.json().await.unwrap();
    assert_eq!(devices[0]["uniqueId"], IMEI, "{devices}");

    // Plain HTTP on the HTTPS port gets no answer in clear.
    let plain = reqwest::Client::new()
        .get(format!("http://{https}/api/health"))
        .send()
        .await;
    assert!(plain.is_err() || plain.unwrap().status() != 200);

    // The redirect port answers 308 to the same host and path on HTTPS.
    let redirect = env.server.http_redirect.unwrap();
    let response = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!("http://{redirect}/api/devices?all=true"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 308);
    assert_eq!(
        response.headers()["location"],
        format!("https://127.0.0.1:{}/api/devices?all=true", https.port()).as_str()
    );

    // The WebSocket over TLS (ALPN http/1.1) gets the device list.
    let stream = pki.connect(https).await;
    assert_eq!(
        stream.get_ref().1.alpn_protocol(),
        None,
        "no ALPN asked, none chosen"
    );
    let mut request = format!("wss://{https}/api/socket")
        .into_client_request()
        .unwrap();
    request
        .headers_mut()
        .insert("Cookie", cookie.parse().unwrap());
    let (mut socket, _) = tokio_tungstenite::client_async(request, stream)
        .await
        .unwrap();
    // A report over the TLS device port is pushed over the TLS socket.
    let tls_port = env
        .server
        .tls_listener("teltonika", Transport::Tcp)
        .unwrap();
    let mut device = pki.connect(tls_port).await;
    assert_eq!(identify(&mut device, IMEI).await, 1);
    assert_eq!(report(&mut device, START_MS).await, 1);
    let deadline = tokio::time::Instant::now() + MUST;
    loop {
        let message = tokio::time::timeout_at(deadline, socket.next())
            .await
            .expect("a positions push within the time")
            .unwrap()
            .unwrap();
        let Ok(text) = message.to_text() else {
            continue;
        };
        let value: serde_json::Value = serde_json::from_str(text).unwrap_or_default();
        if value["positions"].as_array().is_some_and(|p| !p.is_empty()) {
            break;
        }
    }
    env.server.shutdown().await.unwrap();
}

#[tokio::test]
async fn teltonika_reports_over_tls_beside_the_plain_port() {
    let pki = Pki::new();
    pki.install(&pki.issue("trackd one", false));
    let env = start(&pki).await;
    let tls_port = env
        .server
        .tls_listener("teltonika", Transport::Tcp)
        .unwrap();
    let plain_port = env.device_port("teltonika", Transport::Tcp);
    assert_ne!(tls_port, plain_port);

    // A client that never says hello holds only its own task: the
    // handshake is not done in the accept loop.
    let _silent = TcpStream::connect(tls_port).await.unwrap();
    let _silent_api = TcpStream::connect(env.http()).await.unwrap();
    let mut tls = pki.connect(tls_port).await;
    assert_eq!(identify(&mut tls, IMEI).await, 1);
    assert_eq!(report(&mut tls, START_MS).await, 1);
    let api = pki.connect(env.http()).await;
    drop(api);
    // Acked after commit: stored now.
    assert_eq!(env.stored(IMEI).await, [START_MS]);

    let mut plain = TcpStream::connect(plain_port).await.unwrap();
    assert_eq!(identify(&mut plain, IMEI).await, 1);
    assert_eq!(report(&mut plain, START_MS + 1000).await, 1);
    assert_eq!(env.stored(IMEI).await, [START_MS, START_MS + 1000]);

    // A device speaking plain Teltonika to the TLS port is not heard.
    let mut wrong = TcpStream::connect(tls_port).await.unwrap();
    wrong.write_all(&encode_imei(IMEI)).await.unwrap();
    let mut reply = Vec::new();
    let read = tokio::time::timeout(MUST, wrong.read_to_end(&mut reply)).await;
    assert!(
        !reply.starts_with(&[1]),
        "plain handshake on the TLS port accepted: {read:?} {reply:?}"
    );
    env.server.shutdown().await.unwrap();
}

#[tokio::test]
async fn reload_serves_the_new_certificate_to_new_connections_and_keeps_open_ones() {
    let pki = Pki::new();
    let first = pki.issue("trackd one", false);
    pki.install(&first);
    let env = start(&pki).await;
    let tls_port = env
        .server
        .tls_listener("teltonika", Transport::Tcp)
        .unwrap();

    let mut open = pki.connect(tls_port).await;
    assert_eq!(peer_cert(&open), first.der);
    assert_eq!(identify(&mut open, IMEI).await, 1);
    assert_eq!(report(&mut open, START_MS).await, 1);

    let second = pki.issue("trackd two", false);
    assert_ne!(first.der, second.der);
    pki.install(&second);
    env.server.reload_tls().unwrap();

    // The open connection carries on.
    assert_eq!(report(&mut open, START_MS + 1000).await, 1);
    // New device and HTTPS connections get the new certificate.
    let fresh = pki.connect(tls_port).await;
    assert_eq!(peer_cert(&fresh), second.der);
    let api = pki.connect(env.http()).await;
    assert_eq!(peer_cert(&api), second.der);

    // A broken file fails the reload and changes nothing.
    std::fs::write(pki.cert_path(), "not a certificate").unwrap();
    let err = env.server.reload_tls().unwrap_err().to_string();
    assert!(err.contains("cert.pem"), "{err}");
    let fresh = pki.connect(tls_port).await;
    assert_eq!(peer_cert(&fresh), second.der);
    assert_eq!(report(&mut open, START_MS + 2000).await, 1);
    assert_eq!(
        env.stored(IMEI).await,
        [START_MS, START_MS + 1000, START_MS + 2000]
    );
    env.server.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_silent_tls_client_is_closed_at_the_handshake_timeout() {
    let pki = Pki::new();
    pki.install(&pki.issue("trackd one", false));
    let config = ServerConfig {
        tls: Some(pki.files()),
        handshake_timeout: std::time::Duration::from_millis(300),
        http_header_timeout: std::time::Duration::from_millis(300),
        ..ServerConfig::none()
    }
    .listen_tls("teltonika", Transport::Tcp, loopback());
    let env = Env::start(config, |_| async {}).await;
    let tls_port = env
        .server
        .tls_listener("teltonika", Transport::Tcp)
        .unwrap();
    for addr in [tls_port, env.http()] {
        let mut silent = TcpStream::connect(addr).await.unwrap();
        let mut rest = Vec::new();
        let started = std::time::Instant::now();
        let read = tokio::time::timeout(MUST, silent.read_to_end(&mut rest)).await;
        assert!(read.is_ok(), "{addr}: closed, not left open");
        assert!(
            started.elapsed() >= std::time::Duration::from_millis(250),
            "{addr}: closed at the timeout, not at once"
        );
    }
    env.server.shutdown().await.unwrap();
}

/// Starts a server with TLS files `files` (and whatever `config` adds);
/// the start error's message.
async fn start_error(config: ServerConfig) -> String {
    let db = Db::new();
    match Server::new(config, db.open().await).start().await {
        Ok(running) => {
            running.shutdown().await.unwrap();
            panic!("the server started");
        }
        Err(err) => err.to_string(),
    }
}

fn tls_config(cert: &Path, key: &Path) -> ServerConfig {
    ServerConfig {
        http: Some(loopback()),
        tls: Some(TlsFiles {
            cert: cert.to_owned(),
            key: key.to_owned(),
        }),
        ..ServerConfig::none()
    }
}

#[tokio::test]
async fn start_refuses_missing_expired_and_mismatched_certificates() {
    let pki = Pki::new();
    let good = pki.issue("trackd one", false);
    pki.install(&good);
    let dir = pki.dir.path();

    let missing = dir.join("missing.pem");
    let err = start_error(tls_config(&missing, &pki.key_path())).await;
    assert!(
        err.contains("cannot read") && err.contains("missing.pem"),
        "{err}"
    );
    assert!(!err.contains('\n'), "one line: {err}");

    let expired = pki.issue("trackd old", true);
    std::fs::write(dir.join("expired.pem"), &expired.cert_pem).unwrap();
    std::fs::write(dir.join("expired.key"), &expired.key_pem).unwrap();
    let err = start_error(tls_config(
        &dir.join("expired.pem"),
        &dir.join("expired.key"),
    ))
    .await;
    assert!(
        err.contains("expired") && err.contains("expired.pem") && err.contains("2020-01-01"),
        "{err}"
    );

    // The key of another certificate.
    let other = pki.issue("trackd other", false);
    std::fs::write(dir.join("other.key"), &other.key_pem).unwrap();
    let err = start_error(tls_config(&pki.cert_path(), &dir.join("other.key"))).await;
    assert!(err.contains("does not match"), "{err}");

    // A key file with no key in it.
    let err = start_error(tls_config(&pki.cert_path(), &pki.cert_path())).await;
    assert!(err.contains("no PEM private key"), "{err}");

    // A TLS listener without a certificate names the listener.
    let config = ServerConfig::none().listen_tls(
        "teltonika",
        Transport::Tcp,
        "127.0.0.1:0".parse().unwrap(),
    );
    let err = start_error(config).await;
    assert!(
        err.contains("teltonika tcp 127.0.0.1:0 (tls)") && err.contains("no certificate"),
        "{err}"
    );

    // TLS over UDP is refused.
    let config = tls_config(&pki.cert_path(), &pki.key_path()).listen_tls(
        "teltonika",
        Transport::Udp,
        loopback(),
    );
    let err = start_error(config).await;
    assert!(err.contains("UDP"), "{err}");

    // The good pair starts.
    let db = Db::new();
    let running = Server::new(
        tls_config(&pki.cert_path(), &pki.key_path()),
        db.open().await,
    )
    .start()
    .await
    .unwrap();
    running.shutdown().await.unwrap();
}
