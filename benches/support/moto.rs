//! moto for the benches (`compare`, `soak`): started on a loopback port by
//! `benches/support/moto_on_port.py` (seeded before its port opens, so it can be killed and
//! started again on the same port with its data), and SSM written over plain HTTP, which moto
//! accepts without a real signature; this keeps the SDK out of the bench binaries.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The end time the benches' SSM data announces: three days ahead (the responder accepts at
/// most a week).
pub static END_TIME: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    let end = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(24 * 3);
    jiff::Timestamp::from_second(end.as_second())
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
        .to_string()
});

/// A running moto server.
pub struct MotoServer {
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    /// The port.
    pub port: u16,
    child: Child,
}

/// The checkout's root (where `Cargo.lock` is): these helpers serve benches of the root package
/// (`compare`) and of the responder's (`soak`, `crates/responder`).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .find(|dir| dir.join("Cargo.lock").is_file())
        .expect("the workspace root, with Cargo.lock, above the package")
        .to_path_buf()
}

/// The interpreter with moto: `MOTO_PYTHON`, else the project's `.venv` (`scripts/setup-tools`).
pub fn python() -> Result<PathBuf, String> {
    if let Some(p) = std::env::var_os("MOTO_PYTHON") {
        return Ok(PathBuf::from(p));
    }
    let venv = root().join(".venv/bin/python");
    if venv.exists() {
        Ok(venv)
    } else {
        Err(format!(
            "{} is missing: run scripts/setup-tools (it installs moto[server] into .venv)",
            venv.display()
        ))
    }
}

impl MotoServer {
    /// Starts moto on `port` (0: a free one) with `seed` written as SSM String parameters
    /// before the port opens, and waits until it has answered one SSM call.
    pub fn start(port: u16, seed: &[(String, String)]) -> Result<Self, String> {
        let script = root().join("benches/support/moto_on_port.py");
        let mut child = Command::new(python()?)
            .arg(script)
            .arg(port.to_string())
            .args(seed.iter().map(|(name, value)| format!("{name}={value}")))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("starting moto: {e}"))?;
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("piped stdout"))
            .read_line(&mut line)
            .map_err(|e| format!("reading the moto endpoint: {e}"))?;
        let endpoint = line.trim().to_string();
        let Some(port) = endpoint
            .strip_prefix("http://127.0.0.1:")
            .and_then(|p| p.parse().ok())
        else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!(
                "moto printed {endpoint:?} (is port {port} still in use?)"
            ));
        };
        Ok(Self {
            endpoint,
            port,
            child,
        })
    }

    /// `127.0.0.1:PORT`.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The process id (for SIGSTOP/SIGCONT).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Kills the server at once (SIGKILL): connections are refused from now on.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The standard AWS environment pointing a child process (the responder, the Python peer) at
/// `endpoint`, with dummy credentials and no shared config files.
pub fn aws_env(endpoint: &str) -> Vec<(String, String)> {
    [
        ("AWS_ENDPOINT_URL", endpoint),
        ("AWS_REGION", "us-east-1"),
        ("AWS_DEFAULT_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
        ("AWS_CONFIG_FILE", "/dev/null"),
        ("AWS_SHARED_CREDENTIALS_FILE", "/dev/null"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// One SSM JSON call over HTTP/1.1 (`Connection: close`); returns the response body on 200.
pub fn ssm_call(address: &str, operation: &str, body: &str) -> Result<String, String> {
    let mut stream = TcpStream::connect(address).map_err(|e| format!("{address}: {e}"))?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| e.to_string())?;
    let request = format!(
        "POST / HTTP/1.1\r\nHost: {address}\r\nX-Amz-Target: AmazonSSM.{operation}\r\n\
         Content-Type: application/x-amz-json-1.1\r\n\
         Authorization: AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/ssm/aws4_request, SignedHeaders=host, Signature=0\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream
        .write_all(request.as_bytes())
        .map_err(|e| format!("{operation}: {e}"))?;
    // Read the head, then Content-Length bytes (not to EOF: the server may close late).
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    let (head_end, length) = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..i]).to_ascii_lowercase();
            let length = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok());
            break (i + 4, length);
        }
        match stream.read(&mut chunk) {
            Ok(0) => return Err(format!("{operation}: connection closed early")),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) => return Err(format!("{operation}: {e}")),
        }
    };
    while length.is_none_or(|l| buf.len() < head_end + l) {
        match stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) => return Err(format!("{operation}: {e}")),
        }
    }
    let response = String::from_utf8_lossy(&buf).to_string();
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    if head.starts_with("HTTP/1.1 200") || head.starts_with("HTTP/1.0 200") {
        Ok(body.to_string())
    } else {
        Err(format!(
            "{operation}: {}: {body}",
            head.lines().next().unwrap_or("")
        ))
    }
}

/// PutParameter (String, overwrite).
pub fn put_parameter(address: &str, name: &str, value: &str) -> Result<(), String> {
    let body =
        serde_json::json!({ "Name": name, "Value": value, "Type": "String", "Overwrite": true });
    ssm_call(address, "PutParameter", &body.to_string()).map(drop)
}

/// GetParametersByPath (recursive), as the responder and the peer call it.
pub fn get_parameters_by_path(address: &str, path: &str) -> Result<String, String> {
    let body = serde_json::json!({ "Path": path, "Recursive": true, "WithDecryption": true });
    ssm_call(address, "GetParametersByPath", &body.to_string())
}
