//! The floor for a Rust Lambda, used by `benches/compare.rs`: the smallest `lambda_runtime`
//! function that answers an ALB event, with a fixed, small ALB-style response and nothing else
//! (no configuration, no SSM, no templates, no logging).
//!
//! Built with the crate's release profile: `cargo build --release --example hello_world`.

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::{Value, json};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(|_event: LambdaEvent<Value>| async {
        Ok::<_, Error>(json!({
            "statusCode": 503,
            "statusDescription": "503 Service Unavailable",
            "isBase64Encoded": false,
            "headers": { "content-type": "text/plain; charset=utf-8", "retry-after": "300" },
            "body": "We'll be back soon.\n"
        }))
    }))
    .await
}
