//! A TLS front for the emulator: what a function's first call to AWS really pays (a TLS handshake,
//! the trust store read and checked) without leaving this machine. A certificate authority made for
//! the run signs a certificate for `localhost` and `127.0.0.1`; the front terminates TLS with it and
//! passes the bytes on to the emulator. A process trusts the front through `SSL_CERT_FILE` (or Node's
//! `NODE_EXTRA_CA_CERTS`) pointed at [`TlsFront::ca_file`]: no certificate check is turned off.

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
    ca_file: PathBuf,
    _dir: tempfile::TempDir,
    task: JoinHandle<()>,
}

impl TlsFront {
    /// Starts a front for `upstream` on a free loopback port, with a new certificate authority.
    pub async fn start(upstream: SocketAddr) -> Result<Self, TlsFrontError> {
        let (ca_pem, chain, key) = certificates().map_err(failed)?;
        let dir = tempfile::tempdir().map_err(failed)?;
        let ca_file = dir.path().join("front-ca.pem");
        std::fs::write(&ca_file, ca_pem).map_err(failed)?;
        let provider = Arc::new(tokio_rustls::rustls::crypto::aws_lc_rs::default_provider());
        let config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(failed)?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(failed)?;
        let acceptor = TlsAcceptor::from(Arc::new(config));
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
                    let Ok(mut emulator) = TcpStream::connect(upstream).await else { return };
                    let _ = emulator.set_nodelay(true);
                    let _ = tokio::io::copy_bidirectional(&mut tls, &mut emulator).await;
                });
            }
        });
        Ok(Self { address, handshakes, ca_file, _dir: dir, task })
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
        &self.ca_file
    }
}

impl Drop for TlsFront {
    fn drop(&mut self) {
        self.task.abort();
    }
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

    #[tokio::test]
    async fn a_client_trusting_the_ca_alone_reaches_the_upstream_through_tls() {
        let upstream = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let upstream_address = upstream.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut socket, _) = upstream.accept().await.unwrap();
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let mut request = [0u8; 1024];
            let read = socket.read(&mut request).await.unwrap();
            assert!(request[..read].starts_with(b"GET /ping"));
            socket
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\nconnection: close\r\n\r\npong")
                .await
                .unwrap();
        });
        let front = TlsFront::start(upstream_address).await.unwrap();
        let ca = reqwest::Certificate::from_pem(&std::fs::read(front.ca_file()).unwrap()).unwrap();
        let trusting = reqwest::Client::builder().tls_certs_only([ca]).build().unwrap();
        let answer = trusting.get(format!("{}/ping", front.url())).send().await.unwrap();
        assert_eq!(answer.text().await.unwrap(), "pong");
        assert_eq!(front.handshakes(), 1);
        // A client that does not trust the authority is refused: the check is on.
        let stranger = reqwest::Client::builder().tls_certs_only([]).build().unwrap();
        assert!(stranger.get(format!("{}/ping", front.url())).send().await.is_err());
    }
}
