//! Secrets generated at first start and kept in `state_dir` (0600).

use std::io::Write;
use std::path::Path;

/// Reads `dir/name` (hex), or generates `len` random bytes and writes them
/// there with 0600 permissions.
pub(super) fn load_or_create(dir: &Path, name: &str, len: usize) -> std::io::Result<Vec<u8>> {
    let path = dir.join(name);
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            if let Some(bytes) = crate::encoding::from_hex(text.trim())
                && !bytes.is_empty()
            {
                return Ok(bytes);
            }
            return Err(std::io::Error::other(format!(
                "{} is not a hex secret",
                path.display()
            )));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let mut secret = vec![0u8; len];
    aws_lc_rs::rand::fill(&mut secret)
        .map_err(|_| std::io::Error::other("system random generator failed"))?;
    crate::admin::persist::private_dir(dir)?;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts.open(&path)?;
    f.write_all(crate::encoding::hex(&secret).as_bytes())?;
    f.sync_all()?;
    Ok(secret)
}

/// Random bytes that are not kept anywhere.
pub(super) fn ephemeral(len: usize) -> Vec<u8> {
    let mut secret = vec![0u8; len];
    let _ = aws_lc_rs::rand::fill(&mut secret);
    secret
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_secret_is_kept_and_private() {
        let dir = std::env::temp_dir().join(format!("stgw-secret-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let a = load_or_create(&dir, "s", 32).unwrap();
        let b = load_or_create(&dir, "s", 32).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.len(), 32);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.join("s"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
            let dir_mode = std::fs::metadata(&dir).unwrap().permissions().mode();
            assert_eq!(
                dir_mode & 0o777,
                0o700,
                "the state_dir it creates is private"
            );
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn state_dir_is_created_0700_and_an_existing_one_keeps_its_mode() {
        use std::os::unix::fs::PermissionsExt;
        let base = std::env::temp_dir().join(format!("stgw-state-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        let fresh = base.join("var");
        crate::runtime::snapshot::State::new(&fresh).unwrap();
        assert_eq!(mode(&fresh), 0o700);
        let existing = base.join("mine");
        std::fs::create_dir_all(&existing).unwrap();
        std::fs::set_permissions(&existing, std::fs::Permissions::from_mode(0o755)).unwrap();
        crate::runtime::snapshot::State::new(&existing).unwrap();
        assert_eq!(
            mode(&existing),
            0o755,
            "a folder stgw did not create is left alone"
        );
        let _ = std::fs::remove_dir_all(&base);
    }
}
