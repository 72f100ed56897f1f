//! A loopback proxy in front of moto that sees every AWS call a process makes (its
//! `AWS_ENDPOINT_URL` points here) and, when armed, stops that process dead at one step of its
//! work: at the n-th **write** (a call that changes something: `PutParameter`,
//! `DeleteParameter`, `SetRulePriorities`, `AddTags`, `RemoveTags`, `ModifyRule`, `CreateRule`),
//! before it reaches moto or after moto carried it out, the proxy signals [`Proxy::killed`] and
//! never answers, so the process is still waiting on that call when the test kills it. Reads
//! are passed through: they leave nothing behind, so a process killed after a read leaves the
//! same state as one killed after the write before it. Fault injection no emulator produces on
//! demand (tests/automation/crash.rs).
#![allow(dead_code)]

use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tokio::sync::Notify;

/// Where the proxy stops the process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// Never: count and pass everything through.
    Never,
    /// At the n-th write (1-based), before it reaches moto.
    Before(usize),
    /// At the n-th write, once moto carried it out (the process never learns it did).
    After(usize),
}

struct State {
    stop: Stop,
    writes: usize,
    /// Every call seen since the last [`Proxy::arm`]: `Action`, with `*` on writes.
    calls: Vec<String>,
}

/// The proxy.
pub struct Proxy {
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    state: Arc<Mutex<State>>,
    killed: Arc<Notify>,
}

const WRITES: [&str; 7] = [
    "PutParameter",
    "DeleteParameter",
    "SetRulePriorities",
    "AddTags",
    "RemoveTags",
    "ModifyRule",
    "CreateRule",
];

/// The action of a request: SSM's `X-Amz-Target` (JSON protocol), else the query protocol's
/// `Action=` (ELBv2, STS).
fn action(req: &hyper::http::request::Parts, body: &[u8]) -> String {
    if let Some(target) = req
        .headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
    {
        return target.rsplit('.').next().unwrap_or(target).to_string();
    }
    String::from_utf8_lossy(body)
        .split('&')
        .find_map(|pair| pair.strip_prefix("Action="))
        .unwrap_or("?")
        .to_string()
}

impl Proxy {
    /// Starts a proxy to `upstream` (moto's endpoint) on the current runtime, unarmed.
    pub async fn start(upstream: &str) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(State {
            stop: Stop::Never,
            writes: 0,
            calls: Vec::new(),
        }));
        let killed = Arc::new(Notify::new());
        let client: Client<HttpConnector, Full<Bytes>> =
            Client::builder(TokioExecutor::new()).build_http();
        let upstream = upstream.to_string();
        let (s, k) = (state.clone(), killed.clone());
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let (s, k, client, upstream) =
                    (s.clone(), k.clone(), client.clone(), upstream.clone());
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        forward(req, s.clone(), k.clone(), client.clone(), upstream.clone())
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Self {
            endpoint,
            state,
            killed,
        }
    }

    /// Arms the proxy (and forgets the calls seen so far).
    pub fn arm(&self, stop: Stop) {
        let mut state = self.state.lock().unwrap();
        state.stop = stop;
        state.writes = 0;
        state.calls.clear();
    }

    /// Waits until the armed stop is reached.
    pub async fn killed(&self) {
        self.killed.notified().await;
    }

    /// The calls seen since the last [`Proxy::arm`], writes marked with `*`.
    pub fn calls(&self) -> Vec<String> {
        self.state.lock().unwrap().calls.clone()
    }
}

async fn forward(
    req: Request<Incoming>,
    state: Arc<Mutex<State>>,
    killed: Arc<Notify>,
    client: Client<HttpConnector, Full<Bytes>>,
    upstream: String,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let (parts, body) = req.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let action = action(&parts, &body);
    let (before, after) = {
        let mut s = state.lock().unwrap();
        let write = WRITES.contains(&action.as_str());
        if write {
            s.writes += 1;
        }
        s.calls
            .push(format!("{action}{}", if write { "*" } else { "" }));
        let n = s.writes;
        (
            write && s.stop == Stop::Before(n),
            write && s.stop == Stop::After(n),
        )
    };
    if before {
        killed.notify_one();
        std::future::pending::<()>().await;
    }
    let uri = format!(
        "{upstream}{}",
        parts.uri.path_and_query().map_or("/", |p| p.as_str())
    );
    let mut out = Request::builder().method(parts.method.clone()).uri(uri);
    for (name, value) in &parts.headers {
        out = out.header(name, value);
    }
    let response = client
        .request(out.body(Full::new(body)).unwrap())
        .await
        .expect("moto answers");
    let (rparts, rbody) = response.into_parts();
    let rbody = rbody
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    if after {
        killed.notify_one();
        std::future::pending::<()>().await;
    }
    Ok(Response::from_parts(rparts, Full::new(rbody)))
}
