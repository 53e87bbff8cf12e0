//! Files only the service user may read: the data directory (0700), the database and its
//! WAL/SHM files and the console secret (0600), whatever the process umask. Modes that are
//! already looser (a directory created by an older version, a copied backup) are tightened.

use std::io::Write;
use std::path::Path;

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(path)?;
    if meta.permissions().mode() & 0o7777 == mode {
        return Ok(());
    }
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn set_mode(_path: &Path, _mode: u32) -> std::io::Result<()> {
    Ok(())
}

/// Creates `dir` (and its parents) and makes it 0700. A directory this user does not own
/// (a volume mounted by someone else) keeps its mode, with a warning.
pub fn private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    if let Err(e) = set_mode(dir, 0o700) {
        tracing::warn!(
            reason = "data_dir_mode",
            path = %dir.display(),
            "cannot make the data directory 0700: {e}"
        );
    }
    Ok(())
}

/// Makes an existing file 0600; a missing file is fine (SQLite creates WAL/SHM lazily).
pub fn tighten(path: &Path) -> std::io::Result<()> {
    match set_mode(path, 0o600) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

/// Creates `path` with mode 0600 from the start (never readable by others, not even for a
/// moment), without following or replacing an existing file. `AlreadyExists` when it is there.
pub fn create_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    // The umask may have cleared bits but never adds any; make the mode exact anyway.
    tighten(path)?;
    f.write_all(contents)?;
    f.sync_all()
}

/// The database file and the WAL/SHM files SQLite keeps next to it.
pub fn sqlite_files(db: &Path) -> [std::path::PathBuf; 3] {
    let with = |suffix: &str| {
        let mut s = db.as_os_str().to_owned();
        s.push(suffix);
        std::path::PathBuf::from(s)
    };
    [db.to_path_buf(), with("-wal"), with("-shm")]
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn loose_modes_are_tightened_and_new_files_are_private() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("data");
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        private_dir(&dir).unwrap();
        assert_eq!(mode(&dir), 0o700);
        let f = dir.join("x");
        std::fs::write(&f, b"").unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o666)).unwrap();
        tighten(&f).unwrap();
        assert_eq!(mode(&f), 0o600);
        tighten(&dir.join("missing")).unwrap();
        let s = dir.join("secret");
        create_private(&s, b"abc").unwrap();
        assert_eq!(mode(&s), 0o600);
        let again = create_private(&s, b"def").unwrap_err();
        assert_eq!(again.kind(), std::io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read(&s).unwrap(), b"abc");
    }
}
