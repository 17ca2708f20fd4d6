//! Tests of the segment log: recovery, torn tails, segment rolls, truncation
//! and purging across segments, cache misses. openraft's own storage suite
//! runs over it too (`raft/tests.rs`).

use std::fs;
use std::path::Path;

use openraft::{CommittedLeaderId, EntryPayload};

use super::*;
use crate::txn::{Txn, TxnBatch, TxnOp};

fn log_id(term: u64, index: u64) -> LogId {
    LogId::new(CommittedLeaderId::new(term, 1), index)
}

/// An entry whose single transaction carries `index` as its marker and
/// `data_len` bytes of data.
fn entry(term: u64, index: u64, data_len: usize) -> Entry {
    Entry {
        log_id: log_id(term, index),
        payload: EntryPayload::Normal(TxnBatch::new(vec![Txn {
            session_id: 7,
            time_ms: index as i64,
            auth: vec![],
            is_super: false,
            op: TxnOp::SetData {
                path: "/k".into(),
                data: vec![index as u8; data_len],
                version: -1,
            },
            origin: None,
        }])),
    }
}

fn entries(term: u64, indexes: std::ops::Range<u64>, data_len: usize) -> Vec<Entry> {
    indexes.map(|i| entry(term, i, data_len)).collect()
}

/// Small segments and no cache, so every read goes to disk and a few
/// entries fill a segment.
fn tiny() -> Limits {
    Limits {
        segment_bytes: 2048,
        step_bytes: 1024,
        cache_bytes: 0,
    }
}

/// A log with tiny limits in `dir` holding entries 0..20 of term 1, one
/// append each (several segments).
fn tiny_log_of_20(dir: &Path) -> LogStore {
    let log = LogStore::open_with(dir, tiny()).unwrap();
    for i in 0..20 {
        log.append_blocking(entries(1, i..i + 1, 300)).unwrap();
    }
    log
}

fn indexes(log: &LogStore, start: u64, end: u64) -> Vec<u64> {
    log.read_range(start, end)
        .unwrap()
        .iter()
        .map(|e| e.log_id.index)
        .collect()
}

fn segment_files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("wal-"))
        .collect();
    names.sort();
    names
}

#[test]
fn entries_vote_and_purge_mark_survive_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let vote = Vote::new(3, 2);
    {
        let log = LogStore::open(dir.path()).unwrap();
        assert_eq!(log.log_state(), (None, None));
        log.append_blocking(entries(1, 0..5, 100)).unwrap();
        log.append_blocking(entries(2, 5..8, 100)).unwrap();
        log.save_vote_blocking(vote).unwrap();
        log.purge_blocking(log_id(1, 2), false).unwrap();
        // Served from the cache: the same entries that were appended.
        let read = log.read_range(0, 100).unwrap();
        assert_eq!(
            read,
            entries(1, 3..5, 100)
                .into_iter()
                .chain(entries(2, 5..8, 100))
                .collect::<Vec<_>>()
        );
    }
    let log = LogStore::open(dir.path()).unwrap();
    assert_eq!(log.log_state(), (Some(log_id(1, 2)), Some(log_id(2, 7))));
    assert_eq!(log.state().vote, Some(vote));
    // Read back from disk this time, decoded to equal entries.
    let read = log.read_range(0, 100).unwrap();
    assert_eq!(
        read,
        entries(1, 3..5, 100)
            .into_iter()
            .chain(entries(2, 5..8, 100))
            .collect::<Vec<_>>()
    );
    assert_eq!(indexes(&log, 4, 6), vec![4, 5]);
}

#[test]
fn a_second_process_cannot_open_the_same_log() {
    let dir = tempfile::tempdir().unwrap();
    let _log = LogStore::open(dir.path()).unwrap();
    let err = LogStore::open(dir.path())
        .err()
        .expect("second open must fail");
    assert!(err.to_string().contains("already open"), "{err}");
}

/// End of the frames in segment `first` of an open log.
fn used(log: &LogStore, first: u64) -> u64 {
    log.state().segments[&first].len
}

fn write_at(path: &Path, bytes: &[u8], offset: u64) {
    fs::OpenOptions::new()
        .write(true)
        .open(path)
        .unwrap()
        .write_all_at(bytes, offset)
        .unwrap();
}

/// A log in a new directory holding entries `0..n` (term 1, 50 bytes of
/// data each), closed again: the directory, the end of the frames in
/// segment 0 and that segment's salt.
fn closed_log(n: u64) -> (tempfile::TempDir, u64, u64) {
    let dir = tempfile::tempdir().unwrap();
    let log = LogStore::open(dir.path()).unwrap();
    log.append_blocking(entries(1, 0..n, 50)).unwrap();
    let salt = log.state().segments[&0].salt;
    let good_len = used(&log, 0);
    drop(log);
    (dir, good_len, salt)
}

#[test]
fn a_torn_append_at_the_end_is_cut_off_and_the_log_goes_on() {
    let (dir, good_len, _) = closed_log(4);
    let segment = dir.path().join(segment_name(0));
    // Half a frame: a crash in the middle of writing entry 4.
    let mut frame = Vec::new();
    encode_frame(&entry(1, 4, 50), &mut frame).unwrap();
    write_at(&segment, &frame[..frame.len() / 2], good_len);
    {
        let log = LogStore::open(dir.path()).unwrap();
        assert_eq!(log.log_state().1, Some(log_id(1, 3)));
        assert_eq!(used(&log, 0), good_len);
        // The torn bytes are gone: zeros follow the last entry.
        let after = fs::read(&segment).unwrap()[good_len as usize..][..frame.len()].to_vec();
        assert!(after.iter().all(|b| *b == 0));
        log.append_blocking(entries(1, 4..6, 50)).unwrap();
    }
    let log = LogStore::open(dir.path()).unwrap();
    assert_eq!(indexes(&log, 0, 100), (0..6).collect::<Vec<_>>());
}

/// Frames for `entries` as an append to a segment with `salt` writes them,
/// with the length of each.
fn sealed_frames(entries: &[Entry], salt: u64) -> (Vec<u8>, Vec<usize>) {
    let mut buf = Vec::new();
    let mut lens = Vec::new();
    for e in entries {
        let start = buf.len();
        encode_frame(e, &mut buf).unwrap();
        seal_frame(&mut buf[start..], salt);
        lens.push(buf.len() - start);
    }
    (buf, lens)
}

#[test]
fn frames_left_beyond_a_gap_by_a_torn_append_never_come_back() {
    // A crash mid-append can persist a later page of the write but not an
    // earlier one: zeros, then valid frames. Recovery must drop those
    // frames, or a later torn append could make them look like the log's
    // continuation.
    let (dir, good_len, salt) = closed_log(4);
    let segment = dir.path().join(segment_name(0));
    let (frames, lens) = sealed_frames(&entries(1, 4..7, 50), salt);
    // Entry 4's frame never reached the disk; 5 and 6 did.
    write_at(&segment, &frames[lens[0]..], good_len + lens[0] as u64);
    {
        let log = LogStore::open(dir.path()).unwrap();
        assert_eq!(log.log_state().1, Some(log_id(1, 3)));
    }
    // Entry 4 written again, torn after its own frame: 5 and 6 from before
    // the crash must not follow it.
    write_at(&segment, &frames[..lens[0]], good_len);
    let log = LogStore::open(dir.path()).unwrap();
    assert_eq!(log.log_state().1, Some(log_id(1, 4)));
}

#[test]
fn frames_of_a_recycled_files_previous_use_never_check_out() {
    // Valid frames of an earlier incarnation of the file (another salt)
    // right after the last entry: the log must end at the last entry.
    let (dir, good_len, salt) = closed_log(4);
    let (frames, _) = sealed_frames(&entries(1, 4..6, 50), salt ^ 1);
    write_at(&dir.path().join(segment_name(0)), &frames, good_len);
    let log = LogStore::open(dir.path()).unwrap();
    assert_eq!(log.log_state().1, Some(log_id(1, 3)));
    assert_eq!(used(&log, 0), good_len);
}

#[test]
fn a_flipped_bit_in_the_last_frame_loses_only_that_unacknowledgeable_tail() {
    let (dir, good_len, _) = closed_log(3);
    let segment = dir.path().join(segment_name(0));
    let mut bytes = fs::read(&segment).unwrap();
    let last = good_len as usize - 3;
    bytes[last] ^= 0x40;
    fs::write(&segment, &bytes).unwrap();
    let log = LogStore::open(dir.path()).unwrap();
    assert_eq!(indexes(&log, 0, 100), vec![0, 1]);
}

#[test]
fn damage_before_the_last_segment_refuses_to_open() {
    let dir = tempfile::tempdir().unwrap();
    {
        let _log = tiny_log_of_20(dir.path());
        assert!(segment_files(dir.path()).len() >= 3);
    }
    let first = dir.path().join(segment_name(0));
    let mut bytes = fs::read(&first).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    fs::write(&first, &bytes).unwrap();
    let err = LogStore::open_with(dir.path(), tiny())
        .err()
        .expect("must refuse");
    assert_eq!(err.kind(), io::ErrorKind::InvalidData, "{err}");
}

#[test]
fn zeros_over_entries_before_the_last_segment_refuse_to_open() {
    let dir = tempfile::tempdir().unwrap();
    let end_of_first = {
        let log = tiny_log_of_20(dir.path());
        assert!(segment_files(dir.path()).len() >= 3);
        used(&log, 0)
    };
    // The first segment's last frame reads as preallocated space: its
    // entries would be silently missing if the next segment were not
    // checked to start right after them.
    let first = dir.path().join(segment_name(0));
    write_at(&first, &[0; 8], end_of_first - 8 - 300);
    let bytes = fs::read(&first).unwrap();
    let scan = scan_segment(&first, 0).unwrap();
    assert!(scan.good_len < end_of_first && (scan.good_len as usize) < bytes.len());
    let err = LogStore::open_with(dir.path(), tiny())
        .err()
        .expect("must refuse");
    assert_eq!(err.kind(), io::ErrorKind::InvalidData, "{err}");
}

/// Waits (at most 30 s) until `done` holds for the store's state.
fn wait_until(log: &LogStore, what: &str, done: impl Fn(&State) -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !done(&log.state()) {
        assert!(std::time::Instant::now() < deadline, "timed out: {what}");
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}

/// Waits until a spare segment is ready.
fn wait_for_spare(log: &LogStore) {
    wait_until(log, "no spare segment was prepared", |s| {
        !s.spares.is_empty()
    });
}

/// Waits until no spare is being zero-filled.
fn wait_for_no_spare_filling(log: &LogStore) {
    wait_until(log, "a spare is still being filled", |s| !s.preparing_spare);
}

#[test]
fn segments_are_zero_filled_ahead_and_a_spare_becomes_the_next_one() {
    let dir = tempfile::tempdir().unwrap();
    let limits = tiny();
    let log = LogStore::open_with(dir.path(), limits).unwrap();
    // A brand-new log: its first segment gets step_bytes of zeros now.
    log.append_blocking(entries(1, 0..1, 300)).unwrap();
    let first = dir.path().join(segment_name(0));
    assert_eq!(fs::metadata(&first).unwrap().len(), limits.step_bytes);
    assert_eq!(log.state().segments[&0].capacity, limits.step_bytes);
    // Past half of it, a spare of segment_bytes is prepared meanwhile.
    log.append_blocking(entries(1, 1..2, 300)).unwrap();
    wait_for_spare(&log);
    let next = {
        let mut i = 2;
        while log.state().segments.len() == 1 {
            log.append_blocking(entries(1, i..i + 1, 300)).unwrap();
            i += 1;
        }
        i - 1
    };
    let s = log.state();
    let seg = &s.segments[&next];
    assert_eq!(seg.capacity, limits.segment_bytes);
    let path = dir.path().join(segment_name(next));
    assert_eq!(fs::metadata(&path).unwrap().len(), limits.segment_bytes);
    drop(s);
    assert_eq!(indexes(&log, 0, 100), (0..=next).collect::<Vec<_>>());
}

#[test]
fn spare_files_left_by_a_stopped_run_are_removed_at_open() {
    let dir = tempfile::tempdir().unwrap();
    {
        let log = LogStore::open(dir.path()).unwrap();
        log.append_blocking(entries(1, 0..2, 50)).unwrap();
    }
    fs::write(dir.path().join("spare-17"), [0u8; 100]).unwrap();
    let log = LogStore::open(dir.path()).unwrap();
    assert!(!dir.path().join("spare-17").exists());
    assert_eq!(indexes(&log, 0, 100), vec![0, 1]);
}

#[test]
fn segments_roll_and_entries_read_back_from_every_segment() {
    let dir = tempfile::tempdir().unwrap();
    {
        let log = LogStore::open_with(dir.path(), tiny()).unwrap();
        for i in (0..30).step_by(3) {
            log.append_blocking(entries(1, i..i + 3, 200)).unwrap();
        }
        let files = segment_files(dir.path());
        assert!(files.len() >= 4, "{files:?}");
        assert_eq!(indexes(&log, 0, 30), (0..30).collect::<Vec<_>>());
    }
    let log = LogStore::open_with(dir.path(), tiny()).unwrap();
    assert_eq!(indexes(&log, 0, 30), (0..30).collect::<Vec<_>>());
    assert_eq!(indexes(&log, 10, 13), vec![10, 11, 12]);
}

#[test]
fn truncation_cuts_across_segments_and_the_log_continues_from_there() {
    let dir = tempfile::tempdir().unwrap();
    {
        let log = tiny_log_of_20(dir.path());
        let before = segment_files(dir.path()).len();
        log.truncate_blocking(5).unwrap();
        assert!(segment_files(dir.path()).len() < before);
        assert_eq!(log.log_state().1, Some(log_id(1, 4)));
        // A new leader's entries replace the removed ones.
        log.append_blocking(entries(2, 5..9, 300)).unwrap();
    }
    let log = LogStore::open_with(dir.path(), tiny()).unwrap();
    let read = log.read_range(0, 100).unwrap();
    let terms: Vec<(u64, u64)> = read
        .iter()
        .map(|e| (e.log_id.index, e.log_id.leader_id.term))
        .collect();
    let expected: Vec<(u64, u64)> = (0..5)
        .map(|i| (i, 1))
        .chain((5..9).map(|i| (i, 2)))
        .collect();
    assert_eq!(terms, expected);
}

#[test]
fn purged_segments_are_deleted_in_the_background_after_the_mark_is_durable() {
    let dir = tempfile::tempdir().unwrap();
    let log = tiny_log_of_20(dir.path());
    let before = segment_files(dir.path());
    log.purge_blocking(log_id(1, 9), true).unwrap();
    // The mark is on disk when purge returns; the files go soon after.
    assert_eq!(read_meta(dir.path()).unwrap().purged, Some(log_id(1, 9)));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let expected: Vec<String> = before
        .iter()
        .filter(|name| {
            log.state()
                .segments
                .keys()
                .any(|f| segment_name(*f) == **name)
        })
        .cloned()
        .collect();
    assert!(expected.len() < before.len());
    while segment_files(dir.path()) != expected {
        assert!(
            std::time::Instant::now() < deadline,
            "purged segments stay on disk"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    assert_eq!(indexes(&log, 0, 100), (10..20).collect::<Vec<_>>());
}

#[test]
fn a_purged_full_segment_is_recycled_as_the_next_one() {
    let dir = tempfile::tempdir().unwrap();
    let limits = tiny();
    let log = LogStore::open_with(dir.path(), limits).unwrap();
    let mut next = 0;
    let append = |log: &LogStore, next: &mut u64, n: u64| {
        for _ in 0..n {
            log.append_blocking(entries(1, *next..*next + 1, 300))
                .unwrap();
            *next += 1;
        }
    };
    // Fill segments until one of full size exists, then more after it.
    append(&log, &mut next, 2);
    wait_for_spare(&log);
    append(&log, &mut next, 20);
    let full: Vec<u64> = {
        let s = log.state();
        s.segments
            .iter()
            .filter(|(_, seg)| seg.capacity == limits.segment_bytes)
            .map(|(f, _)| *f)
            .collect()
    };
    assert!(full.len() >= 2, "{full:?}");
    // Purge through the first full segment, with no spare ready.
    let last_in_it = full[1] - 1;
    wait_for_no_spare_filling(&log);
    log.state().spares.clear();
    let purged_inode = {
        use std::os::unix::fs::MetadataExt;
        fs::metadata(dir.path().join(segment_name(full[0])))
            .unwrap()
            .ino()
    };
    log.purge_blocking(log_id(1, last_in_it), false).unwrap();
    let spare_path = {
        let s = log.state();
        assert_eq!(
            s.spares.len(),
            1,
            "the purged segment did not become a spare"
        );
        assert_eq!(s.spares[0].bytes, limits.segment_bytes);
        s.spares[0].path.clone()
    };
    assert_eq!(
        inodes_of(std::slice::from_ref(&spare_path)),
        vec![purged_inode],
        "the spare is not the purged file"
    );
    assert!(spare_path.exists());
    assert!(!dir.path().join(segment_name(full[0])).exists());
    // Appending on rolls into it; its old frames never show.
    let before = next;
    while log.state().segments.keys().all(|f| *f < before) {
        append(&log, &mut next, 1);
    }
    assert!(!spare_path.exists());
    assert_eq!(
        indexes(&log, 0, 1000),
        (last_in_it + 1..next).collect::<Vec<_>>()
    );
    drop(log);
    let log = LogStore::open_with(dir.path(), limits).unwrap();
    assert_eq!(
        indexes(&log, 0, 1000),
        (last_in_it + 1..next).collect::<Vec<_>>()
    );
}

fn inodes_of(paths: &[std::path::PathBuf]) -> Vec<u64> {
    use std::os::unix::fs::MetadataExt;
    let mut inodes: Vec<u64> = paths
        .iter()
        .map(|p| fs::metadata(p).unwrap().ino())
        .collect();
    inodes.sort_unstable();
    inodes
}

/// Inode numbers of the segment and spare files in `dir`.
fn inodes(dir: &Path) -> Vec<u64> {
    let paths: Vec<std::path::PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_str().unwrap();
            segment_first_index(name).is_some() || is_spare_name(name)
        })
        .collect();
    inodes_of(&paths)
}

#[test]
fn steady_appends_and_purges_reuse_the_same_files() {
    // A purge frees about one segment per segment filled: once warmed up,
    // every purged segment is recycled and nothing is zero-filled or
    // deleted, so the same files are used round and round.
    let dir = tempfile::tempdir().unwrap();
    let limits = tiny();
    let log = LogStore::open_with(dir.path(), limits).unwrap();
    let mut next = 0;
    let mut append = |log: &LogStore| {
        log.append_blocking(entries(1, next..next + 1, 300))
            .unwrap();
        next += 1;
        // Let a spare being zero-filled finish, as it would under load.
        wait_for_no_spare_filling(log);
    };
    // One segment filled per cycle; the purge comes once the new segment
    // is past half full (as a snapshot does, at any point of a segment),
    // and keeps the segment before it.
    let mut cycle = |log: &LogStore| {
        let start = log.state().segments.len();
        while log.state().segments.len() == start {
            append(log);
        }
        loop {
            let (len, capacity) = {
                let s = log.state();
                let seg = s.segments.last_key_value().unwrap().1;
                (seg.len, seg.capacity)
            };
            if len >= capacity / 2 {
                break;
            }
            append(log);
        }
        let keep_from = log.state().segments.keys().rev().nth(1).copied();
        if let Some(keep_from @ 1..) = keep_from {
            log.purge_blocking(log_id(1, keep_from - 1), false).unwrap();
        }
    };
    for _ in 0..6 {
        cycle(&log);
    }
    let warmed = inodes(dir.path());
    for _ in 0..10 {
        cycle(&log);
        assert_eq!(inodes(dir.path()), warmed, "a file was created or deleted");
        assert!(!log.state().spares.is_empty());
    }
    let (first, last) = {
        let s = log.state();
        (s.purged.unwrap().index + 1, s.last_log_id().unwrap().index)
    };
    assert_eq!(indexes(&log, 0, 10_000), (first..=last).collect::<Vec<_>>());
    drop(log);
    let log = LogStore::open_with(dir.path(), limits).unwrap();
    assert_eq!(indexes(&log, 0, 10_000), (first..=last).collect::<Vec<_>>());
}

#[test]
fn purging_deletes_whole_segments_only() {
    let dir = tempfile::tempdir().unwrap();
    let log = tiny_log_of_20(dir.path());
    let before = segment_files(dir.path());
    log.purge_blocking(log_id(1, 9), false).unwrap();
    let after = segment_files(dir.path());
    assert!(after.len() < before.len(), "{before:?} -> {after:?}");
    // The segment holding 10 is still there, and the first kept one.
    assert!(after.first().unwrap() <= &segment_name(10));
    assert_eq!(indexes(&log, 0, 100), (10..20).collect::<Vec<_>>());
    drop(log);
    let log = LogStore::open_with(dir.path(), tiny()).unwrap();
    assert_eq!(log.log_state(), (Some(log_id(1, 9)), Some(log_id(1, 19))));
    assert_eq!(indexes(&log, 0, 100), (10..20).collect::<Vec<_>>());
}

#[test]
fn purging_past_the_end_then_appending_starts_a_new_segment() {
    // A lagging follower installs the leader's snapshot at 100 and the
    // log resumes at 101.
    let dir = tempfile::tempdir().unwrap();
    {
        let log = LogStore::open(dir.path()).unwrap();
        log.append_blocking(entries(1, 0..10, 20)).unwrap();
        log.purge_blocking(log_id(3, 100), false).unwrap();
        assert_eq!(
            log.log_state(),
            (Some(log_id(3, 100)), Some(log_id(3, 100)))
        );
        log.append_blocking(entries(3, 101..104, 20)).unwrap();
        assert_eq!(segment_files(dir.path()), vec![segment_name(101)]);
    }
    let log = LogStore::open(dir.path()).unwrap();
    assert_eq!(
        log.log_state(),
        (Some(log_id(3, 100)), Some(log_id(3, 103)))
    );
    assert_eq!(indexes(&log, 0, 200), vec![101, 102, 103]);
}

#[test]
fn a_crash_between_purge_mark_and_segment_removal_still_opens() {
    // Segments left behind a purge past the end are skipped, not an error.
    let dir = tempfile::tempdir().unwrap();
    {
        let log = LogStore::open(dir.path()).unwrap();
        log.append_blocking(entries(1, 0..10, 20)).unwrap();
    }
    {
        let log = LogStore::open(dir.path()).unwrap();
        // Write the mark the way purge does, but keep the old segment.
        write_meta(
            dir.path(),
            &Meta {
                vote: None,
                purged: Some(log_id(3, 100)),
            },
        )
        .unwrap();
        drop(log);
    }
    {
        let log = LogStore::open(dir.path()).unwrap();
        assert_eq!(
            log.log_state(),
            (Some(log_id(3, 100)), Some(log_id(3, 100)))
        );
        log.append_blocking(entries(3, 101..103, 20)).unwrap();
    }
    let log = LogStore::open(dir.path()).unwrap();
    assert_eq!(indexes(&log, 0, 200), vec![101, 102]);
}

#[test]
fn reads_mix_disk_and_cache_in_index_order() {
    let dir = tempfile::tempdir().unwrap();
    let limits = Limits {
        // Room for about three of these entries.
        cache_bytes: 3 * 600,
        ..Limits::default()
    };
    let log = LogStore::open_with(dir.path(), limits).unwrap();
    for i in 0..10 {
        log.append_blocking(entries(1, i..i + 1, 500)).unwrap();
    }
    let s = log.state();
    assert!(s.cached(9).is_some() && s.cached(0).is_none());
    drop(s);
    assert_eq!(log.read_range(0, 10).unwrap(), entries(1, 0..10, 500));
}

#[test]
fn meta_damage_is_reported_not_ignored() {
    let dir = tempfile::tempdir().unwrap();
    {
        let log = LogStore::open(dir.path()).unwrap();
        log.save_vote_blocking(Vote::new(2, 1)).unwrap();
    }
    let meta = dir.path().join("meta");
    let mut bytes = fs::read(&meta).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    fs::write(&meta, &bytes).unwrap();
    let err = LogStore::open(dir.path()).err().expect("must refuse");
    assert_eq!(err.kind(), io::ErrorKind::InvalidData);
}
