//! The invocation's payload, handed to the function as the Runtime API sent it, so that the
//! event is parsed once per request instead of twice.
//!
//! `lambda_runtime` deserializes every payload into the handler's payload type before the
//! handler runs. With `Box<RawValue>` (the way to see the event as raw JSON, which
//! [`super::alb_event::Event::parse`] needs to read any event without failing) that is a whole
//! parse of the event, a copy of it, and then `Event::parse` parses it again. [`TakePayload`], a
//! layer of the runtime (`Runtime::layer`, the runtime's public middleware API), takes the
//! payload's bytes out of each invocation before that step and leaves the JSON `null` in their
//! place, which the handler's payload type `()` reads at no cost; the handler takes the bytes
//! with [`take`] (a task-local value, so that concurrent invocations never see each other's).
//!
//! [`super::Function::handle_payload`] then reads them exactly as the runtime and
//! [`super::Function::handle_invocation`] did, in one parse for the events an ALB sends: the
//! fast path's parse (`Event::parse_plain`) of the whole payload; when that refuses it,
//! [`first_value`] (what the runtime's `Box<RawValue>` would have held: the first JSON value,
//! without the whitespace around it, or an error that becomes an invocation error as before)
//! and then `Event::parse`. The unit tests below hold the two paths to the same answers.

use std::cell::RefCell;
use std::task::{Context, Poll};

use lambda_runtime::LambdaInvocation;
use lambda_runtime::tower::{Layer, Service};
use serde::Deserialize;
use serde_json::value::RawValue;
use tokio::task::futures::TaskLocalFuture;

tokio::task_local! {
    /// The payload of the invocation being answered, until the handler takes it.
    static PAYLOAD: RefCell<Option<Vec<u8>>>;
}

/// The layer that takes each invocation's payload out before the runtime deserializes it
/// (`Runtime::new(handler).layer(TakePayload)`); the handler, whose payload type is `()`, gets
/// it from [`take`].
#[derive(Debug, Clone, Copy, Default)]
pub struct TakePayload;

impl<S> Layer<S> for TakePayload {
    type Service = TakePayloadService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        TakePayloadService { inner }
    }
}

/// The service of [`TakePayload`]: the runtime's own service, called with `null` as the
/// payload, and the payload itself kept for [`take`] while the invocation is answered.
#[derive(Debug, Clone)]
pub struct TakePayloadService<S> {
    inner: S,
}

impl<S: Service<LambdaInvocation>> Service<LambdaInvocation> for TakePayloadService<S> {
    type Response = S::Response;
    type Error = S::Error;
    type Future = TaskLocalFuture<RefCell<Option<Vec<u8>>>, S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut invocation: LambdaInvocation) -> Self::Future {
        let payload = std::mem::replace(&mut invocation.body, NULL.into());
        // The handler runs when the inner future is polled, within this scope.
        PAYLOAD.scope(
            RefCell::new(Some(Vec::from(payload))),
            self.inner.call(invocation),
        )
    }
}

/// What the runtime deserializes in the payload's place: a valid JSON value that `()` reads.
const NULL: &str = "null";

/// The payload of the invocation being answered, taken by its handler (once: `None` after
/// that, and outside an invocation run through [`TakePayload`]).
pub fn take() -> Option<Vec<u8>> {
    PAYLOAD
        .try_with(|payload| payload.borrow_mut().take())
        .ok()
        .flatten()
}

/// The payload as the runtime reads it into a `Box<RawValue>`: its first JSON value, without
/// the whitespace around it (the runtime reads no further), or the error that makes the
/// invocation fail (not UTF-8, not JSON).
pub fn first_value(payload: &[u8]) -> Result<&RawValue, serde_json::Error> {
    <&RawValue>::deserialize(&mut serde_json::Deserializer::from_slice(payload))
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lambda_events::http;
    use lambda_runtime::service_fn;
    use std::convert::Infallible;

    fn invocation(body: &'static str) -> LambdaInvocation {
        LambdaInvocation {
            parts: http::Response::new(()).into_parts().0,
            body: body.into(),
            context: lambda_runtime::Context::default(),
        }
    }

    /// The runtime's deserialization reads `null`; the handler, run within the invocation,
    /// takes the payload once; concurrent invocations each take their own.
    #[tokio::test]
    async fn the_handler_takes_its_own_payload_and_the_runtime_reads_null() {
        let inner = service_fn(|invocation: LambdaInvocation| async move {
            assert_eq!(&invocation.body[..], NULL.as_bytes());
            tokio::task::yield_now().await;
            let payload = take();
            assert_eq!(take(), None, "taken once");
            Ok::<_, Infallible>(payload)
        });
        let mut service = TakePayload.layer(inner);
        let first = service.call(invocation(r#"{"httpMethod":"GET"}"#));
        let second = service.call(invocation(" [1] "));
        let (first, second) = tokio::join!(first, second);
        assert_eq!(
            first.unwrap().as_deref(),
            Some(&br#"{"httpMethod":"GET"}"#[..])
        );
        assert_eq!(second.unwrap().as_deref(), Some(&b" [1] "[..]));
        assert_eq!(take(), None, "outside an invocation");
    }

    /// `first_value` is what the runtime's `Box<RawValue>` held: the first value, trimmed;
    /// anything JSON (lone surrogate escapes too); an error only for what is not.
    #[test]
    fn the_first_value_is_what_the_runtime_captured() {
        let runtime = |payload: &[u8]| {
            let jd = &mut serde_json::Deserializer::from_slice(payload);
            Box::<RawValue>::deserialize(jd).map(|raw| raw.get().to_string())
        };
        let payloads: [&[u8]; 9] = [
            br#"{"httpMethod":"GET"}"#,
            b" \n\t{\"a\": [1, 2]} \r\n",
            br#"{"a":1} {"b":2}"#,
            br#"{"a":1} trailing text"#,
            br#""\ud800""#,
            b"null",
            b"not json",
            b"{\"a\":\"\xff\"}",
            b"",
        ];
        for payload in payloads {
            let ours = first_value(payload).map(|raw| raw.get().to_string());
            match (ours, runtime(payload)) {
                (Ok(ours), Ok(theirs)) => assert_eq!(ours, theirs),
                (Err(_), Err(_)) => {}
                (ours, theirs) => panic!("{payload:?}: {ours:?} against {theirs:?}"),
            }
        }
        assert!(first_value(b"not json").is_err());
        assert_eq!(first_value(b" {\"a\":1} x").unwrap().get(), "{\"a\":1}");
    }
}
