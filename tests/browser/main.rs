//! The pages in a real headless Chromium, one test binary: [`browser`] every page kind in every
//! language, size and colour scheme, [`bypass_browser`] the bypass link's cookie. The driver is
//! [`chromium`] (`tests/common/chromium.rs`).

#[path = "../common/chromium.rs"]
mod chromium;
#[path = "../common/mod.rs"]
mod common;

mod browser;
mod bypass_browser;
