//! Request signing: `X-Cloop-Timestamp: <unix seconds>` and
//! `X-Cloop-Signature: sha256=<hex>`, where the hex is the HMAC-SHA256, keyed with the
//! channel's shared secret, of the timestamp, a dot and the raw request body
//! (`"<timestamp>.<body>"`, the recipe of `service::signature`). A timestamp too far from the
//! server's clock is refused, so a captured request cannot be replayed later; the comparison
//! of MACs takes constant time.
//!
//! Pure: the current time is an argument.

use hmac::Mac;
use service::signature::mac_of;
pub use service::signature::{sign, SCHEME};

/// The header with the unix time (seconds) the request was signed at.
pub const TIMESTAMP_HEADER: &str = "x-cloop-timestamp";
/// The header with `sha256=<hex HMAC-SHA256>`.
pub const SIGNATURE_HEADER: &str = "x-cloop-signature";
/// Why a request's signature was refused. The texts are safe to show the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignatureError {
    MissingTimestamp,
    BadTimestamp,
    /// The timestamp is further than the allowed skew from now.
    Stale {
        skew_secs: u64,
    },
    MissingSignature,
    BadSignatureFormat,
    Mismatch,
}

impl std::fmt::Display for SignatureError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::MissingTimestamp => write!(formatter, "the X-Cloop-Timestamp header is missing"),
            Self::BadTimestamp => write!(
                formatter,
                "X-Cloop-Timestamp must be the unix time in whole seconds"
            ),
            Self::Stale { skew_secs } => write!(
                formatter,
                "X-Cloop-Timestamp is more than {skew_secs} seconds away from the server's clock"
            ),
            Self::MissingSignature => write!(formatter, "the X-Cloop-Signature header is missing"),
            Self::BadSignatureFormat => write!(
                formatter,
                "X-Cloop-Signature must be sha256= followed by 64 hexadecimal digits"
            ),
            Self::Mismatch => write!(
                formatter,
                "X-Cloop-Signature does not match the body and timestamp"
            ),
        }
    }
}

/// Checks a request's headers against `body` at `now` (unix seconds): the timestamp must be
/// within `max_skew_secs` of `now`, and the signature the HMAC of `"<timestamp>.<body>"`.
pub fn verify(
    secret: &[u8],
    timestamp: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
    now: i64,
    max_skew_secs: u64,
) -> Result<(), SignatureError> {
    let timestamp = timestamp
        .map(str::trim)
        .filter(|value| !value.is_empty())
        .ok_or(SignatureError::MissingTimestamp)?;
    let signed_at: i64 = timestamp
        .parse()
        .map_err(|_| SignatureError::BadTimestamp)?;
    if signed_at.abs_diff(now) > max_skew_secs {
        return Err(SignatureError::Stale {
            skew_secs: max_skew_secs,
        });
    }
    let signature = signature
        .map(str::trim)
        .filter(|value| !value.is_empty())
        .ok_or(SignatureError::MissingSignature)?;
    let digits = signature
        .get(..SCHEME.len())
        .filter(|scheme| scheme.eq_ignore_ascii_case(SCHEME))
        .and_then(|_| signature.get(SCHEME.len()..))
        .ok_or(SignatureError::BadSignatureFormat)?;
    let expected = hex::decode(digits).map_err(|_| SignatureError::BadSignatureFormat)?;
    if expected.len() != 32 {
        return Err(SignatureError::BadSignatureFormat);
    }
    mac_of(secret, timestamp, body)
        .verify_slice(&expected)
        .map_err(|_| SignatureError::Mismatch)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"0123456789abcdef";
    const NOW: i64 = 1_760_000_000;

    #[test]
    fn a_signed_request_verifies_and_any_change_is_refused() {
        let body = br#"{"content":"hello"}"#;
        let signature = sign(SECRET, "1760000000", body);
        assert_eq!(
            verify(SECRET, Some("1760000000"), Some(&signature), body, NOW, 300),
            Ok(())
        );
        // Upper-case hex and scheme are accepted.
        let upper = signature.to_uppercase();
        assert_eq!(
            verify(SECRET, Some("1760000000"), Some(&upper), body, NOW, 300),
            Ok(())
        );
        assert_eq!(
            verify(
                SECRET,
                Some("1760000000"),
                Some(&signature),
                br#"{"content":"hellO"}"#,
                NOW,
                300
            ),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(
                b"another secret!!",
                Some("1760000000"),
                Some(&signature),
                body,
                NOW,
                300
            ),
            Err(SignatureError::Mismatch)
        );
        // The timestamp is part of the MAC: moving it (within the window) breaks it.
        assert_eq!(
            verify(SECRET, Some("1760000001"), Some(&signature), body, NOW, 300),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn timestamps_outside_the_window_are_stale() {
        let body = b"{}";
        for (signed_at, ok) in [
            (NOW - 300, true),
            (NOW + 300, true),
            (NOW - 301, false),
            (NOW + 301, false),
            (0, false),
        ] {
            let timestamp = signed_at.to_string();
            let signature = sign(SECRET, &timestamp, body);
            let result = verify(SECRET, Some(&timestamp), Some(&signature), body, NOW, 300);
            assert_eq!(result.is_ok(), ok, "{signed_at}: {result:?}");
            if !ok {
                assert_eq!(result, Err(SignatureError::Stale { skew_secs: 300 }));
            }
        }
    }

    #[test]
    fn malformed_headers_are_named() {
        let body = b"{}";
        let good = sign(SECRET, "1760000000", body);
        let cases: [(Option<&str>, Option<&str>, SignatureError); 7] = [
            (None, Some(&good), SignatureError::MissingTimestamp),
            (Some(" "), Some(&good), SignatureError::MissingTimestamp),
            (Some("soon"), Some(&good), SignatureError::BadTimestamp),
            (Some("1760000000"), None, SignatureError::MissingSignature),
            (
                Some("1760000000"),
                Some("sha1=abcd"),
                SignatureError::BadSignatureFormat,
            ),
            (
                Some("1760000000"),
                Some("sha256=zz"),
                SignatureError::BadSignatureFormat,
            ),
            (
                Some("1760000000"),
                Some("sha256=abcd"),
                SignatureError::BadSignatureFormat,
            ),
        ];
        for (timestamp, signature, expected) in cases {
            assert_eq!(
                verify(SECRET, timestamp, signature, body, NOW, 300),
                Err(expected)
            );
        }
    }
}
