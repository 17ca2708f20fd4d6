//! ZooKeeper's request opcodes (`ZooDefs.OpCode`) and reserved xids.

/// A request type as carried in `RequestHeader.type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[repr(i32)]
pub enum OpCode {
    /// Watch notification (server to client only, xid -1).
    Notification = 0,
    /// Create a node.
    Create = 1,
    /// Delete a node.
    Delete = 2,
    /// Stat a node.
    Exists = 3,
    /// Read a node's data.
    GetData = 4,
    /// Write a node's data.
    SetData = 5,
    /// Read a node's ACL.
    GetAcl = 6,
    /// Write a node's ACL.
    SetAcl = 7,
    /// List a node's children.
    GetChildren = 8,
    /// Catch the connected server up with the leader.
    Sync = 9,
    /// Heartbeat (xid -2).
    Ping = 11,
    /// List children with the parent's stat.
    GetChildren2 = 12,
    /// Version check (only valid inside multi).
    Check = 13,
    /// Atomic multi-op.
    Multi = 14,
    /// Create returning the stat.
    Create2 = 15,
    /// Dynamic reconfiguration.
    Reconfig = 16,
    /// Check that a watch exists.
    CheckWatches = 17,
    /// Remove watches.
    RemoveWatches = 18,
    /// Create a container node.
    CreateContainer = 19,
    /// Delete a container node (server internal).
    DeleteContainer = 20,
    /// Create a node with a TTL.
    CreateTtl = 21,
    /// Read-only multi (getData / getChildren).
    MultiRead = 22,
    /// Add authentication (xid -4).
    Auth = 100,
    /// Re-register watches after reconnect (xid -8).
    SetWatches = 101,
    /// SASL token exchange.
    Sasl = 102,
    /// List the session's ephemerals under a prefix.
    GetEphemerals = 103,
    /// Count all descendants of a node.
    GetAllChildrenNumber = 104,
    /// Re-register watches including persistent ones (xid -8).
    SetWatches2 = 105,
    /// Add a persistent or persistent-recursive watch.
    AddWatch = 106,
    /// Ask which identities the session has.
    WhoAmI = 107,
    /// Create a session (transaction type only).
    CreateSession = -10,
    /// Close the session.
    CloseSession = -11,
    /// Error result inside multi.
    Error = -1,
}

impl OpCode {
    /// The opcode for a wire number, if ZooKeeper defines it.
    pub fn from_code(code: i32) -> Option<OpCode> {
        use OpCode::*;
        Some(match code {
            0 => Notification,
            1 => Create,
            2 => Delete,
            3 => Exists,
            4 => GetData,
            5 => SetData,
            6 => GetAcl,
            7 => SetAcl,
            8 => GetChildren,
            9 => Sync,
            11 => Ping,
            12 => GetChildren2,
            13 => Check,
            14 => Multi,
            15 => Create2,
            16 => Reconfig,
            17 => CheckWatches,
            18 => RemoveWatches,
            19 => CreateContainer,
            20 => DeleteContainer,
            21 => CreateTtl,
            22 => MultiRead,
            100 => Auth,
            101 => SetWatches,
            102 => Sasl,
            103 => GetEphemerals,
            104 => GetAllChildrenNumber,
            105 => SetWatches2,
            106 => AddWatch,
            107 => WhoAmI,
            -10 => CreateSession,
            -11 => CloseSession,
            -1 => Error,
            _ => return None,
        })
    }

    /// The wire number.
    pub fn code(self) -> i32 {
        self as i32
    }
}

/// xid of watch notifications.
pub const NOTIFICATION_XID: i32 = -1;
/// xid of pings.
pub const PING_XID: i32 = -2;
/// xid of auth packets.
pub const AUTH_XID: i32 = -4;
/// xid of SetWatches / SetWatches2.
pub const SET_WATCHES_XID: i32 = -8;
