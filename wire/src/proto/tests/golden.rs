//! Golden bytes laid out by hand from `zookeeper.jute`, and decoder edge cases.

use super::hex;
use crate::proto::*;

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
        data: Some(b"x".to_vec()),
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
            // Length 0: empty, not null.
            data: Some(Vec::new()),
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
    // Null path and ACL read as empty; null data stays null.
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
