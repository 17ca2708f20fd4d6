//! The ZooKeeper 3.x client protocol: jute records, opcodes, error codes and
//! framing. Pure: bytes in, values out; decoding never panics and never
//! allocates past the packet limit.
//!
//! - [`jute`]: the [`Reader`], [`Writer`] and [`Record`] primitives.
//! - `records`: every client record of `zookeeper.jute`.
//! - [`Request`] / [`decode_request`] / [`encode_request`]: requests by opcode.
//! - [`Response`] / [`encode_reply`] / [`encode_notification`]: replies.
//! - [`FrameDecoder`] / [`encode_frame`]: the 4-byte length framing.
//! - [`ErrorCode`] and [`ErrorCode::info`]: the error table every language's
//!   error list comes from (Python, Node and gRPC names, retry advice).
//!
//! A server's view of one exchange:
//!
//! ```
//! use bytes::BytesMut;
//! use corral_wire::proto::*;
//!
//! // What a client sends...
//! let request = Request::GetData(GetDataRequest { path: "/a".into(), watch: true });
//! let mut inbound = BytesMut::from(&encode_request(7, &request)[..]);
//!
//! // ...is split off the stream and decoded.
//! let packet = FrameDecoder::default().decode(&mut inbound)?.expect("whole frame");
//! let (header, decoded) = decode_request(&packet)?;
//! assert_eq!((header.xid, &decoded), (7, &request));
//!
//! // The reply carries the request's xid; on error it has no body.
//! let reply = Response::GetData(GetDataResponse { data: Some(b"v".to_vec()), stat: Stat::default() });
//! let frame = encode_reply(header.xid, 42, 0, &reply);
//! let (reply_header, body) = decode_reply_header(&frame[4..])?;
//! assert_eq!(reply_header.zxid, 42);
//! assert_eq!(Response::decode(OpCode::GetData, body)?, reply);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod error;
mod error_code;
mod error_table;
mod frame;
pub mod jute;
mod opcode;
mod records;
mod request;
mod response;
mod types;

#[cfg(test)]
mod tests;

pub use error::DecodeError;
pub use error_code::ErrorCode;
pub use error_table::{ErrorInfo, GrpcStatus, Retry};
pub use frame::{encode_frame, FrameDecoder, FrameError, PACKET_BYTES_MAX_DEFAULT};
pub use jute::{Reader, Record, Writer};
pub use opcode::*;
pub use records::*;
pub use request::{decode_request, encode_request, MultiOp, ReadOp, Request};
pub use response::{decode_reply_header, encode_notification, encode_reply, MultiResult, Response};
pub use types::*;
