//! The ZooKeeper 3.x client protocol: jute records, opcodes, error codes and
//! framing. Pure: bytes in, values out; decoding never panics and never
//! allocates past the packet limit.

mod error_code;
mod opcode;
mod types;

pub use error_code::ErrorCode;
pub use opcode::*;
pub use types::*;
