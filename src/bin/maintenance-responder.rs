//! The Lambda entry point (deployed as `bootstrap`): reads the environment once, builds the
//! site, the SSM client and the content cache, fetches the content within the init budget, and
//! hands every ALB event to `maintenance_responder::function`.

use std::convert::Infallible;

use lambda_runtime::{LambdaEvent, Runtime, service_fn};
use maintenance_responder::function::{Function, FunctionSettings, site_from_env};
use serde_json::value::RawValue;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    maintenance_responder::logging::init_lambda();
    let lookup = |name: &str| std::env::var(name).ok();
    let (site, config_problem) = site_from_env(&lookup);
    let (settings, problems) = FunctionSettings::from_env(&lookup);
    for problem in config_problem.iter().chain(&problems) {
        tracing::error!(problem = problem.0.as_str(), "configuration problem");
    }
    let store = match &settings.ssm_prefix {
        Some(_) => {
            let base = aws_config::defaults(aws_config::BehaviorVersion::latest())
                .load()
                .await;
            Some(maintenance_responder::aws::lambda_ssm_client(
                &base,
                &settings.cache,
            ))
        }
        None => None,
    };
    let function = Function::with_store(site, &settings, store);
    function.init().await;
    let function = &function;
    // The payload is taken raw: a typed parse failing inside the runtime would be an
    // invocation error, which the ALB turns into a 502. `Function::handle_invocation` never
    // fails. The runtime runs without `lambda_runtime::run`'s per-invocation tracing span: the
    // request log line carries the request id itself, and the span cost every request time.
    Runtime::new(service_fn(
        move |event: LambdaEvent<Box<RawValue>>| async move {
            let id = &event.context.request_id;
            Ok::<_, Infallible>(function.handle_invocation(event.payload.get(), id).await)
        },
    ))
    .run()
    .await
}
