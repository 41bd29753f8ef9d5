//! The one recipe of closedloop's webhook signatures, in both directions: notify signs the
//! notices it posts, the webhook adapter checks the submissions it receives. A signature is
//! `sha256=<hex>`, the HMAC-SHA256, keyed with the shared secret, of the timestamp (unix
//! seconds), a dot and the raw body (`"<timestamp>.<body>"`).

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The scheme prefix of a signature.
pub const SCHEME: &str = "sha256=";

/// The MAC of the recipe.
pub type HmacSha256 = Hmac<Sha256>;

/// The MAC of `"<timestamp>.<body>"` keyed with `secret`, to finalize or to verify against.
pub fn mac_of(secret: &[u8], timestamp: &str, body: &[u8]) -> HmacSha256 {
    // HMAC takes keys of any length: `new_from_slice` never fails for it.
    let mut mac = <HmacSha256 as Mac>::new_from_slice(secret)
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The signature (`sha256=<hex>`) of `body` signed at `timestamp` (unix seconds, as sent
/// beside it).
pub fn sign(secret: &[u8], timestamp: &str, body: &[u8]) -> String {
    format!(
        "{SCHEME}{}",
        hex::encode(mac_of(secret, timestamp, body).finalize().into_bytes())
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc_4231_test_case_2() {
        // Key "Jefe", data "what do ya want for nothing?": the HMAC primitive itself.
        let mut mac = <HmacSha256 as Mac>::new_from_slice(b"Jefe").expect("any key length");
        mac.update(b"what do ya want for nothing?");
        assert_eq!(
            hex::encode(mac.finalize().into_bytes()),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn the_recipe_is_timestamp_dot_body() {
        // The same value `printf '%s' '1760000000.{"a":1}' | openssl dgst -sha256 -hmac
        // 0123456789abcdef` prints.
        let secret = b"0123456789abcdef";
        let mut mac = <HmacSha256 as Mac>::new_from_slice(secret).expect("any key length");
        mac.update(b"1760000000.{\"a\":1}");
        let expected = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
        assert_eq!(sign(secret, "1760000000", b"{\"a\":1}"), expected);
        assert_ne!(sign(b"other", "1760000000", b"{\"a\":1}"), expected);
    }
}
