//! The traits content is read and written through ([`ParameterStore`], [`ParameterWriter`],
//! [`LockParameters`]) and the types they speak ([`Parameter`], [`ParameterPage`],
//! [`FetchError`], [`StoredType`], [`Write`]): no SDK type, so tests and the preview can stand
//! in.

use std::future::Future;

/// One parameter write planned by `maintctl message set`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Write {
    /// Full parameter name.
    pub name: String,
    /// New value, already validated.
    pub value: String,
}

/// One parameter as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parameter {
    /// Full name, `/maintenance/shop/en/title`.
    pub name: String,
    /// Value (decrypted).
    pub value: String,
}

/// Why a fetch failed; the cache backs off on any of them and keeps the last good content.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    /// `ThrottlingException`: the account's shared SSM rate is used up.
    #[error("ssm throttled the request: {0}")]
    Throttled(String),
    /// No connection, DNS, TLS or I/O failure.
    #[error("ssm is unreachable: {0}")]
    Unreachable(String),
    /// The time budget ran out.
    #[error("ssm did not answer within {0} ms")]
    Timeout(u64),
    /// The SDK's own timeout (connect or operation, set to the budget) ran out.
    #[error("ssm did not answer in time: {0}")]
    SdkTimeout(String),
    /// Any other error answer (access denied, internal error, …).
    #[error("ssm answered with an error: {0}")]
    Service(String),
}

/// One page of parameters and the token of the next page, if there is one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParameterPage {
    /// The parameters of this page.
    pub parameters: Vec<Parameter>,
    /// Where the next page starts; `None` on the last page.
    pub next_token: Option<String>,
}

/// Reads parameters by path, a page at a time (`GetParametersByPath`: recursive, decrypted).
/// The AWS SDK client implements it; the preview has stores of its own, and tests inject faults.
pub trait ParameterStore: Send + Sync {
    /// One page of the parameters under `path`, from `token` (`None`: the first page).
    fn parameters_page(
        &self,
        path: &str,
        token: Option<&str>,
    ) -> impl Future<Output = Result<ParameterPage, FetchError>> + Send;

    /// Every parameter under `path`, following every page (at most 1000: beyond, the prefix is
    /// not the layout).
    fn parameters_by_path(
        &self,
        path: &str,
    ) -> impl Future<Output = Result<Vec<Parameter>, FetchError>> + Send {
        async move {
            let mut out = Vec::new();
            let mut token: Option<String> = None;
            for _ in 0..1000 {
                let page = self.parameters_page(path, token.as_deref()).await?;
                out.extend(page.parameters);
                match page.next_token {
                    Some(t) if !t.is_empty() => token = Some(t),
                    _ => break,
                }
            }
            Ok(out)
        }
    }
}

/// How a parameter is stored, as `maintctl message set` keeps it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "type")]
pub enum StoredType {
    /// Plain text.
    String,
    /// Encrypted with a KMS key; `key_id` is the key, `None` the account's `alias/aws/ssm`.
    SecureString {
        /// The KMS key, as SSM reports it.
        #[serde(skip_serializing_if = "Option::is_none")]
        key_id: Option<String>,
    },
    /// A comma-separated list: not a type the layout uses (a title with a comma would read
    /// as two values); `message set` refuses to overwrite it.
    StringList,
}

impl std::fmt::Display for StoredType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::String => "String",
            Self::SecureString { .. } => "SecureString",
            Self::StringList => "StringList",
        })
    }
}

/// Writes parameters for `maintctl message set`, keeping each one's type: the SDK client
/// implements it; tests inject faults.
pub trait ParameterWriter: Send + Sync {
    /// The stored type of each of `names` that exists (absent names are left out).
    fn stored_types(
        &self,
        names: &[String],
    ) -> impl Future<Output = Result<std::collections::BTreeMap<String, StoredType>, FetchError>> + Send;

    /// Writes one value as `kind`, overwriting.
    fn put(
        &self,
        write: &Write,
        kind: &StoredType,
    ) -> impl Future<Output = Result<(), FetchError>> + Send;
}

/// The switching side's own parameters under `{prefix}/switch/`: the lease
/// (`maintenance_engine::ops::lease`), created only when absent (`PutParameter` without `Overwrite`, which
/// fails atomically with `ParameterAlreadyExists` when the name exists), read back, and
/// deleted; and the owner record (`maintenance_engine::ops::owners`), overwritten under the lease. The SDK
/// client implements it; tests wrap it to inject faults.
pub trait LockParameters: Send + Sync {
    /// Creates `name` holding `value` (a `String`) unless it exists: `Ok(true)` when created,
    /// `Ok(false)` when it exists already.
    fn create_new(
        &self,
        name: &str,
        value: &str,
    ) -> impl Future<Output = Result<bool, FetchError>> + Send;

    /// The value of `name` and when it was last written (Unix seconds), `None` when absent.
    fn read(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<Option<(String, Option<i64>)>, FetchError>> + Send;

    /// Deletes `name`: `Ok(false)` when it did not exist.
    fn delete(&self, name: &str) -> impl Future<Output = Result<bool, FetchError>> + Send;

    /// Writes `value` (a `String`) as `name`, whether it exists or not: the record the switching
    /// side keeps beside the lease (`crate::ops::owners`), written while the lease is held.
    fn overwrite(
        &self,
        name: &str,
        value: &str,
    ) -> impl Future<Output = Result<(), FetchError>> + Send;
}

/// One stored version of a parameter, as `GetParameterHistory` returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    /// Its value.
    pub value: String,
    /// When it was written (Unix seconds), when SSM says.
    pub written: Option<i64>,
}

/// The history of a parameter whose versions are a log (`{prefix}/switch/history`, written with
/// [`LockParameters::overwrite`]: every write is one more version). The SDK client implements
/// it; tests may stand in.
pub trait HistoryParameters: LockParameters {
    /// Every stored version of `name`, oldest first (SSM keeps the last 100); empty when the
    /// parameter does not exist.
    fn versions(&self, name: &str)
    -> impl Future<Output = Result<Vec<Version>, FetchError>> + Send;
}
