//! Jute, ZooKeeper's serialization: big-endian integers, length-prefixed
//! buffers, strings and vectors, records as their fields in order.
//!
//! Decoding reads from a borrowed slice and checks every length against the
//! bytes that remain before allocating, so a hostile length field can make
//! a decode fail but never make it allocate more than the input holds.

use super::error::DecodeError;

/// A jute record: encodes to and decodes from its wire form.
pub trait Record: Sized {
    /// Appends the wire form to `out`.
    fn encode(&self, out: &mut Vec<u8>);

    /// Reads one record from `r`, leaving `r` just after it.
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError>;

    /// The wire form as a new buffer.
    fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode(&mut out);
        out
    }

    /// Decodes one record from the start of `bytes`; trailing bytes are
    /// ignored, as ZooKeeper does.
    fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        Self::decode(&mut Reader::new(bytes))
    }
}

/// A cursor over a jute-encoded byte slice.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    /// A reader at the start of `buf`.
    pub fn new(buf: &'a [u8]) -> Reader<'a> {
        Reader { buf }
    }

    /// Bytes not read yet.
    pub fn remaining(&self) -> usize {
        self.buf.len()
    }

    /// Whether every byte has been read.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// The bytes not read yet, without consuming them.
    pub fn rest(&self) -> &'a [u8] {
        self.buf
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if n > self.buf.len() {
            return Err(DecodeError::Truncated);
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }

    fn take_array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let mut array = [0u8; N];
        array.copy_from_slice(self.take(N)?);
        Ok(array)
    }

    /// Reads a big-endian `int`.
    pub fn read_i32(&mut self) -> Result<i32, DecodeError> {
        Ok(i32::from_be_bytes(self.take_array()?))
    }

    /// Reads a big-endian `long`.
    pub fn read_i64(&mut self) -> Result<i64, DecodeError> {
        Ok(i64::from_be_bytes(self.take_array()?))
    }

    /// Reads a `boolean`: one byte, any non-zero value is true (as Java's
    /// `DataInput.readBoolean`).
    pub fn read_bool(&mut self) -> Result<bool, DecodeError> {
        Ok(self.take_array::<1>()?[0] != 0)
    }

    /// Reads a length field: `None` for -1 (null), an error for any other
    /// negative value or for more than `remaining()` units of at least one
    /// byte each.
    fn read_len(&mut self) -> Result<Option<usize>, DecodeError> {
        let len = self.read_i32()?;
        match len {
            -1 => Ok(None),
            len if len < 0 => Err(DecodeError::InvalidLength(len)),
            len => {
                let len = len as usize;
                if len > self.buf.len() {
                    Err(DecodeError::Truncated)
                } else {
                    Ok(Some(len))
                }
            }
        }
    }

    /// Reads a `buffer`; null (-1) reads as empty.
    pub fn read_buffer(&mut self) -> Result<Vec<u8>, DecodeError> {
        match self.read_len()? {
            None => Ok(Vec::new()),
            Some(len) => Ok(self.take(len)?.to_vec()),
        }
    }

    /// Reads a `buffer` that may be null (-1): ZooKeeper keeps null data
    /// apart from empty data.
    pub fn read_opt_buffer(&mut self) -> Result<Option<Vec<u8>>, DecodeError> {
        match self.read_len()? {
            None => Ok(None),
            Some(len) => Ok(Some(self.take(len)?.to_vec())),
        }
    }

    /// Reads a `ustring`, checking UTF-8; null (-1) reads as empty.
    pub fn read_string(&mut self) -> Result<String, DecodeError> {
        match self.read_len()? {
            None => Ok(String::new()),
            Some(len) => {
                let bytes = self.take(len)?;
                std::str::from_utf8(bytes)
                    .map(str::to_owned)
                    .map_err(|_| DecodeError::InvalidUtf8)
            }
        }
    }

    /// Reads a `vector<T>`; null (-1) reads as empty.
    pub fn read_vec<T: Record>(&mut self) -> Result<Vec<T>, DecodeError> {
        self.read_vec_with(T::decode)
    }

    /// Reads a `vector<ustring>`; null (-1) reads as empty.
    pub fn read_string_vec(&mut self) -> Result<Vec<String>, DecodeError> {
        self.read_vec_with(Reader::read_string)
    }

    fn read_vec_with<T>(
        &mut self,
        mut read: impl FnMut(&mut Reader<'a>) -> Result<T, DecodeError>,
    ) -> Result<Vec<T>, DecodeError> {
        // Every jute element takes at least one byte, so `read_len` already
        // bounds the count by the bytes left; the capacity is further bounded
        // so that the reservation itself never exceeds the input's size.
        let Some(count) = self.read_len()? else {
            return Ok(Vec::new());
        };
        let element_size = std::mem::size_of::<T>().max(1);
        let mut items = Vec::with_capacity(count.min(self.buf.len() / element_size));
        for _ in 0..count {
            items.push(read(self)?);
        }
        Ok(items)
    }
}

/// Jute encoding onto a byte vector.
pub trait Writer {
    /// Writes a big-endian `int`.
    fn write_i32(&mut self, v: i32);
    /// Writes a big-endian `long`.
    fn write_i64(&mut self, v: i64);
    /// Writes a `boolean` as one byte, 0 or 1.
    fn write_bool(&mut self, v: bool);
    /// Writes a `buffer` (never null).
    fn write_buffer(&mut self, v: &[u8]);
    /// Writes a `ustring` (never null).
    fn write_string(&mut self, v: &str);
    /// Writes a `vector<T>` (never null).
    fn write_vec<T: Record>(&mut self, v: &[T]);
    /// Writes a `vector<ustring>` (never null).
    fn write_string_vec(&mut self, v: &[String]);
}

/// A length as jute's `int`. Jute cannot represent 2 GiB or more; such a
/// value is a bug in the caller (packets are limited to a few MiB), not bad
/// input, hence the panic.
fn wire_len(len: usize) -> i32 {
    i32::try_from(len).expect("jute lengths fit in an i32")
}

impl Writer for Vec<u8> {
    fn write_i32(&mut self, v: i32) {
        self.extend_from_slice(&v.to_be_bytes());
    }

    fn write_i64(&mut self, v: i64) {
        self.extend_from_slice(&v.to_be_bytes());
    }

    fn write_bool(&mut self, v: bool) {
        self.push(u8::from(v));
    }

    fn write_buffer(&mut self, v: &[u8]) {
        self.write_i32(wire_len(v.len()));
        self.extend_from_slice(v);
    }

    fn write_string(&mut self, v: &str) {
        self.write_buffer(v.as_bytes());
    }

    fn write_vec<T: Record>(&mut self, v: &[T]) {
        self.write_i32(wire_len(v.len()));
        for item in v {
            item.encode(self);
        }
    }

    fn write_string_vec(&mut self, v: &[String]) {
        self.write_i32(wire_len(v.len()));
        for item in v {
            self.write_string(item);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn primitives_round_trip() {
        let mut out = Vec::new();
        out.write_i32(-2);
        out.write_i64(0x0102_0304_0506_0708);
        out.write_bool(true);
        out.write_buffer(b"ab");
        out.write_string("zé");
        out.write_string_vec(&["x".to_owned(), String::new()]);
        assert_eq!(
            out,
            [
                &[0xff, 0xff, 0xff, 0xfe][..],
                &[1, 2, 3, 4, 5, 6, 7, 8],
                &[1],
                &[0, 0, 0, 2, b'a', b'b'],
                &[0, 0, 0, 3, b'z', 0xc3, 0xa9],
                &[0, 0, 0, 2, 0, 0, 0, 1, b'x', 0, 0, 0, 0],
            ]
            .concat()
        );
        let mut r = Reader::new(&out);
        assert_eq!(r.read_i32(), Ok(-2));
        assert_eq!(r.read_i64(), Ok(0x0102_0304_0506_0708));
        assert_eq!(r.read_bool(), Ok(true));
        assert_eq!(r.read_buffer(), Ok(b"ab".to_vec()));
        assert_eq!(r.read_string(), Ok("zé".to_owned()));
        assert_eq!(r.read_string_vec(), Ok(vec!["x".to_owned(), String::new()]));
        assert!(r.is_empty());
    }

    #[test]
    fn null_reads_as_empty() {
        let null = [0xff, 0xff, 0xff, 0xff];
        assert_eq!(Reader::new(&null).read_buffer(), Ok(Vec::new()));
        assert_eq!(Reader::new(&null).read_string(), Ok(String::new()));
        assert_eq!(Reader::new(&null).read_string_vec(), Ok(Vec::new()));
    }

    #[test]
    fn bad_lengths_are_errors() {
        let minus_two = [0xff, 0xff, 0xff, 0xfe];
        assert_eq!(
            Reader::new(&minus_two).read_buffer(),
            Err(DecodeError::InvalidLength(-2))
        );
        // Claims 2^31-1 bytes with 1 present: refused before allocating.
        let huge = [0x7f, 0xff, 0xff, 0xff, 0];
        assert_eq!(
            Reader::new(&huge).read_buffer(),
            Err(DecodeError::Truncated)
        );
        assert_eq!(
            Reader::new(&huge).read_string_vec(),
            Err(DecodeError::Truncated)
        );
        assert_eq!(Reader::new(&[0, 0]).read_i32(), Err(DecodeError::Truncated));
        let bad_utf8 = [0, 0, 0, 1, 0xff];
        assert_eq!(
            Reader::new(&bad_utf8).read_string(),
            Err(DecodeError::InvalidUtf8)
        );
    }
}
