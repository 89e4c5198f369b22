//! A TLS front for the emulator: what a function's first call to AWS really pays (a TLS handshake,
//! the trust store read and checked) without leaving this machine. A certificate authority made for
//! the run signs a certificate for `localhost` and `127.0.0.1`; the front terminates TLS with it and
//! passes the bytes on to the emulator. A process trusts the front through `SSL_CERT_FILE` (or Node's
//! `NODE_EXTRA_CA_CERTS`) pointed at [`TlsFront::ca_file`]: no certificate check is turned off. A
//! front [beside](TlsFront::beside) it, for another local server (a JWKS document), shares the
//! authority, so one file trusts both, as one trust store trusts AWS and Google.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// The front could not be set up.
#[derive(Debug, thiserror::Error)]
#[error("the TLS front: {0}")]
pub struct TlsFrontError(String);

fn failed(error: impl std::fmt::Display) -> TlsFrontError {
    TlsFrontError(error.to_string())
}

/// A TLS front listening on loopback, passing every connection on to one upstream address.
pub struct TlsFront {
    address: SocketAddr,
    handshakes: Arc<AtomicUsize>,
    authority: Arc<Authority>,
    task: JoinHandle<()>,
}

/// The run's certificate authority: its certificate on disk, and the server configuration holding
/// the certificate it signed for `localhost`. Fronts that share it are trusted through one file.
struct Authority {
    ca_file: PathBuf,
    bundle_file: PathBuf,
    _dir: tempfile::TempDir,
    acceptor: TlsAcceptor,
}

impl TlsFront {
    /// Starts a front for `upstream` on a free loopback port, with a new certificate authority.
    pub async fn start(upstream: SocketAddr) -> Result<Self, TlsFrontError> {
        let (ca_pem, chain, key) = certificates().map_err(failed)?;
        let dir = tempfile::tempdir().map_err(failed)?;
        let ca_file = dir.path().join("front-ca.pem");
        std::fs::write(&ca_file, &ca_pem).map_err(failed)?;
        let bundle_file = dir.path().join("system-roots-and-front-ca.pem");
        let mut bundle = system_roots().unwrap_or_default();
        bundle.push_str(&ca_pem);
        std::fs::write(&bundle_file, bundle).map_err(failed)?;
        let provider = Arc::new(tokio_rustls::rustls::crypto::aws_lc_rs::default_provider());
        let config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(failed)?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(failed)?;
        let acceptor = TlsAcceptor::from(Arc::new(config));
        Self::listen(Arc::new(Authority { ca_file, bundle_file, _dir: dir, acceptor }), upstream).await
    }

    /// Another front, for `upstream`, with this one's certificate authority: a process trusting
    /// [`ca_file`](Self::ca_file) reaches both (a function calling AWS and another HTTPS service).
    pub async fn beside(&self, upstream: SocketAddr) -> Result<Self, TlsFrontError> {
        Self::listen(self.authority.clone(), upstream).await
    }

    async fn listen(authority: Arc<Authority>, upstream: SocketAddr) -> Result<Self, TlsFrontError> {
        let acceptor = authority.acceptor.clone();
        let listener = TcpListener::bind("127.0.0.1:0").await.map_err(failed)?;
        let address = listener.local_addr().map_err(failed)?;
        let handshakes = Arc::new(AtomicUsize::new(0));
        let counted = handshakes.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let (acceptor, counted) = (acceptor.clone(), counted.clone());
                tokio::spawn(async move {
                    let _ = client.set_nodelay(true);
                    let Ok(mut tls) = acceptor.accept(client).await else { return };
                    counted.fetch_add(1, Ordering::Relaxed);
                    let Ok(mut upstream) = TcpStream::connect(upstream).await else { return };
                    let _ = upstream.set_nodelay(true);
                    let _ = tokio::io::copy_bidirectional(&mut tls, &mut upstream).await;
                });
            }
        });
        Ok(Self { address, handshakes, authority, task })
    }

    /// The front's URL: `https://localhost:PORT`.
    pub fn url(&self) -> String {
        format!("https://localhost:{}", self.address.port())
    }

    /// TLS handshakes completed so far: proof that a client really came through the front.
    pub fn handshakes(&self) -> usize {
        self.handshakes.load(Ordering::Relaxed)
    }

    /// The certificate authority's certificate (PEM), for `SSL_CERT_FILE` or `NODE_EXTRA_CA_CERTS`.
    pub fn ca_file(&self) -> &Path {
        &self.authority.ca_file
    }

    /// The system's root certificates, then the authority's (PEM): for `SSL_CERT_FILE`, so a process
    /// loads a trust store as large as the one it loads in AWS (Amazon Linux 2023's holds about 140
    /// roots) and trusts the front too. The authority's alone where the system has no bundle.
    pub fn bundle_file(&self) -> &Path {
        &self.authority.bundle_file
    }
}

impl Drop for TlsFront {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Where Debian (and Ubuntu) and Amazon Linux (and Fedora) keep the system's roots as one PEM bundle.
const SYSTEM_BUNDLES: [&str; 2] = ["/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt"];

/// The system's one bundle of root certificates (PEM), if it has one: what `SSL_CERT_FILE` names in
/// `template.yaml` (Amazon Linux 2023's path), on this machine.
pub fn system_roots_file() -> Option<&'static Path> {
    SYSTEM_BUNDLES.iter().map(Path::new).find(|path| path.is_file())
}

/// The system's root certificates as one PEM text, ending in a newline; `None` if it has no bundle.
fn system_roots() -> Option<String> {
    let mut roots = std::fs::read_to_string(system_roots_file()?).ok()?;
    if !roots.ends_with('\n') {
        roots.push('\n');
    }
    Some(roots)
}

/// A certificate authority's certificate (PEM), and the front's chain and key signed by it.
type Made = (String, Vec<CertificateDer<'static>>, PrivateKeyDer<'static>);

fn certificates() -> Result<Made, rcgen::Error> {
    let mut ca = CertificateParams::new(Vec::<String>::new())?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name.push(DnType::CommonName, "gemini-webhooks local CA");
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_key = KeyPair::generate()?;
    let ca_cert = ca.self_signed(&ca_key)?;
    let issuer = Issuer::new(ca, ca_key);
    let mut leaf = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])?;
    leaf.distinguished_name.push(DnType::CommonName, "localhost");
    let leaf_key = KeyPair::generate()?;
    let leaf_cert = leaf.signed_by(&leaf_key, &issuer)?;
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
    Ok((ca_cert.pem(), vec![leaf_cert.der().clone(), ca_cert.der().clone()], key))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// An upstream answering one `GET /ping` with `answer`.
    async fn upstream(answer: &'static str) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut request = [0u8; 1024];
            let read = socket.read(&mut request).await.unwrap();
            assert!(request[..read].starts_with(b"GET /ping"));
            let head =
                format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n", answer.len());
            socket.write_all(format!("{head}{answer}").as_bytes()).await.unwrap();
        });
        address
    }

    fn trusting(front: &TlsFront) -> reqwest::Client {
        let ca = reqwest::Certificate::from_pem(&std::fs::read(front.ca_file()).unwrap()).unwrap();
        reqwest::Client::builder().tls_certs_only([ca]).build().unwrap()
    }

    #[tokio::test]
    async fn a_client_trusting_the_ca_alone_reaches_the_upstream_through_tls() {
        let front = TlsFront::start(upstream("pong").await).await.unwrap();
        let answer = trusting(&front).get(format!("{}/ping", front.url())).send().await.unwrap();
        assert_eq!(answer.text().await.unwrap(), "pong");
        assert_eq!(front.handshakes(), 1);
        // A client that does not trust the authority is refused: the check is on.
        let stranger = reqwest::Client::builder().tls_certs_only([]).build().unwrap();
        assert!(stranger.get(format!("{}/ping", front.url())).send().await.is_err());
    }

    #[tokio::test]
    async fn the_bundle_is_the_system_s_roots_then_the_authority_and_a_client_trusting_it_gets_through() {
        let front = TlsFront::start(upstream("pong").await).await.unwrap();
        let (ca, bundle) = (
            std::fs::read_to_string(front.ca_file()).unwrap(),
            std::fs::read_to_string(front.bundle_file()).unwrap(),
        );
        assert!(bundle.ends_with(&ca));
        let roots = system_roots().map_or(0, |roots| roots.matches("BEGIN CERTIFICATE").count());
        assert_eq!(bundle.matches("BEGIN CERTIFICATE").count(), roots + 1);
        let certificates = reqwest::Certificate::from_pem_bundle(bundle.as_bytes()).unwrap();
        let client = reqwest::Client::builder().tls_certs_only(certificates).build().unwrap();
        let answer = client.get(format!("{}/ping", front.url())).send().await.unwrap();
        assert_eq!(answer.text().await.unwrap(), "pong");
    }

    #[tokio::test]
    async fn a_front_beside_another_is_trusted_through_the_same_file_and_reaches_its_own_upstream() {
        let aws = TlsFront::start(upstream("aws").await).await.unwrap();
        let jwks = aws.beside(upstream("jwks").await).await.unwrap();
        assert_eq!(aws.ca_file(), jwks.ca_file());
        assert_ne!(aws.url(), jwks.url());
        let client = trusting(&aws);
        let answer = client.get(format!("{}/ping", jwks.url())).send().await.unwrap();
        assert_eq!(answer.text().await.unwrap(), "jwks");
        assert_eq!((aws.handshakes(), jwks.handshakes()), (0, 1), "each front counts its own");
    }
}
