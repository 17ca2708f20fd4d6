//! Every client-facing record of ZooKeeper's `zookeeper.jute`, field for
//! field and in wire order, with snake_case names.
//!
//! Null buffers, strings and vectors (length -1) decode as empty; encoding
//! never writes null. Java's `type` fields are named after what they hold
//! (`op_code`, `event_type`, `watcher_type`, `auth_type`).

use super::error::DecodeError;
use super::jute::{Reader, Record, Writer};
use super::types::{Acl, Id, Stat};

/// A field type that jute knows how to read and write; lets `record!`
/// generate codecs from field lists.
trait Field: Sized {
    fn write(&self, out: &mut Vec<u8>);
    fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError>;
}

impl Field for i32 {
    fn write(&self, out: &mut Vec<u8>) {
        out.write_i32(*self);
    }
    fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        r.read_i32()
    }
}

impl Field for i64 {
    fn write(&self, out: &mut Vec<u8>) {
        out.write_i64(*self);
    }
    fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        r.read_i64()
    }
}

impl Field for bool {
    fn write(&self, out: &mut Vec<u8>) {
        out.write_bool(*self);
    }
    fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        r.read_bool()
    }
}

impl Field for String {
    fn write(&self, out: &mut Vec<u8>) {
        out.write_string(self);
    }
    fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        r.read_string()
    }
}

impl Field for Vec<u8> {
    fn write(&self, out: &mut Vec<u8>) {
        out.write_buffer(self);
    }
    fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        r.read_buffer()
    }
}

/// Node data: null (length -1) and empty are different values.
impl Field for Option<Vec<u8>> {
    fn write(&self, out: &mut Vec<u8>) {
        match self {
            Some(data) => out.write_buffer(data),
            None => out.write_i32(-1),
        }
    }
    fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        r.read_opt_buffer()
    }
}

impl Field for Vec<String> {
    fn write(&self, out: &mut Vec<u8>) {
        out.write_string_vec(self);
    }
    fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        r.read_string_vec()
    }
}

impl Field for Vec<Acl> {
    fn write(&self, out: &mut Vec<u8>) {
        out.write_vec(self);
    }
    fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        r.read_vec()
    }
}

impl Field for Vec<ClientInfo> {
    fn write(&self, out: &mut Vec<u8>) {
        out.write_vec(self);
    }
    fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        r.read_vec()
    }
}

impl Field for Stat {
    fn write(&self, out: &mut Vec<u8>) {
        self.encode(out);
    }
    fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Stat::decode(r)
    }
}

impl Field for Id {
    fn write(&self, out: &mut Vec<u8>) {
        self.encode(out);
    }
    fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Id::decode(r)
    }
}

/// The `Record` impl of a type whose fields are all `Field`s, in wire order.
macro_rules! record_impl {
    ($name:ident { $($field:ident),* $(,)? }) => {
        impl Record for $name {
            fn encode(&self, out: &mut Vec<u8>) {
                $( Field::write(&self.$field, out); )*
                let _ = out;
            }

            fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
                let _ = &r;
                Ok($name { $( $field: Field::read(r)?, )* })
            }
        }
    };
}

/// A record struct (pub fields, wire order) plus its `Record` impl.
macro_rules! record {
    (
        $(#[$meta:meta])*
        $name:ident {
            $( $(#[$field_meta:meta])* $field:ident : $ty:ty ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Default)]
        #[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
        pub struct $name {
            $( $(#[$field_meta])* pub $field: $ty, )*
        }

        record_impl!($name { $($field),* });
    };
}

record_impl!(Stat {
    czxid,
    mzxid,
    ctime,
    mtime,
    version,
    cversion,
    aversion,
    ephemeral_owner,
    data_length,
    num_children,
    pzxid
});
record_impl!(Id { scheme, id });
record_impl!(Acl { perms, id });

record! {
    /// Precedes every client request: `{int xid; int type}`.
    RequestHeader {
        /// Client-chosen request id, echoed in the reply; negative values are
        /// reserved (`PING_XID`, `AUTH_XID`, `SET_WATCHES_XID`).
        xid: i32,
        /// The [`OpCode`](super::OpCode) number.
        op_code: i32,
    }
}

record! {
    /// Precedes every server reply: `{int xid; long zxid; int err}`.
    ReplyHeader {
        /// The request's xid (-1 for notifications).
        xid: i32,
        /// The last zxid the server has applied.
        zxid: i64,
        /// 0 or an [`ErrorCode`](super::ErrorCode) number.
        err: i32,
    }
}

/// The first packet of a connection (no `RequestHeader`).
///
/// `read_only` was a manually appended trailing byte up to ZooKeeper 3.8 and
/// became a jute field in 3.9 (ZOOKEEPER-4492); since some clients omit it
/// (ZOOKEEPER-4814), decoding accepts a body without it (`false`), while
/// encoding always writes it: 44 or 45 bytes with a 16-byte password.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ConnectRequest {
    /// Always 0 for ZooKeeper clients.
    pub protocol_version: i32,
    /// The highest zxid the client has seen (0 for a new session).
    pub last_zxid_seen: i64,
    /// The session timeout the client asks for.
    pub timeout_ms: i32,
    /// The session to resume, 0 for a new one.
    pub session_id: i64,
    /// The session password (16 bytes from the server, empty for a new session).
    pub password: Vec<u8>,
    /// Whether the client accepts a read-only server.
    pub read_only: bool,
}

impl Record for ConnectRequest {
    fn encode(&self, out: &mut Vec<u8>) {
        out.write_i32(self.protocol_version);
        out.write_i64(self.last_zxid_seen);
        out.write_i32(self.timeout_ms);
        out.write_i64(self.session_id);
        out.write_buffer(&self.password);
        out.write_bool(self.read_only);
    }

    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(ConnectRequest {
            protocol_version: r.read_i32()?,
            last_zxid_seen: r.read_i64()?,
            timeout_ms: r.read_i32()?,
            session_id: r.read_i64()?,
            password: r.read_buffer()?,
            read_only: !r.is_empty() && r.read_bool()?,
        })
    }
}

/// The server's answer to a [`ConnectRequest`]; `timeout_ms <= 0` tells the
/// client its session expired.
///
/// As for the request, the trailing `read_only` byte is optional on decode
/// and always written on encode: 36 or 37 bytes with a 16-byte password.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ConnectResponse {
    /// Always 0.
    pub protocol_version: i32,
    /// The negotiated session timeout.
    pub timeout_ms: i32,
    /// The session id.
    pub session_id: i64,
    /// The session password.
    pub password: Vec<u8>,
    /// Whether the server is read-only.
    pub read_only: bool,
}

impl Record for ConnectResponse {
    fn encode(&self, out: &mut Vec<u8>) {
        out.write_i32(self.protocol_version);
        out.write_i32(self.timeout_ms);
        out.write_i64(self.session_id);
        out.write_buffer(&self.password);
        out.write_bool(self.read_only);
    }

    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(ConnectResponse {
            protocol_version: r.read_i32()?,
            timeout_ms: r.read_i32()?,
            session_id: r.read_i64()?,
            password: r.read_buffer()?,
            read_only: !r.is_empty() && r.read_bool()?,
        })
    }
}

record! {
    /// A watch notification, sent with xid -1.
    WatcherEvent {
        /// The [`EventType`](super::EventType) number.
        event_type: i32,
        /// The [`KeeperState`](super::KeeperState) number.
        state: i32,
        /// The node concerned (client-relative once the chroot is stripped).
        path: String,
    }
}

record! {
    /// create, create2 and createContainer.
    CreateRequest {
        /// The node to create (the prefix, for sequential nodes).
        path: String,
        /// Initial data (None: null, as ZooKeeper's clients may send).
        data: Option<Vec<u8>>,
        /// Initial ACL.
        acl: Vec<Acl>,
        /// The [`CreateMode`](super::CreateMode) flag.
        flags: i32,
    }
}

record! {
    /// createTTL.
    CreateTtlRequest {
        /// The node to create.
        path: String,
        /// Initial data (None: null, as ZooKeeper's clients may send).
        data: Option<Vec<u8>>,
        /// Initial ACL.
        acl: Vec<Acl>,
        /// The [`CreateMode`](super::CreateMode) flag (5 or 6).
        flags: i32,
        /// Time to live, milliseconds.
        ttl: i64,
    }
}

record! {
    /// delete and deleteContainer.
    DeleteRequest {
        /// The node to delete.
        path: String,
        /// Expected data version, -1 for any.
        version: i32,
    }
}

record! {
    /// exists.
    ExistsRequest {
        /// The node to stat.
        path: String,
        /// Whether to leave a data watch (set even if the node is absent).
        watch: bool,
    }
}

record! {
    /// getData.
    GetDataRequest {
        /// The node to read.
        path: String,
        /// Whether to leave a data watch.
        watch: bool,
    }
}

record! {
    /// setData.
    SetDataRequest {
        /// The node to write.
        path: String,
        /// New data (None: null).
        data: Option<Vec<u8>>,
        /// Expected data version, -1 for any.
        version: i32,
    }
}

record! {
    /// getACL.
    GetAclRequest {
        /// The node whose ACL to read.
        path: String,
    }
}

record! {
    /// setACL.
    SetAclRequest {
        /// The node whose ACL to write.
        path: String,
        /// The new ACL.
        acl: Vec<Acl>,
        /// Expected ACL version (`aversion`), -1 for any.
        version: i32,
    }
}

record! {
    /// getChildren.
    GetChildrenRequest {
        /// The node to list.
        path: String,
        /// Whether to leave a child watch.
        watch: bool,
    }
}

record! {
    /// getChildren2.
    GetChildren2Request {
        /// The node to list.
        path: String,
        /// Whether to leave a child watch.
        watch: bool,
    }
}

record! {
    /// sync.
    SyncRequest {
        /// The node (ignored by the server beyond echoing it).
        path: String,
    }
}

record! {
    /// check (inside multi).
    CheckVersionRequest {
        /// The node to check.
        path: String,
        /// Expected data version.
        version: i32,
    }
}

record! {
    /// reconfig.
    ReconfigRequest {
        /// Servers to add, comma-separated.
        joining_servers: String,
        /// Server ids to remove, comma-separated.
        leaving_servers: String,
        /// The full new membership (non-incremental form).
        new_members: String,
        /// Expected current config version, -1 for any.
        cur_config_id: i64,
    }
}

record! {
    /// checkWatches.
    CheckWatchesRequest {
        /// The watched node.
        path: String,
        /// The [`WatcherType`](super::WatcherType) number.
        watcher_type: i32,
    }
}

record! {
    /// removeWatches.
    RemoveWatchesRequest {
        /// The watched node.
        path: String,
        /// The [`WatcherType`](super::WatcherType) number.
        watcher_type: i32,
    }
}

record! {
    /// auth (xid -4).
    AuthPacket {
        /// Unused by ZooKeeper (always 0).
        auth_type: i32,
        /// The auth scheme (`digest`, ...).
        scheme: String,
        /// Scheme-specific credentials (`user:password` for digest).
        auth: Vec<u8>,
    }
}

record! {
    /// setWatches (xid -8): re-registers watches after a reconnect.
    SetWatches {
        /// The last zxid the client saw; watches fire for later changes.
        relative_zxid: i64,
        /// Paths with data watches.
        data_watches: Vec<String>,
        /// Paths with exist watches.
        exist_watches: Vec<String>,
        /// Paths with child watches.
        child_watches: Vec<String>,
    }
}

record! {
    /// setWatches2 (xid -8): as [`SetWatches`] plus persistent watches.
    SetWatches2 {
        /// The last zxid the client saw; watches fire for later changes.
        relative_zxid: i64,
        /// Paths with data watches.
        data_watches: Vec<String>,
        /// Paths with exist watches.
        exist_watches: Vec<String>,
        /// Paths with child watches.
        child_watches: Vec<String>,
        /// Paths with persistent watches.
        persistent_watches: Vec<String>,
        /// Paths with persistent-recursive watches.
        persistent_recursive_watches: Vec<String>,
    }
}

record! {
    /// getEphemerals.
    GetEphemeralsRequest {
        /// Only ephemerals whose path starts with this prefix.
        prefix_path: String,
    }
}

record! {
    /// getAllChildrenNumber.
    GetAllChildrenNumberRequest {
        /// The subtree root.
        path: String,
    }
}

record! {
    /// addWatch.
    AddWatchRequest {
        /// The node to watch.
        path: String,
        /// The [`AddWatchMode`](super::AddWatchMode) number.
        mode: i32,
    }
}

record! {
    /// sasl: a client SASL token.
    GetSaslRequest {
        /// The token.
        token: Vec<u8>,
    }
}

record! {
    /// Reply to create.
    CreateResponse {
        /// The created node (with its sequence suffix).
        path: String,
    }
}

record! {
    /// Reply to create2, createContainer and createTTL.
    Create2Response {
        /// The created node (with its sequence suffix).
        path: String,
        /// Its stat.
        stat: Stat,
    }
}

record! {
    /// Reply to exists.
    ExistsResponse {
        /// The node's stat.
        stat: Stat,
    }
}

record! {
    /// Reply to getData (and reconfig).
    GetDataResponse {
        /// The data (None: the node's data is null).
        data: Option<Vec<u8>>,
        /// The node's stat.
        stat: Stat,
    }
}

record! {
    /// Reply to setData.
    SetDataResponse {
        /// The node's new stat.
        stat: Stat,
    }
}

record! {
    /// Reply to getACL.
    GetAclResponse {
        /// The ACL.
        acl: Vec<Acl>,
        /// The node's stat.
        stat: Stat,
    }
}

record! {
    /// Reply to setACL.
    SetAclResponse {
        /// The node's new stat.
        stat: Stat,
    }
}

record! {
    /// Reply to getChildren.
    GetChildrenResponse {
        /// Child names (not paths).
        children: Vec<String>,
    }
}

record! {
    /// Reply to getChildren2.
    GetChildren2Response {
        /// Child names (not paths).
        children: Vec<String>,
        /// The parent's stat.
        stat: Stat,
    }
}

record! {
    /// Reply to sync.
    SyncResponse {
        /// The request's path.
        path: String,
    }
}

record! {
    /// An error code as a record: failed multi results, and addWatch's reply.
    ErrorResponse {
        /// 0 or an [`ErrorCode`](super::ErrorCode) number.
        err: i32,
    }
}

record! {
    /// Reply to getEphemerals.
    GetEphemeralsResponse {
        /// Paths of the session's ephemerals under the prefix.
        ephemerals: Vec<String>,
    }
}

record! {
    /// Reply to getAllChildrenNumber.
    GetAllChildrenNumberResponse {
        /// Number of descendants.
        total_number: i32,
    }
}

record! {
    /// One identity of a session, in whoAmI's reply.
    ClientInfo {
        /// The auth scheme (`ip`, `digest`, ...).
        auth_scheme: String,
        /// The identity within it.
        user: String,
    }
}

record! {
    /// Reply to whoAmI.
    WhoAmIResponse {
        /// The session's identities.
        client_info: Vec<ClientInfo>,
    }
}

record! {
    /// Reply to sasl: a server SASL token.
    SetSaslResponse {
        /// The token.
        token: Vec<u8>,
    }
}

record! {
    /// Precedes each op (and each result) of a multi; `done` ends the list.
    MultiHeader {
        /// The op's [`OpCode`](super::OpCode) number (-1 for error results
        /// and the terminator).
        op_type: i32,
        /// True only on the terminator.
        done: bool,
        /// -1 in requests; 0 or the error code in responses.
        err: i32,
    }
}

impl MultiHeader {
    /// The header that ends a multi request or response: `{-1, true, -1}`.
    pub const END: MultiHeader = MultiHeader {
        op_type: -1,
        done: true,
        err: -1,
    };
}
