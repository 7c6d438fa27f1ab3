//! The envelope: one filtered event as it is queued and sent.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, IgnoredAny, MapAccess, Visitor};
use serde::ser::SerializeStruct;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::Timestamp;

/// One filtered event, ready to be queued and sent.
///
/// On disk an envelope is one line of JSON with its fields in this order:
///
/// ```text
/// {"uuid":"0195…","event":"search","distinct_id":"…","timestamp":"2026-01-23T12:34:56.5Z","properties":{…}}
/// ```
///
/// The `uuid` is a UUID v7 drawn once, at capture, and never regenerated: a
/// sender that delivers an envelope twice (after a crash between sending and
/// acknowledging) sends the same `uuid`, so the server can drop the copy.
///
/// Two envelopes are equal when every field is, `properties` compared by their
/// JSON text.
#[derive(Debug, Clone)]
pub struct Envelope {
    /// The event's identity: a UUID v7, fixed at capture.
    pub uuid: Uuid,
    /// The event name (`session_summary`).
    pub event: String,
    /// The installation's client id.
    pub distinct_id: String,
    /// When the event was captured, in UTC.
    pub timestamp: Timestamp,
    /// The filtered payload, already JSON.
    pub properties: Box<RawValue>,
}

impl Envelope {
    /// An envelope captured now: a fresh UUID v7 and the current time.
    ///
    /// UUIDs drawn by one process are ordered by creation, so envelopes
    /// created one after the other sort by `uuid` in creation order.
    #[must_use]
    pub fn new(
        event: impl Into<String>,
        distinct_id: impl Into<String>,
        properties: Box<RawValue>,
    ) -> Self {
        Self {
            uuid: Uuid::now_v7(),
            event: event.into(),
            distinct_id: distinct_id.into(),
            timestamp: Timestamp::now(),
            properties,
        }
    }

    /// The envelope as one line of JSON, `\n` included.
    #[must_use]
    pub fn to_line(&self) -> Vec<u8> {
        let mut line = Vec::with_capacity(
            128 + self.event.len() + self.distinct_id.len() + self.properties.get().len(),
        );
        self.write_line(&mut line);
        line
    }

    /// Appends the envelope to `buf` as one line of JSON, `\n` included.
    ///
    /// The line never contains a raw line break: `properties` may hold JSON
    /// whitespace with line breaks, which is written as spaces (the same JSON
    /// value). A timestamp outside the years 0 to 9999, which RFC 3339 cannot
    /// write, is written as the nearest instant it can.
    pub fn write_line(&self, buf: &mut Vec<u8>) {
        write_head(
            buf,
            self.uuid,
            &[self.event.as_str()],
            &self.distinct_id,
            self.timestamp,
        );
        buf.extend_from_slice(self.properties.get().as_bytes());
        end_line(buf, buf.len() - self.properties.get().len());
    }

    /// Parses one line (without its `\n`).
    pub(crate) fn from_line(line: &[u8]) -> Option<Self> {
        serde_json::from_slice(line).ok()
    }
}

impl PartialEq for Envelope {
    fn eq(&self, other: &Self) -> bool {
        self.uuid == other.uuid
            && self.event == other.event
            && self.distinct_id == other.distinct_id
            && self.timestamp == other.timestamp
            && self.properties.get() == other.properties.get()
    }
}

impl Eq for Envelope {}

// By hand rather than derived: core does not depend on serde's derive.
impl Serialize for Envelope {
    /// The fields in their on-disk order.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut state = serializer.serialize_struct("Envelope", 5)?;
        state.serialize_field("uuid", &self.uuid)?;
        state.serialize_field("event", &self.event)?;
        state.serialize_field("distinct_id", &self.distinct_id)?;
        state.serialize_field("timestamp", &self.timestamp)?;
        state.serialize_field("properties", &self.properties)?;
        state.end()
    }
}

const FIELDS: &[&str] = &["uuid", "event", "distinct_id", "timestamp", "properties"];

/// A key of the envelope object.
enum Field {
    Uuid,
    Event,
    DistinctId,
    Timestamp,
    Properties,
    Other,
}

impl<'de> Deserialize<'de> for Field {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct FieldVisitor;

        impl Visitor<'_> for FieldVisitor {
            type Value = Field;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an envelope field name")
            }

            fn visit_str<E: de::Error>(self, key: &str) -> Result<Field, E> {
                Ok(match key {
                    "uuid" => Field::Uuid,
                    "event" => Field::Event,
                    "distinct_id" => Field::DistinctId,
                    "timestamp" => Field::Timestamp,
                    "properties" => Field::Properties,
                    _ => Field::Other,
                })
            }
        }

        deserializer.deserialize_identifier(FieldVisitor)
    }
}

impl<'de> Deserialize<'de> for Envelope {
    /// An object with the five fields in any order; other keys are ignored,
    /// so that a later version may add some.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let parts = Parts::<String, Box<RawValue>>::deserialize(deserializer)?;
        Ok(Envelope {
            uuid: parts.uuid,
            event: parts.event,
            distinct_id: parts.distinct_id,
            timestamp: parts.timestamp.0,
            properties: parts.properties,
        })
    }
}

/// Whether `line` (without its `\n`) is a valid envelope, exactly as
/// [`Envelope::from_line`] would decide, without building it: the text and
/// the properties are checked where they lie, and nothing is allocated
/// unless a string holds escapes. Counting the lines of a segment that the
/// bounds drop costs this, not a parse per line.
pub(crate) fn is_valid_line(line: &[u8]) -> bool {
    line_timestamp(line).is_some()
}

/// The timestamp of `line` when it is a valid envelope, checked like
/// [`is_valid_line`].
pub(crate) fn line_timestamp(line: &[u8]) -> Option<Timestamp> {
    serde_json::from_slice::<Parts<AnyText, &RawValue>>(line)
        .ok()
        .map(|parts| parts.timestamp.0)
}

/// The fields of an envelope object, with its text as `S` and its
/// properties as `P`: owned for [`Envelope`], checked in place for
/// [`is_valid_line`].
struct Parts<S, P> {
    uuid: Uuid,
    event: S,
    distinct_id: S,
    timestamp: TimestampText,
    properties: P,
}

impl<'de, S: Deserialize<'de>, P: Deserialize<'de>> Deserialize<'de> for Parts<S, P> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct PartsVisitor<S, P>(PhantomData<(S, P)>);

        impl<'de, S: Deserialize<'de>, P: Deserialize<'de>> Visitor<'de> for PartsVisitor<S, P> {
            type Value = Parts<S, P>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a telemetry envelope object")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Parts<S, P>, A::Error> {
                fn set<'de, A: MapAccess<'de>, T: Deserialize<'de>>(
                    map: &mut A,
                    slot: &mut Option<T>,
                    name: &'static str,
                ) -> Result<(), A::Error> {
                    if slot.is_some() {
                        return Err(de::Error::duplicate_field(name));
                    }
                    *slot = Some(map.next_value()?);
                    Ok(())
                }

                let (mut uuid, mut event, mut distinct_id, mut timestamp, mut properties) =
                    (None, None, None, None, None);
                while let Some(field) = map.next_key()? {
                    match field {
                        Field::Uuid => set(&mut map, &mut uuid, "uuid")?,
                        Field::Event => set(&mut map, &mut event, "event")?,
                        Field::DistinctId => set(&mut map, &mut distinct_id, "distinct_id")?,
                        Field::Timestamp => set(&mut map, &mut timestamp, "timestamp")?,
                        Field::Properties => set(&mut map, &mut properties, "properties")?,
                        Field::Other => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(Parts {
                    uuid: uuid.ok_or_else(|| de::Error::missing_field("uuid"))?,
                    event: event.ok_or_else(|| de::Error::missing_field("event"))?,
                    distinct_id: distinct_id
                        .ok_or_else(|| de::Error::missing_field("distinct_id"))?,
                    timestamp: timestamp.ok_or_else(|| de::Error::missing_field("timestamp"))?,
                    properties: properties.ok_or_else(|| de::Error::missing_field("properties"))?,
                })
            }
        }

        deserializer.deserialize_struct("Envelope", FIELDS, PartsVisitor(PhantomData))
    }
}

/// Any JSON string, checked and not kept.
struct AnyText;

impl<'de> Deserialize<'de> for AnyText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct AnyTextVisitor;

        impl Visitor<'_> for AnyTextVisitor {
            type Value = AnyText;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }

            fn visit_str<E: de::Error>(self, _: &str) -> Result<AnyText, E> {
                Ok(AnyText)
            }
        }

        deserializer.deserialize_str(AnyTextVisitor)
    }
}

/// An RFC 3339 timestamp, parsed from the string where it lies (a
/// [`Timestamp`]'s own `Deserialize` copies it first).
struct TimestampText(Timestamp);

impl<'de> Deserialize<'de> for TimestampText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TimestampVisitor;

        impl Visitor<'_> for TimestampVisitor {
            type Value = TimestampText;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an RFC 3339 timestamp")
            }

            fn visit_str<E: de::Error>(self, text: &str) -> Result<TimestampText, E> {
                Timestamp::parse(text).map(TimestampText).map_err(|error| {
                    de::Error::custom(format_args!("invalid RFC 3339 timestamp {text:?}: {error}"))
                })
            }
        }

        deserializer.deserialize_str(TimestampVisitor)
    }
}

/// Writes `text` as a JSON string.
fn push_json(buf: &mut Vec<u8>, text: &str) {
    // Writing text into a `Vec` cannot fail: serde_json's only error
    // sources here are I/O (a `Vec` has none) and non-string map keys.
    if serde_json::to_writer(&mut *buf, text).is_err() {
        buf.extend_from_slice(b"\"\"");
    }
}

/// Writes the text of `pieces`, one after the other, as one JSON string: as
/// it is when no piece holds a byte that JSON escapes (`"`, `\`, a control
/// character), as names and ids do; through [`push_json`] otherwise.
fn push_json_text(buf: &mut Vec<u8>, pieces: &[&str]) {
    if pieces.iter().any(|piece| escapes(piece.as_bytes())) {
        push_json(buf, &pieces.concat());
        return;
    }
    buf.push(b'"');
    for piece in pieces {
        buf.extend_from_slice(piece.as_bytes());
    }
    buf.push(b'"');
}

/// Whether `text` holds a byte that a JSON string escapes: `"`, `\` or a
/// control character (below `0x20`). Eight bytes a step.
fn escapes(text: &[u8]) -> bool {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    // Nonzero exactly when a byte of `word` is below `n` (for `n` <= 0x80).
    let below = |word: u64, n: u8| word.wrapping_sub(ONES * u64::from(n)) & !word & HIGHS;
    let holds = |word: u64, b: u8| below(word ^ (ONES * u64::from(b)), 1);
    let mut words = text.chunks_exact(8);
    for chunk in &mut words {
        let mut bytes = [0; 8];
        bytes.copy_from_slice(chunk);
        let word = u64::from_ne_bytes(bytes);
        if below(word, 0x20) | holds(word, b'"') | holds(word, b'\\') != 0 {
            return true;
        }
    }
    words
        .remainder()
        .iter()
        .any(|&b| b < 0x20 || b == b'"' || b == b'\\')
}

/// Writes a fresh envelope's line up to its properties, as
/// [`Envelope::new`] would draw it (a new UUID v7, the current time), for
/// the caller to write the properties in place and then end the line with
/// [`end_line`] or [`end_compact_line`]: capture builds its line this way,
/// without an [`Envelope`] in between. The event name is the text of
/// `event`'s pieces, one after the other.
pub(crate) fn begin_new_line(buf: &mut Vec<u8>, event: &[&str], distinct_id: &str) {
    write_head(buf, Uuid::now_v7(), event, distinct_id, Timestamp::now());
}

/// Ends a line whose properties were written from `properties_start` on:
/// line breaks in them become spaces, and the object and the line are
/// closed.
pub(crate) fn end_line(buf: &mut Vec<u8>, properties_start: usize) {
    // Valid JSON has line breaks only as whitespace between tokens
    // (strings escape them), so a space in their place is the same value.
    for byte in &mut buf[properties_start..] {
        if matches!(byte, b'\n' | b'\r') {
            *byte = b' ';
        }
    }
    end_compact_line(buf);
}

/// Ends a line whose properties hold no line break, as compact JSON
/// written without raw fragments has none (its strings escape them): the
/// object and the line are closed.
pub(crate) fn end_compact_line(buf: &mut Vec<u8>) {
    buf.extend_from_slice(b"}\n");
}

/// Everything before the properties: `{"uuid":…,"event":…,"distinct_id":…,"timestamp":…,"properties":`,
/// the event name being the text of `event`'s pieces.
fn write_head(
    buf: &mut Vec<u8>,
    uuid: Uuid,
    event: &[&str],
    distinct_id: &str,
    timestamp: Timestamp,
) {
    buf.extend_from_slice(b"{\"uuid\":\"");
    buf.extend_from_slice(
        uuid.hyphenated()
            .encode_lower(&mut Uuid::encode_buffer())
            .as_bytes(),
    );
    buf.extend_from_slice(b"\",\"event\":");
    push_json_text(buf, event);
    buf.extend_from_slice(b",\"distinct_id\":");
    push_json_text(buf, &[distinct_id]);
    buf.extend_from_slice(b",\"timestamp\":\"");
    write_rfc3339(buf, timestamp.as_offset_date_time());
    buf.extend_from_slice(b"\",\"properties\":");
}

/// RFC 3339 text of `time` in UTC, as `time`'s
/// [`Rfc3339`](time::format_description::well_known::Rfc3339) writes it
/// (`2026-01-23T12:34:56.25Z`: the fraction of a second without its
/// trailing zeros, none when it is zero, and `Z`), clamped to the years
/// RFC 3339 can write. Written by hand: `time`'s formatter goes through its
/// generic machinery for every component.
fn write_rfc3339(buf: &mut Vec<u8>, time: OffsetDateTime) {
    /// Writes `n` as `N` decimal digits (the low ones, zero-padded).
    fn digits<const N: usize>(out: &mut [u8], mut n: u32) {
        for digit in out[..N].iter_mut().rev() {
            #[allow(clippy::cast_possible_truncation, reason = "a digit fits a byte")]
            let d = (n % 10) as u8;
            *digit = b'0' + d;
            n /= 10;
        }
    }

    let time = time.to_offset(time::UtcOffset::UTC);
    let time = if time.year() < 0 {
        time::macros::datetime!(0000-01-01 00:00:00 UTC)
    } else if time.year() > 9999 {
        time::macros::datetime!(9999-12-31 23:59:59.999_999_999 UTC)
    } else {
        time
    };
    let (year, month, day) = time.to_calendar_date();
    let (hour, minute, second, nanos) = time.to_hms_nano();
    // `YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ` at the longest.
    let mut text = *b"0000-00-00T00:00:00.000000000Z";
    digits::<4>(&mut text[0..], year.unsigned_abs());
    digits::<2>(&mut text[5..], u32::from(u8::from(month)));
    digits::<2>(&mut text[8..], u32::from(day));
    digits::<2>(&mut text[11..], u32::from(hour));
    digits::<2>(&mut text[14..], u32::from(minute));
    digits::<2>(&mut text[17..], u32::from(second));
    let mut len = 19;
    if nanos != 0 {
        digits::<9>(&mut text[20..], nanos);
        len = 29;
        while text[len - 1] == b'0' {
            len -= 1;
        }
    }
    text[len] = b'Z';
    buf.extend_from_slice(&text[..=len]);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(json: &str) -> Box<RawValue> {
        RawValue::from_string(json.to_owned()).unwrap()
    }

    #[test]
    fn line_has_the_fields_in_order_and_one_newline() {
        let envelope = Envelope {
            uuid: Uuid::parse_str("01959f5e-8c3a-7b1e-9a2b-3c4d5e6f7a8b").unwrap(),
            event: "search".into(),
            distinct_id: "client \"1\"\n".into(),
            timestamp: Timestamp::parse("2026-01-23T12:34:56.5Z").unwrap(),
            properties: raw(r#"{"hits":3}"#),
        };
        let line = String::from_utf8(envelope.to_line()).unwrap();
        assert_eq!(
            line,
            "{\"uuid\":\"01959f5e-8c3a-7b1e-9a2b-3c4d5e6f7a8b\",\"event\":\"search\",\
             \"distinct_id\":\"client \\\"1\\\"\\n\",\"timestamp\":\"2026-01-23T12:34:56.5Z\",\
             \"properties\":{\"hits\":3}}\n"
        );
        // The serde form is the same JSON.
        assert_eq!(serde_json::to_string(&envelope).unwrap() + "\n", line);
        let back = Envelope::from_line(line.trim_end_matches('\n').as_bytes()).unwrap();
        assert_eq!(back, envelope);
    }

    #[test]
    fn line_breaks_in_properties_become_spaces() {
        let envelope = Envelope::new("e", "d", raw("{\r\n  \"a\": [1,\n 2]\n}"));
        let line = envelope.to_line();
        assert!(!line[..line.len() - 1].contains(&b'\n'));
        let back = Envelope::from_line(&line[..line.len() - 1]).unwrap();
        let value: serde_json::Value = serde_json::from_str(back.properties.get()).unwrap();
        assert_eq!(value, serde_json::json!({"a": [1, 2]}));
    }

    #[test]
    fn unwritable_years_are_clamped() {
        let mut envelope = Envelope::new("e", "d", raw("{}"));
        envelope.timestamp = Timestamp::from(time::macros::datetime!(-0005-06-01 00:00 UTC));
        let line = String::from_utf8(envelope.to_line()).unwrap();
        assert!(
            line.contains("\"timestamp\":\"0000-01-01T00:00:00Z\""),
            "{line}"
        );
        assert!(Envelope::from_line(&line.as_bytes()[..line.len() - 1]).is_some());
    }

    #[test]
    fn checking_a_line_agrees_with_parsing_it() {
        let good = Envelope::new("e\u{e9}\"", "d", raw(r#"{"a":"\u00e9\n"}"#)).to_line();
        let good = &good[..good.len() - 1];
        let lines: [&[u8]; 9] = [
            good,
            br#"{"uuid":"not a uuid"}"#,
            br#"{"uuid":"01959f5e-8c3a-7b1e-9a2b-3c4d5e6f7a8b","event":"e","distinct_id":"d","timestamp":"yesterday","properties":{}}"#,
            br#"{"uuid":"01959f5e-8c3a-7b1e-9a2b-3c4d5e6f7a8b","event":1,"distinct_id":"d","timestamp":"2026-01-23T12:34:56Z","properties":{}}"#,
            br#"{"uuid":"01959f5e-8c3a-7b1e-9a2b-3c4d5e6f7a8b","event":"e","distinct_id":"d","timestamp":"2026-01-23T12:34:56Z","properties":{},"later":[1]}"#,
            br#"{"uuid":"01959f5e-8c3a-7b1e-9a2b-3c4d5e6f7a8b","event":"e","event":"e","distinct_id":"d","timestamp":"2026-01-23T12:34:56Z","properties":{}}"#,
            br#"{"uuid":"01959f5e-8c3a-7b1e-9a2b-3c4d5e6f7a8b","event":"e","distinct_id":"d","timestamp":"2026-01-23T12:34:56Z"}"#,
            b"\xff\xfe garbage",
            b"",
        ];
        for line in lines {
            assert_eq!(
                is_valid_line(line),
                Envelope::from_line(line).is_some(),
                "{}",
                String::from_utf8_lossy(line)
            );
        }
        assert!(is_valid_line(good));
    }

    /// What `time`'s own RFC 3339 formatter writes of the instant in UTC,
    /// clamped as [`write_rfc3339`] clamps.
    fn rfc3339_by_time(time: OffsetDateTime) -> String {
        use time::format_description::well_known::Rfc3339;
        let time = time.to_offset(time::UtcOffset::UTC);
        time.format(&Rfc3339).unwrap_or_else(|_| {
            let clamped = if time.year() < 0 {
                time::macros::datetime!(0000-01-01 00:00:00 UTC)
            } else {
                time::macros::datetime!(9999-12-31 23:59:59.999_999_999 UTC)
            };
            clamped.format(&Rfc3339).unwrap()
        })
    }

    fn rfc3339(time: OffsetDateTime) -> String {
        let mut buf = b"x".to_vec();
        write_rfc3339(&mut buf, time);
        String::from_utf8(buf[1..].to_vec()).unwrap()
    }

    #[test]
    fn timestamps_are_written_as_time_writes_them() {
        use time::macros::datetime;
        let fixed = [
            datetime!(2026-01-23 12:34:56 UTC),
            datetime!(2026-01-23 12:34:56.5 UTC),
            datetime!(2026-01-23 12:34:56.25 UTC),
            datetime!(2026-01-23 12:34:56.000_000_001 UTC),
            datetime!(2026-01-23 12:34:56.999_999_999 UTC),
            datetime!(2026-01-23 12:34:56.100_200_300 UTC),
            datetime!(2026-01-23 14:34:56.5 +02:00),
            datetime!(0000-01-01 00:00:00 UTC),
            datetime!(9999-12-31 23:59:59.999_999_999 UTC),
            datetime!(2024-02-29 23:59:59 UTC),
            datetime!(0999-12-31 00:00:00.01 UTC),
            datetime!(-0001-12-31 23:59:59 UTC),
        ];
        assert_eq!(rfc3339(fixed[0]), "2026-01-23T12:34:56Z");
        assert_eq!(rfc3339(fixed[2]), "2026-01-23T12:34:56.25Z");
        assert_eq!(rfc3339(fixed[6]), "2026-01-23T12:34:56.5Z");
        assert_eq!(rfc3339(fixed[11]), "0000-01-01T00:00:00Z");
        assert_eq!(rfc3339(fixed[8]), "9999-12-31T23:59:59.999999999Z");
        // Instants spread over the years RFC 3339 writes and the negative
        // ones before them, with every number of fraction digits.
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        let drawn = (0..20_000).map(|_| {
            seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let seconds = i64::try_from(seed >> 30).unwrap() % 353_000_000_000 - 100_000_000_000;
            let nanos = match seed % 4 {
                0 => 0,
                1 => u32::try_from(seed % 1_000).unwrap() * 1_000_000,
                _ => u32::try_from(seed % 1_000_000_000).unwrap(),
            };
            OffsetDateTime::from_unix_timestamp(seconds)
                .unwrap()
                .replace_nanosecond(nanos)
                .unwrap()
        });
        for time in fixed.into_iter().chain(drawn) {
            assert_eq!(rfc3339(time), rfc3339_by_time(time), "{time}");
        }
    }

    #[test]
    fn text_is_escaped_exactly_when_json_needs_it() {
        let specials = [b'"', b'\\', b'\n', 0x00, 0x1f, 0x20, 0x7f, b'a', 0xc3];
        for len in 0..20 {
            for at in 0..len {
                for special in specials {
                    let mut text = vec![b'a'; len];
                    text[at] = special;
                    let expected = special < 0x20 || special == b'"' || special == b'\\';
                    assert_eq!(escapes(&text), expected, "{text:?}");
                }
            }
        }
        for pieces in [
            &["app", "_", "search"][..],
            &["app", "_", "se\"arch"],
            &["a\tb"],
            &["caf\u{e9}"],
            &[""],
            &[],
        ] {
            let mut buf = Vec::new();
            push_json_text(&mut buf, pieces);
            assert_eq!(
                buf,
                serde_json::to_vec(&pieces.concat()).unwrap(),
                "{pieces:?}"
            );
        }
    }

    #[test]
    fn a_new_line_is_a_valid_envelope() {
        let mut line = Vec::new();
        begin_new_line(&mut line, &["app", "_", "search"], "client-1");
        line.extend_from_slice(br#"{"hits":3}"#);
        end_compact_line(&mut line);
        assert_eq!(line.last(), Some(&b'\n'));
        assert!(!line[..line.len() - 1].contains(&b'\n'));
        let envelope = Envelope::from_line(&line[..line.len() - 1]).unwrap();
        assert_eq!(envelope.event, "app_search");
        assert_eq!(envelope.distinct_id, "client-1");
        assert_eq!(envelope.uuid.get_version_num(), 7);
        assert_eq!(envelope.properties.get(), r#"{"hits":3}"#);
        // Written as an envelope writes itself.
        assert_eq!(envelope.to_line(), line);
    }

    #[test]
    fn new_draws_ordered_v7_uuids() {
        let first = Envelope::new("e", "d", raw("{}"));
        let second = Envelope::new("e", "d", raw("{}"));
        assert_eq!(first.uuid.get_version_num(), 7);
        assert!(first.uuid < second.uuid);
        assert!(first.timestamp <= second.timestamp);
    }
}
