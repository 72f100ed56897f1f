//! What `maintctl` records in tags, and how: the displaced-priority record on the maintenance
//! rule ([`DISPLACED`] and its overflow keys, [`encode_displaced`], [`decode_displaced`]), rule
//! ids as the record names them ([`rule_id`]), free text made safe as a tag value
//! ([`tag_value`], at most [`MAX_TAG_VALUE`] characters), and names that must be stored as
//! given or refused ([`environment_name`]). The tag keys themselves are in
//! `maintenance_core::deploy_names::tags`, shared with the infrastructure templates.

use std::collections::BTreeMap;

use crate::planner::priorities::MAX_PRIORITY;

/// Tag key (and prefix of its overflow keys `…-2`, `…-3`, …) on the maintenance rule recording
/// the rules `on` displaced: space-separated `RULE_ID=PRIORITY` pairs, where `RULE_ID` is the
/// last segment of the rule's ARN. Empty when nothing is displaced.
pub const DISPLACED: &str = "maintenance-responder:displaced";
/// Longest tag value ELBv2 accepts.
pub const MAX_TAG_VALUE: usize = 256;
/// Most overflow keys used for [`DISPLACED`] (well inside the 50 tags a resource may have).
const MAX_DISPLACED_KEYS: usize = 30;

/// The displaced-rule record does not fit in the tags it may use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("too many displaced rules to record ({rules}): make room above the existing rules instead")]
pub struct TooManyDisplaced {
    /// How many rules the record would name.
    pub rules: usize,
}

/// The last segment of a rule ARN (its id).
pub fn rule_id(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

fn displaced_key(n: usize) -> String {
    if n == 0 {
        DISPLACED.to_string()
    } else {
        format!("{DISPLACED}-{}", n + 1)
    }
}

/// Encodes a displaced-rule record as tags: [`DISPLACED`], then `…-2`, `…-3`, … as needed so
/// that each value stays within [`MAX_TAG_VALUE`]. Keys listed in `clear` and not needed now
/// are set to the empty string.
pub fn encode_displaced(
    entries: &BTreeMap<String, u32>,
    clear: &[String],
) -> Result<Vec<(String, String)>, TooManyDisplaced> {
    let mut values: Vec<String> = vec![String::new()];
    for (id, home) in entries {
        let item = format!("{id}={home}");
        let current = values.last_mut().expect("one value");
        if current.is_empty() {
            current.push_str(&item);
        } else if current.len() + 1 + item.len() <= MAX_TAG_VALUE {
            current.push(' ');
            current.push_str(&item);
        } else {
            values.push(item);
        }
    }
    if values.len() > MAX_DISPLACED_KEYS {
        return Err(TooManyDisplaced {
            rules: entries.len(),
        });
    }
    let mut out: Vec<(String, String)> = values
        .into_iter()
        .enumerate()
        .map(|(i, v)| (displaced_key(i), v))
        .collect();
    for key in clear {
        if !out.iter().any(|(k, _)| k == key) {
            out.push((key.clone(), String::new()));
        }
    }
    Ok(out)
}

/// Decodes the displaced-rule record from the maintenance rule's tags: rule id → priority.
pub fn decode_displaced(tags: &BTreeMap<String, String>) -> Result<BTreeMap<String, u32>, String> {
    let mut out = BTreeMap::new();
    for (key, value) in tags.iter().filter(|(k, _)| is_displaced_key(k)) {
        for item in value.split_whitespace() {
            let parsed = item
                .split_once('=')
                .and_then(|(id, p)| Some((id, p.parse::<u32>().ok()?)))
                .filter(|(id, p)| !id.is_empty() && (1..=MAX_PRIORITY).contains(p));
            let Some((id, p)) = parsed else {
                return Err(format!(
                    "tag {key} has {item:?}, not RULE_ID=PRIORITY: fix the tag, or set it to \
                     the empty string to forget the record"
                ));
            };
            out.insert(id.to_string(), p);
        }
    }
    Ok(out)
}

/// True for [`DISPLACED`] and its overflow keys `…-2`, `…-3`, ….
pub fn is_displaced_key(key: &str) -> bool {
    key == DISPLACED
        || key
            .strip_prefix(DISPLACED)
            .and_then(|rest| rest.strip_prefix('-'))
            .is_some_and(|n| n.parse::<u32>().is_ok())
}

/// The [`DISPLACED`] keys a rule's tags hold now.
pub fn displaced_keys(tags: &BTreeMap<String, String>) -> Vec<String> {
    tags.keys()
        .filter(|k| is_displaced_key(k))
        .cloned()
        .collect()
}

/// The characters an ELBv2 tag value may hold besides letters and digits, as told to people.
pub const TAG_VALUE_ALPHABET: &str =
    "letters, digits, spaces and _ . : / = + - @, at most 256 characters";

/// True for a character [`tag_value`] keeps.
fn tag_safe(c: char) -> bool {
    c.is_alphanumeric() || c == ' ' || "_.:/=+-@".contains(c)
}

/// Checks an environment name: it is stored as a tag value and found again by equality, so it
/// must be one as given — not empty, only [`TAG_VALUE_ALPHABET`] — rather than be changed
/// silently. The error says what is wrong and what is allowed.
pub fn environment_name(text: &str) -> Result<String, String> {
    let problem = if text.trim().is_empty() {
        Some("it is empty".to_string())
    } else if text.chars().count() > MAX_TAG_VALUE {
        Some(format!("it has {} characters", text.chars().count()))
    } else {
        text.chars()
            .find(|&c| !tag_safe(c))
            .map(|c| format!("{c:?} is not allowed"))
    };
    match problem {
        None => Ok(text.to_string()),
        Some(problem) => Err(format!(
            "environment {text:?} cannot be stored as a tag as it is ({problem}): use \
             {TAG_VALUE_ALPHABET}"
        )),
    }
}

/// Makes free text safe as an ELBv2 tag value: characters outside letters, digits, spaces and
/// `_ . : / = + - @` become `_`, and the result is cut to [`MAX_TAG_VALUE`] characters.
pub fn tag_value(text: &str) -> String {
    text.chars()
        .map(|c| if tag_safe(c) { c } else { '_' })
        .take(MAX_TAG_VALUE)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displaced_record_round_trips_and_spills_over() {
        let entries: BTreeMap<String, u32> = (0..40)
            .map(|i| (format!("{:016x}", 0xabc000 + i), 1 + i as u32))
            .collect();
        let tags = encode_displaced(&entries, &[]).unwrap();
        assert!(tags.len() > 1, "40 entries need several tags");
        assert!(tags.iter().all(|(_, v)| v.len() <= MAX_TAG_VALUE));
        assert_eq!(tags[0].0, DISPLACED);
        assert_eq!(tags[1].0, format!("{DISPLACED}-2"));
        let map: BTreeMap<String, String> = tags.into_iter().collect();
        assert_eq!(decode_displaced(&map).unwrap(), entries);
    }

    #[test]
    fn clearing_the_record_empties_every_key() {
        let clear = vec![DISPLACED.to_string(), format!("{DISPLACED}-2")];
        let tags = encode_displaced(&BTreeMap::new(), &clear).unwrap();
        assert_eq!(
            tags,
            vec![
                (DISPLACED.into(), String::new()),
                (format!("{DISPLACED}-2"), String::new())
            ]
        );
        let map: BTreeMap<String, String> = tags.into_iter().collect();
        assert!(decode_displaced(&map).unwrap().is_empty());
    }

    #[test]
    fn bad_record_is_reported() {
        let map = BTreeMap::from([(DISPLACED.to_string(), "abc=x".to_string())]);
        assert!(
            decode_displaced(&map)
                .unwrap_err()
                .contains("RULE_ID=PRIORITY")
        );
        assert!(!is_displaced_key("maintenance-responder:displaced-x"));
    }

    #[test]
    fn environment_names_are_taken_as_given_or_refused() {
        for good in [
            "shop-prod",
            "prod/eu blue",
            "Käse_2",
            "a@b:c=d+e.f",
            &"x".repeat(256),
        ] {
            assert_eq!(environment_name(good).as_deref(), Ok(good));
        }
        let err = environment_name("prod/eu (blue)*").unwrap_err();
        assert!(
            err.contains("'(' is not allowed") && err.contains("_ . : / = + - @"),
            "{err}"
        );
        assert!(environment_name("").unwrap_err().contains("empty"));
        assert!(environment_name("  ").unwrap_err().contains("empty"));
        assert!(environment_name("tab\there").is_err());
        assert!(
            environment_name(&"x".repeat(257))
                .unwrap_err()
                .contains("257 characters")
        );
    }

    #[test]
    fn tag_values_are_made_safe() {
        assert_eq!(
            tag_value("deploy v2, DB (ticket #12)"),
            "deploy v2_ DB _ticket _12_"
        );
        assert_eq!(
            tag_value("arn:aws:sts::1:assumed-role/ops/jane@example.com"),
            "arn:aws:sts::1:assumed-role/ops/jane@example.com"
        );
        assert_eq!(tag_value(&"x".repeat(300)).len(), MAX_TAG_VALUE);
        assert_eq!(tag_value("Wartung für Käse"), "Wartung für Käse");
    }
}
