//! The page's content, one test binary: [`ssm`] the content from SSM Parameter Store over the
//! wire and its cache, [`cli`] `maintctl invoke` and `message set|show`, [`fallback`] the
//! fixed-response fallback page rendered from the content, [`release`] what installing a
//! release gives (version, CHANGELOG, licences, completions, manual pages).

#[path = "../common/mod.rs"]
mod common;

mod cli;
mod fallback;
mod release;
mod ssm;
