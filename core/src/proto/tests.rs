//! Protocol tests: golden bytes laid out by hand from `zookeeper.jute`
//! (field order and widths), round-trip proptests for every request and
//! response, and arbitrary bytes into every decoder.

use bytes::BytesMut;
use proptest::prelude::*;

use super::*;

/// Bytes from a hex string; whitespace is ignored.
fn hex(s: &str) -> Vec<u8> {
    let digits: Vec<u8> = s.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    digits
        .chunks(2)
        .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).unwrap(), 16).unwrap())
        .collect()
}

const PASSWORD_16: &str = "00000010 00000000000000000000000000000000";

fn connect_request_bytes(read_only: Option<bool>) -> Vec<u8> {
    let mut bytes = hex(&format!(
        "00000000 0000000000000000 00007530 0000000000000000 {PASSWORD_16}"
    ));
    if let Some(read_only) = read_only {
        bytes.push(u8::from(read_only));
    }
    bytes
}

#[test]
fn connect_request_of_44_and_45_bytes() {
    let expected = ConnectRequest {
        protocol_version: 0,
        last_zxid_seen: 0,
        timeout_ms: 30_000,
        session_id: 0,
        password: vec![0; 16],
        read_only: false,
    };
    let short = connect_request_bytes(None);
    assert_eq!(short.len(), 44);
    assert_eq!(ConnectRequest::from_bytes(&short), Ok(expected.clone()));

    let long = connect_request_bytes(Some(false));
    assert_eq!(long.len(), 45);
    assert_eq!(ConnectRequest::from_bytes(&long), Ok(expected.clone()));
    // Encoding always writes the readOnly byte.
    assert_eq!(expected.to_bytes(), long);

    let read_only = connect_request_bytes(Some(true));
    assert!(ConnectRequest::from_bytes(&read_only).unwrap().read_only);

    // A resumed session.
    let resumed = hex(&format!(
        "00000000 0000000000000123 00002710 0123456789abcdef {PASSWORD_16} 01"
    ));
    assert_eq!(
        ConnectRequest::from_bytes(&resumed),
        Ok(ConnectRequest {
            protocol_version: 0,
            last_zxid_seen: 0x123,
            timeout_ms: 10_000,
            session_id: 0x0123_4567_89ab_cdef,
            password: vec![0; 16],
            read_only: true,
        })
    );
    // Cut inside the password: truncated, not a panic.
    assert_eq!(
        ConnectRequest::from_bytes(&short[..40]),
        Err(DecodeError::Truncated)
    );
}

#[test]
fn connect_response_of_36_and_37_bytes() {
    let response = ConnectResponse {
        protocol_version: 0,
        timeout_ms: 30_000,
        session_id: 0x0100_0000_0000_0001,
        password: (1..=16).collect(),
        read_only: false,
    };
    let bytes = response.to_bytes();
    assert_eq!(
        bytes,
        hex("00000000 00007530 0100000000000001 00000010 0102030405060708090a0b0c0d0e0f10 00")
    );
    assert_eq!(bytes.len(), 37);
    assert_eq!(ConnectResponse::from_bytes(&bytes), Ok(response.clone()));
    assert_eq!(ConnectResponse::from_bytes(&bytes[..36]), Ok(response));
}

#[test]
fn create_request_with_open_acl() {
    let request = Request::Create(CreateRequest {
        path: "/a".to_owned(),
        data: b"x".to_vec(),
        acl: Acl::open_unsafe(),
        flags: CreateMode::Persistent.flag(),
    });
    let frame = encode_request(1, &request);
    let expected = hex("00000032
         00000001 00000001
         00000002 2f61
         00000001 78
         00000001 0000001f 00000005 776f726c64 00000006 616e796f6e65
         00000000");
    assert_eq!(frame, expected);
    assert_eq!(
        decode_request(&frame[4..]),
        Ok((RequestHeader { xid: 1, op_code: 1 }, request))
    );
}

const MULTI_CREATE_DELETE_CHECK: &str = "
    00000001 00 ffffffff  00000002 2f61 00000000 00000000 00000000
    00000002 00 ffffffff  00000002 2f61 ffffffff
    0000000d 00 ffffffff  00000002 2f61 00000003
    ffffffff 01 ffffffff";

fn multi_create_delete_check() -> Request {
    Request::Multi(vec![
        MultiOp::Create(CreateRequest {
            path: "/a".to_owned(),
            ..CreateRequest::default()
        }),
        MultiOp::Delete(DeleteRequest {
            path: "/a".to_owned(),
            version: -1,
        }),
        MultiOp::Check(CheckVersionRequest {
            path: "/a".to_owned(),
            version: 3,
        }),
    ])
}

#[test]
fn multi_with_create_delete_check() {
    let request = multi_create_delete_check();
    let mut body = Vec::new();
    request.encode(&mut body);
    assert_eq!(body, hex(MULTI_CREATE_DELETE_CHECK));
    assert_eq!(Request::decode(14, &body), Ok(request.clone()));

    let frame = encode_request(7, &request);
    assert_eq!(frame[..12], hex("00000052 00000007 0000000e"));
    assert_eq!(frame.len(), 4 + 0x52);
}

#[test]
fn multi_response_with_error_results() {
    // The second op failed with NONODE: earlier ops report 0, later ones
    // RUNTIMEINCONSISTENCY; the ReplyHeader's err stays 0.
    let response = Response::Multi(vec![
        MultiResult::Error(0),
        MultiResult::Error(ErrorCode::NoNode.code()),
        MultiResult::Error(ErrorCode::RuntimeInconsistency.code()),
    ]);
    let frame = encode_reply(2, 0x10, 0, &response);
    let expected = hex("00000040
         00000002 0000000000000010 00000000
         ffffffff 00 00000000 00000000
         ffffffff 00 ffffff9b ffffff9b
         ffffffff 00 fffffffe fffffffe
         ffffffff 01 ffffffff");
    assert_eq!(frame, expected);
    let (header, body) = decode_reply_header(&frame[4..]).unwrap();
    assert_eq!(
        header,
        ReplyHeader {
            xid: 2,
            zxid: 0x10,
            err: 0
        }
    );
    assert_eq!(Response::decode(OpCode::Multi, body), Ok(response));
}

#[test]
fn multi_response_with_successes() {
    let response = Response::Multi(vec![
        MultiResult::Create {
            path: "/a".to_owned(),
        },
        MultiResult::Delete,
        MultiResult::Check,
    ]);
    let mut body = Vec::new();
    response.encode(&mut body);
    assert_eq!(
        body,
        hex("00000001 00 00000000 00000002 2f61
             00000002 00 00000000
             0000000d 00 00000000
             ffffffff 01 ffffffff")
    );
    assert_eq!(Response::decode(OpCode::Multi, &body), Ok(response));
}

#[test]
fn error_replies_have_no_body() {
    let response = Response::GetData(GetDataResponse::default());
    let frame = encode_reply(5, 9, ErrorCode::NoNode.code(), &response);
    assert_eq!(frame, hex("00000010 00000005 0000000000000009 ffffff9b"));
}

#[test]
fn notification_frame() {
    let event = WatcherEvent {
        event_type: EventType::NodeDataChanged.code(),
        state: KeeperState::SyncConnected.code(),
        path: "/a".to_owned(),
    };
    let frame = encode_notification(-1, &event);
    assert_eq!(
        frame,
        hex("0000001e ffffffff ffffffffffffffff 00000000 00000003 00000003 00000002 2f61")
    );
    let (header, body) = decode_reply_header(&frame[4..]).unwrap();
    assert_eq!(header.xid, NOTIFICATION_XID);
    assert_eq!(
        Response::decode(OpCode::Notification, body),
        Ok(Response::Notification(event))
    );
}

#[test]
fn header_only_requests() {
    assert_eq!(
        encode_request(PING_XID, &Request::Ping),
        hex("00000008 fffffffe 0000000b")
    );
    assert_eq!(
        decode_request(&hex("00000001 fffffff5")),
        Ok((
            RequestHeader {
                xid: 1,
                op_code: -11
            },
            Request::CloseSession
        ))
    );
    assert_eq!(Request::decode(107, &[]), Ok(Request::WhoAmI));
}

#[test]
fn add_watch_replies_with_error_response_zero() {
    let mut body = Vec::new();
    Response::AddWatch.encode(&mut body);
    assert_eq!(body, hex("00000000"));
    assert_eq!(
        Response::decode(OpCode::AddWatch, &body),
        Ok(Response::AddWatch)
    );
}

#[test]
fn standalone_check_reply_before_and_after_3_9_3() {
    assert_eq!(Response::decode(OpCode::Check, &[]), Ok(Response::Empty));
    let stat = Stat {
        version: 3,
        ..Stat::default()
    };
    let body = SetDataResponse { stat }.to_bytes();
    assert_eq!(body.len(), 68);
    assert_eq!(
        Response::decode(OpCode::Check, &body),
        Ok(Response::SetData(SetDataResponse { stat }))
    );
}

#[test]
fn stat_is_68_bytes_in_field_order() {
    let stat = Stat {
        czxid: 1,
        mzxid: 2,
        ctime: 3,
        mtime: 4,
        version: 5,
        cversion: 6,
        aversion: 7,
        ephemeral_owner: 8,
        data_length: 9,
        num_children: 10,
        pzxid: 11,
    };
    assert_eq!(
        stat.to_bytes(),
        hex(
            "0000000000000001 0000000000000002 0000000000000003 0000000000000004
             00000005 00000006 00000007 0000000000000008 00000009 0000000a
             000000000000000b"
        )
    );
}

#[test]
fn unknown_and_non_request_opcodes() {
    for op in [10, 23, 99, 108, 500, -2, i32::MIN] {
        assert_eq!(
            Request::decode(op, &[]),
            Err(DecodeError::UnknownOpCode(op))
        );
    }
    // Known opcodes that a client never sends.
    for op in [0, -1, -10] {
        assert_eq!(
            Request::decode(op, &[]),
            Err(DecodeError::UnknownOpCode(op))
        );
    }
    assert_eq!(
        Response::decode(OpCode::CreateSession, &[]),
        Err(DecodeError::UnknownOpCode(-10))
    );
}

#[test]
fn multi_refuses_mixed_and_foreign_ops() {
    let get_data = "00000004 00 ffffffff 00000002 2f61 00";
    let delete = "00000002 00 ffffffff 00000002 2f61 ffffffff";
    let end = "ffffffff 01 ffffffff";
    let mixed = hex(&format!("{delete} {get_data} {end}"));
    let mixing = Err(DecodeError::InvalidValue(
        "mixing read and write ops in multi",
    ));
    assert_eq!(Request::decode(14, &mixed), mixing);
    assert_eq!(Request::decode(22, &mixed), mixing);
    // deleteContainer (20) is not allowed in any multi, nor is a nested multi.
    let delete_container = hex(&format!(
        "00000014 00 ffffffff 00000002 2f61 ffffffff {end}"
    ));
    let not_allowed = Err(DecodeError::InvalidValue("op not allowed in multi"));
    assert_eq!(Request::decode(14, &delete_container), not_allowed);
    assert_eq!(Request::decode(22, &delete_container), not_allowed);
    let nested = hex(&format!("0000000e 00 ffffffff {end} {end}"));
    assert_eq!(Request::decode(14, &nested), not_allowed);
    // A multiRead of reads is fine; so is an empty multi.
    let reads = hex(&format!("{get_data} {get_data} {end}"));
    assert!(matches!(Request::decode(22, &reads), Ok(Request::MultiRead(ops)) if ops.len() == 2));
    assert_eq!(Request::decode(14, &hex(end)), Ok(Request::Multi(vec![])));
    // No terminator: truncated.
    assert_eq!(
        Request::decode(14, &hex(delete)),
        Err(DecodeError::Truncated)
    );
}

#[test]
fn trailing_bytes_are_tolerated() {
    let mut body = SyncRequest {
        path: "/a".to_owned(),
    }
    .to_bytes();
    body.extend_from_slice(b"junk");
    assert_eq!(
        Request::decode(9, &body),
        Ok(Request::Sync(SyncRequest {
            path: "/a".to_owned()
        }))
    );
    let mut multi = hex(MULTI_CREATE_DELETE_CHECK);
    multi.extend_from_slice(&[1, 2, 3]);
    assert_eq!(Request::decode(14, &multi), Ok(multi_create_delete_check()));
}

#[test]
fn hostile_lengths_fail_without_allocating() {
    // getChildren reply claiming 2^31-1 children in 4 bytes.
    let body = hex("7fffffff 00000000");
    assert_eq!(
        Response::decode(OpCode::GetChildren, &body),
        Err(DecodeError::Truncated)
    );
    // setACL with an ACL count of -2.
    let body = hex("00000002 2f61 fffffffe");
    assert_eq!(
        Request::decode(7, &body),
        Err(DecodeError::InvalidLength(-2))
    );
    // Null path, data and ACL read as empty.
    let body = hex("ffffffff ffffffff ffffffff 00000000");
    assert_eq!(
        Request::decode(1, &body),
        Ok(Request::Create(CreateRequest::default()))
    );
}

#[test]
fn every_request_opcode_maps_back() {
    for op in REQUEST_OPCODES {
        let request = Request::decode(op.code(), &[0; 64])
            .or_else(|_| Request::decode(op.code(), &hex("ffffffff 01 ffffffff")))
            .unwrap_or_else(|e| panic!("{op:?}: {e}"));
        assert_eq!(request.op_code(), op);
    }
}

const REQUEST_OPCODES: [OpCode; 30] = [
    OpCode::Create,
    OpCode::Delete,
    OpCode::Exists,
    OpCode::GetData,
    OpCode::SetData,
    OpCode::GetAcl,
    OpCode::SetAcl,
    OpCode::GetChildren,
    OpCode::Sync,
    OpCode::Ping,
    OpCode::GetChildren2,
    OpCode::Check,
    OpCode::Multi,
    OpCode::Create2,
    OpCode::Reconfig,
    OpCode::CheckWatches,
    OpCode::RemoveWatches,
    OpCode::CreateContainer,
    OpCode::DeleteContainer,
    OpCode::CreateTtl,
    OpCode::MultiRead,
    OpCode::Auth,
    OpCode::SetWatches,
    OpCode::Sasl,
    OpCode::GetEphemerals,
    OpCode::GetAllChildrenNumber,
    OpCode::SetWatches2,
    OpCode::AddWatch,
    OpCode::WhoAmI,
    OpCode::CloseSession,
];

// ---- strategies ----

fn string() -> impl Strategy<Value = String> + Clone {
    "\\PC{0,12}"
}

fn strings() -> impl Strategy<Value = Vec<String>> + Clone {
    prop::collection::vec(string(), 0..4)
}

fn buffer() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..32)
}

fn stat() -> impl Strategy<Value = Stat> {
    (
        (any::<i64>(), any::<i64>(), any::<i64>(), any::<i64>()),
        (any::<i32>(), any::<i32>(), any::<i32>()),
        (any::<i64>(), any::<i32>(), any::<i32>(), any::<i64>()),
    )
        .prop_map(
            |(
                (czxid, mzxid, ctime, mtime),
                (version, cversion, aversion),
                (ephemeral_owner, data_length, num_children, pzxid),
            )| Stat {
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
                pzxid,
            },
        )
}

fn acls() -> impl Strategy<Value = Vec<Acl>> {
    prop::collection::vec(
        (any::<i32>(), string(), string()).prop_map(|(perms, scheme, id)| Acl {
            perms,
            id: Id { scheme, id },
        }),
        0..3,
    )
}

fn create() -> impl Strategy<Value = CreateRequest> {
    (string(), buffer(), acls(), any::<i32>()).prop_map(|(path, data, acl, flags)| CreateRequest {
        path,
        data,
        acl,
        flags,
    })
}

fn create_ttl() -> impl Strategy<Value = CreateTtlRequest> {
    (string(), buffer(), acls(), any::<i32>(), any::<i64>()).prop_map(
        |(path, data, acl, flags, ttl)| CreateTtlRequest {
            path,
            data,
            acl,
            flags,
            ttl,
        },
    )
}

fn delete() -> impl Strategy<Value = DeleteRequest> {
    (string(), any::<i32>()).prop_map(|(path, version)| DeleteRequest { path, version })
}

fn set_data() -> impl Strategy<Value = SetDataRequest> {
    (string(), buffer(), any::<i32>()).prop_map(|(path, data, version)| SetDataRequest {
        path,
        data,
        version,
    })
}

fn check() -> impl Strategy<Value = CheckVersionRequest> {
    (string(), any::<i32>()).prop_map(|(path, version)| CheckVersionRequest { path, version })
}

fn get_data() -> impl Strategy<Value = GetDataRequest> {
    (string(), any::<bool>()).prop_map(|(path, watch)| GetDataRequest { path, watch })
}

fn get_children() -> impl Strategy<Value = GetChildrenRequest> {
    (string(), any::<bool>()).prop_map(|(path, watch)| GetChildrenRequest { path, watch })
}

fn multi_op() -> impl Strategy<Value = MultiOp> {
    prop_oneof![
        create().prop_map(MultiOp::Create),
        create().prop_map(MultiOp::Create2),
        create().prop_map(MultiOp::CreateContainer),
        create_ttl().prop_map(MultiOp::CreateTtl),
        delete().prop_map(MultiOp::Delete),
        set_data().prop_map(MultiOp::SetData),
        check().prop_map(MultiOp::Check),
    ]
}

fn read_op() -> impl Strategy<Value = ReadOp> {
    prop_oneof![
        get_children().prop_map(ReadOp::GetChildren),
        get_data().prop_map(ReadOp::GetData),
    ]
}

fn request() -> impl Strategy<Value = Request> {
    let watches = (any::<i64>(), strings(), strings(), strings());
    prop_oneof![
        create().prop_map(Request::Create),
        create().prop_map(Request::Create2),
        create().prop_map(Request::CreateContainer),
        create_ttl().prop_map(Request::CreateTtl),
        delete().prop_map(Request::Delete),
        delete().prop_map(Request::DeleteContainer),
        (string(), any::<bool>())
            .prop_map(|(path, watch)| Request::Exists(ExistsRequest { path, watch })),
        get_data().prop_map(Request::GetData),
        set_data().prop_map(Request::SetData),
        string().prop_map(|path| Request::GetAcl(GetAclRequest { path })),
        (string(), acls(), any::<i32>()).prop_map(|(path, acl, version)| {
            Request::SetAcl(SetAclRequest { path, acl, version })
        }),
        get_children().prop_map(Request::GetChildren),
        (string(), any::<bool>()).prop_map(|(path, watch)| {
            Request::GetChildren2(GetChildren2Request { path, watch })
        }),
        string().prop_map(|path| Request::Sync(SyncRequest { path })),
        Just(Request::Ping),
        check().prop_map(Request::Check),
        prop::collection::vec(multi_op(), 0..4).prop_map(Request::Multi),
        prop::collection::vec(read_op(), 0..4).prop_map(Request::MultiRead),
        (string(), string(), string(), any::<i64>()).prop_map(|(j, l, n, c)| {
            Request::Reconfig(ReconfigRequest {
                joining_servers: j,
                leaving_servers: l,
                new_members: n,
                cur_config_id: c,
            })
        }),
        (string(), any::<i32>()).prop_map(|(path, watcher_type)| {
            Request::CheckWatches(CheckWatchesRequest { path, watcher_type })
        }),
        (string(), any::<i32>()).prop_map(|(path, watcher_type)| {
            Request::RemoveWatches(RemoveWatchesRequest { path, watcher_type })
        }),
        (any::<i32>(), string(), buffer()).prop_map(|(auth_type, scheme, auth)| {
            Request::Auth(AuthPacket {
                auth_type,
                scheme,
                auth,
            })
        }),
        watches
            .clone()
            .prop_map(|(z, d, e, c)| Request::SetWatches(SetWatches {
                relative_zxid: z,
                data_watches: d,
                exist_watches: e,
                child_watches: c,
            })),
        (watches, strings(), strings()).prop_map(|((z, d, e, c), p, pr)| {
            Request::SetWatches2(SetWatches2 {
                relative_zxid: z,
                data_watches: d,
                exist_watches: e,
                child_watches: c,
                persistent_watches: p,
                persistent_recursive_watches: pr,
            })
        }),
        buffer().prop_map(|token| Request::Sasl(GetSaslRequest { token })),
        string().prop_map(|prefix_path| {
            Request::GetEphemerals(GetEphemeralsRequest { prefix_path })
        }),
        string().prop_map(|path| {
            Request::GetAllChildrenNumber(GetAllChildrenNumberRequest { path })
        }),
        (string(), any::<i32>())
            .prop_map(|(path, mode)| Request::AddWatch(AddWatchRequest { path, mode })),
        Just(Request::WhoAmI),
        Just(Request::CloseSession),
    ]
}

fn multi_result() -> impl Strategy<Value = MultiResult> {
    prop_oneof![
        string().prop_map(|path| MultiResult::Create { path }),
        (string(), stat()).prop_map(|(path, stat)| MultiResult::Create2 { path, stat }),
        Just(MultiResult::Delete),
        stat().prop_map(|stat| MultiResult::SetData { stat }),
        Just(MultiResult::Check),
        any::<i32>().prop_map(MultiResult::Error),
        (buffer(), stat()).prop_map(|(data, stat)| MultiResult::GetData { data, stat }),
        strings().prop_map(|children| MultiResult::GetChildren { children }),
    ]
}

/// A response together with the opcode of a request it answers.
fn response() -> impl Strategy<Value = (OpCode, Response)> {
    prop_oneof![
        Just((OpCode::Delete, Response::Empty)),
        string().prop_map(|path| (OpCode::Create, Response::Create(CreateResponse { path }))),
        (string(), stat()).prop_map(|(path, stat)| {
            (
                OpCode::CreateTtl,
                Response::Create2(Create2Response { path, stat }),
            )
        }),
        stat().prop_map(|stat| (OpCode::Exists, Response::Exists(ExistsResponse { stat }))),
        (buffer(), stat()).prop_map(|(data, stat)| {
            (
                OpCode::GetData,
                Response::GetData(GetDataResponse { data, stat }),
            )
        }),
        stat().prop_map(|stat| (OpCode::SetData, Response::SetData(SetDataResponse { stat }))),
        (acls(), stat()).prop_map(|(acl, stat)| {
            (
                OpCode::GetAcl,
                Response::GetAcl(GetAclResponse { acl, stat }),
            )
        }),
        stat().prop_map(|stat| (OpCode::SetAcl, Response::SetAcl(SetAclResponse { stat }))),
        strings().prop_map(|children| {
            (
                OpCode::GetChildren,
                Response::GetChildren(GetChildrenResponse { children }),
            )
        }),
        (strings(), stat()).prop_map(|(children, stat)| {
            (
                OpCode::GetChildren2,
                Response::GetChildren2(GetChildren2Response { children, stat }),
            )
        }),
        string().prop_map(|path| (OpCode::Sync, Response::Sync(SyncResponse { path }))),
        prop::collection::vec(multi_result(), 0..5)
            .prop_map(|results| (OpCode::Multi, Response::Multi(results))),
        strings().prop_map(|ephemerals| {
            (
                OpCode::GetEphemerals,
                Response::GetEphemerals(GetEphemeralsResponse { ephemerals }),
            )
        }),
        any::<i32>().prop_map(|total_number| {
            (
                OpCode::GetAllChildrenNumber,
                Response::GetAllChildrenNumber(GetAllChildrenNumberResponse { total_number }),
            )
        }),
        prop::collection::vec(
            (string(), string()).prop_map(|(auth_scheme, user)| ClientInfo { auth_scheme, user }),
            0..3
        )
        .prop_map(|client_info| {
            (
                OpCode::WhoAmI,
                Response::WhoAmI(WhoAmIResponse { client_info }),
            )
        }),
        buffer().prop_map(|token| (OpCode::Sasl, Response::Sasl(SetSaslResponse { token }))),
        Just((OpCode::AddWatch, Response::AddWatch)),
        (any::<i32>(), any::<i32>(), string()).prop_map(|(event_type, state, path)| {
            (
                OpCode::Notification,
                Response::Notification(WatcherEvent {
                    event_type,
                    state,
                    path,
                }),
            )
        }),
    ]
}

/// Opcodes to fuzz with: mostly the defined range, sometimes anything.
fn op_code() -> impl Strategy<Value = i32> {
    prop_oneof![4 => -12..110i32, 1 => any::<i32>()]
}

fn any_op() -> impl Strategy<Value = OpCode> {
    (-12..110i32).prop_filter_map("defined opcode", OpCode::from_code)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn request_round_trips(req in request(), xid in any::<i32>()) {
        let mut body = Vec::new();
        req.encode(&mut body);
        prop_assert_eq!(Request::decode(req.op_code().code(), &body), Ok(req.clone()));

        let frame = encode_request(xid, &req);
        let decoder = FrameDecoder::default();
        let mut buf = BytesMut::from(&frame[..]);
        let payload = decoder.decode(&mut buf).unwrap().unwrap();
        prop_assert!(buf.is_empty());
        let (header, decoded) = decode_request(&payload).unwrap();
        prop_assert_eq!(header, RequestHeader { xid, op_code: req.op_code().code() });
        prop_assert_eq!(decoded, req);
    }

    #[test]
    fn truncated_requests_fail_cleanly(req in request(), cut in any::<prop::sample::Index>()) {
        let mut body = Vec::new();
        req.encode(&mut body);
        if !body.is_empty() {
            let cut = cut.index(body.len());
            // Every proper prefix either fails or (for records whose tail
            // is optional or ignored) decodes; it never panics.
            let _ = Request::decode(req.op_code().code(), &body[..cut]);
        }
    }

    #[test]
    fn response_round_trips(
        (op, resp) in response(),
        xid in any::<i32>(),
        zxid in any::<i64>(),
    ) {
        let frame = encode_reply(xid, zxid, 0, &resp);
        let (header, body) = decode_reply_header(&frame[4..]).unwrap();
        prop_assert_eq!(header, ReplyHeader { xid, zxid, err: 0 });
        prop_assert_eq!(Response::decode(op, body), Ok(resp));
    }

    #[test]
    fn connect_round_trips(
        protocol_version in any::<i32>(),
        last_zxid_seen in any::<i64>(),
        timeout_ms in any::<i32>(),
        session_id in any::<i64>(),
        password in buffer(),
        read_only in any::<bool>(),
    ) {
        let request = ConnectRequest {
            protocol_version, last_zxid_seen, timeout_ms, session_id,
            password: password.clone(), read_only,
        };
        prop_assert_eq!(ConnectRequest::from_bytes(&request.to_bytes()), Ok(request));
        let response = ConnectResponse {
            protocol_version, timeout_ms, session_id, password, read_only,
        };
        prop_assert_eq!(ConnectResponse::from_bytes(&response.to_bytes()), Ok(response));
    }

    #[test]
    fn arbitrary_bytes_never_panic(
        bytes in prop::collection::vec(any::<u8>(), 0..256),
        op in op_code(),
        resp_op in any_op(),
    ) {
        let _ = Request::decode(op, &bytes);
        let _ = decode_request(&bytes);
        let _ = ConnectRequest::from_bytes(&bytes);
        let _ = ConnectResponse::from_bytes(&bytes);
        let _ = Response::decode(resp_op, &bytes);
        let _ = decode_reply_header(&bytes);
        // Multi bodies are the most structured: aim at them directly.
        let _ = Request::decode(14, &bytes);
        let _ = Request::decode(22, &bytes);
        let _ = Response::decode(OpCode::Multi, &bytes);
    }

    #[test]
    fn mutated_requests_never_panic(
        req in request(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
    ) {
        let mut body = Vec::new();
        req.encode(&mut body);
        if !body.is_empty() {
            for (at, byte) in flips {
                let at = at.index(body.len());
                body[at] = byte;
            }
        }
        let _ = Request::decode(req.op_code().code(), &body);
    }

    #[test]
    fn frame_decoder_never_panics(
        chunks in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..64), 0..8),
        max in 0usize..128,
    ) {
        let decoder = FrameDecoder::new(max);
        let mut buf = BytesMut::new();
        'feed: for chunk in chunks {
            buf.extend_from_slice(&chunk);
            loop {
                match decoder.decode(&mut buf) {
                    Ok(Some(payload)) => prop_assert!(payload.len() <= max),
                    Ok(None) => break,
                    Err(_) => break 'feed,
                }
            }
        }
    }
}

/// Frames written by kazoo 2.11.0's serializers (an independent Python
/// client), as it sends them. kazoo writes empty strings and absent data as
/// null (-1), which we read as empty; those frames are checked one way only.
#[test]
fn kazoo_frames() {
    fn decode_frame(hex_frame: &str) -> (RequestHeader, Request) {
        let mut buf = BytesMut::from(&hex(hex_frame)[..]);
        let payload = FrameDecoder::default().decode(&mut buf).unwrap().unwrap();
        assert!(buf.is_empty());
        decode_request(&payload).unwrap()
    }
    fn check(hex_frame: &str, xid: i32, expected: Request, byte_exact: bool) {
        let (header, request) = decode_frame(hex_frame);
        assert_eq!(header.xid, xid);
        assert_eq!(header.op_code, expected.op_code().code());
        assert_eq!(request, expected);
        if byte_exact {
            assert_eq!(encode_request(xid, &request), hex(hex_frame));
        }
    }
    let open = Acl::open_unsafe;
    let path = |p: &str| p.to_owned();

    let connect = hex(
        "0000002d 00000000 000000000000001f 00002710 0000000000000000
         00000010 00000000000000000000000000000000 00",
    );
    let expected = ConnectRequest {
        last_zxid_seen: 0x1f,
        timeout_ms: 10_000,
        password: vec![0; 16],
        ..ConnectRequest::default()
    };
    assert_eq!(
        ConnectRequest::from_bytes(&connect[4..]),
        Ok(expected.clone())
    );
    assert_eq!(encode_frame(&expected.to_bytes()), connect);

    check(
        "00000037 00000001 00000001 00000006 2f6b617a6f6f 00000002 6869
         00000001 0000001f 00000005 776f726c64 00000006 616e796f6e65 00000003",
        1,
        Request::Create(CreateRequest {
            path: path("/kazoo"),
            data: b"hi".to_vec(),
            acl: open(),
            flags: 3,
        }),
        true,
    );
    check(
        "0000002f 00000002 00000001 00000002 2f65 00000000
         00000001 00000001 00000006 646967657374 00000003 753a68 00000000",
        2,
        Request::Create(CreateRequest {
            path: path("/e"),
            data: vec![],
            acl: vec![Acl {
                perms: Perms::READ,
                id: Id::new("digest", "u:h"),
            }],
            flags: 0,
        }),
        true,
    );
    check(
        "00000031 00000003 0000000f 00000002 2f6e ffffffff
         00000001 0000001f 00000005 776f726c64 00000006 616e796f6e65 00000001",
        3,
        Request::Create2(CreateRequest {
            path: path("/n"),
            data: vec![],
            acl: open(),
            flags: 1,
        }),
        false,
    );
    check(
        "00000082 00000004 0000000e
         00000001 00 ffffffff 00000002 2f74 00000001 76
           00000001 0000001f 00000005 776f726c64 00000006 616e796f6e65 00000000
         00000002 00 ffffffff 00000002 2f74 ffffffff
         0000000d 00 ffffffff 00000002 2f74 00000005
         00000005 00 ffffffff 00000002 2f74 00000001 77 00000002
         ffffffff 01 ffffffff",
        4,
        Request::Multi(vec![
            MultiOp::Create(CreateRequest {
                path: path("/t"),
                data: b"v".to_vec(),
                acl: open(),
                flags: 0,
            }),
            MultiOp::Delete(DeleteRequest {
                path: path("/t"),
                version: -1,
            }),
            MultiOp::Check(CheckVersionRequest {
                path: path("/t"),
                version: 5,
            }),
            MultiOp::SetData(SetDataRequest {
                path: path("/t"),
                data: b"w".to_vec(),
                version: 2,
            }),
        ]),
        true,
    );
    check(
        "0000002d 00000005 00000007 00000002 2f61
         00000001 0000001f 00000005 776f726c64 00000006 616e796f6e65 ffffffff",
        5,
        Request::SetAcl(SetAclRequest {
            path: path("/a"),
            acl: open(),
            version: -1,
        }),
        true,
    );
    check(
        "0000000e 00000006 0000000c 00000001 2f 01",
        6,
        Request::GetChildren2(GetChildren2Request {
            path: path("/"),
            watch: true,
        }),
        true,
    );
    check(
        "0000000f 00000007 00000003 00000002 2f78 00",
        7,
        Request::Exists(ExistsRequest {
            path: path("/x"),
            watch: false,
        }),
        true,
    );
    check(
        "0000002a 00000008 00000010 0000000e 7365727665722e343d683a313a32
         ffffffff ffffffff ffffffffffffffff",
        8,
        Request::Reconfig(ReconfigRequest {
            joining_servers: path("server.4=h:1:2"),
            leaving_servers: String::new(),
            new_members: String::new(),
            cur_config_id: -1,
        }),
        false,
    );
    check(
        "00000021 fffffffc 00000064 00000000 00000006 646967657374 00000007 757365723a7077",
        AUTH_XID,
        Request::Auth(AuthPacket {
            auth_type: 0,
            scheme: path("digest"),
            auth: b"user:pw".to_vec(),
        }),
        true,
    );
    check("00000008 fffffffe 0000000b", PING_XID, Request::Ping, true);
    check("00000008 00000009 fffffff5", 9, Request::CloseSession, true);
    check(
        "0000000e 0000000a 00000009 00000002 2f73",
        10,
        Request::Sync(SyncRequest { path: path("/s") }),
        true,
    );
}
