//! What each client request does on this server: writes become log
//! transactions ([`classify`], [`write_reply`]); reads and session-local
//! ops are answered from the local tree ([`execute_local`]), exactly as
//! ZooKeeper 3.8's `FinalRequestProcessor` answers them.

use bytes::Bytes;
use corral_wire::path::validate_path;
use corral_wire::proto::{
    Acl, AddWatchMode, ClientInfo, Create2Response, CreateMode, CreateResponse, ErrorCode,
    EventType, ExistsResponse, GetAclResponse, GetAllChildrenNumberResponse, GetChildren2Response,
    GetChildrenResponse, GetDataResponse, GetEphemeralsResponse, Id, MultiOp, MultiResult, OpCode,
    Perms, ReadOp, Request, Response, SetAclResponse, SetDataResponse, SyncResponse, WatcherType,
    WhoAmIResponse, AUTH_XID, PING_XID, SET_WATCHES_XID,
};

use super::connection::{ConnState, Connection};
use super::reconfig;
use crate::config::Config;
use crate::state::Server;
use crate::tree::{acl, Database, Node};
use crate::txn::{OpResult, TxnOp, TxnOutcome};
use crate::watch::{WatchKind, WatchManager};

/// How to encode the reply of a write once its outcome is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplyShape {
    /// `CreateResponse{path}`.
    Create,
    /// `Create2Response{path, stat}` (create2, createContainer, createTTL).
    Create2,
    /// No body (delete).
    Empty,
    /// `SetDataResponse{stat}`.
    SetData,
    /// `SetACLResponse{stat}`.
    SetAcl,
    /// Per-op results, shaped by each op's opcode.
    Multi(Vec<OpCode>),
    /// No body; the connection closes after the reply.
    CloseSession,
    /// `SyncResponse{path}`.
    Sync(String),
}

/// A request answered on this server without the log.
#[derive(Debug)]
pub enum LocalOp {
    /// A read or session-local request.
    Request(Request),
    /// A request refused before reaching the log (bad arguments, unknown
    /// opcode, malformed record): answered with this code, in order.
    Error(ErrorCode),
    /// A request already carried out (reconfig): answered with this.
    Done(Result<Response, ErrorCode>),
    /// Answered with this code, then the connection closes (an unknown
    /// opcode, as ZooKeeper answers it).
    Fatal(ErrorCode),
}

/// Where a request goes.
#[derive(Debug)]
pub enum Kind {
    /// Through the log.
    Write(TxnOp, ReplyShape),
    /// Answered here.
    Local(LocalOp),
    /// A membership change, carried out between this session's requests.
    Reconfig(corral_wire::proto::ReconfigRequest),
}

/// Decide where a request goes; writes are turned into transactions.
pub fn classify(config: &Config, request: Request) -> Kind {
    let write = match request {
        Request::Create(r) => create_op(config, OpCode::Create, r.path, r.data, r.acl, r.flags, -1)
            .map(|op| (op, ReplyShape::Create)),
        Request::Create2(r) => {
            create_op(config, OpCode::Create2, r.path, r.data, r.acl, r.flags, -1)
                .map(|op| (op, ReplyShape::Create2))
        }
        Request::CreateContainer(r) => create_op(
            config,
            OpCode::CreateContainer,
            r.path,
            r.data,
            r.acl,
            r.flags,
            -1,
        )
        .map(|op| (op, ReplyShape::Create2)),
        Request::CreateTtl(r) => create_op(
            config,
            OpCode::CreateTtl,
            r.path,
            r.data,
            r.acl,
            r.flags,
            r.ttl,
        )
        .map(|op| (op, ReplyShape::Create2)),
        Request::Delete(r) => Ok((
            TxnOp::Delete {
                path: r.path,
                version: r.version,
            },
            ReplyShape::Empty,
        )),
        Request::SetData(r) => Ok((set_data_op(r.path, r.data, r.version), ReplyShape::SetData)),
        Request::SetAcl(r) => Ok((
            TxnOp::SetAcl {
                path: r.path,
                acl: r.acl,
                version: r.version,
            },
            ReplyShape::SetAcl,
        )),
        Request::Multi(ops) => multi_op(config, ops),
        Request::CloseSession => Ok((TxnOp::CloseSession, ReplyShape::CloseSession)),
        // sync goes through the log as a barrier that takes no zxid: once
        // this server applies it, it has everything the leader committed
        // before the request, as ZooKeeper's sync promises.
        Request::Sync(r) => validate_path(&r.path)
            .map_err(|_| ErrorCode::BadArguments)
            .map(|()| (TxnOp::Noop, ReplyShape::Sync(r.path))),
        // Standalone check is refused as ZooKeeper 3.9.3 refuses it
        // (ZOOKEEPER-2623); 3.8 answered it with an empty SetDataResponse.
        Request::Check(_) | Request::DeleteContainer(_) => Err(ErrorCode::Unimplemented),
        Request::Reconfig(r) => return Kind::Reconfig(r),
        Request::Sasl(_) => Err(ErrorCode::Unimplemented),
        other => return Kind::Local(LocalOp::Request(other)),
    };
    match write {
        Ok((op, shape)) => Kind::Write(op, shape),
        Err(code) => Kind::Local(LocalOp::Error(code)),
    }
}

/// setData, with null data (length -1) kept apart from empty.
fn set_data_op(path: String, data: Option<Vec<u8>>, version: i32) -> TxnOp {
    match data {
        Some(data) => TxnOp::SetData {
            path,
            data,
            version,
        },
        None => TxnOp::SetNullData { path, version },
    }
}

/// Check what ZooKeeper checks before a create reaches its log: the flags
/// name a mode, the opcode fits the mode, TTLs are enabled.
fn create_op(
    config: &Config,
    op: OpCode,
    path: String,
    data: Option<Vec<u8>>,
    acl: Vec<Acl>,
    flags: i32,
    ttl: i64,
) -> Result<TxnOp, ErrorCode> {
    let mode = CreateMode::from_flag(flags).ok_or(ErrorCode::BadArguments)?;
    match op {
        OpCode::CreateContainer if mode != CreateMode::Container => {
            return Err(ErrorCode::BadArguments)
        }
        OpCode::CreateTtl if !mode.is_ttl() => return Err(ErrorCode::BadArguments),
        OpCode::Create | OpCode::Create2 if mode.is_ttl() => return Err(ErrorCode::BadArguments),
        _ => {}
    }
    if mode.is_ttl() && !config.ttl_enabled {
        return Err(ErrorCode::Unimplemented);
    }
    let ttl_ms = if mode.is_ttl() { ttl } else { 0 };
    Ok(match data {
        Some(data) => TxnOp::Create {
            path,
            data,
            acl,
            mode,
            ttl_ms,
        },
        None => TxnOp::CreateWithNullData {
            path,
            acl,
            mode,
            ttl_ms,
        },
    })
}

fn multi_op(config: &Config, ops: Vec<MultiOp>) -> Result<(TxnOp, ReplyShape), ErrorCode> {
    let mut txn_ops = Vec::with_capacity(ops.len());
    let mut shapes = Vec::with_capacity(ops.len());
    for op in ops {
        shapes.push(op.op_code());
        txn_ops.push(match op {
            MultiOp::Create(r) => {
                create_op(config, OpCode::Create, r.path, r.data, r.acl, r.flags, -1)?
            }
            MultiOp::Create2(r) => {
                create_op(config, OpCode::Create2, r.path, r.data, r.acl, r.flags, -1)?
            }
            MultiOp::CreateContainer(r) => create_op(
                config,
                OpCode::CreateContainer,
                r.path,
                r.data,
                r.acl,
                r.flags,
                -1,
            )?,
            MultiOp::CreateTtl(r) => create_op(
                config,
                OpCode::CreateTtl,
                r.path,
                r.data,
                r.acl,
                r.flags,
                r.ttl,
            )?,
            MultiOp::Delete(r) => TxnOp::Delete {
                path: r.path,
                version: r.version,
            },
            MultiOp::SetData(r) => set_data_op(r.path, r.data, r.version),
            MultiOp::Check(r) => TxnOp::Check {
                path: r.path,
                version: r.version,
            },
        });
    }
    Ok((TxnOp::Multi(txn_ops), ReplyShape::Multi(shapes)))
}

/// Encode the reply of an applied write; true if the connection must close
/// after it (closeSession).
pub fn write_reply(xid: i32, out: &TxnOutcome, shape: &ReplyShape) -> (Bytes, bool) {
    let ok = |resp: Response| {
        (
            Server::reply_frame(xid, out.zxid, ErrorCode::Ok, &resp),
            false,
        )
    };
    match (&out.result, shape) {
        (Err(code), ReplyShape::CloseSession) => (
            Server::reply_frame(xid, out.zxid, *code, &Response::Empty),
            true,
        ),
        (Err(code), _) => (
            Server::reply_frame(xid, out.zxid, *code, &Response::Empty),
            false,
        ),
        (Ok(OpResult::Created { path, .. }), ReplyShape::Create) => {
            ok(Response::Create(CreateResponse { path: path.clone() }))
        }
        (Ok(OpResult::Created { path, stat }), ReplyShape::Create2) => {
            ok(Response::Create2(Create2Response {
                path: path.clone(),
                stat: *stat,
            }))
        }
        (Ok(OpResult::DataSet { stat }), ReplyShape::SetData) => {
            ok(Response::SetData(SetDataResponse { stat: *stat }))
        }
        (Ok(OpResult::AclSet { stat }), ReplyShape::SetAcl) => {
            ok(Response::SetAcl(SetAclResponse { stat: *stat }))
        }
        (Ok(OpResult::Multi(results)), ReplyShape::Multi(ops)) => {
            let results = results
                .iter()
                .zip(ops)
                .map(|(r, op)| multi_result(r, *op))
                .collect();
            ok(Response::Multi(results))
        }
        (Ok(OpResult::MultiFailed(codes)), ReplyShape::Multi(_)) => ok(Response::Multi(
            codes.iter().map(|c| MultiResult::Error(c.code())).collect(),
        )),
        (Ok(_), ReplyShape::Sync(path)) => ok(Response::Sync(SyncResponse { path: path.clone() })),
        (Ok(_), ReplyShape::CloseSession) => (
            Server::reply_frame(xid, out.zxid, ErrorCode::Ok, &Response::Empty),
            true,
        ),
        (Ok(_), _) => ok(Response::Empty),
    }
}

fn multi_result(result: &OpResult, op: OpCode) -> MultiResult {
    match (result, op) {
        (OpResult::Created { path, .. }, OpCode::Create) => {
            MultiResult::Create { path: path.clone() }
        }
        // createContainer and createTTL results come back as create2.
        (OpResult::Created { path, stat }, _) => MultiResult::Create2 {
            path: path.clone(),
            stat: *stat,
        },
        (OpResult::DataSet { stat }, _) => MultiResult::SetData { stat: *stat },
        (OpResult::Checked, _) => MultiResult::Check,
        _ => MultiResult::Delete,
    }
}

/// Frames to send for a local op, and whether to close afterwards.
pub struct LocalReply {
    /// Watch catch-up events (SetWatches) then the reply.
    pub frames: Vec<Bytes>,
    /// Close the connection after sending (failed auth).
    pub close: bool,
}

/// Answer a read or session-local op from the local tree. Runs with the db
/// lock held (read or write), the watch manager and the connection state
/// locked.
pub fn execute_local(
    server: &Server,
    db: &Database,
    watches: &mut WatchManager,
    conn: &Connection,
    st: &mut ConnState,
    xid: i32,
    op: LocalOp,
) -> LocalReply {
    let zxid = db.last_zxid();
    let request = match op {
        LocalOp::Error(code) => return reply(xid, zxid, Err(code)),
        LocalOp::Done(result) => return reply(xid, zxid, result),
        LocalOp::Fatal(code) => {
            let mut r = reply(xid, -1, Err(code));
            r.close = true;
            return r;
        }
        LocalOp::Request(request) => request,
    };
    let request = match request {
        Request::Ping => return reply(PING_XID, zxid, Ok(Response::Empty)),
        Request::Auth(packet) => return add_auth(server, st, &packet.scheme, &packet.auth, zxid),
        other => other,
    };
    let mut events = Vec::new();
    let mut reads = Reads {
        server,
        db,
        watches,
        conn,
        st,
    };
    let result = match request {
        Request::Exists(r) => reads.exists(&r.path, r.watch),
        Request::GetData(r) => reads
            .get_data(&r.path, r.watch)
            .map(|(data, stat)| Response::GetData(GetDataResponse { data, stat })),
        Request::GetAcl(r) => reads.get_acl(&r.path),
        Request::GetChildren(r) => reads
            .get_children(&r.path, r.watch)
            .map(|(children, _)| Response::GetChildren(GetChildrenResponse { children })),
        Request::GetChildren2(r) => reads
            .get_children(&r.path, r.watch)
            .map(|(children, stat)| {
                Response::GetChildren2(GetChildren2Response { children, stat })
            }),
        Request::MultiRead(ops) => Ok(Response::Multi(
            ops.into_iter()
                .map(|op| match op {
                    ReadOp::GetData(r) => match reads.get_data(&r.path, r.watch) {
                        // multiRead's result record has no null: reads as empty.
                        Ok((data, stat)) => MultiResult::GetData {
                            data: data.unwrap_or_default(),
                            stat,
                        },
                        Err(code) => MultiResult::Error(code.code()),
                    },
                    ReadOp::GetChildren(r) => match reads.get_children(&r.path, r.watch) {
                        Ok((children, _)) => MultiResult::GetChildren { children },
                        Err(code) => MultiResult::Error(code.code()),
                    },
                })
                .collect(),
        )),
        Request::CheckWatches(r) => watcher_type(r.watcher_type).and_then(|t| {
            if reads.watches.contains(conn.id, &r.path, t) {
                Ok(Response::Empty)
            } else {
                Err(ErrorCode::NoWatcher)
            }
        }),
        Request::RemoveWatches(r) => watcher_type(r.watcher_type).and_then(|t| {
            if reads.watches.remove(conn.id, &r.path, t) {
                Ok(Response::Empty)
            } else {
                Err(ErrorCode::NoWatcher)
            }
        }),
        Request::SetWatches(r) => {
            let watched = Watched {
                data: &r.data_watches,
                exist: &r.exist_watches,
                child: &r.child_watches,
                persistent: &[],
                recursive: &[],
            };
            reads.set_watches(r.relative_zxid, watched, &mut events);
            return with_events(events, reply(SET_WATCHES_XID, zxid, Ok(Response::Empty)));
        }
        Request::SetWatches2(r) => {
            let watched = Watched {
                data: &r.data_watches,
                exist: &r.exist_watches,
                child: &r.child_watches,
                persistent: &r.persistent_watches,
                recursive: &r.persistent_recursive_watches,
            };
            reads.set_watches(r.relative_zxid, watched, &mut events);
            return with_events(events, reply(SET_WATCHES_XID, zxid, Ok(Response::Empty)));
        }
        Request::GetEphemerals(r) => {
            let prefix = r.prefix_path;
            let mut paths = db.ephemerals(st.session_id, &prefix);
            paths.sort();
            Ok(Response::GetEphemerals(GetEphemeralsResponse {
                ephemerals: paths,
            }))
        }
        Request::GetAllChildrenNumber(r) => valid(&r.path).and_then(|()| {
            let node = db.node(&r.path).ok_or(ErrorCode::NoNode)?;
            acl::check_acl(node.acl(), Perms::READ, &st.auth, st.is_super)?;
            let total = db.all_children_number(&r.path).unwrap_or(0);
            Ok(Response::GetAllChildrenNumber(
                GetAllChildrenNumberResponse {
                    total_number: i32::try_from(total).unwrap_or(i32::MAX),
                },
            ))
        }),
        Request::AddWatch(r) => valid(&r.path).and_then(|()| {
            let kind = match AddWatchMode::from_code(r.mode) {
                Some(AddWatchMode::Persistent) => WatchKind::Persistent,
                Some(AddWatchMode::PersistentRecursive) => WatchKind::PersistentRecursive,
                None => return Err(ErrorCode::MarshallingError),
            };
            reads.watches.add(conn.id, &r.path, kind);
            Ok(Response::AddWatch)
        }),
        Request::WhoAmI => Ok(Response::WhoAmI(WhoAmIResponse {
            client_info: st
                .auth
                .iter()
                .map(|id| ClientInfo {
                    auth_scheme: id.scheme.clone(),
                    user: user_name(id),
                })
                .collect(),
        })),
        // Writes never reach here (see `classify`).
        other => {
            tracing::error!(op = ?other.op_code(), "write routed to the local path");
            Err(ErrorCode::SystemError)
        }
    };
    reply(xid, zxid, result)
}

fn reply(xid: i32, zxid: i64, result: Result<Response, ErrorCode>) -> LocalReply {
    let frame = match result {
        Ok(resp) => Server::reply_frame(xid, zxid, ErrorCode::Ok, &resp),
        Err(code) => Server::reply_frame(xid, zxid, code, &Response::Empty),
    };
    LocalReply {
        frames: vec![frame],
        close: false,
    }
}

fn with_events(mut events: Vec<Bytes>, mut r: LocalReply) -> LocalReply {
    events.append(&mut r.frames);
    r.frames = events;
    r
}

fn valid(path: &str) -> Result<(), ErrorCode> {
    validate_path(path).map_err(|_| ErrorCode::BadArguments)
}

/// ZooKeeper 3.8 knows watcher types 1-3 on the wire; anything else fails
/// to deserialize there (MarshallingError).
fn watcher_type(code: i32) -> Result<WatcherType, ErrorCode> {
    match WatcherType::from_code(code) {
        Some(t @ (WatcherType::Children | WatcherType::Data | WatcherType::Any)) => Ok(t),
        _ => Err(ErrorCode::MarshallingError),
    }
}

/// What a read needs: the state, the session's identity, and its
/// connection for the watches it leaves.
struct Reads<'a> {
    server: &'a Server,
    db: &'a Database,
    watches: &'a mut WatchManager,
    conn: &'a Connection,
    st: &'a ConnState,
}

/// The watches a reconnecting client re-registers (SetWatches/SetWatches2).
struct Watched<'a> {
    data: &'a [String],
    exist: &'a [String],
    child: &'a [String],
    persistent: &'a [String],
    recursive: &'a [String],
}

impl<'a> Reads<'a> {
    fn exists(&mut self, path: &str, watch: bool) -> Result<Response, ErrorCode> {
        valid(path)?;
        // An exists watch is set whether or not the node exists: on a
        // missing node it waits for its creation.
        if watch {
            self.watches.add(self.conn.id, path, WatchKind::Data);
        }
        let node = self.db.node(path).ok_or(ErrorCode::NoNode)?;
        Ok(Response::Exists(ExistsResponse { stat: node.stat() }))
    }

    fn get_data(
        &mut self,
        path: &str,
        watch: bool,
    ) -> Result<(Option<Vec<u8>>, corral_wire::proto::Stat), ErrorCode> {
        let node = self.readable(path, watch.then_some(WatchKind::Data))?;
        if path == reconfig::CONFIG_PATH {
            return Ok(reconfig::client_view(self.server, node));
        }
        Ok((node.data_or_null().map(<[u8]>::to_vec), node.stat()))
    }

    fn get_children(
        &mut self,
        path: &str,
        watch: bool,
    ) -> Result<(Vec<String>, corral_wire::proto::Stat), ErrorCode> {
        let node = self.readable(path, watch.then_some(WatchKind::Child))?;
        Ok((node.children().map(str::to_string).collect(), node.stat()))
    }

    /// The node at `path` if it exists and the session may read it; a watch
    /// of `kind` is left only then, as ZooKeeper does for
    /// getData/getChildren.
    fn readable(&mut self, path: &str, kind: Option<WatchKind>) -> Result<&'a Node, ErrorCode> {
        valid(path)?;
        let db: &'a Database = self.db;
        let node = db.node(path).ok_or(ErrorCode::NoNode)?;
        acl::check_acl(node.acl(), Perms::READ, &self.st.auth, self.st.is_super)?;
        if let Some(kind) = kind {
            self.watches.add(self.conn.id, path, kind);
        }
        Ok(node)
    }

    fn get_acl(&self, path: &str) -> Result<Response, ErrorCode> {
        let st = self.st;
        valid(path)?;
        let node = self.db.node(path).ok_or(ErrorCode::NoNode)?;
        acl::check_acl(
            node.acl(),
            Perms::READ | Perms::ADMIN,
            &st.auth,
            st.is_super,
        )?;
        // Without ADMIN, digest hashes are masked (ZOOKEEPER-1392).
        let acl = if acl::check_acl(node.acl(), Perms::ADMIN, &st.auth, st.is_super).is_ok() {
            node.acl().to_vec()
        } else {
            acl::mask_acl(node.acl())
        };
        Ok(Response::GetAcl(GetAclResponse {
            acl,
            stat: node.stat(),
        }))
    }

    /// Re-register a reconnecting client's watches; a watched change it
    /// missed since `relative_zxid` is reported at once, as ZooKeeper's
    /// `DataTree.setWatches` does.
    fn set_watches(&mut self, relative_zxid: i64, w: Watched<'_>, events: &mut Vec<Bytes>) {
        let (db, id) = (self.db, self.conn.id);
        for path in w.data {
            match db.node(path) {
                None => events.push(Server::event_frame(path, EventType::NodeDeleted)),
                Some(n) if n.stat().mzxid > relative_zxid => {
                    events.push(Server::event_frame(path, EventType::NodeDataChanged))
                }
                Some(_) => self.watches.add(id, path, WatchKind::Data),
            }
        }
        for path in w.exist {
            match db.node(path) {
                Some(_) => events.push(Server::event_frame(path, EventType::NodeCreated)),
                None => self.watches.add(id, path, WatchKind::Data),
            }
        }
        for path in w.child {
            match db.node(path) {
                None => events.push(Server::event_frame(path, EventType::NodeDeleted)),
                Some(n) if n.stat().pzxid > relative_zxid => {
                    events.push(Server::event_frame(path, EventType::NodeChildrenChanged))
                }
                Some(_) => self.watches.add(id, path, WatchKind::Child),
            }
        }
        for path in w.persistent {
            self.watches.add(id, path, WatchKind::Persistent);
        }
        for path in w.recursive {
            self.watches.add(id, path, WatchKind::PersistentRecursive);
        }
    }
}

/// addAuth: `digest` with `user:password` (and the super digest); any other
/// scheme fails authentication and closes the connection, as ZooKeeper does.
fn add_auth(
    server: &Server,
    st: &mut ConnState,
    scheme: &str,
    auth: &[u8],
    zxid: i64,
) -> LocalReply {
    let digest = match (scheme, std::str::from_utf8(auth)) {
        ("digest", Ok(user_password)) if user_password.contains(':') => {
            Some(acl::digest_id(user_password))
        }
        _ => None,
    };
    let Some(digest) = digest else {
        tracing::info!(scheme, "authentication failed");
        let mut r = reply(AUTH_XID, zxid, Err(ErrorCode::AuthFailed));
        r.close = true;
        return r;
    };
    if server.config.super_digest.as_deref() == Some(digest.as_str()) {
        st.is_super = true;
        push_unique(&mut st.auth, Id::new("super", ""));
    }
    push_unique(&mut st.auth, Id::new("digest", digest));
    reply(AUTH_XID, 0, Ok(Response::Empty))
}

fn push_unique(ids: &mut Vec<Id>, id: Id) {
    if !ids.contains(&id) {
        ids.push(id);
    }
}

/// The user name whoAmI reports for an id: digest ids show the user, not
/// the hash.
fn user_name(id: &Id) -> String {
    match id.scheme.as_str() {
        "digest" => id.id.split(':').next().unwrap_or_default().to_string(),
        _ => id.id.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttl_needs_its_opcode_and_the_feature() {
        let config = Config::default();
        let r = create_op(
            &config,
            OpCode::Create,
            "/a".into(),
            Some(vec![]),
            Acl::open_unsafe(),
            5,
            10,
        );
        assert_eq!(r, Err(ErrorCode::BadArguments));
        let r = create_op(
            &config,
            OpCode::CreateTtl,
            "/a".into(),
            Some(vec![]),
            Acl::open_unsafe(),
            0,
            10,
        );
        assert_eq!(r, Err(ErrorCode::BadArguments));
        let r = create_op(
            &config,
            OpCode::Create,
            "/a".into(),
            Some(vec![]),
            Acl::open_unsafe(),
            9,
            0,
        );
        assert_eq!(r, Err(ErrorCode::BadArguments));
        assert!(create_op(
            &config,
            OpCode::CreateTtl,
            "/a".into(),
            Some(vec![]),
            Acl::open_unsafe(),
            5,
            10
        )
        .is_ok());
        let disabled = Config {
            ttl_enabled: false,
            ..Config::default()
        };
        let r = create_op(
            &disabled,
            OpCode::CreateTtl,
            "/a".into(),
            Some(vec![]),
            Acl::open_unsafe(),
            5,
            10,
        );
        assert_eq!(r, Err(ErrorCode::Unimplemented));
    }

    #[test]
    fn failed_multi_reports_every_op() {
        let out = TxnOutcome {
            zxid: 7,
            result: Ok(OpResult::MultiFailed(vec![
                ErrorCode::Ok,
                ErrorCode::NoNode,
                ErrorCode::RuntimeInconsistency,
            ])),
        };
        let shape = ReplyShape::Multi(vec![OpCode::Create, OpCode::Delete, OpCode::SetData]);
        let (frame, close) = write_reply(3, &out, &shape);
        assert!(!close);
        let (header, body) = corral_wire::proto::decode_reply_header(&frame[4..]).unwrap();
        assert_eq!((header.xid, header.zxid, header.err), (3, 7, 0));
        let resp = Response::decode(OpCode::Multi, body).unwrap();
        assert_eq!(
            resp,
            Response::Multi(vec![
                MultiResult::Error(0),
                MultiResult::Error(-101),
                MultiResult::Error(-2)
            ])
        );
    }

    #[test]
    fn digest_users_are_named_by_user() {
        assert_eq!(user_name(&Id::new("digest", "bob:abc=")), "bob");
        assert_eq!(user_name(&Id::new("ip", "127.0.0.1")), "127.0.0.1");
    }
}
