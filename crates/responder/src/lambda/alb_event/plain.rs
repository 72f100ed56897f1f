//! The fast path of [`super::Event::parse`] for the events an ALB actually sends: one pass over
//! the JSON that borrows its strings, with no `HeaderMap` in between.
//!
//! It accepts only events whose reading is beyond doubt: every field the typed
//! `aws_lambda_events` parse reads has exactly the JSON type that parse expects, header names
//! and values are ones `http` accepts, no header name repeats within a map, and no map is over
//! [`MAX_HEADERS`]. Anything else returns `None`, and the typed parse (then the lenient walk)
//! reads the event as before. Where it accepts, the result is the typed parse's, field for field:
//! tests/responder/alb.rs checks that over generated and mutated events.

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};

use super::event::{Event, HeaderMode, MAX_HEADERS, MAX_READ_VALUES, ParseKind, clean_path};
use maintenance_core::respond::request::{
    READ_HEADERS, READ_QUERY, Request, is_read, kept_value, query_string,
};

/// Reads a plain ALB event, or `None` when the event needs the full parse.
pub(super) fn parse(raw: &str) -> Option<Event> {
    let event: PlainEvent<'_> = serde_json::from_str(raw).ok()?;
    let method = event.http_method.0;
    if method.is_empty() || method.len() > 32 || !method.bytes().all(|b| b.is_ascii_alphabetic()) {
        return None;
    }
    let single = event.headers.map(|h| h.0).unwrap_or_default();
    let multi = event.multi_value_headers.map(|h| h.0).unwrap_or_default();
    let multi_values: usize = multi.iter().map(|(_, v)| v.0.len()).sum();
    if single.len() > MAX_HEADERS || multi_values > MAX_HEADERS {
        return None;
    }
    // A repeated name (within a map, in any case) is merged by the typed parse; leave it to it.
    if repeats(single.iter().map(|(n, _)| &*n.0)) || repeats(multi.iter().map(|(n, _)| &*n.0)) {
        return None;
    }
    // Every name and value is checked as the typed parse would; only the ones the core reads
    // are kept.
    let mut headers: Vec<(String, String)> = Vec::with_capacity(READ_HEADERS.len());
    for (name, value) in &single {
        if !valid_name(&name.0) || !valid_value(&value.0) {
            return None;
        }
        if is_read(&name.0)
            && let Some(value) = kept_value(&name.0, &value.0)
        {
            headers.push((name.0.to_ascii_lowercase(), value));
        }
    }
    for (name, Strings(values)) in &multi {
        if !valid_name(&name.0) || !values.iter().all(|v| valid_value(&v.0)) {
            return None;
        }
        if is_read(&name.0) {
            let lower = name.0.to_ascii_lowercase();
            headers.extend(
                values
                    .iter()
                    .filter_map(|v| Some((lower.clone(), kept_value(&name.0, &v.0)?))),
            );
        }
    }
    headers.truncate(MAX_READ_VALUES);
    let mode = HeaderMode::from_maps(
        !single.is_empty() || event.query_string_parameters.entries > 0,
        multi_values > 0 || event.multi_value_query_string_parameters.entries > 0,
    );
    Some(Event {
        request: Request {
            method: method.to_ascii_uppercase(),
            path: clean_path(event.path.as_ref().map(|p| p.0.as_ref())),
            headers,
            query: if event.query_string_parameters.entries > 0 {
                event.query_string_parameters.query()
            } else {
                event.multi_value_query_string_parameters.query()
            },
            next: event
                .query_string_parameters
                .next
                .or(event.multi_value_query_string_parameters.next),
            target_group_arn: event
                .request_context
                .elb
                .target_group_arn
                .map(|a| a.0.into_owned()),
        },
        mode,
        parse: ParseKind::Typed,
    })
}

/// Whether a name comes twice, compared case-insensitively (maps are small: a pairwise look).
fn repeats<'a>(names: impl Iterator<Item = &'a str>) -> bool {
    let mut seen: Vec<&str> = Vec::with_capacity(16);
    for name in names {
        if seen.iter().any(|s| s.eq_ignore_ascii_case(name)) {
            return true;
        }
        seen.push(name);
    }
    false
}

/// A header name as `http::HeaderName::from_bytes` accepts it (it lower-cases it): token
/// characters.
fn valid_name(name: &str) -> bool {
    let token = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    !name.is_empty() && name.len() <= 1024 && name.bytes().all(token)
}

/// A header value as `http::HeaderValue::from_str` accepts it: no control characters but tab.
fn valid_value(value: &str) -> bool {
    value
        .bytes()
        .all(|b| (b >= 0x20 && b != 0x7f) || b == b'\t')
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PlainEvent<'a> {
    #[serde(borrow)]
    http_method: Text<'a>,
    #[serde(default, borrow)]
    path: Option<Text<'a>>,
    #[serde(default)]
    query_string_parameters: Query<false>,
    #[serde(default)]
    multi_value_query_string_parameters: Query<true>,
    #[serde(default, borrow)]
    headers: Option<Entries<'a, Text<'a>>>,
    #[serde(default, borrow)]
    multi_value_headers: Option<Entries<'a, Strings<'a>>>,
    #[serde(borrow)]
    request_context: Context<'a>,
    #[serde(default)]
    #[allow(dead_code)]
    is_base64_encoded: Option<bool>,
    #[serde(default)]
    #[allow(dead_code)]
    body: Option<AnyText>,
}

#[derive(Deserialize)]
struct Context<'a> {
    #[serde(borrow)]
    elb: Elb<'a>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Elb<'a> {
    #[serde(default, borrow)]
    target_group_arn: Option<Text<'a>>,
}

/// A JSON string, borrowed from the event when it holds no escapes.
struct Text<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(v.to_string())))
            }
        }
        d.deserialize_str(V)
    }
}

/// A JSON string whose text is not needed.
struct AnyText;

impl<'de> Deserialize<'de> for AnyText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = AnyText;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
                Ok(AnyText)
            }
        }
        d.deserialize_str(V)
    }
}

/// A JSON object's entries in order: `headers` (string values) and `multiValueHeaders`
/// (non-empty arrays of strings).
struct Entries<'a, V>(Vec<(Text<'a>, V)>);

impl<'de: 'a, 'a, V: Deserialize<'de>> Deserialize<'de> for Entries<'a, V> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit<V>(std::marker::PhantomData<V>);
        impl<'de, V: Deserialize<'de>> Visitor<'de> for Visit<V> {
            type Value = Entries<'de, V>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Self::Value, M::Error> {
                let mut out = Vec::with_capacity(16);
                while let Some(entry) = map.next_entry()? {
                    out.push(entry);
                }
                Ok(Entries(out))
            }
        }
        d.deserialize_map(Visit(std::marker::PhantomData))
    }
}

/// A non-empty array of strings.
struct Strings<'a>(Vec<Text<'a>>);

impl<'de: 'a, 'a> Deserialize<'de> for Strings<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Strings<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a non-empty array of strings")
            }
            fn visit_seq<S: SeqAccess<'de>>(self, mut seq: S) -> Result<Self::Value, S::Error> {
                let mut out = Vec::with_capacity(1);
                while let Some(value) = seq.next_element()? {
                    out.push(value);
                }
                if out.is_empty() {
                    return Err(de::Error::invalid_length(0, &self));
                }
                Ok(Strings(out))
            }
        }
        d.deserialize_seq(V)
    }
}

/// A query map: strings (`MULTI = false`) or non-empty arrays of strings (`MULTI = true`),
/// read for its number of entries, the one parameter the core reads (`next`, its first
/// value) and its pairs (for the query string). Missing means empty; `null` or any other shape
/// is refused.
#[derive(Default)]
struct Query<const MULTI: bool> {
    entries: usize,
    next: Option<String>,
    pairs: Vec<(String, String)>,
}

impl<const MULTI: bool> Query<MULTI> {
    /// The query string, as every reader of an event builds it.
    fn query(&self) -> Option<String> {
        query_string(self.pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
    }
}

impl<'de, const MULTI: bool> Deserialize<'de> for Query<MULTI> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<const MULTI: bool>;
        impl<'de, const MULTI: bool> Visitor<'de> for V<MULTI> {
            type Value = Query<MULTI>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a query parameter object")
            }
            fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Self::Value, M::Error> {
                let mut query = Query::default();
                while let Some(key) = map.next_key::<Text<'de>>()? {
                    let values = if MULTI {
                        map.next_value::<Strings<'de>>()?.0
                    } else {
                        vec![map.next_value::<Text<'de>>()?]
                    };
                    if key.0 == READ_QUERY && query.next.is_none() {
                        query.next = values.first().map(|v| v.0.to_string());
                    }
                    // A name given twice: the later values, as the typed parse's map keeps them.
                    query.pairs.retain(|(k, _)| *k != *key.0);
                    for value in values {
                        query.pairs.push((key.0.to_string(), value.0.into_owned()));
                    }
                    query.entries += 1;
                }
                Ok(query)
            }
        }
        d.deserialize_map(V::<MULTI>)
    }
}
