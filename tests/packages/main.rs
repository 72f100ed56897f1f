//! The Lambda packages `scripts/package` writes, one test binary: [`package`] both functions'
//! zips read back and run (x86_64), [`arm64`] the arm64 ones under qemu.

#[path = "../automation/mod.rs"]
mod automation;
#[path = "../common/mod.rs"]
mod common;

mod arm64;
mod package;
