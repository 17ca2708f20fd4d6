//! Golden bytes of what the server writes to disk, above the segment and
//! snapshot-file framing (which `raft/` pins itself): the payload of a Raft
//! log entry (bincode of openraft's `EntryPayload` over [`TxnBatch`]) and the
//! snapshot body the application produces (`Database::to_snapshot`: format
//! version byte, then bincode of the tree and the sessions).
//!
//! These types are built from the shared wire types (`Stat`, `Acl`, `Id`,
//! `CreateMode`), so a change there (a field added, a variant reordered, a
//! serde attribute) would silently change what is on disk. These tests
//! fail on any such change: a format change must be a deliberate step (a new
//! `SNAPSHOT_FORMAT_VERSION`, a refusal of old data), with the golden bytes
//! updated in the same commit.
//!
//! If a test fails, it prints the new bytes; do not paste them in unless the
//! format change is intended and versioned.

use corral_server::tree::database::SNAPSHOT_FORMAT_VERSION;
use corral_server::tree::Database;
use corral_server::txn::{OpResult, Origin, Txn, TxnBatch, TxnOp};
use corral_wire::proto::{Acl, CreateMode, ErrorCode, Id, Perms};

openraft::declare_raft_types!(
    /// The server's type configuration as far as the entry payload's
    /// encoding goes: the same `D`, `NodeId` and `Node` types.
    pub GoldenConfig:
        D = TxnBatch,
        R = (),
        NodeId = u64,
        Node = openraft::BasicNode,
        Entry = openraft::Entry<GoldenConfig>,
        SnapshotData = std::io::Cursor<Vec<u8>>,
);

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Vec<u8> {
    let digits: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    assert!(digits.len().is_multiple_of(2), "odd number of hex digits");
    digits
        .chunks(2)
        .map(|pair| {
            u8::from_str_radix(std::str::from_utf8(pair).expect("ascii"), 16).expect("hex digit")
        })
        .collect()
}

fn assert_golden(what: &str, actual: &[u8], golden: &str) {
    let expected = unhex(golden);
    assert!(
        actual == expected.as_slice(),
        "{what}: on-disk encoding changed\n  golden: {}\n  now:    {}",
        hex(&expected),
        hex(actual)
    );
}

fn txn(session_id: i64, op: TxnOp) -> Txn {
    Txn {
        session_id,
        time_ms: 1_700_000_000_123,
        auth: vec![Id::new("digest", "alice:hash")],
        is_super: false,
        op,
        origin: Some(Origin {
            server_id: 2,
            incarnation: 0x0102_0304_0506_0708,
            request_id: 9,
        }),
    }
}

const SESSION_PASSWORD: [u8; 16] = *b"0123456789abcdef";

fn create_session() -> Txn {
    txn(
        0,
        TxnOp::CreateSession {
            timeout_ms: 10_000,
            password: SESSION_PASSWORD,
        },
    )
}

/// One transaction of every kind the log can carry (but the session
/// create), every create mode and an ACL with a non-world id, made by
/// `session_id`.
fn every_txn_op(session_id: i64) -> Vec<Txn> {
    let acl = vec![
        Acl {
            perms: Perms::READ | Perms::ADMIN,
            id: Id::new("digest", "alice:hash"),
        },
        Acl {
            perms: Perms::ALL,
            id: Id::anyone(),
        },
    ];
    let create = |path: &str, mode: CreateMode, ttl_ms: i64| TxnOp::Create {
        path: path.into(),
        data: b"d\x00\xff".to_vec(),
        acl: acl.clone(),
        mode,
        ttl_ms,
    };
    let session = |op| txn(session_id, op);
    let mut txns = Vec::from([
        session(TxnOp::AttachSession { owner: 2 }),
        session(create("/p", CreateMode::Persistent, 0)),
        session(create("/p/e", CreateMode::Ephemeral, 0)),
        session(create("/p/s-", CreateMode::PersistentSequential, 0)),
        session(create("/p/es-", CreateMode::EphemeralSequential, 0)),
        session(create("/c", CreateMode::Container, 0)),
        session(create("/t", CreateMode::PersistentWithTtl, 60_000)),
        session(create(
            "/ts-",
            CreateMode::PersistentSequentialWithTtl,
            60_000,
        )),
        session(TxnOp::SetData {
            path: "/p".into(),
            data: b"new".to_vec(),
            version: 0,
        }),
        session(TxnOp::SetAcl {
            path: "/p".into(),
            acl: Acl::open_unsafe(),
            version: -1,
        }),
        session(TxnOp::Multi(vec![
            TxnOp::Check {
                path: "/p".into(),
                version: 1,
            },
            TxnOp::Delete {
                path: "/p/s-0000000001".into(),
                version: -1,
            },
        ])),
        txn(
            0,
            TxnOp::Reap {
                paths: vec!["/c".into()],
            },
        ),
        session(TxnOp::Noop),
        session(TxnOp::Delete {
            path: "/missing".into(),
            version: 5,
        }),
    ]);
    let mut internal = txn(
        0,
        TxnOp::ExpireSessions {
            session_ids: vec![7, -8],
        },
    );
    internal.origin = None;
    internal.auth.clear();
    internal.is_super = true;
    txns.push(internal);
    txns.push(txn(session_id, TxnOp::CloseSession));
    txns
}

const ENTRY_PAYLOAD_BLANK: &str = "00000000";
const ENTRY_PAYLOAD_NORMAL: &str = "01000000110000000000000000000000000000007b68e5cf8b0100000100000000000000060000000000000064696765\
    73740a00000000000000616c6963653a6861736800000000001027000030313233343536373839616263646566010200\
    0000000000000807060504030201090000000000000001000000000000017b68e5cf8b01000001000000000000000600\
    0000000000006469676573740a00000000000000616c6963653a68617368000200000002000000000000000102000000\
    000000000807060504030201090000000000000001000000000000017b68e5cf8b010000010000000000000006000000\
    000000006469676573740a00000000000000616c6963653a68617368000400000002000000000000002f700300000000\
    0000006400ff02000000000000001100000006000000000000006469676573740a00000000000000616c6963653a6861\
    73681f0000000500000000000000776f726c640600000000000000616e796f6e65000000000000000000000000010200\
    0000000000000807060504030201090000000000000001000000000000017b68e5cf8b01000001000000000000000600\
    0000000000006469676573740a00000000000000616c6963653a68617368000400000004000000000000002f702f6503\
    000000000000006400ff02000000000000001100000006000000000000006469676573740a00000000000000616c6963\
    653a686173681f0000000500000000000000776f726c640600000000000000616e796f6e650100000000000000000000\
    000102000000000000000807060504030201090000000000000001000000000000017b68e5cf8b010000010000000000\
    000006000000000000006469676573740a00000000000000616c6963653a68617368000400000005000000000000002f\
    702f732d03000000000000006400ff02000000000000001100000006000000000000006469676573740a000000000000\
    00616c6963653a686173681f0000000500000000000000776f726c640600000000000000616e796f6e65020000000000\
    0000000000000102000000000000000807060504030201090000000000000001000000000000017b68e5cf8b01000001\
    0000000000000006000000000000006469676573740a00000000000000616c6963653a68617368000400000006000000\
    000000002f702f65732d03000000000000006400ff02000000000000001100000006000000000000006469676573740a\
    00000000000000616c6963653a686173681f0000000500000000000000776f726c640600000000000000616e796f6e65\
    0300000000000000000000000102000000000000000807060504030201090000000000000001000000000000017b68e5\
    cf8b010000010000000000000006000000000000006469676573740a00000000000000616c6963653a68617368000400\
    000002000000000000002f6303000000000000006400ff02000000000000001100000006000000000000006469676573\
    740a00000000000000616c6963653a686173681f0000000500000000000000776f726c640600000000000000616e796f\
    6e650400000000000000000000000102000000000000000807060504030201090000000000000001000000000000017b\
    68e5cf8b010000010000000000000006000000000000006469676573740a00000000000000616c6963653a6861736800\
    0400000002000000000000002f7403000000000000006400ff0200000000000000110000000600000000000000646967\
    6573740a00000000000000616c6963653a686173681f0000000500000000000000776f726c640600000000000000616e\
    796f6e650500000060ea0000000000000102000000000000000807060504030201090000000000000001000000000000\
    017b68e5cf8b010000010000000000000006000000000000006469676573740a00000000000000616c6963653a686173\
    68000400000004000000000000002f74732d03000000000000006400ff02000000000000001100000006000000000000\
    006469676573740a00000000000000616c6963653a686173681f0000000500000000000000776f726c64060000000000\
    0000616e796f6e650600000060ea00000000000001020000000000000008070605040302010900000000000000010000\
    00000000017b68e5cf8b010000010000000000000006000000000000006469676573740a00000000000000616c696365\
    3a68617368000600000002000000000000002f7003000000000000006e65770000000001020000000000000008070605\
    04030201090000000000000001000000000000017b68e5cf8b0100000100000000000000060000000000000064696765\
    73740a00000000000000616c6963653a68617368000700000002000000000000002f7001000000000000001f00000005\
    00000000000000776f726c640600000000000000616e796f6e65ffffffff010200000000000000080706050403020109\
    0000000000000001000000000000017b68e5cf8b010000010000000000000006000000000000006469676573740a0000\
    0000000000616c6963653a68617368000900000002000000000000000800000002000000000000002f70010000000500\
    00000f000000000000002f702f732d30303030303030303031ffffffff01020000000000000008070605040302010900\
    00000000000000000000000000007b68e5cf8b010000010000000000000006000000000000006469676573740a000000\
    00000000616c6963653a68617368000a000000010000000000000002000000000000002f630102000000000000000807\
    060504030201090000000000000001000000000000017b68e5cf8b010000010000000000000006000000000000006469\
    676573740a00000000000000616c6963653a68617368000b000000010200000000000000080706050403020109000000\
    0000000001000000000000017b68e5cf8b010000010000000000000006000000000000006469676573740a0000000000\
    0000616c6963653a68617368000500000008000000000000002f6d697373696e67050000000102000000000000000807\
    060504030201090000000000000000000000000000007b68e5cf8b010000000000000000000001030000000200000000\
    0000000700000000000000f8ffffffffffffff0001000000000000017b68e5cf8b010000010000000000000006000000\
    000000006469676573740a00000000000000616c6963653a686173680001000000010200000000000000080706050403\
    02010900000000000000";
const ENTRY_PAYLOAD_MEMBERSHIP: &str = "020000000100000000000000030000000000000001000000000000000200000000000000030000000000000003000000\
    0000000001000000000000000e000000000000003132372e302e302e313a3238383102000000000000000e0000000000\
    00003132372e302e302e313a3238383203000000000000000e000000000000003132372e302e302e313a32383833";
const SNAPSHOT_BODY: &str = "010f0000000000000001007b68e5cf8b01010000000000000000007b68e5cf8b01102700003031323334353637383961\
    626364656602000000000000000a0000000000000001000000000000002f000000000000000001000000000000001f00\
    00000500000000000000776f726c640600000000000000616e796f6e6500000000000000000000000000000000000000\
    000000000000000000000000000000000004000000000000000000000000000000090000000000000002000000000000\
    002f6303000000000000006400ff02000000000000001100000006000000000000006469676573740a00000000000000\
    616c6963653a686173681f0000000500000000000000776f726c640600000000000000616e796f6e6507000000000000\
    0007000000000000007b68e5cf8b0100007b68e5cf8b0100000000000000000000000000000000000000000080070000\
    000000000002000000000000002f7003000000000000006e657701000000000000001f0000000500000000000000776f\
    726c640600000000000000616e796f6e6503000000000000000a000000000000007b68e5cf8b0100007b68e5cf8b0100\
    0001000000030000000100000000000000000000000c0000000000000004000000000000002f702f6503000000000000\
    006400ff02000000000000001100000006000000000000006469676573740a00000000000000616c6963653a68617368\
    1f0000000500000000000000776f726c640600000000000000616e796f6e65040000000000000004000000000000007b\
    68e5cf8b0100007b68e5cf8b01000000000000000000000000000000007b68e5cf8b0104000000000000001000000000\
    0000002f702f65732d3030303030303030303203000000000000006400ff020000000000000011000000060000000000\
    00006469676573740a00000000000000616c6963653a686173681f0000000500000000000000776f726c640600000000\
    000000616e796f6e65060000000000000006000000000000007b68e5cf8b0100007b68e5cf8b01000000000000000000\
    000000000000007b68e5cf8b01060000000000000002000000000000002f7403000000000000006400ff020000000000\
    00001100000006000000000000006469676573740a00000000000000616c6963653a686173681f000000050000000000\
    0000776f726c640600000000000000616e796f6e65080000000000000008000000000000007b68e5cf8b0100007b68e5\
    cf8b01000000000000000000000000000060ea0000000000ff08000000000000000e000000000000002f74732d303030\
    3030303030303303000000000000006400ff02000000000000001100000006000000000000006469676573740a000000\
    00000000616c6963653a686173681f0000000500000000000000776f726c640600000000000000616e796f6e65090000\
    000000000009000000000000007b68e5cf8b0100007b68e5cf8b01000000000000000000000000000060ea0000000000\
    ff09000000000000000a000000000000002f7a6f6f6b6565706572000000000000000001000000000000001f00000005\
    00000000000000776f726c640600000000000000616e796f6e6500000000000000000000000000000000000000000000\
    000000000000000000000000000000000000000000000000000000000000000000000000000011000000000000002f7a\
    6f6f6b65657065722f636f6e66696700000000000000000100000000000000010000000500000000000000776f726c64\
    0600000000000000616e796f6e6500000000000000000000000000000000000000000000000000000000000000000000\
    000000000000ffffffff0000000000000000000000000000000010000000000000002f7a6f6f6b65657065722f71756f\
    7461000000000000000001000000000000001f0000000500000000000000776f726c640600000000000000616e796f6e\
    650000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000\
    00000000000000000000000000";

#[test]
fn log_entry_payloads_keep_their_encoding() {
    let blank = openraft::EntryPayload::<GoldenConfig>::Blank;
    assert_golden(
        "blank entry",
        &bincode::serialize(&blank).unwrap(),
        ENTRY_PAYLOAD_BLANK,
    );

    let normal = openraft::EntryPayload::<GoldenConfig>::Normal(TxnBatch::new(
        std::iter::once(create_session())
            .chain(every_txn_op(0x100_0000_0000_0001))
            .collect(),
    ));
    let bytes = bincode::serialize(&normal).unwrap();
    assert_golden("normal entry", &bytes, ENTRY_PAYLOAD_NORMAL);
    let decoded: openraft::EntryPayload<GoldenConfig> = bincode::deserialize(&bytes).unwrap();
    assert_eq!(decoded, normal, "normal entry round trip");

    let voters = std::collections::BTreeSet::from([1u64, 2, 3]);
    let nodes = [
        (1u64, "127.0.0.1:2881"),
        (2, "127.0.0.1:2882"),
        (3, "127.0.0.1:2883"),
    ]
    .into_iter()
    .map(|(id, addr)| (id, openraft::BasicNode::new(addr)))
    .collect::<std::collections::BTreeMap<_, _>>();
    let membership = openraft::Membership::new(vec![voters], nodes);
    let membership = openraft::EntryPayload::<GoldenConfig>::Membership(membership);
    assert_golden(
        "membership entry",
        &bincode::serialize(&membership).unwrap(),
        ENTRY_PAYLOAD_MEMBERSHIP,
    );
}

/// The state after applying every kind of transaction but the session
/// close, so the snapshot holds a session, its ephemerals, sequential, TTL
/// and ACL'd nodes and the initial `/zookeeper` nodes.
fn populated_database() -> Database {
    let mut db = Database::new();
    let mut triggers = Vec::new();
    let created = db.apply_batch(&TxnBatch::new(vec![create_session()]), &mut triggers);
    let session_id = match &created.outcomes[0].result {
        Ok(OpResult::SessionCreated { session_id }) => *session_id,
        other => panic!("session not created: {other:?}"),
    };
    let mut txns = every_txn_op(session_id);
    txns.pop(); // keep the session open
    let applied = db.apply_batch(&TxnBatch::new(txns), &mut triggers);
    // Every op but the delete of a missing node applied: the state is the
    // one intended (a golden snapshot of failed creates would pin little).
    let failed: Vec<_> = applied
        .outcomes
        .iter()
        .filter_map(|o| o.result.as_ref().err())
        .collect();
    assert_eq!(failed, [&ErrorCode::NoNode], "{applied:?}");
    db
}

#[test]
fn snapshot_body_keeps_its_encoding() {
    let db = populated_database();
    assert!(
        db.sessions().len() == 1,
        "the golden state has one open session"
    );
    let bytes = db.to_snapshot();
    assert_eq!(bytes[0], SNAPSHOT_FORMAT_VERSION);
    assert_golden("snapshot body", &bytes, SNAPSHOT_BODY);

    // The golden bytes load, and re-encode to themselves.
    let restored = Database::from_snapshot(&unhex(SNAPSHOT_BODY)).expect("golden snapshot loads");
    assert_eq!(restored.to_snapshot(), bytes);
}

#[test]
fn snapshot_of_another_format_version_is_refused() {
    let mut bytes = unhex(SNAPSHOT_BODY);
    bytes[0] = SNAPSHOT_FORMAT_VERSION + 1;
    let err = Database::from_snapshot(&bytes).expect_err("a future format is refused");
    assert!(err.contains("unsupported snapshot format version"), "{err}");
}
