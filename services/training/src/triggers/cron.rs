//! Cron schedules (`minute hour day-of-month month day-of-week`, in UTC): numbers, `*`, ranges
//! `a-b`, lists `a,b` and steps `*/n` or `a-b/n`, as crontab(5) reads them — day-of-week 0 or 7
//! is Sunday, and when both day fields are restricted a day matching either counts.

use chrono::{DateTime, Datelike as _, Duration, Timelike as _, Utc};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cron {
    minutes: Vec<bool>,
    hours: Vec<bool>,
    days: Vec<bool>,
    months: Vec<bool>,
    weekdays: Vec<bool>,
    any_day: bool,
    any_weekday: bool,
}

/// How far ahead a schedule is searched for its next time (a Feb 29 falls within four years).
const HORIZON_DAYS: i64 = 5 * 366;

impl Cron {
    pub fn parse(text: &str) -> Result<Cron, String> {
        let fields: Vec<&str> = text.split_whitespace().collect();
        let [minute, hour, day, month, weekday] = fields.as_slice() else {
            return Err(format!("`{text}` is not five fields (minute hour day month weekday)"));
        };
        let mut weekdays = field(weekday, 0, 7, "day of week")?;
        if weekdays[7] {
            weekdays[0] = true;
        }
        weekdays.truncate(7);
        Ok(Cron {
            minutes: field(minute, 0, 59, "minute")?,
            hours: field(hour, 0, 23, "hour")?,
            days: field(day, 1, 31, "day of month")?,
            months: field(month, 1, 12, "month")?,
            weekdays,
            any_day: *day == "*",
            any_weekday: *weekday == "*",
        })
    }

    /// The first time after `after` (to the minute) the schedule names.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let start = after.with_second(0)?.with_nanosecond(0)? + Duration::minutes(1);
        let mut day = start.date_naive();
        for _ in 0..HORIZON_DAYS {
            if self.months[day.month() as usize]
                && self.day_matches(day.day() as usize, day.weekday().num_days_from_sunday() as usize)
            {
                let from = if day == start.date_naive() { (start.hour(), start.minute()) } else { (0, 0) };
                for hour in from.0..24 {
                    if !self.hours[hour as usize] {
                        continue;
                    }
                    let first = if hour == from.0 { from.1 } else { 0 };
                    if let Some(minute) = (first..60).find(|&minute| self.minutes[minute as usize]) {
                        return day.and_hms_opt(hour, minute, 0).map(|time| time.and_utc());
                    }
                }
            }
            day = day.succ_opt()?;
        }
        None
    }

    fn day_matches(&self, day: usize, weekday: usize) -> bool {
        match (self.any_day, self.any_weekday) {
            (true, true) => true,
            (false, true) => self.days[day],
            (true, false) => self.weekdays[weekday],
            (false, false) => self.days[day] || self.weekdays[weekday],
        }
    }
}

/// The values `text` selects of `low..=high`, as flags indexed by value.
fn field(text: &str, low: u32, high: u32, name: &str) -> Result<Vec<bool>, String> {
    let mut selected = vec![false; high as usize + 1];
    let bad = |part: &str| format!("`{part}` is not a {name} ({low}–{high})");
    for part in text.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((range, step)) => {
                (range, step.parse::<u32>().ok().filter(|&step| step > 0).ok_or_else(|| bad(part))?)
            }
            None => (part, 1),
        };
        let (from, to) = match range {
            "*" => (low, high),
            _ => match range.split_once('-') {
                Some((from, to)) => {
                    (from.parse().map_err(|_| bad(part))?, to.parse().map_err(|_| bad(part))?)
                }
                None => {
                    let value: u32 = range.parse().map_err(|_| bad(part))?;
                    (value, if step > 1 { high } else { value })
                }
            },
        };
        if from < low || to > high || from > to {
            return Err(bad(part));
        }
        for value in (from..=to).step_by(step as usize) {
            selected[value as usize] = true;
        }
    }
    Ok(selected)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
    }

    fn next(cron: &str, after: &str) -> String {
        Cron::parse(cron).unwrap().next_after(at(after)).unwrap().to_rfc3339()
    }

    #[test]
    fn schedules_name_their_next_time_as_crontab_does() {
        assert_eq!(next("0 3 * * *", "2026-12-07T23:51:10Z"), "2026-12-08T03:00:00+00:00");
        assert_eq!(next("0 3 * * *", "2026-12-08T03:00:00Z"), "2026-12-09T03:00:00+00:00");
        assert_eq!(next("*/15 * * * *", "2026-12-07T10:07:00Z"), "2026-12-07T10:15:00+00:00");
        assert_eq!(
            next("30 9 * * 1-5", "2026-12-11T10:00:00Z"),
            "2026-12-14T09:30:00+00:00",
            "Friday to Monday"
        );
        assert_eq!(next("0 0 1 * *", "2026-12-07T00:00:00Z"), "2027-01-01T00:00:00+00:00");
        assert_eq!(next("0 12 29 2 *", "2026-03-01T00:00:00Z"), "2028-02-29T12:00:00+00:00");
        assert_eq!(next("0 0 * * 7", "2026-12-07T00:00:00Z"), "2026-12-13T00:00:00+00:00", "7 is Sunday");
        assert_eq!(
            next("0 0 13 * 5", "2026-12-07T00:00:00Z"),
            "2026-12-11T00:00:00+00:00",
            "either day field"
        );
        assert_eq!(next("5,10-12 8 * * *", "2026-12-07T08:06:00Z"), "2026-12-07T08:10:00+00:00");
    }

    #[test]
    fn a_bad_schedule_is_refused_saying_which_field() {
        assert!(Cron::parse("0 3 * *").unwrap_err().contains("five fields"));
        assert!(Cron::parse("61 * * * *").unwrap_err().contains("minute"));
        assert!(Cron::parse("* 24 * * *").unwrap_err().contains("hour"));
        assert!(Cron::parse("* * 0 * *").unwrap_err().contains("day of month"));
        assert!(Cron::parse("* * * * 8").unwrap_err().contains("day of week"));
        assert!(Cron::parse("*/0 * * * *").is_err());
        assert!(Cron::parse("5-2 * * * *").is_err());
        assert_eq!(Cron::parse("0 0 31 2 *").unwrap().next_after(at("2026-01-01T00:00:00Z")), None, "never");
    }
}
