//! Identifiers: ticket numbers people read over the phone, event, feedback and command ids.
//!
//! # Ticket id layout
//!
//! A ticket id looks like `260315-F0MWE-R1R00M` and is read as three groups:
//!
//! | part | characters | meaning |
//! | --- | --- | --- |
//! | `YYMMDD` | 6 decimal digits | the date the id was made, in the business calendar's zone (years 2000 to 2099) |
//! | `XXXXX-XXXXX` | 10 Crockford base32 symbols = 50 bits | 27 bits millisecond of that local day, 10 bits node id (0..=1023), 13 bits sequence within the millisecond (0..=8191) |
//! | last symbol | 1 Crockford base32 symbol | a Luhn mod 32 check symbol over the 16 symbols before it |
//!
//! The date and time are the wall clock of the business calendar's UTC offset
//! (`[calendar] utc_offset`, +08:00 by default; intake passes it with
//! [`TicketIdGenerator::dated_in`]), so a ticket received at 03:22 on 7 December in Beijing
//! carries `261207`, the date every time shown next to it has. Ids made before intake dated
//! them locally carry the UTC date; they parse exactly as before (the text does not say which
//! zone it was dated in, and nothing but the reader's eye depends on it: ids are never turned
//! back into instants for a decision). A generator [`TicketIdGenerator::new`] without an
//! offset dates in UTC.
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
use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, NaiveDateTime, TimeZone, Utc};
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

/// Milliseconds of local wall-clock time since 2000-01-01 00:00 (local), clamped into the range
/// ticket ids can name.
fn millis_since_epoch(local: NaiveDateTime) -> i64 {
    let epoch = epoch_date().and_hms_opt(0, 0, 0).expect("midnight exists");
    (local - epoch)
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
                "expected {TICKET_ID_SYMBOLS} symbols like 260315-F0MWE-R1R00M, got {}",
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

    /// The canonical text, e.g. `260315-F0MWE-R1R00M`.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The wall-clock date and time (to the millisecond) written into the id: local time of
    /// the offset its generator dated it in.
    pub fn local_time(&self) -> NaiveDateTime {
        let parts = self.parts();
        let millis = i64::from(parts.day) * MILLIS_PER_DAY + i64::from(parts.millisecond_of_day);
        epoch_date().and_hms_opt(0, 0, 0).expect("midnight exists")
            + chrono::Duration::milliseconds(millis)
    }

    /// The instant the id was made at, given the offset its generator dated it in (UTC for
    /// ids made before intake dated them in the business calendar's zone).
    pub fn created_at(&self, offset: FixedOffset) -> DateTime<Utc> {
        Utc.from_utc_datetime(
            &(self.local_time() - chrono::Duration::seconds(i64::from(offset.local_minus_utc()))),
        )
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
    /// The zone the ids are dated in: the business calendar's UTC offset.
    offset: FixedOffset,
    /// The millisecond (since 2000-01-01) and sequence of the last id made, if any.
    last: Option<(i64, u16)>,
}

impl TicketIdGenerator {
    /// A generator for replica `node`; node ids above [`MAX_NODE`] are reduced modulo 1024,
    /// so configuration should check them with [`TicketIdGenerator::checked`].
    pub fn new(node: u16) -> Self {
        Self {
            node: node & MAX_NODE,
            offset: FixedOffset::east_opt(0).expect("UTC is a valid offset"),
            last: None,
        }
    }

    /// The same generator, dating its ids in `offset` (the business calendar's UTC offset)
    /// rather than UTC.
    #[must_use]
    pub fn dated_in(mut self, offset: FixedOffset) -> Self {
        self.offset = offset;
        self
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
        let wanted = millis_since_epoch(now.with_timezone(&self.offset).naive_local());
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn utc() -> FixedOffset {
        FixedOffset::east_opt(0).expect("UTC")
    }

    fn instant(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .expect("test instants are valid rfc 3339")
            .with_timezone(&Utc)
    }

    /// Builds an id from raw symbol values, with a correct check symbol, bypassing the
    /// generator so that out-of-range fields can be tested.
    fn text_with_valid_check(body: &str) -> String {
        let values: Vec<u8> = body
            .chars()
            .filter(|symbol| *symbol != '-')
            .map(|symbol| crockford_value(symbol).expect("test bodies use crockford symbols"))
            .collect();
        let check = char::from(CROCKFORD[usize::from(luhn_check_value(&values))]);
        format!("{body}{check}")
    }

    #[test]
    fn layout_is_date_then_time_node_and_sequence_then_check() {
        let mut generator = TicketIdGenerator::new(7);
        let id = generator.next(instant("2026-03-15T09:30:00.123Z"));
        expect_test::expect!["260315-84XME-R1R00T"].assert_eq(id.as_str());
        assert_eq!(id.node(), 7);
        assert_eq!(id.sequence(), 0);
        assert_eq!(id.created_at(utc()), instant("2026-03-15T09:30:00.123Z"));
        assert_eq!(id.stream_id(), format!("ticket-{id}"));
    }

    #[test]
    fn ids_are_dated_in_the_business_calendars_zone_and_old_utc_ids_still_parse() {
        let beijing = FixedOffset::east_opt(8 * 3600).expect("+08:00");
        // 03:22 on 7 December in Beijing is still 6 December in UTC.
        let received = instant("2026-12-06T19:22:00Z");
        let id = TicketIdGenerator::new(4).dated_in(beijing).next(received);
        assert!(id.as_str().starts_with("261207-"), "{id}");
        assert_eq!(id.local_time().to_string(), "2026-12-07 03:22:00");
        assert_eq!(id.created_at(beijing), received);
        // An id of the same instant dated in UTC (as intake made them before) still parses.
        let old = TicketIdGenerator::new(4).next(received);
        assert!(old.as_str().starts_with("261206-"), "{old}");
        assert_eq!(TicketId::parse(old.as_str()), Ok(old.clone()));
        assert_eq!(old.created_at(utc()), received);
        // Dating later ids ahead of UTC keeps them after the UTC-dated ones.
        assert!(id > old);
        // A negative offset dates the evening before.
        let new_york = FixedOffset::west_opt(5 * 3600).expect("-05:00");
        let id = TicketIdGenerator::new(4)
            .dated_in(new_york)
            .next(instant("2026-12-07T02:00:00Z"));
        assert!(id.as_str().starts_with("261206-"), "{id}");
    }

    #[test]
    fn parse_round_trips_and_forgives_case_dashes_and_confusions() {
        let mut generator = TicketIdGenerator::new(1023);
        for second in 0..200 {
            let now = instant("2031-12-31T23:59:00Z") + chrono::Duration::seconds(second);
            let id = generator.next(now);
            assert_eq!(TicketId::parse(id.as_str()), Ok(id.clone()));
            assert_eq!(TicketId::parse(&id.as_str().to_lowercase()), Ok(id.clone()));
            let undashed: String = id.as_str().chars().filter(|c| *c != '-').collect();
            assert_eq!(TicketId::parse(&undashed), Ok(id.clone()));
            let confused = id.as_str().replace('0', "O").replace('1', "l");
            assert_eq!(TicketId::parse(&confused), Ok(id.clone()));
        }
    }

    #[test]
    fn check_symbol_catches_every_single_mistyped_symbol() {
        let id = TicketIdGenerator::new(345).next(instant("2027-07-04T12:00:00.500Z"));
        let symbols: Vec<char> = id.as_str().chars().collect();
        for (position, original) in symbols.iter().enumerate() {
            if *original == '-' {
                continue;
            }
            for replacement in CROCKFORD.iter().map(|byte| char::from(*byte)) {
                if replacement == *original {
                    continue;
                }
                let mut typo = symbols.clone();
                typo[position] = replacement;
                let typo: String = typo.into_iter().collect();
                let error = TicketId::parse(&typo).expect_err("a single typo must be caught");
                assert!(
                    matches!(&error, DomainError::Invalid { field, .. } if field == "ticket_id"),
                    "{typo}: {error}"
                );
            }
        }
    }

    #[test]
    fn check_symbol_catches_a_swap_of_neighbours() {
        let id = TicketId::parse(&text_with_valid_check("260315-10A2Z-G0E00")).expect("valid");
        // Swap "A2" to "2A" inside the time group.
        let swapped = id.as_str().replacen("A2", "2A", 1);
        assert!(TicketId::parse(&swapped).is_err());
    }

    #[test]
    fn parse_rejects_malformed_text_naming_the_field() {
        let cases = [
            String::new(),
            "260315-10A2Z".to_owned(),
            "260315-10A2Z-G0E00Y0".to_owned(),
            "260315-10A2Z-G0E0#Y".to_owned(),
            "260315-10A2Z-G0E00U".to_owned(),
            // A valid check symbol over an impossible date, and over a time of day past
            // midnight (the largest 27-bit value).
            text_with_valid_check("261332-10A2Z-G0E00"),
            text_with_valid_check("2A0315-10A2Z-G0E00"),
            text_with_valid_check("260315-ZZZZZ-G0E00"),
        ];
        for text in cases {
            let error = TicketId::parse(&text).expect_err(&text);
            assert!(
                matches!(&error, DomainError::Invalid { field, .. } if field == "ticket_id"),
                "{text}: {error}"
            );
        }
    }

    #[test]
    fn ids_sort_by_the_time_they_were_made() {
        let mut generator = TicketIdGenerator::new(3);
        let mut other = TicketIdGenerator::new(900);
        let start = instant("2026-01-31T23:59:59.990Z");
        let mut ids = Vec::new();
        for step in 0..40 {
            let now = start + chrono::Duration::milliseconds(step * 7);
            // The other replica's id comes first each time, but at an earlier instant.
            ids.push(other.next(now));
            ids.push(generator.next(now + chrono::Duration::milliseconds(1)));
        }
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(sorted, ids);
        let mut texts: Vec<&str> = ids.iter().map(TicketId::as_str).collect();
        texts.sort_unstable();
        assert_eq!(texts, ids.iter().map(TicketId::as_str).collect::<Vec<_>>());
        assert!(ids[0].as_str().starts_with("260131-"));
        assert!(ids[79].as_str().starts_with("260201-"));
    }

    #[test]
    fn four_replicas_in_one_millisecond_never_collide() {
        let now = instant("2026-05-01T08:00:00.000Z");
        let mut generators: Vec<TicketIdGenerator> = [0, 1, 512, 1023]
            .into_iter()
            .map(TicketIdGenerator::new)
            .collect();
        let mut seen = HashSet::new();
        for generator in &mut generators {
            let mut previous: Option<TicketId> = None;
            for _ in 0..25_000 {
                let id = generator.next(now);
                if let Some(previous) = &previous {
                    assert!(&id > previous, "{id} after {previous}");
                }
                assert!(seen.insert(id.clone()), "duplicate {id}");
                previous = Some(id);
            }
        }
        assert_eq!(seen.len(), 100_000);
    }

    #[test]
    fn a_full_millisecond_borrows_the_next_one() {
        let now = instant("2026-05-01T23:59:59.999Z");
        let mut generator = TicketIdGenerator::new(5);
        let ids: Vec<TicketId> = (0..=u32::from(MAX_SEQUENCE) + 1)
            .map(|_| generator.next(now))
            .collect();
        let last_in_millisecond = &ids[usize::from(MAX_SEQUENCE)];
        assert_eq!(last_in_millisecond.sequence(), MAX_SEQUENCE);
        assert_eq!(last_in_millisecond.created_at(utc()), now);
        let borrowed = &ids[usize::from(MAX_SEQUENCE) + 1];
        assert_eq!(borrowed.sequence(), 0);
        assert_eq!(borrowed.created_at(utc()), instant("2026-05-02T00:00:00Z"));
        assert!(borrowed.as_str().starts_with("260502-"));
        assert!(borrowed > last_in_millisecond);
    }

    #[test]
    fn a_clock_going_backwards_never_makes_a_smaller_id() {
        let mut generator = TicketIdGenerator::new(11);
        let first = generator.next(instant("2026-05-01T10:00:00Z"));
        let after_step_back = generator.next(instant("2026-05-01T09:00:00Z"));
        let much_earlier = generator.next(instant("1999-01-01T00:00:00Z"));
        assert!(after_step_back > first);
        assert!(much_earlier > after_step_back);
        assert_eq!(after_step_back.created_at(utc()), first.created_at(utc()));
        let later = generator.next(instant("2026-05-01T10:00:01Z"));
        assert_eq!(later.sequence(), 0);
        assert!(later > much_earlier);
    }

    #[test]
    fn node_ids_are_checked_and_instants_before_2000_clamp() {
        assert!(TicketIdGenerator::checked(1023).is_ok());
        let error = TicketIdGenerator::checked(1024).expect_err("1024 is too large");
        assert!(matches!(error, DomainError::Invalid { field, .. } if field == "node"));
        let id = TicketIdGenerator::new(0).next(instant("1970-01-01T00:00:00Z"));
        assert_eq!(id.as_str(), text_with_valid_check("000101-00000-00000"));
    }

    #[test]
    fn ticket_ids_serialise_as_strings_and_deserialising_checks_them() {
        let id = TicketIdGenerator::new(2).next(instant("2026-03-15T09:30:00Z"));
        let json = serde_json::to_string(&id).expect("serialise");
        assert_eq!(json, format!("\"{id}\""));
        assert_eq!(
            serde_json::from_str::<TicketId>(&json).expect("deserialise"),
            id
        );
        assert!(serde_json::from_str::<TicketId>("\"260315-00000-00000X\"").is_err());
    }

    #[test]
    fn event_ids_are_time_ordered_or_derived_from_their_cause() {
        let early = EventId::new(instant("2026-03-15T09:30:00Z"), [0xff; 10]);
        let late = EventId::new(instant("2026-03-15T09:30:00.001Z"), [0; 10]);
        assert!(early < late);
        assert_eq!(early.as_uuid().get_version_num(), 7);

        let feedback = FeedbackId::new(instant("2026-03-15T09:30:00Z"), [7; 10]);
        assert_eq!(feedback.as_uuid().get_version_num(), 7);
        assert_eq!(FeedbackId::parse(&feedback.to_string()), Ok(feedback));
        assert!(FeedbackId::parse("not-a-uuid").is_err());

        let first = EventId::for_feedback(&feedback, 0);
        assert_eq!(first, EventId::for_feedback(&feedback, 0));
        assert_ne!(first, EventId::for_feedback(&feedback, 1));
        assert_eq!(first.as_uuid().get_version_num(), 5);
        assert_eq!(EventId::parse(&first.to_string()), Ok(first));

        let ticket = TicketIdGenerator::new(1).next(instant("2026-03-15T09:30:00Z"));
        let command = CommandId::parse("retry-me").expect("valid");
        let other_command = CommandId::parse("retry-me-2").expect("valid");
        assert_eq!(
            EventId::for_command(&command, &ticket, 0),
            EventId::for_command(&command, &ticket, 0)
        );
        assert_ne!(
            EventId::for_command(&command, &ticket, 0),
            EventId::for_command(&other_command, &ticket, 0)
        );
        assert_ne!(
            EventId::for_command(&command, &ticket, 0),
            EventId::for_command(&command, &ticket, 1)
        );
        assert_eq!(EventId::derived("a"), EventId::derived("a"));
        assert_ne!(EventId::derived("a"), EventId::derived("b"));
    }

    #[test]
    fn command_ids_are_one_to_128_printable_characters() {
        assert!(CommandId::parse("x").is_ok());
        assert!(CommandId::parse(&"界".repeat(128)).is_ok());
        for bad in [String::new(), "x".repeat(129), "tab\there".to_owned()] {
            let error = CommandId::parse(&bad).expect_err(&bad);
            assert!(matches!(error, DomainError::Invalid { field, .. } if field == "command_id"));
        }
        assert!(serde_json::from_str::<CommandId>("\"\"").is_err());
    }
}
