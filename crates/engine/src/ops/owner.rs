//! Who a switch is made for ([`Owner`]: a person, a window, an alarm, an alarm on the
//! responder), and the tags of the maintenance rule that say it ([`owner_tags`]). Who owns the
//! maintenance as a whole is `crate::ops::owners`' record.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::planner::{Direction, Live, tag_value};
use maintenance_core::deploy_names::tags;

/// Who a switch is made for, and so who owns the maintenance a switch on leaves.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "name", rename_all = "kebab-case")]
pub enum Owner {
    /// A person (`maintctl on` / `off`): an off ends any maintenance; an on belongs to no
    /// window or alarm.
    #[default]
    Person,
    /// A window (its id): `maintctl schedule`, `on --until`, the schedules' switches.
    Window(String),
    /// A CloudWatch alarm (its name): the switch function on ALARM and OK.
    Alarm(String),
    /// An alarm on the responder (the switch function's fallback alarms): it changes only
    /// which page is live while maintenance is on — `live` is the page it puts in front — and
    /// owns nothing: the maintenance keeps its owner (`crate::ops::owners`, `decide_page`).
    PageAlarm {
        /// The alarm's name.
        alarm: String,
        /// The page it puts live: the fallback page on ALARM, the responder's on OK.
        live: Live,
    },
}

impl std::fmt::Display for Owner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Owner::Person => f.write_str("a person"),
            Owner::Window(w) => write!(f, "window {w}"),
            Owner::Alarm(a) => write!(f, "alarm {a}"),
            Owner::PageAlarm { alarm, live } => write!(f, "alarm {alarm} (putting {live} live)"),
        }
    }
}

impl Owner {
    /// The tag an on by this owner sets, and its value (`None` for a person).
    fn tag(&self) -> Option<(&'static str, String)> {
        match self {
            Owner::Person => None,
            Owner::Window(w) => Some((tags::WINDOW, tag_value(w))),
            Owner::Alarm(a) => Some((tags::ALARM, tag_value(a))),
            Owner::PageAlarm { .. } => None,
        }
    }
}

/// The owner tags a switch writes with its record: on by a window or an alarm sets that tag;
/// every other switch empties both. A tag that is neither set nor already on the rule is not
/// written, so that a plain switch adds no tag keys (a rule's tag quota counts keys).
pub fn owner_tags(
    owner: &Owner,
    direction: Direction,
    current: &BTreeMap<String, String>,
) -> Vec<(String, String)> {
    let present = |key: &str| current.get(key).is_some_and(|v| !v.is_empty());
    if let Owner::PageAlarm { alarm, live } = owner {
        // The page changes, the owner stays: only the fallback alarm's own tag is written.
        let value = match live {
            Live::Fallback => tag_value(alarm),
            Live::Responder => String::new(),
        };
        return (!value.is_empty() || present(tags::FALLBACK_ALARM))
            .then(|| (tags::FALLBACK_ALARM.to_string(), value))
            .into_iter()
            .collect();
    }
    let mut written: Vec<(String, String)> = Vec::new();
    // Any other switch ends what a fallback alarm did (off parks the fallback page; a
    // person's or window's on chooses the page itself).
    if present(tags::FALLBACK_ALARM) {
        written.push((tags::FALLBACK_ALARM.to_string(), String::new()));
    }
    let set = match direction {
        Direction::On => owner.tag(),
        Direction::Off => None,
    };
    [tags::WINDOW, tags::ALARM]
        .into_iter()
        .filter_map(|key| {
            let value = match &set {
                Some((k, v)) if *k == key => v.clone(),
                _ => String::new(),
            };
            (!value.is_empty() || present(key)).then(|| (key.to_string(), value))
        })
        .chain(written)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owner_tags_set_what_an_on_owns_and_clear_the_rest_without_new_keys() {
        let none = BTreeMap::new();
        let w = Owner::Window("w-1".into());
        let a = Owner::Alarm("shop down".into());
        assert!(owner_tags(&Owner::Person, Direction::On, &none).is_empty());
        assert!(owner_tags(&w, Direction::Off, &none).is_empty());
        assert_eq!(
            owner_tags(&w, Direction::On, &none),
            [(tags::WINDOW.to_string(), "w-1".to_string())]
        );
        let mut tagged = BTreeMap::new();
        tagged.insert(tags::WINDOW.to_string(), "w-1".to_string());
        tagged.insert(tags::ALARM.to_string(), String::new());
        assert_eq!(
            owner_tags(&a, Direction::On, &tagged),
            [
                (tags::WINDOW.to_string(), String::new()),
                (tags::ALARM.to_string(), "shop down".to_string())
            ]
        );
        assert_eq!(
            owner_tags(&Owner::Person, Direction::Off, &tagged),
            [(tags::WINDOW.to_string(), String::new())]
        );
    }

    #[test]
    fn owner_tags_of_an_alarm_on_the_responder_touch_only_its_own_tag() {
        let page = |live| Owner::PageAlarm {
            alarm: "mr throttles".into(),
            live,
        };
        let owned: BTreeMap<String, String> = [
            (tags::WINDOW.to_string(), "w-1".to_string()),
            (tags::ALARM.to_string(), "shop down".to_string()),
        ]
        .into();
        // The fallback page: the alarm's tag set; the window's and the owning alarm's stay.
        assert_eq!(
            owner_tags(&page(Live::Fallback), Direction::On, &owned),
            [(tags::FALLBACK_ALARM.to_string(), "mr throttles".to_string())]
        );
        // Back to the responder's page: emptied when present, no new key when not.
        let mut swapped = owned.clone();
        swapped.insert(tags::FALLBACK_ALARM.into(), "mr throttles".into());
        assert_eq!(
            owner_tags(&page(Live::Responder), Direction::On, &swapped),
            [(tags::FALLBACK_ALARM.to_string(), String::new())]
        );
        assert!(owner_tags(&page(Live::Responder), Direction::On, &owned).is_empty());
        // Any other switch ends what the alarm did: off, or a person's on.
        for (owner, direction) in [
            (Owner::Person, Direction::Off),
            (Owner::Person, Direction::On),
        ] {
            let written = owner_tags(&owner, direction, &swapped);
            assert!(
                written.contains(&(tags::FALLBACK_ALARM.to_string(), String::new())),
                "{owner} {direction}: {written:?}"
            );
        }
    }
}
