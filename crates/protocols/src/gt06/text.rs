//! The two text layouts GT06 devices put inside binary frames: the
//! "Current position!" report and the `!AIOIL` fuel sensor line.

use trackd_model::Timestamp;

use super::fields::civil_time;

/// A fix from a "Current position!" report.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct TextFix {
    pub(crate) latitude: f64,
    pub(crate) longitude: f64,
    pub(crate) course: f64,
    pub(crate) speed_knots: f64,
    pub(crate) time: Timestamp,
}

/// A tiny cursor over text for the fixed patterns below.
struct Scan<'a>(&'a str);

impl<'a> Scan<'a> {
    fn lit(&mut self, text: &str) -> Option<()> {
        self.0 = self.0.strip_prefix(text)?;
        Some(())
    }

    fn digits(&mut self, exactly: Option<usize>) -> Option<&'a str> {
        let n = self.0.bytes().take_while(u8::is_ascii_digit).count();
        let n = match exactly {
            Some(want) if n >= want => want,
            Some(_) => return None,
            None if n > 0 => n,
            None => return None,
        };
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Some(head)
    }

    /// `\d+\.\d+`
    fn decimal(&mut self) -> Option<f64> {
        let start = self.0;
        self.digits(None)?;
        self.lit(".")?;
        self.digits(None)?;
        start.get(..start.len() - self.0.len())?.parse().ok()
    }

    fn number(&mut self, n: usize) -> Option<u32> {
        self.digits(Some(n))?.parse().ok()
    }

    fn one_of(&mut self, set: &[char]) -> Option<char> {
        let c = self.0.chars().next().filter(|c| set.contains(c))?;
        self.0 = self.0.get(c.len_utf8()..)?;
        Some(c)
    }
}

/// `Current position!Lat:N54.739332,Lon:E25.273270,Course:126.53,
/// Speed:0.0000,DateTime:2017-05-26  10:27:47` (the whole text).
pub(crate) fn parse_location(text: &str) -> Option<TextFix> {
    let mut s = Scan(text);
    s.lit("Current position!Lat:")?;
    let ns = s.one_of(&['N', 'S'])?;
    let lat = s.decimal()?;
    s.lit(",Lon:")?;
    let ew = s.one_of(&['E', 'W'])?;
    let lon = s.decimal()?;
    s.lit(",Course:")?;
    let course = s.decimal()?;
    s.lit(",Speed:")?;
    let speed = s.decimal()?;
    s.lit(",DateTime:")?;
    let year = s.number(4)?;
    s.lit("-")?;
    let month = s.number(2)?;
    s.lit("-")?;
    let day = s.number(2)?;
    let spaces = s.0.len() - s.0.trim_start_matches(' ').len();
    if spaces == 0 {
        return None;
    }
    s.0 = s.0.trim_start_matches(' ');
    let hour = s.number(2)?;
    s.lit(":")?;
    let minute = s.number(2)?;
    s.lit(":")?;
    let second = s.number(2)?;
    if !s.0.is_empty() {
        return None;
    }
    Some(TextFix {
        latitude: if ns == 'S' { -lat } else { lat },
        longitude: if ew == 'W' { -lon } else { lon },
        course,
        speed_knots: speed,
        time: civil_time([year, month, day, hour, minute, second], 0),
    })
}

/// `!AIOIL,addr,out,TEMP,version,wave+codes,LEVEL,motion,excited,checksum`:
/// the temperature and the measured fuel value.
pub(crate) fn parse_fuel(text: &str) -> Option<(f64, f64)> {
    let mut s = Scan(text);
    s.lit("!AIOIL,")?;
    s.digits(None)?;
    s.lit(",")?;
    s.decimal()?;
    s.lit(",")?;
    let temperature = s.decimal()?;
    s.lit(",")?;
    let version = s.0.find(',')?;
    if version == 0 {
        return None;
    }
    s.0 = s.0.get(version..)?;
    s.lit(",")?;
    s.digits(Some(4))?;
    s.lit(",")?;
    let level = s.decimal()?;
    s.lit(",")?;
    s.one_of(&['0', '1'])?;
    s.lit(",")?;
    s.digits(None)?;
    s.lit(",")?;
    let hex = s.0;
    if hex.len() != 2 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    Some((temperature, level))
}
