//! The PROXY protocol (v1 text and v2 binary, HAProxy's specification),
//! read before anything else on connections from trusted L4 proxies, so the
//! client's address survives the L4 tier.
//!
//! The header is read with `MSG_PEEK` first and then consumed exactly, so
//! nothing after it (the HTTP request or the TLS ClientHello) is taken from
//! the socket.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

/// The v2 signature.
const V2_SIGNATURE: [u8; 12] = [
    0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A,
];
/// Longest v1 header, CRLF included.
const V1_MAX: usize = 107;

/// Why a PROXY header was refused.
#[derive(Debug, thiserror::Error)]
pub(super) enum ProxyHeaderError {
    /// The peer closed or the socket failed.
    #[error("reading the PROXY header: {0}")]
    Io(#[from] std::io::Error),
    /// Not a PROXY v1 or v2 header.
    #[error("not a PROXY protocol header")]
    Missing,
    /// A PROXY header that does not parse.
    #[error("malformed PROXY header: {0}")]
    Malformed(&'static str),
}

/// Reads a PROXY header from `stream`: the client's address, or `None` for
/// `PROXY UNKNOWN` / v2 `LOCAL` (the connection's own address stands).
pub(super) async fn read_header(
    stream: &mut TcpStream,
) -> Result<Option<SocketAddr>, ProxyHeaderError> {
    let mut buf = [0u8; 232];
    let mut seen = 0;
    loop {
        let n = stream.peek(&mut buf).await?;
        if n == 0 {
            return Err(ProxyHeaderError::Missing);
        }
        if n == seen {
            // Nothing new yet (peek returns what is buffered at once).
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        seen = n;
        match parse(&buf[..n]) {
            Parsed::Incomplete if n < buf.len() => continue,
            Parsed::Incomplete => return Err(ProxyHeaderError::Malformed("too long")),
            Parsed::Invalid(e) => return Err(e),
            Parsed::Done { len, addr } => {
                let mut header = vec![0u8; len];
                stream.read_exact(&mut header).await?;
                return Ok(addr);
            }
        }
    }
}

enum Parsed {
    Incomplete,
    Invalid(ProxyHeaderError),
    Done {
        len: usize,
        addr: Option<SocketAddr>,
    },
}

fn parse(data: &[u8]) -> Parsed {
    let sig = &V2_SIGNATURE[..data.len().min(12)];
    if data.first() == Some(&0x0D) && data.starts_with(sig) {
        return parse_v2(data);
    }
    let v1 = b"PROXY ";
    if !data.starts_with(&v1[..data.len().min(6)]) {
        return Parsed::Invalid(ProxyHeaderError::Missing);
    }
    parse_v1(data)
}

fn parse_v1(data: &[u8]) -> Parsed {
    let Some(end) = data.windows(2).position(|w| w == b"\r\n") else {
        return if data.len() >= V1_MAX {
            Parsed::Invalid(ProxyHeaderError::Malformed(
                "v1 header longer than 107 bytes",
            ))
        } else {
            Parsed::Incomplete
        };
    };
    let Ok(line) = std::str::from_utf8(&data[..end]) else {
        return Parsed::Invalid(ProxyHeaderError::Malformed("v1 header is not text"));
    };
    let parts: Vec<&str> = line.split(' ').collect();
    let addr = match parts.as_slice() {
        ["PROXY", "UNKNOWN", ..] => None,
        [
            "PROXY",
            family @ ("TCP4" | "TCP6"),
            src,
            _dst,
            sport,
            _dport,
        ] => {
            let ip: Option<IpAddr> = match *family {
                "TCP4" => src.parse::<Ipv4Addr>().ok().map(IpAddr::V4),
                _ => src.parse::<Ipv6Addr>().ok().map(IpAddr::V6),
            };
            match (ip, sport.parse::<u16>()) {
                (Some(ip), Ok(port)) => Some(SocketAddr::new(ip, port)),
                _ => return Parsed::Invalid(ProxyHeaderError::Malformed("v1 address")),
            }
        }
        _ => return Parsed::Invalid(ProxyHeaderError::Malformed("v1 fields")),
    };
    Parsed::Done { len: end + 2, addr }
}

fn parse_v2(data: &[u8]) -> Parsed {
    if data.len() < 16 {
        return Parsed::Incomplete;
    }
    if data[..12] != V2_SIGNATURE {
        return Parsed::Invalid(ProxyHeaderError::Missing);
    }
    let version = data[12] >> 4;
    let command = data[12] & 0x0F;
    if version != 2 {
        return Parsed::Invalid(ProxyHeaderError::Malformed("v2 version"));
    }
    let len = 16 + usize::from(u16::from_be_bytes([data[14], data[15]]));
    if data.len() < len.min(232) {
        return Parsed::Incomplete;
    }
    if len > 232 {
        // TLVs beyond what we peek: the addresses come first, so parse them
        // from what we have and consume the rest with the header.
        if data.len() < 232 {
            return Parsed::Incomplete;
        }
    }
    let body = &data[16..data.len().min(len)];
    let addr = match (command, data[13]) {
        (0x0, _) => None, // LOCAL: health checks of the L4 proxy itself
        (0x1, 0x11) if body.len() >= 12 => {
            let ip = Ipv4Addr::new(body[0], body[1], body[2], body[3]);
            Some(SocketAddr::new(
                IpAddr::V4(ip),
                u16::from_be_bytes([body[8], body[9]]),
            ))
        }
        (0x1, 0x21) if body.len() >= 36 => {
            let mut octets = [0u8; 16];
            octets.copy_from_slice(&body[..16]);
            Some(SocketAddr::new(
                IpAddr::V6(Ipv6Addr::from(octets)),
                u16::from_be_bytes([body[32], body[33]]),
            ))
        }
        (0x1, 0x00) => None, // UNSPEC
        (0x1, _) => return Parsed::Invalid(ProxyHeaderError::Malformed("v2 address family")),
        _ => return Parsed::Invalid(ProxyHeaderError::Malformed("v2 command")),
    };
    Parsed::Done { len, addr }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn done(data: &[u8]) -> (usize, Option<SocketAddr>) {
        match parse(data) {
            Parsed::Done { len, addr } => (len, addr),
            Parsed::Incomplete => panic!("incomplete"),
            Parsed::Invalid(e) => panic!("{e}"),
        }
    }

    #[test]
    fn v1_headers_give_the_client_address() {
        let h = b"PROXY TCP4 203.0.113.7 10.0.0.1 56324 443\r\nGET / HTTP/1.1\r\n";
        assert_eq!(done(h), (43, Some("203.0.113.7:56324".parse().unwrap())));
        let h = b"PROXY TCP6 2001:db8::7 2001:db8::1 4000 443\r\n";
        assert_eq!(done(h).1, Some("[2001:db8::7]:4000".parse().unwrap()));
        assert_eq!(done(b"PROXY UNKNOWN\r\n").1, None);
    }

    #[test]
    fn v2_headers_give_the_client_address() {
        let mut h = V2_SIGNATURE.to_vec();
        h.extend_from_slice(&[
            0x21, 0x11, 0, 12, 203, 0, 113, 7, 10, 0, 0, 1, 0xDC, 0x04, 0x01, 0xBB,
        ]);
        h.extend_from_slice(b"GET /");
        assert_eq!(done(&h), (28, Some("203.0.113.7:56324".parse().unwrap())));
        let mut local = V2_SIGNATURE.to_vec();
        local.extend_from_slice(&[0x20, 0x00, 0, 0]);
        assert_eq!(done(&local), (16, None));
    }

    #[test]
    fn partial_headers_wait_and_garbage_is_refused() {
        assert!(matches!(parse(b"PROXY TCP4 1.2"), Parsed::Incomplete));
        assert!(matches!(parse(&V2_SIGNATURE[..5]), Parsed::Incomplete));
        assert!(matches!(
            parse(b"GET / HTTP/1.1\r\n"),
            Parsed::Invalid(ProxyHeaderError::Missing)
        ));
        assert!(matches!(
            parse(b"PROXY TCP4 nope 1.2.3.4 1 2\r\n"),
            Parsed::Invalid(_)
        ));
        assert!(matches!(parse(&[b'P'; 120]), Parsed::Invalid(_)));
    }
}
