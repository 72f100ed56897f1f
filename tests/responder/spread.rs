//! The `Retry-After` spread (issue #24): for any announced delay or end time, any moment and any
//! trace id, the header a visitor gets is never before the announced moment, never more than
//! `spread_bound` after it, never negative, and the same for the same trace id; over many trace
//! ids it does spread.

use jiff::{SignedDuration, Timestamp};
use proptest::prelude::*;

use maintenance_core::content::{Content, Retry};
use maintenance_core::respond::decision::{MAX_SPREAD_SECONDS, MIN_SPREAD_SECONDS, spread_bound};
use maintenance_core::respond::request::Request;
use maintenance_core::respond::{respond, retry_after};
use maintenance_core::site::Site;

fn parse_http_date(value: &str) -> Timestamp {
    jiff::fmt::rfc2822::DateTimeParser::new()
        .parse_timestamp(value)
        .unwrap_or_else(|e| panic!("{value:?} is not an HTTP-date: {e}"))
}

fn trace(hex: u128) -> String {
    let hex = format!("{hex:032x}");
    format!("Root=1-{}-{}", &hex[..8], &hex[8..])
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 5_000, failure_persistence: None, ..ProptestConfig::default() })]

    /// Within the bound, after the announced moment, in both forms of the header.
    #[test]
    fn the_spread_is_bounded_and_never_early(
        now_s in 1_700_000_000i64..1_900_000_000,
        now_ns in 0i32..1_000_000_000,
        ahead_ms in -3_600_000i64..(7 * 24 * 3_600_000),
        delay in prop_oneof![0u64..1_000, 0u64..=maintenance_core::content::MAX_RETRY_SECONDS],
        until in any::<bool>(),
        seed in any::<u128>(),
        traced in any::<bool>(),
    ) {
        let site = Site::embedded();
        let now = Timestamp::new(now_s, now_ns).unwrap();
        let retry = if until {
            Retry::Until(now + SignedDuration::from_millis(ahead_ms))
        } else {
            Retry::Seconds(delay)
        };
        let mut request = Request::get("/");
        if traced {
            request = request.with_header("X-Amzn-Trace-Id", &trace(seed));
        }
        let content = Content { retry: Some(retry), ..Content::default() };
        let announced = retry_after(Some(retry), &site, now);
        let response = respond(&request, &content, &site, now);
        let header = response.header("retry-after").expect("the maintenance page has Retry-After");
        let bound = spread_bound(announced.seconds);
        prop_assert!((MIN_SPREAD_SECONDS..=MAX_SPREAD_SECONDS).contains(&bound));
        match announced.expected_back {
            Some(end) => {
                let at = parse_http_date(header);
                // Never before the announced end (the HTTP-date rounds it up to the second)...
                prop_assert!(at >= end && at.as_second() >= end.as_second(), "{header} before {end}");
                // ...and never more than the bound after it.
                let late = at.duration_since(end).as_secs();
                prop_assert!((0..=bound as i64).contains(&late), "{header}: {late} s after {end}, bound {bound}");
            }
            None => {
                // Delta-seconds: digits only (never negative), at least the announced delay.
                prop_assert!(header.bytes().all(|b| b.is_ascii_digit()), "{header}");
                let seconds: u64 = header.parse().unwrap();
                prop_assert!(seconds >= announced.seconds && seconds - announced.seconds <= bound,
                    "{seconds} for {} (bound {bound})", announced.seconds);
            }
        }
        if !traced {
            prop_assert_eq!(header, announced.header(), "no trace id, no spread");
        }
        // The same request, the same answer.
        let again = respond(&request, &content, &site, now);
        prop_assert_eq!(again.header("retry-after"), Some(header));
    }
}

/// Over many visitors the spread covers its range: not one second for everyone.
#[test]
fn many_visitors_come_back_over_the_whole_bound() {
    let site = Site::embedded();
    let now: Timestamp = "2026-12-07T12:00:00Z".parse().unwrap();
    let content = Content {
        retry: Some(Retry::Seconds(900)),
        ..Content::default()
    };
    let bound = spread_bound(900);
    assert_eq!(bound, 90, "a tenth of 15 minutes");
    let mut seen = vec![0u32; bound as usize + 1];
    for i in 0..20_000u128 {
        let request = Request::get("/").with_header("X-Amzn-Trace-Id", &trace(i * 7_919 + 13));
        let response = respond(&request, &content, &site, now);
        let seconds: u64 = response.header("retry-after").unwrap().parse().unwrap();
        seen[(seconds - 900) as usize] += 1;
    }
    // 20,000 over 91 seconds: about 220 each; every second gets some, none gets a crowd.
    let (least, most) = (seen.iter().min().unwrap(), seen.iter().max().unwrap());
    assert!(*least > 120 && *most < 330, "{least}..{most}: {seen:?}");
    // The bounds at both ends.
    assert_eq!(spread_bound(0), MIN_SPREAD_SECONDS);
    assert_eq!(spread_bound(30), MIN_SPREAD_SECONDS);
    assert_eq!(spread_bound(300), 30);
    assert_eq!(spread_bound(7 * 24 * 3600), MAX_SPREAD_SECONDS);
}
