//! The local preview: `maintctl serve` (an HTTP/1.1 server on loopback) and `maintctl preview`
//! (every page written to files with an `index.html` gallery).
//!
//! Both go through the very code the Lambda runs, [`Function::handle`], and add nothing to the
//! core: each HTTP request is turned into the ALB event an ALB would send ([`alb_event`]), the
//! event JSON is handed to the function, and the ALB response JSON is turned back into HTTP the
//! way an ALB does it ([`Answer::from_alb_json`]: the header map of the target group's mode only,
//! base64 bodies decoded, hop-by-hop headers dropped, a contract violation answered with 502).
//!
//! What is preview-only lives here and is reserved under [`INDEX_PATH`]: the index page, and
//! `/__preview/page?kind=…&lang=…&format=…`, which forces a page kind, a language and a format.
//! A forced kind travels the production route: the event names a synthetic target group that
//! [`site`] maps to that kind, exactly as a fallback target group is mapped in production.
//!
//! Content comes from the embedded defaults, a TOML file in the SSM layout ([`FileStore`],
//! see `config/content.example.toml`) or SSM itself; files and SSM both go through
//! [`crate::ssm::content_from_parameters`] and the content cache, like the Lambda's content.

use std::collections::hash_map::RandomState;
use std::fmt::Write as _;
use std::future::Future;
use std::hash::{BuildHasher, Hasher};
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::pin::pin;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderName, HeaderValue};
use hyper::http::request::Parts;
use hyper::{HeaderMap, Method, Request, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;
use tokio::task::JoinSet;

use crate::content_cache::{CacheSettings, Refresh};
use crate::lambda::alb_event::HeaderMode;
use crate::lambda::alb_response::check_contract;
use crate::lambda::{Function, FunctionSettings};
use crate::page_kind::{PageKind, reason_phrase};
use crate::respond::negotiate::Format;
use crate::respond::request::Request as CoreRequest;
use crate::respond::select_page;
use crate::site::Site;
use crate::ssm::{FetchError, Parameter, ParameterStore, Warning, check_prefix};

/// The reserved index page of `maintctl serve`; every path under it is the preview's own.
pub const INDEX_PATH: &str = "/__preview/";
/// The reserved route that forces a page: `?kind=not-found&lang=ja&format=json`.
pub const PAGE_PATH: &str = "/__preview/page";
/// Default listen address of `maintctl serve`: loopback only.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// Synthetic SSM prefix under which a content file's keys become parameter names.
pub const FILE_PREFIX: &str = "/preview";
/// The target group named in every event that does not force a page kind.
pub const TARGET_GROUP_ARN: &str =
    "arn:aws:elasticloadbalancing:local:000000000000:targetgroup/maintctl-preview/0000000000000000";
/// Largest request body passed on; like the ALB, a larger one is answered 413.
pub const MAX_REQUEST_BODY: usize = 1024 * 1024;
/// How long a graceful shutdown waits for requests in flight before dropping them.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
/// The trace id the gallery's events carry, so its files do not change from run to run.
const GALLERY_TRACE_ID: &str = "Root=1-67a1b2c3-0123456789abcdef01234567";

/// The target-group name that [`site`] maps to a page kind (`preview-not-found`).
fn forced_group_name(kind: PageKind) -> String {
    format!("preview-{}", kind.name())
}

/// The synthetic target-group ARN of a forced page kind.
pub fn forced_target_group_arn(kind: PageKind) -> String {
    format!(
        "arn:aws:elasticloadbalancing:local:000000000000:targetgroup/{}/0000000000000000",
        forced_group_name(kind)
    )
}

/// The preview's site: `site` plus one synthetic target group per page kind, so a forced page
/// is selected by the same rule that maps a fallback target group in production. Nothing else
/// changes; the Lambda never sees these entries.
pub fn site(mut site: Site) -> Site {
    for kind in PageKind::PAGES {
        site.config
            .target_groups
            .insert(forced_group_name(kind), kind);
    }
    site
}

// ---------------------------------------------------------------------------------------------
// Content sources
// ---------------------------------------------------------------------------------------------

/// Why a content file could not be read as the SSM layout.
#[derive(Debug, thiserror::Error)]
pub enum ContentFileError {
    /// Not TOML.
    #[error("not valid TOML: {0}")]
    Syntax(#[from] toml::de::Error),
    /// A key holds an array, a boolean or a float; SSM values are strings.
    #[error("key {key}: expected a string (SSM parameter values are text), found {found}")]
    Value {
        /// Dotted key, e.g. `en.title`.
        key: String,
        /// TOML type found.
        found: &'static str,
    },
}

/// Turns a content file (see `config/content.example.toml`) into the parameters SSM would hold
/// under `prefix`: `[en] title = "…"` becomes `{prefix}/en/title`. Integers and TOML date-times
/// are taken as their text (`retry-after = 900`). Nothing is validated here: that is
/// [`crate::ssm::content_from_parameters`]' job, exactly as for SSM.
pub fn parameters_from_toml(text: &str, prefix: &str) -> Result<Vec<Parameter>, ContentFileError> {
    fn walk(
        base: &str,
        dotted: &str,
        table: &toml::Table,
        out: &mut Vec<Parameter>,
    ) -> Result<(), ContentFileError> {
        for (key, value) in table {
            let name = format!("{base}/{key}");
            let dotted = if dotted.is_empty() {
                key.clone()
            } else {
                format!("{dotted}.{key}")
            };
            let text = match value {
                toml::Value::String(s) => s.clone(),
                toml::Value::Integer(i) => i.to_string(),
                toml::Value::Datetime(d) => d.to_string(),
                toml::Value::Table(t) => {
                    walk(&name, &dotted, t, out)?;
                    continue;
                }
                other => {
                    return Err(ContentFileError::Value {
                        key: dotted,
                        found: other.type_str(),
                    });
                }
            };
            out.push(Parameter { name, value: text });
        }
        Ok(())
    }
    let table: toml::Table = toml::from_str(text)?;
    let mut out = Vec::new();
    walk(prefix, "", &table, &mut out)?;
    Ok(out)
}

/// A fixed list of parameters: a [`ParameterStore`] for tests and one-shot renders.
#[derive(Debug, Clone, Default)]
pub struct StaticStore {
    /// The parameters, full names.
    pub parameters: Vec<Parameter>,
}

impl ParameterStore for StaticStore {
    async fn parameters_by_path(&self, path: &str) -> Result<Vec<Parameter>, FetchError> {
        let base = format!("{path}/");
        Ok(self
            .parameters
            .iter()
            .filter(|p| p.name.starts_with(&base))
            .cloned()
            .collect())
    }
}

/// A content file read on every fetch, so an edit shows on the next reload once the cache
/// window (a couple of seconds for files) has passed. A file that has become unreadable is a
/// failed fetch: the last good content stays, as with SSM.
#[derive(Debug, Clone)]
pub struct FileStore {
    /// The TOML file.
    pub path: PathBuf,
}

impl ParameterStore for FileStore {
    async fn parameters_by_path(&self, path: &str) -> Result<Vec<Parameter>, FetchError> {
        let text = tokio::fs::read_to_string(&self.path)
            .await
            .map_err(|e| FetchError::Unreachable(format!("{}: {e}", self.path.display())))?;
        parameters_from_toml(&text, path)
            .map_err(|e| FetchError::Service(format!("{}: {e}", self.path.display())))
    }
}

/// The store behind a preview: one type for every source, so the server is built once.
#[derive(Debug, Clone)]
pub enum Store {
    /// A fixed list.
    Static(StaticStore),
    /// A content file.
    File(FileStore),
    /// SSM Parameter Store, through the AWS SDK.
    Ssm(aws_sdk_ssm::Client),
}

impl ParameterStore for Store {
    async fn parameters_by_path(&self, path: &str) -> Result<Vec<Parameter>, FetchError> {
        match self {
            Self::Static(s) => s.parameters_by_path(path).await,
            Self::File(f) => f.parameters_by_path(path).await,
            Self::Ssm(c) => c.parameters_by_path(path).await,
        }
    }
}

/// Where the preview takes the live content from.
#[derive(Debug, Clone)]
pub enum Source {
    /// The embedded defaults, as a Lambda without `MAINTENANCE_SSM_PREFIX` serves them.
    Embedded,
    /// A TOML file in the SSM layout (`--content FILE`).
    File(PathBuf),
    /// SSM Parameter Store under a prefix (`--from-ssm PREFIX`).
    Ssm {
        /// SDK client.
        client: aws_sdk_ssm::Client,
        /// Parameter prefix, e.g. `/maintenance/shop`.
        prefix: String,
    },
}

impl Source {
    /// One line for the console and the index page.
    pub fn describe(&self) -> String {
        match self {
            Self::Embedded => "embedded defaults".into(),
            Self::File(path) => format!("file {}", path.display()),
            Self::Ssm { prefix, .. } => format!("SSM parameters under {prefix}"),
        }
    }
}

/// Why the preview could not load its content.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The content file could not be read.
    #[error("failed to read the content file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
    /// The content file is not in the SSM layout.
    #[error("content file {path}: {source}")]
    File {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        source: ContentFileError,
    },
    /// The SSM prefix is malformed.
    #[error("--from-ssm: {0}")]
    Prefix(String),
    /// The first fetch failed.
    #[error("failed to read the content ({source_label}): {error}")]
    Fetch {
        /// [`Source::describe`].
        source_label: String,
        /// The fetch error.
        error: FetchError,
    },
}

/// A function ready to serve previews, and the values its content ignored.
pub struct Loaded {
    /// The function, over the preview [`site`].
    pub function: Function<Store>,
    /// Values that were ignored (named as parameters, `/preview/en/title` for a file).
    pub warnings: Vec<Warning>,
    /// [`Source::describe`].
    pub source: String,
}

impl std::fmt::Debug for Loaded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Loaded")
            .field("warnings", &self.warnings)
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

/// Builds the preview's [`Function`] over `site` (made a preview site here) and fetches the
/// content once. A failed first fetch is an error: a preview that silently showed the defaults
/// would mislead. Files are re-read every 2 s at most; SSM follows the Lambda's 30 s window.
pub async fn load(site: Site, source: Source) -> Result<Loaded, LoadError> {
    let site = self::site(site);
    let label = source.describe();
    let (prefix, store, ttl) = match source {
        Source::Embedded => {
            return Ok(Loaded {
                function: Function::new(site, None),
                warnings: Vec::new(),
                source: label,
            });
        }
        Source::File(path) => {
            let text = std::fs::read_to_string(&path).map_err(|source| LoadError::Read {
                path: path.clone(),
                source,
            })?;
            parameters_from_toml(&text, FILE_PREFIX).map_err(|source| LoadError::File {
                path: path.clone(),
                source,
            })?;
            let store = Store::File(FileStore { path });
            (FILE_PREFIX.to_string(), store, Duration::from_secs(2))
        }
        Source::Ssm { client, prefix } => {
            check_prefix(&prefix).map_err(LoadError::Prefix)?;
            (prefix, Store::Ssm(client), Duration::from_secs(30))
        }
    };
    let settings = FunctionSettings {
        ssm_prefix: Some(prefix),
        cache: CacheSettings {
            ttl,
            // A laptop is farther from SSM than a Lambda; the preview may wait for the answer.
            init_budget: Duration::from_secs(10),
            refresh_budget: Duration::from_secs(5),
            ..CacheSettings::default()
        },
    };
    let function = Function::with_store(site, &settings, Some(store));
    let refresh = match function.cache() {
        Some(cache) => cache.init(tokio::time::Instant::now()).await,
        None => Refresh::Fetched(Vec::new()),
    };
    match refresh {
        Refresh::Fetched(warnings) => Ok(Loaded {
            function,
            warnings,
            source: label,
        }),
        Refresh::Failed(error) => Err(LoadError::Fetch {
            source_label: label,
            error,
        }),
    }
}

// ---------------------------------------------------------------------------------------------
// HTTP request -> ALB event
// ---------------------------------------------------------------------------------------------

/// What the ALB knows about a request beyond the request itself.
#[derive(Debug, Clone)]
pub struct Origin {
    /// Client address (appended to `X-Forwarded-For`).
    pub client: IpAddr,
    /// Listener port (`X-Forwarded-Port`).
    pub port: u16,
    /// The target group's header mode: [`HeaderMode::Multi`] for multi-value events, anything
    /// else for single-value events.
    pub mode: HeaderMode,
    /// ARN of the invoking target group.
    pub target_group_arn: String,
}

/// A fresh X-Ray trace header, `Root=1-<8 hex: epoch seconds>-<24 hex: random>`, as the ALB
/// adds to a request that has none.
pub fn new_trace_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let seconds = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let random = |salt: u64| {
        let mut h = RandomState::new().build_hasher();
        h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed) ^ salt);
        h.finish()
    };
    format!(
        "Root=1-{:08x}-{:016x}{:08x}",
        seconds as u32,
        random(1),
        random(2) as u32
    )
}

/// The `(key, value)` pairs of a raw query string, undecoded: the ALB passes them raw.
fn query_pairs(query: Option<&str>) -> impl Iterator<Item = (&str, &str)> {
    query
        .unwrap_or("")
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| pair.split_once('=').unwrap_or((pair, "")))
}

/// True when the ALB would pass this body as text: no `Content-Encoding`, and a
/// `text/*`, `application/json`, `application/javascript` or `application/xml` body.
fn body_is_text(headers: &HeaderMap) -> bool {
    if headers.contains_key(hyper::header::CONTENT_ENCODING) {
        return false;
    }
    let Some(content_type) = headers
        .get(hyper::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let media = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    media.starts_with("text/")
        || matches!(
            media.as_str(),
            "application/json" | "application/javascript" | "application/xml"
        )
}

/// Builds the event an ALB sends its Lambda target for a request (see
/// `alb-lambda-contract.md` §1): method, raw path, raw query, lower-case header names (the last
/// value in single-value mode, every value in multi-value mode), the body as text or base64
/// under the ALB's rules, the target group, and the headers the ALB adds (`X-Forwarded-For`
/// with the client appended, `-Proto`, `-Port`, and `X-Amzn-Trace-Id` unless the client sent
/// one).
pub fn alb_event(parts: &Parts, body: &[u8], origin: &Origin) -> Value {
    let multi = origin.mode == HeaderMode::Multi;
    let mut headers: Vec<(String, Vec<String>)> = Vec::new();
    for name in parts.headers.keys() {
        let values = parts
            .headers
            .get_all(name)
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect();
        headers.push((name.as_str().to_ascii_lowercase(), values));
    }
    let mut set = |name: &str, value: String| match headers.iter_mut().find(|(n, _)| n == name) {
        Some((_, values)) => *values = vec![value],
        None => headers.push((name.to_string(), vec![value])),
    };
    let forwarded_for = match parts
        .headers
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
    {
        Some(previous) if !previous.trim().is_empty() => format!("{previous}, {}", origin.client),
        _ => origin.client.to_string(),
    };
    set("x-forwarded-for", forwarded_for);
    set("x-forwarded-proto", "http".into());
    set("x-forwarded-port", origin.port.to_string());
    if !parts.headers.contains_key("x-amzn-trace-id") {
        set("x-amzn-trace-id", new_trace_id());
    }

    let mut query_single = Map::new();
    let mut query_multi: Map<String, Value> = Map::new();
    for (key, value) in query_pairs(parts.uri.query()) {
        query_single.insert(key.into(), Value::String(value.into()));
        match query_multi.get_mut(key).and_then(Value::as_array_mut) {
            Some(values) => values.push(Value::String(value.into())),
            None => {
                query_multi.insert(key.into(), json!([value]));
            }
        }
    }

    let (body, base64) = match std::str::from_utf8(body) {
        _ if body.is_empty() => (String::new(), false),
        Ok(text) if body_is_text(&parts.headers) => (text.to_string(), false),
        _ => (base64::engine::general_purpose::STANDARD.encode(body), true),
    };

    let mut event = json!({
        "requestContext": { "elb": { "targetGroupArn": origin.target_group_arn } },
        "httpMethod": parts.method.as_str(),
        "path": parts.uri.path(),
        "body": body,
        "isBase64Encoded": base64,
    });
    let object = event.as_object_mut().expect("built as an object");
    if multi {
        let map: Map<String, Value> = headers.into_iter().map(|(n, v)| (n, json!(v))).collect();
        object.insert(
            "multiValueQueryStringParameters".into(),
            Value::Object(query_multi),
        );
        object.insert("multiValueHeaders".into(), Value::Object(map));
    } else {
        let map: Map<String, Value> = headers
            .into_iter()
            .filter_map(|(n, v)| Some((n, Value::String(v.into_iter().last()?))))
            .collect();
        object.insert("queryStringParameters".into(), Value::Object(query_single));
        object.insert("headers".into(), Value::Object(map));
    }
    event
}

// ---------------------------------------------------------------------------------------------
// ALB response -> HTTP
// ---------------------------------------------------------------------------------------------

/// An HTTP answer as the ALB would send it to the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// Status code.
    pub status: u16,
    /// Header fields in the order the response lists them (names as the function wrote them).
    pub headers: Vec<(String, String)>,
    /// Body bytes (base64 already decoded).
    pub body: Vec<u8>,
}

/// Headers the ALB handles itself and ignores in a Lambda response.
const HOP_BY_HOP: [&str; 7] = [
    "connection",
    "keep-alive",
    "transfer-encoding",
    "upgrade",
    "te",
    "trailer",
    "content-length",
];

impl Answer {
    /// Reads the function's response JSON as the ALB does for a target group in `mode`: the
    /// contract is checked first (a violation is what the ALB answers 502 for), then only the
    /// header map of that mode is read, and a base64 body is decoded.
    pub fn from_alb_json(
        json: &str,
        mode: HeaderMode,
    ) -> Result<Self, crate::lambda::alb_response::ContractViolation> {
        let mode = match mode {
            HeaderMode::Multi => HeaderMode::Multi,
            _ => HeaderMode::Single,
        };
        check_contract(json, mode)?;
        let violation = |m: &str| crate::lambda::alb_response::ContractViolation(m.to_string());
        let value: Value = serde_json::from_str(json).map_err(|e| violation(&e.to_string()))?;
        let status = value["statusCode"].as_u64().unwrap_or(502) as u16;
        let mut headers = Vec::new();
        let keep = |name: &str| !HOP_BY_HOP.iter().any(|h| name.eq_ignore_ascii_case(h));
        if mode == HeaderMode::Multi {
            if let Some(map) = value["multiValueHeaders"].as_object() {
                for (name, values) in map.iter().filter(|(n, _)| keep(n)) {
                    for v in values.as_array().into_iter().flatten() {
                        headers.push((name.clone(), v.as_str().unwrap_or_default().to_string()));
                    }
                }
            }
        } else if let Some(map) = value["headers"].as_object() {
            for (name, v) in map.iter().filter(|(n, _)| keep(n)) {
                headers.push((name.clone(), v.as_str().unwrap_or_default().to_string()));
            }
        }
        let text = value["body"].as_str().unwrap_or("");
        let body = if value["isBase64Encoded"].as_bool() == Some(true) {
            base64::engine::general_purpose::STANDARD
                .decode(text)
                .map_err(|e| violation(&format!("body is not valid base64: {e}")))?
        } else {
            text.as_bytes().to_vec()
        };
        Ok(Self {
            status,
            headers,
            body,
        })
    }

    /// A plain-text answer made by the preview itself (not by the function).
    fn text(status: u16, body: String) -> Self {
        Self {
            status,
            headers: vec![
                ("Content-Type".into(), "text/plain; charset=utf-8".into()),
                ("Cache-Control".into(), "no-store".into()),
                ("X-Content-Type-Options".into(), "nosniff".into()),
            ],
            body: body.into_bytes(),
        }
    }

    /// The status line and headers, as `curl -i` would show them.
    pub fn head_text(&self) -> String {
        let mut out = format!("HTTP/1.1 {} {}\n", self.status, reason_phrase(self.status));
        for (name, value) in &self.headers {
            let _ = writeln!(out, "{name}: {value}");
        }
        out
    }

    /// The value of a header, names compared case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn into_response(self) -> hyper::Response<Full<Bytes>> {
        let mut response = hyper::Response::new(Full::new(Bytes::from(self.body)));
        *response.status_mut() =
            StatusCode::from_u16(self.status).unwrap_or(StatusCode::BAD_GATEWAY);
        let headers = response.headers_mut();
        for (name, value) in self.headers {
            if let (Ok(name), Ok(value)) = (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(&value),
            ) {
                headers.append(name, value);
            }
        }
        response
    }
}

/// Runs one event through the function and reads the answer as the ALB would. A response that
/// breaks the contract becomes the 502 the ALB would send, with the reason in the body.
pub async fn invoke<S: ParameterStore>(
    function: &Function<S>,
    event: &Value,
    mode: HeaderMode,
) -> Answer {
    let json = function.handle(&event.to_string()).await;
    match Answer::from_alb_json(json.get(), mode) {
        Ok(answer) => answer,
        Err(violation) => {
            tracing::error!(%violation, "the function's response breaks the ALB contract");
            Answer::text(
                502,
                format!(
                    "502 Bad Gateway\n\nmaintctl serve: an ALB would answer 502 here: {violation}\n"
                ),
            )
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The server
// ---------------------------------------------------------------------------------------------

/// How the server builds its events and describes itself.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Single-value (default) or multi-value events.
    pub mode: HeaderMode,
    /// Where the content comes from, shown on the index page.
    pub source: String,
}

impl From<HeaderMode> for ServeOptions {
    fn from(mode: HeaderMode) -> Self {
        Self {
            mode,
            source: "embedded defaults".into(),
        }
    }
}

struct Shared<S> {
    function: Arc<Function<S>>,
    options: ServeOptions,
    port: u16,
}

/// Serves HTTP/1.1 on `listener` until `shutdown` completes, answering every request through
/// `function` as an ALB with a Lambda target would (use a function built over the preview
/// [`site`], e.g. by [`load`], so the index links can force page kinds).
///
/// On shutdown it stops accepting, lets requests in flight finish (up to 10 s) and closes idle
/// keep-alive connections. The listener and the shutdown signal are injected, so tests run it
/// on port 0 with a channel, and `maintctl serve` with Ctrl-C.
pub async fn serve<S>(
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
    function: Arc<Function<S>>,
    options: impl Into<ServeOptions>,
) -> io::Result<()>
where
    S: ParameterStore + 'static,
{
    let port = listener.local_addr()?.port();
    let shared = Arc::new(Shared {
        function,
        options: options.into(),
        port,
    });
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(());
    let mut connections = JoinSet::new();
    let mut shutdown = pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        // Out of file descriptors and the like: wait a little rather than spin.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                let shared = Arc::clone(&shared);
                let mut stop = stop_rx.clone();
                connections.spawn(async move {
                    let service = hyper::service::service_fn(move |request| {
                        let shared = Arc::clone(&shared);
                        async move { Ok::<_, std::convert::Infallible>(answer(&shared, request, peer).await) }
                    });
                    let connection = hyper::server::conn::http1::Builder::new()
                        .timer(TokioTimer::new())
                        .header_read_timeout(Duration::from_secs(30))
                        .serve_connection(TokioIo::new(stream), service);
                    let mut connection = pin!(connection);
                    let result = tokio::select! {
                        result = connection.as_mut() => result,
                        _ = stop.changed() => {
                            connection.as_mut().graceful_shutdown();
                            connection.await
                        }
                    };
                    if let Err(e) = result {
                        tracing::debug!(error = %e, "connection ended with an error");
                    }
                });
            }
        }
    }
    drop(listener);
    let _ = stop_tx.send(());
    let drained = tokio::time::timeout(SHUTDOWN_GRACE, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!("requests still in flight after the grace period were dropped");
        connections.shutdown().await;
    }
    Ok(())
}

/// Answers one HTTP request.
async fn answer<S: ParameterStore>(
    shared: &Shared<S>,
    request: Request<Incoming>,
    peer: SocketAddr,
) -> hyper::Response<Full<Bytes>> {
    let (mut parts, body) = request.into_parts();
    let site = shared.function.site();
    let mode = shared.options.mode;
    let origin = |arn: String| Origin {
        client: peer.ip(),
        port: shared.port,
        mode,
        target_group_arn: arn,
    };
    let path = parts.uri.path().to_string();
    let query = parts.uri.query().map(str::to_string);
    if path == INDEX_PATH.trim_end_matches('/') || path == INDEX_PATH {
        return index_page(site, &shared.options).into_response();
    }
    if parts.method == Method::TRACE {
        // The ALB refuses TRACE itself, before any target sees it.
        return Answer::text(405, "405 Method Not Allowed\n".into()).into_response();
    }
    let body = match Limited::new(body, MAX_REQUEST_BODY).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => {
            return Answer::text(413, "413 Request Entity Too Large\n".into()).into_response();
        }
    };
    let mut arn = TARGET_GROUP_ARN.to_string();
    if path == PAGE_PATH {
        match Forced::from_query(query.as_deref(), site) {
            Ok(forced) => {
                arn = forced.apply(&mut parts);
            }
            Err(problem) => {
                return Answer::text(400, format!("400 Bad Request\n\nmaintctl serve: {problem}\nSee {INDEX_PATH} for the pages.\n"))
                    .into_response();
            }
        }
    } else if path.starts_with(INDEX_PATH) {
        return Answer::text(404, format!("404 Not Found\n\nmaintctl serve: {path} is reserved for the preview; see {INDEX_PATH}\n"))
            .into_response();
    }
    let event = alb_event(&parts, &body, &origin(arn));
    invoke(&shared.function, &event, mode).await.into_response()
}

/// A page forced by the index: kind, and optionally language and format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Forced<'a> {
    kind: PageKind,
    lang: Option<&'a str>,
    format: Option<Format>,
}

impl<'a> Forced<'a> {
    fn from_query(query: Option<&'a str>, site: &'a Site) -> Result<Self, String> {
        let mut forced = Self {
            kind: site.config.default_page,
            lang: None,
            format: None,
        };
        for (key, value) in query_pairs(query) {
            match key {
                "kind" => {
                    forced.kind = PageKind::from_str(value)?;
                    if !forced.kind.is_page() {
                        return Err(format!("kind={value} is a route, not a page"));
                    }
                }
                "lang" => {
                    let lang = site
                        .languages
                        .iter()
                        .find(|l| l.eq_ignore_ascii_case(value))
                        .ok_or_else(|| {
                            format!("lang={value:?} is not one of {}", site.languages.join(", "))
                        })?;
                    forced.lang = Some(lang.as_str());
                }
                "format" => {
                    forced.format = Some(
                        Format::ALL
                            .into_iter()
                            .find(|f| f.name() == value || (value == "txt" && *f == Format::Text))
                            .ok_or_else(|| {
                                format!("format={value:?} is not one of html, json, text")
                            })?,
                    );
                }
                _ => {}
            }
        }
        Ok(forced)
    }

    /// Rewrites the request into the one a user of that page sends: path `/`, and
    /// `Accept` / `Accept-Language` set when forced. Returns the target group to name.
    fn apply(&self, parts: &mut Parts) -> String {
        parts.uri = hyper::Uri::from_static("/");
        if let Some(lang) = self.lang
            && let Ok(value) = HeaderValue::from_str(lang)
        {
            parts.headers.insert(hyper::header::ACCEPT_LANGUAGE, value);
        }
        if let Some(format) = self.format {
            parts.headers.insert(
                hyper::header::ACCEPT,
                HeaderValue::from_static(accept_for(format)),
            );
        }
        forced_target_group_arn(self.kind)
    }
}

/// An `Accept` value that selects a format, as a typical client of that format sends it.
fn accept_for(format: Format) -> &'static str {
    match format {
        Format::Html => "text/html",
        Format::Json => "application/json",
        Format::Text => "text/plain",
    }
}

/// Link to a forced page.
fn page_link(kind: PageKind, lang: &str, format: Format) -> String {
    format!(
        "{PAGE_PATH}?kind={}&lang={lang}&format={}",
        kind.name(),
        format.name()
    )
}

// ---------------------------------------------------------------------------------------------
// HTML of the preview's own pages (index and gallery)
// ---------------------------------------------------------------------------------------------

/// Escapes text for HTML text and double-quoted attribute values.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The stylesheet of the index and the gallery (not of the pages: those use `templates/`).
const PREVIEW_CSS: &str = "\
:root{color-scheme:light dark;--fg:#1d2330;--muted:#5a6272;--line:#d9dde3;--bg:#f5f6f8;--card:#fff}\
@media (prefers-color-scheme:dark){:root{--fg:#e8eaee;--muted:#a4abb8;--line:#2e333c;--bg:#14171c;--card:#1d2128}}\
body{margin:0;padding:24px 16px;background:var(--bg);color:var(--fg);font:15px/1.5 system-ui,-apple-system,\"Segoe UI\",Roboto,\"Noto Sans\",\"Noto Sans CJK JP\",sans-serif}\
main{max-width:1100px;margin:0 auto}\
h1{font-size:1.4rem;margin:0 0 4px}h2{font-size:1.1rem;margin:28px 0 8px}\
.meta{color:var(--muted);margin:0 0 16px}\
.scroll{overflow-x:auto}\
table{border-collapse:collapse;background:var(--card);min-width:100%}\
th,td{border:1px solid var(--line);padding:6px 10px;text-align:left;vertical-align:top}\
td a{margin-right:10px}\
code{font:.9em ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}\
.warn{color:#b3261e}\
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(340px,1fr));gap:16px}\
figure{margin:0;background:var(--card);border:1px solid var(--line);border-radius:8px;overflow:hidden}\
iframe{display:block;width:100%;height:460px;border:0;border-bottom:1px solid var(--line);background:#fff}\
figcaption{padding:8px 10px;font-size:.9rem}figcaption a{margin-right:10px}";

/// Wraps a body in the preview's page shell.
fn shell(title: &str, body: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"robots\" content=\"noindex\">\n<title>{}</title>\n<style>{PREVIEW_CSS}</style>\n\
         </head>\n<body>\n<main>\n{body}</main>\n</body>\n</html>\n",
        escape(title)
    )
}

fn mode_label(mode: HeaderMode) -> &'static str {
    match mode {
        HeaderMode::Multi => "multi-value",
        _ => "single-value",
    }
}

/// Kinds whose forced route does not reach them (the configuration maps the path `/` to a page
/// first, e.g. with a `"/*"` entry): shown as a warning rather than silently previewing another.
fn shadowed_kinds(site: &Site) -> Vec<PageKind> {
    PageKind::PAGES
        .into_iter()
        .filter(|&kind| {
            let request = CoreRequest {
                target_group_arn: Some(forced_target_group_arn(kind)),
                ..CoreRequest::get("/")
            };
            select_page(&request, site) != kind
        })
        .collect()
}

/// The index page of `maintctl serve`.
fn index_page(site: &Site, options: &ServeOptions) -> Answer {
    let mut body = String::new();
    let _ = write!(
        body,
        "<h1>maintctl serve</h1>\n<p class=\"meta\">Every page through the Lambda's own code path. \
         Content: {}. ALB events: {}.</p>\n",
        escape(&options.source),
        mode_label(options.mode)
    );
    body.push_str(
        "<h2>Pages</h2>\n<div class=\"scroll\"><table>\n<thead><tr><th>Page</th><th>Status</th>",
    );
    for lang in &site.languages {
        let name = site
            .catalog
            .pack(lang)
            .map_or(lang.as_str(), |p| p.name.as_str());
        let _ = write!(
            body,
            "<th>{} <code>{}</code></th>",
            escape(name),
            escape(lang)
        );
    }
    body.push_str("</tr></thead>\n<tbody>\n");
    for kind in PageKind::PAGES {
        let status = kind.status();
        let _ = write!(
            body,
            "<tr><th><code>{}</code></th><td>{status} {}</td>",
            kind.name(),
            reason_phrase(status)
        );
        for lang in &site.languages {
            body.push_str("<td>");
            for format in Format::ALL {
                let _ = write!(
                    body,
                    "<a href=\"{}\">{}</a>",
                    escape(&page_link(kind, lang, format)),
                    format.name()
                );
            }
            body.push_str("</td>");
        }
        body.push_str("</tr>\n");
    }
    body.push_str("</tbody></table></div>\n");
    let shadowed = shadowed_kinds(site);
    if !shadowed.is_empty() {
        let names: Vec<_> = shadowed.iter().map(|k| k.name()).collect();
        let _ = writeln!(
            body,
            "<p class=\"warn\">The configuration's <code>paths</code> map <code>/</code> to a page, so these links show that page instead: {}.</p>",
            escape(&names.join(", "))
        );
    }
    let _ = write!(
        body,
        "<h2>Routes</h2>\n<ul>\n<li><a href=\"/\">/</a>: what your browser gets (page, language and format negotiated)</li>\n\
         <li><a href=\"{0}\">{0}</a>: the health route (200 during maintenance)</li>\n\
         <li><a href=\"/robots.txt\">/robots.txt</a></li>\n</ul>\n",
        escape(&site.config.health_path)
    );
    let html = shell("maintctl serve: preview", &body);
    let hash =
        base64::engine::general_purpose::STANDARD.encode(Sha256::digest(PREVIEW_CSS.as_bytes()));
    Answer {
        status: 200,
        headers: vec![
            ("Content-Type".into(), "text/html; charset=utf-8".into()),
            ("Cache-Control".into(), "no-store".into()),
            ("X-Content-Type-Options".into(), "nosniff".into()),
            (
                "Content-Security-Policy".into(),
                format!(
                    "default-src 'none'; style-src 'sha256-{hash}'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
                ),
            ),
        ],
        body: html.into_bytes(),
    }
}

// ---------------------------------------------------------------------------------------------
// The gallery (`maintctl preview --out DIR`)
// ---------------------------------------------------------------------------------------------

/// File extension of a format in the gallery.
pub fn extension(format: Format) -> &'static str {
    match format {
        Format::Html => "html",
        Format::Json => "json",
        Format::Text => "txt",
    }
}

/// Why the gallery could not be written.
#[derive(Debug, thiserror::Error)]
pub enum GalleryError {
    /// A file could not be written.
    #[error("failed to write {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
    /// A response broke the ALB contract (the ALB would answer 502 to it).
    #[error("{page}: {body}")]
    Contract {
        /// Which page.
        page: String,
        /// The preview's 502 text.
        body: String,
    },
}

/// Writes every page kind × language × format to `dir` through `function` (build it with
/// [`load`]), with the ALB response head of each, plus `health.txt`, `robots.txt` and an
/// `index.html` gallery. Files: `<kind>.<lang>.<html|json|txt>` and the same name plus
/// `.headers.txt`. Returns the paths written, index last.
pub async fn write_gallery<S: ParameterStore>(
    function: &Function<S>,
    dir: &Path,
    options: &ServeOptions,
) -> Result<Vec<PathBuf>, GalleryError> {
    let site = function.site();
    let write = |name: &str, bytes: &[u8]| -> Result<PathBuf, GalleryError> {
        let path = dir.join(name);
        std::fs::write(&path, bytes).map_err(|source| GalleryError::Write {
            path: path.clone(),
            source,
        })?;
        Ok(path)
    };
    std::fs::create_dir_all(dir).map_err(|source| GalleryError::Write {
        path: dir.to_path_buf(),
        source,
    })?;
    let origin = |arn: String| Origin {
        client: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)),
        port: 443,
        mode: options.mode,
        target_group_arn: arn,
    };
    let base = |path: &str| {
        let mut parts = Request::new(()).into_parts().0;
        parts.uri = hyper::Uri::try_from(path).unwrap_or_else(|_| hyper::Uri::from_static("/"));
        parts.headers.insert(
            hyper::header::HOST,
            HeaderValue::from_static("preview.invalid"),
        );
        parts.headers.insert(
            "x-amzn-trace-id",
            HeaderValue::from_static(GALLERY_TRACE_ID),
        );
        parts
    };
    let mut written = Vec::new();
    let mut entries = Vec::new();
    for kind in PageKind::PAGES {
        for lang in &site.languages {
            for format in Format::ALL {
                let mut parts = base("/");
                let forced = Forced {
                    kind,
                    lang: Some(lang),
                    format: Some(format),
                };
                let arn = forced.apply(&mut parts);
                let answer = invoke(
                    function,
                    &alb_event(&parts, b"", &origin(arn)),
                    options.mode,
                )
                .await;
                let name = format!("{}.{lang}.{}", kind.name(), extension(format));
                if answer.status == 502 && kind.status() != 502 {
                    return Err(GalleryError::Contract {
                        page: name,
                        body: String::from_utf8_lossy(&answer.body).into_owned(),
                    });
                }
                written.push(write(&name, &answer.body)?);
                written.push(write(
                    &format!("{name}.headers.txt"),
                    answer.head_text().as_bytes(),
                )?);
                entries.push((kind, lang.clone(), format, name));
            }
        }
    }
    let mut routes = Vec::new();
    for (file, path) in [
        ("health.txt", site.config.health_path.as_str()),
        ("robots.txt", "/robots.txt"),
    ] {
        let parts = base(path);
        let answer = invoke(
            function,
            &alb_event(&parts, b"", &origin(TARGET_GROUP_ARN.into())),
            options.mode,
        )
        .await;
        written.push(write(file, &answer.body)?);
        written.push(write(
            &format!("{file}.headers.txt"),
            answer.head_text().as_bytes(),
        )?);
        routes.push((path.to_string(), file, answer.status));
    }
    let index = gallery_index(site, options, &entries, &routes);
    written.push(write("index.html", index.as_bytes())?);
    Ok(written)
}

/// One rendered page of the gallery: kind, language, format, file name.
type Entry = (PageKind, String, Format, String);

fn gallery_index(
    site: &Site,
    options: &ServeOptions,
    entries: &[Entry],
    routes: &[(String, &str, u16)],
) -> String {
    let mut body = String::new();
    let _ = write!(
        body,
        "<h1>Maintenance pages: preview gallery</h1>\n<p class=\"meta\">Rendered by <code>maintctl preview</code> \
         through the Lambda's own code path. Content: {}. ALB events: {}. Support references show a sample trace id.</p>\n",
        escape(&options.source),
        mode_label(options.mode)
    );
    for kind in PageKind::PAGES {
        let status = kind.status();
        let _ = write!(
            body,
            "<h2 id=\"{0}\"><code>{0}</code>: {status} {1}</h2>\n<div class=\"grid\">\n",
            kind.name(),
            reason_phrase(status)
        );
        for lang in &site.languages {
            let html = format!("{}.{lang}.html", kind.name());
            let lang_name = site
                .catalog
                .pack(lang)
                .map_or(lang.as_str(), |p| p.name.as_str());
            let _ = write!(
                body,
                "<figure><iframe src=\"{0}\" title=\"{1} {2}\" sandbox loading=\"lazy\"></iframe>\n<figcaption><strong>{2}</strong> ",
                escape(&html),
                kind.name(),
                escape(lang_name)
            );
            let files: Vec<_> = entries
                .iter()
                .filter(|(k, l, _, _)| *k == kind && l == lang)
                .collect();
            for (_, _, format, name) in &files {
                let _ = write!(body, "<a href=\"{}\">{}</a>", escape(name), format.name());
            }
            body.push_str("<br>response head: ");
            for (_, _, format, name) in &files {
                let _ = write!(
                    body,
                    "<a href=\"{}.headers.txt\">{}</a>",
                    escape(name),
                    format.name()
                );
            }
            body.push_str("</figcaption></figure>\n");
        }
        body.push_str("</div>\n");
    }
    body.push_str("<h2>Routes</h2>\n<ul>\n");
    for (path, file, status) in routes {
        let _ = writeln!(
            body,
            "<li><code>{}</code> ({status}): <a href=\"{1}\">{1}</a>, <a href=\"{1}.headers.txt\">headers</a></li>",
            escape(path),
            escape(file)
        );
    }
    body.push_str("</ul>\n");
    shell("Maintenance pages: preview gallery", &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(uri: &str, headers: &[(&str, &str)]) -> Parts {
        let mut builder = Request::builder().method("POST").uri(uri);
        for (n, v) in headers {
            builder = builder.header(*n, *v);
        }
        builder.body(()).unwrap().into_parts().0
    }

    fn origin(mode: HeaderMode) -> Origin {
        Origin {
            client: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)),
            port: 8080,
            mode,
            target_group_arn: TARGET_GROUP_ARN.into(),
        }
    }

    /// Request headers, body, expected event body, expected `isBase64Encoded`.
    type BodyCase = (
        &'static [(&'static str, &'static str)],
        &'static [u8],
        &'static str,
        bool,
    );

    #[test]
    fn body_encoding_follows_the_alb_rules() {
        let cases: &[BodyCase] = &[
            (
                &[("content-type", "application/x-www-form-urlencoded")],
                b"hello=world",
                "aGVsbG89d29ybGQ=",
                true,
            ),
            (
                &[("content-type", "text/plain; charset=utf-8")],
                b"hi",
                "hi",
                false,
            ),
            (&[("content-type", "application/json")], b"{}", "{}", false),
            (
                &[("content-type", "application/xml")],
                b"<a/>",
                "<a/>",
                false,
            ),
            (
                &[("content-type", "text/plain"), ("content-encoding", "gzip")],
                b"hi",
                "aGk=",
                true,
            ),
            (
                &[("content-type", "text/plain")],
                &[0xff, 0xfe],
                "//4=",
                true,
            ),
            (&[], b"raw", "cmF3", true),
            (&[("content-type", "text/plain")], b"", "", false),
        ];
        for (headers, body, expected, base64) in cases {
            let event = alb_event(&parts("/x", headers), body, &origin(HeaderMode::Single));
            assert_eq!(event["body"], *expected, "{headers:?}");
            assert_eq!(event["isBase64Encoded"], *base64, "{headers:?}");
        }
    }

    #[test]
    fn single_and_multi_value_events_have_the_alb_shape() {
        let p = parts(
            "/a%20b?x=1&x=2&y=%3Fz%3D1&flag",
            &[
                ("accept", "text/html"),
                ("cookie", "a=1"),
                ("cookie", "b=2"),
                ("x-forwarded-for", "198.51.100.7"),
            ],
        );
        let single = alb_event(&p, b"", &origin(HeaderMode::Single));
        assert_eq!(single["path"], "/a%20b");
        assert_eq!(single["httpMethod"], "POST");
        assert_eq!(
            single["queryStringParameters"],
            json!({"x": "2", "y": "%3Fz%3D1", "flag": ""})
        );
        assert_eq!(single["headers"]["cookie"], "b=2");
        assert_eq!(
            single["headers"]["x-forwarded-for"],
            "198.51.100.7, 192.0.2.1"
        );
        assert_eq!(single["headers"]["x-forwarded-port"], "8080");
        assert_eq!(single["headers"]["x-forwarded-proto"], "http");
        assert!(single.get("multiValueHeaders").is_none());
        assert_eq!(
            single["requestContext"]["elb"]["targetGroupArn"],
            TARGET_GROUP_ARN
        );
        let trace = single["headers"]["x-amzn-trace-id"].as_str().unwrap();
        let request = CoreRequest::get("/").with_header("x-amzn-trace-id", trace);
        assert!(request.trace_root().is_some(), "{trace}");

        let multi = alb_event(&p, b"", &origin(HeaderMode::Multi));
        assert_eq!(
            multi["multiValueQueryStringParameters"]["x"],
            json!(["1", "2"])
        );
        assert_eq!(multi["multiValueHeaders"]["cookie"], json!(["a=1", "b=2"]));
        assert!(multi.get("headers").is_none());
        assert!(multi.get("queryStringParameters").is_none());
    }

    #[test]
    fn content_file_maps_one_to_one_to_parameter_names() {
        let text = "retry-after = 900\n[links]\nstatus-page = \"https://s.example\"\n[en]\ntitle = \"T\"\n";
        let params = parameters_from_toml(text, "/p").unwrap();
        let names: Vec<_> = params
            .iter()
            .map(|p| (p.name.as_str(), p.value.as_str()))
            .collect();
        assert_eq!(
            names,
            [
                ("/p/en/title", "T"),
                ("/p/links/status-page", "https://s.example"),
                ("/p/retry-after", "900")
            ]
        );
        let err = parameters_from_toml("[en]\ntitle = [1]\n", "/p").unwrap_err();
        assert!(err.to_string().contains("en.title"), "{err}");
    }

    #[test]
    fn forced_query_is_validated() {
        let site = site(Site::embedded());
        let forced = Forced::from_query(Some("kind=404&lang=JA&format=txt"), &site).unwrap();
        assert_eq!(
            forced,
            Forced {
                kind: PageKind::NotFound,
                lang: Some("ja"),
                format: Some(Format::Text)
            }
        );
        for bad in ["kind=teapot", "kind=health", "lang=de", "format=xml"] {
            assert!(Forced::from_query(Some(bad), &site).is_err(), "{bad}");
        }
        assert!(shadowed_kinds(&site).is_empty());
    }

    #[test]
    fn escape_covers_markup_and_quotes() {
        assert_eq!(
            escape("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }
}
