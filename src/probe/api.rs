//! [`Lambda`]: [`ResponderProbe`] over the Lambda SDK — `Invoke` (synchronous, with the log
//! tail, whose `REPORT` line gives the duration), `GetFunctionConcurrency`,
//! `GetAccountSettings`. The only file that knows the Lambda SDK.

use std::time::{Duration, Instant};

use aws_sdk_lambda as lambda;
use base64::Engine as _;
use lambda::error::{ProvideErrorMetadata, SdkError};
use lambda::primitives::Blob;
use lambda::types::{InvocationType, LogType};

use maintenance_engine::probe::{
    AccountConcurrency, Invocation, ProbeError, ResponderProbe, reported_duration,
};

/// How long one invocation may take before the probe gives up (the responder answers in
/// milliseconds; a cold start with SSM hanging takes its 200 ms budget).
const INVOKE_TIMEOUT: Duration = Duration::from_secs(15);

/// The real thing: a Lambda SDK client.
#[derive(Debug, Clone)]
pub struct Lambda {
    client: lambda::Client,
}

impl Lambda {
    /// A client from an SDK configuration.
    pub fn new(config: &aws_config::SdkConfig) -> Self {
        Self {
            client: lambda::Client::new(config),
        }
    }
}

fn call_error<E, R>(operation: &'static str, resource: &str, err: SdkError<E, R>) -> ProbeError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let message = match (err.code(), err.message()) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (Some(code), None) => code.to_string(),
        _ => maintenance_core::causes::chain(&err),
    };
    ProbeError {
        operation,
        resource: resource.to_string(),
        message,
    }
}

impl ResponderProbe for Lambda {
    async fn invoke(&self, function: &str, event: &str) -> Result<Invocation, ProbeError> {
        let started = Instant::now();
        let call = self
            .client
            .invoke()
            .function_name(function)
            .invocation_type(InvocationType::RequestResponse)
            .log_type(LogType::Tail)
            .payload(Blob::new(event.as_bytes().to_vec()))
            .send();
        let out = tokio::time::timeout(INVOKE_TIMEOUT, call)
            .await
            .map_err(|_| ProbeError {
                operation: "Invoke",
                resource: function.to_string(),
                message: format!("no answer within {} s", INVOKE_TIMEOUT.as_secs()),
            })?
            .map_err(|e| call_error("Invoke", function, e))?;
        let tail = out
            .log_result()
            .and_then(|l| base64::engine::general_purpose::STANDARD.decode(l).ok())
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default();
        Ok(Invocation {
            payload: out
                .payload()
                .map(|p| String::from_utf8_lossy(p.as_ref()).into_owned())
                .unwrap_or_default(),
            function_error: out.function_error().map(str::to_string),
            reported: reported_duration(&tail),
            round_trip: started.elapsed(),
        })
    }

    async fn reserved_concurrency(&self, function: &str) -> Result<Option<i32>, ProbeError> {
        self.client
            .get_function_concurrency()
            .function_name(function)
            .send()
            .await
            .map(|out| out.reserved_concurrent_executions())
            .map_err(|e| call_error("GetFunctionConcurrency", function, e))
    }

    async fn account_concurrency(&self) -> Result<AccountConcurrency, ProbeError> {
        let out = self
            .client
            .get_account_settings()
            .send()
            .await
            .map_err(|e| call_error("GetAccountSettings", "the account", e))?;
        let limit = out.account_limit();
        Ok(AccountConcurrency {
            limit: limit.map_or(0, |l| l.concurrent_executions()),
            unreserved: limit.and_then(|l| l.unreserved_concurrent_executions()),
        })
    }
}
