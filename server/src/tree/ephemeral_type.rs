//! How a node's stored `ephemeralOwner` is read (`EphemeralType.java`).
//!
//! ZooKeeper overloads the 64-bit owner: 0 for a plain persistent node, a
//! session id for an ephemeral, `0x8000000000000000` for a container, and for
//! TTL nodes a high byte of `0xff`, two reserved bytes (the extended feature,
//! 0 for TTL) and 40 bits of TTL in milliseconds. Corral always enables the
//! extended types (ZooKeeper's `zookeeper.extendedTypesEnabled=true`), so
//! session ids must never have `0xff` as their high byte; they are seeded with
//! server id 1 (see `Database`).

/// The stored owner of every container node.
pub const CONTAINER_EPHEMERAL_OWNER: i64 = i64::MIN;
/// The largest TTL a node can carry, in milliseconds (40 bits, ~34 years).
pub const TTL_MAX_MS: i64 = 0x0000_00ff_ffff_ffff;

const EXTENDED_MASK: i64 = 0xff00_0000_0000_0000_u64 as i64;
const RESERVED_BITS_MASK: i64 = 0x00ff_ff00_0000_0000;
const EXTENDED_BIT_TTL: i64 = 0;

/// What kind of node an `ephemeralOwner` denotes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EphemeralType {
    /// A persistent node (owner 0).
    Void,
    /// An ephemeral node owned by a session.
    Normal,
    /// A container node.
    Container,
    /// A persistent node with a TTL.
    Ttl,
}

impl EphemeralType {
    /// The type an owner value denotes.
    pub fn of(ephemeral_owner: i64) -> EphemeralType {
        if ephemeral_owner & EXTENDED_MASK == EXTENDED_MASK {
            // Only one extended feature exists; an unknown feature is treated as
            // TTL rather than panicking since owners only come from our own code.
            return EphemeralType::Ttl;
        }
        if ephemeral_owner == CONTAINER_EPHEMERAL_OWNER {
            EphemeralType::Container
        } else if ephemeral_owner == 0 {
            EphemeralType::Void
        } else {
            EphemeralType::Normal
        }
    }

    /// The stored owner of a TTL node, or `None` if the TTL is not in
    /// `1..=TTL_MAX_MS` (ZooKeeper: BadArguments).
    pub fn ttl_owner(ttl_ms: i64) -> Option<i64> {
        if ttl_ms <= 0 || ttl_ms > TTL_MAX_MS {
            return None;
        }
        Some(EXTENDED_MASK | EXTENDED_BIT_TTL | ttl_ms)
    }

    /// The TTL carried by a TTL node's owner (0 for other kinds).
    pub fn ttl_ms(ephemeral_owner: i64) -> i64 {
        match EphemeralType::of(ephemeral_owner) {
            EphemeralType::Ttl => ephemeral_owner & !(EXTENDED_MASK | RESERVED_BITS_MASK),
            _ => 0,
        }
    }

    /// The owner shown to clients: the session for ephemerals, 0 otherwise
    /// (`DataNode.getClientEphemeralOwner`).
    pub fn client_owner(ephemeral_owner: i64) -> i64 {
        match EphemeralType::of(ephemeral_owner) {
            EphemeralType::Normal => ephemeral_owner,
            _ => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owner_encoding_table() {
        let cases: &[(i64, EphemeralType, i64, i64)] = &[
            (0, EphemeralType::Void, 0, 0),
            (
                0x0100_0000_0000_0001,
                EphemeralType::Normal,
                0,
                0x0100_0000_0000_0001,
            ),
            (i64::MIN, EphemeralType::Container, 0, 0),
            (0xff00_0000_0000_0001_u64 as i64, EphemeralType::Ttl, 1, 0),
            (
                0xff00_00ff_ffff_ffff_u64 as i64,
                EphemeralType::Ttl,
                TTL_MAX_MS,
                0,
            ),
        ];
        for &(owner, kind, ttl, client) in cases {
            assert_eq!(EphemeralType::of(owner), kind, "{owner:#x}");
            assert_eq!(EphemeralType::ttl_ms(owner), ttl, "{owner:#x}");
            assert_eq!(EphemeralType::client_owner(owner), client, "{owner:#x}");
        }
    }

    #[test]
    fn ttl_owner_bounds() {
        assert_eq!(EphemeralType::ttl_owner(0), None);
        assert_eq!(EphemeralType::ttl_owner(-5), None);
        assert_eq!(EphemeralType::ttl_owner(TTL_MAX_MS + 1), None);
        assert_eq!(
            EphemeralType::ttl_owner(1),
            Some(0xff00_0000_0000_0001_u64 as i64)
        );
        assert_eq!(
            EphemeralType::ttl_owner(1_099_511_627_775).map(EphemeralType::ttl_ms),
            Some(1_099_511_627_775)
        );
    }
}
