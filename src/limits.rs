//! Process limits. A proxy holds two descriptors per proxied connection,
//! and the usual soft limit on open files (1024) would cap it near 500
//! clients; the hard limit is what the administrator allows. So stgw
//! raises its soft limit to the hard one at start, as HAProxy and Go
//! programs do (nginx asks for it with `worker_rlimit_nofile`).

use std::io;

/// The open-file limit before and after [`raise_open_files`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenFiles {
    /// The soft limit found at start.
    pub before: u64,
    /// The soft limit now.
    pub after: u64,
}

/// Raises the soft limit on open files to the hard limit (or, when that is
/// unlimited, to the kernel's `fs.nr_open`).
///
/// # Errors
///
/// The `getrlimit`/`setrlimit` error; the limit is then left as it was.
pub fn raise_open_files() -> io::Result<OpenFiles> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct it is given.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let before = limit.rlim_cur;
    let target = if limit.rlim_max == libc::RLIM_INFINITY {
        nr_open().unwrap_or(1 << 20)
    } else {
        limit.rlim_max
    };
    if before != libc::RLIM_INFINITY && before < target {
        limit.rlim_cur = target;
        // SAFETY: setrlimit reads the struct it is given.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) } != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(OpenFiles {
        before,
        after: before.max(target),
    })
}

/// The most descriptors one process may have (`/proc/sys/fs/nr_open`).
fn nr_open() -> Option<u64> {
    std::fs::read_to_string("/proc/sys/fs/nr_open")
        .ok()?
        .trim()
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn soft_and_hard() -> (u64, u64) {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit writes into the struct it is given.
        assert_eq!(
            unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) },
            0
        );
        (limit.rlim_cur, limit.rlim_max)
    }

    #[test]
    fn the_soft_limit_ends_at_the_hard_one() {
        let raised = raise_open_files().expect("getrlimit and setrlimit work");
        let (soft, hard) = soft_and_hard();
        assert_eq!(raised.after, soft);
        assert!(raised.after >= raised.before);
        if hard != libc::RLIM_INFINITY {
            assert_eq!(soft, hard);
        }
        // Raising again changes nothing.
        let again = raise_open_files().expect("works twice");
        assert_eq!(again.before, again.after);
    }
}
