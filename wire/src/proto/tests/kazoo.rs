//! Frames captured from an independent client's serializers.

use bytes::BytesMut;

use super::hex;
use crate::proto::*;

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
            data: Some(b"hi".to_vec()),
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
            data: Some(vec![]),
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
            // kazoo sent length -1: null data.
            data: None,
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
                data: Some(b"v".to_vec()),
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
                data: Some(b"w".to_vec()),
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
