//! The gradual return's shared vocabulary (`maintctl off --gradual`): the state the switching
//! side writes to `{prefix}/return/state` ([`ReturnState`]) and the responder reads; a
//! visitor's place in the queue ([`Ticket`]); and who is let through ([`Ticket::admitted`]).
//!
//! How a return works, in one place: while maintenance ends in steps, the listener holds
//! *admission rules* above the maintenance rule, one beside each application rule (and one for
//! the listener's default action), each with that rule's conditions plus an `http-header`
//! condition on `Cookie` matching `*maint_admit=TOKEN*`, forwarding where the application rule
//! forwards. Everyone else still reaches the responder, which gives each new visitor a ticket
//! (a number below [`Ticket::COUNT`], kept in the [`TICKET_COOKIE`] cookie) and lets through the
//! visitors whose ticket is below the current share: it sets the [`ADMIT_COOKIE`] cookie with
//! the token and sends them back to the same address, where an admission rule now takes them
//! to the application. Raising the share only ever adds tickets, so nobody let through is sent
//! back to the page by a later step; an abort deletes the admission rules and the state, so no
//! cookie given before lets anyone through.
//!
//! Admission is load shaping, not access control: a visitor may forge a low ticket and be let
//! through early; the application's own authentication still applies.
//!
//! [`TICKET_COOKIE`]: crate::deploy_names::TICKET_COOKIE
//! [`ADMIT_COOKIE`]: crate::deploy_names::ADMIT_COOKIE

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::rfc3339;
use crate::value::BypassToken;

/// Longest return id accepted.
pub const MAX_RETURN_ID_CHARS: usize = 64;

/// The state of a gradual return, as `{prefix}/return/state` holds it (a `SecureString`: it
/// holds the admission token). Absent when no return is under way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReturnState {
    /// Names one return (letters, digits, `-`, `_`, `.`, at most [`MAX_RETURN_ID_CHARS`]); every
    /// scheduled step carries it, so a step of an earlier (aborted) return changes nothing.
    pub id: String,
    /// The token of the admission rules' cookie condition (`*maint_admit=TOKEN*`); the same form
    /// as a bypass token, and as secret.
    pub token: BypassToken,
    /// The step now in force, counted from 1.
    pub step: u32,
    /// Percent of visitors (by ticket) let through now, 0 to 100.
    pub share_percent: u8,
    /// When the last step (the ordinary `off`) is due: the admission cookie lasts until then.
    pub ends_at: Timestamp,
}

/// Why a `{prefix}/return/state` value is refused. The message never repeats the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReturnStateError {
    /// Not the JSON object described by [`ReturnState`].
    #[error("return state is not the JSON object maintctl writes: {0}")]
    Json(String),
    /// An id outside the allowed form.
    #[error("return id must be 1 to {MAX_RETURN_ID_CHARS} letters, digits, '-', '_' or '.'")]
    Id,
    /// A token outside the bypass token's form.
    #[error("return token must be 22 to 86 URL-safe base64 characters")]
    Token,
    /// A share above 100.
    #[error("return share {0} is above 100 percent")]
    Share(u64),
    /// Step 0.
    #[error("return step must be 1 or more")]
    Step,
    /// Not an RFC 3339 time.
    #[error("return end {0:?} is not an RFC 3339 time")]
    EndsAt(String),
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Wire {
    id: String,
    token: String,
    step: u32,
    share_percent: u64,
    ends_at: String,
}

impl ReturnState {
    /// Reads the parameter's value.
    pub fn parse(value: &str) -> Result<Self, ReturnStateError> {
        let wire: Wire =
            serde_json::from_str(value).map_err(|e| ReturnStateError::Json(e.to_string()))?;
        check_id(&wire.id)?;
        let token = BypassToken::parse(&wire.token).map_err(|_| ReturnStateError::Token)?;
        if wire.step == 0 {
            return Err(ReturnStateError::Step);
        }
        let share_percent = u8::try_from(wire.share_percent)
            .ok()
            .filter(|share| *share <= 100)
            .ok_or(ReturnStateError::Share(wire.share_percent))?;
        let ends_at =
            rfc3339::parse(&wire.ends_at).map_err(|_| ReturnStateError::EndsAt(wire.ends_at))?;
        Ok(Self {
            id: wire.id,
            token,
            step: wire.step,
            share_percent,
            ends_at,
        })
    }

    /// The parameter's value (compact JSON).
    pub fn to_parameter_value(&self) -> String {
        let wire = Wire {
            id: self.id.clone(),
            token: self.token.expose().to_string(),
            step: self.step,
            share_percent: u64::from(self.share_percent),
            ends_at: rfc3339::format(self.ends_at),
        };
        serde_json::to_string(&wire).expect("a struct of strings and numbers serializes")
    }
}

/// Checks a return id's form.
pub fn check_id(id: &str) -> Result<(), ReturnStateError> {
    let ok = !id.is_empty()
        && id.len() <= MAX_RETURN_ID_CHARS
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(ReturnStateError::Id)
    }
}

/// A visitor's place in the queue: a number below [`Ticket::COUNT`], drawn once per visitor and
/// kept in the ticket cookie, so that the visitor's chance does not change between requests
/// and every later step lets through everyone an earlier step did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Ticket(u16);

impl Ticket {
    /// Tickets there are: a share of `p` percent lets through tickets below `p * 100`.
    pub const COUNT: u16 = 10_000;

    /// The ticket with this number, if it is one.
    pub fn new(number: u16) -> Option<Self> {
        (number < Self::COUNT).then_some(Self(number))
    }

    /// Reads a ticket cookie's value (decimal digits only); anything else is no ticket.
    pub fn parse(value: &str) -> Option<Self> {
        if value.is_empty() || value.len() > 5 || !value.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        value.parse().ok().and_then(Self::new)
    }

    /// A ticket drawn from a per-request value no two requests share (the ALB's
    /// `X-Amzn-Trace-Id`): uniform over the tickets, the same for the same seed.
    pub fn draw(seed: &[u8]) -> Self {
        let digest = Sha256::digest(seed);
        let wide = u64::from_be_bytes(
            digest[..8]
                .try_into()
                .expect("a SHA-256 digest is 32 bytes"),
        );
        Self(u16::try_from(wide % u64::from(Self::COUNT)).expect("below COUNT"))
    }

    /// The ticket's number, for its cookie.
    pub fn number(self) -> u16 {
        self.0
    }

    /// Whether a share of `share_percent` lets this ticket through.
    pub fn admitted(self, share_percent: u8) -> bool {
        u32::from(self.0) < u32::from(share_percent.min(100)) * 100
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "Q2xhcmEtYW5kLUppbW15LXR3MDI2";

    fn state() -> ReturnState {
        ReturnState {
            id: "ret-20261207T1200Z".into(),
            token: BypassToken::parse(TOKEN).unwrap(),
            step: 2,
            share_percent: 25,
            ends_at: rfc3339::parse("2026-12-07T13:00:00Z").unwrap(),
        }
    }

    #[test]
    fn state_round_trips_and_never_shows_the_token_in_debug() {
        let value = state().to_parameter_value();
        assert_eq!(ReturnState::parse(&value).unwrap(), state());
        assert!(!format!("{:?}", state()).contains(TOKEN));
    }

    #[test]
    fn bad_states_are_refused_without_the_token() {
        let base =
            serde_json::from_str::<serde_json::Value>(&state().to_parameter_value()).unwrap();
        let with = |key: &str, value: serde_json::Value| {
            let mut v = base.clone();
            v[key] = value;
            ReturnState::parse(&v.to_string())
        };
        assert_eq!(
            with("share_percent", 101.into()),
            Err(ReturnStateError::Share(101))
        );
        assert_eq!(with("step", 0.into()), Err(ReturnStateError::Step));
        assert_eq!(with("id", "a b".into()), Err(ReturnStateError::Id));
        assert_eq!(with("token", "short".into()), Err(ReturnStateError::Token));
        assert!(matches!(
            with("ends_at", "tomorrow".into()),
            Err(ReturnStateError::EndsAt(_))
        ));
        let err = ReturnState::parse("{\"extra\":1}").unwrap_err().to_string();
        assert!(!err.contains(TOKEN));
    }

    #[test]
    fn tickets_parse_strictly_and_shares_only_add_visitors() {
        assert_eq!(Ticket::parse("0"), Ticket::new(0));
        assert_eq!(Ticket::parse("9999"), Ticket::new(9999));
        for bad in ["", "10000", "-1", "+5", "1.5", " 7", "123456"] {
            assert_eq!(Ticket::parse(bad), None, "{bad:?}");
        }
        let t = Ticket::new(2_499).unwrap();
        assert!(!t.admitted(24) && t.admitted(25) && t.admitted(100));
        assert!(!Ticket::new(0).unwrap().admitted(0));
    }

    #[test]
    fn drawn_tickets_spread_over_the_range() {
        let admitted = (0..4_000)
            .map(|i| Ticket::draw(format!("Root=1-6751a1b0-{i:024x}").as_bytes()))
            .filter(|t| t.admitted(25))
            .count();
        // 25 % of 4,000 is 1,000; a binomial's standard deviation here is about 27.
        assert!((880..=1_120).contains(&admitted), "{admitted}");
    }
}
