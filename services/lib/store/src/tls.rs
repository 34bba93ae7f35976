//! CQL over TLS: which CA the client trusts and, when the cluster requires
//! client certificates, which certificate it presents.

use std::path::{Path, PathBuf};

use openssl::ssl::{SslConnector, SslFiletype, SslMethod, SslVersion};
use scylla::client::session::TlsContext;

use crate::StoreError;

/// TLS towards the CQL nodes; off unless a CA file is given.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct CqlTls {
    /// PEM file of the CA(s) that signed the nodes' certificates; turns TLS
    /// on. The driver checks each node's certificate against the address it
    /// connects to, so certificates must name the node's IP address
    /// (subjectAltName IP).
    #[arg(
        id = "cql_tls_ca_file",
        long = "cql-tls-ca-file",
        env = "VIGIL_CQL_TLS_CA_FILE"
    )]
    pub ca_file: Option<PathBuf>,
    /// Client certificate chain (PEM), for clusters that require client
    /// certificates (`require_client_auth: true`).
    #[arg(
        id = "cql_tls_cert_file",
        long = "cql-tls-cert-file",
        env = "VIGIL_CQL_TLS_CERT_FILE",
        requires_all = ["cql_tls_ca_file", "cql_tls_key_file"]
    )]
    pub cert_file: Option<PathBuf>,
    /// Private key (PEM) of --cql-tls-cert-file.
    #[arg(
        id = "cql_tls_key_file",
        long = "cql-tls-key-file",
        env = "VIGIL_CQL_TLS_KEY_FILE",
        requires = "cql_tls_cert_file"
    )]
    pub key_file: Option<PathBuf>,
}

impl CqlTls {
    /// The driver's TLS context (TLS 1.2 at least, the node's certificate
    /// verified), or `None` when TLS is off.
    pub fn context(&self) -> Result<Option<TlsContext>, StoreError> {
        let Some(ca_file) = &self.ca_file else {
            return Ok(None);
        };
        let failed = |what: &str, path: &Path, e: openssl::error::ErrorStack| {
            StoreError::Tls(format!("{what} {}: {e}", path.display()))
        };
        let mut builder = SslConnector::builder(SslMethod::tls_client())
            .map_err(|e| StoreError::Tls(e.to_string()))?;
        builder
            .set_min_proto_version(Some(SslVersion::TLS1_2))
            .map_err(|e| StoreError::Tls(e.to_string()))?;
        readable(ca_file)?;
        builder
            .set_ca_file(ca_file)
            .map_err(|e| failed("reading the CA certificates in", ca_file, e))?;
        if let (Some(cert_file), Some(key_file)) = (&self.cert_file, &self.key_file) {
            readable(cert_file)?;
            readable(key_file)?;
            builder
                .set_certificate_chain_file(cert_file)
                .map_err(|e| failed("reading the client certificate in", cert_file, e))?;
            builder
                .set_private_key_file(key_file, SslFiletype::PEM)
                .map_err(|e| failed("reading the private key in", key_file, e))?;
            builder
                .check_private_key()
                .map_err(|e| failed("the key does not match the certificate in", cert_file, e))?;
        }
        Ok(Some(builder.into()))
    }
}

/// OpenSSL's own errors do not name the file; check it first.
fn readable(path: &Path) -> Result<(), StoreError> {
    std::fs::metadata(path)
        .map(drop)
        .map_err(|e| StoreError::Tls(format!("{}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_is_off_without_a_ca_and_a_bad_ca_file_is_named() {
        assert!(CqlTls::default().context().unwrap().is_none());
        let path = std::env::temp_dir().join(format!("vigil-ca-{}.pem", std::process::id()));
        std::fs::write(&path, "not a certificate\n").unwrap();
        let tls = CqlTls {
            ca_file: Some(path.clone()),
            ..CqlTls::default()
        };
        let error = tls.context().map(drop).unwrap_err().to_string();
        std::fs::remove_file(&path).unwrap();
        assert!(error.contains("reading the CA certificates"), "{error}");
        assert!(error.contains(path.to_str().unwrap()), "{error}");
        let missing = CqlTls {
            ca_file: Some("/nonexistent/ca.pem".into()),
            ..CqlTls::default()
        };
        let error = missing.context().map(drop).unwrap_err().to_string();
        assert!(error.contains("/nonexistent/ca.pem"), "{error}");
    }
}
