//! Opening, reading and writing files so that no planted file can make aimgen hang, read
//! without bound, or write somewhere else: inputs are read only when they are regular files
//! (checked on the open handle, after a non-blocking open, so a FIFO cannot block), with the
//! size cap checked before reading; outputs go to a new temporary file (`O_EXCL`, no symlink
//! followed, unpredictable name) in the target folder and are renamed into place; a lock on
//! the folder serializes concurrent writers.

use std::fs::{File, OpenOptions};
use std::hash::{BuildHasher, Hasher};
use std::io::{self, Read, Write};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Why a file could not be read.
#[derive(Debug)]
pub enum ReadProblem {
    /// The operating system said no (missing, permission, a symlink where none may be, …).
    Io(io::Error),
    /// Not a regular file: what it is instead ("a FIFO", "a directory", …).
    NotRegular(&'static str),
    /// Larger than the cap (its size in bytes).
    TooLarge(u64),
}

impl std::fmt::Display for ReadProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadProblem::Io(e) => write!(f, "{e}"),
            ReadProblem::NotRegular(kind) => write!(f, "it is {kind}, not a regular file"),
            ReadProblem::TooLarge(n) => write!(f, "it is {n} bytes, more than aimgen reads"),
        }
    }
}

/// What a file type is, for messages.
pub fn kind_name(t: std::fs::FileType) -> &'static str {
    if t.is_dir() {
        "a directory"
    } else if t.is_symlink() {
        "a symbolic link"
    } else if t.is_fifo() {
        "a FIFO (named pipe)"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_socket() {
        "a socket"
    } else {
        "a regular file"
    }
}

/// Opens `path` for reading without blocking (a FIFO with no writer would block a plain
/// open), following a final symbolic link only when `follow`, and checks on the handle that
/// it is a regular file of at most `cap` bytes.
pub fn open_regular(path: &Path, cap: u64, follow: bool) -> Result<File, ReadProblem> {
    let mut flags = libc::O_NONBLOCK;
    if !follow {
        flags |= libc::O_NOFOLLOW;
    }
    let file = OpenOptions::new().read(true).custom_flags(flags).open(path).map_err(ReadProblem::Io)?;
    let meta = file.metadata().map_err(ReadProblem::Io)?;
    if !meta.file_type().is_file() {
        return Err(ReadProblem::NotRegular(kind_name(meta.file_type())));
    }
    if meta.len() > cap {
        return Err(ReadProblem::TooLarge(meta.len()));
    }
    Ok(file)
}

/// Reads a regular file of at most `cap` bytes (see `open_regular`). A file that grows past
/// the cap while being read is refused too.
pub fn read_regular(path: &Path, cap: u64, follow: bool) -> Result<Vec<u8>, ReadProblem> {
    let file = open_regular(path, cap, follow)?;
    let mut bytes = Vec::new();
    file.take(cap + 1).read_to_end(&mut bytes).map_err(ReadProblem::Io)?;
    if bytes.len() as u64 > cap {
        return Err(ReadProblem::TooLarge(bytes.len() as u64));
    }
    Ok(bytes)
}

/// 64 unpredictable bits: std's `RandomState` is keyed from the operating system's random
/// source, and a counter keeps names distinct within one process.
fn random_u64() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    h.write_u32(std::process::id());
    h.finish()
}

/// Writes `bytes` into a new file in `dir` with an unpredictable name that starts with
/// `.{stem}.` and ends with `.aimgen-tmp`, created exclusively (`O_EXCL`: an existing file
/// or symbolic link of that name is an error, never followed). Returns its path.
pub fn write_temp(dir: &Path, stem: &str, bytes: &[u8]) -> io::Result<PathBuf> {
    let mut last = None;
    for _ in 0..8 {
        let path = dir.join(format!(".{stem}.{:016x}.aimgen-tmp", random_u64()));
        let opened =
            OpenOptions::new().write(true).create_new(true).custom_flags(libc::O_NOFOLLOW).mode(0o644).open(&path);
        match opened {
            Ok(mut f) => {
                // No fsync: rename is atomic for readers, and a file lost to a power cut is
                // regenerated from its spec; syncing each of 1,000 env files took 3.9 s.
                if let Err(e) = f.write_all(bytes) {
                    let _ = std::fs::remove_file(&path);
                    return Err(e);
                }
                return Ok(path);
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::other("no free temporary name")))
}

/// An exclusive lock on a folder, held while aimgen writes into it: a second `render -o` or
/// `lock` into the same folder waits for it (up to `LOCK_WAIT`) and then fails cleanly,
/// instead of mixing two outputs. Released when dropped (or when the process dies: the
/// operating system releases `flock` locks), so no stale lock needs cleaning up.
pub struct FolderLock {
    _file: File,
}

/// The lock file aimgen keeps in every folder it writes.
pub const LOCK_FILE: &str = ".aimgen.lock";

/// How long a writer waits for another one to finish.
pub const LOCK_WAIT: Duration = Duration::from_secs(10);

impl FolderLock {
    /// Takes the lock of `dir` (creating `dir/.aimgen.lock`, never through a symbolic link).
    pub fn acquire(dir: &Path) -> anyhow::Result<FolderLock> {
        let path = dir.join(LOCK_FILE);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
            .mode(0o644)
            .open(&path)
            .map_err(|e| anyhow::anyhow!("cannot open the lock file {}: {e}", path.display()))?;
        let meta = file.metadata()?;
        if !meta.file_type().is_file() {
            anyhow::bail!("{} is {}, not a lock file", path.display(), kind_name(meta.file_type()));
        }
        let start = Instant::now();
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(FolderLock { _file: file }),
                Err(std::fs::TryLockError::WouldBlock) if start.elapsed() < LOCK_WAIT => {
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(std::fs::TryLockError::WouldBlock) => anyhow::bail!(
                    "another aimgen is writing into {} (it holds {} for more than {} s); nothing was written",
                    dir.display(),
                    path.display(),
                    LOCK_WAIT.as_secs()
                ),
                Err(std::fs::TryLockError::Error(e)) => {
                    anyhow::bail!("cannot lock {}: {e}", path.display())
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("aimgen-safe-fs-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).expect("scratch");
        d
    }

    #[test]
    fn refuses_what_is_not_a_regular_file() {
        let d = scratch("kinds");
        assert!(matches!(read_regular(&d, 10, true), Err(ReadProblem::NotRegular("a directory"))));
        assert!(matches!(read_regular(Path::new("/dev/zero"), 10, true), Err(ReadProblem::NotRegular(_))));
        let f = d.join("big");
        std::fs::write(&f, "12345").expect("write");
        assert!(matches!(read_regular(&f, 4, true), Err(ReadProblem::TooLarge(5))));
        assert_eq!(read_regular(&f, 5, true).expect("reads"), b"12345");
        std::os::unix::fs::symlink(&f, d.join("link")).expect("symlink");
        assert!(read_regular(&d.join("link"), 5, false).is_err());
        assert!(read_regular(&d.join("link"), 5, true).is_ok());
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn temp_names_are_fresh_and_exclusive() {
        let d = scratch("temp");
        let a = write_temp(&d, "x", b"1").expect("a");
        let b = write_temp(&d, "x", b"2").expect("b");
        assert_ne!(a, b);
        assert_eq!(std::fs::read(&a).expect("a"), b"1");
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn a_second_lock_on_a_folder_waits_then_fails() {
        let d = scratch("lock");
        let held = FolderLock::acquire(&d).expect("first");
        let other = File::open(d.join(LOCK_FILE)).expect("open");
        assert!(matches!(other.try_lock(), Err(std::fs::TryLockError::WouldBlock)));
        drop(held);
        assert!(other.try_lock().is_ok());
        let _ = std::fs::remove_dir_all(&d);
    }
}
