//! Test harness shared by the integration tests: the moto AWS emulator in server mode on a
//! loopback port (one per test process, stopped when the process exits), SDK configuration
//! pointed at it without touching the process environment, unique names per test, and the
//! workspace's other binaries ([`workspace_bin`]).
#![allow(dead_code)]

pub mod alb;
pub mod listeners;
pub mod proxy;
pub mod runtime_api;
pub mod terraform;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

use aws_config::{BehaviorVersion, Region, SdkConfig};

/// A binary of another package of the workspace (`maintenance-responder`,
/// `maintenance-switch`), as cargo built it: a test sees only its own package's binaries in
/// `CARGO_BIN_EXE_*`, so these are found where cargo puts every binary of the workspace, beside
/// this test's executable (`target/<profile>/deps/<test>` → `target/<profile>/<name>`).
/// `scripts/test` builds them with the tests (`cargo build --workspace --bins --tests`). Fails the
/// test, saying how to build it, when the binary is missing or older than a source file it was
/// built from (its dep-info file, `<name>.d`, lists them): a test never runs a stale binary.
pub fn workspace_bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test's own path");
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("a test runs from target/<profile>/deps/");
    let path = dir.join(name);
    let build = "build the workspace's binaries with the tests first: cargo build --workspace \
                 --bins --tests (scripts/test does)";
    let built = std::fs::metadata(&path)
        .and_then(|m| m.modified())
        .unwrap_or_else(|e| panic!("{} is missing ({e}): {build}", path.display()));
    let dep_info = dir.join(format!("{name}.d"));
    let sources = std::fs::read_to_string(&dep_info)
        .unwrap_or_else(|e| panic!("{} is missing ({e}): {build}", dep_info.display()));
    // `target: source source …` with spaces in names escaped as `\ `.
    let listed = sources.split_once(": ").map_or("", |(_, s)| s);
    let listed = listed.replace("\\ ", "\0");
    for source in listed.split_whitespace().map(|s| s.replace('\0', " ")) {
        let changed = std::fs::metadata(&source).and_then(|m| m.modified());
        if let Ok(changed) = changed
            && changed > built
        {
            panic!(
                "{} is older than {source}, which it is built from: {build}",
                path.display()
            );
        }
    }
    path
}

/// A running moto server.
pub struct Moto {
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    /// Kept so its stdin (the server's lifeline) stays open while the test process lives.
    _child: Child,
}

/// The project's Python venv interpreter (made by `scripts/setup-tools`), or `MOTO_PYTHON`.
pub fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("MOTO_PYTHON") {
        return PathBuf::from(p);
    }
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python");
    assert!(
        venv.exists(),
        "{} is missing: run scripts/setup-tools first (it installs moto[server] into .venv)",
        venv.display()
    );
    venv
}

impl Moto {
    /// Starts a new server and waits until it answers.
    pub fn start() -> Self {
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/support/moto_server.py");
        let mut child = Command::new(python())
            .arg(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("failed to start the moto server");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("failed to read the moto endpoint");
        let endpoint = line.trim().to_string();
        assert!(
            endpoint.starts_with("http://127.0.0.1:"),
            "moto printed {endpoint:?}"
        );
        // Ready once /moto-api/ answers.
        let addr = endpoint.trim_start_matches("http://").to_string();
        for _ in 0..100 {
            if std::net::TcpStream::connect(&addr).is_ok() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        Self {
            endpoint,
            _child: child,
        }
    }

    /// The server of this test process, started on first use.
    pub fn shared() -> &'static Moto {
        static MOTO: OnceLock<Moto> = OnceLock::new();
        MOTO.get_or_init(Moto::start)
    }

    /// SDK configuration pointed at this server, with dummy credentials, region us-east-1.
    pub async fn sdk_config(&self) -> SdkConfig {
        sdk_config_for(&self.endpoint).await
    }

    /// Environment for a child process (`maintctl`, the Lambda binary) to reach this server
    /// through the standard AWS settings.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        aws_env(&self.endpoint)
    }
}

/// SDK configuration for any endpoint (a fault-injecting server, a closed port, …).
pub async fn sdk_config_for(endpoint: &str) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(maintenance_responder::aws::https_client())
        .endpoint_url(endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(aws_sdk_ssm::config::Credentials::new(
            "test", "test", None, None, "tests",
        ))
        .load()
        .await
}

/// The standard AWS environment variables pointing at `endpoint`.
pub fn aws_env(endpoint: &str) -> Vec<(&'static str, String)> {
    vec![
        ("AWS_ENDPOINT_URL", endpoint.to_string()),
        ("AWS_REGION", "us-east-1".into()),
        ("AWS_DEFAULT_REGION", "us-east-1".into()),
        ("AWS_ACCESS_KEY_ID", "test".into()),
        ("AWS_SECRET_ACCESS_KEY", "test".into()),
        ("AWS_EC2_METADATA_DISABLED", "true".into()),
        ("AWS_CONFIG_FILE", "/dev/null".into()),
        ("AWS_SHARED_CREDENTIALS_FILE", "/dev/null".into()),
    ]
}

/// A name unique to this test run, for SSM prefixes and AWS resource names.
pub fn unique(name: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{name}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// The ALB fixtures carried in the project (`tests/fixtures/alb/`, sources in its README).
pub fn fixture_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/alb")
}

/// Path of one ALB fixture (`tests/fixtures/alb/NAME`).
pub fn fixture(name: &str) -> PathBuf {
    fixture_dir().join(name)
}

/// Every ALB fixture that is a request event (not a response example).
pub fn request_fixtures() -> Vec<(String, String)> {
    let dir = fixture_dir();
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if name.ends_with(".json") && !name.contains("response") {
            out.push((name, std::fs::read_to_string(&path).unwrap()));
        }
    }
    out.sort();
    assert!(
        out.len() >= 10,
        "expected the ALB fixtures of tests/fixtures/alb, found {}",
        out.len()
    );
    out
}

/// A loopback HTTP/1.1 server for fault injection that no real server produces on demand:
/// `answer(n, request_body)` gives the n-th request's status and JSON body, or `None` to accept
/// and never answer.
pub struct FakeServer {
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    /// Requests received so far.
    pub hits: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

type Answer = dyn Fn(usize, &str) -> Option<(u16, String)> + Send + Sync;

impl FakeServer {
    /// Starts the server on the current tokio runtime.
    pub async fn start(
        answer: impl Fn(usize, &str) -> Option<(u16, String)> + Send + Sync + 'static,
    ) -> Self {
        use std::sync::Arc;
        use std::sync::atomic::AtomicUsize;
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let hits = Arc::new(AtomicUsize::new(0));
        let answer: Arc<Answer> = Arc::new(answer);
        let counter = hits.clone();
        tokio::spawn(async move {
            loop {
                let Ok((mut socket, _)) = listener.accept().await else {
                    return;
                };
                let answer = answer.clone();
                let counter = counter.clone();
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    loop {
                        // Read one request: headers, then Content-Length bytes of body.
                        let header_end = loop {
                            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                                break i + 4;
                            }
                            let mut chunk = [0u8; 4096];
                            match socket.read(&mut chunk).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                            }
                        };
                        let head = String::from_utf8_lossy(&buf[..header_end]).to_ascii_lowercase();
                        let len: usize = head
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .and_then(|v| v.trim().parse().ok())
                            .unwrap_or(0);
                        while buf.len() < header_end + len {
                            let mut chunk = [0u8; 4096];
                            match socket.read(&mut chunk).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                            }
                        }
                        let body =
                            String::from_utf8_lossy(&buf[header_end..header_end + len]).to_string();
                        buf.drain(..header_end + len);
                        let n = counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        match answer(n, &body) {
                            None => {
                                std::future::pending::<()>().await;
                            }
                            Some((status, json)) => {
                                let response = format!(
                                    "HTTP/1.1 {status} X\r\nContent-Type: application/x-amz-json-1.1\r\nContent-Length: {}\r\n\r\n{json}",
                                    json.len()
                                );
                                if socket.write_all(response.as_bytes()).await.is_err() {
                                    return;
                                }
                            }
                        }
                    }
                });
            }
        });
        Self { endpoint, hits }
    }

    /// Requests received so far.
    pub fn hits(&self) -> usize {
        self.hits.load(std::sync::atomic::Ordering::SeqCst)
    }
}
