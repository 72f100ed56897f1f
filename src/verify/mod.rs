//! The live endpoint of `--verify-url` over `http://` or `https://`: [`VerifyTarget`], the
//! engine's `LiveEndpoint` (`maintenance_engine::ops::verify`, which requests it until it looks
//! right for the switch) over [`http_get`] (SNI, the system's roots or a private CA, optionally
//! one ALB node by address). The URLs are checked before anything else happens
//! ([`VerifyTarget::parse`], [`VerifyTarget::parse_with`]), and never printed with the
//! credentials they may carry ([`redact_userinfo`]). Neither Lambda function links it.

pub mod http_get;

use std::net::{IpAddr, SocketAddr};
use std::path::Path;

use maintenance_engine::ops::verify::{Answer, GetError, LiveEndpoint, Probing, Route};

use http_get::{Connect, Tls, TlsError};

/// Why a `--verify-url`, `--verify-ca`, `--verify-address` or `--health-path` cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// Not a URL at all.
    #[error("--verify-url {url:?} is not a URL")]
    NotAUrl {
        /// The URL given.
        url: String,
        /// Why it does not parse.
        #[source]
        source: hyper::http::uri::InvalidUri,
    },
    /// Another scheme, or none.
    #[error("--verify-url {url:?} must start with http:// or https://")]
    NotHttp {
        /// The URL given.
        url: String,
    },
    /// No host to send the requests to.
    #[error("--verify-url needs a host")]
    NoHost,
    /// A health path that is not absolute.
    #[error("--health-path {path:?} must start with /")]
    RelativeHealthPath {
        /// The path given.
        path: String,
    },
    /// A health path that makes no URL.
    #[error("--health-path {path:?} is not a valid path")]
    BadHealthPath {
        /// The path given.
        path: String,
        /// Why.
        #[source]
        source: hyper::http::Error,
    },
    /// `--verify-ca` with an `http://` URL.
    #[error("--verify-ca is for https:// URLs, and --verify-url {url} is http://")]
    CaWithoutTls {
        /// The URL given.
        url: String,
    },
    /// `--verify-address` is not an address.
    #[error(
        "--verify-address {0:?} is not an IP address or IP:PORT (e.g. 203.0.113.10 or [2001:db8::1]:443)"
    )]
    BadAddress(String),
    /// The trusted roots could not be set up.
    #[error(transparent)]
    Tls(#[from] TlsError),
}

/// The URLs the probe requests (the page, and the health route on the same host) and how it
/// connects to them.
#[derive(Debug, Clone)]
pub struct VerifyTarget {
    page: hyper::Uri,
    health: hyper::Uri,
    connect: Connect,
}

/// A URL as it may be printed: any `user:password@` before the host becomes `***@`.
pub fn redact_userinfo(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..end].rfind('@') {
        Some(at) => format!("{scheme}://***{}", &rest[at..]),
        None => url.to_string(),
    }
}

impl VerifyTarget {
    /// Checks an `http://` or `https://` URL and a health path (absolute) on its host;
    /// `https://` is checked against the system's root certificates. Credentials in the URL
    /// (`user:password@`) are dropped: the probe sends no `Authorization`, and the URLs it
    /// prints must not show them.
    pub fn parse(url: &str, health_path: &str) -> Result<Self, VerifyError> {
        Self::parse_with(url, health_path, None, None)
    }

    /// [`VerifyTarget::parse`], with a private CA for `https://` (a PEM file: only its
    /// certificates are trusted) and an address to connect to instead of the URL's host (one
    /// ALB node; the URL's host is still sent as SNI and `Host`; the URL's port unless given).
    pub fn parse_with(
        url: &str,
        health_path: &str,
        ca: Option<&Path>,
        address: Option<&str>,
    ) -> Result<Self, VerifyError> {
        let shown = redact_userinfo(url);
        let page: hyper::Uri = url.parse().map_err(|source| VerifyError::NotAUrl {
            url: shown.clone(),
            source,
        })?;
        let scheme = match page.scheme_str() {
            Some(s @ ("http" | "https")) => s.to_string(),
            _ => return Err(VerifyError::NotHttp { url: shown }),
        };
        let with_userinfo = page.authority().ok_or(VerifyError::NoHost)?.as_str();
        let host = with_userinfo
            .rsplit_once('@')
            .map_or(with_userinfo, |(_, host)| host);
        if host.is_empty() {
            return Err(VerifyError::NoHost);
        }
        let authority: hyper::http::uri::Authority =
            host.parse().map_err(|source| VerifyError::NotAUrl {
                url: shown.clone(),
                source,
            })?;
        let port = authority
            .port_u16()
            .unwrap_or(if scheme == "https" { 443 } else { 80 });
        let page = hyper::Uri::builder()
            .scheme(scheme.as_str())
            .authority(authority.clone())
            .path_and_query(page.path_and_query().map_or("/", |p| p.as_str()))
            .build()
            .map_err(|_| VerifyError::NoHost)?;
        if !health_path.starts_with('/') {
            return Err(VerifyError::RelativeHealthPath {
                path: health_path.into(),
            });
        }
        let health = hyper::Uri::builder()
            .scheme(scheme.as_str())
            .authority(authority)
            .path_and_query(health_path)
            .build()
            .map_err(|source| VerifyError::BadHealthPath {
                path: health_path.into(),
                source,
            })?;
        let tls = match (scheme.as_str(), ca) {
            ("https", Some(ca)) => Some(Tls::ca_file(ca)?),
            ("https", None) => Some(Tls::system()?),
            (_, Some(_)) => return Err(VerifyError::CaWithoutTls { url: shown }),
            _ => None,
        };
        let address = address.map(|a| parse_address(a, port)).transpose()?;
        Ok(Self {
            page,
            health,
            connect: Connect { address, tls },
        })
    }
}

/// `IP`, `IP:PORT` or `[IPv6]:PORT`; the URL's port when none is given.
fn parse_address(text: &str, port: u16) -> Result<SocketAddr, VerifyError> {
    text.parse::<SocketAddr>()
        .or_else(|_| {
            text.trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<IpAddr>()
                .map(|ip| SocketAddr::new(ip, port))
        })
        .map_err(|_| VerifyError::BadAddress(text.to_string()))
}

impl LiveEndpoint for VerifyTarget {
    fn page_url(&self) -> String {
        self.page.to_string()
    }

    fn health_url(&self) -> String {
        self.health.to_string()
    }

    fn address(&self) -> Option<String> {
        self.connect.address.map(|a| a.to_string())
    }

    fn tls(&self) -> bool {
        self.connect.tls.is_some()
    }

    fn get(&self, route: Route) -> Probing<'_, Result<Answer, GetError>> {
        let uri = match route {
            Route::Page => &self.page,
            Route::Health => &self.health,
        };
        Box::pin(http_get::get(uri, &self.connect))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_in_a_url_are_never_printed_nor_sent() {
        assert_eq!(
            redact_userinfo("http://user:pw@shop.example.com:8080/a@b?c=@"),
            "http://***@shop.example.com:8080/a@b?c=@"
        );
        assert_eq!(redact_userinfo("http://shop/x@y"), "http://shop/x@y");
        assert_eq!(redact_userinfo("not a url"), "not a url");
        let t =
            VerifyTarget::parse("http://user:pw@127.0.0.1:8080/status?x=1", "/healthz").unwrap();
        assert_eq!(t.page.to_string(), "http://127.0.0.1:8080/status?x=1");
        assert_eq!(t.health.to_string(), "http://127.0.0.1:8080/healthz");
        for url in ["ftp://user:pw@host/", "http://user:pw@/"] {
            let err = VerifyTarget::parse(url, "/healthz")
                .unwrap_err()
                .to_string();
            assert!(!err.contains("pw"), "{url}: {err}");
        }
    }
}
