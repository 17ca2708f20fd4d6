//! The ZooKeeper 3.x client protocol: jute records, opcodes, error codes and
//! framing. Pure: bytes in, values out; decoding never panics and never
//! allocates past the packet limit.
//!
//! - [`jute`]: the [`Reader`], [`Writer`] and [`Record`] primitives.
//! - `records`: every client record of `zookeeper.jute`.
//! - [`Request`] / [`decode_request`] / [`encode_request`]: requests by opcode.
//! - [`Response`] / [`encode_reply`] / [`encode_notification`]: replies.
//! - [`FrameDecoder`] / [`encode_frame`]: the 4-byte length framing.

mod error;
mod error_code;
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
pub use frame::{encode_frame, FrameDecoder, FrameError, PACKET_BYTES_MAX_DEFAULT};
pub use jute::{Reader, Record, Writer};
pub use opcode::*;
pub use records::*;
pub use request::{decode_request, encode_request, MultiOp, ReadOp, Request};
pub use response::{decode_reply_header, encode_notification, encode_reply, MultiResult, Response};
pub use types::*;
