//! Binary upgrades without a refused connection: a new stgw takes the
//! listening sockets of the running one.
//!
//! The running process listens on a Unix socket in `state_dir`. A new
//! process started with `--upgrade` connects to it and receives every
//! listening socket (the file descriptors themselves, over `SCM_RIGHTS`),
//! so both processes accept from the very same kernel queues: no
//! connection is lost while the old process stops accepting, finishes its
//! requests (bounded by `drain_timeout`) and exits.

use std::collections::HashMap;
use std::io::{self, BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

/// Descriptors per message (below the kernel's SCM_MAX_FD of 253).
const BATCH: usize = 200;

/// The handoff socket of a state_dir.
pub fn socket_path(state_dir: &Path) -> PathBuf {
    state_dir.join("stgw.sock")
}

/// Asks the running process for its listening sockets (new process side).
/// After this returns, the old process drains and exits.
pub fn take_over(path: &Path) -> io::Result<HashMap<SocketAddr, std::net::TcpListener>> {
    let mut stream = UnixStream::connect(path)?;
    stream.write_all(b"TAKEOVER\n")?;
    let mut sockets = HashMap::new();
    loop {
        let (text, fds) = recv_with_fds(&stream)?;
        if text == "END\n" {
            break;
        }
        let addrs: Vec<&str> = text.lines().collect();
        if addrs.len() != fds.len() {
            return Err(io::Error::other(
                "handoff: addresses and sockets do not match",
            ));
        }
        for (addr, fd) in addrs.into_iter().zip(fds) {
            let addr: SocketAddr = addr
                .parse()
                .map_err(|_| io::Error::other("handoff: bad address"))?;
            let listener = std::net::TcpListener::from(fd);
            listener.set_nonblocking(true)?;
            sockets.insert(addr, listener);
        }
        // One message at a time: a stream socket could merge two.
        stream.write_all(b"NEXT\n")?;
    }
    stream.write_all(b"OK\n")?;
    Ok(sockets)
}

/// Serves one handoff request on `stream` (old process side): sends
/// `sockets` and returns once the new process confirmed it has them.
pub fn hand_over(stream: UnixStream, sockets: &[(SocketAddr, RawFd)]) -> io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    if line.is_empty() {
        // A liveness check: connected and left.
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    if line != "TAKEOVER\n" {
        return Err(io::Error::other("handoff: unknown request"));
    }
    for batch in sockets.chunks(BATCH) {
        let text: String = batch.iter().map(|(a, _)| format!("{a}\n")).collect();
        let fds: Vec<RawFd> = batch.iter().map(|(_, fd)| *fd).collect();
        send_with_fds(&stream, text.as_bytes(), &fds)?;
        line.clear();
        reader.read_line(&mut line)?;
        if line != "NEXT\n" {
            return Err(io::Error::other("handoff: batch not confirmed"));
        }
    }
    send_with_fds(&stream, b"END\n", &[])?;
    line.clear();
    reader.read_line(&mut line)?;
    if line != "OK\n" {
        return Err(io::Error::other("handoff: not confirmed"));
    }
    Ok(())
}

fn send_with_fds(stream: &UnixStream, data: &[u8], fds: &[RawFd]) -> io::Result<()> {
    let fd_bytes = std::mem::size_of_val(fds);
    // SAFETY: CMSG_SPACE only computes a size.
    let space = unsafe { libc::CMSG_SPACE(fd_bytes as u32) } as usize;
    let mut control = vec![0u8; if fds.is_empty() { 0 } else { space }];
    let mut iov = libc::iovec {
        iov_base: data.as_ptr() as *mut libc::c_void,
        iov_len: data.len(),
    };
    // SAFETY: an all-zero msghdr is valid; every pointer set below outlives
    // the sendmsg call.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    if !fds.is_empty() {
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = space as _;
        // SAFETY: msg_control points at `space` bytes, enough for one
        // header and `fds`.
        unsafe {
            let cmsg = libc::CMSG_FIRSTHDR(&msg);
            (*cmsg).cmsg_level = libc::SOL_SOCKET;
            (*cmsg).cmsg_type = libc::SCM_RIGHTS;
            (*cmsg).cmsg_len = libc::CMSG_LEN(fd_bytes as u32) as _;
            std::ptr::copy_nonoverlapping(
                fds.as_ptr().cast::<u8>(),
                libc::CMSG_DATA(cmsg),
                fd_bytes,
            );
        }
    }
    // SAFETY: `msg` is fully initialised above.
    let sent = unsafe { libc::sendmsg(stream.as_raw_fd(), &msg, 0) };
    if sent < 0 {
        return Err(io::Error::last_os_error());
    }
    if sent as usize != data.len() {
        return Err(io::Error::other("handoff: short send"));
    }
    Ok(())
}

fn recv_with_fds(stream: &UnixStream) -> io::Result<(String, Vec<OwnedFd>)> {
    let mut data = vec![0u8; 64 * 1024];
    // SAFETY: CMSG_SPACE only computes a size.
    let space = unsafe { libc::CMSG_SPACE((BATCH * std::mem::size_of::<RawFd>()) as u32) } as usize;
    let mut control = vec![0u8; space];
    let mut iov = libc::iovec {
        iov_base: data.as_mut_ptr().cast(),
        iov_len: data.len(),
    };
    // SAFETY: as in `send_with_fds`.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = space as _;
    // SAFETY: the buffers outlive the call; MSG_CMSG_CLOEXEC keeps the
    // received descriptors from leaking into children.
    let n = unsafe { libc::recvmsg(stream.as_raw_fd(), &mut msg, libc::MSG_CMSG_CLOEXEC) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    if n == 0 {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    let mut fds = Vec::new();
    // SAFETY: the kernel filled `control`; walk its headers as cmsg(3) says.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
        while !cmsg.is_null() {
            if (*cmsg).cmsg_level == libc::SOL_SOCKET && (*cmsg).cmsg_type == libc::SCM_RIGHTS {
                let bytes = (*cmsg).cmsg_len as usize - libc::CMSG_LEN(0) as usize;
                let count = bytes / std::mem::size_of::<RawFd>();
                let base = libc::CMSG_DATA(cmsg).cast::<RawFd>();
                for i in 0..count {
                    fds.push(OwnedFd::from_raw_fd(std::ptr::read_unaligned(base.add(i))));
                }
            }
            cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
        }
    }
    data.truncate(n as usize);
    let text = String::from_utf8(data).map_err(|_| io::Error::other("handoff: bad message"))?;
    Ok((text, fds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listening_sockets_cross_a_unix_socket() {
        let a = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let b = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let (addr_a, addr_b) = (a.local_addr().unwrap(), b.local_addr().unwrap());
        let dir = std::env::temp_dir().join(format!("stgw-handoff-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = socket_path(&dir);
        let _ = std::fs::remove_file(&path);
        let server = std::os::unix::net::UnixListener::bind(&path).unwrap();
        let sockets = vec![(addr_a, a.as_raw_fd()), (addr_b, b.as_raw_fd())];
        let old = std::thread::spawn(move || {
            let (stream, _) = server.accept().unwrap();
            hand_over(stream, &sockets).unwrap();
        });
        let got = take_over(&path).unwrap();
        old.join().unwrap();
        assert_eq!(got.len(), 2);
        // The received socket accepts what is sent to the original address.
        let received = got[&addr_a].try_clone().unwrap();
        received.set_nonblocking(false).unwrap();
        let _client = std::net::TcpStream::connect(addr_a).unwrap();
        assert!(received.accept().is_ok());
        let _ = std::fs::remove_dir_all(&dir);
        drop((a, b));
    }
}
