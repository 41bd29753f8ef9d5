//! Identifiers: ticket numbers people read over the phone, event, feedback and command ids.
//!
//! # Ticket id layout
//!
//! A ticket id looks like `260315-0Q8ZK-N1W4TF` and is read as three groups:
//!
//! | part | characters | meaning |
//! | --- | --- | --- |
//! | `YYMMDD` | 6 decimal digits | the UTC date the id was made (years 2000 to 2099) |
//! | `XXXXX-XXXXX` | 10 Crockford base32 symbols = 50 bits | 27 bits millisecond of the UTC day, 10 bits node id (0..=1023), 13 bits sequence within the millisecond (0..=8191) |
//! | last symbol | 1 Crockford base32 symbol | a Luhn mod 32 check symbol over the 16 symbols before it |
//!
//! Crockford's alphabet (`0123456789ABCDEFGHJKMNPQRSTVWXYZ`) leaves out I, L, O and U, so an id
//! is hard to misread, and it is in ASCII order, so the canonical text of ids sorts exactly
//! like the instants they were made at. Every intake replica is configured with its own node
//! id, so replicas never collide and no central counter is needed. A generator never repeats
//! and never goes backwards: when the clock steps back, or more than 8192 ids are wanted in
//! one millisecond, it borrows the next millisecond. The check symbol catches every single
//! mistyped symbol and most swaps of neighbours. Parsing accepts lowercase, ignores dashes
//! and spaces, and reads O as 0 and I or L as 1.

use crate::DomainError;
use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use uuid::Uuid;

/// Crockford's base32 alphabet, in ASCII order.
const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// Milliseconds in one UTC day; fits in 27 bits.
const MILLIS_PER_DAY: i64 = 86_400_000;

/// The largest node id a ticket id can carry (10 bits).
pub const MAX_NODE: u16 = 1023;

/// The largest sequence number within one millisecond (13 bits).
pub const MAX_SEQUENCE: u16 = 8191;

/// The number of symbols of a ticket id, without dashes and with the check symbol.
const TICKET_ID_SYMBOLS: usize = 17;

/// The fields of a ticket id, decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct TicketIdParts {
    /// Days since 2000-01-01 (UTC).
    day: u32,
    millisecond_of_day: u32,
    node: u16,
    sequence: u16,
}

/// The first day a ticket id can name.
fn epoch_date() -> NaiveDate {
    NaiveDate::from_ymd_opt(2000, 1, 1).expect("2000-01-01 is a valid date")
}

/// Milliseconds since 2000-01-01T00:00:00Z of the last instant a ticket id can name.
fn last_representable_millisecond() -> i64 {
    let last_day = NaiveDate::from_ymd_opt(2099, 12, 31).expect("2099-12-31 is a valid date");
    (last_day - epoch_date()).num_days() * MILLIS_PER_DAY + MILLIS_PER_DAY - 1
}

/// Milliseconds since 2000-01-01T00:00:00Z, clamped into the range ticket ids can name.
fn millis_since_epoch(now: DateTime<Utc>) -> i64 {
    let epoch = Utc.from_utc_datetime(&epoch_date().and_hms_opt(0, 0, 0).expect("midnight exists"));
    (now - epoch)
        .num_milliseconds()
        .clamp(0, last_representable_millisecond())
}

/// The value of one Crockford symbol, reading the usual confusions the way people mean them.
fn crockford_value(symbol: char) -> Option<u8> {
    let upper = match symbol.to_ascii_uppercase() {
        'O' => '0',
        'I' | 'L' => '1',
        other => other,
    };
    CROCKFORD
        .iter()
        .position(|&candidate| char::from(candidate) == upper)
        .and_then(|position| u8::try_from(position).ok())
}

/// The Luhn mod 32 check value for a sequence of symbol values.
fn luhn_check_value(values: &[u8]) -> u8 {
    let mut factor = 2u32;
    let mut sum = 0u32;
    for &value in values.iter().rev() {
        let addend = factor * u32::from(value);
        sum += addend / 32 + addend % 32;
        factor = if factor == 2 { 1 } else { 2 };
    }
    let check = (32 - sum % 32) % 32;
    u8::try_from(check).expect("a value below 32 fits in a byte")
}

impl TicketIdParts {
    /// The 16 symbol values before the check symbol.
    fn symbol_values(&self) -> [u8; 16] {
        let date = epoch_date() + chrono::Duration::days(i64::from(self.day));
        let year = date.year().rem_euclid(100);
        let digits = [
            year / 10,
            year % 10,
            i32::try_from(date.month()).unwrap_or(0) / 10,
            i32::try_from(date.month()).unwrap_or(0) % 10,
            i32::try_from(date.day()).unwrap_or(0) / 10,
            i32::try_from(date.day()).unwrap_or(0) % 10,
        ];
        let mut values = [0u8; 16];
        for (slot, digit) in values.iter_mut().zip(digits) {
            *slot = u8::try_from(digit).unwrap_or(0);
        }
        let packed: u64 = (u64::from(self.millisecond_of_day) << 23)
            | (u64::from(self.node) << 13)
            | u64::from(self.sequence);
        for index in 0..10 {
            let shift = 5 * (9 - index);
            values[6 + index] = u8::try_from((packed >> shift) & 31).unwrap_or(0);
        }
        values
    }

    /// Renders the canonical text, `YYMMDD-XXXXX-XXXXXC`.
    fn render(&self) -> String {
        let values = self.symbol_values();
        let check = luhn_check_value(&values);
        let mut text = String::with_capacity(TICKET_ID_SYMBOLS + 2);
        for (index, value) in values.iter().chain(std::iter::once(&check)).enumerate() {
            if index == 6 || index == 11 {
                text.push('-');
            }
            text.push(char::from(CROCKFORD[usize::from(*value)]));
        }
        text
    }
}

/// A ticket number: readable over the phone, sortable by time, unique without a central
/// counter. See the module documentation for the layout.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TicketId {
    /// The canonical text; ordering the text orders the ids by time.
    text: String,
    /// The same id, decoded.
    parts: TicketIdParts,
}

impl TicketId {
    /// Parses a ticket id as a person may have typed it.
    pub fn parse(text: &str) -> Result<Self, DomainError> {
        let invalid = |reason: String| DomainError::invalid("ticket_id", reason);
        let mut values = Vec::with_capacity(TICKET_ID_SYMBOLS);
        for symbol in text.chars() {
            if symbol == '-' || symbol == ' ' {
                continue;
            }
            let value = crockford_value(symbol)
                .ok_or_else(|| invalid(format!("{symbol:?} is not a ticket id symbol")))?;
            values.push(value);
        }
        if values.len() != TICKET_ID_SYMBOLS {
            return Err(invalid(format!(
                "expected {TICKET_ID_SYMBOLS} symbols like 260315-0Q8ZK-N1W4TF, got {}",
                values.len()
            )));
        }
        let (body, check) = values.split_at(16);
        if luhn_check_value(body) != check[0] {
            return Err(invalid(
                "the check symbol does not match; is a symbol mistyped?".into(),
            ));
        }
        if body[..6].iter().any(|&digit| digit > 9) {
            return Err(invalid(
                "the first six symbols must be the date as YYMMDD".into(),
            ));
        }
        let number = |range: std::ops::Range<usize>| {
            body[range].iter().fold(0u32, |accumulated, &digit| {
                accumulated * 10 + u32::from(digit)
            })
        };
        let year = 2000 + i32::try_from(number(0..2)).unwrap_or(0);
        let date = NaiveDate::from_ymd_opt(year, number(2..4), number(4..6))
            .ok_or_else(|| invalid("the first six symbols are not a valid date".into()))?;
        let day = u32::try_from((date - epoch_date()).num_days())
            .map_err(|_| invalid("the date is before 2000".into()))?;
        let packed = body[6..].iter().fold(0u64, |accumulated, &value| {
            (accumulated << 5) | u64::from(value)
        });
        let millisecond_of_day = u32::try_from(packed >> 23).unwrap_or(u32::MAX);
        if i64::from(millisecond_of_day) >= MILLIS_PER_DAY {
            return Err(invalid("the time of day is out of range".into()));
        }
        let parts = TicketIdParts {
            day,
            millisecond_of_day,
            node: u16::try_from((packed >> 13) & u64::from(MAX_NODE)).unwrap_or(0),
            sequence: u16::try_from(packed & u64::from(MAX_SEQUENCE)).unwrap_or(0),
        };
        Ok(Self::from_parts(parts))
    }

    fn from_parts(parts: TicketIdParts) -> Self {
        Self {
            text: parts.render(),
            parts,
        }
    }

    fn parts(&self) -> TicketIdParts {
        self.parts
    }

    /// The canonical text, e.g. `260315-0Q8ZK-N1W4TF`.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The instant (to the millisecond) the id was made at, as the generator saw it.
    pub fn created_at(&self) -> DateTime<Utc> {
        let parts = self.parts();
        let millis = i64::from(parts.day) * MILLIS_PER_DAY + i64::from(parts.millisecond_of_day);
        let epoch =
            Utc.from_utc_datetime(&epoch_date().and_hms_opt(0, 0, 0).expect("midnight exists"));
        epoch + chrono::Duration::milliseconds(millis)
    }

    /// The node id of the intake replica that made the id.
    pub fn node(&self) -> u16 {
        self.parts().node
    }

    /// The sequence number within the millisecond.
    pub fn sequence(&self) -> u16 {
        self.parts().sequence
    }

    /// The event stream of this ticket in the event log: `ticket-<id>`.
    pub fn stream_id(&self) -> String {
        format!("ticket-{}", self.text)
    }
}

impl fmt::Display for TicketId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl std::str::FromStr for TicketId {
    type Err = DomainError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text)
    }
}

impl Serialize for TicketId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for TicketId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// Makes ticket ids for one intake replica. Pure: the caller passes the time in.
#[derive(Debug, Clone)]
pub struct TicketIdGenerator {
    node: u16,
    /// The millisecond (since 2000-01-01) and sequence of the last id made, if any.
    last: Option<(i64, u16)>,
}

impl TicketIdGenerator {
    /// A generator for replica `node`; node ids above [`MAX_NODE`] are reduced modulo 1024,
    /// so configuration should check them with [`TicketIdGenerator::checked`].
    pub fn new(node: u16) -> Self {
        Self {
            node: node & MAX_NODE,
            last: None,
        }
    }

    /// A generator for replica `node`, refusing node ids above [`MAX_NODE`].
    pub fn checked(node: u16) -> Result<Self, DomainError> {
        if node > MAX_NODE {
            return Err(DomainError::invalid(
                "node",
                format!("must be between 0 and {MAX_NODE}, got {node}"),
            ));
        }
        Ok(Self::new(node))
    }

    /// The node id this generator writes into its ids.
    pub fn node(&self) -> u16 {
        self.node
    }

    /// The next id: strictly greater than every id this generator made before, even when
    /// `now` goes backwards or many ids fall in one millisecond.
    pub fn next(&mut self, now: DateTime<Utc>) -> TicketId {
        let wanted = millis_since_epoch(now);
        let (millisecond, sequence) = match self.last {
            None => (wanted, 0),
            Some((last_millisecond, _)) if wanted > last_millisecond => (wanted, 0),
            Some((last_millisecond, last_sequence)) if last_sequence < MAX_SEQUENCE => {
                (last_millisecond, last_sequence + 1)
            }
            Some((last_millisecond, _)) => (last_millisecond + 1, 0),
        };
        self.last = Some((millisecond, sequence));
        TicketId::from_parts(TicketIdParts {
            day: u32::try_from(millisecond.div_euclid(MILLIS_PER_DAY)).unwrap_or(0),
            millisecond_of_day: u32::try_from(millisecond.rem_euclid(MILLIS_PER_DAY)).unwrap_or(0),
            node: self.node,
            sequence,
        })
    }
}

/// The namespace of every name-derived (UUIDv5) id of closedloop.
const CLOSEDLOOP_NAMESPACE: Uuid = Uuid::from_u128(0x6c1f_3a52_9d0e_4b7a_8e21_54c9_0f3d_a7b6);

/// Builds a UUIDv7 from an instant and caller-supplied entropy.
fn uuid_v7(now: DateTime<Utc>, entropy: &[u8; 10]) -> Uuid {
    let millis = u64::try_from(now.timestamp_millis()).unwrap_or(0);
    uuid::Builder::from_unix_timestamp_millis(millis, entropy).into_uuid()
}

/// Parses any UUID, naming `field` in the error.
fn parse_uuid(field: &str, text: &str) -> Result<Uuid, DomainError> {
    Uuid::parse_str(text.trim())
        .map_err(|error| DomainError::invalid(field, format!("not a uuid: {error}")))
}

/// The id of one event in the log. Time-ordered (UUIDv7) when fresh; name-derived (UUIDv5)
/// when a repeat of the same cause must produce the same id, so the log's unique index
/// turns a redelivery or a retried command into a no-op.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EventId(Uuid);

impl EventId {
    /// A fresh time-ordered id (UUIDv7) from `now` and ten bytes of caller entropy.
    pub fn new(now: DateTime<Utc>, entropy: [u8; 10]) -> Self {
        Self(uuid_v7(now, &entropy))
    }

    /// A name-derived id (UUIDv5 in closedloop's fixed namespace): the same name always
    /// gives the same id.
    pub fn derived(name: &str) -> Self {
        Self(Uuid::new_v5(&CLOSEDLOOP_NAMESPACE, name.as_bytes()))
    }

    /// The id of the `index`-th event (from 0) that receiving feedback `feedback_id`
    /// produced. The first event of every ticket is `for_feedback(id, 0)`, so a redelivered
    /// submission can never append twice.
    pub fn for_feedback(feedback_id: &FeedbackId, index: u32) -> Self {
        Self::derived(&format!("feedback/{feedback_id}/{index}"))
    }

    /// The id of the `index`-th event (from 0) that command `command_id` produced on
    /// `ticket_id`; a retried command gives the same ids and dedupes in the log.
    pub fn for_command(command_id: &CommandId, ticket_id: &TicketId, index: u32) -> Self {
        Self::derived(&format!("command/{ticket_id}/{command_id}/{index}"))
    }

    /// Parses the hyphenated text form.
    pub fn parse(text: &str) -> Result<Self, DomainError> {
        parse_uuid("event_id", text).map(Self)
    }

    /// The UUID inside.
    pub fn as_uuid(&self) -> Uuid {
        self.0
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

/// The id intake gives one submission (UUIDv7); the key JetStream and the log dedupe on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct FeedbackId(Uuid);

impl FeedbackId {
    /// A fresh time-ordered id (UUIDv7) from `now` and ten bytes of caller entropy.
    pub fn new(now: DateTime<Utc>, entropy: [u8; 10]) -> Self {
        Self(uuid_v7(now, &entropy))
    }

    /// Parses the hyphenated text form.
    pub fn parse(text: &str) -> Result<Self, DomainError> {
        parse_uuid("feedback_id", text).map(Self)
    }

    /// The UUID inside.
    pub fn as_uuid(&self) -> Uuid {
        self.0
    }
}

impl From<Uuid> for FeedbackId {
    fn from(uuid: Uuid) -> Self {
        Self(uuid)
    }
}

impl fmt::Display for FeedbackId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

/// The longest command id a client may choose.
pub const MAX_COMMAND_ID_CHARS: usize = 128;

/// A client-chosen idempotency key of one command: 1 to 128 printable characters.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct CommandId(String);

impl CommandId {
    /// Checks and wraps a client's command id.
    pub fn parse(text: &str) -> Result<Self, DomainError> {
        let count = text.chars().count();
        if count == 0 {
            return Err(DomainError::invalid("command_id", "must not be empty"));
        }
        if count > MAX_COMMAND_ID_CHARS {
            return Err(DomainError::invalid(
                "command_id",
                format!("must be at most {MAX_COMMAND_ID_CHARS} characters, got {count}"),
            ));
        }
        if text.chars().any(char::is_control) {
            return Err(DomainError::invalid(
                "command_id",
                "must contain printable characters only",
            ));
        }
        Ok(Self(text.to_owned()))
    }

    /// The text the client chose.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CommandId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for CommandId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}
