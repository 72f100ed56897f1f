//! The responder's function as `maintctl doctor` (and the preflight of `maintctl on`) sees it:
//! the small [`ResponderProbe`] trait — invoke the function with an event, read its reserved
//! concurrency and the account's — with its plain types. Its implementation over the Lambda
//! SDK is maintctl's (`maintctl::probe::api::Lambda`, the one file that knows that SDK), so
//! neither Lambda function links it. Tests implement the trait in-process, running the
//! responder's own per-event code.

use std::future::Future;
use std::time::Duration;

/// One invocation of the responder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    /// The function's answer: the ALB response JSON.
    pub payload: String,
    /// Lambda's `FunctionError` (`Unhandled`), if the function failed.
    pub function_error: Option<String>,
    /// The duration Lambda reported for the invocation (its `REPORT` log line), if it did.
    pub reported: Option<Duration>,
    /// Request to answer, as measured here.
    pub round_trip: Duration,
}

/// The account's concurrency (GetAccountSettings).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccountConcurrency {
    /// Concurrent executions the account may run in this region.
    pub limit: i32,
    /// Of those, the ones no function has reserved.
    pub unreserved: Option<i32>,
}

/// A Lambda call failed. The message names the function.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{operation} on {resource} failed: {message}")]
pub struct ProbeError {
    /// API operation, e.g. `Invoke`.
    pub operation: &'static str,
    /// The function, or `the account`.
    pub resource: String,
    /// What went wrong (the AWS code and message when Lambda answered).
    pub message: String,
}

/// What `doctor` asks of the responder's function. Implemented by `maintctl::probe::api::Lambda`;
/// tests run the responder in-process.
pub trait ResponderProbe {
    /// Invokes `function` (an ARN, with its alias) synchronously with `event` (JSON).
    fn invoke(
        &self,
        function: &str,
        event: &str,
    ) -> impl Future<Output = Result<Invocation, ProbeError>> + Send;
    /// The function's reserved concurrency (GetFunctionConcurrency; `None`: none reserved).
    fn reserved_concurrency(
        &self,
        function: &str,
    ) -> impl Future<Output = Result<Option<i32>, ProbeError>> + Send;
    /// The account's concurrency (GetAccountSettings).
    fn account_concurrency(
        &self,
    ) -> impl Future<Output = Result<AccountConcurrency, ProbeError>> + Send;
}

/// The `Duration` of the `REPORT` line in the tail of an invocation's log
/// (`REPORT RequestId: … Duration: 1.23 ms Billed Duration: 2 ms …`).
pub fn reported_duration(log_tail: &str) -> Option<Duration> {
    let report = log_tail.lines().rev().find(|l| l.starts_with("REPORT "))?;
    let field = report
        .split('\t')
        .map(str::trim)
        .find(|f| f.starts_with("Duration: "))?;
    let ms: f64 = field
        .trim_start_matches("Duration: ")
        .trim_end_matches(" ms")
        .trim()
        .parse()
        .ok()?;
    (ms.is_finite() && ms >= 0.0).then(|| Duration::from_secs_f64(ms / 1000.0))
}

/// A function or alias ARN without its qualifier (`…:function:NAME:live` → `…:function:NAME`):
/// what GetFunctionConcurrency takes.
pub fn unqualified(function: &str) -> &str {
    match function.match_indices(':').nth(6) {
        Some((at, _)) if function.contains(":function:") => &function[..at],
        _ => function,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_report_line_gives_the_duration() {
        let tail = "START RequestId: 1 Version: 3\n{\"level\":\"INFO\"}\nEND RequestId: 1\n\
                    REPORT RequestId: 1\tDuration: 1.23 ms\tBilled Duration: 2 ms\tMemory Size: \
                    128 MB\tMax Memory Used: 9 MB\t\n";
        assert_eq!(reported_duration(tail), Some(Duration::from_micros(1230)));
        assert_eq!(reported_duration("no report"), None);
        assert_eq!(
            reported_duration("REPORT RequestId: 1\tBilled Duration: 2 ms"),
            None
        );
    }

    #[test]
    fn qualifiers_are_left_out_for_the_concurrency() {
        let alias =
            "arn:aws:lambda:eu-west-1:123456789012:function:maintenance-responder-prod:live";
        assert_eq!(
            unqualified(alias),
            "arn:aws:lambda:eu-west-1:123456789012:function:maintenance-responder-prod"
        );
        assert_eq!(unqualified(unqualified(alias)), unqualified(alias));
        assert_eq!(unqualified("my-function"), "my-function");
    }
}
