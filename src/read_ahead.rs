//! Bytes read ahead of a parser (past a request's head, or past a 101's),
//! served to the next reader before the socket is read again.

use bytes::{Buf, Bytes};
use tokio::io::ReadBuf;

/// Moves as much of `pending` into `buf` as fits; `false` when nothing
/// was pending (the caller reads its socket then). Once emptied,
/// `pending` lets go of the buffer it shared rather than keep it for the
/// connection's life.
pub(crate) fn serve_pending(pending: &mut Bytes, buf: &mut ReadBuf<'_>) -> bool {
    if pending.is_empty() {
        return false;
    }
    let n = pending.len().min(buf.remaining());
    buf.put_slice(&pending[..n]);
    pending.advance(n);
    if pending.is_empty() {
        *pending = Bytes::new();
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pending_bytes_are_served_in_order_as_room_allows_then_the_socket_is_read() {
        let mut pending = Bytes::from_static(b"abcde");
        let mut room = [0u8; 3];
        let mut buf = ReadBuf::new(&mut room);
        assert!(serve_pending(&mut pending, &mut buf));
        assert_eq!(buf.filled(), b"abc");
        let mut room = [0u8; 8];
        let mut buf = ReadBuf::new(&mut room);
        assert!(serve_pending(&mut pending, &mut buf));
        assert_eq!(buf.filled(), b"de");
        let mut buf = ReadBuf::new(&mut room);
        assert!(!serve_pending(&mut pending, &mut buf), "nothing left");
        assert!(buf.filled().is_empty());
    }
}
