//! RFC 3339 times as every crate of the workspace reads and writes them (SSM values, tags,
//! lease and owner records, EventBridge events): [`parse`] takes exactly RFC 3339's
//! `date-time` (`2026-11-22T06:00:00Z`, `2026-11-22T15:00:00.5+09:00`; `T` and `Z` in either
//! case, RFC 3339 §5.6) and nothing of the wider ISO 8601 / RFC 9557 forms jiff's own parser
//! accepts; [`format`] writes the instant in UTC (`Z`), fractional seconds only when there
//! are any.

use jiff::Timestamp;
use jiff::civil::DateTime;
use jiff::tz::Offset;

/// Why a value is not an RFC 3339 time this workspace can use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Rfc3339Error {
    /// Not RFC 3339's `date-time`, or not a date or time that exists.
    #[error("not an RFC 3339 time (like 2026-11-22T06:00:00Z)")]
    Invalid,
    /// A valid RFC 3339 time outside the instants that can be handled (past 9999-12-30).
    #[error("an RFC 3339 time too far in the future")]
    OutOfRange,
}

/// Parses RFC 3339's `date-time`.
pub fn parse(value: &str) -> Result<Timestamp, Rfc3339Error> {
    let bytes = value.as_bytes();
    // YYYY-MM-DDTHH:MM:SS is 19 bytes; then an optional fraction, then the offset.
    if bytes.len() < 20 || !bytes.is_ascii() || !matches!(bytes[10], b'T' | b't') {
        return Err(Rfc3339Error::Invalid);
    }
    let shape = |at: usize, separator: u8| bytes[at] == separator;
    let digits = |range: std::ops::Range<usize>| bytes[range].iter().all(u8::is_ascii_digit);
    let civil_ok = digits(0..4)
        && shape(4, b'-')
        && digits(5..7)
        && shape(7, b'-')
        && digits(8..10)
        && digits(11..13)
        && shape(13, b':')
        && digits(14..16)
        && shape(16, b':')
        && digits(17..19);
    let mut end = 19;
    if bytes[end] == b'.' {
        end += 1;
        let start = end;
        while end < bytes.len() && bytes[end].is_ascii_digit() {
            end += 1;
        }
        if end == start || end - start > 9 {
            return Err(Rfc3339Error::Invalid);
        }
    }
    let offset = offset(&value[end..]).ok_or(Rfc3339Error::Invalid)?;
    if !civil_ok {
        return Err(Rfc3339Error::Invalid);
    }
    let civil = format!("{}T{}", &value[..10], &value[11..end]);
    let civil: DateTime = civil.parse().map_err(|_| Rfc3339Error::Invalid)?;
    offset
        .to_timestamp(civil)
        .map_err(|_| Rfc3339Error::OutOfRange)
}

/// The offset part: `Z`, `z` or `±HH:MM`.
fn offset(text: &str) -> Option<Offset> {
    if text == "Z" || text == "z" {
        return Some(Offset::UTC);
    }
    let b = text.as_bytes();
    if b.len() != 6 || !matches!(b[0], b'+' | b'-') || b[3] != b':' {
        return None;
    }
    let hours: i32 = text[1..3].parse().ok()?;
    let minutes: i32 = text[4..6].parse().ok()?;
    if !text[1..3].bytes().all(|c| c.is_ascii_digit())
        || !text[4..6].bytes().all(|c| c.is_ascii_digit())
        || hours > 23
        || minutes > 59
    {
        return None;
    }
    let seconds = (hours * 60 + minutes) * 60;
    Offset::from_seconds(if b[0] == b'-' { -seconds } else { seconds }).ok()
}

/// Writes an instant in RFC 3339, in UTC.
pub fn format(at: Timestamp) -> String {
    at.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_and_nothing_else() {
        let utc = parse("2026-11-22T06:00:00Z").unwrap();
        assert_eq!(utc.as_second(), 1_795_327_200);
        for same in [
            "2026-11-22T15:00:00+09:00",
            "2026-11-22t06:00:00z",
            "2026-11-22T01:00:00-05:00",
        ] {
            assert_eq!(parse(same), Ok(utc), "{same}");
        }
        let fraction = parse("2026-11-22T06:00:00.5Z").unwrap();
        assert_eq!(fraction.subsec_nanosecond(), 500_000_000);
        assert_eq!(format(fraction), "2026-11-22T06:00:00.5Z");
        assert_eq!(format(utc), "2026-11-22T06:00:00Z");
        for bad in [
            "",
            "soon",
            "2026-11-22",
            "2026-11-22 06:00:00Z",
            "2026-11-22T06:00Z",
            "2026-11-22T06:00:00",
            "2026-11-22T06:00:00+09",
            "2026-11-22T06:00:00+0900",
            "2026-11-22T06:00:00Z[Asia/Tokyo]",
            "2026-11-22T06:00:00.Z",
            "2026-02-30T06:00:00Z",
            "2026-11-22T24:00:00Z",
            "+2026-11-22T06:00:00Z",
        ] {
            assert_eq!(parse(bad), Err(Rfc3339Error::Invalid), "{bad:?}");
        }
        assert_eq!(parse("9999-12-31T23:59:59Z"), Err(Rfc3339Error::OutOfRange));
    }
}
