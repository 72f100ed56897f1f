//! The vocabulary every part shares: what a request is answered with ([`PageKind`]), its status
//! code and the reason phrase the ALB contract wants in `statusDescription`. A leaf: it imports
//! nothing from the crate.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// What a request is answered with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PageKind {
    /// Planned maintenance: 503 with `Retry-After`.
    Maintenance,
    /// 404.
    NotFound,
    /// 500.
    InternalError,
    /// 502.
    BadGateway,
    /// Generic 503 (unplanned).
    ServiceUnavailable,
    /// 504.
    GatewayTimeout,
    /// The health route: 200.
    Health,
    /// `/robots.txt`: 200.
    Robots,
    /// The bypass link of the current maintenance window: 303 with the bypass cookie.
    Bypass,
    /// A visitor let through by a gradual return: 307 back to the same address with the
    /// admission cookie (`crate::respond::admission`).
    Admit,
}

impl PageKind {
    /// The kinds that are pages (rendered from templates), in preview order.
    pub const PAGES: [PageKind; 6] = [
        Self::Maintenance,
        Self::NotFound,
        Self::InternalError,
        Self::BadGateway,
        Self::ServiceUnavailable,
        Self::GatewayTimeout,
    ];

    /// HTTP status code.
    pub fn status(self) -> u16 {
        match self {
            Self::Maintenance | Self::ServiceUnavailable => 503,
            Self::NotFound => 404,
            Self::InternalError => 500,
            Self::BadGateway => 502,
            Self::GatewayTimeout => 504,
            Self::Health | Self::Robots => 200,
            Self::Bypass => 303,
            Self::Admit => 307,
        }
    }

    /// The name used in configuration, logs and problem `type` URIs.
    pub fn name(self) -> &'static str {
        match self {
            Self::Maintenance => "maintenance",
            Self::NotFound => "not-found",
            Self::InternalError => "internal-error",
            Self::BadGateway => "bad-gateway",
            Self::ServiceUnavailable => "service-unavailable",
            Self::GatewayTimeout => "gateway-timeout",
            Self::Health => "health",
            Self::Robots => "robots",
            Self::Bypass => "bypass",
            Self::Admit => "admit",
        }
    }

    /// True for kinds rendered as pages (not the health, robots, bypass or admission routes).
    pub fn is_page(self) -> bool {
        !matches!(
            self,
            Self::Health | Self::Robots | Self::Bypass | Self::Admit
        )
    }

    /// True when the page carries `Retry-After`.
    pub fn has_retry_after(self) -> bool {
        matches!(self, Self::Maintenance | Self::ServiceUnavailable)
    }
}

impl fmt::Display for PageKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for PageKind {
    type Err = String;

    /// Accepts the names (`not-found`) and the status numbers of the pages (`404`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let kind = match s {
            "maintenance" => Self::Maintenance,
            "not-found" | "404" => Self::NotFound,
            "internal-error" | "500" => Self::InternalError,
            "bad-gateway" | "502" => Self::BadGateway,
            "service-unavailable" | "503" => Self::ServiceUnavailable,
            "gateway-timeout" | "504" => Self::GatewayTimeout,
            "health" => Self::Health,
            "robots" => Self::Robots,
            _ => {
                return Err(format!(
                    "{s:?} is not a page; expected one of maintenance, not-found, internal-error, \
                     bad-gateway, service-unavailable, gateway-timeout (or 404, 500, 502, 503, 504)"
                ));
            }
        };
        Ok(kind)
    }
}

impl<'de> Deserialize<'de> for PageKind {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl Serialize for PageKind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

/// The canonical reason phrase of the status codes the responder sends.
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        200 => "OK",
        303 => "See Other",
        307 => "Temporary Redirect",
        404 => "Not Found",
        405 => "Method Not Allowed",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Unknown",
    }
}
