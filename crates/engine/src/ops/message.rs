//! `maintctl message show` and `set`: the page content in SSM Parameter Store, read with the
//! layout and validation the responder reads with ([`maintenance_responder::ssm`]), and written
//! only after every value has been checked and every existing parameter's type is known — a
//! `SecureString` stays a `SecureString` under its own key, a `StringList` is refused before
//! anything is written.

use std::collections::BTreeMap;
use std::fmt;

use jiff::Timestamp;
use serde::Serialize;

use crate::ops::{Outcome, Report};
use maintenance_core::catalog::Catalog;
use maintenance_core::content::{Content, Retry, ValueError};
use maintenance_responder::ssm::{
    self, Change, FetchError, ParameterStore, ParameterWriter, StoredType, Warning, Write,
};

/// Why `message show` or `set` stopped; nothing was written.
#[derive(Debug, thiserror::Error)]
pub enum MessageError {
    /// The prefix is not a parameter path.
    #[error("{0}")]
    Prefix(String),
    /// A value the responder would ignore.
    #[error("{parameter}: {problem}; nothing was written")]
    Invalid {
        /// The parameter (or option) at fault.
        parameter: String,
        /// Why.
        problem: String,
    },
    /// An option's value is not usable.
    #[error("{option}: {problem}; nothing was written")]
    Option {
        /// The option, e.g. `--expected-back`.
        option: &'static str,
        /// Why.
        problem: String,
    },
    /// Reading from SSM failed.
    #[error("failed to read parameters under {prefix}")]
    Read {
        /// The prefix.
        prefix: String,
        /// Why.
        #[source]
        source: FetchError,
    },
    /// A parameter has a type this tool does not overwrite.
    #[error(
        "{parameter} is a {kind} parameter; the responder reads it as one value, so it must be a \
         String or SecureString: delete it (aws ssm delete-parameter --name {parameter}) and set \
         it again; nothing was written"
    )]
    Type {
        /// The parameter.
        parameter: String,
        /// Its stored type.
        kind: StoredType,
    },
    /// A write failed part-way.
    #[error("writing {parameter} failed after {written} of {total} parameters were written")]
    Write {
        /// The parameter that failed.
        parameter: String,
        /// How many were written before it.
        written: usize,
        /// How many were planned.
        total: usize,
        /// Why.
        #[source]
        source: FetchError,
    },
}

/// What `message show` found under a prefix.
#[derive(Debug)]
pub struct ShowReport {
    prefix: String,
    parameters: usize,
    languages: Vec<String>,
    content: Content,
    ignored: Vec<Warning>,
}

/// Reads the content under `prefix` as the responder would, with every value it would ignore.
pub async fn show(
    store: &impl ParameterStore,
    prefix: &str,
    catalog: &Catalog,
    now: Timestamp,
) -> Result<ShowReport, MessageError> {
    maintenance_core::deploy_names::parameters::check_prefix(prefix)
        .map_err(MessageError::Prefix)?;
    let params = store
        .parameters_by_path(prefix)
        .await
        .map_err(|source| MessageError::Read {
            prefix: prefix.to_string(),
            source,
        })?;
    let (content, ignored) = ssm::content_from_parameters(prefix, &params, catalog, now);
    Ok(ShowReport {
        prefix: prefix.to_string(),
        parameters: params.len(),
        languages: catalog.languages().map(str::to_string).collect(),
        content,
        ignored,
    })
}

impl Serialize for ShowReport {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Text<'a> {
            title: &'a str,
            message: &'a str,
        }
        #[derive(Serialize)]
        struct Ignored<'a> {
            parameter: &'a str,
            problem: &'a str,
        }
        #[derive(Serialize)]
        struct Document<'a> {
            prefix: &'a str,
            parameters: usize,
            maintenance: BTreeMap<&'a str, Text<'a>>,
            retry_after: Option<String>,
            status_page: Option<&'a str>,
            contact: Option<&'a str>,
            ignored: Vec<Ignored<'a>>,
        }
        let c = &self.content;
        Document {
            prefix: &self.prefix,
            parameters: self.parameters,
            maintenance: c
                .maintenance
                .iter()
                .map(|(lang, t)| {
                    let text = Text {
                        title: &t.title,
                        message: &t.message,
                    };
                    (lang.as_str(), text)
                })
                .collect(),
            retry_after: c.retry.map(|r| r.to_parameter_value()),
            status_page: c.status_page.as_deref(),
            contact: c.contact.as_deref(),
            ignored: self
                .ignored
                .iter()
                .map(|w| Ignored {
                    parameter: &w.parameter,
                    problem: &w.problem,
                })
                .collect(),
        }
        .serialize(s)
    }
}

impl fmt::Display for ShowReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.content;
        writeln!(
            f,
            "content under {} ({} parameters)",
            self.prefix, self.parameters
        )?;
        for lang in &self.languages {
            match c.maintenance.get(lang) {
                Some(text) => writeln!(
                    f,
                    "  [{lang}] title: {}\n  [{lang}] message: {}",
                    text.title,
                    text.message.replace('\n', "\n           ")
                )?,
                None => writeln!(f, "  [{lang}] (built-in texts)")?,
            }
        }
        match c.retry {
            Some(retry) => writeln!(f, "  retry-after: {}", retry.to_parameter_value())?,
            None => writeln!(f, "  retry-after: (not set: the configured default)")?,
        }
        let none = |v: &Option<String>| v.clone().unwrap_or_else(|| "(none)".into());
        writeln!(f, "  status page: {}", none(&c.status_page))?;
        writeln!(f, "  contact: {}", none(&c.contact))?;
        for w in &self.ignored {
            writeln!(f, "  ignored {}: {}", w.parameter, w.problem)?;
        }
        Ok(())
    }
}

impl Report for ShowReport {
    fn outcome(&self) -> Outcome {
        Outcome::Done
    }
}

/// When the service is expected back, as `message set` is told it.
#[derive(Debug, Clone, Copy)]
pub enum RetryOption<'a> {
    /// `--retry-after SECONDS` (as typed: a negative number gets its own message).
    Seconds(&'a str),
    /// `--expected-back TIME` (RFC 3339).
    Until(&'a str),
}

/// What `message set` is asked to write.
#[derive(Debug, Clone)]
pub struct SetRequest {
    prefix: String,
    writes: Vec<Write>,
    secure: bool,
    dry_run: bool,
}

impl SetRequest {
    /// Validates every value with the responder's own rules (and `retry` against `now`: an end
    /// time in the future, at most a week ahead). `secure`: new parameters are created as
    /// `SecureString` (existing ones keep their type either way).
    pub fn new(
        prefix: &str,
        change: &Change<'_>,
        retry: Option<RetryOption<'_>>,
        secure: bool,
        dry_run: bool,
        catalog: &Catalog,
        now: Timestamp,
    ) -> Result<Self, MessageError> {
        let retry = retry.map(|r| parse_retry(r, now)).transpose()?;
        let change = Change { retry, ..*change };
        let writes =
            ssm::plan_writes(prefix, &change, catalog).map_err(|w| MessageError::Invalid {
                parameter: w.parameter,
                problem: w.problem,
            })?;
        Ok(Self {
            prefix: prefix.to_string(),
            writes,
            secure,
            dry_run,
        })
    }
}

impl SetRequest {
    /// The prefix written under.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The writes, validated, in order.
    pub fn writes(&self) -> &[Write] {
        &self.writes
    }

    /// Nothing is written.
    pub fn dry_run(&self) -> bool {
        self.dry_run
    }
}

fn parse_retry(retry: RetryOption<'_>, now: Timestamp) -> Result<Retry, MessageError> {
    let (option, text) = match retry {
        RetryOption::Seconds(s) => ("--retry-after", s),
        RetryOption::Until(t) => ("--expected-back", t),
    };
    let fail = |problem: String| MessageError::Option { option, problem };
    let parsed = Retry::parse(text, now).map_err(|e| fail(e.to_string()))?;
    match (retry, parsed) {
        (RetryOption::Seconds(_), Retry::Until(_)) => {
            Err(fail(ValueError::Retry(text.into()).to_string()))
        }
        (RetryOption::Until(_), Retry::Seconds(_)) => Err(fail(format!(
            "{text:?} is not an RFC 3339 time (e.g. 2026-11-22T06:00:00Z); for seconds use \
             --retry-after"
        ))),
        (RetryOption::Until(_), Retry::Until(at)) if at <= now => Err(fail(format!(
            "{text} is in the past; give a future end time or use --retry-after"
        ))),
        (_, parsed) => Ok(parsed),
    }
}

/// One planned write and what it found.
#[derive(Debug, Clone, Serialize)]
pub struct PlannedWrite {
    /// Full parameter name.
    pub name: String,
    /// The value.
    pub value: String,
    /// The type it is written as: its own when it exists, else String (SecureString with
    /// `--secure`).
    #[serde(rename = "type")]
    pub kind: String,
    /// False when the parameter exists and is overwritten.
    pub new: bool,
}

/// What `message set` did, or would do.
#[derive(Debug, Clone, Serialize)]
pub struct SetReport {
    /// Nothing was written because it was a dry run.
    pub dry_run: bool,
    /// The writes, in order.
    pub writes: Vec<PlannedWrite>,
}

/// Looks up every parameter's type, then writes, keeping each existing type; a type this tool
/// does not overwrite stops everything before the first write.
pub async fn set(
    client: &impl ParameterWriter,
    request: &SetRequest,
) -> Result<SetReport, MessageError> {
    let names: Vec<String> = request.writes.iter().map(|w| w.name.clone()).collect();
    let existing = client
        .stored_types(&names)
        .await
        .map_err(|source| MessageError::Read {
            prefix: request.prefix.clone(),
            source,
        })?;
    let new_kind = match request.secure {
        true => StoredType::SecureString { key_id: None },
        false => StoredType::String,
    };
    let mut planned = Vec::with_capacity(request.writes.len());
    for write in &request.writes {
        let kind = existing.get(&write.name).cloned();
        if let Some(kind @ StoredType::StringList) = kind {
            return Err(MessageError::Type {
                parameter: write.name.clone(),
                kind,
            });
        }
        planned.push((
            write,
            kind.clone().unwrap_or_else(|| new_kind.clone()),
            kind.is_none(),
        ));
    }
    if !request.dry_run {
        for (written, (write, kind, _)) in planned.iter().enumerate() {
            client
                .put(write, kind)
                .await
                .map_err(|source| MessageError::Write {
                    parameter: write.name.clone(),
                    written,
                    total: planned.len(),
                    source,
                })?;
        }
    }
    Ok(SetReport {
        dry_run: request.dry_run,
        writes: planned
            .into_iter()
            .map(|(w, kind, new)| PlannedWrite {
                name: w.name.clone(),
                value: w.value.clone(),
                kind: kind.to_string(),
                new,
            })
            .collect(),
    })
}

impl fmt::Display for SetReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.writes.is_empty() {
            return writeln!(
                f,
                "nothing to write; give --title, --message, --retry-after, --expected-back, \
                 --status-page or --contact"
            );
        }
        let verb = if self.dry_run { "would write" } else { "wrote" };
        for w in &self.writes {
            let how = if w.new { "new" } else { "kept" };
            writeln!(
                f,
                "{verb} {} = {:?} ({}, {how} type)",
                w.name, w.value, w.kind
            )?;
        }
        if self.dry_run {
            writeln!(f, "dry run: nothing was written")?;
        }
        Ok(())
    }
}

impl Report for SetReport {
    fn outcome(&self) -> Outcome {
        if self.writes.is_empty() {
            Outcome::NothingToDo
        } else {
            Outcome::Done
        }
    }
}
