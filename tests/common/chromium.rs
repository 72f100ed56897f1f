//! Headless Chromium over the DevTools protocol on a pipe (`--remote-debugging-pipe`: file
//! descriptors 3 and 4, NUL-separated JSON), and `maintctl serve` on a free port: the driver of
//! `tests/browser/browser.rs` and `tests/browser/bypass_browser.rs` (no WebDriver server, websocket
//! crate or npm package). A missing Chromium fails the test; it never skips.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// Flags from the issue, plus `--disable-dev-shm-usage` (CI containers have a tiny /dev/shm)
/// and `--hide-scrollbars` (screenshots without classic scrollbars).
pub const CHROMIUM_FLAGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
    "--remote-debugging-pipe",
];

pub const VIEWPORTS: [(u32, u32); 2] = [(375, 667), (1280, 800)];
pub const TIMEOUT: Duration = Duration::from_secs(30);

pub fn chromium() -> PathBuf {
    let candidates = std::env::var_os("CHROMIUM")
        .map(PathBuf::from)
        .into_iter()
        .chain(["/usr/bin/chromium", "/usr/bin/chromium-browser"].map(PathBuf::from));
    for path in candidates {
        if path.exists() {
            return path;
        }
    }
    panic!(
        "chromium is not installed: the browser check needs it (Debian: apt-get install chromium \
         chromium-driver; scripts/setup-tools does it), or set CHROMIUM=/path/to/chrome"
    );
}

/// A headless Chromium spoken to over the DevTools protocol on a pipe.
pub struct Browser {
    child: Child,
    to_browser: ChildStdin,
    from_browser: Receiver<Value>,
    /// Events received and not yet consumed.
    pub events: Vec<Value>,
    next_id: u64,
    _profile: tempfile::TempDir,
    stderr_log: PathBuf,
}

impl Browser {
    pub fn launch() -> Self {
        let chromium = chromium();
        let profile = tempfile::tempdir().unwrap();
        let stderr_log =
            screenshot_root().join(format!("chromium-{}.stderr.log", std::process::id()));
        let stderr = std::fs::File::create(&stderr_log).unwrap();
        // The pipe protocol reads commands from fd 3 and writes to fd 4; the shell maps our
        // stdin/stdout pipes there, then execs Chromium (so the child is Chromium itself).
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(r#"exec "$0" "$@" 3<&0 4>&1 0</dev/null 1>/dev/null"#)
            .arg(&chromium)
            .args(CHROMIUM_FLAGS)
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .unwrap_or_else(|e| panic!("failed to start {}: {e}", chromium.display()));
        let to_browser = child.stdin.take().unwrap();
        let mut reader = BufReader::new(child.stdout.take().unwrap());
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            let mut message = Vec::new();
            while reader.read_until(0, &mut message).is_ok_and(|n| n > 0) {
                if message.last() == Some(&0) {
                    message.pop();
                }
                if let Ok(value) = serde_json::from_slice::<Value>(&message)
                    && tx.send(value).is_err()
                {
                    return;
                }
                message.clear();
            }
        });
        Self {
            child,
            to_browser,
            from_browser: rx,
            events: Vec::new(),
            next_id: 0,
            _profile: profile,
            stderr_log,
        }
    }

    pub fn receive(&mut self, deadline: Instant, what: &str) -> Value {
        let left = deadline.saturating_duration_since(Instant::now());
        match self.from_browser.recv_timeout(left) {
            Ok(message) => message,
            Err(RecvTimeoutError::Timeout) => {
                panic!("chromium: no answer to {what} within {TIMEOUT:?}")
            }
            Err(RecvTimeoutError::Disconnected) => {
                let mut log = String::new();
                let _ = std::fs::File::open(&self.stderr_log)
                    .and_then(|mut f| f.read_to_string(&mut log));
                panic!("chromium exited while waiting for {what}; its stderr:\n{log}");
            }
        }
    }

    /// Sends a command and returns its `result`; events that arrive meanwhile are kept.
    pub fn call(&mut self, session: Option<&str>, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut message = json!({ "id": id, "method": method, "params": params });
        if let Some(session) = session {
            message["sessionId"] = json!(session);
        }
        let mut bytes = serde_json::to_vec(&message).unwrap();
        bytes.push(0);
        self.to_browser
            .write_all(&bytes)
            .expect("write to chromium");
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let message = self.receive(deadline, method);
            if message["id"] == id {
                if let Some(error) = message.get("error") {
                    panic!("chromium: {method} failed: {error}");
                }
                return message["result"].clone();
            }
            if message.get("method").is_some() {
                self.events.push(message);
            }
        }
    }

    /// Waits for an event of a session, keeping the others.
    pub fn wait_for(&mut self, session: &str, method: &str) {
        let matches = |m: &Value| m["method"] == method && m["sessionId"] == session;
        if let Some(i) = self.events.iter().position(matches) {
            self.events.remove(i);
            return;
        }
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let message = self.receive(deadline, method);
            if matches(&message) {
                return;
            }
            if message.get("method").is_some() {
                self.events.push(message);
            }
        }
    }

    /// Opens a tab and returns its session, with the page, runtime, log and network domains on.
    pub fn new_page(&mut self) -> String {
        let target = self.call(None, "Target.createTarget", json!({ "url": "about:blank" }));
        let attached = self.call(
            None,
            "Target.attachToTarget",
            json!({ "targetId": target["targetId"], "flatten": true }),
        );
        let session = attached["sessionId"].as_str().unwrap().to_string();
        for domain in [
            "Page.enable",
            "Runtime.enable",
            "Log.enable",
            "Network.enable",
        ] {
            self.call(Some(&session), domain, json!({}));
        }
        // Records CSP violations from the first byte of every document. Scripts added through
        // the protocol are not subject to the page's CSP, so this does not need to be allowed.
        self.call(
            Some(&session),
            "Page.addScriptToEvaluateOnNewDocument",
            json!({ "source": "window.__csp = []; document.addEventListener('securitypolicyviolation', \
                e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));" }),
        );
        session
    }

    pub fn evaluate(&mut self, session: &str, expression: &str) -> Value {
        let result = self.call(
            Some(session),
            "Runtime.evaluate",
            json!({ "expression": expression, "returnByValue": true, "awaitPromise": true }),
        );
        if let Some(exception) = result.get("exceptionDetails") {
            panic!("evaluating the check script failed: {exception}");
        }
        result["result"]["value"].clone()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self
            .to_browser
            .write_all(b"{\"id\":0,\"method\":\"Browser.close\"}\0");
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `maintctl serve` on a free port, stopped when dropped.
pub struct Serve {
    child: Child,
    pub origin: String,
    /// Kept open: the server's later lines must not meet a closed pipe.
    _stdout: BufReader<std::process::ChildStdout>,
}

impl Serve {
    pub fn start(args: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_maintctl"))
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(args)
            .env("AWS_CONFIG_FILE", "/dev/null")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
            .env_remove("MAINTENANCE_CONFIG")
            .stdout(Stdio::piped())
            .spawn()
            .expect("start maintctl serve");
        let mut line = String::new();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        stdout.read_line(&mut line).unwrap();
        let origin = line
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .map(|url| url.trim_end_matches('/').to_string())
            .unwrap_or_else(|| panic!("unexpected first line from maintctl serve: {line:?}"));
        Self {
            child,
            origin,
            _stdout: stdout,
        }
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Where the browser tests write what they leave behind (`target/browser-screenshots/`).
pub fn screenshot_root() -> PathBuf {
    // CARGO_TARGET_TMPDIR is <target>/tmp; the screenshots go next to it, under target/.
    let root = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .unwrap()
        .join("browser-screenshots");
    std::fs::create_dir_all(&root).unwrap();
    root
}
