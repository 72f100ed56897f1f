//! Content in SSM Parameter Store: the parameter layout under a prefix, reading it
//! (`GetParametersByPath`, recursive, decrypted, every page), turning parameters into
//! [`Content`] with per-value validation, and writing it back for `maintctl message set`.
//!
//! Layout under `{prefix}` (see also [`maintenance_core::deploy_names::parameters`]):
//!
//! | parameter | value |
//! |---|---|
//! | `{prefix}/{lang}/title` | maintenance title in language `lang` (`en`, `ja`, …) |
//! | `{prefix}/{lang}/message` | maintenance message; blank lines separate paragraphs |
//! | `{prefix}/retry-after` | seconds (`900`) or an RFC 3339 end time (`2026-11-22T06:00:00Z`) |
//! | `{prefix}/links/status-page` | `https://` URL |
//! | `{prefix}/links/contact` | `https://` or `mailto:` URL |
//!
//! A bad value is ignored with a [`Warning`] naming the parameter; the others are still used.
//!
//! The layout as content is [`layout`]'s; the traits it is read and written through are
//! [`store`]'s; their implementations over the SDK client are [`sdk`]'s.

pub mod layout;
pub mod sdk;
pub mod store;

pub use layout::{Change, Warning, content_from_parameters, plan_writes};
pub use store::{
    FetchError, HistoryParameters, LockParameters, Parameter, ParameterPage, ParameterStore,
    ParameterWriter, StoredType, Version, Write,
};
