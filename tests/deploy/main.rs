//! The deployment files, one test binary: [`templates`] the SAM template and the Terraform
//! module read as AWS reads them (names, IAM, alarms, linters), [`terraform`] both deployed
//! against moto (Terraform applied, SAM translated and created) with `maintctl` switching what
//! they made, [`acceptance`] `scripts/aws-acceptance`'s whole run against moto (`--emulator`).

#[path = "../common/mod.rs"]
mod common;

mod acceptance;
mod templates;
mod terraform;
