//! Why a packet could not be decoded.

/// A decoding failure. Bad input is never a panic: every decoder in
/// [`crate::proto`] returns one of these instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The input ended before the record did (or a length field claims more
    /// bytes than remain).
    #[error("truncated record")]
    Truncated,
    /// A negative length other than -1 (null).
    #[error("invalid length {0}")]
    InvalidLength(i32),
    /// A `ustring` that is not UTF-8.
    #[error("invalid utf-8 in string")]
    InvalidUtf8,
    /// An opcode that is not a client request (or not a known response).
    #[error("unknown opcode {0}")]
    UnknownOpCode(i32),
    /// A well-formed field with a value the protocol does not allow.
    #[error("invalid value: {0}")]
    InvalidValue(&'static str),
}
