//! The `maintenance-switch` Lambda entry point (deployed as `bootstrap`, issue #15): builds the
//! function from the environment once (`SwitchFunction::from_environment`), then answers every
//! event — a scheduled switch request or a CloudWatch alarm event — with its JSON report
//! (`SwitchFunction::handle`), logged once. A failure a later attempt may fix is returned as an
//! invocation error (the report is its message), so that Lambda's asynchronous retries and
//! on-failure destination apply; everything else is answered.

use lambda_runtime::{Diagnostic, LambdaEvent, Runtime, service_fn};
use maintenance_switch::SwitchFunction;
use serde_json::value::RawValue;

/// A switch that may succeed when tried again: the report, as the invocation error.
#[derive(Debug)]
struct TryAgain(String);

impl From<TryAgain> for Diagnostic {
    fn from(again: TryAgain) -> Self {
        Diagnostic {
            error_type: "MaintenanceSwitchRetry".into(),
            error_message: again.0,
        }
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    maintenance_responder::logging::init_lambda();
    let (function, problems) =
        SwitchFunction::from_environment(&|name| std::env::var(name).ok()).await;
    for problem in &problems {
        tracing::error!(problem = problem.as_str(), "configuration problem");
    }
    let function = &function;
    // The payload is taken raw: the function reads and refuses odd JSON itself.
    Runtime::new(service_fn(
        move |event: LambdaEvent<Box<RawValue>>| async move {
            let report = function.handle(event.payload.get()).await;
            report.log(&event.context.request_id);
            let json = report.to_json();
            if report.retry {
                return Err(TryAgain(json));
            }
            RawValue::from_string(json).map_err(|e| TryAgain(e.to_string()))
        },
    ))
    .run()
    .await
}
