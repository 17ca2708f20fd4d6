//! Round-trip proptests for every request and response, and arbitrary,
//! truncated and mutated bytes into every decoder: never a panic.

use bytes::BytesMut;
use proptest::prelude::*;

use crate::proto::*;

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
        data: Some(data),
        acl,
        flags,
    })
}

fn create_ttl() -> impl Strategy<Value = CreateTtlRequest> {
    (string(), buffer(), acls(), any::<i32>(), any::<i64>()).prop_map(
        |(path, data, acl, flags, ttl)| CreateTtlRequest {
            path,
            data: Some(data),
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
        data: Some(data),
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
                Response::GetData(GetDataResponse {
                    data: Some(data),
                    stat,
                }),
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
