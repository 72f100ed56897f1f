//! The bypass link's token itself: where it is kept ([`TokenStore`]), how a new one is made
//! ([`new_token`], from the operating system's CSPRNG), how it is kept out of every message
//! ([`scrub`]), and why the token step cannot start ([`TokenError`]).

use base64::Engine as _;

use maintenance_core::content::BypassToken;
use maintenance_responder::ssm::{FetchError, ParameterStore, ParameterWriter, StoredType};

/// Where the token goes: the responder's content in SSM. The SSM client is one.
pub trait TokenStore: ParameterStore + ParameterWriter {}

impl<T: ParameterStore + ParameterWriter> TokenStore for T {}

/// Random bytes in a token: 256 bits. As URL-safe base64 without padding that is 43
/// characters; compared without case (as the ALB compares) more than 200 bits are left.
pub const TOKEN_BYTES: usize = 32;

/// Why the token step cannot start. Messages never hold a token.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The operating system's random number generator failed.
    #[error(
        "no bypass token could be generated: the operating system's random number generator failed ({0})"
    )]
    Random(String),
    /// How the token parameter is stored could not be read.
    #[error(
        "failed to read how {parameter} is stored (ssm:DescribeParameters); pass \
         --no-bypass-link to switch without a bypass link"
    )]
    Read {
        /// The parameter.
        parameter: String,
        /// Why.
        #[source]
        source: FetchError,
    },
    /// The token parameter exists with a type that would show the token.
    #[error(
        "{parameter} is a {kind} parameter, but the bypass token must be a SecureString: delete \
         it (aws ssm delete-parameter --name {parameter}) and run the command again"
    )]
    Type {
        /// The parameter.
        parameter: String,
        /// Its type.
        kind: StoredType,
    },
}

/// A new token: [`TOKEN_BYTES`] from the operating system's CSPRNG, URL-safe base64.
pub fn new_token() -> Result<BypassToken, TokenError> {
    let mut bytes = [0u8; TOKEN_BYTES];
    getrandom::fill(&mut bytes).map_err(|e| TokenError::Random(e.to_string()))?;
    let text = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    BypassToken::parse(&text).map_err(|e| TokenError::Random(e.to_string()))
}

/// `text` with every occurrence of `token` replaced by `(token)`, compared without case (as an
/// echo by the ALB might spell it).
pub fn scrub(text: &str, token: &BypassToken) -> String {
    let needle = token.expose().to_ascii_lowercase();
    let lower = text.to_ascii_lowercase();
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    while let Some(i) = lower[at..].find(&needle) {
        out.push_str(&text[at..at + i]);
        out.push_str("(token)");
        at += i + needle.len();
    }
    out.push_str(&text[at..]);
    out
}
