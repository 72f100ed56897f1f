//! Build step: the embedded `config/content.toml` and `config/responder.toml` (at the top of the
//! checkout, beside the templates) are also written to `OUT_DIR` as JSON, so that a cold start
//! reads them with serde_json (≈ 100 µs less than parsing TOML at start). The TOML files stay
//! the source; a syntax error in them fails the build here. `src/catalog.rs` and
//! `src/config.rs` check that both forms read the same.

use std::path::Path;

fn main() {
    let out = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    for (source, target) in [
        ("../../config/content.toml", "content.json"),
        ("../../config/responder.toml", "responder.json"),
    ] {
        println!("cargo:rerun-if-changed={source}");
        let text = std::fs::read_to_string(source).unwrap_or_else(|e| panic!("{source}: {e}"));
        let value: toml::Value = toml::from_str(&text).unwrap_or_else(|e| panic!("{source}: {e}"));
        let json = serde_json::to_string(&value).expect("TOML values are JSON values");
        std::fs::write(Path::new(&out).join(target), json)
            .unwrap_or_else(|e| panic!("{target}: {e}"));
    }
}
