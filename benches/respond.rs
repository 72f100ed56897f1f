//! Event JSON → response JSON, the Lambda's whole per-request work without the runtime:
//! a criterion benchmark per representative event through the pure core, then p50/p99/max over
//! 100 000 timed calls each (criterion reports means; the target is a p99: ≤ 20 µs),
//! twice: through the core rendering every time (`alb_response::handle`), and through the Lambda's own
//! per-event path (`Function::handle_invocation`, which answers repeated decisions from kept
//! renderings).
//!
//! `cargo bench --bench respond` (add `-- --quick` for a shorter criterion run).

use std::hint::black_box;
use std::time::Instant;

use criterion::Criterion;
use maintctl::preview::StaticStore;
use maintenance_core::content::Content;
use maintenance_core::site::Site;
use maintenance_responder::lambda::Function;
use maintenance_responder::lambda::alb_response;

fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/alb/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn events() -> Vec<(&'static str, String)> {
    let mut json_client: serde_json::Value =
        serde_json::from_str(&fixture("seed-get-query.json")).unwrap();
    json_client["headers"]["accept"] = "application/json".into();
    vec![
        ("browser-html", fixture("seed-get-query.json")),
        (
            "multi-value",
            fixture("go-alb-lambda-target-request-multivalue-headers.json"),
        ),
        (
            "both-maps-synthetic",
            fixture("rust-runtime-alb_multi_value_request.json"),
        ),
        ("api-json", json_client.to_string()),
        (
            "health-check",
            fixture("rust-runtime-alb_health_check.json"),
        ),
    ]
}

fn once(raw: &str, content: &Content, site: &Site, now: jiff::Timestamp) -> String {
    let handled = alb_response::handle(raw, content, site, now);
    serde_json::to_string(&handled.alb).expect("serializes")
}

fn main() {
    let site = Site::embedded();
    let content = Content::default();
    let now = jiff::Timestamp::now();
    let mut criterion = Criterion::default().configure_from_args();
    for (name, raw) in events() {
        criterion.bench_function(&format!("event_to_response/{name}"), |b| {
            b.iter(|| once(black_box(&raw), &content, &site, now))
        });
    }
    criterion.final_summary();

    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("tokio runtime");
    let function: Function<StaticStore> = Function::new(Site::embedded(), None);
    let lambda = |raw: &str| {
        let json = runtime.block_on(function.handle_invocation(raw, "bench"));
        serde_json::to_vec(&json).expect("serializes")
    };
    let core = |raw: &str| once(raw, &content, &site, now).into_bytes();
    let mut worst_p99 = 0.0f64;
    for (title, path) in [
        (
            "the core, rendering every time (alb_response::handle)",
            &core as &dyn Fn(&str) -> Vec<u8>,
        ),
        (
            "the Lambda's per-event path (Function::handle_invocation, kept renderings)",
            &lambda,
        ),
    ] {
        println!(
            "\nper-call latency, event JSON -> response JSON, {title} (100000 calls each, after 10000 warm-up):"
        );
        println!("| event | p50 | p99 | max | response bytes |");
        println!("|---|---|---|---|---|");
        for (name, raw) in events() {
            for _ in 0..10_000 {
                black_box(path(&raw));
            }
            let mut samples: Vec<u64> = Vec::with_capacity(100_000);
            let mut bytes = 0;
            for _ in 0..100_000 {
                let started = Instant::now();
                let out = path(black_box(&raw));
                samples.push(started.elapsed().as_nanos() as u64);
                bytes = out.len();
            }
            samples.sort_unstable();
            let at = |q: f64| {
                samples[((samples.len() as f64 * q) as usize).min(samples.len() - 1)] as f64
                    / 1000.0
            };
            if title.starts_with("the Lambda") {
                worst_p99 = worst_p99.max(at(0.99));
            }
            println!(
                "| {name} | {:.1} µs | {:.1} µs | {:.1} µs | {bytes} |",
                at(0.50),
                at(0.99),
                *samples.last().unwrap() as f64 / 1000.0
            );
        }
    }
    let verdict = if worst_p99 <= 20.0 { "PASS" } else { "MISS" };
    println!(
        "\ntarget p99 <= 20 µs on the Lambda's per-event path: {verdict} (worst p99 {worst_p99:.1} µs)"
    );
}
