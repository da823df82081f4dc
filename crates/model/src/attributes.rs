//! Position attributes: Traccar's open key/value map, stored compactly.
//!
//! Keys Traccar knows are an enum with stable one-byte codes so the store
//! can encode them in a byte; protocol-specific numbered elements are
//! `Io(id)`; anything else is a free string.

use smallvec::SmallVec;

macro_rules! known_keys {
    ($($variant:ident = $code:literal => $name:literal,)*) => {
        /// An attribute key Traccar clients know by name.
        ///
        /// The discriminants are storage codes: never renumber, only append.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(u8)]
        pub enum KnownKey {
            $(
                #[doc = concat!("`", $name, "`")]
                $variant = $code,
            )*
        }

        impl KnownKey {
            /// Traccar's JSON name for the key.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(KnownKey::$variant => $name,)*
                }
            }

            /// The key with this storage code.
            pub fn from_code(code: u8) -> Option<KnownKey> {
                match code {
                    $($code => Some(KnownKey::$variant),)*
                    _ => None,
                }
            }

            /// The key with this Traccar name.
            pub fn from_name(name: &str) -> Option<KnownKey> {
                match name {
                    $($name => Some(KnownKey::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

known_keys! {
    Sat = 1 => "sat",
    Priority = 2 => "priority",
    Event = 3 => "event",
    Ignition = 4 => "ignition",
    Motion = 5 => "motion",
    Rssi = 6 => "rssi",
    Power = 7 => "power",
    Battery = 8 => "battery",
    Odometer = 9 => "odometer",
    ObdSpeed = 10 => "obdSpeed",
    Pdop = 11 => "pdop",
    Hdop = 12 => "hdop",
    DriverUniqueId = 13 => "driverUniqueId",
    Operator = 14 => "operator",
    Iccid = 15 => "iccid",
    Index = 16 => "index",
    Archive = 17 => "archive",
    Alarm = 18 => "alarm",
    Result = 19 => "result",
    Type = 20 => "type",
    BatteryLevel = 21 => "batteryLevel",
    FuelLevel = 22 => "fuelLevel",
    Fuel = 23 => "fuel",
    FuelUsed = 24 => "fuelUsed",
    Rpm = 25 => "rpm",
    Hours = 26 => "hours",
    DeviceTemp = 27 => "deviceTemp",
    CoolantTemp = 28 => "coolantTemp",
    Throttle = 29 => "throttle",
    Charge = 30 => "charge",
    Distance = 31 => "distance",
    TotalDistance = 32 => "totalDistance",
    Axle = 33 => "axleWeight",
    Gsm = 34 => "gsm",
    Status = 35 => "status",
    Input = 36 => "input",
    Output = 37 => "output",
    Versionfw = 38 => "versionFw",
    Versionhw = 39 => "versionHw",
    Model = 40 => "model",
    Roaming = 41 => "roaming",
    Steps = 42 => "steps",
    Vin = 43 => "vin",
    EngineLoad = 44 => "engineLoad",
    ServiceOdometer = 45 => "serviceOdometer",
    TripOdometer = 46 => "tripOdometer",
    Acceleration = 47 => "acceleration",
    Blocked = 48 => "blocked",
    Door = 49 => "door",
    Armed = 50 => "armed",
    Dtcs = 51 => "dtcs",
    Image = 52 => "image",
    Video = 53 => "video",
    Audio = 54 => "audio",
    Vdop = 55 => "vdop",
    SatVisible = 56 => "satVisible",
    Network = 57 => "network",
    In1 = 58 => "in1",
    In2 = 59 => "in2",
    In3 = 60 => "in3",
    In4 = 61 => "in4",
    Out1 = 62 => "out1",
    Out2 = 63 => "out2",
    Adc1 = 64 => "adc1",
    Adc2 = 65 => "adc2",
    AxisX = 66 => "axisX",
    AxisY = 67 => "axisY",
    AxisZ = 68 => "axisZ",
    BleTemp1 = 69 => "bleTemp1",
    BleTemp2 = 70 => "bleTemp2",
    BleTemp3 = 71 => "bleTemp3",
    BleTemp4 = 72 => "bleTemp4",
    FuelConsumption = 73 => "fuelConsumption",
    ObdOdometer = 74 => "obdOdometer",
    Temp1 = 75 => "temp1",
    Temp2 = 76 => "temp2",
    Temp3 = 77 => "temp3",
    Temp4 = 78 => "temp4",
    EyeTemp1 = 79 => "eyeTemp1",
    EyeTemp2 = 80 => "eyeTemp2",
    EyeTemp3 = 81 => "eyeTemp3",
    EyeTemp4 = 82 => "eyeTemp4",
    UsbConnected = 83 => "usbConnected",
    Uptime = 84 => "uptime",
    Button = 85 => "button",
    DataMode = 86 => "dataMode",
    FaultCount = 87 => "faultCount",
    BatteryCurrent = 88 => "batteryCurrent",
    EngineTemp = 89 => "engineTemp",
    SleepMode = 90 => "sleepMode",
    FuelLevelPercentage = 91 => "fuelLevelPercentage",
    CngStatus = 92 => "cngStatus",
    CngUsed = 93 => "cngUsed",
    CngLevel = 94 => "cngLevel",
    OilLevel = 95 => "oilLevel",
}

/// An attribute key.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AttrKey {
    /// A key Traccar clients know by name.
    Known(KnownKey),
    /// A protocol's numbered element, rendered `io<ID>`.
    Io(u16),
    /// Any other key.
    Other(Box<str>),
}

impl AttrKey {
    /// The JSON name of the key; `io<ID>` keys are formatted into `buf`.
    pub fn name<'a>(&'a self, buf: &'a mut String) -> &'a str {
        match self {
            AttrKey::Known(known) => known.as_str(),
            AttrKey::Io(id) => {
                use std::fmt::Write as _;
                buf.clear();
                let _ = write!(buf, "io{id}");
                buf.as_str()
            }
            AttrKey::Other(name) => name,
        }
    }

    /// Parses a JSON name back into a key (`io123` becomes `Io(123)`).
    pub fn from_name(name: &str) -> AttrKey {
        if let Some(known) = KnownKey::from_name(name) {
            return AttrKey::Known(known);
        }
        if let Some(digits) = name.strip_prefix("io") {
            if !digits.starts_with('0') || digits == "0" {
                if let Ok(id) = digits.parse::<u16>() {
                    return AttrKey::Io(id);
                }
            }
        }
        AttrKey::Other(name.into())
    }
}

impl From<KnownKey> for AttrKey {
    fn from(key: KnownKey) -> Self {
        AttrKey::Known(key)
    }
}

/// An attribute value.
#[derive(Clone, Debug, PartialEq)]
pub enum AttrValue {
    /// JSON boolean.
    Bool(bool),
    /// JSON integer.
    Int(i64),
    /// An exact decimal `raw * 10^-scale` (volts from millivolts, ...):
    /// rendered as a JSON number, stored as an integer.
    Decimal {
        /// The integer mantissa.
        raw: i64,
        /// Number of decimal places, 0..=9.
        scale: u8,
    },
    /// JSON number that is not an exact decimal.
    Float(f64),
    /// JSON string.
    Str(Box<str>),
    /// Opaque bytes, rendered as a lowercase hex string.
    Bytes(Box<[u8]>),
}

impl AttrValue {
    /// The numeric value, if any (Decimal divided out, Bool as 0/1).
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            AttrValue::Bool(b) => Some(if b { 1.0 } else { 0.0 }),
            AttrValue::Int(i) => Some(i as f64),
            AttrValue::Decimal { raw, scale } => Some(raw as f64 / 10f64.powi(i32::from(scale))),
            AttrValue::Float(f) => Some(f),
            AttrValue::Str(_) | AttrValue::Bytes(_) => None,
        }
    }
}

/// The attribute map of a position, in insertion order; inline storage for
/// the usual dozen elements so decoding does not allocate per record.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Attributes {
    entries: SmallVec<[(AttrKey, AttrValue); 12]>,
}

impl Attributes {
    /// An empty map.
    #[inline]
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `key` to `value`, replacing an earlier value of the same key.
    #[inline]
    pub fn set(&mut self, key: impl Into<AttrKey>, value: AttrValue) {
        let key = key.into();
        if let Some(entry) = self.entries.iter_mut().find(|(k, _)| *k == key) {
            entry.1 = value;
        } else {
            self.entries.push((key, value));
        }
    }

    /// Appends without looking for an earlier value of the key; for decoders
    /// that know their keys are distinct.
    #[inline]
    pub fn push(&mut self, key: AttrKey, value: AttrValue) {
        self.entries.push((key, value));
    }

    /// The value of `key`, if set.
    pub fn get(&self, key: &AttrKey) -> Option<&AttrValue> {
        self.entries.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// The value of a known key, if set.
    pub fn get_known(&self, key: KnownKey) -> Option<&AttrValue> {
        self.entries
            .iter()
            .find(|(k, _)| matches!(k, AttrKey::Known(x) if *x == key))
            .map(|(_, v)| v)
    }

    /// Removes `key` and returns its value.
    pub fn remove(&mut self, key: &AttrKey) -> Option<AttrValue> {
        let idx = self.entries.iter().position(|(k, _)| k == key)?;
        Some(self.entries.remove(idx).1)
    }

    /// Entries in insertion order.
    pub fn iter(&self) -> impl Iterator<Item = &(AttrKey, AttrValue)> {
        self.entries.iter()
    }

    /// Number of entries.
    #[inline]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no entries.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl FromIterator<(AttrKey, AttrValue)> for Attributes {
    fn from_iter<T: IntoIterator<Item = (AttrKey, AttrValue)>>(iter: T) -> Self {
        let mut attributes = Attributes::new();
        for (k, v) in iter {
            attributes.set(k, v);
        }
        attributes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_codes_round_trip() {
        for code in 0..=255u8 {
            if let Some(key) = KnownKey::from_code(code) {
                assert_eq!(key as u8, code);
                assert_eq!(KnownKey::from_name(key.as_str()), Some(key));
            }
        }
    }

    #[test]
    fn io_names_round_trip() {
        let mut buf = String::new();
        assert_eq!(AttrKey::Io(239).name(&mut buf), "io239");
        assert_eq!(AttrKey::from_name("io239"), AttrKey::Io(239));
        assert_eq!(
            AttrKey::from_name("io0239"),
            AttrKey::Other("io0239".into())
        );
        assert_eq!(AttrKey::from_name("sat"), AttrKey::Known(KnownKey::Sat));
    }

    #[test]
    fn set_replaces() {
        let mut a = Attributes::new();
        a.set(KnownKey::Sat, AttrValue::Int(3));
        a.set(KnownKey::Sat, AttrValue::Int(5));
        assert_eq!(a.len(), 1);
        assert_eq!(a.get_known(KnownKey::Sat), Some(&AttrValue::Int(5)));
    }
}
