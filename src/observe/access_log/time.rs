//! `time_local`: nginx's `10/Oct/2000:13:55:36 +0800`, in the process's
//! time zone, formatted at most once per second.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::calendar::civil_from_days;

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// The last second formatted and its text.
#[derive(Debug, Default)]
pub(super) struct LocalTime {
    second: Option<i64>,
    text: String,
}

impl LocalTime {
    /// `time` as nginx's `time_local`.
    pub(super) fn format(&mut self, time: SystemTime) -> &str {
        let second = match time.duration_since(UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
            Err(e) => -i64::try_from(e.duration().as_secs()).unwrap_or(i64::MAX),
        };
        if self.second != Some(second) {
            self.second = Some(second);
            self.text = render(second);
        }
        &self.text
    }
}

/// Broken-down local time and the offset from UTC in seconds.
struct Civil {
    year: i64,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
    offset: i64,
}

fn render(second: i64) -> String {
    let c = local(second).unwrap_or_else(|| utc(second));
    let sign = if c.offset < 0 { '-' } else { '+' };
    let off = c.offset.unsigned_abs() / 60;
    format!(
        "{:02}/{}/{:04}:{:02}:{:02}:{:02} {sign}{:02}{:02}",
        c.day,
        MONTHS[(c.month as usize).saturating_sub(1).min(11)],
        c.year,
        c.hour,
        c.minute,
        c.second,
        off / 60,
        off % 60
    )
}

/// The C library's local time (it knows the zone and its DST rules).
fn local(second: i64) -> Option<Civil> {
    let t = libc::time_t::try_from(second).ok()?;
    // SAFETY: localtime_r writes only into `tm`, which outlives the call,
    // and reads only `t`; it is the thread-safe variant.
    let tm = unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        if libc::localtime_r(&t, &mut tm).is_null() {
            return None;
        }
        tm
    };
    Some(Civil {
        year: i64::from(tm.tm_year) + 1900,
        month: u32::try_from(tm.tm_mon + 1).ok()?,
        day: u32::try_from(tm.tm_mday).ok()?,
        hour: u32::try_from(tm.tm_hour).ok()?,
        minute: u32::try_from(tm.tm_min).ok()?,
        second: u32::try_from(tm.tm_sec).ok()?,
        offset: tm.tm_gmtoff,
    })
}

/// UTC from seconds since the epoch.
fn utc(second: i64) -> Civil {
    let days = second.div_euclid(86_400);
    let rest = second.rem_euclid(86_400) as u32;
    let (year, month, day) = civil_from_days(days);
    let (month, day) = (month as u32, day as u32);
    Civil {
        year,
        month,
        day,
        hour: rest / 3600,
        minute: rest / 60 % 60,
        second: rest % 60,
        offset: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_dates_are_nginx_formatted() {
        let c = utc(971_185_736);
        assert_eq!((c.year, c.month, c.day), (2000, 10, 10));
        assert_eq!((c.hour, c.minute, c.second), (13, 48, 56));
        let c = utc(951_782_400); // 2000-02-29
        assert_eq!((c.year, c.month, c.day), (2000, 2, 29));
    }

    #[test]
    fn local_time_has_the_shape_of_time_local() {
        let mut t = LocalTime::default();
        let text = t.format(UNIX_EPOCH + std::time::Duration::from_secs(971_185_736));
        let re = regex::Regex::new(r"^\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}$").unwrap();
        assert!(re.is_match(text), "{text}");
    }
}
