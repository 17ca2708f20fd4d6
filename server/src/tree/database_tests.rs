//! `Database::apply` tests: results, stats and watch triggers.

use super::*;
use crate::tree::acl::digest_id;
use crate::tree::ephemeral_type::TTL_MAX_MS;
use corral_wire::proto::Stat;

const T0: i64 = 1_700_000_000_000;

/// A caller: session, identities, super flag.
#[derive(Clone, Default)]
struct Who {
    session_id: i64,
    auth: Vec<Id>,
    is_super: bool,
}

fn anon() -> Who {
    Who::default()
}

fn digest_user(user_password: &str) -> Who {
    Who {
        auth: vec![Id::new("digest", digest_id(user_password))],
        ..Who::default()
    }
}

fn txn_at(who: &Who, time_ms: i64, op: TxnOp) -> Txn {
    Txn {
        session_id: who.session_id,
        time_ms,
        auth: who.auth.clone(),
        is_super: who.is_super,
        op,
        origin: None,
    }
}

fn create_op(path: &str, data: &[u8], mode: CreateMode) -> TxnOp {
    TxnOp::Create {
        path: path.into(),
        data: data.to_vec(),
        acl: Acl::open_unsafe(),
        mode,
        ttl_ms: 0,
    }
}

fn create_acl(path: &str, acl: Vec<Acl>) -> TxnOp {
    TxnOp::Create {
        path: path.into(),
        data: Vec::new(),
        acl,
        mode: CreateMode::Persistent,
        ttl_ms: 0,
    }
}

fn ttl_op(path: &str, mode: CreateMode, ttl_ms: i64) -> TxnOp {
    TxnOp::Create {
        path: path.into(),
        data: Vec::new(),
        acl: Acl::open_unsafe(),
        mode,
        ttl_ms,
    }
}

fn delete_op(path: &str, version: i32) -> TxnOp {
    TxnOp::Delete {
        path: path.into(),
        version,
    }
}

fn set_data_op(path: &str, data: &[u8], version: i32) -> TxnOp {
    TxnOp::SetData {
        path: path.into(),
        data: data.to_vec(),
        version,
    }
}

fn set_acl_op(path: &str, acl: Vec<Acl>, version: i32) -> TxnOp {
    TxnOp::SetAcl {
        path: path.into(),
        acl,
        version,
    }
}

fn check_op(path: &str, version: i32) -> TxnOp {
    TxnOp::Check {
        path: path.into(),
        version,
    }
}

fn trig(path: &str, event: EventType, zxid: i64) -> WatchTrigger {
    WatchTrigger {
        path: path.into(),
        event,
        zxid,
    }
}

/// A database plus a clock, applying one txn per call.
struct Harness {
    db: Database,
    now: i64,
}

impl Harness {
    fn new() -> Harness {
        Harness {
            db: Database::new(),
            now: T0,
        }
    }

    /// Applies `op` as `who` through `apply_batch`; returns the result, the
    /// triggers and the zxid.
    fn run_as(
        &mut self,
        who: &Who,
        op: TxnOp,
    ) -> (Result<OpResult, ErrorCode>, Vec<WatchTrigger>, i64) {
        let batch = TxnBatch::new(vec![txn_at(who, self.now, op)]);
        let mut triggers = Vec::new();
        let before = self.db.last_zxid();
        let mut out = self.db.apply_batch(&batch, &mut triggers);
        assert_eq!(out.outcomes.len(), 1);
        let o = out.outcomes.pop().unwrap();
        assert_eq!(o.zxid, before + 1, "every txn takes the next zxid");
        assert_eq!(self.db.last_zxid(), o.zxid);
        (o.result, triggers, o.zxid)
    }

    fn run(&mut self, op: TxnOp) -> (Result<OpResult, ErrorCode>, Vec<WatchTrigger>, i64) {
        self.run_as(&anon(), op)
    }

    /// Applies `op`, which must succeed.
    fn ok(&mut self, op: TxnOp) -> OpResult {
        let (r, _, _) = self.run(op.clone());
        r.unwrap_or_else(|e| panic!("{op:?} failed: {e}"))
    }

    fn ok_as(&mut self, who: &Who, op: TxnOp) -> OpResult {
        let (r, _, _) = self.run_as(who, op.clone());
        r.unwrap_or_else(|e| panic!("{op:?} failed: {e}"))
    }

    fn session(&mut self) -> i64 {
        match self.ok(TxnOp::CreateSession {
            timeout_ms: 30_000,
            password: [7; 16],
        }) {
            OpResult::SessionCreated { session_id } => session_id,
            other => panic!("unexpected {other:?}"),
        }
    }

    fn stat(&self, path: &str) -> Stat {
        self.db
            .node(path)
            .unwrap_or_else(|| panic!("no {path}"))
            .stat()
    }

    fn created_path(&mut self, who: &Who, op: TxnOp) -> String {
        match self.ok_as(who, op) {
            OpResult::Created { path, .. } => path,
            other => panic!("unexpected {other:?}"),
        }
    }
}

#[test]
fn initial_tree_is_zookeeper_standalone() {
    let db = Database::new();
    assert_eq!(db.node_count(), 4);
    assert_eq!(db.last_zxid(), 0);
    assert_eq!(db.get_children("/"), Some(vec!["zookeeper".to_string()]));
    assert_eq!(
        db.get_children("/zookeeper"),
        Some(vec!["config".to_string(), "quota".to_string()])
    );
    // Stored cversion 0 with children: clients see 0 * 2 - numChildren.
    let cases: &[(&str, i32, i32, i32)] = &[
        ("/", -1, 1, 0),
        ("/zookeeper", -2, 2, 0),
        ("/zookeeper/quota", 0, 0, 0),
        ("/zookeeper/config", 0, 0, -1),
    ];
    for &(path, cversion, num_children, aversion) in cases {
        let stat = db.node(path).unwrap().stat();
        assert_eq!(
            stat,
            Stat {
                cversion,
                num_children,
                aversion,
                ..Stat::default()
            },
            "{path}"
        );
    }
    assert_eq!(db.node("/").unwrap().acl(), Acl::open_unsafe().as_slice());
    assert_eq!(
        db.node("/zookeeper/config").unwrap().acl(),
        Acl::read_unsafe().as_slice()
    );
    assert_eq!(db.approximate_data_size(), 1 + 10 + 16 + 17);
    assert_eq!(db.all_children_number("/"), Some(3));
}

#[test]
fn create_persistent_stat_and_triggers() {
    let mut h = Harness::new();
    let (r, triggers, zxid) = h.run(create_op("/a", b"xyz", CreateMode::Persistent));
    let want_stat = Stat {
        czxid: zxid,
        mzxid: zxid,
        ctime: T0,
        mtime: T0,
        version: 0,
        cversion: 0,
        aversion: 0,
        ephemeral_owner: 0,
        data_length: 3,
        num_children: 0,
        pzxid: zxid,
    };
    assert_eq!(
        r,
        Ok(OpResult::Created {
            path: "/a".into(),
            stat: want_stat
        })
    );
    assert_eq!(
        triggers,
        vec![
            trig("/a", EventType::NodeCreated, zxid),
            trig("/", EventType::NodeChildrenChanged, zxid)
        ]
    );
    assert_eq!(h.stat("/a"), want_stat);
    let root = h.stat("/");
    assert_eq!((root.cversion, root.num_children, root.pzxid), (0, 2, zxid));
    assert_eq!(h.db.node("/a").unwrap().data(), b"xyz");

    // A child one level down updates only its parent.
    let (_, triggers, z2) = h.run(create_op("/a/b", b"", CreateMode::Persistent));
    assert_eq!(
        triggers,
        vec![
            trig("/a/b", EventType::NodeCreated, z2),
            trig("/a", EventType::NodeChildrenChanged, z2)
        ]
    );
    let a = h.stat("/a");
    assert_eq!(
        (a.cversion, a.num_children, a.pzxid, a.mzxid),
        (1, 1, z2, zxid)
    );
    assert_eq!(h.stat("/").pzxid, zxid);
}

#[test]
fn sequential_names_follow_the_parent_create_counter() {
    let mut h = Harness::new();
    let who = anon();
    h.ok(create_op("/q", b"", CreateMode::Persistent));
    let seq = |p: &str| create_op(p, b"", CreateMode::PersistentSequential);
    assert_eq!(h.created_path(&who, seq("/q/n-")), "/q/n-0000000000");
    assert_eq!(h.created_path(&who, seq("/q/n-")), "/q/n-0000000001");
    assert_eq!(h.created_path(&who, seq("/q/n-")), "/q/n-0000000002");
    // Deletes do not reuse numbers; plain creates consume one.
    h.ok(delete_op("/q/n-0000000001", -1));
    assert_eq!(h.created_path(&who, seq("/q/n-")), "/q/n-0000000003");
    h.ok(create_op("/q/plain", b"", CreateMode::Persistent));
    assert_eq!(h.created_path(&who, seq("/q/")), "/q/0000000005");
    // 6 creates, 1 delete: client cversion 7 = 6 * 2 - 5 children.
    let q = h.stat("/q");
    assert_eq!((q.cversion, q.num_children), (7, 5));
    assert_eq!(h.db.node("/q").unwrap().stat_persisted().cversion, 6);
    // An existing name at the next counter is NodeExists.
    h.ok(create_op("/q/n-0000000006", b"", CreateMode::Persistent));
    assert_eq!(h.created_path(&who, seq("/q/n-")), "/q/n-0000000007");
    h.ok(create_op("/q/x-0000000009", b"", CreateMode::Persistent));
    assert_eq!(h.run(seq("/q/x-")).0, Err(ErrorCode::NodeExists));
}

#[test]
fn sequential_counter_turns_negative_past_i32_max() {
    let mut h = Harness::new();
    let who = anon();
    h.ok(create_op("/q", b"", CreateMode::Persistent));
    h.db.tree_mut().stat_mut("/q").cversion = i32::MAX;
    let seq = || create_op("/q/n-", b"", CreateMode::PersistentSequential);
    assert_eq!(h.created_path(&who, seq()), "/q/n-2147483647");
    assert_eq!(h.created_path(&who, seq()), "/q/n--2147483648");
    assert_eq!(h.created_path(&who, seq()), "/q/n--2147483647");
}

#[test]
fn session_ids_are_seeded_from_time_then_increment() {
    let mut h = Harness::new();
    let first = h.session();
    let want = ((((T0 << 24) as u64) >> 8) as i64) | (1 << 56);
    assert_eq!(first, want);
    assert_eq!(h.session(), first + 1);
    h.now += 10_000;
    assert_eq!(h.session(), first + 2, "later times do not reseed");
    assert_eq!(h.db.sessions().len(), 3);
    assert_eq!(
        h.db.session(first),
        Some(&SessionInfo {
            timeout_ms: 30_000,
            password: [7; 16],
            owner: 0
        })
    );
    assert!(
        first > 0 && (first >> 56) == 1,
        "no extended-owner collision"
    );
}

#[test]
fn ephemerals_belong_to_their_session_and_go_with_it() {
    let mut h = Harness::new();
    let sid = h.session();
    let s = Who {
        session_id: sid,
        ..Who::default()
    };
    h.ok(create_op("/app", b"", CreateMode::Persistent));
    let (r, _, z1) = h.run_as(&s, create_op("/app/e1", b"d", CreateMode::Ephemeral));
    let Ok(OpResult::Created { stat, .. }) = r else {
        panic!("{r:?}")
    };
    assert_eq!(stat.ephemeral_owner, sid);
    assert_eq!(stat.czxid, z1);
    let e2 = h.created_path(
        &s,
        create_op("/app/e-", b"", CreateMode::EphemeralSequential),
    );
    assert_eq!(e2, "/app/e-0000000001");
    h.ok_as(&s, create_op("/top", b"", CreateMode::Ephemeral));
    assert_eq!(h.db.ephemeral_count(), 3);
    assert_eq!(
        h.db.ephemerals(sid, "/"),
        vec!["/app/e-0000000001", "/app/e1", "/top"]
    );
    assert_eq!(h.db.ephemerals(sid, ""), h.db.ephemerals(sid, " / "));
    assert_eq!(
        h.db.ephemerals(sid, "/app/e"),
        vec!["/app/e-0000000001", "/app/e1"]
    );
    assert_eq!(
        h.db.ephemerals(sid, "/to"),
        vec!["/top"],
        "string prefix, not path"
    );
    assert_eq!(
        h.run_as(&s, create_op("/app/e1/child", b"", CreateMode::Persistent))
            .0,
        Err(ErrorCode::NoChildrenForEphemerals)
    );

    let (r, triggers, zc) = h.run_as(&s, TxnOp::CloseSession);
    assert_eq!(r, Ok(OpResult::SessionsClosed));
    assert_eq!(
        triggers,
        vec![
            trig("/app/e-0000000001", EventType::NodeDeleted, zc),
            trig("/app", EventType::NodeChildrenChanged, zc),
            trig("/app/e1", EventType::NodeDeleted, zc),
            trig("/app", EventType::NodeChildrenChanged, zc),
            trig("/top", EventType::NodeDeleted, zc),
            trig("/", EventType::NodeChildrenChanged, zc),
        ]
    );
    assert_eq!(h.db.session(sid), None);
    assert_eq!(h.db.ephemeral_count(), 0);
    assert_eq!(h.stat("/app").pzxid, zc);
    assert_eq!(h.stat("/app").cversion, 4, "2 creates + 2 deletes");
    // A closed session can write nothing more (ZooKeeper's checkSession).
    for mode in [CreateMode::Ephemeral, CreateMode::Persistent] {
        assert_eq!(
            h.run_as(&s, create_op("/app/late", b"", mode)).0,
            Err(ErrorCode::SessionExpired)
        );
    }
    // Closing again, or an unknown session, is harmless.
    let (r, triggers, _) = h.run_as(&s, TxnOp::CloseSession);
    assert_eq!((r, triggers), (Ok(OpResult::SessionsClosed), vec![]));
}

#[test]
fn expire_sessions_removes_every_listed_session() {
    let mut h = Harness::new();
    let a = h.session();
    let b = h.session();
    let c = h.session();
    for (sid, path) in [(a, "/a"), (b, "/b"), (c, "/c")] {
        let who = Who {
            session_id: sid,
            ..Who::default()
        };
        h.ok_as(&who, create_op(path, b"", CreateMode::Ephemeral));
    }
    let (r, triggers, z) = h.run(TxnOp::ExpireSessions {
        session_ids: vec![b, a, 12345],
    });
    assert_eq!(r, Ok(OpResult::SessionsClosed));
    assert_eq!(
        triggers,
        vec![
            trig("/b", EventType::NodeDeleted, z),
            trig("/", EventType::NodeChildrenChanged, z),
            trig("/a", EventType::NodeDeleted, z),
            trig("/", EventType::NodeChildrenChanged, z),
        ]
    );
    assert_eq!(h.db.sessions().keys().copied().collect::<Vec<_>>(), vec![c]);
    assert!(h.db.node("/c").is_some());
    assert!(h.db.node("/a").is_none());
}

/// The state every error-precedence case starts from.
fn fixture() -> (Harness, Who) {
    let mut h = Harness::new();
    let sid = h.session();
    let s = Who {
        session_id: sid,
        ..Who::default()
    };
    h.ok(create_op("/open", b"", CreateMode::Persistent));
    h.ok(create_op("/open/child", b"", CreateMode::Persistent));
    h.ok(create_op("/exists", b"", CreateMode::Persistent));
    h.ok_as(&s, create_op("/eph", b"", CreateMode::Ephemeral));
    // Only u:pw may do anything on /locked.
    h.ok(create_acl(
        "/locked",
        vec![Acl {
            perms: Perms::ALL,
            id: Id::new("digest", digest_id("u:pw")),
        }],
    ));
    // /readonly: anyone may read, nothing else.
    h.ok(create_acl("/readonly", Acl::read_unsafe()));
    (h, s)
}

#[test]
fn error_precedence_table() {
    let acl_auth = Acl::creator_all();
    let u = digest_user("u:pw");
    let other = digest_user("v:pw");
    let su = Who {
        is_super: true,
        ..Who::default()
    };
    let unknown = Who {
        session_id: 999,
        ..Who::default()
    };
    let mut ttl_persistent = create_op("/open/t", b"", CreateMode::Persistent);
    if let TxnOp::Create { ttl_ms, .. } = &mut ttl_persistent {
        *ttl_ms = 5;
    }
    let bad_acl = vec![Acl {
        perms: Perms::ALL,
        id: Id::new("world", "someone"),
    }];
    type Case = (&'static str, Option<Who>, TxnOp, Result<(), ErrorCode>);
    let cases: Vec<Case> = vec![
        // --- create ---
        (
            "ttl 0",
            None,
            ttl_op("bad", CreateMode::PersistentWithTtl, 0),
            Err(ErrorCode::BadArguments),
        ),
        (
            "ttl too big",
            None,
            ttl_op("/open/t", CreateMode::PersistentWithTtl, TTL_MAX_MS + 1),
            Err(ErrorCode::BadArguments),
        ),
        (
            "ttl max",
            None,
            ttl_op("/open/t", CreateMode::PersistentWithTtl, TTL_MAX_MS),
            Ok(()),
        ),
        (
            "ttl on persistent",
            None,
            ttl_persistent,
            Err(ErrorCode::BadArguments),
        ),
        (
            "ttl on container",
            None,
            ttl_op("/open/t", CreateMode::Container, 5),
            Err(ErrorCode::BadArguments),
        ),
        (
            "ttl on ephemeral",
            None,
            ttl_op("/open/t", CreateMode::Ephemeral, 5),
            Err(ErrorCode::BadArguments),
        ),
        (
            "ephemeral unknown session before path",
            Some(unknown.clone()),
            create_op("bad", b"", CreateMode::Ephemeral),
            Err(ErrorCode::SessionExpired),
        ),
        (
            "no slash",
            None,
            create_op("bad", b"", CreateMode::Persistent),
            Err(ErrorCode::BadArguments),
        ),
        (
            "nul",
            None,
            create_op("/open/a\0b", b"", CreateMode::Persistent),
            Err(ErrorCode::BadArguments),
        ),
        (
            "empty acl before parent",
            None,
            create_acl("/missing/x", vec![]),
            Err(ErrorCode::InvalidAcl),
        ),
        (
            "auth acl without auth",
            None,
            create_acl("/open/x", acl_auth.clone()),
            Err(ErrorCode::InvalidAcl),
        ),
        (
            "bad world id",
            None,
            create_acl("/open/x", bad_acl.clone()),
            Err(ErrorCode::InvalidAcl),
        ),
        (
            "auth acl with digest",
            Some(u.clone()),
            create_acl("/open/x", acl_auth.clone()),
            Ok(()),
        ),
        (
            "missing parent",
            None,
            create_op("/missing/x", b"", CreateMode::Persistent),
            Err(ErrorCode::NoNode),
        ),
        (
            "no create on parent",
            None,
            create_op("/locked/x", b"", CreateMode::Persistent),
            Err(ErrorCode::NoAuth),
        ),
        (
            "noauth before bad name",
            None,
            create_op("/locked/..", b"", CreateMode::Persistent),
            Err(ErrorCode::NoAuth),
        ),
        (
            "other digest user",
            Some(other.clone()),
            create_op("/locked/x", b"", CreateMode::Persistent),
            Err(ErrorCode::NoAuth),
        ),
        (
            "digest user may create",
            Some(u.clone()),
            create_op("/locked/x", b"", CreateMode::Persistent),
            Ok(()),
        ),
        (
            "super may create",
            Some(su.clone()),
            create_op("/locked/x", b"", CreateMode::Persistent),
            Ok(()),
        ),
        (
            "bad name after acl",
            None,
            create_op("/open/..", b"", CreateMode::Persistent),
            Err(ErrorCode::BadArguments),
        ),
        (
            "trailing slash",
            None,
            create_op("/open/child/", b"", CreateMode::Persistent),
            Err(ErrorCode::BadArguments),
        ),
        (
            "trailing slash, missing parent",
            None,
            create_op("/open/x/", b"", CreateMode::Persistent),
            Err(ErrorCode::NoNode),
        ),
        (
            "empty segment",
            None,
            create_op("/open//x", b"", CreateMode::Persistent),
            Err(ErrorCode::NoNode),
        ),
        (
            "exists",
            None,
            create_op("/exists", b"", CreateMode::Persistent),
            Err(ErrorCode::NodeExists),
        ),
        (
            "root exists",
            None,
            create_op("/", b"", CreateMode::Persistent),
            Err(ErrorCode::NodeExists),
        ),
        (
            "exists before ephemeral parent",
            None,
            create_op("/eph", b"", CreateMode::Persistent),
            Err(ErrorCode::NodeExists),
        ),
        (
            "ephemeral parent",
            None,
            create_op("/eph/x", b"", CreateMode::Persistent),
            Err(ErrorCode::NoChildrenForEphemerals),
        ),
        (
            "create under readonly",
            None,
            create_op("/readonly/x", b"", CreateMode::Persistent),
            Err(ErrorCode::NoAuth),
        ),
        // --- delete ---
        (
            "delete root",
            None,
            delete_op("/", -1),
            Err(ErrorCode::BadArguments),
        ),
        (
            "delete /zookeeper",
            Some(su.clone()),
            delete_op("/zookeeper", -1),
            Err(ErrorCode::BadArguments),
        ),
        (
            "delete /zookeeper/quota",
            None,
            delete_op("/zookeeper/quota", -1),
            Err(ErrorCode::BadArguments),
        ),
        (
            "delete /zookeeper/config",
            None,
            delete_op("/zookeeper/config", -1),
            Err(ErrorCode::BadArguments),
        ),
        (
            "delete no slash",
            None,
            delete_op("x", -1),
            Err(ErrorCode::BadArguments),
        ),
        (
            "delete missing parent",
            None,
            delete_op("/missing/x", -1),
            Err(ErrorCode::NoNode),
        ),
        (
            "delete noauth before missing node",
            None,
            delete_op("/locked/nothing", -1),
            Err(ErrorCode::NoAuth),
        ),
        (
            "delete missing node",
            None,
            delete_op("/open/nothing", -1),
            Err(ErrorCode::NoNode),
        ),
        (
            "delete bad version before not empty",
            None,
            delete_op("/open", 5),
            Err(ErrorCode::BadVersion),
        ),
        (
            "delete not empty",
            None,
            delete_op("/open", -1),
            Err(ErrorCode::NotEmpty),
        ),
        (
            "delete version match",
            None,
            delete_op("/exists", 0),
            Ok(()),
        ),
        (
            "delete other's ephemeral",
            None,
            delete_op("/eph", -1),
            Ok(()),
        ),
        // --- setData ---
        (
            "set bad path",
            None,
            set_data_op("/open/", b"", -1),
            Err(ErrorCode::BadArguments),
        ),
        (
            "set missing",
            None,
            set_data_op("/missing", b"", -1),
            Err(ErrorCode::NoNode),
        ),
        (
            "set noauth before version",
            None,
            set_data_op("/locked", b"", 9),
            Err(ErrorCode::NoAuth),
        ),
        (
            "set bad version",
            None,
            set_data_op("/open", b"", 9),
            Err(ErrorCode::BadVersion),
        ),
        ("set ok", None, set_data_op("/open", b"v", 0), Ok(())),
        (
            "set readonly",
            None,
            set_data_op("/readonly", b"v", -1),
            Err(ErrorCode::NoAuth),
        ),
        // --- setACL ---
        (
            "setacl bad path",
            None,
            set_acl_op("nope", vec![], -1),
            Err(ErrorCode::BadArguments),
        ),
        (
            "setacl invalid before missing",
            None,
            set_acl_op("/missing", vec![], -1),
            Err(ErrorCode::InvalidAcl),
        ),
        (
            "setacl auth without auth",
            None,
            set_acl_op("/open", acl_auth.clone(), -1),
            Err(ErrorCode::InvalidAcl),
        ),
        (
            "setacl missing",
            None,
            set_acl_op("/missing", Acl::open_unsafe(), -1),
            Err(ErrorCode::NoNode),
        ),
        (
            "setacl noauth",
            None,
            set_acl_op("/locked", Acl::open_unsafe(), -1),
            Err(ErrorCode::NoAuth),
        ),
        (
            "setacl admin by digest",
            Some(u.clone()),
            set_acl_op("/locked", Acl::open_unsafe(), 0),
            Ok(()),
        ),
        (
            "setacl bad aversion",
            None,
            set_acl_op("/open", Acl::open_unsafe(), 1),
            Err(ErrorCode::BadVersion),
        ),
        (
            "setacl ok",
            None,
            set_acl_op("/open", Acl::read_unsafe(), 0),
            Ok(()),
        ),
        // --- check ---
        (
            "check bad path",
            None,
            check_op("/a//b", 0),
            Err(ErrorCode::BadArguments),
        ),
        (
            "check missing",
            None,
            check_op("/missing", 0),
            Err(ErrorCode::NoNode),
        ),
        (
            "check needs read",
            None,
            check_op("/locked", 0),
            Err(ErrorCode::NoAuth),
        ),
        (
            "check digest read",
            Some(u.clone()),
            check_op("/locked", 0),
            Ok(()),
        ),
        (
            "check bad version",
            None,
            check_op("/open", 3),
            Err(ErrorCode::BadVersion),
        ),
        ("check any", None, check_op("/open", -1), Ok(())),
        ("check readonly", None, check_op("/readonly", 0), Ok(())),
    ];
    for (name, who, op, want) in cases {
        let (mut h, _) = fixture();
        let digest = h.db.digest();
        let size = h.db.approximate_data_size();
        let (r, triggers, _) = h.run_as(&who.unwrap_or_default(), op);
        assert_eq!(r.clone().map(|_| ()), want, "{name}: {r:?}");
        if want.is_err() {
            assert!(triggers.is_empty(), "{name}: no triggers on error");
            // Only the zxid moved: the tree is untouched.
            assert_eq!(h.db.tree().digest(), {
                let (f, _) = fixture();
                f.db.tree().digest()
            });
            assert_ne!(
                h.db.digest(),
                digest,
                "{name}: last zxid is part of the digest"
            );
            assert_eq!(h.db.approximate_data_size(), size, "{name}");
        }
    }
}

#[test]
fn set_data_and_set_acl_stats() {
    let mut h = Harness::new();
    let (_, _, zc) = h.run(create_op("/n", b"a", CreateMode::Persistent));
    h.now += 5;
    let (r, triggers, zs) = h.run(set_data_op("/n", b"hello", 0));
    let want = Stat {
        czxid: zc,
        mzxid: zs,
        ctime: T0,
        mtime: T0 + 5,
        version: 1,
        cversion: 0,
        aversion: 0,
        ephemeral_owner: 0,
        data_length: 5,
        num_children: 0,
        pzxid: zc,
    };
    assert_eq!(r, Ok(OpResult::DataSet { stat: want }));
    assert_eq!(triggers, vec![trig("/n", EventType::NodeDataChanged, zs)]);
    assert_eq!(h.db.approximate_data_size(), 44 + 2 + 5);

    let (r, triggers, _) = h.run(set_acl_op("/n", Acl::read_unsafe(), -1));
    assert_eq!(
        r,
        Ok(OpResult::AclSet {
            stat: Stat {
                aversion: 1,
                ..want
            }
        })
    );
    assert!(triggers.is_empty(), "setACL fires no watch");
    assert_eq!(
        h.db.node("/n").unwrap().acl(),
        Acl::read_unsafe().as_slice()
    );
    // ACL now denies writes.
    assert_eq!(h.run(set_data_op("/n", b"", -1)).0, Err(ErrorCode::NoAuth));
}

#[test]
fn version_increment_skips_minus_one() {
    assert_eq!(check_and_inc_version(0, -1), Ok(1));
    assert_eq!(check_and_inc_version(4, 4), Ok(5));
    assert_eq!(check_and_inc_version(4, 3), Err(ErrorCode::BadVersion));
    assert_eq!(check_and_inc_version(i32::MAX, -1), Ok(i32::MIN));
    assert_eq!(check_and_inc_version(-2, -2), Ok(0));
}

#[test]
fn stat_per_node_kind() {
    let mut h = Harness::new();
    let sid = h.session();
    let s = Who {
        session_id: sid,
        ..Who::default()
    };
    let cases: Vec<(TxnOp, &str, i64, i64)> = vec![
        (create_op("/p", b"", CreateMode::Persistent), "/p", 0, 0),
        (create_op("/e", b"", CreateMode::Ephemeral), "/e", sid, sid),
        (
            create_op("/c", b"", CreateMode::Container),
            "/c",
            0,
            i64::MIN,
        ),
        (
            ttl_op("/t", CreateMode::PersistentWithTtl, 1000),
            "/t",
            0,
            0xff00_0000_0000_03e8_u64 as i64,
        ),
        (
            ttl_op("/ts-", CreateMode::PersistentSequentialWithTtl, 1),
            "/ts-0000000004",
            0,
            0xff00_0000_0000_0001_u64 as i64,
        ),
        (
            create_op("/s-", b"", CreateMode::PersistentSequential),
            "/s-0000000005",
            0,
            0,
        ),
    ];
    for (op, path, client_owner, stored_owner) in cases {
        let (r, _, z) = h.run_as(&s, op);
        let Ok(OpResult::Created { path: got, stat }) = r else {
            panic!("{path}: {r:?}")
        };
        assert_eq!(got, path);
        assert_eq!(stat, h.stat(path));
        assert_eq!(stat.ephemeral_owner, client_owner, "{path}");
        assert_eq!((stat.czxid, stat.mzxid, stat.pzxid), (z, z, z), "{path}");
        assert_eq!(
            h.db.node(path).unwrap().stat_persisted().ephemeral_owner,
            stored_owner,
            "{path}"
        );
    }
    assert_eq!(h.db.ephemeral_count(), 1);
    // Containers and TTL nodes may have children; ephemerals may not.
    h.ok(create_op("/c/x", b"", CreateMode::Persistent));
    h.ok(create_op("/t/x", b"", CreateMode::Persistent));
}

#[test]
fn multi_applies_all_under_one_zxid() {
    let mut h = Harness::new();
    let ops = vec![
        create_op("/m", b"", CreateMode::Persistent),
        create_op("/m/a", b"", CreateMode::Persistent),
        set_data_op("/m", b"x", 0),
        check_op("/m", 1),
        create_op("/m/s-", b"", CreateMode::PersistentSequential),
        delete_op("/m/a", 0),
    ];
    let (r, triggers, z) = h.run(TxnOp::Multi(ops));
    let Ok(OpResult::Multi(results)) = r else {
        panic!("{r:?}")
    };
    assert_eq!(results.len(), 6);
    assert!(
        matches!(&results[0], OpResult::Created { path, stat } if path == "/m" && stat.czxid == z)
    );
    assert!(matches!(&results[2], OpResult::DataSet { stat } if stat.version == 1));
    assert_eq!(results[3], OpResult::Checked);
    assert!(matches!(&results[4], OpResult::Created { path, .. } if path == "/m/s-0000000001"));
    assert_eq!(results[5], OpResult::Deleted);
    assert_eq!(
        triggers,
        vec![
            trig("/m", EventType::NodeCreated, z),
            trig("/", EventType::NodeChildrenChanged, z),
            trig("/m/a", EventType::NodeCreated, z),
            trig("/m", EventType::NodeChildrenChanged, z),
            trig("/m", EventType::NodeDataChanged, z),
            trig("/m/s-0000000001", EventType::NodeCreated, z),
            trig("/m", EventType::NodeChildrenChanged, z),
            trig("/m/a", EventType::NodeDeleted, z),
            trig("/m", EventType::NodeChildrenChanged, z),
        ]
    );
    assert_eq!(h.db.last_zxid(), z);
    assert_eq!(
        h.db.get_children("/m"),
        Some(vec!["s-0000000001".to_string()])
    );
    // Empty multi succeeds with no results.
    assert_eq!(h.run(TxnOp::Multi(vec![])).0, Ok(OpResult::Multi(vec![])));
}

#[test]
fn failed_multi_rolls_back_everything() {
    let mut h = Harness::new();
    let sid = h.session();
    let s = Who {
        session_id: sid,
        ..Who::default()
    };
    h.ok(create_op("/keep", b"old", CreateMode::Persistent));
    h.ok(create_op("/q", b"", CreateMode::Persistent));
    h.ok_as(&s, create_op("/q/eph", b"e", CreateMode::Ephemeral));
    h.ok(create_op("/c", b"", CreateMode::Container));
    let tree_digest = h.db.tree().digest();
    let size = h.db.approximate_data_size();
    let count = h.db.node_count();
    let root = h.stat("/");
    let ops = vec![
        create_op("/new", b"", CreateMode::Persistent),
        create_op("/new/deep", b"", CreateMode::Persistent),
        create_op("/q/s-", b"", CreateMode::PersistentSequential),
        delete_op("/q/eph", -1),
        set_data_op("/keep", b"newer and longer", -1),
        set_acl_op("/keep", Acl::read_unsafe(), -1),
        create_op("/c/child", b"", CreateMode::Persistent),
        delete_op("/c/child", -1),
        check_op("/keep", 7),
        create_op("/after", b"", CreateMode::Persistent),
        delete_op("/nothing", -1),
    ];
    let (r, triggers, z) = h.run_as(&s, TxnOp::Multi(ops));
    let mut want = vec![ErrorCode::Ok; 8];
    want.push(ErrorCode::BadVersion);
    want.extend([ErrorCode::RuntimeInconsistency; 2]);
    assert_eq!(r, Ok(OpResult::MultiFailed(want)));
    assert!(triggers.is_empty());
    assert_eq!(h.db.last_zxid(), z, "a failed multi still takes its zxid");
    assert_eq!(h.db.tree().digest(), tree_digest);
    assert_eq!(h.db.approximate_data_size(), size);
    assert_eq!(h.db.node_count(), count);
    assert_eq!(h.stat("/"), root);
    assert_eq!(h.db.node("/keep").unwrap().data(), b"old");
    assert_eq!(
        h.db.node("/keep").unwrap().acl(),
        Acl::open_unsafe().as_slice()
    );
    assert_eq!(h.db.ephemerals(sid, "/"), vec!["/q/eph"]);
    assert!(
        h.db.reap_candidates(h.now).is_empty(),
        "container cversion restored"
    );
    // The sequence counter was rolled back too.
    assert_eq!(
        h.created_path(
            &s,
            create_op("/q/s-", b"", CreateMode::PersistentSequential)
        ),
        "/q/s-0000000001"
    );

    // A non-node op inside a multi fails at its index.
    let (r, _, _) = h.run(TxnOp::Multi(vec![
        create_op("/x", b"", CreateMode::Persistent),
        TxnOp::Noop,
    ]));
    assert_eq!(
        r,
        Ok(OpResult::MultiFailed(vec![
            ErrorCode::Ok,
            ErrorCode::BadArguments
        ]))
    );
    assert!(h.db.node("/x").is_none());
    // The first op failing.
    let (r, _, _) = h.run(TxnOp::Multi(vec![
        delete_op("/none", -1),
        check_op("/", -1),
    ]));
    assert_eq!(
        r,
        Ok(OpResult::MultiFailed(vec![
            ErrorCode::NoNode,
            ErrorCode::RuntimeInconsistency
        ]))
    );
}

#[test]
fn containers_are_reaped_once_emptied() {
    let mut h = Harness::new();
    h.ok(create_op("/c", b"", CreateMode::Container));
    h.ok(create_op("/never", b"", CreateMode::Container));
    assert!(
        h.db.reap_candidates(h.now).is_empty(),
        "never-used containers stay"
    );
    h.ok(create_op("/c/x", b"", CreateMode::Persistent));
    assert!(h.db.reap_candidates(h.now).is_empty(), "has a child");
    h.ok(delete_op("/c/x", -1));
    assert_eq!(h.db.reap_candidates(h.now), vec!["/c"]);
    let (r, triggers, z) = h.run(TxnOp::Reap {
        paths: vec!["/c".into(), "/never".into(), "/gone".into()],
    });
    assert_eq!(
        r,
        Ok(OpResult::Reaped {
            paths: vec!["/c".into()]
        })
    );
    assert_eq!(
        triggers,
        vec![
            trig("/c", EventType::NodeDeleted, z),
            trig("/", EventType::NodeChildrenChanged, z)
        ]
    );
    assert!(h.db.node("/c").is_none());
    assert!(h.db.node("/never").is_some());

    // A candidate that gained a child before the reap applies stays.
    h.ok(create_op("/d", b"", CreateMode::Container));
    h.ok(create_op("/d/x", b"", CreateMode::Persistent));
    h.ok(delete_op("/d/x", -1));
    let candidates = h.db.reap_candidates(h.now);
    assert_eq!(candidates, vec!["/d"]);
    h.ok(create_op("/d/y", b"", CreateMode::Persistent));
    let (r, triggers, _) = h.run(TxnOp::Reap { paths: candidates });
    assert_eq!(
        (r, triggers),
        (Ok(OpResult::Reaped { paths: vec![] }), vec![])
    );
}

#[test]
fn ttl_nodes_expire_after_their_ttl_without_change() {
    let mut h = Harness::new();
    h.ok(ttl_op("/t", CreateMode::PersistentWithTtl, 100));
    h.ok(ttl_op("/u", CreateMode::PersistentWithTtl, 100));
    assert!(
        h.db.reap_candidates(T0 + 100).is_empty(),
        "elapsed must exceed the ttl"
    );
    assert_eq!(h.db.reap_candidates(T0 + 101), vec!["/t", "/u"]);
    // Modifying /u restarts its clock; a child keeps /t.
    h.now = T0 + 50;
    h.ok(set_data_op("/u", b"x", -1));
    h.ok(create_op("/t/child", b"", CreateMode::Persistent));
    assert!(h.db.reap_candidates(T0 + 101).is_empty());
    assert_eq!(h.db.reap_candidates(T0 + 151), vec!["/u"]);
    h.ok(delete_op("/t/child", -1));
    assert_eq!(h.db.reap_candidates(T0 + 151), vec!["/t", "/u"]);
    // The reap transaction's own time decides.
    h.now = T0 + 120;
    let (r, triggers, z) = h.run(TxnOp::Reap {
        paths: vec!["/t".into(), "/u".into()],
    });
    assert_eq!(
        r,
        Ok(OpResult::Reaped {
            paths: vec!["/t".into()]
        })
    );
    assert_eq!(
        triggers,
        vec![
            trig("/t", EventType::NodeDeleted, z),
            trig("/", EventType::NodeChildrenChanged, z)
        ]
    );
}

#[test]
fn digest_and_ip_acls_end_to_end() {
    let mut h = Harness::new();
    let u = digest_user("alice:secret");
    // CREATOR_ALL_ACL expands to the digest id, not the ip id.
    let mut u_ip = u.clone();
    u_ip.auth.push(Id::new("ip", "127.0.0.1"));
    h.ok_as(&u_ip, create_acl("/mine", Acl::creator_all()));
    assert_eq!(
        h.db.node("/mine").unwrap().acl(),
        &[Acl {
            perms: Perms::ALL,
            id: Id::new(
                "digest",
                "alice:".to_string() + &digest_id("alice:secret")[6..]
            ),
        }]
    );
    assert_eq!(
        h.run_as(&digest_user("alice:wrong"), set_data_op("/mine", b"", -1))
            .0,
        Err(ErrorCode::NoAuth)
    );
    h.ok_as(&u, set_data_op("/mine", b"ok", -1));
    assert_eq!(h.db.check_acl("/mine", Perms::READ, &u.auth, false), Ok(()));
    assert_eq!(
        h.db.check_acl("/mine", Perms::READ, &[], false),
        Err(ErrorCode::NoAuth)
    );
    assert_eq!(h.db.check_acl("/mine", Perms::READ, &[], true), Ok(()));
    assert_eq!(
        h.db.check_acl("/none", Perms::READ, &[], true),
        Err(ErrorCode::NoNode)
    );

    h.ok(create_acl(
        "/lan",
        vec![Acl {
            perms: Perms::ALL,
            id: Id::new("ip", "10.0.0.0/8"),
        }],
    ));
    let inside = Who {
        auth: vec![Id::new("ip", "10.20.30.40")],
        ..Who::default()
    };
    let outside = Who {
        auth: vec![Id::new("ip", "11.0.0.1")],
        ..Who::default()
    };
    h.ok_as(&inside, create_op("/lan/x", b"", CreateMode::Persistent));
    assert_eq!(
        h.run_as(&outside, create_op("/lan/y", b"", CreateMode::Persistent))
            .0,
        Err(ErrorCode::NoAuth)
    );
    // An ip-only caller cannot use the auth scheme.
    assert_eq!(
        h.run_as(&inside, create_acl("/lan/z", Acl::creator_all()))
            .0,
        Err(ErrorCode::InvalidAcl)
    );
}

#[test]
fn reads_count_and_list() {
    let mut h = Harness::new();
    for p in ["/a", "/a/b", "/a/b/c", "/a/bb", "/ab"] {
        h.ok(create_op(p, b"12", CreateMode::Persistent));
    }
    assert_eq!(h.db.all_children_number("/a"), Some(3));
    assert_eq!(h.db.all_children_number("/a/b"), Some(1));
    assert_eq!(h.db.all_children_number("/ab"), Some(0));
    assert_eq!(h.db.all_children_number("/"), Some(h.db.node_count() - 1));
    assert_eq!(h.db.all_children_number("/zz"), None);
    assert_eq!(
        h.db.get_children("/a"),
        Some(vec!["b".to_string(), "bb".to_string()])
    );
    assert_eq!(h.db.get_children("/zz"), None);
    let n = h.db.node("/a").unwrap();
    assert_eq!(n.children().collect::<Vec<_>>(), vec!["b", "bb"]);
    assert_eq!(
        h.db.approximate_data_size(),
        44 + (2 + 4 + 6 + 5 + 3) + 5 * 2
    );
    h.ok(delete_op("/a/b/c", -1));
    assert_eq!(h.db.approximate_data_size(), 44 + (2 + 4 + 5 + 3) + 4 * 2);
}

fn busy_database() -> Harness {
    let mut h = Harness::new();
    let sid = h.session();
    let s = Who {
        session_id: sid,
        ..Who::default()
    };
    h.ok(create_op("/app", b"config", CreateMode::Persistent));
    h.ok_as(
        &s,
        create_op("/app/e-", b"1", CreateMode::EphemeralSequential),
    );
    h.ok(create_op("/c", b"", CreateMode::Container));
    h.ok(create_op("/c/x", b"", CreateMode::Persistent));
    h.ok(delete_op("/c/x", -1));
    h.ok(ttl_op("/t", CreateMode::PersistentWithTtl, 10));
    h.ok_as(&digest_user("u:p"), create_acl("/priv", Acl::creator_all()));
    h.ok(set_data_op("/app", b"v2", 0));
    h.ok(set_acl_op("/app", Acl::read_unsafe(), 0));
    h.ok(TxnOp::CreateWithNullData {
        path: "/null".into(),
        acl: Acl::open_unsafe(),
        mode: CreateMode::Persistent,
        ttl_ms: 0,
    });
    h.ok(create_op("/empty", b"", CreateMode::Persistent));
    let (r, _, _) = h.run(delete_op("/missing", -1));
    assert_eq!(r, Err(ErrorCode::NoNode), "an error txn: zxid only");
    h
}

#[test]
fn snapshot_round_trip_preserves_everything() {
    let mut h = busy_database();
    let bytes = h.db.to_snapshot();
    assert_eq!(bytes[0], SNAPSHOT_FORMAT_VERSION);
    let mut restored = Database::from_snapshot(&bytes).expect("restore");
    assert_eq!(restored.digest(), h.db.digest());
    assert_eq!(restored.to_snapshot(), bytes, "snapshots are deterministic");
    assert_eq!(restored.last_zxid(), h.db.last_zxid());
    assert_eq!(restored.sessions(), h.db.sessions());
    assert_eq!(restored.node_count(), h.db.node_count());
    assert_eq!(restored.ephemeral_count(), 1);
    assert_eq!(
        restored.approximate_data_size(),
        h.db.approximate_data_size()
    );
    assert_eq!(
        restored.reap_candidates(T0 + 1000),
        h.db.reap_candidates(T0 + 1000)
    );
    assert_eq!(restored.reap_candidates(T0 + 1000), vec!["/c", "/t"]);
    for (path, node) in h.db.tree().iter() {
        let other = restored.node(path).unwrap();
        assert_eq!(
            (other.stat(), other.data_or_null(), other.acl()),
            (node.stat(), node.data_or_null(), node.acl())
        );
    }
    // Both continue identically.
    let next = txn_at(
        &anon(),
        T0,
        TxnOp::CreateSession {
            timeout_ms: 1,
            password: [0; 16],
        },
    );
    let batch = TxnBatch::new(vec![
        next,
        txn_at(
            &anon(),
            T0,
            create_op("/app/s-", b"", CreateMode::PersistentSequential),
        ),
    ]);
    let (mut t1, mut t2) = (Vec::new(), Vec::new());
    assert_eq!(
        h.db.apply_batch(&batch, &mut t1),
        restored.apply_batch(&batch, &mut t2)
    );
    assert_eq!(t1, t2);
    assert_eq!(h.db.digest(), restored.digest());
}

#[test]
fn corrupt_snapshots_are_rejected() {
    let bytes = busy_database().db.to_snapshot();
    assert!(Database::from_snapshot(&[]).is_err());
    let mut wrong = bytes.clone();
    wrong[0] = 99;
    assert!(Database::from_snapshot(&wrong)
        .unwrap_err()
        .contains("version"));
    assert!(Database::from_snapshot(&bytes[..bytes.len() / 2]).is_err());
}

#[test]
fn replicas_applying_the_same_batches_agree() {
    let a = busy_database();
    let b = busy_database();
    assert_eq!(a.db.digest(), b.db.digest());
    let mut c = busy_database();
    c.ok(set_data_op("/t", b"v3", -1));
    assert_ne!(a.db.digest(), c.db.digest());
}

#[test]
fn batch_gives_consecutive_zxids_to_every_txn() {
    let mut db = Database::new();
    let who = anon();
    let batch = TxnBatch::new(vec![
        txn_at(&who, T0, create_op("/a", b"", CreateMode::Persistent)),
        txn_at(&who, T0, create_op("/a", b"", CreateMode::Persistent)),
        txn_at(&who, T0, TxnOp::Noop),
        txn_at(&who, T0, delete_op("/a", -1)),
    ]);
    let mut triggers = Vec::new();
    let out = db.apply_batch(&batch, &mut triggers);
    let zxids: Vec<i64> = out.outcomes.iter().map(|o| o.zxid).collect();
    // The sync barrier (Noop) takes no zxid of its own.
    assert_eq!(zxids, vec![1, 2, 2, 3]);
    assert_eq!(out.outcomes[1].result, Err(ErrorCode::NodeExists));
    assert_eq!(out.outcomes[2].result, Ok(OpResult::Done));
    assert_eq!(out.outcomes[3].result, Ok(OpResult::Deleted));
    assert_eq!(
        triggers,
        vec![
            trig("/a", EventType::NodeCreated, 1),
            trig("/", EventType::NodeChildrenChanged, 1),
            trig("/a", EventType::NodeDeleted, 3),
            trig("/", EventType::NodeChildrenChanged, 3),
        ]
    );
    assert_eq!(db.last_zxid(), 3);
    // apply with an explicit, larger zxid (e.g. a new leader's epoch).
    let mut t = Vec::new();
    let big = (1_i64 << 32) + 1;
    assert_eq!(
        db.apply(&txn_at(&who, T0, TxnOp::Noop), big, &mut t),
        Ok(OpResult::Done)
    );
    assert_eq!(db.last_zxid(), big);
}

#[test]
#[should_panic(expected = "zxid must grow")]
fn zxid_going_backwards_is_fatal() {
    let mut db = Database::new();
    let mut t = Vec::new();
    db.apply(&txn_at(&anon(), T0, TxnOp::Noop), 5, &mut t)
        .unwrap();
    let _ = db.apply(&txn_at(&anon(), T0, TxnOp::Noop), 5, &mut t);
}

mod rollback_property {
    use super::*;
    use proptest::prelude::*;

    const PATHS: [&str; 6] = ["/a", "/a/b", "/a/b/c", "/c", "/c/d", "/e"];

    fn op_strategy() -> impl Strategy<Value = TxnOp> {
        let path = (0..PATHS.len()).prop_map(|i| PATHS[i].to_string());
        let mode = prop_oneof![
            Just(CreateMode::Persistent),
            Just(CreateMode::Ephemeral),
            Just(CreateMode::PersistentSequential),
            Just(CreateMode::EphemeralSequential),
            Just(CreateMode::Container),
        ];
        let version = prop_oneof![Just(-1), 0..3];
        prop_oneof![
            (path.clone(), mode, prop::collection::vec(any::<u8>(), 0..4)).prop_map(|(p, m, d)| {
                TxnOp::Create {
                    path: p,
                    data: d,
                    acl: Acl::open_unsafe(),
                    mode: m,
                    ttl_ms: 0,
                }
            }),
            (path.clone(), version.clone()).prop_map(|(p, v)| delete_op(&p, v)),
            (
                path.clone(),
                prop::collection::vec(any::<u8>(), 0..8),
                version.clone()
            )
                .prop_map(|(p, d, v)| set_data_op(&p, &d, v)),
            (path.clone(), version.clone()).prop_map(|(p, v)| set_acl_op(
                &p,
                Acl::read_unsafe(),
                v
            )),
            (path, version).prop_map(|(p, v)| check_op(&p, v)),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Whatever a multi did before failing, the state afterwards equals
        /// the state before, except for the zxid.
        #[test]
        fn failed_multi_leaves_no_trace(
            setup in prop::collection::vec(op_strategy(), 0..12),
            multi in prop::collection::vec(op_strategy(), 0..12),
        ) {
            let mut h = Harness::new();
            let sid = h.session();
            let s = Who { session_id: sid, ..Who::default() };
            for op in setup {
                let _ = h.run_as(&s, op);
            }
            let before = h.db.to_snapshot();
            let tree_digest = h.db.tree().digest();
            let size = h.db.approximate_data_size();
            let ephemerals = h.db.ephemerals(sid, "/");
            let candidates = h.db.reap_candidates(h.now);
            let mut ops = multi;
            ops.push(check_op("/never", -1));
            let n = ops.len();
            let (r, triggers, _) = h.run_as(&s, TxnOp::Multi(ops));
            let Ok(OpResult::MultiFailed(codes)) = r else { panic!("{r:?}") };
            prop_assert_eq!(codes.len(), n);
            prop_assert!(triggers.is_empty());
            prop_assert_eq!(h.db.tree().digest(), tree_digest);
            prop_assert_eq!(h.db.approximate_data_size(), size);
            prop_assert_eq!(h.db.ephemerals(sid, "/"), ephemerals);
            prop_assert_eq!(h.db.reap_candidates(h.now), candidates);
            // Byte-identical apart from the last zxid.
            let restored = Database::from_snapshot(&before).unwrap();
            prop_assert_eq!(restored.tree().digest(), h.db.tree().digest());
            for (path, node) in restored.tree().iter() {
                let now = h.db.node(path).unwrap();
                prop_assert_eq!(now.stat(), node.stat());
                prop_assert_eq!(now.stat_persisted(), node.stat_persisted());
            }
        }
    }
}

#[test]
fn failed_multi_under_a_wide_parent_is_cheap_and_exact() {
    let mut db = Database::new();
    let who = anon();
    let mut triggers = Vec::new();
    let txns = (0..20_000)
        .map(|i| {
            txn_at(
                &who,
                T0,
                create_op(&format!("/w-{i:05}"), b"x", CreateMode::Persistent),
            )
        })
        .collect();
    db.apply_batch(&TxnBatch::new(txns), &mut triggers);
    assert_eq!(db.get_children("/").unwrap().len(), 20_001);
    let digest = db.tree().digest();
    let root = db.node("/").unwrap().stat();
    let ops = vec![
        create_op("/w-", b"", CreateMode::PersistentSequential),
        delete_op("/w-00000", -1),
        set_data_op("/w-00001", b"changed", -1),
        check_op("/w-00002", 42),
    ];
    let mut t = Vec::new();
    let out = db.apply_batch(
        &TxnBatch::new(vec![txn_at(&who, T0, TxnOp::Multi(ops))]),
        &mut t,
    );
    assert!(matches!(
        out.outcomes[0].result,
        Ok(OpResult::MultiFailed(_))
    ));
    assert!(t.is_empty());
    assert_eq!(db.tree().digest(), digest);
    assert_eq!(db.node("/").unwrap().stat(), root);
    assert_eq!(db.all_children_number("/"), Some(20_003));
}

fn create_null_op(path: &str) -> TxnOp {
    TxnOp::CreateWithNullData {
        path: path.into(),
        acl: Acl::open_unsafe(),
        mode: CreateMode::Persistent,
        ttl_ms: 0,
    }
}

#[test]
fn null_data_is_kept_apart_from_empty_data() {
    let mut h = Harness::new();
    h.ok(create_null_op("/n"));
    h.ok(create_op("/e", b"", CreateMode::Persistent));
    let node = h.db.node("/n").unwrap();
    assert_eq!(node.data_or_null(), None);
    assert_eq!(node.stat().data_length, 0);
    assert_eq!(h.db.node("/e").unwrap().data_or_null(), Some(&b""[..]));
    // setData with null data, then with data, then null again.
    h.ok(set_data_op("/e", b"x", -1));
    h.ok(TxnOp::SetNullData {
        path: "/e".into(),
        version: -1,
    });
    let node = h.db.node("/e").unwrap();
    assert_eq!((node.data_or_null(), node.stat().version), (None, 2));
    h.ok(set_data_op("/n", b"", -1));
    assert_eq!(h.db.node("/n").unwrap().data_or_null(), Some(&b""[..]));
}

#[test]
fn a_failed_multi_restores_null_data() {
    let mut h = Harness::new();
    h.ok(create_null_op("/n"));
    let ops = vec![
        set_data_op("/n", b"x", -1),
        TxnOp::SetNullData {
            path: "/missing".into(),
            version: -1,
        },
    ];
    assert!(matches!(
        h.run(TxnOp::Multi(ops)).0,
        Ok(OpResult::MultiFailed(_)) | Err(_)
    ));
    assert_eq!(h.db.node("/n").unwrap().data_or_null(), None);
}

#[test]
fn snapshots_keep_null_data_and_version_1_still_reads() {
    let mut h = Harness::new();
    h.ok(create_null_op("/n"));
    h.ok(create_op("/e", b"", CreateMode::Persistent));
    let bytes = h.db.to_snapshot();
    let restored = Database::from_snapshot(&bytes).expect("restore");
    assert_eq!(restored.node("/n").unwrap().data_or_null(), None);
    assert_eq!(restored.node("/e").unwrap().data_or_null(), Some(&b""[..]));
    // A version 1 snapshot: the same body without the null-data list.
    let mut plain = Harness::new();
    plain.ok(create_op("/e", b"", CreateMode::Persistent));
    let mut v1 = plain.db.to_snapshot();
    let empty_list = bincode::serialize(&Vec::<String>::new()).unwrap();
    v1.truncate(v1.len() - empty_list.len());
    v1[0] = 1;
    let restored = Database::from_snapshot(&v1).expect("version 1 reads");
    assert_eq!(restored.node("/e").unwrap().data_or_null(), Some(&b""[..]));
    // Trailing garbage is refused.
    let mut long = bytes.clone();
    long.push(0);
    assert!(Database::from_snapshot(&long).is_err());
}
