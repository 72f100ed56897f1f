//! The floor for a Rust Lambda, used by `benches/compare.rs`: the smallest `lambda_runtime`
//! function that answers an ALB event, with a fixed, small ALB-style response and nothing else
//! (no configuration, no SSM, no templates, no logging).
//!
//! With `HELLO_RESPONSE=FILE` it answers with that file's JSON instead, read and checked once
//! at start and sent as it is (a copy of the bytes per invocation, no serialization): the bench
//! gives it the responder's own page, to show what a response of that size costs through the
//! Runtime API by itself.
//!
//! Built with the crate's release profile: `cargo build --release --example hello_world`.

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{Value, json};

/// What one invocation answers: the file's JSON as it is, or the tiny response built anew.
#[derive(Serialize)]
#[serde(untagged)]
enum Answer {
    Fixed(Box<RawValue>),
    Tiny(Value),
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let fixed: Option<Box<RawValue>> = match std::env::var_os("HELLO_RESPONSE") {
        Some(path) => Some(RawValue::from_string(std::fs::read_to_string(path)?)?),
        None => None,
    };
    let fixed = &fixed;
    lambda_runtime::run(service_fn(move |_event: LambdaEvent<Value>| async move {
        Ok::<_, Error>(match fixed {
            Some(response) => Answer::Fixed(response.clone()),
            None => Answer::Tiny(json!({
                "statusCode": 503,
                "statusDescription": "503 Service Unavailable",
                "isBase64Encoded": false,
                "headers": { "content-type": "text/plain; charset=utf-8", "retry-after": "300" },
                "body": "We'll be back soon.\n"
            })),
        })
    }))
    .await
}
