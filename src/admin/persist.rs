//! Durable file writes: a crash at any moment leaves the old file or the
//! new one, never a torn one.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Replaces `path` with `bytes` atomically: writes a temporary file in the
/// same folder, fsyncs it, renames it over `path`, then fsyncs the folder
/// so the rename itself is durable. The new file keeps the old one's
/// permission bits, or gets `new_mode` when there was none.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8], new_mode: u32) -> io::Result<()> {
    StagedFile::write(path, bytes, new_mode)?.commit()
}

/// The new contents of a file, written and fsynced beside it and not yet
/// in its place: what can fail for want of space or permission has been
/// done, and only the rename is left. Dropped uncommitted, the temporary
/// file is removed and `path` is as it was.
#[derive(Debug)]
pub(crate) struct StagedFile {
    tmp: PathBuf,
    path: PathBuf,
    committed: bool,
}

impl StagedFile {
    /// Writes `bytes` to a temporary file in `path`'s folder and fsyncs
    /// it, with the mode [`write_atomic`] gives.
    pub(crate) fn write(path: &Path, bytes: &[u8], new_mode: u32) -> io::Result<StagedFile> {
        let name = path
            .file_name()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "not a file path"))?;
        let mode = fs::metadata(path)
            .map(|m| m.permissions().mode() & 0o7777)
            .unwrap_or(new_mode);
        let staged = StagedFile {
            tmp: folder(path).join(format!(
                ".{}.tmp-{}",
                name.to_string_lossy(),
                std::process::id()
            )),
            path: path.to_path_buf(),
            committed: false,
        };
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(mode)
            .open(&staged.tmp)?;
        file.set_permissions(fs::Permissions::from_mode(mode))?;
        file.write_all(bytes)?;
        file.sync_all()?;
        Ok(staged)
    }

    /// Renames the temporary file over the path and fsyncs the folder.
    pub(crate) fn commit(mut self) -> io::Result<()> {
        fs::rename(&self.tmp, &self.path)?;
        self.committed = true;
        File::open(folder(&self.path))?.sync_all()
    }
}

impl Drop for StagedFile {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

/// The folder `path` is in (`.` for a bare name).
fn folder(path: &Path) -> &Path {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    }
}

/// Creates `dir` with mode 0700 when it does not exist (its missing
/// parents get the usual mode). An existing folder is left as it is: like
/// nginx, stgw tightens only what it creates.
pub(crate) fn private_dir(dir: &Path) -> io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent)?;
    }
    match fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => {}
        // Created meanwhile by someone else: theirs to set.
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists && dir.is_dir() => return Ok(()),
        Err(e) => return Err(e),
    }
    // The umask may have taken bits away; 0700 is the point.
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_the_file_and_keeps_its_mode() {
        let dir = std::env::temp_dir().join(format!("stgw-persist-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("a.toml");
        write_atomic(&path, b"one", 0o600).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"one");
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).unwrap();
        write_atomic(&path, b"two", 0o600).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o640
        );
        let leftovers = fs::read_dir(&dir).unwrap().count();
        assert_eq!(leftovers, 1, "no temporary file is left behind");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_private_dir_is_created_0700_and_an_existing_one_is_left_alone() {
        let base = std::env::temp_dir().join(format!("stgw-private-{}", std::process::id()));
        let _ = fs::remove_dir_all(&base);
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        let dir = base.join("a").join("state");
        private_dir(&dir).unwrap();
        assert_eq!(mode(&dir), 0o700);
        let mine = base.join("mine");
        fs::create_dir_all(&mine).unwrap();
        fs::set_permissions(&mine, fs::Permissions::from_mode(0o750)).unwrap();
        private_dir(&mine).unwrap();
        assert_eq!(
            mode(&mine),
            0o750,
            "a folder stgw did not create keeps its mode"
        );
        fs::remove_dir_all(&base).unwrap();
    }
}
