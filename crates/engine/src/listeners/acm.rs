//! The names on a listener's certificates, from ACM (`DescribeCertificate`): the one file that
//! talks to the ACM SDK. [`Acm`] is held by `crate::listeners::Aws`, which answers
//! `Listeners::certificate_names` with it; the bypass link takes its host from these names.
//! Certificates that are not ACM's (IAM server certificates) have no names here.

use aws_sdk_acm::error::{ProvideErrorMetadata, SdkError};

use crate::listeners::ListenersError;

/// An ACM client.
#[derive(Debug, Clone)]
pub struct Acm(aws_sdk_acm::Client);

impl Acm {
    /// A client from one SDK configuration.
    pub fn new(config: &aws_config::SdkConfig) -> Self {
        Self(aws_sdk_acm::Client::new(config))
    }

    /// The certificate's domain name, then its other subject alternative names, each once;
    /// nothing for a certificate that is not ACM's.
    pub async fn names(&self, certificate: &str) -> Result<Vec<String>, ListenersError> {
        if !certificate.contains(":acm:") {
            return Ok(Vec::new());
        }
        let out = self
            .0
            .describe_certificate()
            .certificate_arn(certificate)
            .send()
            .await
            .map_err(|e| call_error(certificate, e))?;
        let Some(detail) = out.certificate() else {
            return Ok(Vec::new());
        };
        let mut names: Vec<String> = detail
            .domain_name()
            .map(str::to_string)
            .into_iter()
            .collect();
        for name in detail.subject_alternative_names() {
            if !names.contains(name) {
                names.push(name.clone());
            }
        }
        Ok(names)
    }
}

fn call_error<E, R>(certificate: &str, err: SdkError<E, R>) -> ListenersError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    let code = err.code().map(str::to_string);
    let message = match (&code, err.message()) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (Some(code), None) => code.clone(),
        _ => maintenance_core::causes::chain(&err),
    };
    ListenersError::Call {
        operation: "DescribeCertificate",
        resource: certificate.to_string(),
        code,
        message,
        outcome_unknown: false,
    }
}
