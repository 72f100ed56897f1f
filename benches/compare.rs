//! Side by side, in one run and through the same Lambda Runtime API on loopback
//! (`tests/common/runtime_api.rs`): the responder (release build) on its embedded defaults and
//! with SSM reachable (moto), a hello-world `lambda_runtime` function (`examples/hello_world.rs`,
//! the floor for a Rust Lambda) with its tiny response and answering the responder's own page
//! (the floor for a response of that size: the bytes sent as they are, as the responder sends
//! its kept renderings), and the Python peer (`benches/peer/`: Jinja2, boto3 SSM reads
//! at cold start, run under awslambdaric) reading the same SSM data. Prints a Markdown table of
//! cold start (spawn → first response at the Runtime API, median), warm per-invoke latency
//! (p50/p99 round trip through the Runtime API), peak RSS (`VmHWM` of the function process) and
//! package size, then the ratios and one PASS/MISS line per target of issue #7. A miss is
//! printed, never hidden, and does not fail the run; an invalid response does. Then the
//! `maintenance-switch` function's cold start (`support/switch_cold.rs`, issue #15): spawn →
//! its first report, an alarm's ALARM switching two moto listeners on, beside the responder's.
//!
//! Run `scripts/bench` (builds what is missing, sets up `.venv-peer`, runs this). Directly:
//! `cargo build --release --example hello_world && cargo bench --bench compare`.
//!
//! Then, for issue #25, the cold start paired per round (each round starts hello-world and the
//! responder one after the other; the figure is the median of the per-round ratios, so that
//! machine load falls on both sides of each ratio alike), and the start itself measured in what
//! load does not distort: each function started with its Runtime API on a closed loopback port,
//! so it runs its whole start up to the first Runtime API call and exits, and its minor page
//! faults (`/proc/PID/stat`) and CPU time (`/proc/PID/schedstat`, ns) read from its zombie
//! before it is reaped; then one PASS/FAIL line per target of the issue.
//!
//! Knobs (environment): `BENCH_COLD_STARTS` (default 31, per Rust subject),
//! `BENCH_PEER_COLD_STARTS` (default 10), `BENCH_WARM_INVOCATIONS` (default 10 000, per subject),
//! `BENCH_WARM_ROUNDS` (default 5: rounds of freshly started processes sharing them),
//! `BENCH_RESPONDER` / `BENCH_HELLO` / `BENCH_SWITCH` (binaries), `BENCH_PEER_PYTHON` (default
//! `.venv-peer/bin/python`), `MOTO_PYTHON` (default `.venv/bin/python`). Without `--bench` (as
//! under `cargo test --benches`) it runs a smoke version: 3 cold starts, 200 invocations, and
//! skips what is not built.

#[path = "support/moto.rs"]
mod moto;
#[path = "../tests/common/runtime_api.rs"]
mod runtime_api;
#[path = "support/switch_cold.rs"]
mod switch_cold;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use maintenance_responder::lambda::alb_event::HeaderMode;
use maintenance_responder::lambda::alb_response::check_contract;
use runtime_api::{Answer, RuntimeApi};
use serde_json::Value;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
/// Where the responder's page is written for the same-page hello-world (below `ROOT`).
const PAGE_FILE: &str = "target/bench-responder-page.json";
const PREFIX: &str = "/maintenance/bench";
const SSM_TITLE: &str = "Upgrading payments (bench)";
/// The responder's (and the peer's) default English title, HTML-escaped.
const DEFAULT_TITLE: &str = "We&#39;ll be back soon";

/// A browser's GET through the ALB (single-value headers, the target group default).
const EVENT: &str = r#"{
  "requestContext": {"elb": {"targetGroupArn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/shop/0123456789abcdef"}},
  "httpMethod": "GET",
  "path": "/checkout",
  "queryStringParameters": {"step": "2"},
  "headers": {
    "accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    "accept-encoding": "gzip, deflate, br",
    "accept-language": "en-US,en;q=0.9",
    "host": "shop.example.com",
    "user-agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
    "x-amzn-trace-id": "Root=1-693ec9fb-4ef0a17b0db1b3fb480f31bc",
    "x-forwarded-for": "192.0.2.1",
    "x-forwarded-port": "443",
    "x-forwarded-proto": "https"
  },
  "body": "",
  "isBase64Encoded": false
}"#;

/// The SSM data the responder and the peer read (the README's layout).
fn ssm_data() -> Vec<(String, String)> {
    [
        ("en/title", SSM_TITLE),
        (
            "en/message",
            "We are moving payments to a new provider.\n\nOrders placed before 02:00 UTC are safe.",
        ),
        ("ja/title", "決済システムを更新しています"),
        ("ja/message", "新しい決済サービスへ移行しています。"),
        ("retry-after", moto::END_TIME.as_str()),
        ("links/status-page", "https://status.example.com/"),
        ("links/contact", "mailto:support@example.com"),
    ]
    .into_iter()
    .map(|(k, v)| (format!("{PREFIX}/{k}"), v.to_string()))
    .collect()
}

enum Program {
    Native(PathBuf),
    Python { python: PathBuf, dir: PathBuf },
}

struct Subject {
    name: &'static str,
    program: Program,
    env: Vec<(String, String)>,
    /// Text every response body must contain (proves the content came from where it should).
    expect: Option<&'static str>,
    cold_starts: usize,
    package: String,
    package_bytes: Option<u64>,
}

#[derive(Default)]
struct Results {
    cold: Vec<Duration>,
    warm: Vec<Duration>,
    peak_rss_kib: u64,
    /// The start up to the first Runtime API call, one per round ([`start_probe`]).
    starts: Vec<Start>,
}

/// One start up to the first Runtime API call: what the process cost by then.
#[derive(Clone, Copy)]
struct Start {
    /// Minor page faults (`minflt` of `/proc/PID/stat`).
    page_faults: u64,
    /// CPU time on any CPU, user and system (`/proc/PID/schedstat`, ns): `perf stat`'s task-clock.
    cpu: Duration,
}

struct Knobs {
    full: bool,
    cold_starts: usize,
    peer_cold_starts: usize,
    warm: usize,
    warm_rounds: usize,
}

fn knob(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let knobs = Knobs {
        full,
        cold_starts: knob("BENCH_COLD_STARTS", if full { 31 } else { 3 }),
        peer_cold_starts: knob("BENCH_PEER_COLD_STARTS", if full { 10 } else { 2 }),
        warm: knob("BENCH_WARM_INVOCATIONS", if full { 10_000 } else { 200 }),
        warm_rounds: knob("BENCH_WARM_ROUNDS", if full { 5 } else { 1 }).max(1),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    if let Err(e) = runtime.block_on(run(&knobs)) {
        eprintln!("compare: {e}");
        std::process::exit(1);
    }
}

async fn run(knobs: &Knobs) -> Result<(), String> {
    let root = Path::new(ROOT);
    let responder = responder_binary()?;
    let hello = std::env::var_os("BENCH_HELLO")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target/release/examples/hello_world"));
    let peer_python = std::env::var_os("BENCH_PEER_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join(".venv-peer/bin/python"));
    let peer_dir = root.join("benches/peer");

    let moto = moto::MotoServer::start(0, &ssm_data())?;
    // Warm moto's path lookups before anything is timed.
    for _ in 0..5 {
        moto::get_parameters_by_path(&moto.address(), PREFIX)?;
    }
    let mut ssm_env = moto::aws_env(&moto.endpoint);
    ssm_env.push(("MAINTENANCE_SSM_PREFIX".into(), PREFIX.into()));

    let mut subjects = Vec::new();
    let mut skipped = Vec::new();
    if hello.exists() {
        subjects.push(Subject {
            name: "hello-world (lambda_runtime)",
            package: native_package(&hello),
            package_bytes: file_len(&hello),
            program: Program::Native(hello.clone()),
            env: Vec::new(),
            expect: None,
            cold_starts: knobs.cold_starts,
        });
    } else {
        skipped.push(format!(
            "hello-world: {} missing (cargo build --release --example hello_world)",
            hello.display()
        ));
    }
    for (name, env, expect) in [
        (
            "responder, embedded defaults",
            Vec::new(),
            Some(DEFAULT_TITLE),
        ),
        ("responder, SSM reachable", ssm_env.clone(), Some(SSM_TITLE)),
    ] {
        subjects.push(Subject {
            name,
            package: native_package(&responder),
            package_bytes: file_len(&responder),
            program: Program::Native(responder.clone()),
            env,
            expect,
            cold_starts: knobs.cold_starts,
        });
    }
    // The floor for a response of the responder's size: hello-world answering with the
    // responder's own page for the bench event, read from a file at its start and sent as it
    // is (no serialization per invocation, which would make the floor a page's escaping cost).
    let page_file = root.join(PAGE_FILE);
    if hello.exists() {
        let page = responder_page(&responder).await?;
        std::fs::write(&page_file, page).map_err(|e| format!("{}: {e}", page_file.display()))?;
        subjects.push(Subject {
            name: "hello-world answering the responder's page",
            package: native_package(&hello),
            package_bytes: file_len(&hello),
            program: Program::Native(hello.clone()),
            env: vec![(
                "HELLO_RESPONSE".into(),
                page_file.to_string_lossy().into_owned(),
            )],
            expect: Some(DEFAULT_TITLE),
            cold_starts: knobs.cold_starts,
        });
    }
    if peer_python.exists() {
        let mut env = ssm_env.clone();
        env.push(("PYTHONDONTWRITEBYTECODE".into(), "1".into()));
        let (package, bytes) = peer_package(&peer_python, &peer_dir);
        subjects.push(Subject {
            name: "Python peer, SSM reachable",
            program: Program::Python {
                python: peer_python.clone(),
                dir: peer_dir,
            },
            env,
            expect: Some(SSM_TITLE),
            cold_starts: knobs.peer_cold_starts,
            package,
            package_bytes: bytes,
        });
    } else {
        skipped.push(format!(
            "Python peer: {} missing (scripts/bench creates .venv-peer)",
            peer_python.display()
        ));
    }
    let started = Instant::now();
    let mut results: Vec<Results> = subjects.iter().map(|_| Results::default()).collect();
    // One unmeasured start each (page cache, Python bytecode), then the cold starts
    // interleaved, so that machine noise falls on every subject alike.
    for subject in &subjects {
        cold_start(subject).await?;
    }
    let rounds = subjects.iter().map(|s| s.cold_starts).max().unwrap_or(0);
    for round in 0..rounds {
        for (subject, result) in subjects.iter().zip(&mut results) {
            if round < subject.cold_starts {
                result.cold.push(cold_start(subject).await?);
            }
        }
        for (subject, result) in subjects.iter().zip(&mut results) {
            if round < subject.cold_starts && matches!(subject.program, Program::Native(_)) {
                result.starts.push(start_probe(subject).await?);
            }
        }
    }
    // Warm: rounds of freshly started processes, samples pooled, the peak RSS the highest seen.
    // A process's latency depends a little on where its memory and code landed; fresh processes
    // each round keep one lucky or unlucky start from deciding the figure.
    let per_round = knobs.warm.div_ceil(knobs.warm_rounds);
    for _ in 0..knobs.warm_rounds {
        for ((warm, rss), result) in warm(&subjects, per_round)
            .await?
            .into_iter()
            .zip(&mut results)
        {
            result.warm.extend(warm);
            result.peak_rss_kib = result.peak_rss_kib.max(rss);
        }
    }
    let mut moto_ms: Vec<Duration> = (0..21)
        .map(|_| {
            let started = Instant::now();
            moto::get_parameters_by_path(&moto.address(), PREFIX).map(|_| started.elapsed())
        })
        .collect::<Result<_, _>>()?;
    moto_ms.sort();
    // The switch function (issue #15): its cold start to the first report, on the same moto.
    let switch = switch_cold::measure(&moto.endpoint, knobs.cold_starts).await?;
    let elapsed = started.elapsed();
    drop(moto);

    let moto_median = percentile(&moto_ms, 0.5);
    print!(
        "{}",
        report(
            &subjects,
            &mut results,
            &responder,
            knobs,
            elapsed,
            moto_median
        )
    );
    print!("{}", switch_section(switch.as_ref(), &subjects, &results));
    for s in skipped {
        println!("skipped: {s}");
    }
    Ok(())
}

/// A binary of another package of the workspace, of this bench's build profile: beside this
/// bench's executable (`target/<profile>/deps/`), where cargo puts every binary.
fn beside_this_bench(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_default();
    exe.parent()
        .and_then(Path::parent)
        .map_or_else(|| PathBuf::from(name), |dir| dir.join(name))
}

/// `BENCH_RESPONDER`, else the newer of the build of this profile, the release build and
/// `cargo lambda build`'s bootstrap.
fn responder_binary() -> Result<PathBuf, String> {
    if let Some(p) = std::env::var_os("BENCH_RESPONDER") {
        return Ok(PathBuf::from(p));
    }
    let candidates = [
        beside_this_bench("maintenance-responder"),
        Path::new(ROOT).join("target/release/maintenance-responder"),
        Path::new(ROOT).join("target/lambda/maintenance-responder/bootstrap"),
    ];
    candidates
        .into_iter()
        .filter_map(|p| {
            let modified = std::fs::metadata(&p).and_then(|m| m.modified()).ok()?;
            Some((modified, p))
        })
        .max_by_key(|(modified, _)| *modified)
        .map(|(_, p)| p)
        .ok_or_else(|| {
            "no responder binary: cargo build --release --bin maintenance-responder".into()
        })
}

fn spawn(subject: &Subject, api: &RuntimeApi) -> Result<Child, String> {
    let mut command = match &subject.program {
        Program::Native(path) => Command::new(path),
        Program::Python { python, dir } => {
            let mut c = Command::new(python);
            c.args(["-m", "awslambdaric", "app.handler"])
                .current_dir(dir);
            c
        }
    };
    command
        .env_clear()
        .envs(api.env())
        .envs(subject.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("{}: {e}", subject.name))
}

/// One invocation with the bench event; the checked response JSON.
async fn invoke(subject: &Subject, api: &RuntimeApi, child: &mut Child) -> Result<String, String> {
    let answer = tokio::time::timeout(Duration::from_secs(30), api.invoke(EVENT)).await;
    let problem = match answer {
        Ok(Answer::Response(body)) => match check(&body, subject.expect) {
            Ok(()) => return Ok(body),
            Err(e) => e,
        },
        Ok(Answer::Error(body)) => format!("invocation error: {body}"),
        Err(_) => format!(
            "no answer within 30 s (exit: {:?}, init error: {:?})",
            child.try_wait().ok().flatten(),
            api.init_error()
        ),
    };
    Err(format!("{}: {problem}", subject.name))
}

/// Contract-valid, 503, and the expected content.
fn check(body: &str, expect: Option<&str>) -> Result<(), String> {
    check_contract(body, HeaderMode::Single).map_err(|e| e.to_string())?;
    let json: Value = serde_json::from_str(body).map_err(|e| e.to_string())?;
    if json["statusCode"] != 503 {
        return Err(format!("status {}, expected 503", json["statusCode"]));
    }
    if let Some(text) = expect
        && !json["body"].as_str().unwrap_or("").contains(text)
    {
        return Err(format!("the body does not contain {text:?}"));
    }
    Ok(())
}

/// The responder's answer to the bench event on its embedded defaults (the JSON it returns).
async fn responder_page(responder: &Path) -> Result<String, String> {
    let subject = Subject {
        name: "responder (page for hello-world)",
        program: Program::Native(responder.to_path_buf()),
        env: Vec::new(),
        expect: Some(DEFAULT_TITLE),
        cold_starts: 0,
        package: String::new(),
        package_bytes: None,
    };
    let api = RuntimeApi::start().await;
    let mut child = spawn(&subject, &api)?;
    let answered = invoke(&subject, &api, &mut child).await;
    let _ = child.kill();
    let _ = child.wait();
    answered
}

/// Spawn → first response at the Runtime API; the event is queued when the process starts.
async fn cold_start(subject: &Subject) -> Result<Duration, String> {
    let api = RuntimeApi::start().await;
    let started = Instant::now();
    let mut child = spawn(subject, &api)?;
    let answered = invoke(subject, &api, &mut child).await;
    let elapsed = started.elapsed();
    let _ = child.kill();
    let _ = child.wait();
    answered.map(|_| elapsed)
}

/// The start up to the first Runtime API call: the function started with its Runtime API on a
/// loopback port nothing listens on, so its first call is refused and it exits; its page faults
/// and CPU time are read from `/proc` while it is a zombie, before it is reaped.
async fn start_probe(subject: &Subject) -> Result<Start, String> {
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| format!("a closed port: {e}"))?;
    let api_env = RuntimeApi::env_for(&closed.to_string());
    let Program::Native(path) = &subject.program else {
        return Err(format!(
            "{}: only native functions are probed",
            subject.name
        ));
    };
    let mut child = Command::new(path)
        .env_clear()
        .envs(api_env)
        .envs(subject.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("{}: {e}", subject.name))?;
    let pid = child.id();
    let deadline = Instant::now() + Duration::from_secs(10);
    let read = |name: &str| std::fs::read_to_string(format!("/proc/{pid}/{name}"));
    let start = loop {
        let stat = read("stat").map_err(|e| format!("/proc/{pid}/stat: {e}"))?;
        // The fields after the command name: state is the first, minflt the eighth.
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .map_or("", |(_, rest)| rest)
            .split_whitespace()
            .collect();
        if fields.first() == Some(&"Z") {
            let page_faults = fields.get(7).and_then(|f| f.parse().ok());
            let cpu_ns = read("schedstat")
                .ok()
                .and_then(|s| s.split_whitespace().next()?.parse().ok());
            match (page_faults, cpu_ns) {
                (Some(page_faults), Some(ns)) => {
                    break Start {
                        page_faults,
                        cpu: Duration::from_nanos(ns),
                    };
                }
                _ => return Err(format!("{}: unreadable /proc/{pid} stat", subject.name)),
            }
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!(
                "{}: still running 10 s after a refused Runtime API",
                subject.name
            ));
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    };
    let _ = child.wait();
    Ok(start)
}

/// One process per subject, all alive at once: a first invocation and 200 unmeasured each,
/// then `n` timed round trips each, in blocks of 100 taken in turn (so drift in machine speed
/// falls on every subject alike); then each one's peak RSS.
async fn warm(subjects: &[Subject], n: usize) -> Result<Vec<(Vec<Duration>, u64)>, String> {
    let mut running = Vec::new();
    for subject in subjects {
        let api = RuntimeApi::start().await;
        let child = spawn(subject, &api)?;
        running.push((subject, api, child));
    }
    let result = async {
        for (subject, api, child) in running.iter_mut() {
            for _ in 0..201 {
                invoke(subject, api, child).await?;
            }
        }
        let mut times = vec![Vec::with_capacity(n); running.len()];
        let mut done = 0;
        while done < n {
            let block = (n - done).min(100);
            for ((subject, api, _), times) in running.iter().zip(&mut times) {
                for _ in 0..block {
                    let started = Instant::now();
                    let answer =
                        tokio::time::timeout(Duration::from_secs(30), api.invoke(EVENT)).await;
                    times.push(started.elapsed());
                    let problem = match answer {
                        Ok(Answer::Response(body)) => match check(&body, subject.expect) {
                            Ok(()) => continue,
                            Err(e) => e,
                        },
                        Ok(Answer::Error(body)) => format!("invocation error: {body}"),
                        Err(_) => "no answer within 30 s".into(),
                    };
                    return Err(format!("{}: {problem}", subject.name));
                }
            }
            done += block;
        }
        let mut out = Vec::new();
        for ((_, _, child), times) in running.iter().zip(times) {
            out.push((times, peak_rss_kib(child.id())?));
        }
        Ok(out)
    }
    .await;
    for (_, _, mut child) in running {
        let _ = child.kill();
        let _ = child.wait();
    }
    result
}

fn peak_rss_kib(pid: u32) -> Result<u64, String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .map_err(|e| format!("/proc/{pid}/status: {e}"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| format!("no VmHWM in /proc/{pid}/status"))
}

fn file_len(path: &Path) -> Option<u64> {
    std::fs::metadata(path).ok().map(|m| m.len())
}

fn native_package(path: &Path) -> String {
    let stripped = match std::fs::read(path) {
        Ok(bytes) if bytes.windows(8).any(|w| w == b".symtab\0") => "not stripped",
        Ok(_) => "stripped",
        Err(_) => "unreadable",
    };
    match file_len(path) {
        Some(len) => format!("{} ({stripped} binary)", mb(len)),
        None => "?".into(),
    }
}

/// What the peer uploads to the managed python3.11 runtime: app + templates + Jinja2 and
/// MarkupSafe (the runtime brings boto3 and its runtime interface client); the sizes with boto3
/// bundled, and with awslambdaric too (a container image, base image not counted), follow.
fn peer_package(python: &Path, dir: &Path) -> (String, Option<u64>) {
    let Some(site) = site_packages(python) else {
        return ("?".into(), None);
    };
    let app = dir_size(dir);
    let jinja = dists_size(&site, &["jinja2", "markupsafe"]);
    let boto = dists_size(
        &site,
        &[
            "boto3",
            "botocore",
            "s3transfer",
            "jmespath",
            "python_dateutil",
            "six",
            "urllib3",
        ],
    );
    let ric = dists_size(
        &site,
        &["awslambdaric", "simplejson", "snapshot_restore_py"],
    );
    let upload = app + jinja;
    (
        format!(
            "{} (app + Jinja2; {} with boto3 bundled, {} with awslambdaric too)",
            mb(upload),
            mb(upload + boto),
            mb(upload + boto + ric)
        ),
        Some(upload),
    )
}

fn site_packages(python: &Path) -> Option<PathBuf> {
    let lib = python.parent()?.parent()?.join("lib");
    std::fs::read_dir(lib)
        .ok()?
        .filter_map(|e| e.ok())
        .map(|e| e.path().join("site-packages"))
        .find(|p| p.is_dir())
}

fn dir_size(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .filter_map(|e| e.ok())
        .map(|e| {
            let path = e.path();
            if path.is_dir() {
                if path.file_name().is_some_and(|n| n == "__pycache__") {
                    0
                } else {
                    dir_size(&path)
                }
            } else {
                file_len(&path).unwrap_or(0)
            }
        })
        .sum()
}

/// Installed size of distributions: every file their `RECORD` lists (bytecode included).
fn dists_size(site: &Path, names: &[&str]) -> u64 {
    let Ok(entries) = std::fs::read_dir(site) else {
        return 0;
    };
    let mut total = 0;
    for entry in entries.filter_map(|e| e.ok()) {
        let name = entry.file_name().to_string_lossy().to_string();
        let Some(stem) = name.strip_suffix(".dist-info") else {
            continue;
        };
        let dist = stem
            .split('-')
            .next()
            .unwrap_or("")
            .to_ascii_lowercase()
            .replace('.', "_");
        if !names.contains(&dist.as_str()) {
            continue;
        }
        let record = std::fs::read_to_string(entry.path().join("RECORD")).unwrap_or_default();
        total += record
            .lines()
            .filter_map(|line| line.split(',').next())
            .filter_map(|file| file_len(&site.join(file)))
            .sum::<u64>();
    }
    total
}

fn mb(bytes: u64) -> String {
    format!("{:.2} MB", bytes as f64 / 1e6)
}

fn ms(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1e3;
    if ms >= 100.0 {
        format!("{ms:.0} ms")
    } else if ms >= 10.0 {
        format!("{ms:.1} ms")
    } else {
        format!("{ms:.2} ms")
    }
}

fn us(d: Duration) -> String {
    format!("{:.0} µs", d.as_secs_f64() * 1e6)
}

fn us_tenths(d: Duration) -> String {
    format!("{:.1} µs", d.as_secs_f64() * 1e6)
}

/// Nearest-rank percentile of sorted samples.
fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = (p * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// The switch function's cold start beside the responder's (the results are sorted by now).
fn switch_section(
    switch: Option<&switch_cold::SwitchCold>,
    subjects: &[Subject],
    results: &[Results],
) -> String {
    let mut out = String::from("\n### The switch function (issue #15)\n\n");
    let Some(sw) = switch else {
        out.push_str(
            "skipped: no maintenance-switch binary (scripts/package writes \
             dist/maintenance-switch/bootstrap; or set BENCH_SWITCH)\n",
        );
        return out;
    };
    let _ = writeln!(
        out,
        "| function | cold start to the first answer, median (min–max, n) | binary |"
    );
    let _ = writeln!(out, "|---|---|---|");
    let _ = writeln!(
        out,
        "| maintenance-switch: an alarm's ALARM → maintenance on (2 listeners, the lease, \
         against moto) | {} ({}–{}, n={}) | {} |",
        ms(percentile(&sw.cold, 0.5)),
        ms(sw.cold.first().copied().unwrap_or_default()),
        ms(sw.cold.last().copied().unwrap_or_default()),
        sw.cold.len(),
        native_package(&sw.binary)
    );
    for (s, r) in subjects.iter().zip(results) {
        if s.name.starts_with("responder") {
            let _ = writeln!(
                out,
                "| {} (from the table above) | {} ({}–{}, n={}) | {} |",
                s.name,
                ms(percentile(&r.cold, 0.5)),
                ms(r.cold.first().copied().unwrap_or_default()),
                ms(r.cold.last().copied().unwrap_or_default()),
                r.cold.len(),
                s.package
            );
        }
    }
    let _ = writeln!(
        out,
        "\nSwitch function binary: {}. Each run: a fresh process, one ALARM event, its report \
         checked (applied, on); maintctl off between runs (not timed).",
        sw.binary.strip_prefix(ROOT).unwrap_or(&sw.binary).display()
    );
    out
}

fn report(
    subjects: &[Subject],
    results: &mut [Results],
    responder: &Path,
    knobs: &Knobs,
    elapsed: Duration,
    moto: Duration,
) -> String {
    // Paired per round (before the samples are sorted): responder on defaults / hello-world.
    let find = |prefix: &str| subjects.iter().position(|s| s.name.starts_with(prefix));
    let mut paired: Vec<f64> = match (find("responder, embedded"), find("hello-world (")) {
        (Some(r), Some(h)) => results[r]
            .cold
            .iter()
            .zip(&results[h].cold)
            .map(|(r, h)| r.as_secs_f64() / h.as_secs_f64().max(1e-9))
            .collect(),
        _ => Vec::new(),
    };
    paired.sort_by(f64::total_cmp);
    for r in results.iter_mut() {
        r.cold.sort();
        r.warm.sort();
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\n## maintenance-responder vs hello-world vs Python peer{}\n",
        if knobs.full {
            ""
        } else {
            " (smoke run: too few samples to mean anything; use --bench)"
        }
    );
    let _ = writeln!(
        out,
        "| function | cold start, median (min–max, n) | warm p50 | warm p99 | peak RSS | package |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|");
    for (s, r) in subjects.iter().zip(results.iter()) {
        let _ = writeln!(
            out,
            "| {} | {} ({}–{}, n={}) | {} | {} | {} | {} |",
            s.name,
            ms(percentile(&r.cold, 0.5)),
            ms(r.cold.first().copied().unwrap_or_default()),
            ms(r.cold.last().copied().unwrap_or_default()),
            r.cold.len(),
            us(percentile(&r.warm, 0.5)),
            us(percentile(&r.warm, 0.99)),
            mb(r.peak_rss_kib * 1024),
            s.package
        );
    }
    let _ = writeln!(
        out,
        "\nWarm: {} sequential invocations per function, round trip through the Runtime API, in \
         {} round(s) of freshly started processes (each: 201 unmeasured invocations, then the \
         functions take turns in blocks of 100). Every response was checked: ALB contract, 503, \
         and the title from where it should come (embedded defaults or SSM). Peak RSS: VmHWM of \
         the function process after its warm run (highest of the rounds). MB = 10^6 bytes. \
         Responder binary: {}. {} Run took {:.0} s.",
        knobs.warm_rounds * knobs.warm.div_ceil(knobs.warm_rounds),
        knobs.warm_rounds,
        responder.strip_prefix(ROOT).unwrap_or(responder).display(),
        affinity(),
        elapsed.as_secs_f64()
    );

    let (Some(defaults), Some(with_ssm)) = (find("responder, embedded"), find("responder, SSM"))
    else {
        return out;
    };
    let hello = find("hello-world (");
    let same_page = find("hello-world answering");
    let peer = find("Python peer");
    let cold = |i: usize| percentile(&results[i].cold, 0.5);
    let p50 = |i: usize| percentile(&results[i].warm, 0.5);
    let p99 = |i: usize| percentile(&results[i].warm, 0.99);
    let ratio = |a: Duration, b: Duration| a.as_secs_f64() / b.as_secs_f64().max(1e-9);
    let verdict = |ok: bool| if ok { "PASS" } else { "FAIL" };

    let _ = writeln!(out, "\n### Ratios\n");
    if let Some(h) = hello {
        let _ = writeln!(
            out,
            "- responder / hello-world, cold start: {:.2}× on embedded defaults, {:.2}× with SSM ({} over hello-world)",
            ratio(cold(defaults), cold(h)),
            ratio(cold(with_ssm), cold(h)),
            signed_ms(cold(with_ssm), cold(h)),
        );
        let _ = writeln!(
            out,
            "- responder / hello-world, warm: p50 {:.2}× (defaults) and {:.2}× (SSM); p99 {:.2}× and {:.2}×",
            ratio(p50(defaults), p50(h)),
            ratio(p50(with_ssm), p50(h)),
            ratio(p99(defaults), p99(h)),
            ratio(p99(with_ssm), p99(h)),
        );
    }
    if let (Some(h), Some(page)) = (hello, same_page) {
        let _ = writeln!(
            out,
            "- the page's size by itself: hello-world answering the responder's page ({} bytes of \
             JSON) / hello-world, warm p50 {:.2}×; responder on defaults / that, {:.2}× (what the \
             responder's own work adds)",
            std::fs::metadata(Path::new(ROOT).join(PAGE_FILE)).map_or(0, |m| m.len()),
            ratio(p50(page), p50(h)),
            ratio(p50(defaults), p50(page)),
        );
    }
    let _ = writeln!(
        out,
        "- the SSM read at cold start: responder with SSM − on defaults = {}; one moto \
         GetParametersByPath round trip from the harness (new connection): median {}",
        signed_ms(cold(with_ssm), cold(defaults)),
        ms(moto)
    );
    if let Some(p) = peer {
        let _ = writeln!(
            out,
            "- peer / responder (both reading SSM): cold start {:.1}×, warm p50 {:.1}×, p99 {:.1}×, peak RSS {:.1}×",
            ratio(cold(p), cold(with_ssm)),
            ratio(p50(p), p50(with_ssm)),
            ratio(p99(p), p99(with_ssm)),
            results[p].peak_rss_kib as f64 / results[with_ssm].peak_rss_kib.max(1) as f64,
        );
    }

    let _ = writeln!(
        out,
        "\n### Start up to the first Runtime API call (median of {} starts each)\n",
        results[defaults].starts.len()
    );
    let start_median = |i: usize| {
        let mut faults: Vec<u64> = results[i].starts.iter().map(|s| s.page_faults).collect();
        let mut cpu: Vec<Duration> = results[i].starts.iter().map(|s| s.cpu).collect();
        faults.sort_unstable();
        cpu.sort_unstable();
        (
            faults.get(faults.len() / 2).copied().unwrap_or(0),
            percentile(&cpu, 0.5),
        )
    };
    for (i, s) in subjects.iter().enumerate() {
        if !results[i].starts.is_empty() {
            let (faults, cpu) = start_median(i);
            let _ = writeln!(
                out,
                "- {}: {faults} page faults, {} CPU (task-clock)",
                s.name,
                us(cpu)
            );
        }
    }

    let _ = writeln!(out, "\n### Targets (issue #25; issue #7's, tightened)\n");
    if let Some(h) = hello {
        let median = paired.get(paired.len() / 2).copied().unwrap_or(f64::NAN);
        let _ = writeln!(
            out,
            "- {} cold start on embedded defaults ≤ 1.2 × hello-world, paired: {median:.2}× (median of {} per-round ratios; quartiles {:.2}–{:.2}×)",
            verdict(median <= 1.2),
            paired.len(),
            paired.get(paired.len() / 4).copied().unwrap_or(f64::NAN),
            paired
                .get(paired.len() * 3 / 4)
                .copied()
                .unwrap_or(f64::NAN),
        );
        let limit = cold(h) + Duration::from_millis(15);
        let _ = writeln!(
            out,
            "- {} cold start with SSM reachable ≤ hello-world + 15 ms: {} vs limit {}",
            verdict(cold(with_ssm) <= limit),
            ms(cold(with_ssm)),
            ms(limit)
        );
        if !results[h].starts.is_empty() {
            let ((faults, cpu), (hello_faults, hello_cpu)) =
                (start_median(defaults), start_median(h));
            let _ = writeln!(
                out,
                "- {} start page faults ≤ 1.5 × hello-world: {faults} vs {hello_faults} ({:.2}×); CPU time to the first call {} vs {} ({:.2}×, no target)",
                verdict(faults as f64 <= 1.5 * hello_faults as f64),
                faults as f64 / hello_faults.max(1) as f64,
                us(cpu),
                us(hello_cpu),
                ratio(cpu, hello_cpu),
            );
        }
    }
    if let Some(p) = peer {
        let _ = writeln!(
            out,
            "- {} cold start ≥ 50 × faster than the peer (both reading SSM): {:.1}×",
            verdict(cold(p) >= cold(with_ssm).mul_f64(50.0)),
            ratio(cold(p), cold(with_ssm))
        );
    }
    if let Some(h) = hello {
        let limit = p50(h).mul_f64(1.1);
        let worst = p50(defaults).max(p50(with_ssm));
        let _ = writeln!(
            out,
            "- {} warm ≤ 1.1 × hello-world (p50): {} (worse of the two configurations) vs limit {}; p99 {} vs hello-world's {}",
            verdict(worst <= limit),
            us_tenths(worst),
            us_tenths(limit),
            us_tenths(p99(defaults).max(p99(with_ssm))),
            us_tenths(p99(h)),
        );
    }
    let rss = results[defaults]
        .peak_rss_kib
        .max(results[with_ssm].peak_rss_kib)
        * 1024;
    let _ = writeln!(
        out,
        "- {} peak RSS ≤ 10 MB: {}",
        verdict(rss <= 10_000_000),
        mb(rss)
    );
    if let Some(size) = subjects[defaults].package_bytes {
        let _ = writeln!(
            out,
            "- {} stripped x86_64 binary ≤ 6 MB: {} ({} bytes)",
            verdict(size <= 6_000_000),
            mb(size),
            size,
        );
        // The arm64 package of the same build (scripts/package), beside the x86_64 one.
        let arm64 = responder.parent().map(|d| d.join("arm64/bootstrap"));
        match arm64.as_deref().and_then(file_len) {
            Some(arm) => {
                let _ = writeln!(
                    out,
                    "- {} stripped arm64 binary no larger: {} ({arm} bytes)",
                    verdict(arm <= size && arm <= 6_000_000),
                    mb(arm),
                );
            }
            None => {
                let _ = writeln!(
                    out,
                    "- FAIL stripped arm64 binary no larger: not built beside the responder (scripts/package writes dist/arm64/bootstrap)"
                );
            }
        }
    }
    let _ = writeln!(out, "\n{}", machine());
    out
}

/// Where the processes ran. `scripts/bench` pins the harness and everything it starts to one
/// CPU: on this VM a wake-up on the other vCPU costs about 150 µs, and which process gets
/// which vCPU is the scheduler's choice, so unpinned warm figures jump between runs.
fn affinity() -> String {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let allowed = status
        .lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
        .map(str::trim)
        .unwrap_or("?");
    let all = cpu_count(&std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default());
    let pinned = !allowed.contains([',', '-']) && all > 1;
    if pinned {
        format!("All processes pinned to CPU {allowed} (of {all}).")
    } else {
        format!(
            "Not pinned (CPUs {allowed}): warm figures then vary with where the scheduler puts \
             each process; scripts/bench pins to one CPU."
        )
    }
}

/// The machine's CPUs (`/proc/cpuinfo` text), whatever this process is pinned to.
fn cpu_count(cpuinfo: &str) -> usize {
    cpuinfo
        .lines()
        .filter(|l| l.starts_with("processor"))
        .count()
}

fn signed_ms(a: Duration, b: Duration) -> String {
    let d = (a.as_secs_f64() - b.as_secs_f64()) * 1e3;
    format!("{d:+.2} ms")
}

/// CPU model, cores, memory and kernel, for the README.
fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|l| l.trim_start_matches([' ', '\t', ':']).to_string())
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = cpu_count(&cpuinfo);
    let mem_kib: u64 = std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!(
        "Machine: {cpu}, {cores} cores, {:.0} GiB RAM, Linux {}",
        mem_kib as f64 / (1024.0 * 1024.0),
        kernel.trim()
    )
}
