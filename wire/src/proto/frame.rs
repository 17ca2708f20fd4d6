//! Packet framing: a 4-byte big-endian length, then the payload.

use bytes::{Buf, Bytes, BytesMut};

/// Default payload limit: ZooKeeper's default `jute.maxbuffer`, 0xfffff
/// (1 MiB less one byte), so a packet ZooKeeper refuses is refused here too.
/// Applies to the whole packet payload, header included.
pub const PACKET_BYTES_MAX_DEFAULT: usize = 0xfffff;

/// Length of the frame's length prefix.
const LENGTH_BYTES: usize = 4;

/// Why a frame was refused. Either way the stream cannot be resynchronised:
/// the connection must be closed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// The declared payload length exceeds the limit.
    #[error("frame of {len} bytes exceeds the limit of {max} bytes")]
    TooLarge {
        /// Declared payload length.
        len: usize,
        /// The decoder's limit.
        max: usize,
    },
    /// A negative declared length.
    #[error("invalid frame length {0}")]
    InvalidLength(i32),
}

impl From<FrameError> for std::io::Error {
    fn from(err: FrameError) -> std::io::Error {
        std::io::Error::new(std::io::ErrorKind::InvalidData, err)
    }
}

/// Splits length-prefixed packets off a byte stream.
///
/// `max_bytes` bounds the whole packet payload (header and body, without the
/// 4-byte prefix), as ZooKeeper's `jute.maxbuffer` bounds the length field.
/// A length is checked as soon as its 4 bytes are in, so the decoder only
/// ever reserves room for one frame that passed the check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameDecoder {
    max_bytes: usize,
}

impl Default for FrameDecoder {
    fn default() -> FrameDecoder {
        FrameDecoder::new(PACKET_BYTES_MAX_DEFAULT)
    }
}

impl FrameDecoder {
    /// A decoder refusing payloads longer than `max_bytes`.
    pub fn new(max_bytes: usize) -> FrameDecoder {
        FrameDecoder { max_bytes }
    }

    /// The payload limit.
    pub fn max_bytes(&self) -> usize {
        self.max_bytes
    }

    /// Takes one whole payload off the front of `buf`, or returns `None`
    /// if it has not fully arrived (leaving the bytes in `buf`, with room
    /// reserved for the rest of the frame). Errors mean the stream cannot be
    /// resynchronised: close the connection.
    pub fn decode(&self, buf: &mut BytesMut) -> Result<Option<Bytes>, FrameError> {
        let Some(prefix) = buf.get(..LENGTH_BYTES) else {
            return Ok(None);
        };
        let declared = i32::from_be_bytes([prefix[0], prefix[1], prefix[2], prefix[3]]);
        let len = usize::try_from(declared).map_err(|_| FrameError::InvalidLength(declared))?;
        if len > self.max_bytes {
            return Err(FrameError::TooLarge {
                len,
                max: self.max_bytes,
            });
        }
        let frame_len = LENGTH_BYTES + len;
        if buf.len() < frame_len {
            buf.reserve(frame_len - buf.len());
            return Ok(None);
        }
        buf.advance(LENGTH_BYTES);
        Ok(Some(buf.split_to(len).freeze()))
    }
}

/// A frame: `payload` behind its 4-byte big-endian length.
pub fn encode_frame(payload: &[u8]) -> Vec<u8> {
    let mut frame = start_frame();
    frame.extend_from_slice(payload);
    finish_frame(frame)
}

/// A buffer holding a length placeholder, to encode a payload into in place.
pub(crate) fn start_frame() -> Vec<u8> {
    vec![0; LENGTH_BYTES]
}

/// Fills in the length placeholder written by [`start_frame`].
pub(crate) fn finish_frame(mut frame: Vec<u8>) -> Vec<u8> {
    let len = i32::try_from(frame.len() - LENGTH_BYTES).expect("frames fit in an i32 length");
    frame[..LENGTH_BYTES].copy_from_slice(&len.to_be_bytes());
    frame
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_frames_as_they_arrive() {
        let decoder = FrameDecoder::new(16);
        let mut buf = BytesMut::new();
        assert_eq!(decoder.decode(&mut buf), Ok(None));
        buf.extend_from_slice(&[0, 0, 0]);
        assert_eq!(decoder.decode(&mut buf), Ok(None));
        buf.extend_from_slice(&[3, b'a', b'b']);
        assert_eq!(decoder.decode(&mut buf), Ok(None));
        assert_eq!(buf.len(), 6);
        buf.extend_from_slice(&[b'c', 0, 0, 0, 0, 0, 0]);
        assert_eq!(
            decoder.decode(&mut buf),
            Ok(Some(Bytes::from_static(b"abc")))
        );
        assert_eq!(decoder.decode(&mut buf), Ok(Some(Bytes::new())));
        assert_eq!(decoder.decode(&mut buf), Ok(None));
        assert_eq!(buf.len(), 2);
    }

    #[test]
    fn refuses_bad_lengths_before_reserving() {
        let decoder = FrameDecoder::new(16);
        let mut buf = BytesMut::from(&[0, 0, 0, 17][..]);
        assert_eq!(
            decoder.decode(&mut buf),
            Err(FrameError::TooLarge { len: 17, max: 16 })
        );
        let mut buf = BytesMut::from(&[0x7f, 0xff, 0xff, 0xff][..]);
        assert!(decoder.decode(&mut buf).is_err());
        assert!(buf.capacity() < 64);
        let mut buf = BytesMut::from(&[0xff, 0xff, 0xff, 0xff][..]);
        assert_eq!(decoder.decode(&mut buf), Err(FrameError::InvalidLength(-1)));
        let decoder = FrameDecoder::new(16);
        let mut buf = BytesMut::from(&[0, 0, 0, 16][..]);
        assert_eq!(decoder.decode(&mut buf), Ok(None));
    }

    #[test]
    fn reserves_room_for_one_frame_only() {
        let decoder = FrameDecoder::new(1000);
        let mut buf = BytesMut::with_capacity(4);
        buf.extend_from_slice(&1000i32.to_be_bytes());
        assert_eq!(decoder.decode(&mut buf), Ok(None));
        assert!(buf.capacity() >= 1004);
        assert!(buf.capacity() <= 2 * 1004, "{}", buf.capacity());
    }

    #[test]
    fn encode_frame_prefixes_the_length() {
        assert_eq!(encode_frame(b"xy"), [0, 0, 0, 2, b'x', b'y']);
        assert_eq!(encode_frame(b""), [0, 0, 0, 0]);
    }
}
