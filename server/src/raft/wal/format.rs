//! The segment format: a header page, then page-aligned groups of frames,
//! one group per append. See the module docs of `wal` for the layout and
//! why it makes a torn append decidable.

use std::io;

use openraft::EntryPayload;

use super::disk::DiskFile;
use crate::raft::type_config::{Entry, LogId, TypeConfig};

/// The unit of alignment: no append writes into a page that holds bytes an
/// earlier append wrote, so a power loss that garbles the pages being
/// written never reaches acknowledged bytes.
pub(crate) const PAGE: u64 = 4096;
/// The segment header fills the first page; groups start after it.
pub(crate) const SEGMENT_HEADER_BYTES: u64 = PAGE;
pub(crate) const SEGMENT_MAGIC: &[u8; 8] = b"CRLWAL03";
/// Magics of earlier segment formats, refused with a message saying so.
const OLD_SEGMENT_MAGICS: [&[u8; 8]; 2] = [b"CRLWAL01", b"CRLWAL02"];
pub(crate) const GROUP_HEADER_BYTES: u64 = 32;
pub(crate) const FRAME_HEADER_BYTES: u64 = 8;
/// The largest frame body accepted when reading (a batch is capped at 4 MiB
/// of payload by the proposer; this leaves room for encoding overhead).
pub(crate) const FRAME_BYTES_MAX: u32 = 64 * 1024 * 1024;
/// The largest group body: one append of many large entries (a follower
/// catching up) is written as several groups.
pub(crate) const GROUP_BODY_BYTES_MAX: u64 = 1 << 30;

const KIND_ENTRIES: u32 = 1;
const KIND_TRUNCATE: u32 = 2;

pub(crate) fn align_up(n: u64) -> u64 {
    n.div_ceil(PAGE) * PAGE
}

pub(crate) fn other<E: std::fmt::Display>(e: E) -> io::Error {
    io::Error::other(e.to_string())
}

pub(crate) fn corrupt(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.into())
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

/// The header page of a segment: magic, first index, salt, crc32 of those.
pub(crate) fn segment_header(first_index: u64, salt: u64) -> Vec<u8> {
    let mut page = vec![0u8; SEGMENT_HEADER_BYTES as usize];
    page[..8].copy_from_slice(SEGMENT_MAGIC);
    page[8..16].copy_from_slice(&first_index.to_le_bytes());
    page[16..24].copy_from_slice(&salt.to_le_bytes());
    let crc = crc32fast::hash(&page[..24]);
    page[24..28].copy_from_slice(&crc.to_le_bytes());
    page
}

/// Checks a segment's header page and returns its salt.
pub(crate) fn parse_segment_header(page: &[u8], first_index: u64, what: &str) -> io::Result<u64> {
    if page.len() < 28 {
        return Err(corrupt(format!("{what}: segment header cut short")));
    }
    if OLD_SEGMENT_MAGICS.iter().any(|m| page.starts_with(*m)) {
        return Err(corrupt(format!(
            "{what}: a log segment of an older Corral format ({}); this version cannot read it: \
             start this server from an empty data directory (an ensemble member then catches up \
             from the others)",
            String::from_utf8_lossy(&page[..8])
        )));
    }
    if &page[..8] != SEGMENT_MAGIC || crc32fast::hash(&page[..24]) != u32_at(page, 24) {
        return Err(corrupt(format!(
            "{what}: segment header damaged (bad magic or checksum at offset 0)"
        )));
    }
    let stored_first = u64_at(page, 8);
    if stored_first != first_index {
        return Err(corrupt(format!(
            "{what}: header says the segment starts at index {stored_first}, its name says {first_index}"
        )));
    }
    Ok(u64_at(page, 16))
}

/// A group header as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct GroupHeader {
    /// Entries (frames) in the group; 0 for a truncation mark.
    pub(crate) frame_count: u32,
    /// Index of the first entry; for a truncation mark, the first index
    /// removed (the log continues there).
    pub(crate) first_index: u64,
    /// Where the group before it ended (unaligned), or the end of the
    /// header page for the first group: the writer's durable end.
    pub(crate) prev_end: u64,
    /// Bytes of frames after the header.
    pub(crate) body_len: u32,
    /// A truncation mark rather than entries.
    pub(crate) truncate: bool,
}

impl GroupHeader {
    fn encode(&self, salt: u64) -> [u8; GROUP_HEADER_BYTES as usize] {
        let mut h = [0u8; GROUP_HEADER_BYTES as usize];
        h[4..8].copy_from_slice(&self.frame_count.to_le_bytes());
        h[8..16].copy_from_slice(&self.first_index.to_le_bytes());
        h[16..24].copy_from_slice(&self.prev_end.to_le_bytes());
        h[24..28].copy_from_slice(&self.body_len.to_le_bytes());
        let kind = if self.truncate {
            KIND_TRUNCATE
        } else {
            KIND_ENTRIES
        };
        h[28..32].copy_from_slice(&kind.to_le_bytes());
        let crc = salted_crc(salt, &h[4..]);
        h[..4].copy_from_slice(&crc.to_le_bytes());
        h
    }

    /// The header in `h`, if it checks out with `salt`.
    fn decode(h: &[u8], salt: u64) -> Option<GroupHeader> {
        if h.len() < GROUP_HEADER_BYTES as usize || salted_crc(salt, &h[4..32]) != u32_at(h, 0) {
            return None;
        }
        let truncate = match u32_at(h, 28) {
            KIND_ENTRIES => false,
            KIND_TRUNCATE => true,
            _ => return None,
        };
        Some(GroupHeader {
            frame_count: u32_at(h, 4),
            first_index: u64_at(h, 8),
            prev_end: u64_at(h, 16),
            body_len: u32_at(h, 24),
            truncate,
        })
    }

    /// Where the group's bytes end (unaligned), for one starting at `at`.
    pub(crate) fn end(&self, at: u64) -> u64 {
        at + GROUP_HEADER_BYTES + u64::from(self.body_len)
    }
}

/// crc32 of `bytes` in a segment with `salt`: the salt is new each time a
/// file becomes a segment, so bytes left in a recycled file from its
/// previous use never check out.
pub(crate) fn salted_crc(salt: u64, bytes: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&salt.to_le_bytes());
    hasher.update(bytes);
    hasher.finalize()
}

/// One entry's frame, without its crc (filled in by [`seal_group`]).
fn encode_frame(entry: &Entry, out: &mut Vec<u8>) -> io::Result<()> {
    let start = out.len();
    out.extend_from_slice(&[0; FRAME_HEADER_BYTES as usize]);
    bincode::serialize_into(&mut *out, &entry.log_id).map_err(other)?;
    bincode::serialize_into(&mut *out, &entry.payload).map_err(other)?;
    let body = &out[start + FRAME_HEADER_BYTES as usize..];
    let len = u32::try_from(body.len())
        .ok()
        .filter(|l| *l <= FRAME_BYTES_MAX)
        .ok_or_else(|| other(format!("log entry of {} bytes is too large", body.len())))?;
    out[start..start + 4].copy_from_slice(&len.to_le_bytes());
    Ok(())
}

/// Entries encoded as groups, ready to be sealed for a segment.
#[derive(Debug, Default)]
pub(crate) struct EncodedGroups {
    /// Each group's bytes, header space first, padded to whole pages.
    pub(crate) buf: Vec<u8>,
    /// Per group: start in `buf`, first index, entry count, body length.
    pub(crate) groups: Vec<(usize, u64, u32, u32)>,
    /// Per entry: offset of its frame in `buf` and its body length.
    pub(crate) frames: Vec<(usize, u32)>,
}

impl EncodedGroups {
    /// Encodes `entries` (consecutive indexes) into `buf` (reused).
    pub(crate) fn encode(entries: &[Entry], mut buf: Vec<u8>) -> io::Result<EncodedGroups> {
        buf.clear();
        let mut out = EncodedGroups {
            buf,
            groups: Vec::new(),
            frames: Vec::with_capacity(entries.len()),
        };
        let mut group_start = None;
        for entry in entries {
            let start = match group_start {
                Some(s) if (out.buf.len() - s) as u64 <= GROUP_BODY_BYTES_MAX => s,
                _ => {
                    out.finish_group();
                    let s = out.buf.len();
                    out.buf.extend_from_slice(&[0; GROUP_HEADER_BYTES as usize]);
                    out.groups.push((s, entry.log_id.index, 0, 0));
                    group_start = Some(s);
                    s
                }
            };
            let frame_at = out.buf.len();
            encode_frame(entry, &mut out.buf)?;
            let body = (out.buf.len() - frame_at) as u32 - FRAME_HEADER_BYTES as u32;
            out.frames.push((frame_at, body));
            let group = out.groups.last_mut().expect("a group");
            group.2 += 1;
            group.3 = (out.buf.len() - start) as u32 - GROUP_HEADER_BYTES as u32;
        }
        out.finish_group();
        Ok(out)
    }

    fn finish_group(&mut self) {
        let padded = align_up(self.buf.len() as u64) as usize;
        self.buf.resize(padded, 0);
    }

    /// Writes the crcs for a segment with `salt`, the first group going
    /// where the previous one ended at `prev_end` (each group's start is
    /// the next page after the previous group's end).
    pub(crate) fn seal(&mut self, salt: u64, base: u64, mut prev_end: u64) {
        for &(frame_at, body) in &self.frames {
            let body_end = frame_at + FRAME_HEADER_BYTES as usize + body as usize;
            let crc = salted_crc(
                salt,
                &self.buf[frame_at + FRAME_HEADER_BYTES as usize..body_end],
            );
            self.buf[frame_at + 4..frame_at + 8].copy_from_slice(&crc.to_le_bytes());
        }
        for &(start, first_index, frame_count, body_len) in &self.groups {
            let header = GroupHeader {
                frame_count,
                first_index,
                prev_end,
                body_len,
                truncate: false,
            };
            self.buf[start..start + GROUP_HEADER_BYTES as usize]
                .copy_from_slice(&header.encode(salt));
            prev_end = header.end(base + start as u64);
        }
    }

    /// Where the last group ends (unaligned), once written at `base`.
    pub(crate) fn end(&self, base: u64) -> u64 {
        let &(start, _, _, body_len) = self.groups.last().expect("a group");
        base + start as u64 + GROUP_HEADER_BYTES + u64::from(body_len)
    }
}

/// A truncation mark: entries from `from` on are gone; the log continues
/// at `from`. One page.
pub(crate) fn truncation_mark(salt: u64, from: u64, prev_end: u64) -> Vec<u8> {
    let header = GroupHeader {
        frame_count: 0,
        first_index: from,
        prev_end,
        body_len: 0,
        truncate: true,
    };
    let mut page = vec![0u8; PAGE as usize];
    page[..GROUP_HEADER_BYTES as usize].copy_from_slice(&header.encode(salt));
    page
}

pub(crate) fn decode_log_id(body: &[u8]) -> io::Result<LogId> {
    // bincode writes the tuple's fields back to back, and the top-level
    // functions accept trailing bytes: the LogId is a prefix of the body.
    bincode::deserialize(body).map_err(|e| corrupt(format!("bad log id: {e}")))
}

pub(crate) fn decode_body(body: &[u8]) -> io::Result<Entry> {
    let (log_id, payload): (LogId, EntryPayload<TypeConfig>) =
        bincode::deserialize(body).map_err(|e| corrupt(format!("bad log entry: {e}")))?;
    Ok(Entry { log_id, payload })
}

/// Reads and checks one frame body at `offset` of a segment with `salt`.
pub(crate) fn read_frame(
    file: &dyn DiskFile,
    salt: u64,
    offset: u64,
    len: u32,
) -> io::Result<Vec<u8>> {
    let mut buf = vec![0u8; FRAME_HEADER_BYTES as usize + len as usize];
    file.read_exact_at(&mut buf, offset)?;
    if u32_at(&buf, 0) != len {
        return Err(corrupt(format!("frame at {offset}: length changed")));
    }
    let crc = u32_at(&buf, 4);
    let body = buf.split_off(FRAME_HEADER_BYTES as usize);
    if salted_crc(salt, &body) != crc {
        return Err(corrupt(format!("frame at {offset}: checksum mismatch")));
    }
    Ok(body)
}

/// Where an entry lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Location {
    pub(crate) log_id: LogId,
    /// First index of the segment holding it.
    pub(crate) segment: u64,
    /// Offset of its frame header in the segment.
    pub(crate) offset: u64,
    /// Body length.
    pub(crate) len: u32,
}

/// What recovery found in one segment.
#[derive(Debug)]
pub(crate) struct Scan {
    pub(crate) salt: u64,
    /// Entries present, in index order (truncation marks applied).
    pub(crate) entries: Vec<Location>,
    /// The index the next entry must have.
    pub(crate) next_index: u64,
    /// End of the last valid group (unaligned): the next group's
    /// `prev_end`.
    pub(crate) end: u64,
    /// Valid groups (truncation marks included).
    pub(crate) groups: usize,
    /// The last valid group: its offset and first index.
    pub(crate) last_group: Option<(u64, u64)>,
    /// A group that was being written when the power went: a valid header
    /// right after the end whose body does not check out. Only possible in
    /// the last segment (an unacknowledged append); the segment takes no
    /// more appends, so its bytes stay as they are.
    pub(crate) torn_tail: Option<String>,
}

/// Bytes read at a time while scanning.
const SCAN_CHUNK: u64 = 1024 * 1024;

/// Reads a whole group at `at` (header and body) if its header checks out;
/// `Ok(None)` for no valid header there.
fn read_group(
    file: &dyn DiskFile,
    salt: u64,
    at: u64,
    file_len: u64,
) -> io::Result<Option<(GroupHeader, Vec<u8>)>> {
    if at + GROUP_HEADER_BYTES > file_len {
        return Ok(None);
    }
    let mut h = [0u8; GROUP_HEADER_BYTES as usize];
    file.read_exact_at(&mut h, at)?;
    let Some(header) = GroupHeader::decode(&h, salt) else {
        return Ok(None);
    };
    let body_end = header.end(at);
    if u64::from(header.body_len) > GROUP_BODY_BYTES_MAX + u64::from(FRAME_BYTES_MAX) {
        return Ok(None);
    }
    if body_end > file_len {
        return Ok(Some((header, Vec::new())));
    }
    let mut body = vec![0u8; header.body_len as usize];
    file.read_exact_at(&mut body, at + GROUP_HEADER_BYTES)?;
    Ok(Some((header, body)))
}

/// The frames of a group body, if every one checks out and they are what
/// the header says: `(frame offset in the segment, body length, log id)`.
fn check_frames(
    header: &GroupHeader,
    body: &[u8],
    salt: u64,
    at: u64,
) -> Option<Vec<(u64, u32, LogId)>> {
    if body.len() != header.body_len as usize {
        return None;
    }
    let mut frames = Vec::with_capacity(header.frame_count as usize);
    let mut pos = 0usize;
    while pos < body.len() {
        if body.len() - pos < FRAME_HEADER_BYTES as usize {
            return None;
        }
        let len = u32_at(body, pos) as usize;
        let crc = u32_at(body, pos + 4);
        let start = pos + FRAME_HEADER_BYTES as usize;
        let frame_body = body.get(start..start.checked_add(len)?)?;
        if len == 0 || salted_crc(salt, frame_body) != crc {
            return None;
        }
        let log_id = decode_log_id(frame_body).ok()?;
        if log_id.index != header.first_index + frames.len() as u64 {
            return None;
        }
        frames.push((at + GROUP_HEADER_BYTES + pos as u64, len as u32, log_id));
        pos = start + len;
    }
    (frames.len() == header.frame_count as usize).then_some(frames)
}

/// Scans segment `first_index` (already opened as `file`): follows the
/// chain of groups from the header page, applying truncation marks, up to
/// the first page that holds no valid group. Then, if `last`, it reads
/// every later page: a valid group header there, other than a torn one
/// right at the end, means acknowledged appends follow damaged bytes, and
/// the segment is refused. Nothing is written.
pub(crate) fn scan_segment(
    file: &dyn DiskFile,
    first_index: u64,
    last: bool,
    what: &str,
) -> io::Result<Scan> {
    let file_len = file.len()?;
    let mut page = vec![0u8; SEGMENT_HEADER_BYTES as usize];
    if file_len < SEGMENT_HEADER_BYTES {
        return Err(corrupt(format!(
            "{what}: {file_len} bytes, shorter than a segment header"
        )));
    }
    file.read_exact_at(&mut page, 0)?;
    let salt = parse_segment_header(&page, first_index, what)?;
    let mut scan = Scan {
        salt,
        entries: Vec::new(),
        next_index: first_index,
        end: SEGMENT_HEADER_BYTES,
        groups: 0,
        last_group: None,
        torn_tail: None,
    };
    loop {
        let at = align_up(scan.end);
        let Some((header, body)) = read_group(file, salt, at, file_len)? else {
            break;
        };
        if header.prev_end != scan.end {
            // A valid group that does not follow on: not written after
            // this chain, so the chain ended before it; the look-ahead
            // below decides.
            break;
        }
        if header.truncate {
            if header.first_index < first_index || header.first_index > scan.next_index {
                return Err(corrupt(format!(
                    "{what}: truncation mark at offset {at} to index {} outside the segment's entries",
                    header.first_index
                )));
            }
            scan.entries.retain(|l| l.log_id.index < header.first_index);
            scan.next_index = header.first_index;
        } else {
            let Some(frames) = check_frames(&header, &body, salt, at) else {
                scan.torn_tail = Some(format!(
                    "group of {} entries from index {} at offset {at} does not check out",
                    header.frame_count, header.first_index
                ));
                break;
            };
            if header.first_index != scan.next_index {
                return Err(corrupt(format!(
                    "{what}: group at offset {at} starts at index {} where {} was expected",
                    header.first_index, scan.next_index
                )));
            }
            for (offset, len, log_id) in frames {
                scan.entries.push(Location {
                    log_id,
                    segment: first_index,
                    offset,
                    len,
                });
            }
            scan.next_index += u64::from(header.frame_count);
        }
        scan.groups += 1;
        scan.last_group = Some((at, header.first_index));
        scan.end = header.end(at);
    }
    if last {
        look_ahead(file, salt, &scan, file_len, what)?;
    }
    Ok(scan)
}

/// Refuses the segment if any page after the end of its valid groups holds
/// a valid group header, but for the one being written at a power loss
/// (right at the end, following on from it).
fn look_ahead(
    file: &dyn DiskFile,
    salt: u64,
    scan: &Scan,
    file_len: u64,
    what: &str,
) -> io::Result<()> {
    let torn_at = align_up(scan.end);
    let mut chunk = vec![0u8; SCAN_CHUNK as usize];
    let mut at = torn_at;
    while at < file_len {
        let n = SCAN_CHUNK.min(file_len - at) as usize;
        file.read_exact_at(&mut chunk[..n], at)?;
        let mut page = 0;
        while page + GROUP_HEADER_BYTES as usize <= n {
            let offset = at + page as u64;
            if let Some(header) = GroupHeader::decode(&chunk[page..], salt) {
                let the_torn_one = offset == torn_at && header.prev_end == scan.end;
                if !the_torn_one {
                    return Err(corrupt(format!(
                        "{what}: damaged log: the valid entries end at offset {} (index {}), but an \
                         append written after them (index {}, offset {offset}) follows; acknowledged \
                         entries in between do not check out. Refusing to start rather than lose \
                         them: restore this server's data directory from a replica or a backup",
                        scan.end, scan.next_index, header.first_index
                    )));
                }
            }
            page += PAGE as usize;
        }
        at += n as u64;
    }
    Ok(())
}
