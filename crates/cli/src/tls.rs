//! TLS for `serve`: the certificate and key files into a rustls server configuration (ring
//! crypto provider, TLS 1.2 and 1.3, ALPN `h2` and `http/1.1`), reloaded when they change, and
//! optional client certificates verified against `--tls-client-ca`.
//!
//! Invariants:
//! - Every failure at start-up names the file and what is wrong with it, so that a bad file stops
//!   the start-up with a message a person can act on.
//! - A reload never leaves the server without a certificate: the new pair is loaded and checked
//!   whole (the key must match the certificate) before it replaces the old one; a bad or
//!   half-written pair is reported and the old one stays until the files change again.
//! - Connections already open keep the certificate they were made with; new ones get the new.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use anyhow::{Context, anyhow, bail};
use tokio_rustls::rustls::crypto::CryptoProvider;
use tokio_rustls::rustls::pki_types::pem::{self, PemObject};
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use tokio_rustls::rustls::sign::CertifiedKey;
use tokio_rustls::rustls::{self, RootCertStore};

/// How often the certificate files are looked at for a change.
pub const RELOAD_CHECK: Duration = Duration::from_secs(2);

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The server's certificate, replaced in place when its files change.
#[derive(Debug)]
pub struct ReloadingCertificate {
    current: RwLock<Arc<CertifiedKey>>,
    cert_path: PathBuf,
    key_path: PathBuf,
}

impl ResolvesServerCert for ReloadingCertificate {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current.read().unwrap_or_else(|p| p.into_inner()).clone())
    }
}

impl ReloadingCertificate {
    /// Loads the pair again and, when it is whole, serves it from the next handshake on.
    pub fn reload(&self) -> anyhow::Result<()> {
        let key = certified_key(&self.cert_path, &self.key_path)?;
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(key);
        Ok(())
    }

    /// Reloads the pair whenever either file's modification time or size changes, until the
    /// task is dropped; a pair that does not load is reported and the old one kept.
    pub async fn watch(self: Arc<Self>) {
        let stamp = |path: &Path| {
            std::fs::metadata(path).ok().map(|m| (m.modified().unwrap_or(SystemTime::UNIX_EPOCH), m.len()))
        };
        let mut seen = (stamp(&self.cert_path), stamp(&self.key_path));
        loop {
            tokio::time::sleep(RELOAD_CHECK).await;
            let now = (stamp(&self.cert_path), stamp(&self.key_path));
            if now == seen {
                continue;
            }
            seen = now;
            let this = self.clone();
            match tokio::task::spawn_blocking(move || this.reload()).await {
                Ok(Ok(())) => tracing::info!(cert = %self.cert_path.display(), "TLS certificate reloaded"),
                Ok(Err(e)) => tracing::warn!(error = %e, "TLS certificate not reloaded; the previous one stays"),
                Err(e) => tracing::warn!(error = %e, "TLS certificate reload stopped"),
            }
        }
    }
}

/// The certificate chain in `cert_path` (the server's certificate first, then any
/// intermediates) and the private key in `key_path` (PKCS#8, PKCS#1 or SEC1; all PEM), checked
/// to belong together.
fn certified_key(cert_path: &Path, key_path: &Path) -> anyhow::Result<CertifiedKey> {
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
    CertifiedKey::from_der(chain, key, &provider()).map_err(|e| match e {
        rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch) => anyhow!(
            "--tls-key {key_file} does not match the certificate in --tls-cert {cert_file} (the first certificate in that file must be the server's own)"
        ),
        other => anyhow!("cannot use --tls-cert {cert_file} with --tls-key {key_file}: {other}"),
    })
}

/// The CA certificates client certificates must chain to.
fn client_roots(ca_path: &Path) -> anyhow::Result<RootCertStore> {
    let file = ca_path.display();
    let pem = std::fs::read(ca_path).with_context(|| format!("cannot read --tls-client-ca {file}"))?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| anyhow!("--tls-client-ca {file} is not valid PEM: {e}"))?;
    if certs.is_empty() {
        bail!("--tls-client-ca {file} holds no certificate (expected a -----BEGIN CERTIFICATE----- block)");
    }
    let mut roots = RootCertStore::empty();
    for cert in certs {
        roots.add(cert).map_err(|e| anyhow!("--tls-client-ca {file} holds a certificate rustls cannot use: {e}"))?;
    }
    Ok(roots)
}

/// The server configuration and its reloading certificate. With `client_ca`, a client may
/// present a certificate, which must chain to it, be within its validity and be meant for
/// client authentication, or the handshake fails; a client without one still connects and
/// authenticates with a token.
pub fn server_config(
    cert_path: &Path,
    key_path: &Path,
    client_ca: Option<&Path>,
) -> anyhow::Result<(Arc<rustls::ServerConfig>, Arc<ReloadingCertificate>)> {
    let key = certified_key(cert_path, key_path)?;
    let certificate = Arc::new(ReloadingCertificate {
        current: RwLock::new(Arc::new(key)),
        cert_path: cert_path.to_owned(),
        key_path: key_path.to_owned(),
    });
    let builder = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .context("the TLS provider supports no protocol version")?;
    let builder = match client_ca {
        None => builder.with_no_client_auth(),
        Some(ca) => {
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(client_roots(ca)?), provider())
                .allow_unauthenticated()
                .build()
                .map_err(|e| anyhow!("cannot verify client certificates with --tls-client-ca {}: {e}", ca.display()))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder.with_cert_resolver(certificate.clone());
    // h2 first: a gRPC client needs it; an HTTP/1.1 client offers only http/1.1.
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok((Arc::new(config), certificate))
}

/// The subject's common name of a (verified) certificate: the name of the principal it stands
/// for. `None` when the certificate has none.
pub fn subject_common_name(cert: &CertificateDer<'_>) -> Option<String> {
    let (_, parsed) = x509_parser::parse_x509_certificate(cert.as_ref()).ok()?;
    let name = parsed.subject().iter_common_name().next()?.as_str().ok()?;
    (!name.is_empty()).then(|| name.to_owned())
}
