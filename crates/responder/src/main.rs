//! The Lambda entry point (deployed as `bootstrap`): builds the function from the environment
//! once (`Function::from_environment`), fetches the content within the init budget, and hands
//! every ALB event, as the Runtime API sent it, to `Function::handle_payload`.

use lambda_runtime::{LambdaEvent, Runtime, service_fn};
use maintenance_responder::lambda::{Function, payload};

/// The runtime, built by hand rather than by `#[tokio::main]` so that the function's future
/// is boxed: `block_on` takes it by value through several inlined frames, and the future of
/// several kilobytes was copied into each (a 41 KB stack frame in `main`, ten page faults of
/// its stack at every cold start).
fn main() -> Result<(), lambda_runtime::Error> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(Box::pin(serve()))
}

async fn serve() -> Result<(), lambda_runtime::Error> {
    maintenance_responder::logging::init_lambda();
    let (function, problems) = Function::from_environment(&|name| std::env::var(name).ok()).await;
    for problem in &problems {
        tracing::error!(problem = problem.0.as_str(), "configuration problem");
    }
    function.init().await;
    let function = &function;
    // The payload is taken raw, past the runtime's deserialization (`payload::TakePayload`;
    // the handler's payload type `()` reads the `null` left in its place): a typed parse
    // failing inside the runtime would be an invocation error, which the ALB turns into a 502,
    // and a raw capture there would parse every event twice. `Function::handle_payload` never
    // fails on JSON. The runtime runs without `lambda_runtime::run`'s per-invocation tracing
    // span: the request log line carries the request id itself, and the span cost every
    // request time.
    Runtime::new(service_fn(move |event: LambdaEvent<()>| async move {
        let payload = payload::take().unwrap_or_default();
        let id = &event.context.request_id;
        // Not JSON: an invocation error, as the runtime's own deserialization made it.
        function
            .handle_payload(&payload, id)
            .await
            .map_err(lambda_runtime::Error::from)
    }))
    .layer(payload::TakePayload)
    .layer(maintenance_responder::logging::LineAfterResponse::default())
    .run()
    .await
}
