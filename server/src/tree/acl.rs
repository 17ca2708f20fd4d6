//! ACL rules: ZooKeeper's built-in schemes (`world`, `auth`, `digest`, `ip`,
//! super user) as `PrepRequestProcessor.fixupACL`,
//! `ZooKeeperServer.checkACL`, `DigestAuthenticationProvider` and
//! `IPAuthenticationProvider` apply them.
//!
//! Pure functions over ACL lists, used by `Database::apply` and by the
//! server's read path alike.

use base64::Engine as _;
use corral_wire::proto::{Acl, ErrorCode, Id};
use sha1::{Digest as _, Sha1};
use std::net::Ipv6Addr;

/// The digest id of `user:password` as ZooKeeper stores it:
/// `user:base64(sha1("user:password"))`
/// (`DigestAuthenticationProvider.generateDigest`). The server's addAuth
/// turns `digest` credentials into `Id { scheme: "digest", id: digest_id(..) }`.
pub fn digest_id(user_password: &str) -> String {
    let user = user_password.split(':').next().unwrap_or("");
    let hash = Sha1::digest(user_password.as_bytes());
    format!(
        "{user}:{}",
        base64::engine::general_purpose::STANDARD.encode(hash)
    )
}

/// Whether `id` names an identity ZooKeeper accepts in an ACL (after `auth`
/// expansion): `world:anyone`, `digest:user:hash` (exactly two `:`-separated
/// parts as Java's `split(":")` counts them) or `ip:addr[/bits]`.
pub fn is_valid_acl_id(id: &Id) -> bool {
    match id.scheme.as_str() {
        "world" => id.id == "anyone",
        "digest" => {
            // Java's split drops trailing empty strings: "u:" is one part.
            let parts: Vec<&str> = id.id.split(':').collect();
            let mut n = parts.len();
            while n > 0 && parts[n - 1].is_empty() {
                n -= 1;
            }
            n == 2
        }
        "ip" => parse_ip_expr(&id.id).is_some(),
        _ => false,
    }
}

/// Validates an ACL from create or setACL and expands `auth` entries into
/// the caller's authenticated ids (`fixupACL`): duplicates are dropped, an
/// empty list, an unknown scheme, a malformed id or an `auth` entry from a
/// caller with no authenticated id gives `InvalidAcl`. `ip` identities do not
/// count as authenticated (ZooKeeper's `IPAuthenticationProvider.isAuthenticated`
/// is false), nor does the super user id.
pub fn fixup_acl(acl: &[Acl], auth: &[Id]) -> Result<Vec<Acl>, ErrorCode> {
    let mut unique: Vec<&Acl> = Vec::with_capacity(acl.len());
    for a in acl {
        if !unique.contains(&a) {
            unique.push(a);
        }
    }
    if unique.is_empty() {
        return Err(ErrorCode::InvalidAcl);
    }
    let mut out = Vec::with_capacity(unique.len());
    for a in unique {
        if a.id.scheme == "auth" {
            let mut any = false;
            for id in auth.iter().filter(|id| is_authenticated_scheme(&id.scheme)) {
                any = true;
                out.push(Acl {
                    perms: a.perms,
                    id: id.clone(),
                });
            }
            if !any {
                return Err(ErrorCode::InvalidAcl);
            }
        } else if is_valid_acl_id(&a.id) {
            out.push(a.clone());
        } else {
            return Err(ErrorCode::InvalidAcl);
        }
    }
    Ok(out)
}

/// Schemes whose ids `auth` expands to (`ServerAuthenticationProvider.isAuthenticated`).
fn is_authenticated_scheme(scheme: &str) -> bool {
    !matches!(scheme, "ip" | "super" | "world")
}

/// Whether the caller (`auth`, `is_super`) holds `perm` under `acl`
/// (`ZooKeeperServer.checkACL`): the super user and an id of scheme `super`
/// pass everything, so does an empty ACL; otherwise some entry granting
/// `perm` must be `world:anyone`, or match one of the caller's ids of the
/// same scheme (`digest`: equal ids; `ip`: address within the entry's
/// address or CIDR range). Anything else is `NoAuth`.
pub fn check_acl(acl: &[Acl], perm: i32, auth: &[Id], is_super: bool) -> Result<(), ErrorCode> {
    if is_super || acl.is_empty() || auth.iter().any(|id| id.scheme == "super") {
        return Ok(());
    }
    for a in acl.iter().filter(|a| a.perms & perm != 0) {
        if a.id.scheme == "world" && a.id.id == "anyone" {
            return Ok(());
        }
        let granted = auth.iter().filter(|id| id.scheme == a.id.scheme).any(|id| {
            match a.id.scheme.as_str() {
                "ip" => ip_matches(&id.id, &a.id.id),
                "digest" => id.id == a.id.id,
                // Other schemes (sasl, x509) match by equality, their
                // providers' default.
                _ => id.id == a.id.id,
            }
        });
        if granted {
            return Ok(());
        }
    }
    Err(ErrorCode::NoAuth)
}

/// The ACL as shown by getACL to a caller without ADMIN on the node: digest
/// hashes replaced by `x` (`user:x`), as ZooKeeper's `FinalRequestProcessor`
/// does (ZOOKEEPER-1392). ZooKeeper also requires READ or ADMIN for getACL at
/// all; that check is the server's.
pub fn mask_acl(acl: &[Acl]) -> Vec<Acl> {
    acl.iter()
        .map(|a| {
            if a.id.scheme == "digest" {
                let user = a.id.id.split(':').next().unwrap_or("");
                Acl {
                    perms: a.perms,
                    id: Id::new("digest", format!("{user}:x")),
                }
            } else {
                a.clone()
            }
        })
        .collect()
}

/// Whether the client address `addr` is covered by the ACL expression
/// `expr` (`a.b.c.d`, `a.b.c.d/bits`, IPv6 likewise).
pub fn ip_matches(addr: &str, expr: &str) -> bool {
    let Some((net, bits)) = parse_ip_expr(expr) else {
        return false;
    };
    let Some(addr) = parse_ip(addr) else {
        return false;
    };
    if addr.len() != net.len() {
        return false;
    }
    let mut remaining = bits;
    for (a, n) in addr.iter().zip(net.iter()) {
        let take = remaining.min(8);
        remaining -= take;
        let mask: u8 = if take == 0 { 0 } else { 0xff << (8 - take) };
        if a & mask != n & mask {
            return false;
        }
    }
    true
}

/// An address and prefix length from `addr[/bits]`.
fn parse_ip_expr(expr: &str) -> Option<(Vec<u8>, u32)> {
    let (addr, bits) = match expr.split_once('/') {
        Some((a, b)) => (a, Some(b)),
        None => (expr, None),
    };
    let bytes = parse_ip(addr)?;
    let max = bytes.len() as u32 * 8;
    let bits = match bits {
        Some(b) => {
            let b: i64 = b.parse().ok()?;
            if b < 0 || b > i64::from(max) {
                return None;
            }
            b as u32
        }
        None => max,
    };
    Some((bytes, bits))
}

/// An IPv4 address as ZooKeeper parses it (four decimal parts 0-255, leading
/// zeros allowed) or an IPv6 address.
fn parse_ip(addr: &str) -> Option<Vec<u8>> {
    if addr.contains(':') {
        return addr.parse::<Ipv6Addr>().ok().map(|a| a.octets().to_vec());
    }
    let parts: Vec<&str> = addr.split('.').collect();
    if parts.len() != 4 {
        return None;
    }
    parts.iter().map(|p| parse_java_octet(p)).collect()
}

/// One IPv4 part as Java's `Integer.parseInt` then a 0-255 range check
/// read it: an optional sign, decimal digits, leading zeros allowed.
fn parse_java_octet(part: &str) -> Option<u8> {
    let digits = part.strip_prefix(['+', '-']).unwrap_or(part);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let value: i64 = digits.trim_start_matches('0').parse().unwrap_or(0);
    let digits_too_long = digits.trim_start_matches('0').len() > 3;
    if digits_too_long {
        return None;
    }
    let value = if part.starts_with('-') { -value } else { value };
    u8::try_from(value).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use corral_wire::proto::Perms;

    fn acl(perms: i32, scheme: &str, id: &str) -> Acl {
        Acl {
            perms,
            id: Id::new(scheme, id),
        }
    }

    #[test]
    fn digest_id_matches_zookeeper() {
        // Reference value from ZooKeeper's DigestAuthenticationProvider
        // (`generateDigest("super:test")`, documented in the admin guide).
        assert_eq!(
            digest_id("super:test"),
            "super:D/InIHSb7yEEbrWz8b9l71RjZJU="
        );
        assert_eq!(digest_id("user:pw").split(':').next(), Some("user"));
    }

    #[test]
    fn ip_matches_table() {
        let cases: &[(&str, &str, bool)] = &[
            ("127.0.0.1", "127.0.0.1", true),
            ("127.0.0.2", "127.0.0.1", false),
            ("10.1.2.3", "10.0.0.0/8", true),
            ("11.1.2.3", "10.0.0.0/8", false),
            ("192.168.1.77", "192.168.1.64/26", true),
            ("192.168.1.128", "192.168.1.64/26", false),
            ("1.2.3.4", "0.0.0.0/0", true),
            ("010.0.0.1", "10.0.0.1", true),
            ("0010.+0.-0.1", "10.0.0.1", true),
            ("10.0.0.256", "10.0.0.0/8", false),
            ("10.0.0.-1", "10.0.0.0/8", false),
            ("10.0.0.", "10.0.0.0/8", false),
            ("::1", "::1", true),
            ("::1", "127.0.0.1", false),
            ("2001:db8::5", "2001:db8::/32", true),
            ("2001:db9::5", "2001:db8::/32", false),
            ("1.2.3.4", "1.2.3.4/33", false),
            ("1.2.3.4", "1.2.3", false),
            ("garbage", "1.2.3.4", false),
        ];
        for (addr, expr, want) in cases {
            assert_eq!(ip_matches(addr, expr), *want, "{addr} in {expr}");
        }
    }

    #[test]
    fn valid_ids_table() {
        let cases: &[(&str, &str, bool)] = &[
            ("world", "anyone", true),
            ("world", "someone", false),
            ("digest", "u:hash", true),
            ("digest", "u:", false),
            ("digest", "u", false),
            ("digest", "u:a:b", false),
            ("ip", "10.0.0.0/8", true),
            ("ip", "10.0.0.0/40", false),
            ("ip", "::1/128", true),
            ("ip", "nope", false),
            ("super", "x", false),
            ("auth", "", false),
            ("nosuch", "x", false),
        ];
        for (scheme, id, want) in cases {
            assert_eq!(
                is_valid_acl_id(&Id::new(*scheme, *id)),
                *want,
                "{scheme}:{id}"
            );
        }
    }

    #[test]
    fn fixup_expands_auth_and_dedups() {
        let digest = Id::new("digest", "u:h");
        let ip = Id::new("ip", "127.0.0.1");
        let auth = vec![ip.clone(), digest.clone()];
        let open = acl(Perms::ALL, "world", "anyone");
        assert_eq!(
            fixup_acl(&[open.clone(), open.clone()], &auth),
            Ok(vec![open.clone()])
        );
        assert_eq!(
            fixup_acl(&Acl::creator_all(), &auth),
            Ok(vec![Acl {
                perms: Perms::ALL,
                id: digest
            }])
        );
        assert_eq!(
            fixup_acl(&Acl::creator_all(), &[ip]),
            Err(ErrorCode::InvalidAcl)
        );
        assert_eq!(fixup_acl(&[], &auth), Err(ErrorCode::InvalidAcl));
        assert_eq!(
            fixup_acl(&[acl(1, "bogus", "x")], &auth),
            Err(ErrorCode::InvalidAcl)
        );
    }

    #[test]
    fn check_acl_table() {
        let acls = vec![
            acl(Perms::READ, "world", "anyone"),
            acl(Perms::WRITE, "digest", "u:h"),
            acl(Perms::DELETE, "ip", "10.0.0.0/8"),
        ];
        let none: &[Id] = &[];
        let digest = [Id::new("digest", "u:h")];
        let other = [Id::new("digest", "u:other")];
        let ip = [Id::new("ip", "10.9.9.9")];
        let cases: &[(i32, &[Id], bool, bool)] = &[
            (Perms::READ, none, false, true),
            (Perms::WRITE, none, false, false),
            (Perms::WRITE, &digest, false, true),
            (Perms::WRITE, &other, false, false),
            (Perms::DELETE, &ip, false, true),
            (Perms::DELETE, &digest, false, false),
            (Perms::ADMIN, &digest, false, false),
            (Perms::ADMIN, none, true, true),
            (
                Perms::ADMIN,
                &[Id {
                    scheme: "super".into(),
                    id: String::new(),
                }],
                false,
                true,
            ),
        ];
        for (perm, auth, is_super, ok) in cases {
            assert_eq!(
                check_acl(&acls, *perm, auth, *is_super).is_ok(),
                *ok,
                "perm {perm} auth {auth:?} super {is_super}"
            );
        }
        assert_eq!(check_acl(&[], Perms::ADMIN, none, false), Ok(()));
        assert_eq!(
            check_acl(&acls, Perms::ADMIN, none, false),
            Err(ErrorCode::NoAuth)
        );
    }

    #[test]
    fn mask_hides_digest_hashes() {
        let acls = vec![acl(31, "digest", "u:secret"), acl(1, "world", "anyone")];
        assert_eq!(
            mask_acl(&acls),
            vec![acl(31, "digest", "u:x"), acl(1, "world", "anyone")]
        );
    }
}
