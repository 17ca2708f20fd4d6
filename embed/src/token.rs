//! [`SessionToken`]: a session exported as text, to resume it in another
//! process or language without reading older state than the exporter saw.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use corral::client::{Client, Connector, SessionInfo};

/// The prefix of the token's current text form.
pub const TOKEN_PREFIX_V1: &str = "v1:";

/// A session's id, password, negotiated timeout and the last zxid its
/// holder saw.
///
/// Text form (stable, versioned):
/// `v1:<session id, 16 hex digits>:<timeout ms>:<last zxid, hex>:<password, base64url>`.
/// Serde uses the same text, so a token in JSON is one string.
///
/// The password is a bearer credential: whoever holds the token can take
/// the session over, with its ephemeral nodes. `Debug` redacts it;
/// `Display` does not (that is the export).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct SessionToken {
    /// The session id.
    pub session_id: i64,
    /// The session password (16 bytes from ZooKeeper).
    pub password: Vec<u8>,
    /// The negotiated session timeout (whole milliseconds).
    pub timeout: Duration,
    /// The highest zxid the exporting client had seen; the resuming client
    /// sends it, so no server older than that accepts it.
    pub last_zxid: i64,
}

/// Why a token's text could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid session token: {0}")]
pub struct TokenError(&'static str);

impl SessionToken {
    /// The token of `client`'s session as it stands now.
    pub fn of(client: &Client) -> SessionToken {
        let SessionInfo {
            id,
            password,
            timeout,
        } = client.session();
        SessionToken {
            session_id: id,
            password,
            timeout,
            last_zxid: client.last_zxid(),
        }
    }

    /// `connector` set to resume this session, never reading state older
    /// than [`last_zxid`](Self::last_zxid).
    pub fn resume(&self, connector: Connector) -> Connector {
        connector
            .session(SessionInfo {
                id: self.session_id,
                password: self.password.clone(),
                timeout: self.timeout,
            })
            .last_zxid_seen(self.last_zxid)
    }
}

impl fmt::Debug for SessionToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionToken")
            .field("session_id", &format_args!("{:#x}", self.session_id))
            .field("password", &"<redacted>")
            .field("timeout", &self.timeout)
            .field("last_zxid", &format_args!("{:#x}", self.last_zxid))
            .finish()
    }
}

impl fmt::Display for SessionToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{TOKEN_PREFIX_V1}{:016x}:{}:{:x}:{}",
            self.session_id,
            self.timeout.as_millis(),
            self.last_zxid,
            URL_SAFE_NO_PAD.encode(&self.password)
        )
    }
}

impl FromStr for SessionToken {
    type Err = TokenError;

    fn from_str(text: &str) -> Result<SessionToken, TokenError> {
        let body = text.strip_prefix(TOKEN_PREFIX_V1).ok_or(TokenError(
            "unknown version (expected a token starting with v1:)",
        ))?;
        let fields: Vec<&str> = body.split(':').collect();
        let [id, timeout_ms, last_zxid, password] = fields[..] else {
            return Err(TokenError("expected 4 fields after v1:"));
        };
        // Hex and decimal parsers accept a sign; a token never has one.
        let digits = |s: &str, radix: u32| !s.is_empty() && s.chars().all(|c| c.is_digit(radix));
        if id.len() != 16 || !digits(id, 16) || !digits(timeout_ms, 10) || !digits(last_zxid, 16) {
            return Err(TokenError("malformed number"));
        }
        let session_id = u64::from_str_radix(id, 16).map_err(|_| TokenError("bad session id"))?;
        let timeout_ms: u64 = timeout_ms.parse().map_err(|_| TokenError("bad timeout"))?;
        let last_zxid =
            u64::from_str_radix(last_zxid, 16).map_err(|_| TokenError("bad last zxid"))?;
        let last_zxid = i64::try_from(last_zxid).map_err(|_| TokenError("bad last zxid"))?;
        let password = URL_SAFE_NO_PAD
            .decode(password)
            .map_err(|_| TokenError("bad password encoding"))?;
        Ok(SessionToken {
            // Session ids use all 64 bits (the high byte is the server id).
            session_id: session_id as i64,
            password,
            timeout: Duration::from_millis(timeout_ms),
            last_zxid,
        })
    }
}

impl serde::Serialize for SessionToken {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for SessionToken {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token() -> SessionToken {
        SessionToken {
            session_id: 0x0100_0000_0000_002a_u64 as i64,
            password: (0u8..16).collect(),
            timeout: Duration::from_millis(10_000),
            last_zxid: 0x1_0000_0007,
        }
    }

    #[test]
    fn text_form_is_stable_and_round_trips() {
        let text = token().to_string();
        assert_eq!(
            text,
            "v1:010000000000002a:10000:100000007:AAECAwQFBgcICQoLDA0ODw"
        );
        assert_eq!(text.parse::<SessionToken>().unwrap(), token());
        // Negative session ids (high bit set) survive too.
        let high = SessionToken {
            session_id: -2,
            ..token()
        };
        assert_eq!(high.to_string().parse::<SessionToken>().unwrap(), high);
    }

    #[test]
    fn serde_uses_the_text_form() {
        let json = serde_json::to_string(&token()).unwrap();
        assert_eq!(json, format!("\"{}\"", token()));
        assert_eq!(
            serde_json::from_str::<SessionToken>(&json).unwrap(),
            token()
        );
        assert!(serde_json::from_str::<SessionToken>("\"v2:x\"").is_err());
    }

    #[test]
    fn malformed_tokens_are_refused() {
        for bad in [
            "",
            "v2:010000000000002a:10000:1:AA",
            "v1:010000000000002a:10000:1",
            "v1:10000000000002a:10000:1:AA",
            "v1:010000000000002a:-1:1:AA",
            "v1:010000000000002a:10000:+1:AA",
            "v1:010000000000002a:10000:ffffffffffffffff:AA",
            "v1:010000000000002a:10000:1:A",
            "v1:010000000000002a:10000:1:AA:extra",
        ] {
            assert!(bad.parse::<SessionToken>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn debug_redacts_the_password() {
        let shown = format!("{:?}", token());
        assert!(
            shown.contains("redacted") && !shown.contains("AAECAw"),
            "{shown}"
        );
    }
}
