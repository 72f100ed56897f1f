//! One uncached `GET` of the live endpoint for `maintenance_engine::ops::verify`, over `http://` or
//! `https://` ([`get`]): hyper-util's client on a connection of its own to the URL's host — or
//! to one address given ([`Connect::address`], an ALB node) while the host name is still sent
//! as SNI and `Host` — TLS through hyper-rustls on the rustls the AWS SDK links (its ring
//! provider, as `maintenance_responder::aws::https_client`) with the system's roots or the CA of
//! `--verify-ca` ([`Tls`]), HTTP/1.1, and the status, `Retry-After` and `Cache-Control` of the
//! answer. A certificate the roots do not vouch for is said plainly, and is not retried.

use std::error::Error;
use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use http_body_util::Empty;
use hyper::body::Bytes;
use hyper_rustls::HttpsConnectorBuilder;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::Connect as Connector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use tokio::net::TcpStream;

use maintenance_core::causes;
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
    config: Arc<rustls::ClientConfig>,
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

    /// The AWS SDK's provider (ring) and protocol versions, with these roots.
    fn with_roots(roots: rustls::RootCertStore, described: String) -> Self {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("the provider's default protocol versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        Self {
            config: Arc::new(config),
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
    let dial = Dial {
        address: connect.address,
    };
    match (&connect.tls, uri.scheme_str() == Some("https")) {
        (Some(tls), true) => {
            let https = HttpsConnectorBuilder::new()
                .with_tls_config(rustls::ClientConfig::clone(&tls.config))
                .https_only()
                .enable_http1()
                .wrap_connector(dial);
            exchange(https, uri)
                .await
                .map_err(|e| request_error(&e, uri, Some(tls)))
        }
        (None, true) => Err(GetError {
            message: "no TLS configuration for an https:// URL".into(),
            permanent: true,
        }),
        (_, false) => exchange(dial, uri)
            .await
            .map_err(|e| request_error(&e, uri, None)),
    }
}

/// The request and its answer, on a connection of its own (no pool: every probe sees the
/// endpoint anew).
async fn exchange<C>(
    connector: C,
    uri: &hyper::Uri,
) -> Result<Answer, hyper_util::client::legacy::Error>
where
    C: Connector + Clone + Send + Sync + 'static,
{
    let client: Client<C, Empty<Bytes>> = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(0)
        .build(connector);
    let host = uri.host().unwrap_or_default();
    let authority = uri.authority().map_or(host, |a| a.as_str());
    let request = hyper::Request::get(uri.clone())
        .header("host", authority)
        .header(
            "user-agent",
            concat!("maintctl/", env!("CARGO_PKG_VERSION"), " verify"),
        )
        .header("cache-control", "no-cache")
        .header("connection", "close")
        .body(Empty::<Bytes>::new())
        .expect("a GET of a URL already checked");
    let response = client.request(request).await?;
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

/// The TCP connection: to the address given, else to the URL's host and port.
#[derive(Clone)]
struct Dial {
    address: Option<SocketAddr>,
}

impl tower_service::Service<hyper::Uri> for Dial {
    type Response = TokioIo<TcpStream>;
    type Error = std::io::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: hyper::Uri) -> Self::Future {
        let address = self.address;
        Box::pin(async move {
            let https = uri.scheme_str() == Some("https");
            let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
            let host = uri.host().unwrap_or_default();
            let host = host.trim_start_matches('[').trim_end_matches(']');
            let tcp = match address {
                Some(addr) => TcpStream::connect(addr).await,
                None => TcpStream::connect((host, port)).await,
            };
            tcp.map(TokioIo::new).map_err(|e| {
                let to = address.map_or(format!("{host}:{port}"), |a| a.to_string());
                std::io::Error::new(e.kind(), format!("connecting to {to} failed: {e}"))
            })
        })
    }
}

/// A failed request, said for the operator: an untrusted or mismatched certificate is
/// permanent and names the way out; anything else (no connection, a handshake or an answer
/// that failed) may pass when tried again.
fn request_error(
    e: &hyper_util::client::legacy::Error,
    uri: &hyper::Uri,
    tls: Option<&Tls>,
) -> GetError {
    let host = uri.host().unwrap_or_default();
    let host = host.trim_start_matches('[').trim_end_matches(']');
    match (tls, rustls_error(e)) {
        (Some(tls), Some(rustls::Error::InvalidCertificate(cert))) => GetError {
            message: format!(
                "the TLS certificate of {host} is not trusted ({cert:?}): {}",
                certificate_hint(cert, host, tls)
            ),
            permanent: true,
        },
        (_, Some(other)) => transient(format!("TLS handshake with {host} failed: {other}")),
        (_, None) => transient(innermost(e)),
    }
}

/// What to do about a certificate the roots do not vouch for.
fn certificate_hint(cert: &rustls::CertificateError, host: &str, tls: &Tls) -> String {
    match cert {
        rustls::CertificateError::NotValidForName
        | rustls::CertificateError::NotValidForNameContext { .. } => format!(
            "the certificate is not for {host}: the URL's host must be a name on the endpoint's \
             certificate (with --verify-address too)"
        ),
        rustls::CertificateError::UnknownIssuer => format!(
            "it is not signed by {}: for a private CA pass --verify-ca FILE with the CA \
             certificate",
            tls.roots
        ),
        _ => format!("checked against {}", tls.roots),
    }
}

/// The rustls error behind a failed request, if a TLS handshake is what failed: the client's
/// error holds the connector's, which holds (in `std::io::Error`s) the handshake's.
fn rustls_error<'a>(e: &'a (dyn Error + 'static)) -> Option<&'a rustls::Error> {
    let mut next = Some(e);
    while let Some(err) = next {
        if let Some(found) = err.downcast_ref::<rustls::Error>() {
            return Some(found);
        }
        if let Some(inner) = err
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .and_then(|inner| rustls_error(inner))
        {
            return Some(inner);
        }
        next = err.source();
    }
    None
}

/// What failed, without the client's own wrapping (`client error (Connect)`): the causes.
fn innermost(e: &hyper_util::client::legacy::Error) -> String {
    match e.source() {
        Some(source) => causes::chain(source),
        None => e.to_string(),
    }
}
