//! The `Date` field of answers (RFC 9110 §6.6.1, IMF-fixdate), rendered at
//! most once per second per thread.

use std::cell::Cell;
use std::time::{SystemTime, UNIX_EPOCH};

/// Length of an IMF-fixdate: `Sun, 06 Nov 1994 08:49:37 GMT`.
pub(super) const LEN: usize = 29;

const DAYS: [&[u8; 3]; 7] = [b"Thu", b"Fri", b"Sat", b"Sun", b"Mon", b"Tue", b"Wed"];
const MONTHS: [&[u8; 3]; 12] = [
    b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec",
];

thread_local! {
    /// The second last rendered and its text.
    static CACHE: Cell<(u64, [u8; LEN])> = const { Cell::new((u64::MAX, [0; LEN])) };
}

/// Appends the current time as an IMF-fixdate to `out`.
pub(super) fn extend(out: &mut Vec<u8>) {
    let second = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let text = CACHE.with(|cache| {
        let (cached, text) = cache.get();
        if cached == second {
            return text;
        }
        let text = render(second);
        cache.set((second, text));
        text
    });
    out.extend_from_slice(&text);
}

/// `second` (since the epoch, UTC) as an IMF-fixdate.
fn render(second: u64) -> [u8; LEN] {
    let days = second / 86_400;
    let rest = second % 86_400;
    // Howard Hinnant's civil-from-days, for days since 1970-01-01.
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = (yoe + era * 400 + u64::from(month <= 2)).min(9999);
    let mut out = *b"Thu, 01 Jan 1970 00:00:00 GMT";
    out[..3].copy_from_slice(DAYS[(days % 7) as usize]);
    two(&mut out[5..7], day);
    out[8..11].copy_from_slice(MONTHS[(month - 1) as usize]);
    two(&mut out[12..14], year / 100);
    two(&mut out[14..16], year % 100);
    two(&mut out[17..19], rest / 3600);
    two(&mut out[20..22], rest / 60 % 60);
    two(&mut out[23..25], rest % 60);
    out
}

fn two(out: &mut [u8], n: u64) {
    out[0] = b'0' + (n / 10 % 10) as u8;
    out[1] = b'0' + (n % 10) as u8;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_imf_fixdates() {
        assert_eq!(&render(0), b"Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(&render(784_111_777), b"Sun, 06 Nov 1994 08:49:37 GMT");
        // A leap day, and the day after.
        assert_eq!(&render(951_782_400), b"Tue, 29 Feb 2000 00:00:00 GMT");
        assert_eq!(&render(951_868_799), b"Tue, 29 Feb 2000 23:59:59 GMT");
        assert_eq!(&render(1_795_785_600), b"Fri, 27 Nov 2026 13:20:00 GMT");
    }

    #[test]
    fn extends_with_the_current_date() {
        let mut out = b"date: ".to_vec();
        extend(&mut out);
        assert_eq!(out.len(), 6 + LEN);
        assert!(out.ends_with(b" GMT"));
    }
}
