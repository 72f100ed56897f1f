//! What reading an ALB event gives ([`Event`]: the core's request, the [`HeaderMode`] to
//! answer in, how it was read), the limits both parses keep, and the path as the core takes it
//! ([`clean_path`]). Shared by the full parse (`super`) and its fast path (`super::plain`).

use maintenance_core::respond::request::Request;

/// Which header map the target group expects in the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderMode {
    /// `lambda.multi_value_headers.enabled=false` (the default): answer in `headers`.
    Single,
    /// Multi-value mode: answer in `multiValueHeaders`.
    Multi,
    /// The event does not tell: answer in both, which works in either mode.
    Unknown,
}

impl HeaderMode {
    /// The mode an event tells by which maps it fills: one of them, or it does not tell.
    pub(super) fn from_maps(single: bool, multi: bool) -> Self {
        match (single, multi) {
            (true, false) => Self::Single,
            (false, true) => Self::Multi,
            _ => Self::Unknown,
        }
    }

    /// Name for logs.
    pub fn name(self) -> &'static str {
        match self {
            Self::Single => "Single",
            Self::Multi => "Multi",
            Self::Unknown => "Unknown",
        }
    }
}

/// How the event was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParseKind {
    /// `aws_lambda_events` accepted it.
    Typed,
    /// The typed parse refused it; fields were read one by one.
    Lenient,
    /// Not a JSON object: answered as a `GET /` with no headers.
    Unreadable,
}

impl ParseKind {
    /// Name for logs.
    pub fn name(self) -> &'static str {
        match self {
            Self::Typed => "Typed",
            Self::Lenient => "Lenient",
            Self::Unreadable => "Unreadable",
        }
    }
}

/// An ALB event, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// The request.
    pub request: Request,
    /// The header mode to answer in.
    pub mode: HeaderMode,
    /// How it was read.
    pub parse: ParseKind,
}

/// Longest path kept; the ALB itself limits the request line to 16 KiB.
pub(super) const MAX_PATH: usize = 16 * 1024;
/// Most header fields the fast path reads in one map; a larger event takes the full parse.
pub(super) const MAX_HEADERS: usize = 200;
/// Most values of the header fields the core reads
/// ([`maintenance_core::respond::request::READ_HEADERS`]) kept from one event. Counted after the
/// other fields are left out, so any number of other headers never hides a `User-Agent` (a health
/// check) or an `Accept`.
pub(super) const MAX_READ_VALUES: usize = 64;

/// The request path, or `/` when it is missing, relative or longer than [`MAX_PATH`].
pub(super) fn clean_path(path: Option<&str>) -> String {
    match path {
        Some(p) if p.starts_with('/') && p.len() <= MAX_PATH => p.to_string(),
        _ => "/".to_string(),
    }
}
