//! Log setup: JSON lines for the Lambda (CloudWatch), compact text on stderr for `maintctl`.
//! Levels come from `AWS_LAMBDA_LOG_LEVEL` or `RUST_LOG` on Lambda (a plain level), `RUST_LOG`
//! (any `EnvFilter` directives) for `maintctl`. Also the one line logged per request,
//! [`RequestLine`], written on Lambda once the response is posted ([`LineAfterResponse`]).

use std::cell::RefCell;
use std::future::Future;
use std::io::Write as _;
use std::pin::Pin;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use lambda_runtime::LambdaInvocation;
use lambda_runtime::tower::{Layer, Service};
use serde::Serialize;
use tokio::task::futures::TaskLocalFuture;
use tracing::subscriber::Interest;
use tracing::{Event, Metadata, Subscriber, span};
use tracing_subscriber::filter::LevelFilter;

/// Set by [`init_lambda`]: request lines go straight to stdout as JSON (see [`served`]).
static REQUEST_LINES_TO_STDOUT: AtomicBool = AtomicBool::new(false);

/// The line logged once per request (`"message": "served"`), with the fields ops search by.
#[derive(Debug, Clone, Serialize)]
pub struct RequestLine<'a> {
    /// Page or route served.
    pub page: &'a str,
    /// HTTP status.
    pub status: u16,
    /// Response format.
    pub format: &'a str,
    /// Language of the texts.
    pub language: &'a str,
    /// Validated trace id root, or empty.
    pub trace_id: &'a str,
    /// Request method.
    pub method: &'a str,
    /// How the event was read (`Typed`, `Lenient`, `Unreadable`).
    pub parse: &'a str,
    /// Header mode answered in (`Single`, `Multi`, `Unknown`).
    pub header_mode: &'a str,
    /// Time from event to response, in microseconds.
    pub duration_us: u64,
    /// Lambda request id, or empty outside Lambda.
    pub request_id: &'a str,
}

/// Logs one request at INFO.
///
/// On Lambda (after [`init_lambda`]) the line is written straight to stdout, in the same JSON
/// shape as the subscriber's lines (`{"level":"INFO","fields":{"message":"served",…}}`) and
/// under the same level filter, with one `write`: it is the one line every request writes, and
/// formatting and writing it through the subscriber took about 2 µs of a request's 5
/// (issue #7). Inside an invocation run through [`LineAfterResponse`] (the Lambda's runtime) the
/// line is kept until the runtime has posted the response, then written, before the runtime
/// asks for the next event: the visitor's answer does not wait for the `write`, and the sandbox
/// never freezes with the line unwritten (it freezes only in that next request). (It was once
/// written by a task spawned after the response; that cost a task and a turn of the scheduler
/// per invocation.) Elsewhere (`maintctl serve`, tests) it goes through `tracing` like every
/// other line.
pub fn served(line: &RequestLine<'_>) {
    if !REQUEST_LINES_TO_STDOUT.load(Ordering::Relaxed) {
        tracing::info!(
            page = line.page,
            status = line.status,
            format = line.format,
            language = line.language,
            trace_id = line.trace_id,
            method = line.method,
            parse = line.parse,
            header_mode = line.header_mode,
            duration_us = line.duration_us,
            request_id = line.request_id,
            "served"
        );
        return;
    }
    if !tracing::enabled!(tracing::Level::INFO) {
        return;
    }
    // Inside an invocation run through `LineAfterResponse`: written into its pending lines,
    // kept until the response is posted; elsewhere written at once.
    let kept = PENDING_LINES.try_with(|pending| push_line(line, &mut pending.borrow_mut()));
    if kept.is_err() {
        let mut out = Vec::new();
        push_line(line, &mut out);
        write_stdout(&out);
    }
}

/// Appends the request line and its line break.
fn push_line(line: &RequestLine<'_>, out: &mut Vec<u8>) {
    out.reserve(384);
    request_line_json(line, out);
    out.push(b'\n');
}

/// One write of whole lines; a closed stdout loses the lines, never the response.
fn write_stdout(lines: &[u8]) {
    let _ = std::io::stdout().lock().write_all(lines);
}

tokio::task_local! {
    /// The request lines of the invocation being answered, until its response is posted.
    static PENDING_LINES: RefCell<Vec<u8>>;
}

/// The runtime layer (`Runtime::layer`) that writes each invocation's request line once the
/// runtime has posted its response ([`served`]); the runtime's own service, response posting
/// included, runs inside it.
#[derive(Debug, Clone, Copy)]
pub struct LineAfterResponse {
    write: fn(&[u8]),
}

impl Default for LineAfterResponse {
    fn default() -> Self {
        Self {
            write: write_stdout,
        }
    }
}

impl<S> Layer<S> for LineAfterResponse {
    type Service = LineAfterResponseService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        LineAfterResponseService {
            inner,
            write: self.write,
        }
    }
}

/// The service of [`LineAfterResponse`].
#[derive(Debug, Clone)]
pub struct LineAfterResponseService<S> {
    inner: S,
    write: fn(&[u8]),
}

impl<S: Service<LambdaInvocation>> Service<LambdaInvocation> for LineAfterResponseService<S> {
    type Response = S::Response;
    type Error = S::Error;
    type Future = WriteWhenDone<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, invocation: LambdaInvocation) -> Self::Future {
        WriteWhenDone {
            invocation: PENDING_LINES.scope(RefCell::new(Vec::new()), self.inner.call(invocation)),
            write: self.write,
        }
    }
}

pin_project_lite::pin_project! {
    /// An invocation (the runtime's service: handler, then the response posted) whose request
    /// lines are written when it is done.
    pub struct WriteWhenDone<F> {
        #[pin]
        invocation: TaskLocalFuture<RefCell<Vec<u8>>, F>,
        write: fn(&[u8]),
    }
}

impl<F: Future> Future for WriteWhenDone<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let mut invocation = this.invocation;
        let done = std::task::ready!(invocation.as_mut().poll(cx));
        if let Some(lines) = invocation.take_value() {
            let lines = lines.into_inner();
            if !lines.is_empty() {
                (this.write)(&lines);
            }
        }
        Poll::Ready(done)
    }
}

/// The request line in the subscriber's JSON shape:
/// `{"level":"INFO","fields":{"message":"served",<the fields of RequestLine, in order>}}`.
///
/// Assembled piece by piece: the names are fixed text and every value goes through serde_json
/// (which escapes strings). Serializing a struct with the line flattened into it gave the same
/// bytes in twice the time (≈ 0.6 µs against 0.3 µs per line); the tests below hold the two
/// byte-equal.
fn request_line_json(line: &RequestLine<'_>, out: &mut Vec<u8>) {
    fn value(out: &mut Vec<u8>, name: &str, value: &impl Serialize) {
        out.extend_from_slice(b",\"");
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b"\":");
        // Writing into a Vec cannot fail, and a string or number always serializes.
        let _ = serde_json::to_writer(&mut *out, value);
    }
    let RequestLine {
        page,
        status,
        format,
        language,
        trace_id,
        method,
        parse,
        header_mode,
        duration_us,
        request_id,
    } = line;
    out.extend_from_slice(br#"{"level":"INFO","fields":{"message":"served""#);
    value(out, "page", page);
    value(out, "status", status);
    value(out, "format", format);
    value(out, "language", language);
    value(out, "trace_id", trace_id);
    value(out, "method", method);
    value(out, "parse", parse);
    value(out, "header_mode", header_mode);
    value(out, "duration_us", duration_us);
    value(out, "request_id", request_id);
    out.extend_from_slice(b"}}");
}

/// JSON logs, one object per line, for the Lambda. Safe to call twice (the second is ignored).
///
/// The level is a plain level: `RUST_LOG` when it is one (`debug`, `warn`, …), else the
/// function's log level setting, `AWS_LAMBDA_LOG_LEVEL` (default `info`). No `EnvFilter`
/// directives on Lambda: a plain level is cheaper to set up at cold start (≈ 50 µs), and
/// leaving `EnvFilter` out leaves its regular-expression engine out of the package (≈ 190 kB).
///
/// The JSON subscriber itself is built when the first line is written ([`OnFirstLine`]): a
/// cold start on embedded content writes none before its first response (the request line is
/// written directly, see [`served`]), and building it (its span registry) at start cost every
/// cold start about 22,000 instructions and three page faults (issue #25, measured).
pub fn init_lambda() {
    REQUEST_LINES_TO_STDOUT.store(true, Ordering::Relaxed);
    let var = |name: &str| std::env::var(name).ok();
    let level = lambda_level(
        var("RUST_LOG").as_deref(),
        var("AWS_LAMBDA_LOG_LEVEL").as_deref(),
    );
    let _ = tracing::subscriber::set_global_default(OnFirstLine {
        level,
        build: lambda_json,
        built: OnceLock::new(),
    });
}

/// The Lambda's JSON subscriber at `level`. It is only handed the lines [`OnFirstLine`] wants:
/// at TRACE not the SDK's and the runtime's own, which hold whole SSM answers and raw events,
/// the bypass link's token among them (issue #14; [`sdk_trace`], as in `maintctl`).
fn lambda_json(level: LevelFilter) -> Box<dyn Subscriber + Send + Sync> {
    Box::new(
        tracing_subscriber::fmt()
            .json()
            .with_current_span(false)
            .with_span_list(false)
            .with_target(false)
            .without_time()
            .with_writer(std::io::stdout)
            .with_max_level(level)
            .finish(),
    )
}

/// A subscriber that answers which lines are wanted from the level alone and builds the one
/// that writes them (`build`) when the first line or span comes; every call after that goes
/// to it.
struct OnFirstLine {
    level: LevelFilter,
    build: fn(LevelFilter) -> Box<dyn Subscriber + Send + Sync>,
    built: OnceLock<Box<dyn Subscriber + Send + Sync>>,
}

impl OnFirstLine {
    fn wanted(&self, meta: &Metadata<'_>) -> bool {
        *meta.level() <= self.level && !sdk_trace(meta)
    }

    fn writer(&self) -> &(dyn Subscriber + Send + Sync) {
        self.built.get_or_init(|| (self.build)(self.level)).as_ref()
    }
}

impl Subscriber for OnFirstLine {
    fn register_callsite(&self, meta: &'static Metadata<'static>) -> Interest {
        match self.wanted(meta) {
            true => Interest::always(),
            false => Interest::never(),
        }
    }

    fn enabled(&self, meta: &Metadata<'_>) -> bool {
        self.wanted(meta)
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        Some(self.level)
    }

    fn new_span(&self, span: &span::Attributes<'_>) -> span::Id {
        self.writer().new_span(span)
    }

    fn record(&self, span: &span::Id, values: &span::Record<'_>) {
        self.writer().record(span, values);
    }

    fn record_follows_from(&self, span: &span::Id, follows: &span::Id) {
        self.writer().record_follows_from(span, follows);
    }

    fn event(&self, event: &Event<'_>) {
        self.writer().event(event);
    }

    fn enter(&self, span: &span::Id) {
        self.writer().enter(span);
    }

    fn exit(&self, span: &span::Id) {
        self.writer().exit(span);
    }

    fn clone_span(&self, span: &span::Id) -> span::Id {
        self.writer().clone_span(span)
    }

    fn try_close(&self, span: span::Id) -> bool {
        self.writer().try_close(span)
    }

    fn current_span(&self) -> tracing_core::span::Current {
        match self.built.get() {
            Some(writer) => writer.current_span(),
            None => tracing_core::span::Current::none(),
        }
    }
}

/// The Lambda's level: `RUST_LOG` when it is a plain level, else `AWS_LAMBDA_LOG_LEVEL`
/// (Lambda's TRACE, DEBUG, INFO, WARN, ERROR and FATAL; tracing has no FATAL, so ERROR), else
/// INFO.
fn lambda_level(rust_log: Option<&str>, lambda: Option<&str>) -> LevelFilter {
    let parse = |l: &str| match l.trim() {
        l if l.eq_ignore_ascii_case("fatal") => Some(LevelFilter::ERROR),
        l => l.parse().ok(),
    };
    rust_log
        .and_then(parse)
        .or_else(|| lambda.and_then(parse))
        .unwrap_or(LevelFilter::INFO)
}

/// A TRACE line of the AWS SDK (`aws_*` targets) or of the Lambda runtime (`lambda_runtime*`):
/// they hold whole requests, responses and raw events, and a listener rule's condition, an SSM
/// answer and a bypass link's request all hold the bypass link's token (issue #14), so neither
/// `maintctl` nor the Lambda writes one, whatever the level says (DEBUG names every call and is
/// enough to follow them).
pub fn sdk_trace(meta: &tracing::Metadata<'_>) -> bool {
    *meta.level() == tracing::Level::TRACE
        && (meta.target().starts_with("aws_") || meta.target().starts_with("lambda_runtime"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The request line as a serde struct with the line flattened into it: the shape the
    /// piece-by-piece writer must give byte for byte.
    fn by_serde(line: &RequestLine<'_>) -> String {
        #[derive(Serialize)]
        struct Fields<'a> {
            message: &'static str,
            #[serde(flatten)]
            line: &'a RequestLine<'a>,
        }
        #[derive(Serialize)]
        struct Entry<'a> {
            level: &'static str,
            fields: Fields<'a>,
        }
        serde_json::to_string(&Entry {
            level: "INFO",
            fields: Fields {
                message: "served",
                line,
            },
        })
        .unwrap()
    }

    #[test]
    fn the_request_line_is_the_serde_shape_byte_for_byte() {
        let odd = [
            "",
            "GET",
            "\"quoted\"",
            "back\\slash",
            "tab\tnew\nline\u{1}",
            "ünï<code>",
            "\u{7f}",
        ];
        for (i, text) in odd.iter().enumerate() {
            let line = RequestLine {
                page: "maintenance",
                status: 503 + i as u16,
                format: "html",
                language: text,
                trace_id: "1-693ec9fb-4ef0a17b0db1b3fb480f31bc",
                method: text,
                parse: "Typed",
                header_mode: "Single",
                duration_us: u64::MAX - i as u64,
                request_id: text,
            };
            let mut out = Vec::new();
            request_line_json(&line, &mut out);
            let written = String::from_utf8(out).unwrap();
            assert_eq!(written, by_serde(&line));
            let parsed: serde_json::Value = serde_json::from_str(&written).unwrap();
            assert_eq!(parsed["fields"]["method"], *text);
        }
    }

    #[test]
    fn the_lambda_level_is_a_plain_level() {
        let cases = [
            (None, None, LevelFilter::INFO),
            (None, Some("WARN"), LevelFilter::WARN),
            (None, Some("FATAL"), LevelFilter::ERROR),
            (Some("debug"), Some("WARN"), LevelFilter::DEBUG),
            (
                Some("maintenance_responder=debug"),
                Some("ERROR"),
                LevelFilter::ERROR,
            ),
            (Some("nonsense"), None, LevelFilter::INFO),
            (None, Some("nonsense"), LevelFilter::INFO),
        ];
        for (rust_log, lambda, expected) in cases {
            assert_eq!(
                lambda_level(rust_log, lambda),
                expected,
                "{rust_log:?} {lambda:?}"
            );
        }
    }

    /// Lines below the level are refused without building the writer; the first wanted line
    /// builds it, once, and every line after goes to it; at TRACE the SDK's TRACE lines stay
    /// refused.
    #[test]
    fn the_writer_is_built_by_the_first_wanted_line_only() {
        use std::sync::atomic::AtomicUsize;
        static BUILT: AtomicUsize = AtomicUsize::new(0);
        static EVENTS: AtomicUsize = AtomicUsize::new(0);
        struct Counting;
        impl Subscriber for Counting {
            fn enabled(&self, _: &Metadata<'_>) -> bool {
                true
            }
            fn new_span(&self, _: &span::Attributes<'_>) -> span::Id {
                span::Id::from_u64(1)
            }
            fn record(&self, _: &span::Id, _: &span::Record<'_>) {}
            fn record_follows_from(&self, _: &span::Id, _: &span::Id) {}
            fn event(&self, _: &Event<'_>) {
                EVENTS.fetch_add(1, Ordering::SeqCst);
            }
            fn enter(&self, _: &span::Id) {}
            fn exit(&self, _: &span::Id) {}
        }
        fn build(_: LevelFilter) -> Box<dyn Subscriber + Send + Sync> {
            BUILT.fetch_add(1, Ordering::SeqCst);
            Box::new(Counting)
        }
        let lazy = |level| OnFirstLine {
            level,
            build,
            built: OnceLock::new(),
        };
        tracing::subscriber::with_default(lazy(LevelFilter::INFO), || {
            tracing::debug!("below the level");
            assert!(!tracing::enabled!(tracing::Level::DEBUG));
            assert!(tracing::enabled!(tracing::Level::INFO));
            assert_eq!(BUILT.load(Ordering::SeqCst), 0, "not built by a question");
            tracing::info!("first");
            tracing::warn!("second");
        });
        assert_eq!(
            BUILT.load(Ordering::SeqCst),
            1,
            "built once, by the first line"
        );
        assert_eq!(EVENTS.load(Ordering::SeqCst), 2);
        tracing::subscriber::with_default(lazy(LevelFilter::TRACE), || {
            tracing::trace!(target: "aws_smithy_runtime", "a whole SSM answer");
            tracing::trace!(target: "lambda_runtime::requests", "a raw event");
            assert_eq!(
                EVENTS.load(Ordering::SeqCst),
                2,
                "the SDK's TRACE lines are refused"
            );
            tracing::trace!(target: "maintenance_responder", "ours");
        });
        assert_eq!(EVENTS.load(Ordering::SeqCst), 3);
    }

    /// On Lambda, the request line of an invocation run through `LineAfterResponse` is
    /// written once the runtime's service (the handler, then the response posted) is done, in
    /// one write, and not before.
    #[tokio::test]
    async fn the_request_line_is_written_after_the_response_is_posted() {
        use std::sync::Mutex;
        static WRITTEN: Mutex<Vec<String>> = Mutex::new(Vec::new());
        fn written() -> Vec<String> {
            WRITTEN.lock().unwrap().clone()
        }
        fn write(lines: &[u8]) {
            WRITTEN
                .lock()
                .unwrap()
                .push(String::from_utf8(lines.to_vec()).unwrap());
        }
        fn quiet(_: LevelFilter) -> Box<dyn Subscriber + Send + Sync> {
            Box::new(tracing::subscriber::NoSubscriber::default())
        }
        let _subscriber = tracing::subscriber::set_default(OnFirstLine {
            level: LevelFilter::INFO,
            build: quiet,
            built: OnceLock::new(),
        });
        REQUEST_LINES_TO_STDOUT.store(true, Ordering::Relaxed);
        let line = RequestLine {
            page: "maintenance",
            status: 503,
            format: "html",
            language: "en",
            trace_id: "",
            method: "GET",
            parse: "Typed",
            header_mode: "Single",
            duration_us: 3,
            request_id: "req-1",
        };
        let runtime_service = lambda_runtime::service_fn(|_: LambdaInvocation| async {
            served(&line);
            assert!(written().is_empty(), "not written by the handler");
            tokio::task::yield_now().await; // the response being posted
            assert!(
                written().is_empty(),
                "not written before the response is posted"
            );
            Ok::<_, std::convert::Infallible>(())
        });
        let mut service = LineAfterResponse { write }.layer(runtime_service);
        service
            .call(LambdaInvocation {
                parts: aws_lambda_events::http::Response::new(()).into_parts().0,
                body: "{}".into(),
                context: lambda_runtime::Context::default(),
            })
            .await
            .unwrap();
        REQUEST_LINES_TO_STDOUT.store(false, Ordering::Relaxed);
        let mut expected = Vec::new();
        request_line_json(&line, &mut expected);
        expected.push(b'\n');
        assert_eq!(written(), [String::from_utf8(expected).unwrap()]);
    }
}
