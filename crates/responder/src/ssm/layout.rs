//! The parameter layout under a prefix as content: parameters turned into `Content` with
//! per-value validation ([`content_from_parameters`], each bad value a [`Warning`]), and the
//! writes `maintctl message set` makes, all validated first ([`plan_writes`]).

use jiff::Timestamp;

use super::store::{Parameter, Write};
use maintenance_core::admission::{ReturnState, ReturnStateError};
use maintenance_core::catalog::Catalog;
use maintenance_core::content::Text;
use maintenance_core::content::{
    self, BypassToken, Content, ContentState, DisplayZone, Retry, ValueError, check_link,
    check_message, check_title,
};
use maintenance_core::deploy_names::parameters;

/// A parameter that was ignored, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// Full parameter name.
    pub parameter: String,
    /// What is wrong.
    pub problem: String,
}

/// Builds content from the parameters under `prefix`. Values are validated one by one; a bad
/// value is skipped with a warning and the rest still apply. A language with only a title or
/// only a message takes the other from the built-in texts. `now` bounds an end time
/// ([`Retry::parse`]).
pub fn content_from_parameters(
    prefix: &str,
    params: &[Parameter],
    catalog: &Catalog,
    now: Timestamp,
) -> (Content, Vec<Warning>) {
    let mut content = Content {
        state: ContentState::Fresh {
            age_seconds: 0,
            parameters: params.len(),
        },
        ..Content::default()
    };
    let mut warnings = Vec::new();
    let mut warn = |name: &str, problem: String| {
        warnings.push(Warning {
            parameter: name.to_string(),
            problem,
        });
    };
    let mut titles = Vec::new();
    let mut messages = Vec::new();
    let base = format!("{prefix}/");
    for p in params {
        let Some(key) = p.name.strip_prefix(&base) else {
            warn(&p.name, "outside the prefix; ignored".into());
            continue;
        };
        let result: Result<(), ValueError> = match key {
            parameters::RETRY_AFTER => Retry::parse(&p.value, now).map(|r| content.retry = Some(r)),
            parameters::STATUS_PAGE => check_link(p.value.trim(), false)
                .map(|()| content.status_page = Some(p.value.trim().into())),
            parameters::CONTACT => check_link(p.value.trim(), true)
                .map(|()| content.contact = Some(p.value.trim().into())),
            parameters::BYPASS_TOKEN => {
                BypassToken::parse(&p.value).map(|t| content.bypass_token = Some(t))
            }
            parameters::RETURN_STATE => {
                match ReturnState::parse(&p.value) {
                    Ok(state) => content.return_state = Some(state),
                    Err(problem) => warn(&p.name, return_state_problem(&problem)),
                }
                Ok(())
            }
            parameters::TIMEZONE => DisplayZone::load(
                &p.value,
                &maintenance_core::content::zoneinfo_dir(
                    std::env::var(maintenance_core::deploy_names::function::TZDIR_VAR).ok(),
                ),
            )
            .map(|z| content.time_zone = Some(z)),
            // The switching side's own parameters (the lease): not content, not a mistake.
            _ if key.starts_with(&format!("{}/", parameters::SWITCH_DIR)) => Ok(()),
            _ => match key.split_once('/') {
                Some((lang, field @ (parameters::TITLE | parameters::MESSAGE))) => {
                    match language(lang, catalog) {
                        Err(e) => Err(e),
                        Ok(lang) if field == parameters::TITLE => {
                            let title = p.value.trim();
                            check_title(title).map(|()| titles.push((lang, title.to_string())))
                        }
                        Ok(lang) => {
                            let message = content::normalize_message(&p.value);
                            check_message(&message).map(|()| messages.push((lang, message)))
                        }
                    }
                }
                _ => {
                    warn(&p.name, "not part of the layout (expected {lang}/title, {lang}/message, retry-after, links/status-page, links/contact, bypass/token, return/state); ignored".into());
                    Ok(())
                }
            },
        };
        if let Err(problem) = result {
            warn(&p.name, format!("{problem}; ignored"));
        }
    }
    for (lang, title) in titles {
        maintenance_text(&mut content, lang, catalog).title = title;
    }
    for (lang, message) in messages {
        maintenance_text(&mut content, lang, catalog).message = message;
    }
    (content, warnings)
}

/// Why a return state is ignored, without anything of the value: the JSON parser's message
/// may quote the value, which holds the admission token.
fn return_state_problem(problem: &ReturnStateError) -> String {
    match problem {
        ReturnStateError::Json(_) => {
            "return state is not the JSON object maintctl writes (the parser's words are left \
             out: the value holds a secret); no gradual return applies; ignored"
                .to_string()
        }
        other => format!("{other}; no gradual return applies; ignored"),
    }
}

/// The maintenance text of a language, started from the built-in one, so a language given only
/// a title or only a message takes the other from the catalog.
fn maintenance_text<'a>(content: &'a mut Content, lang: String, catalog: &Catalog) -> &'a mut Text {
    content.maintenance.entry(lang).or_insert_with_key(|lang| {
        catalog.pack(lang).map_or_else(
            || Text {
                title: String::new(),
                message: String::new(),
            },
            |p| p.maintenance.clone(),
        )
    })
}

/// A language directory name that the catalog has texts for, in the catalog's spelling.
fn language(tag: &str, catalog: &Catalog) -> Result<String, ValueError> {
    if !content::is_language_tag(tag) {
        return Err(ValueError::LanguageTag(tag.chars().take(40).collect()));
    }
    catalog
        .canonical_tag(tag)
        .map(str::to_string)
        .ok_or_else(|| {
            ValueError::UnknownLanguage(
                tag.to_string(),
                catalog.languages().collect::<Vec<_>>().join(", "),
            )
        })
}

/// What `maintctl message set` was asked to change; `None` leaves a value as it is.
#[derive(Debug, Clone, Copy, Default)]
pub struct Change<'a> {
    /// Language of the title and message (default `en`).
    pub lang: Option<&'a str>,
    /// New maintenance title.
    pub title: Option<&'a str>,
    /// New maintenance message.
    pub message: Option<&'a str>,
    /// New retry value.
    pub retry: Option<Retry>,
    /// New status page link.
    pub status_page: Option<&'a str>,
    /// New contact link.
    pub contact: Option<&'a str>,
}

/// Validates and plans writes: every value is checked with the same rules the responder reads
/// with, so nothing is written that the responder would ignore. All or nothing.
pub fn plan_writes(
    prefix: &str,
    change: &Change<'_>,
    catalog: &Catalog,
) -> Result<Vec<Write>, Warning> {
    let Change {
        lang,
        title,
        message,
        retry,
        status_page,
        contact,
    } = *change;
    parameters::check_prefix(prefix).map_err(|problem| Warning {
        parameter: prefix.into(),
        problem,
    })?;
    let mut writes = Vec::new();
    let fail = |name: String, problem: ValueError| Warning {
        parameter: name,
        problem: problem.to_string(),
    };
    if title.is_some() || message.is_some() {
        let raw = lang.unwrap_or("en");
        let lang = language(raw, catalog).map_err(|p| fail(format!("{prefix}/{raw}"), p))?;
        if let Some(title) = title {
            let name = format!("{prefix}/{lang}/{}", parameters::TITLE);
            check_title(title.trim()).map_err(|p| fail(name.clone(), p))?;
            writes.push(Write {
                name,
                value: title.trim().into(),
            });
        }
        if let Some(message) = message {
            let name = format!("{prefix}/{lang}/{}", parameters::MESSAGE);
            let message = content::normalize_message(message);
            check_message(&message).map_err(|p| fail(name.clone(), p))?;
            writes.push(Write {
                name,
                value: message,
            });
        }
    }
    if let Some(retry) = retry {
        writes.push(Write {
            name: format!("{prefix}/{}", parameters::RETRY_AFTER),
            value: retry.to_parameter_value(),
        });
    }
    if let Some(url) = status_page {
        let name = format!("{prefix}/{}", parameters::STATUS_PAGE);
        check_link(url, false).map_err(|p| fail(name.clone(), p))?;
        writes.push(Write {
            name,
            value: url.into(),
        });
    }
    if let Some(url) = contact {
        let name = format!("{prefix}/{}", parameters::CONTACT);
        check_link(url, true).map_err(|p| fail(name.clone(), p))?;
        writes.push(Write {
            name,
            value: url.into(),
        });
    }
    Ok(writes)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: Timestamp = jiff::Timestamp::constant(1_795_320_000, 0); // 2026-11-22T04:00:00Z

    fn p(name: &str, value: &str) -> Parameter {
        Parameter {
            name: name.into(),
            value: value.into(),
        }
    }

    #[test]
    fn layout_parses_and_bad_values_are_skipped_by_name() {
        let catalog = Catalog::embedded();
        let params = [
            p("/m/app/en/title", "Upgrading the database"),
            p("/m/app/ja/message", "データベースを更新中です。"),
            p("/m/app/retry-after", "2026-11-22T06:00:00Z"),
            p("/m/app/links/status-page", "https://status.example.com"),
            p("/m/app/links/contact", "javascript:alert(1)"),
            p("/m/app/de/title", "Wartung"),
            p("/m/app/en/message", &"x".repeat(5000)),
            p("/m/app/whatever", "1"),
            p("/other/en/title", "x"),
        ];
        let (content, warnings) = content_from_parameters("/m/app", &params, &catalog, NOW);
        assert_eq!(content.maintenance["en"].title, "Upgrading the database");
        assert_eq!(
            content.maintenance["en"].message,
            catalog.pack("en").unwrap().maintenance.message
        );
        assert_eq!(
            content.maintenance["ja"].message,
            "データベースを更新中です。"
        );
        assert_eq!(
            content.maintenance["ja"].title,
            catalog.pack("ja").unwrap().maintenance.title
        );
        assert!(matches!(content.retry, Some(Retry::Until(_))));
        assert_eq!(
            content.status_page.as_deref(),
            Some("https://status.example.com")
        );
        assert_eq!(content.contact, None);
        let named: Vec<_> = warnings.iter().map(|w| w.parameter.as_str()).collect();
        assert_eq!(
            named,
            [
                "/m/app/links/contact",
                "/m/app/de/title",
                "/m/app/en/message",
                "/m/app/whatever",
                "/other/en/title"
            ]
        );
        assert!(
            warnings[2].problem.contains("5000 characters"),
            "{:?}",
            warnings[2]
        );
    }

    #[test]
    fn hostile_values_are_refused_or_harmless() {
        let catalog = Catalog::embedded();
        let params = [
            p("/m/en/title", "Down\r\nSet-Cookie: x=1"),
            p("/m/retry-after", "-30"),
            p("/m/ja/title", "<script>alert(1)</script>"),
        ];
        let (content, warnings) = content_from_parameters("/m", &params, &catalog, NOW);
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(!content.maintenance.contains_key("en"));
        assert_eq!(content.retry, None);
        // markup is kept as text; the pages escape it (tested in respond and tests/)
        assert_eq!(content.maintenance["ja"].title, "<script>alert(1)</script>");
    }

    /// Issue #16, items 6 and 11, at the SSM layer: an end time years ahead and text that would
    /// not show what it says are ignored with a warning naming the parameter.
    #[test]
    fn far_end_times_and_invisible_text_are_ignored_by_name() {
        let catalog = Catalog::embedded();
        let params = [
            p("/m/retry-after", "9999-12-31T23:59:59Z"),
            p("/m/en/title", "\u{200B}"),
            p("/m/en/message", "We are \u{202E}gnitadpu\u{202C}."),
            p("/m/ja/title", "メンテナンス\u{2028}中"),
            p("/m/timezone", "Asia/Tokio"),
        ];
        let (content, warnings) = content_from_parameters("/m", &params, &catalog, NOW);
        assert_eq!(content.retry, None);
        assert!(content.maintenance.is_empty(), "{:?}", content.maintenance);
        let named: Vec<(&str, &str)> = warnings
            .iter()
            .map(|w| (w.parameter.as_str(), w.problem.as_str()))
            .collect();
        assert_eq!(named.len(), 5, "{named:?}");
        assert!(
            named[4].0 == "/m/timezone" && named[4].1.contains("Asia/Tokio"),
            "{named:?}"
        );
        let (content, warnings) =
            content_from_parameters("/m", &[p("/m/timezone", "Europe/Berlin")], &catalog, NOW);
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(
            content.time_zone.as_ref().map(|z| z.name()),
            Some("Europe/Berlin")
        );
        assert!(
            named[0].0 == "/m/retry-after" && named[0].1.contains("one week"),
            "{named:?}"
        );
        assert!(named[1].1.contains("U+200B"), "{named:?}");
        assert!(named[2].1.contains("U+202E"), "{named:?}");
        assert!(named[3].1.contains("U+2028"), "{named:?}");
    }

    /// Issue #24: the return state is read with the content; a bad one is ignored with a
    /// warning that never holds the token, and the rest of the content still applies.
    #[test]
    fn the_return_state_is_content_and_a_bad_one_is_ignored_without_its_token() {
        let catalog = Catalog::embedded();
        let token = "QWRtaXNzaW9uLXRva2VuLTIwMjY";
        let good = format!(
            r#"{{"id":"ret-1","token":"{token}","step":2,"share_percent":25,"ends_at":"2026-11-22T05:00:00Z"}}"#
        );
        let (content, warnings) = content_from_parameters(
            "/m",
            &[p("/m/return/state", &good), p("/m/en/title", "Back soon")],
            &catalog,
            NOW,
        );
        assert!(warnings.is_empty(), "{warnings:?}");
        let state = content.return_state.expect("read");
        assert_eq!((state.step, state.share_percent), (2, 25));
        for bad in [
            format!(r#"{{"id":"ret-1","token":"{token}","step":"{token}"}}"#),
            format!(
                r#"{{"id":"ret-1","token":"{token}","step":1,"share_percent":101,"ends_at":"2026-11-22T05:00:00Z"}}"#
            ),
            format!("garbage {token}"),
            String::new(),
        ] {
            let (content, warnings) = content_from_parameters(
                "/m",
                &[p("/m/return/state", &bad), p("/m/en/title", "Back soon")],
                &catalog,
                NOW,
            );
            assert_eq!(content.return_state, None, "{bad}");
            assert_eq!(content.maintenance["en"].title, "Back soon");
            assert_eq!(warnings.len(), 1, "{warnings:?}");
            assert_eq!(warnings[0].parameter, "/m/return/state");
            assert!(!warnings[0].problem.contains(token), "{warnings:?}");
        }
    }

    #[test]
    fn prefix_rules() {
        for good in ["/maintenance/shop", "/a", "/a.b/c-d/e_f"] {
            assert!(parameters::check_prefix(good).is_ok(), "{good}");
        }
        for bad in ["", "/", "maintenance", "/a/", "/a//b", "/a b", "/a/*"] {
            assert!(parameters::check_prefix(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn plan_writes_validates_everything_first() {
        let catalog = Catalog::embedded();
        let ok = plan_writes(
            "/m",
            &Change {
                lang: Some("ja"),
                title: Some("メンテナンス"),
                message: Some("a\r\nb"),
                retry: Some(Retry::Seconds(600)),
                status_page: None,
                contact: Some("mailto:ops@example.com"),
            },
            &catalog,
        )
        .unwrap();
        let names: Vec<_> = ok.iter().map(|w| w.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "/m/ja/title",
                "/m/ja/message",
                "/m/retry-after",
                "/m/links/contact"
            ]
        );
        assert_eq!(ok[1].value, "a\nb");
        let err = plan_writes(
            "/m",
            &Change {
                lang: Some("de"),
                title: Some("x"),
                ..Change::default()
            },
            &catalog,
        )
        .unwrap_err();
        assert!(err.problem.contains("no built-in texts"), "{err:?}");
        let err = plan_writes(
            "/m",
            &Change {
                title: Some("x\ny"),
                ..Change::default()
            },
            &catalog,
        )
        .unwrap_err();
        assert_eq!(err.parameter, "/m/en/title");
        let err = plan_writes(
            "/m",
            &Change {
                status_page: Some("http://insecure"),
                ..Change::default()
            },
            &catalog,
        )
        .unwrap_err();
        assert_eq!(err.parameter, "/m/links/status-page");
    }
}
