//! `FormatDateTime`'s .NET custom date and time formats (`yyyy`, `MM`, `dd`, `HH`, `hh`, `mm`,
//! `ss`, `f`…, `tt`, `zzz`, `K`, quoted literals): parse a value by one format, write it by
//! another. Anything else in a format is a literal, as in .NET.

use time::{Date, Month, PrimitiveDateTime, Time, UtcOffset};

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Year(usize),
    Month(usize),
    Day(usize),
    Hour24(usize),
    Hour12(usize),
    Minute(usize),
    Second(usize),
    Fraction(usize),
    AmPm,
    Offset(usize),
    Literal(char),
}

fn tokenize(format: &str) -> Vec<Token> {
    let chars: Vec<char> = format.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let run = chars[i..].iter().take_while(|&&x| x == c).count();
        let token = match c {
            'y' => Token::Year(run),
            'M' => Token::Month(run),
            'd' => Token::Day(run),
            'H' => Token::Hour24(run),
            'h' => Token::Hour12(run),
            'm' => Token::Minute(run),
            's' => Token::Second(run),
            'f' | 'F' => Token::Fraction(run),
            't' => Token::AmPm,
            'z' | 'K' => Token::Offset(run),
            '\'' | '"' => {
                let end = chars[i + 1..]
                    .iter()
                    .position(|&x| x == c)
                    .map(|p| p + i + 1);
                let end = end.unwrap_or(chars.len());
                out.extend(chars[i + 1..end].iter().map(|&ch| Token::Literal(ch)));
                i = end + 1;
                continue;
            }
            '\\' if i + 1 < chars.len() => {
                out.push(Token::Literal(chars[i + 1]));
                i += 2;
                continue;
            }
            other => {
                out.push(Token::Literal(other));
                i += 1;
                continue;
            }
        };
        out.push(token);
        i += run;
    }
    out
}

#[derive(Debug, Default)]
struct Fields {
    year: i32,
    month: u8,
    day: u8,
    hour: u8,
    minute: u8,
    second: u8,
    nanos: u32,
    pm: Option<bool>,
    offset: Option<UtcOffset>,
}

fn digits(input: &[char], pos: &mut usize, min: usize, max: usize) -> Option<u32> {
    let n = input[*pos..]
        .iter()
        .take(max)
        .take_while(|c| c.is_ascii_digit())
        .count();
    if n < min {
        return None;
    }
    let s: String = input[*pos..*pos + n].iter().collect();
    *pos += n;
    s.parse().ok()
}

fn parse(value: &str, format: &str) -> Option<(PrimitiveDateTime, Option<UtcOffset>)> {
    let input: Vec<char> = value.trim().chars().collect();
    let mut pos = 0;
    let mut f = Fields {
        month: 1,
        day: 1,
        ..Fields::default()
    };
    for token in tokenize(format) {
        // A one-letter specifier reads one or two digits; longer ones read exactly their width.
        let width = |n: usize| if n == 1 { (1, 2) } else { (n, n) };
        match token {
            Token::Year(n) => {
                let (min, max) = if n <= 2 { (2, 2) } else { (4, n.max(4)) };
                let y = digits(&input, &mut pos, min, max)? as i32;
                f.year = if n <= 2 { 2000 + y } else { y };
            }
            Token::Month(n) => {
                let (a, b) = width(n.min(2));
                f.month = digits(&input, &mut pos, a, b)? as u8;
            }
            Token::Day(n) => {
                let (a, b) = width(n.min(2));
                f.day = digits(&input, &mut pos, a, b)? as u8;
            }
            Token::Hour24(n) | Token::Hour12(n) => {
                let (a, b) = width(n.min(2));
                f.hour = digits(&input, &mut pos, a, b)? as u8;
            }
            Token::Minute(n) => {
                let (a, b) = width(n.min(2));
                f.minute = digits(&input, &mut pos, a, b)? as u8;
            }
            Token::Second(n) => {
                let (a, b) = width(n.min(2));
                f.second = digits(&input, &mut pos, a, b)? as u8;
            }
            Token::Fraction(n) => {
                let start = pos;
                let v = digits(&input, &mut pos, 1, n)?;
                let len = pos - start;
                f.nanos = v * 10u32.pow(9 - len as u32);
            }
            Token::AmPm => {
                let rest: String = input[pos..].iter().take(2).collect();
                match rest.to_ascii_uppercase().as_str() {
                    "AM" => f.pm = Some(false),
                    "PM" => f.pm = Some(true),
                    _ => return None,
                }
                pos += 2;
            }
            Token::Offset(_) => {
                if input.get(pos) == Some(&'Z') {
                    pos += 1;
                    f.offset = Some(UtcOffset::UTC);
                } else {
                    let sign = match input.get(pos)? {
                        '+' => 1,
                        '-' => -1,
                        _ => return None,
                    };
                    pos += 1;
                    let h = digits(&input, &mut pos, 1, 2)? as i8;
                    let mut m = 0;
                    if input.get(pos) == Some(&':') {
                        pos += 1;
                    }
                    if input.get(pos).is_some_and(char::is_ascii_digit) {
                        m = digits(&input, &mut pos, 2, 2)? as i8;
                    }
                    f.offset = UtcOffset::from_hms(sign * h, sign * m, 0).ok();
                }
            }
            Token::Literal(c) => {
                if input.get(pos) != Some(&c) {
                    return None;
                }
                pos += 1;
            }
        }
    }
    if pos != input.len() {
        return None;
    }
    match f.pm {
        Some(true) if f.hour < 12 => f.hour += 12,
        Some(false) if f.hour == 12 => f.hour = 0,
        _ => {}
    }
    let date = Date::from_calendar_date(f.year, Month::try_from(f.month).ok()?, f.day).ok()?;
    let time = Time::from_hms_nano(f.hour, f.minute, f.second, f.nanos).ok()?;
    Some((PrimitiveDateTime::new(date, time), f.offset))
}

fn format(dt: PrimitiveDateTime, offset: Option<UtcOffset>, format: &str) -> String {
    let mut out = String::new();
    let pad = |v: u32, n: usize| format!("{v:0n$}");
    for token in tokenize(format) {
        match token {
            Token::Year(n) if n <= 2 => out.push_str(&pad((dt.year() % 100) as u32, 2)),
            Token::Year(n) => out.push_str(&pad(dt.year() as u32, n.max(4))),
            Token::Month(n) => out.push_str(&pad(u8::from(dt.month()).into(), n.min(2))),
            Token::Day(n) => out.push_str(&pad(dt.day().into(), n.min(2))),
            Token::Hour24(n) => out.push_str(&pad(dt.hour().into(), n.min(2))),
            Token::Hour12(n) => {
                let h = match dt.hour() % 12 {
                    0 => 12,
                    h => h,
                };
                out.push_str(&pad(h.into(), n.min(2)));
            }
            Token::Minute(n) => out.push_str(&pad(dt.minute().into(), n.min(2))),
            Token::Second(n) => out.push_str(&pad(dt.second().into(), n.min(2))),
            Token::Fraction(n) => {
                let n = n.min(9);
                out.push_str(&pad(dt.nanosecond() / 10u32.pow(9 - n as u32), n));
            }
            Token::AmPm => out.push_str(if dt.hour() < 12 { "AM" } else { "PM" }),
            Token::Offset(n) => {
                let o = offset.unwrap_or(UtcOffset::UTC);
                let (h, m, _) = o.as_hms();
                let sign = if o.is_negative() { '-' } else { '+' };
                match n {
                    1 => out.push_str(&format!("{sign}{}", h.abs())),
                    2 => out.push_str(&format!("{sign}{:02}", h.abs())),
                    _ => out.push_str(&format!("{sign}{:02}:{:02}", h.abs(), m.abs())),
                }
            }
            Token::Literal(c) => out.push(c),
        }
    }
    out
}

/// `value`, read by .NET format `input`, written by `output`; `None` if it does not fit `input`.
pub fn reformat(value: &str, input: &str, output: &str) -> Option<String> {
    let (dt, offset) = parse(value, input)?;
    Some(format(dt, offset, output))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn microsofts_servicenow_example() {
        assert_eq!(
            reformat("20150123105347.1Z", "yyyyMMddHHmmss.fZ", "yyyy-MM-dd").as_deref(),
            Some("2015-01-23")
        );
    }

    #[test]
    fn twelve_hour_clocks_offsets_and_literals() {
        assert_eq!(
            reformat(
                "3/16/2020 7:05:09 PM",
                "M/d/yyyy h:mm:ss tt",
                "yyyy-MM-ddTHH:mm:ss"
            )
            .as_deref(),
            Some("2020-03-16T19:05:09")
        );
        assert_eq!(
            reformat("2020-12-31-08:00", "yyyy-MM-ddzzz", "yyyy-MM-dd").as_deref(),
            Some("2020-12-31")
        );
        assert_eq!(
            reformat("2020-12-31", "yyyy-MM-dd", "dd 'of' MM, yy").as_deref(),
            Some("31 of 12, 20")
        );
        assert_eq!(reformat("2020-13-31", "yyyy-MM-dd", "yyyy"), None);
        assert_eq!(reformat("2020-12-31x", "yyyy-MM-dd", "yyyy"), None);
    }
}
