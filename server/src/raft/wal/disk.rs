//! The file-system calls of the log and the snapshot files, behind a small
//! trait, so that the same recovery code runs on the real disk
//! ([`OsDisk`]) and on a simulated one that models power loss
//! (`sim_disk.rs`).
//!
//! Only the calls durability depends on are here: open, positional read
//! and write, `fdatasync`/`fsync`, length changes, rename, unlink, directory
//! listing and directory sync, and the lock that keeps a second process
//! out. Paths are plain [`Path`]s; a [`Disk`] decides what they mean.

use std::any::Any;
use std::fmt::Debug;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::Path;
use std::sync::Arc;

/// How a file is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Open {
    /// An existing file, read and write.
    Existing,
    /// Create it if missing (never truncating), read and write.
    CreateOrExisting,
    /// Create a new file; an existing one is an error. `direct` asks for
    /// writes that bypass the page cache where the file system allows it
    /// (`O_DIRECT`: the caller then writes aligned buffers only);
    /// elsewhere the file is written through the page cache.
    CreateNew {
        /// Ask for `O_DIRECT`.
        direct: bool,
    },
}

/// One open file.
pub(crate) trait DiskFile: Send + Sync + Debug {
    /// Reads up to `buf.len()` bytes at `offset`; fewer only at the end of
    /// the file.
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize>;
    /// Writes all of `buf` at `offset`, extending the file if needed.
    fn write_all_at(&self, buf: &[u8], offset: u64) -> io::Result<()>;
    /// `fdatasync`: the data written so far (and the length) is durable.
    fn sync_data(&self) -> io::Result<()>;
    /// `fsync`: like [`DiskFile::sync_data`], with every other attribute.
    fn sync_all(&self) -> io::Result<()>;
    /// Cuts or extends (with zeros) the file to `len` bytes.
    fn set_len(&self, len: u64) -> io::Result<()>;
    /// The file's length.
    fn len(&self) -> io::Result<u64>;

    /// Reads exactly `buf.len()` bytes at `offset`.
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        let mut done = 0;
        while done < buf.len() {
            let n = self.read_at(&mut buf[done..], offset + done as u64)?;
            if n == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "read past the end of the file",
                ));
            }
            done += n;
        }
        Ok(())
    }
}

/// A file system: the real one, or a simulated one in tests.
pub(crate) trait Disk: Send + Sync + Debug + 'static {
    /// Creates `dir` and its missing parents, and makes each new directory
    /// entry durable (syncs the parent of every directory it created).
    fn create_dir_all(&self, dir: &Path) -> io::Result<()>;
    /// Opens `path`.
    fn open(&self, path: &Path, how: Open) -> io::Result<Arc<dyn DiskFile>>;
    /// Renames `from` to `to`, replacing `to`; durable after a
    /// [`Disk::sync_dir`] of the directory.
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// Removes the file `path`; durable after a [`Disk::sync_dir`].
    fn remove_file(&self, path: &Path) -> io::Result<()>;
    /// Makes the creations, renames and removals in `dir` durable.
    fn sync_dir(&self, dir: &Path) -> io::Result<()>;
    /// The names of the entries of `dir`.
    fn list_dir(&self, dir: &Path) -> io::Result<Vec<String>>;
    /// Takes an exclusive lock named by `path` (created if missing), held
    /// until the returned value is dropped. `WouldBlock` if another holder
    /// has it.
    fn lock(&self, path: &Path) -> io::Result<Box<dyn Any + Send + Sync>>;
}

/// Whether `e` is "no space left on the device" (or over a quota): the
/// one storage error that is waited out rather than fatal.
pub(crate) fn is_no_space(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::ENOSPC) | Some(libc::EDQUOT))
        || e.kind() == io::ErrorKind::StorageFull
}

/// The real file system.
#[derive(Debug, Default)]
pub(crate) struct OsDisk {
    faults: faults::Faults,
}

impl OsDisk {
    /// The real file system; with the `fault-injection` build feature, the
    /// faults named by the environment (see [`faults`]).
    pub(crate) fn shared() -> Arc<dyn Disk> {
        Arc::new(OsDisk {
            faults: faults::Faults::from_env(),
        })
    }
}

#[derive(Debug)]
struct OsFile {
    file: File,
    faults: faults::Faults,
}

impl DiskFile for OsFile {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        self.file.read_at(buf, offset)
    }
    fn write_all_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        self.file.write_all_at(buf, offset)
    }
    fn sync_data(&self) -> io::Result<()> {
        self.faults.before_sync()?;
        self.file.sync_data()
    }
    fn sync_all(&self) -> io::Result<()> {
        self.faults.before_sync()?;
        self.file.sync_all()
    }
    fn set_len(&self, len: u64) -> io::Result<()> {
        self.file.set_len(len)
    }
    fn len(&self) -> io::Result<u64> {
        Ok(self.file.metadata()?.len())
    }
}

impl Disk for OsDisk {
    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        // Create from the top down, syncing the parent of each directory
        // made here: a new directory's entry is not durable until its
        // parent is synced.
        let mut missing = Vec::new();
        let mut at = Some(dir);
        while let Some(d) = at {
            if d.as_os_str().is_empty() || d.is_dir() {
                break;
            }
            missing.push(d);
            at = d.parent();
        }
        for d in missing.into_iter().rev() {
            match fs::create_dir(d) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
            let parent = d
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            self.sync_dir(parent)?;
        }
        Ok(())
    }

    fn open(&self, path: &Path, how: Open) -> io::Result<Arc<dyn DiskFile>> {
        let mut options = OpenOptions::new();
        options.read(true).write(true);
        let file = match how {
            Open::Existing => options.open(path)?,
            Open::CreateOrExisting => options.create(true).truncate(false).open(path)?,
            Open::CreateNew { direct } => {
                let file = options.create_new(true).open(path)?;
                // O_DIRECT is asked for on a second open of the file just
                // made: with O_CREAT|O_EXCL|O_DIRECT a file system that
                // refuses O_DIRECT (tmpfs) creates the file and then fails
                // with EINVAL, and a retry without it meets EEXIST.
                if direct {
                    match OpenOptions::new()
                        .write(true)
                        .custom_flags(libc::O_DIRECT)
                        .open(path)
                    {
                        Ok(direct_file) => direct_file,
                        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => file,
                        Err(e) => {
                            let _ = fs::remove_file(path);
                            return Err(e);
                        }
                    }
                } else {
                    file
                }
            }
        };
        Ok(Arc::new(OsFile {
            file,
            faults: self.faults.clone(),
        }))
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        fs::rename(from, to)
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        fs::remove_file(path)
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        self.faults.before_sync()?;
        File::open(dir)?.sync_all()
    }

    fn list_dir(&self, dir: &Path) -> io::Result<Vec<String>> {
        let mut names = Vec::new();
        for item in fs::read_dir(dir)? {
            if let Some(name) = item?.file_name().to_str() {
                names.push(name.to_string());
            }
        }
        Ok(names)
    }

    fn lock(&self, path: &Path) -> io::Result<Box<dyn Any + Send + Sync>> {
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)?;
        match file.try_lock() {
            Ok(()) => Ok(Box::new(file)),
            Err(fs::TryLockError::WouldBlock) => Err(io::ErrorKind::WouldBlock.into()),
            Err(fs::TryLockError::Error(e)) => Err(e),
        }
    }
}

/// Storage faults for process-level tests, compiled in only with the
/// `fault-injection` feature (never in a release build of the server).
///
/// `CORRAL_FAULT_SYNC_EIO_WHEN=<path>`: while the file `path` exists,
/// every `fdatasync`/`fsync` (of files and directories) fails with `EIO`,
/// as a failing device would; a test creates the file when it wants the
/// disk to fail.
#[cfg(feature = "fault-injection")]
mod faults {
    use std::io;
    use std::path::PathBuf;

    #[derive(Debug, Clone, Default)]
    pub(super) struct Faults {
        sync_eio_when: Option<PathBuf>,
    }

    impl Faults {
        pub(super) fn from_env() -> Faults {
            let sync_eio_when = std::env::var_os("CORRAL_FAULT_SYNC_EIO_WHEN").map(PathBuf::from);
            if let Some(path) = &sync_eio_when {
                tracing::warn!(trigger = %path.display(),
                    "fault injection: syncs fail with EIO while this file exists");
            }
            Faults { sync_eio_when }
        }

        pub(super) fn before_sync(&self) -> io::Result<()> {
            match &self.sync_eio_when {
                Some(path) if path.exists() => Err(io::Error::from_raw_os_error(libc::EIO)),
                _ => Ok(()),
            }
        }
    }
}

#[cfg(not(feature = "fault-injection"))]
mod faults {
    use std::io;

    #[derive(Debug, Clone, Default)]
    pub(super) struct Faults;

    impl Faults {
        pub(super) fn from_env() -> Faults {
            Faults
        }

        #[inline]
        pub(super) fn before_sync(&self) -> io::Result<()> {
            Ok(())
        }
    }
}
