//! A Lambda Runtime API on loopback, small enough to read: the real function binary polls
//! `GET /2018-06-01/runtime/invocation/next`, answers on `…/{id}/response` or `…/{id}/error`.
//! [`RuntimeApi::invoke`] queues one event and waits for the function's answer.
#![allow(dead_code)]

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use tokio::sync::{mpsc, oneshot};

/// What the function answered for one invocation.
#[derive(Debug)]
pub enum Answer {
    /// `…/response` body.
    Response(String),
    /// `…/error` body (an invocation error: the ALB would answer 502).
    Error(String),
}

struct Shared {
    queue: tokio::sync::Mutex<mpsc::UnboundedReceiver<(String, String)>>,
    waiting: Mutex<HashMap<String, oneshot::Sender<Answer>>>,
    init_error: Mutex<Option<String>>,
}

/// The server.
pub struct RuntimeApi {
    /// `127.0.0.1:PORT` (the value of `AWS_LAMBDA_RUNTIME_API`).
    pub address: String,
    sender: mpsc::UnboundedSender<(String, String)>,
    shared: Arc<Shared>,
    next_id: std::sync::atomic::AtomicU64,
}

impl RuntimeApi {
    /// Starts the server on the current runtime.
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let (sender, receiver) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            queue: tokio::sync::Mutex::new(receiver),
            waiting: Mutex::new(HashMap::new()),
            init_error: Mutex::new(None),
        });
        let state = shared.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let state = state.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| route(req, state.clone()));
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Self {
            address,
            sender,
            shared,
            next_id: std::sync::atomic::AtomicU64::new(1),
        }
    }

    /// The environment a function process needs to run against this server.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        Self::env_for(&self.address)
    }

    /// [`RuntimeApi::env`] for a Runtime API at `address` (`HOST:PORT`), this one or another.
    pub fn env_for(address: &str) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_LAMBDA_RUNTIME_API", address.to_string()),
            ("AWS_LAMBDA_FUNCTION_NAME", "maintenance-responder".into()),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128".into()),
            ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".into()),
            (
                "AWS_LAMBDA_LOG_GROUP_NAME",
                "/aws/lambda/maintenance-responder".into(),
            ),
            ("AWS_LAMBDA_LOG_STREAM_NAME", "test".into()),
        ]
    }

    /// Queues one event and waits for the function's answer.
    pub async fn invoke(&self, event: &str) -> Answer {
        let id = format!(
            "req-{}",
            self.next_id
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        );
        let (tx, rx) = oneshot::channel();
        self.shared.waiting.lock().unwrap().insert(id.clone(), tx);
        self.sender.send((id, event.to_string())).unwrap();
        rx.await.expect("the function went away without answering")
    }

    /// The body of an `init/error` post, if the function reported one.
    pub fn init_error(&self) -> Option<String> {
        self.shared.init_error.lock().unwrap().clone()
    }
}

fn reply(status: u16, body: String) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .body(Full::new(Bytes::from(body)))
        .unwrap()
}

async fn route(
    req: Request<Incoming>,
    state: Arc<Shared>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = req.uri().path().to_string();
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let body = String::from_utf8_lossy(&body).to_string();
    if path == "/2018-06-01/runtime/invocation/next" {
        let next = state.queue.lock().await.recv().await;
        let Some((id, event)) = next else {
            return Ok(reply(500, String::new()));
        };
        let deadline = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis()
            + 30_000;
        let response = Response::builder()
            .status(200)
            .header("content-type", "application/json")
            .header("lambda-runtime-aws-request-id", &id)
            .header("lambda-runtime-deadline-ms", deadline.to_string())
            .header(
                "lambda-runtime-invoked-function-arn",
                "arn:aws:lambda:us-east-1:123456789012:function:maintenance-responder",
            )
            .body(Full::new(Bytes::from(event)))
            .unwrap();
        return Ok(response);
    }
    if path == "/2018-06-01/runtime/init/error" {
        *state.init_error.lock().unwrap() = Some(body);
        return Ok(reply(202, "{}".into()));
    }
    let parts: Vec<&str> = path
        .trim_start_matches("/2018-06-01/runtime/invocation/")
        .split('/')
        .collect();
    if let [id, kind] = parts[..]
        && let Some(tx) = state.waiting.lock().unwrap().remove(id)
    {
        let answer = if kind == "response" {
            Answer::Response(body)
        } else {
            Answer::Error(body)
        };
        let _ = tx.send(answer);
        return Ok(reply(202, "{}".into()));
    }
    Ok(reply(404, String::new()))
}
