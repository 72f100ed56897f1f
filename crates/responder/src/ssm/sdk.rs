//! The SSM SDK client as each of the traits ([`ParameterStore`], [`ParameterWriter`],
//! [`LockParameters`]): the only file of the crate that knows the SSM SDK's calls and errors.

use aws_sdk_ssm::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_ssm::types::ParameterType;

use super::store::{
    FetchError, HistoryParameters, LockParameters, Parameter, ParameterPage, ParameterStore,
    ParameterWriter, StoredType, Version, Write,
};

fn classify<E, R>(err: SdkError<E, R>) -> FetchError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match &err {
        SdkError::TimeoutError(_) => FetchError::SdkTimeout(maintenance_core::causes::chain(&err)),
        SdkError::DispatchFailure(d) if d.is_timeout() => {
            FetchError::SdkTimeout(maintenance_core::causes::chain(&err))
        }
        SdkError::DispatchFailure(_) => {
            FetchError::Unreachable(maintenance_core::causes::chain(&err))
        }
        _ => {
            let code = err.code().unwrap_or("Unknown").to_string();
            let message = err.message().unwrap_or("").to_string();
            if code == "ThrottlingException"
                || code == "Throttling"
                || code == "TooManyRequestsException"
            {
                FetchError::Throttled(format!("{code}: {message}"))
            } else {
                FetchError::Service(format!("{code}: {message}"))
            }
        }
    }
}

impl ParameterStore for aws_sdk_ssm::Client {
    async fn parameters_page(
        &self,
        path: &str,
        token: Option<&str>,
    ) -> Result<ParameterPage, FetchError> {
        // GetParametersByPath is best-effort per page: a page may be short (even empty) and
        // still carry a NextToken, so callers follow tokens until there is none.
        let page = self
            .get_parameters_by_path()
            .path(path)
            .recursive(true)
            .with_decryption(true)
            .max_results(10)
            .set_next_token(token.map(str::to_string))
            .send()
            .await
            .map_err(classify)?;
        let parameters = page
            .parameters
            .unwrap_or_default()
            .into_iter()
            .filter_map(|p| {
                Some(Parameter {
                    name: p.name?,
                    value: p.value?,
                })
            })
            .collect();
        Ok(ParameterPage {
            parameters,
            next_token: page.next_token,
        })
    }
}

impl ParameterWriter for aws_sdk_ssm::Client {
    async fn stored_types(
        &self,
        names: &[String],
    ) -> Result<std::collections::BTreeMap<String, StoredType>, FetchError> {
        use aws_sdk_ssm::types::ParameterStringFilter;
        let mut out = std::collections::BTreeMap::new();
        // DescribeParameters, not GetParameters: it also tells a SecureString's key, which an
        // overwrite must name again to keep it.
        for chunk in names.chunks(50) {
            let filter = ParameterStringFilter::builder()
                .key("Name")
                .option("Equals")
                .set_values(Some(chunk.to_vec()))
                .build()
                .map_err(|e| FetchError::Service(e.to_string()))?;
            let mut token: Option<String> = None;
            loop {
                let page = self
                    .describe_parameters()
                    .parameter_filters(filter.clone())
                    .set_next_token(token.take())
                    .send()
                    .await
                    .map_err(classify)?;
                for p in page.parameters.unwrap_or_default() {
                    let Some(name) = p.name else { continue };
                    let kind = match p.r#type {
                        Some(ParameterType::SecureString) => {
                            StoredType::SecureString { key_id: p.key_id }
                        }
                        Some(ParameterType::StringList) => StoredType::StringList,
                        _ => StoredType::String,
                    };
                    out.insert(name, kind);
                }
                match page.next_token {
                    Some(t) if !t.is_empty() => token = Some(t),
                    _ => break,
                }
            }
        }
        Ok(out)
    }

    async fn put(&self, write: &Write, kind: &StoredType) -> Result<(), FetchError> {
        let (kind, key_id) = match kind {
            StoredType::String => (ParameterType::String, None),
            StoredType::SecureString { key_id } => (ParameterType::SecureString, key_id.clone()),
            StoredType::StringList => (ParameterType::StringList, None),
        };
        self.put_parameter()
            .name(&write.name)
            .value(&write.value)
            .r#type(kind)
            .set_key_id(key_id)
            .overwrite(true)
            .send()
            .await
            .map(|_| ())
            .map_err(classify)
    }
}

impl LockParameters for aws_sdk_ssm::Client {
    async fn create_new(&self, name: &str, value: &str) -> Result<bool, FetchError> {
        let result = self
            .put_parameter()
            .name(name)
            .value(value)
            .r#type(ParameterType::String)
            .overwrite(false)
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if e.code() == Some("ParameterAlreadyExists") => Ok(false),
            Err(e) => Err(classify(e)),
        }
    }

    async fn read(&self, name: &str) -> Result<Option<(String, Option<i64>)>, FetchError> {
        match self.get_parameter().name(name).send().await {
            Ok(out) => Ok(out.parameter.and_then(|p| {
                let modified = p.last_modified_date.map(|d| d.secs());
                p.value.map(|v| (v, modified))
            })),
            Err(e) if e.code() == Some("ParameterNotFound") => Ok(None),
            Err(e) => Err(classify(e)),
        }
    }

    async fn delete(&self, name: &str) -> Result<bool, FetchError> {
        match self.delete_parameter().name(name).send().await {
            Ok(_) => Ok(true),
            Err(e) if e.code() == Some("ParameterNotFound") => Ok(false),
            Err(e) => Err(classify(e)),
        }
    }

    async fn overwrite(&self, name: &str, value: &str) -> Result<(), FetchError> {
        self.put_parameter()
            .name(name)
            .value(value)
            .r#type(ParameterType::String)
            .overwrite(true)
            .send()
            .await
            .map(|_| ())
            .map_err(classify)
    }
}

impl HistoryParameters for aws_sdk_ssm::Client {
    async fn versions(&self, name: &str) -> Result<Vec<Version>, FetchError> {
        // GetParameterHistory pages oldest first, at most 50 a page. Parameter Store retains
        // the 100 most recent versions and deletes the oldest when a new one is written, unless
        // it has a label (SSM API reference, ParameterMaxVersionLimitExceeded): a few pages.
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        for _ in 0..10 {
            let page = self
                .get_parameter_history()
                .name(name)
                .max_results(50)
                .set_next_token(token.take())
                .send()
                .await;
            let page = match page {
                Ok(page) => page,
                Err(e) if e.code() == Some("ParameterNotFound") => return Ok(Vec::new()),
                Err(e) => return Err(classify(e)),
            };
            out.extend(
                page.parameters
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(|p| {
                        Some(Version {
                            written: p.last_modified_date.map(|d| d.secs()),
                            value: p.value?,
                        })
                    }),
            );
            match page.next_token {
                Some(t) if !t.is_empty() => token = Some(t),
                _ => break,
            }
        }
        Ok(out)
    }
}
