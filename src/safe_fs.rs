//! Opening, reading and writing files so that no planted file can make aimgen hang, read
//! without bound, or write somewhere else: inputs are read only when they are regular files
//! (checked on the open handle, after a non-blocking open, so a FIFO cannot block), with the
//! size cap checked before reading; outputs go to a new temporary file (`O_EXCL`, no symlink
//! followed, unpredictable name) in the target folder and are renamed into place; a lock on
//! the folder serializes concurrent writers. Writers work through `Dir`, an open handle on
//! the output folder: every name is resolved against the handle (`openat`, `renameat`), so
//! a folder on the way that is swapped for a symbolic link after it was checked cannot
//! redirect a write.

use std::fs::{File, OpenOptions};
use std::hash::{BuildHasher, Hasher};
use std::io::{self, Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStringExt;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, Mode, OFlags};
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
    check_regular(&file, cap)?;
    Ok(file)
}

/// Checks on an open handle that it is a regular file of at most `cap` bytes.
fn check_regular(file: &File, cap: u64) -> Result<(), ReadProblem> {
    let meta = file.metadata().map_err(ReadProblem::Io)?;
    if !meta.file_type().is_file() {
        return Err(ReadProblem::NotRegular(kind_name(meta.file_type())));
    }
    if meta.len() > cap {
        return Err(ReadProblem::TooLarge(meta.len()));
    }
    Ok(())
}

/// Reads a regular file of at most `cap` bytes (see `open_regular`). A file that grows past
/// the cap while being read is refused too.
pub fn read_regular(path: &Path, cap: u64, follow: bool) -> Result<Vec<u8>, ReadProblem> {
    read_capped(open_regular(path, cap, follow)?, cap)
}

/// Reads an open, checked regular file (see `check_regular`); a file that grows past the cap
/// while being read is refused too.
fn read_capped(file: File, cap: u64) -> Result<Vec<u8>, ReadProblem> {
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

/// An open folder. Names given to its methods are single path components (no `/`), resolved
/// against the handle and never through a symbolic link: once a `Dir` is open, renaming or
/// replacing the path it was opened by changes nothing about where its files go.
#[derive(Debug)]
pub struct Dir {
    fd: OwnedFd,
    path: PathBuf,
}

/// Flags for opening a folder handle: the last component may not be a symbolic link.
fn dir_flags() -> OFlags {
    OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC
}

/// A name inside one folder: not empty, no `/`, not `.` or `..`.
fn check_name(name: &str) -> io::Result<()> {
    if name.is_empty() || name == "." || name == ".." || name.contains('/') || name.contains('\0') {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("{name:?} is not a plain file name")));
    }
    Ok(())
}

impl Dir {
    /// Opens the folder at `path`; a symbolic link there is refused (`ELOOP`/`ENOTDIR`).
    pub fn open(path: &Path) -> io::Result<Dir> {
        let fd = rustix::fs::open(path, dir_flags(), Mode::empty())?;
        Ok(Dir { fd, path: path.to_path_buf() })
    }

    /// The same handle, shown in messages as `path` (e.g. the path a user gave, where the
    /// handle was opened by its resolved form).
    pub fn shown_as(self, path: &Path) -> Dir {
        Dir { fd: self.fd, path: path.to_path_buf() }
    }

    /// The path this handle was opened by, for messages only.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Opens the folder `name` inside this one, first creating it when `create`; a symbolic
    /// link or anything else that is not a folder is refused. `Ok(None)` when it does not
    /// exist (and `create` is false).
    pub fn subdir(&self, name: &str, create: bool) -> io::Result<Option<Dir>> {
        check_name(name)?;
        if create {
            match rustix::fs::mkdirat(&self.fd, name, Mode::from_raw_mode(0o755)) {
                Ok(()) | Err(rustix::io::Errno::EXIST) => {}
                Err(e) => return Err(e.into()),
            }
        }
        match rustix::fs::openat(&self.fd, name, dir_flags(), Mode::empty()) {
            Ok(fd) => Ok(Some(Dir { fd, path: self.path.join(name) })),
            Err(rustix::io::Errno::NOENT) if !create => Ok(None),
            Err(e) => {
                // Name what is there instead of a bare ELOOP/ENOTDIR.
                if let Ok(Some(meta)) = self.metadata(name) {
                    if !meta.is_dir() {
                        return Err(io::Error::new(
                            io::ErrorKind::NotADirectory,
                            format!(
                                "{} is {}, not a folder",
                                self.path.join(name).display(),
                                kind_name(meta.file_type())
                            ),
                        ));
                    }
                }
                Err(e.into())
            }
        }
    }

    /// What `name` is, without following a symbolic link; `Ok(None)` when nothing is there.
    pub fn metadata(&self, name: &str) -> io::Result<Option<std::fs::Metadata>> {
        check_name(name)?;
        // O_PATH opens the name itself (a link, a FIFO, …) without reading or blocking.
        match rustix::fs::openat(&self.fd, name, OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC, Mode::empty()) {
            Ok(fd) => File::from(fd).metadata().map(Some),
            Err(rustix::io::Errno::NOENT) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Reads the regular file `name` of at most `cap` bytes (see `read_regular`), never
    /// through a symbolic link.
    pub fn read_regular(&self, name: &str, cap: u64) -> Result<Vec<u8>, ReadProblem> {
        check_name(name).map_err(ReadProblem::Io)?;
        let fd = rustix::fs::openat(
            &self.fd,
            name,
            OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| ReadProblem::Io(e.into()))?;
        let file = File::from(fd);
        check_regular(&file, cap)?;
        read_capped(file, cap)
    }

    /// Creates a new, empty file in this folder with an unpredictable name that starts with
    /// `.{stem}.` and ends with `.aimgen-tmp`, exclusively (`O_EXCL`: an existing file or
    /// symbolic link of that name is an error, never followed). Returns its name and handle.
    pub fn create_temp(&self, stem: &str) -> io::Result<(String, File)> {
        let mut last = None;
        for _ in 0..8 {
            let name = format!(".{stem}.{:016x}.aimgen-tmp", random_u64());
            check_name(&name)?;
            let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
            match rustix::fs::openat(&self.fd, name.as_str(), flags, Mode::from_raw_mode(0o644)) {
                Ok(fd) => return Ok((name, File::from(fd))),
                Err(rustix::io::Errno::EXIST) => last = Some(io::Error::from(rustix::io::Errno::EXIST)),
                Err(e) => return Err(e.into()),
            }
        }
        Err(last.unwrap_or_else(|| io::Error::other("no free temporary name")))
    }

    /// Creates a symbolic link to `target` in this folder under an unpredictable temporary
    /// name (as `create_temp` names files; `symlinkat` never replaces or follows what is
    /// there), for `rename` to put in place. Returns its name.
    pub fn symlink_temp(&self, stem: &str, target: &str) -> io::Result<String> {
        let mut last = None;
        for _ in 0..8 {
            let name = format!(".{stem}.{:016x}.aimgen-tmp", random_u64());
            check_name(&name)?;
            match rustix::fs::symlinkat(target, &self.fd, name.as_str()) {
                Ok(()) => return Ok(name),
                Err(rustix::io::Errno::EXIST) => last = Some(io::Error::from(rustix::io::Errno::EXIST)),
                Err(e) => return Err(e.into()),
            }
        }
        Err(last.unwrap_or_else(|| io::Error::other("no free temporary name")))
    }

    /// The target of the symbolic link `name`; `Ok(None)` when nothing is there or it is not a
    /// link.
    pub fn read_link(&self, name: &str) -> io::Result<Option<PathBuf>> {
        check_name(name)?;
        match rustix::fs::readlinkat(&self.fd, name, Vec::new()) {
            Ok(t) => Ok(Some(PathBuf::from(std::ffi::OsString::from_vec(t.into_bytes())))),
            Err(rustix::io::Errno::NOENT | rustix::io::Errno::INVAL) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Writes `bytes` into a new temporary file (see `create_temp`) and returns its name. With
    /// `sync`, the data reaches the disk before this returns.
    pub fn write_temp(&self, stem: &str, bytes: &[u8], sync: bool) -> io::Result<String> {
        let (name, mut f) = self.create_temp(stem)?;
        // No fsync unless asked: rename is atomic for readers, and a file lost to a power cut
        // is regenerated from its spec; syncing each of 1,000 env files took 3.9 s.
        if let Err(e) = f.write_all(bytes).and_then(|()| if sync { f.sync_all() } else { Ok(()) }) {
            let _ = self.remove(&name);
            return Err(e);
        }
        Ok(name)
    }

    /// Renames `from` to `to`, both in this folder (`renameat` on the handle): replaces `to`
    /// as a name, never writing through it.
    pub fn rename(&self, from: &str, to: &str) -> io::Result<()> {
        check_name(from)?;
        check_name(to)?;
        rustix::fs::renameat(&self.fd, from, &self.fd, to).map_err(io::Error::from)
    }

    /// Removes the file (not folder) `name` from this folder.
    pub fn remove(&self, name: &str) -> io::Result<()> {
        check_name(name)?;
        rustix::fs::unlinkat(&self.fd, name, AtFlags::empty()).map_err(io::Error::from)
    }
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
    /// Takes the lock of the folder at `dir` (see `acquire_in`).
    pub fn acquire(dir: &Path) -> anyhow::Result<FolderLock> {
        let handle = Dir::open(dir).map_err(|e| anyhow::anyhow!("cannot open the folder {}: {e}", dir.display()))?;
        FolderLock::acquire_in(&handle)
    }

    /// Takes the lock of an open folder (creating `.aimgen.lock` in it, never through a
    /// symbolic link).
    pub fn acquire_in(dir: &Dir) -> anyhow::Result<FolderLock> {
        let path = dir.path().join(LOCK_FILE);
        let flags = OFlags::RDWR | OFlags::CREATE | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
        let file = rustix::fs::openat(&dir.fd, LOCK_FILE, flags, Mode::from_raw_mode(0o644))
            .map(File::from)
            .map_err(|e| anyhow::anyhow!("cannot open the lock file {}: {}", path.display(), io::Error::from(e)))?;
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
                    dir.path().display(),
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
        let dir = Dir::open(&d).expect("open");
        let a = dir.write_temp("x", b"1", false).expect("a");
        let b = dir.write_temp("x", b"2", true).expect("b");
        assert_ne!(a, b);
        assert!(a.starts_with(".x.") && a.ends_with(".aimgen-tmp"), "{a}");
        assert_eq!(std::fs::read(d.join(&a)).expect("a"), b"1");
        assert_eq!(std::fs::read(d.join(&b)).expect("b"), b"2");
        let _ = std::fs::remove_dir_all(&d);
    }

    /// The write goes where the handle points, whatever the path now names: a folder on the
    /// way swapped for a symbolic link to elsewhere, after it was opened, changes nothing.
    #[test]
    fn a_swapped_folder_cannot_redirect_a_write() {
        let d = scratch("swap");
        let outside = d.join("outside");
        std::fs::create_dir_all(&outside).expect("mkdir");
        let root = Dir::open(&d).expect("open");
        let sub = root.subdir("out", true).expect("create").expect("exists");
        let tmp = sub.write_temp("f", b"new", false).expect("temp");
        // Swap: the real folder moves away and a link to `outside` takes its name.
        std::fs::rename(d.join("out"), d.join("moved")).expect("move");
        std::os::unix::fs::symlink(&outside, d.join("out")).expect("link");
        sub.rename(&tmp, "f").expect("rename");
        assert_eq!(std::fs::read(d.join("moved/f")).expect("written where the handle points"), b"new");
        assert!(std::fs::read_dir(&outside).expect("ls").next().is_none(), "nothing reached the link's target");
        // Opening by name now refuses the link, and so does every name-based method.
        assert!(root.subdir("out", false).is_err());
        assert!(root.subdir("out", true).is_err());
        assert!(Dir::open(&d.join("out")).is_err());
        assert!(root.metadata("out").expect("stat").is_some_and(|m| m.file_type().is_symlink()));
        std::os::unix::fs::symlink(d.join("moved/f"), d.join("moved/link")).expect("link");
        assert!(sub.read_regular("link", 10).is_err(), "a link is not read through");
        assert_eq!(sub.read_regular("f", 10).expect("reads"), b"new");
        for bad in ["", ".", "..", "a/b"] {
            assert!(sub.rename("f", bad).is_err() && sub.remove(bad).is_err(), "{bad:?}");
        }
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
