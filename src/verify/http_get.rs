//! One uncached `GET` of the live endpoint for `maintenance_engine::ops::verify`, over `http://` or
//! `https://` ([`get`]): a connection of its own to the URL's host — or to one address given
//! ([`Connect::address`], an ALB node) while the host name is still sent as SNI and `Host` —
//! TLS through rustls (the stack the AWS SDK links already) with the system's roots or the CA
//! of `--verify-ca` ([`Tls`]), HTTP/1.1, and the status, `Retry-After` and `Cache-Control` of
//! the answer. A certificate the roots do not vouch for is said plainly, and is not retried.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::Empty;
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use maintenance_engine::ops::verify::{Answer, GetError};

/// How long one request may take, connection and TLS handshake included.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// Why the trusted roots could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The `--verify-ca` file cannot be read, or holds no PEM certificate.
    #[error("--verify-ca {path}: {problem}")]
    Ca {
        /// The file.
        path: String,
        /// What is wrong with it.
        problem: String,
    },
    /// The system has no root certificates to check the endpoint's against.
    #[error(
        "no trusted root certificate found on this machine ({0}): pass --verify-ca FILE with \
         the CA that signed the endpoint's certificate"
    )]
    NoRoots(String),
}

/// The certificates an `https://` endpoint's chain must lead to.
#[derive(Clone)]
pub struct Tls {
    connector: TlsConnector,
    /// Where the roots come from, for messages: `the system's roots` or the `--verify-ca` file.
    pub roots: String,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls").field("roots", &self.roots).finish()
    }
}

impl Tls {
    /// The system's root certificates (as the AWS SDK's own client uses them).
    pub fn system() -> Result<Self, TlsError> {
        let found = rustls_native_certs::load_native_certs();
        let mut roots = rustls::RootCertStore::empty();
        let (added, _) = roots.add_parsable_certificates(found.certs);
        if added == 0 {
            let why = found
                .errors
                .first()
                .map_or("none in the system store".to_string(), |e| e.to_string());
            return Err(TlsError::NoRoots(why));
        }
        Ok(Self::with_roots(
            roots,
            "the system's root certificates".into(),
        ))
    }

    /// Only the CA certificates of a PEM file (`--verify-ca`), for a private CA.
    pub fn ca_file(path: &Path) -> Result<Self, TlsError> {
        let fail = |problem: String| TlsError::Ca {
            path: path.display().to_string(),
            problem,
        };
        let pem = std::fs::read(path).map_err(|e| fail(e.to_string()))?;
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(&pem) {
            let cert = cert.map_err(|e| fail(format!("not a PEM certificate ({e})")))?;
            roots
                .add(cert)
                .map_err(|e| fail(format!("not a usable CA certificate ({e})")))?;
        }
        if roots.is_empty() {
            return Err(fail(
                "holds no certificate (expected PEM: -----BEGIN CERTIFICATE-----)".into(),
            ));
        }
        Ok(Self::with_roots(
            roots,
            format!("the CA in {}", path.display()),
        ))
    }

    fn with_roots(roots: rustls::RootCertStore, described: String) -> Self {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("the provider's default protocol versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        Self {
            connector: TlsConnector::from(Arc::new(config)),
            roots: described,
        }
    }
}

/// Where to connect for a URL.
#[derive(Debug, Clone)]
pub struct Connect {
    /// Connect to this address instead of the URL's host (which is still sent as SNI and
    /// `Host`): one ALB node.
    pub address: Option<SocketAddr>,
    /// TLS, for `https://`.
    pub tls: Option<Tls>,
}

/// A failure that may pass when tried again.
fn transient(message: impl Into<String>) -> GetError {
    GetError {
        message: message.into(),
        permanent: false,
    }
}

/// One uncached GET of `uri` (absolute), within [`REQUEST_TIMEOUT`].
pub async fn get(uri: &hyper::Uri, connect: &Connect) -> Result<Answer, GetError> {
    match tokio::time::timeout(REQUEST_TIMEOUT, request(uri, connect)).await {
        Ok(result) => result,
        Err(_) => Err(transient(format!(
            "no answer within {} s",
            REQUEST_TIMEOUT.as_secs()
        ))),
    }
}

async fn request(uri: &hyper::Uri, connect: &Connect) -> Result<Answer, GetError> {
    let host = uri.host().unwrap_or_default();
    let https = uri.scheme_str() == Some("https");
    let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
    let host_name = host.trim_start_matches('[').trim_end_matches(']');
    let tcp = match connect.address {
        Some(addr) => TcpStream::connect(addr).await,
        None => TcpStream::connect((host_name, port)).await,
    }
    .map_err(|e| {
        let to = connect
            .address
            .map_or(format!("{host_name}:{port}"), |a| a.to_string());
        transient(format!("connecting to {to} failed: {e}"))
    })?;
    let authority = uri.authority().map_or(host, |a| a.as_str()).to_string();
    match (&connect.tls, https) {
        (Some(tls), true) => {
            let name = ServerName::try_from(host_name.to_string())
                .map_err(|e| transient(format!("{host_name} is not a TLS name: {e}")))?;
            let stream = tls
                .connector
                .connect(name, tcp)
                .await
                .map_err(|e| tls_error(&e, host_name, tls))?;
            exchange(TokioIo::new(stream), uri, &authority).await
        }
        (None, true) => Err(GetError {
            message: "no TLS configuration for an https:// URL".into(),
            permanent: true,
        }),
        (_, false) => exchange(TokioIo::new(tcp), uri, &authority).await,
    }
}

/// The request and its answer over an open connection.
async fn exchange<T>(io: TokioIo<T>, uri: &hyper::Uri, authority: &str) -> Result<Answer, GetError>
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| transient(format!("HTTP handshake failed: {e}")))?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let request = hyper::Request::get(path)
        .header("host", authority)
        .header(
            "user-agent",
            concat!("maintctl/", env!("CARGO_PKG_VERSION"), " verify"),
        )
        .header("cache-control", "no-cache")
        .header("connection", "close")
        .body(Empty::<Bytes>::new())
        .map_err(|e| transient(e.to_string()))?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| transient(e.to_string()))?;
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    Ok(Answer {
        status: response.status().as_u16(),
        retry_after: header("retry-after"),
        cache_control: header("cache-control"),
    })
}

/// A failed TLS handshake, said for the operator: an untrusted or mismatched certificate is
/// permanent and names the way out.
fn tls_error(e: &std::io::Error, host: &str, tls: &Tls) -> GetError {
    let rustls_error = e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>());
    match rustls_error {
        Some(rustls::Error::InvalidCertificate(cert)) => {
            let hint = match cert {
                rustls::CertificateError::NotValidForName
                | rustls::CertificateError::NotValidForNameContext { .. } => format!(
                    "the certificate is not for {host}: the URL's host must be a name on the \
                     endpoint's certificate (with --verify-address too)"
                ),
                rustls::CertificateError::UnknownIssuer => format!(
                    "it is not signed by {}: for a private CA pass --verify-ca FILE with the CA \
                     certificate",
                    tls.roots
                ),
                _ => format!("checked against {}", tls.roots),
            };
            GetError {
                message: format!("the TLS certificate of {host} is not trusted ({cert:?}): {hint}"),
                permanent: true,
            }
        }
        Some(other) => transient(format!("TLS handshake with {host} failed: {other}")),
        None => transient(format!("TLS handshake with {host} failed: {e}")),
    }
}
