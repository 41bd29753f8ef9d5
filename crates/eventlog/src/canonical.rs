//! The hash recipe: canonical bytes of a row, its digest, and the chain link.
//!
//! The canonical bytes of a row are its fields in this fixed order, each as UTF-8 text
//! preceded by its length in bytes as a 4-byte big-endian unsigned integer:
//!
//! 1. the tag `closedloop.eventlog.v1`
//! 2. stream id
//! 3. event id (lowercase hyphenated UUID)
//! 4. event type
//! 5. schema version (decimal)
//! 6. occurred at (RFC 3339, UTC, six fractional digits, `Z`)
//! 7. actor (the exact JSON text stored)
//! 8. correlation id (empty when absent)
//! 9. causation id (empty when absent)
//! 10. payload (the exact JSON text stored)
//! 11. stream version (decimal)
//! 12. position (decimal)
//! 13. recorded at (like occurred at)
//!
//! `digest = SHA-256(canonical bytes)` and `hash = SHA-256(prev_hash || digest)`, with
//! 32 zero bytes as the `prev_hash` of position 1. The fields the writer assigns
//! (stream version, position, recorded at) come last so that callers hash everything
//! before them on their own threads and the writer only finishes the digest.

use chrono::{DateTime, SecondsFormat, Utc};
use sha2::{Digest, Sha256};

/// The first field of every row's canonical bytes; a new recipe gets a new tag.
pub const CANONICAL_TAG: &str = "closedloop.eventlog.v1";

/// The `prev_hash` of the first row.
pub const GENESIS_HASH: [u8; 32] = [0u8; 32];

/// Formats an instant the way the log stores and hashes it: RFC 3339 in UTC with exactly
/// six fractional digits and a `Z`, e.g. `2026-11-23T18:47:00.123456Z`.
pub fn format_timestamp(instant: &DateTime<Utc>) -> String {
    instant.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// Drops everything below a microsecond, so the instant survives a round trip through
/// `format_timestamp`.
pub fn truncate_to_micros(instant: DateTime<Utc>) -> DateTime<Utc> {
    let micros = instant.timestamp_micros();
    DateTime::<Utc>::from_timestamp_micros(micros).unwrap_or(instant)
}

/// Parses a stored timestamp.
pub(crate) fn parse_timestamp(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|instant| instant.with_timezone(&Utc))
}

/// Feeds one length-prefixed field into a hasher.
#[inline]
fn put_field(hasher: &mut Sha256, bytes: &[u8]) {
    // Fields are checked to be shorter than `MAX_FIELD_BYTES` before they reach the log,
    // and stored fields longer than `u32::MAX` cannot exist in SQLite (its limit is 1 GB).
    let length = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
    hasher.update(length.to_be_bytes());
    hasher.update(bytes);
}

/// Feeds one unsigned integer, as decimal text, into a hasher as a length-prefixed field.
#[inline]
fn put_decimal(hasher: &mut Sha256, value: u64) {
    let mut buffer = [0u8; 20];
    let mut start = buffer.len();
    let mut rest = value;
    loop {
        start -= 1;
        // The remainder of a division by ten is a single digit.
        buffer[start] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    put_field(hasher, &buffer[start..]);
}

/// The largest field (payload, actor, ...) the log accepts, in bytes.
pub const MAX_FIELD_BYTES: usize = 64 * 1024 * 1024;

/// The fields of a row that the caller knows before the writer sees it.
#[derive(Debug, Clone, Copy)]
pub struct CallerFields<'a> {
    /// The stream id.
    pub stream_id: &'a str,
    /// The event id, lowercase hyphenated.
    pub event_id: &'a str,
    /// The event type.
    pub event_type: &'a str,
    /// The schema version.
    pub schema_version: u32,
    /// Occurred at, as `format_timestamp` writes it.
    pub occurred_at: &'a str,
    /// The actor's JSON text.
    pub actor_json: &'a str,
    /// The correlation id or "".
    pub correlation_id: &'a str,
    /// The causation id or "".
    pub causation_id: &'a str,
    /// The payload's JSON text.
    pub payload_json: &'a str,
}

/// The fields of a row that the writer assigns.
#[derive(Debug, Clone, Copy)]
pub struct WriterFields<'a> {
    /// The version in the stream.
    pub stream_version: u64,
    /// The global position.
    pub position: u64,
    /// Recorded at, as `format_timestamp` writes it.
    pub recorded_at: &'a str,
}

/// A hasher that has consumed the caller's fields (1 to 10 of the recipe).
pub fn caller_prefix(fields: &CallerFields<'_>) -> Sha256 {
    let mut hasher = Sha256::new();
    put_field(&mut hasher, CANONICAL_TAG.as_bytes());
    put_field(&mut hasher, fields.stream_id.as_bytes());
    put_field(&mut hasher, fields.event_id.as_bytes());
    put_field(&mut hasher, fields.event_type.as_bytes());
    put_decimal(&mut hasher, u64::from(fields.schema_version));
    put_field(&mut hasher, fields.occurred_at.as_bytes());
    put_field(&mut hasher, fields.actor_json.as_bytes());
    put_field(&mut hasher, fields.correlation_id.as_bytes());
    put_field(&mut hasher, fields.causation_id.as_bytes());
    put_field(&mut hasher, fields.payload_json.as_bytes());
    hasher
}

/// Finishes a digest started by `caller_prefix` with the writer's fields (11 to 13).
pub fn finish_digest(mut prefix: Sha256, fields: &WriterFields<'_>) -> [u8; 32] {
    put_decimal(&mut prefix, fields.stream_version);
    put_decimal(&mut prefix, fields.position);
    put_field(&mut prefix, fields.recorded_at.as_bytes());
    prefix.finalize().into()
}

/// The digest of a whole row.
pub fn row_digest(caller: &CallerFields<'_>, writer: &WriterFields<'_>) -> [u8; 32] {
    finish_digest(caller_prefix(caller), writer)
}

/// The chain link: `SHA-256(prev_hash || digest)`.
#[inline]
pub fn chain_hash(prev_hash: &[u8; 32], digest: &[u8; 32]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(prev_hash);
    hasher.update(digest);
    hasher.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_caller() -> CallerFields<'static> {
        CallerFields {
            stream_id: "ticket-1",
            event_id: "018f0000-0000-7000-8000-000000000001",
            event_type: "ticket.received",
            schema_version: 1,
            occurred_at: "2026-11-23T18:47:00.123456Z",
            actor_json: r#"{"name":"li.si","role":"agent"}"#,
            correlation_id: "",
            causation_id: "c-1",
            payload_json: r#"{"content":"APP卡顿"}"#,
        }
    }

    fn sample_writer() -> WriterFields<'static> {
        WriterFields {
            stream_version: 1,
            position: 1,
            recorded_at: "2026-11-23T18:47:01.000000Z",
        }
    }

    /// The canonical bytes spelled out by hand, as an auditor would build them.
    fn spelled_out() -> Vec<u8> {
        let fields: [&str; 13] = [
            CANONICAL_TAG,
            "ticket-1",
            "018f0000-0000-7000-8000-000000000001",
            "ticket.received",
            "1",
            "2026-11-23T18:47:00.123456Z",
            r#"{"name":"li.si","role":"agent"}"#,
            "",
            "c-1",
            r#"{"content":"APP卡顿"}"#,
            "1",
            "1",
            "2026-11-23T18:47:01.000000Z",
        ];
        let mut bytes = Vec::new();
        for field in fields {
            bytes.extend_from_slice(&(field.len() as u32).to_be_bytes());
            bytes.extend_from_slice(field.as_bytes());
        }
        bytes
    }

    #[test]
    fn digest_matches_the_recipe_written_out_by_hand() {
        let expected: [u8; 32] = Sha256::digest(spelled_out()).into();
        assert_eq!(row_digest(&sample_caller(), &sample_writer()), expected);
    }

    #[test]
    fn chain_hash_is_sha256_of_the_concatenation() {
        let digest = row_digest(&sample_caller(), &sample_writer());
        let mut joined = Vec::from(GENESIS_HASH);
        joined.extend_from_slice(&digest);
        let expected: [u8; 32] = Sha256::digest(&joined).into();
        assert_eq!(chain_hash(&GENESIS_HASH, &digest), expected);
    }

    #[test]
    fn every_field_changes_the_digest() {
        let base = row_digest(&sample_caller(), &sample_writer());
        let mut caller = sample_caller();
        caller.correlation_id = "x";
        assert_ne!(row_digest(&caller, &sample_writer()), base);
        let mut writer = sample_writer();
        writer.position = 2;
        assert_ne!(row_digest(&sample_caller(), &writer), base);
        // Moving a byte from one field to the next must change the digest too.
        let mut caller = sample_caller();
        caller.correlation_id = "c";
        caller.causation_id = "-1";
        assert_ne!(row_digest(&caller, &sample_writer()), base);
    }

    #[test]
    fn decimals_are_written_without_padding() {
        for value in [0u64, 7, 10, 1_000_000, u64::MAX] {
            let mut by_helper = Sha256::new();
            put_decimal(&mut by_helper, value);
            let mut by_hand = Sha256::new();
            put_field(&mut by_hand, value.to_string().as_bytes());
            assert_eq!(by_helper.finalize(), by_hand.finalize(), "value {value}");
        }
    }

    #[test]
    fn timestamps_have_six_fractional_digits() {
        let instant = DateTime::<Utc>::from_timestamp(1_795_459_620, 123_456_789).expect("valid");
        let truncated = truncate_to_micros(instant);
        assert_eq!(format_timestamp(&truncated), "2026-11-23T18:47:00.123456Z");
        let whole = DateTime::<Utc>::from_timestamp(1_795_459_620, 0).expect("valid");
        assert_eq!(format_timestamp(&whole), "2026-11-23T18:47:00.000000Z");
        assert_eq!(
            parse_timestamp("2026-11-23T18:47:00.123456Z"),
            Some(truncated)
        );
    }
}
