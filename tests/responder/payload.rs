//! The Lambda's payload path (`Function::handle_payload`, the payload as the Runtime API sent
//! it, issue #25) against the path it replaced (the runtime's raw capture into a
//! `Box<RawValue>`, then `Function::handle`): the same answer to every payload, or an invocation
//! error for both, over every ALB fixture and generated edits of them.

use crate::alb::fixtures;

use maintctl::preview::StaticStore;
use maintenance_core::site::Site;
use maintenance_responder::lambda::Function;
use proptest::prelude::*;
use serde::Deserialize;
use serde_json::value::RawValue;

/// What the responder answered before: the runtime's capture of the payload (its first JSON
/// value, or a deserialization error, an invocation error), then `Function::handle`.
fn through_the_capture(function: &Function<StaticStore>, payload: &[u8]) -> Option<String> {
    let jd = &mut serde_json::Deserializer::from_slice(payload);
    let raw = Box::<RawValue>::deserialize(jd).ok()?;
    Some(block_on(function.handle(raw.get())).get().to_string())
}

fn through_the_payload_path(function: &Function<StaticStore>, payload: &[u8]) -> Option<String> {
    let answer = block_on(function.handle_payload(payload, "")).ok()?;
    Some(answer.get().to_string())
}

fn block_on<F: std::future::Future>(future: F) -> F::Output {
    static RUNTIME: std::sync::OnceLock<tokio::runtime::Runtime> = std::sync::OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_current_thread()
                .build()
                .unwrap()
        })
        .block_on(future)
}

fn function() -> &'static Function<StaticStore> {
    static FUNCTION: std::sync::OnceLock<Function<StaticStore>> = std::sync::OnceLock::new();
    FUNCTION.get_or_init(|| Function::new(Site::embedded(), None))
}

#[test]
fn every_fixture_and_odd_payload_gets_the_answer_the_capture_gave() {
    let mut payloads: Vec<Vec<u8>> = fixtures().iter().map(|f| f.as_bytes().to_vec()).collect();
    let first = fixtures()[0].clone();
    payloads.extend(
        [
            format!(" \n{first}\t "),
            format!("{first} {first}"),
            format!("{first}trailing"),
            r#"{"httpMethod":"GET","path":"/\ud800"}"#.into(),
            "[]".into(),
            "null".into(),
            "\"text\"".into(),
            "not json".into(),
            String::new(),
        ]
        .map(String::into_bytes),
    );
    payloads.push(b"{\"httpMethod\":\"GET\",\"path\":\"/\xff\"}".to_vec());
    let function = function();
    for payload in &payloads {
        assert_eq!(
            through_the_payload_path(function, payload),
            through_the_capture(function, payload),
            "payload: {}",
            String::from_utf8_lossy(payload)
        );
    }
    assert!(through_the_payload_path(function, b"not json").is_none());
    assert!(through_the_payload_path(function, fixtures()[0].as_bytes()).is_some());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 10_000, failure_persistence: None, ..ProptestConfig::default() })]

    /// Fixtures edited at random (bytes replaced, cut, inserted, whitespace and text around):
    /// the payload path answers each exactly as the capture did.
    #[test]
    fn edited_payloads_get_the_answer_the_capture_gave(
        which in 0usize..64,
        edits in prop::collection::vec((0usize..4096, 0u8..4, any::<u8>()), 0..4),
        before in prop::sample::select(vec!["", " ", "\n\t"]),
        after in prop::sample::select(vec!["", " \r\n", " {}", "x", "\u{0}"]),
    ) {
        let fixtures = fixtures();
        let mut payload = before.as_bytes().to_vec();
        payload.extend_from_slice(fixtures[which % fixtures.len()].as_bytes());
        for (at, kind, byte) in edits {
            let at = at % (payload.len() + 1);
            match kind {
                0 if at < payload.len() => payload[at] = byte,
                1 if at < payload.len() => {
                    payload.remove(at);
                }
                2 => payload.insert(at, byte),
                _ => payload.insert(at, b"\"{}[],:\\ "[usize::from(byte) % 9]),
            }
        }
        payload.extend_from_slice(after.as_bytes());
        let function = function();
        prop_assert_eq!(
            through_the_payload_path(function, &payload),
            through_the_capture(function, &payload),
            "payload: {}",
            String::from_utf8_lossy(&payload)
        );
    }
}
