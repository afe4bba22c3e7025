//! TLS for the PostgreSQL listener (rustls): certificate and key from PEM files, ALPN
//! `postgresql` so PostgreSQL 17 clients can use direct SSL negotiation
//! (`sslnegotiation=direct`). A configured certificate that cannot be loaded stops the
//! server from starting: it never falls back to plaintext silently.

use std::path::Path;
use std::sync::Arc;

use datafusion_postgres::pgwire::tokio::tokio_rustls::rustls::{self, ServerConfig};
use datafusion_postgres::pgwire::tokio::TlsAcceptor;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// Builds the acceptor from PEM files.
///
/// # Errors
/// A file cannot be read, holds no certificate or key, or they do not match.
pub fn acceptor(cert: &Path, key: &Path) -> Result<TlsAcceptor, String> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| format!("server.tls.cert {}: {e}", cert.display()))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("server.tls.cert {}: {e}", cert.display()))?;
    if certs.is_empty() {
        return Err(format!(
            "server.tls.cert {}: no certificate in the file",
            cert.display()
        ));
    }
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| format!("server.tls.key {}: {e}", key.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| format!("server.tls: certificate and key do not fit: {e}"))?;
    config.alpn_protocols = vec![b"postgresql".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}
