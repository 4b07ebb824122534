//! TLS for `serve`: the certificate and key files, read once at start-up into a rustls server
//! configuration (ring crypto provider, TLS 1.2 and 1.3, ALPN `http/1.1` only: the server speaks
//! HTTP/1.1 alone). Every failure names the file and what is wrong with it, so that a bad file
//! stops the start-up with a message a person can act on.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, anyhow, bail};
use tokio_rustls::rustls::pki_types::pem::{self, PemObject};
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::{self, InconsistentKeys};

/// The server configuration for the certificate chain in `cert_path` (the server's certificate
/// first, then any intermediates) and the private key in `key_path` (PKCS#8, PKCS#1 or SEC1;
/// all PEM).
pub fn server_config(cert_path: &Path, key_path: &Path) -> anyhow::Result<Arc<rustls::ServerConfig>> {
    let (cert_file, key_file) = (cert_path.display(), key_path.display());
    let cert_pem = std::fs::read(cert_path).with_context(|| format!("cannot read --tls-cert {cert_file}"))?;
    let chain = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| anyhow!("--tls-cert {cert_file} is not valid PEM: {e}"))?;
    if chain.is_empty() {
        bail!("--tls-cert {cert_file} holds no certificate (expected a -----BEGIN CERTIFICATE----- block)");
    }
    let key_pem = std::fs::read(key_path).with_context(|| format!("cannot read --tls-key {key_file}"))?;
    let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| match e {
        pem::Error::NoItemsFound => anyhow!(
            "--tls-key {key_file} holds no private key (expected a -----BEGIN PRIVATE KEY-----, BEGIN RSA PRIVATE KEY or BEGIN EC PRIVATE KEY block)"
        ),
        other => anyhow!("--tls-key {key_file} is not valid PEM: {other}"),
    })?;
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .context("the TLS provider supports no protocol version")?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| match e {
            rustls::Error::InconsistentKeys(InconsistentKeys::KeyMismatch) => anyhow!(
                "--tls-key {key_file} does not match the certificate in --tls-cert {cert_file} (the first certificate in that file must be the server's own)"
            ),
            other => anyhow!("cannot use --tls-cert {cert_file} with --tls-key {key_file}: {other}"),
        })?;
    // h2 first: a gRPC client needs it; an HTTP/1.1 client offers only http/1.1.
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
