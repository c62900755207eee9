//! Calendar durations for `keep-within` rules: `1y2m3d4h` (restic's syntax).

use jiff::{Span, Timestamp, ZonedDateTime};

use crate::{Error, Result};

/// A calendar duration: years, months, days and hours, each subtracted in
/// the plan's time zone (so `1d` before a daylight-saving change is 23 or 25
/// hours, and `1m` before March 31 is February's last day).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct RetentionDuration {
    /// Years.
    pub years: u32,
    /// Months.
    pub months: u32,
    /// Days.
    pub days: u32,
    /// Hours.
    pub hours: u32,
}

impl RetentionDuration {
    /// `years`, `months`, `days`, `hours`.
    pub fn new(years: u32, months: u32, days: u32, hours: u32) -> Self {
        RetentionDuration {
            years,
            months,
            days,
            hours,
        }
    }

    /// The instant this long before `anchor`.
    pub(crate) fn before(&self, anchor: &ZonedDateTime) -> Result<Timestamp> {
        let bad = |e: jiff::Error| Error::InvalidOption {
            what: format!("duration {self} before {anchor}: {e}"),
        };
        let span = Span::new()
            .try_years(-i64::from(self.years))
            .and_then(|s| s.try_months(-i64::from(self.months)))
            .and_then(|s| s.try_days(-i64::from(self.days)))
            .and_then(|s| s.try_hours(-i64::from(self.hours)))
            .map_err(bad)?;
        anchor.checked_add(span).map(|z| z.timestamp()).map_err(bad)
    }
}

impl std::fmt::Display for RetentionDuration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut any = false;
        for (n, unit) in [
            (self.years, 'y'),
            (self.months, 'm'),
            (self.days, 'd'),
            (self.hours, 'h'),
        ] {
            if n > 0 {
                write!(f, "{n}{unit}")?;
                any = true;
            }
        }
        if !any {
            f.write_str("0h")?;
        }
        Ok(())
    }
}

impl std::str::FromStr for RetentionDuration {
    type Err = Error;
    /// Parses `1y2m3d4h` (any subset, in any order; each unit at most once).
    fn from_str(s: &str) -> Result<Self> {
        let bad = |why: &str| Error::InvalidOption {
            what: format!("duration {s:?}: {why} (expected e.g. 1y2m3d4h)"),
        };
        let mut d = RetentionDuration::default();
        let mut seen = [false; 4];
        let mut digits = String::new();
        if s.is_empty() {
            return Err(bad("empty"));
        }
        for c in s.chars() {
            if c.is_ascii_digit() {
                digits.push(c);
                continue;
            }
            let (slot, i) = match c {
                'y' => (&mut d.years, 0),
                'm' => (&mut d.months, 1),
                'd' => (&mut d.days, 2),
                'h' => (&mut d.hours, 3),
                _ => return Err(bad("unknown unit")),
            };
            if digits.is_empty() || seen[i] {
                return Err(bad("a unit without a number, or twice"));
            }
            seen[i] = true;
            *slot = digits.parse().map_err(|_| bad("number too large"))?;
            digits.clear();
        }
        if !digits.is_empty() {
            return Err(bad("a number without a unit"));
        }
        Ok(d)
    }
}
