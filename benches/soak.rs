//! Soak: the responder binary answers a stream of invocations through a Lambda Runtime API on
//! loopback (`tests/common/runtime_api.rs`, one invocation at a time as in a Lambda sandbox),
//! with its content in SSM (moto) and a freshness window of 1 s, while a controller thread
//! changes the SSM title, takes SSM away (moto killed: connections refused; moto stopped with
//! SIGSTOP: connections hang) and brings it back. Checked on every response: the ALB contract
//! (`maintenance_responder::lambda::alb_response::check_contract`) and the expected status; on every page: the
//! title is one the timeline allows (never the embedded default once SSM has answered, never an
//! old title after the change's bound). At the end: every change was seen within its bound
//! (1 window + the refresh budget, plus, after an outage, the back-off the outage earned: at most
//! its length + 1 window) and memory is flat (VmRSS at the end within `SOAK_RSS_SLACK_KB`, default
//! 2048, of VmRSS after warm-up). Exits non-zero on any violation.
//!
//! A bench of the responder's package (`crates/responder/Cargo.toml`), since it measures that
//! package's binary. Long run: `cargo bench --workspace --bench soak` (100 000 invocations, at
//! least 3 fault cycles, release binary). Short run (CI): `cargo test --workspace --bench soak`
//! (5 000 invocations, 1 cycle, debug binary).
//! Knobs: `SOAK_INVOCATIONS`, `SOAK_MIN_CYCLES`, `SOAK_BINARY` (default: the
//! `maintenance-responder` of the same build), `SOAK_RSS_SLACK_KB`, `MOTO_PYTHON`.
//! `scripts/soak` wraps both.

#[path = "support/moto.rs"]
mod moto;
#[path = "../tests/common/runtime_api.rs"]
mod runtime_api;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use maintenance_responder::lambda::alb_event::Event;
use maintenance_responder::lambda::alb_response::check_contract;
use runtime_api::{Answer, RuntimeApi};
use serde_json::Value;

const PREFIX: &str = "/maintenance/soak";
const TTL: Duration = Duration::from_secs(1);
const REFRESH_BUDGET: Duration = Duration::from_millis(250);
/// Scheduling slack on top of every bound (process wake-ups on a loaded 2-core machine).
const SLACK: Duration = Duration::from_millis(300);
/// How long each outage lasts before SSM comes back (a restart adds moto's start time).
const OUTAGE: Duration = Duration::from_secs(3);
/// Pause after a change has been seen, before the next step.
const SETTLE: Duration = Duration::from_millis(500);

/// What an event must get.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// The maintenance page in English, HTML: 503 and a title the timeline allows.
    Page,
    /// Any other answer with this status.
    Status(u64),
    /// The health route: 200, body starting with `ok`.
    Health,
}

struct Case {
    raw: String,
    expect: Expect,
    mode: maintenance_responder::lambda::alb_event::HeaderMode,
}

fn cases() -> Vec<Case> {
    let single = |method: &str, path: &str, headers: Value| {
        serde_json::json!({
            "requestContext": {"elb": {"targetGroupArn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/shop/0123456789abcdef"}},
            "httpMethod": method, "path": path, "queryStringParameters": {},
            "headers": headers, "body": "", "isBase64Encoded": false
        })
        .to_string()
    };
    let browser = serde_json::json!({
        "accept": "text/html,application/xhtml+xml,*/*;q=0.8",
        "accept-language": "en-US,en;q=0.9",
        "host": "shop.example.com",
        "user-agent": "Mozilla/5.0",
        "x-amzn-trace-id": "Root=1-693ec9fb-4ef0a17b0db1b3fb480f31bc"
    });
    let multi = serde_json::json!({
        "requestContext": {"elb": {"targetGroupArn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/shop/0123456789abcdef"}},
        "httpMethod": "GET", "path": "/cart", "multiValueQueryStringParameters": {"a": ["1", "2"]},
        "multiValueHeaders": {"accept": ["text/html"], "accept-language": ["en"], "host": ["shop.example.com"]},
        "body": "", "isBase64Encoded": false
    })
    .to_string();
    let raw = [
        (single("GET", "/checkout", browser.clone()), Expect::Page),
        (
            single(
                "GET",
                "/healthz",
                serde_json::json!({"user-agent": "ELB-HealthChecker/2.0"}),
            ),
            Expect::Health,
        ),
        (multi, Expect::Page),
        (
            single(
                "GET",
                "/",
                serde_json::json!({"accept": "text/html", "accept-language": "ja"}),
            ),
            Expect::Status(503),
        ),
        (
            single(
                "POST",
                "/api/orders",
                serde_json::json!({"accept": "application/json"}),
            ),
            Expect::Status(503),
        ),
        (single("GET", "/", browser.clone()), Expect::Page),
        ("{}".to_string(), Expect::Status(503)),
        (single("HEAD", "/", browser), Expect::Status(503)),
        (
            single("GET", "/favicon.ico", serde_json::json!({})),
            Expect::Status(404),
        ),
        // Odd but JSON: the ALB only ever sends JSON (a non-JSON payload is a runtime
        // DeserializeError before the handler runs).
        ("[]".to_string(), Expect::Status(503)),
        (
            r#"{"httpMethod":null,"headers":{"a":1},"path":7}"#.to_string(),
            Expect::Status(503),
        ),
    ];
    raw.into_iter()
        .map(|(raw, expect)| Case {
            mode: Event::parse(&raw).mode,
            raw,
            expect,
        })
        .collect()
}

/// One title written to SSM: visible from `since` at the earliest, required from `deadline`.
struct Change {
    title: String,
    what: &'static str,
    since: Instant,
    deadline: Option<Instant>,
    first_seen: Option<Instant>,
}

#[derive(Default)]
struct Timeline {
    changes: Vec<Change>,
}

impl Timeline {
    /// Is `title`, seen in a response to a request sent at `sent` and answered at `answered`,
    /// allowed? The newest change whose deadline had passed when the request was sent, or any
    /// later change already under way when the answer came.
    fn check(&mut self, title: &str, sent: Instant, answered: Instant) -> Result<(), String> {
        let required = self
            .changes
            .iter()
            .rposition(|c| c.deadline.is_some_and(|d| d <= sent))
            .unwrap_or(0);
        let allowed = required..self.changes.len();
        for i in allowed.clone() {
            let change = &mut self.changes[i];
            if change.since <= answered && change.title == title {
                change.first_seen.get_or_insert(answered);
                return Ok(());
            }
        }
        let titles: Vec<&str> = self.changes[allowed]
            .iter()
            .map(|c| c.title.as_str())
            .collect();
        Err(format!(
            "title {title:?}; allowed then: {titles:?} (change #{required} was due)"
        ))
    }
}

fn knob(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

fn seed(title: &str) -> Vec<(String, String)> {
    [
        ("en/title", title),
        (
            "en/message",
            "We are moving payments to a new provider.\n\nOrders are safe.",
        ),
        ("retry-after", moto::END_TIME.as_str()),
        ("links/status-page", "https://status.example.com/"),
    ]
    .into_iter()
    .map(|(k, v)| (format!("{PREFIX}/{k}"), v.to_string()))
    .collect()
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let invocations = knob("SOAK_INVOCATIONS", if full { 100_000 } else { 5_000 });
    let min_cycles = knob("SOAK_MIN_CYCLES", if full { 3 } else { 1 });
    let rss_slack_kib = knob("SOAK_RSS_SLACK_KB", 2048);
    let binary = std::env::var_os("SOAK_BINARY")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_maintenance-responder")));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    match runtime.block_on(soak(&binary, invocations, min_cycles, rss_slack_kib)) {
        Ok(summary) => println!("{summary}\nsoak: PASS"),
        Err(e) => {
            println!("{e}\nsoak: FAIL");
            std::process::exit(1);
        }
    }
}

struct Controller {
    timeline: Arc<Mutex<Timeline>>,
    /// Set by the main loop once it has made its invocations.
    enough: Arc<AtomicBool>,
    min_cycles: u64,
    cycles: Arc<AtomicU64>,
}

#[derive(Default)]
struct FaultStats {
    changes: u32,
    kills: u32,
    hangs: u32,
    longest_outage: Duration,
}

impl Controller {
    fn record(&self, title: &str, what: &'static str, since: Instant) -> usize {
        let mut t = self.timeline.lock().unwrap();
        t.changes.push(Change {
            title: title.to_string(),
            what,
            since,
            deadline: None,
            first_seen: None,
        });
        t.changes.len() - 1
    }

    /// Sets the change's deadline, then waits until it has been seen (or the deadline has
    /// passed, which the main loop reports) and a little more, so no change is superseded
    /// before it had its chance to show.
    fn due(&self, index: usize, deadline: Instant) {
        self.timeline.lock().unwrap().changes[index].deadline = Some(deadline);
        self.settle(index, deadline);
    }

    fn settle(&self, index: usize, deadline: Instant) {
        while Instant::now() < deadline
            && self.timeline.lock().unwrap().changes[index]
                .first_seen
                .is_none()
        {
            std::thread::sleep(Duration::from_millis(20));
        }
        std::thread::sleep(SETTLE);
    }

    /// Steps, cycling until told to stop: change, change, kill + restart (with a new title),
    /// change, SIGSTOP + SIGCONT then a new title.
    fn run(&self, mut moto: moto::MotoServer) -> Result<FaultStats, String> {
        let mut stats = FaultStats::default();
        let mut n = 0u32;
        let title = |n: &mut u32| {
            *n += 1;
            format!("Soak title {n}")
        };
        // The seed first.
        self.settle(0, Instant::now() + TTL + REFRESH_BUDGET + SLACK);
        loop {
            for step in 0..5 {
                match step {
                    0 | 1 | 3 => {
                        let t = title(&mut n);
                        let i = self.record(&t, "put", Instant::now());
                        moto::put_parameter(&moto.address(), &format!("{PREFIX}/en/title"), &t)?;
                        self.due(i, Instant::now() + TTL + REFRESH_BUDGET + SLACK);
                        stats.changes += 1;
                    }
                    2 => {
                        let port = moto.port;
                        let down = Instant::now();
                        moto.kill();
                        std::thread::sleep(OUTAGE);
                        let t = title(&mut n);
                        let i = self.record(&t, "restart", Instant::now());
                        moto = moto::MotoServer::start(port, &seed(&t))?;
                        let up = Instant::now();
                        let outage = up - down;
                        stats.longest_outage = stats.longest_outage.max(outage);
                        self.due(i, up + outage + TTL + REFRESH_BUDGET + SLACK);
                        stats.kills += 1;
                    }
                    _ => {
                        let pid = moto.pid().to_string();
                        let down = Instant::now();
                        signal("-STOP", &pid)?;
                        std::thread::sleep(OUTAGE);
                        signal("-CONT", &pid)?;
                        let t = title(&mut n);
                        let i = self.record(&t, "hang, then put", Instant::now());
                        moto::put_parameter(&moto.address(), &format!("{PREFIX}/en/title"), &t)?;
                        let up = Instant::now();
                        let outage = up - down;
                        stats.longest_outage = stats.longest_outage.max(outage);
                        self.due(i, up + outage + TTL + REFRESH_BUDGET + SLACK);
                        stats.hangs += 1;
                    }
                }
            }
            let done = self.cycles.fetch_add(1, Ordering::SeqCst) + 1;
            if done >= self.min_cycles && self.enough.load(Ordering::SeqCst) {
                return Ok(stats);
            }
        }
    }
}

fn signal(which: &str, pid: &str) -> Result<(), String> {
    let status = Command::new("kill")
        .args([which, pid])
        .status()
        .map_err(|e| format!("kill {which} {pid}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("kill {which} {pid}: {status}"))
    }
}

fn vm(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn title_of(body: &str) -> Option<&str> {
    const OPEN: &str = "<h1 id='title'>";
    let start = body.find(OPEN)? + OPEN.len();
    let len = body[start..].find("</h1>")?;
    Some(&body[start..start + len])
}

/// Checks one answer; returns the problem, if any.
fn check(
    case: &Case,
    answer: Answer,
    timeline: &Mutex<Timeline>,
    sent: Instant,
    statuses: &mut BTreeMap<u64, u64>,
) -> Option<String> {
    let body = match answer {
        Answer::Response(body) => body,
        Answer::Error(e) => return Some(format!("invocation error (an ALB 502): {e}")),
    };
    if let Err(e) = check_contract(&body, case.mode) {
        return Some(format!("{e}: {body:.300}"));
    }
    let json: Value = serde_json::from_str(&body).ok()?;
    let status = json["statusCode"].as_u64().unwrap_or(0);
    *statuses.entry(status).or_default() += 1;
    let text = json["body"].as_str().unwrap_or("");
    match case.expect {
        Expect::Status(s) if s != status => Some(format!("status {status}, expected {s}")),
        Expect::Status(_) => None,
        Expect::Health if status != 200 || !text.starts_with("ok") => {
            Some(format!("health answered {status} {text:?}"))
        }
        Expect::Health => None,
        Expect::Page if status != 503 => Some(format!("page answered {status}")),
        Expect::Page => {
            let Some(title) = title_of(text) else {
                return Some(format!("no title in {text:.200}"));
            };
            timeline
                .lock()
                .unwrap()
                .check(title, sent, Instant::now())
                .err()
        }
    }
}

fn spawn(binary: &PathBuf, api: &RuntimeApi, endpoint: &str) -> Result<Child, String> {
    Command::new(binary)
        .env_clear()
        .envs(api.env())
        .envs(moto::aws_env(endpoint))
        .env("MAINTENANCE_SSM_PREFIX", PREFIX)
        .env("MAINTENANCE_SSM_TTL_SECONDS", TTL.as_secs().to_string())
        .env(
            "MAINTENANCE_SSM_REFRESH_BUDGET_MS",
            REFRESH_BUDGET.as_millis().to_string(),
        )
        .env("MAINTENANCE_SSM_INIT_BUDGET_MS", "2000")
        .env("AWS_LAMBDA_LOG_LEVEL", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("{}: {e}", binary.display()))
}

/// Counts of the responder's JSON log lines, read on a thread.
#[derive(Default)]
struct LogCounts {
    served: AtomicU64,
    refresh_failed: AtomicU64,
    panicked: AtomicU64,
    not_json: AtomicU64,
}

async fn soak(
    binary: &PathBuf,
    invocations: u64,
    min_cycles: u64,
    rss_slack_kib: u64,
) -> Result<String, String> {
    let first = "Soak title 0";
    let moto = moto::MotoServer::start(0, &seed(first))?;
    let endpoint = moto.endpoint.clone();
    let timeline = Arc::new(Mutex::new(Timeline::default()));
    let now = Instant::now();
    timeline.lock().unwrap().changes.push(Change {
        title: first.into(),
        what: "seed",
        since: now,
        deadline: Some(now),
        first_seen: None,
    });

    let api = RuntimeApi::start().await;
    let mut child = spawn(binary, &api, &endpoint)?;
    let logs = Arc::new(LogCounts::default());
    let reader = {
        let logs = logs.clone();
        let stdout = child.stdout.take().expect("piped stdout");
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let counter = if line.contains("\"served\"") {
                    &logs.served
                } else if line.contains("ssm refresh failed") {
                    &logs.refresh_failed
                } else if line.contains("panicked") {
                    &logs.panicked
                } else if serde_json::from_str::<Value>(&line).is_err() {
                    &logs.not_json
                } else {
                    continue;
                };
                counter.fetch_add(1, Ordering::Relaxed);
            }
        })
    };

    let controller = Arc::new(Controller {
        timeline: timeline.clone(),
        enough: Arc::new(AtomicBool::new(false)),
        min_cycles,
        cycles: Arc::new(AtomicU64::new(0)),
    });
    let faults = {
        let controller = controller.clone();
        std::thread::spawn(move || controller.run(moto))
    };

    let cases = cases();
    let pid = child.id();
    let warm_at = (invocations / 10).clamp(1, 2000);
    let mut rss_warm = 0;
    let mut rss_max = 0;
    let mut latencies = Vec::with_capacity(invocations as usize + 10_000);
    let mut statuses = BTreeMap::new();
    let mut problems: Vec<String> = Vec::new();
    let mut invalid = 0u64;
    let started = Instant::now();
    let mut i = 0u64;
    let mut final_deadline: Option<Instant> = None;
    loop {
        if i >= invocations {
            controller.enough.store(true, Ordering::SeqCst);
        }
        if faults.is_finished() {
            let deadline = *final_deadline.get_or_insert_with(|| {
                let t = timeline.lock().unwrap();
                t.changes
                    .iter()
                    .filter_map(|c| c.deadline)
                    .max()
                    .unwrap_or_else(Instant::now)
            });
            if Instant::now() > deadline + Duration::from_millis(200) {
                break;
            }
        }
        let case = &cases[(i % cases.len() as u64) as usize];
        let sent = Instant::now();
        let answer = tokio::time::timeout(Duration::from_secs(10), api.invoke(&case.raw)).await;
        latencies.push(sent.elapsed());
        let problem = match answer {
            Ok(answer) => check(case, answer, &timeline, sent, &mut statuses),
            Err(_) => Some("no answer within 10 s".into()),
        };
        if let Some(p) = problem {
            invalid += 1;
            if problems.len() < 20 {
                problems.push(format!(
                    "#{i} at {:.3} s: {p}",
                    (sent - started).as_secs_f64()
                ));
            }
            if p.starts_with("no answer") {
                break;
            }
        }
        i += 1;
        if i == warm_at {
            rss_warm = vm(pid, "VmRSS:");
        }
        if i.is_multiple_of(1000) {
            rss_max = rss_max.max(vm(pid, "VmRSS:"));
        }
    }
    let elapsed = started.elapsed();
    let rss_end = vm(pid, "VmRSS:");
    let hwm = vm(pid, "VmHWM:");
    let _ = child.kill();
    let _ = child.wait();
    let _ = reader.join();
    let stats = faults
        .join()
        .map_err(|_| "the fault controller panicked".to_string())??;

    // Every change seen, within its bound.
    let timeline = timeline.lock().unwrap();
    let mut worst: Option<(Duration, Duration, usize)> = None;
    for (n, c) in timeline.changes.iter().enumerate() {
        let deadline = c.deadline.unwrap_or(c.since);
        match c.first_seen {
            None => problems.push(format!(
                "change #{n} ({}) to {:?} never seen",
                c.what, c.title
            )),
            Some(seen) => {
                let delay = seen.saturating_duration_since(c.since);
                let bound = deadline.saturating_duration_since(c.since);
                // The seed is required from the first response on (checked there).
                if seen > deadline && n > 0 {
                    problems.push(format!(
                        "change #{n} ({}) seen after {delay:?}, bound {bound:?}",
                        c.what
                    ));
                }
                if n > 0 && worst.is_none_or(|(d, _, _)| delay > d) {
                    worst = Some((delay, bound, n));
                }
            }
        }
    }
    latencies.sort();
    let pct = |p: f64| {
        latencies[((p * latencies.len() as f64).ceil() as usize).clamp(1, latencies.len()) - 1]
    };
    let growth = rss_end as i64 - rss_warm as i64;
    let served = logs.served.load(Ordering::Relaxed);
    let mut summary = String::new();
    use std::fmt::Write as _;
    let _ = writeln!(
        summary,
        "soak: {i} invocations in {:.1} s ({:.0}/s), one at a time, against {}",
        elapsed.as_secs_f64(),
        i as f64 / elapsed.as_secs_f64(),
        binary.display()
    );
    let _ = writeln!(
        summary,
        "  responses: {} valid, {invalid} invalid; statuses {statuses:?}",
        i - invalid
    );
    let _ = writeln!(
        summary,
        "  latency (round trip): p50 {:?}, p99 {:?}, p99.9 {:?}, max {:?}",
        pct(0.5),
        pct(0.99),
        pct(0.999),
        pct(1.0)
    );
    let _ = writeln!(
        summary,
        "  SSM: {} title changes, {} outages by kill (refused) + restart on the same port, {} by SIGSTOP (hang); longest outage {:.1} s; {} fault cycles",
        stats.changes,
        stats.kills,
        stats.hangs,
        stats.longest_outage.as_secs_f64(),
        controller.cycles.load(Ordering::SeqCst)
    );
    if let Some((delay, bound, n)) = worst {
        let _ = writeln!(
            summary,
            "  freshness: {} changes checked; slowest seen after {delay:.2?} (change #{n}, {}; bound {bound:.2?})",
            timeline.changes.len(),
            timeline.changes[n].what
        );
    }
    let _ = writeln!(
        summary,
        "  logs: {served} \"served\" lines, {} refresh failures logged, {} panics, {} non-JSON lines",
        logs.refresh_failed.load(Ordering::Relaxed),
        logs.panicked.load(Ordering::Relaxed),
        logs.not_json.load(Ordering::Relaxed)
    );
    let _ = writeln!(
        summary,
        "  memory: VmRSS {:.2} MB after {warm_at} invocations, {:.2} MB at the end ({:+} kB; limit +{rss_slack_kib} kB), max sampled {:.2} MB, VmHWM {:.2} MB",
        rss_warm as f64 * 1024.0 / 1e6,
        rss_end as f64 * 1024.0 / 1e6,
        growth,
        rss_max as f64 * 1024.0 / 1e6,
        hwm as f64 * 1024.0 / 1e6,
    );
    if growth > rss_slack_kib as i64 {
        problems.push(format!(
            "memory grew by {growth} kB (limit {rss_slack_kib} kB)"
        ));
    }
    if logs.panicked.load(Ordering::Relaxed) > 0 || logs.not_json.load(Ordering::Relaxed) > 0 {
        problems.push("the responder logged a panic or a non-JSON line".into());
    }
    if i < invocations {
        problems.push(format!("stopped after {i} of {invocations} invocations"));
    }
    if problems.is_empty() {
        Ok(summary)
    } else {
        Err(format!(
            "{summary}  problems:\n    {}",
            problems.join("\n    ")
        ))
    }
}
