//! Position attributes: Traccar's open key/value map, stored compactly.
//!
//! Keys Traccar knows are an enum with stable one-byte codes so the store
//! can encode them in a byte; protocol-specific numbered elements are
//! `Io(id)`; anything else is a free string.

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
    Geofence = 96 => "geofence",
    Humidity = 97 => "humidity",
    DrivingTime = 98 => "drivingTime",
    Card = 99 => "card",
    EventData = 100 => "eventData",
    Accuracy = 120 => "accuracy",
    Activity = 121 => "activity",
    Mock = 122 => "mock",
    InvalidReason = 123 => "invalidReason",
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

impl AttrKey {
    /// A borrowed view of the key.
    #[inline]
    pub fn view(&self) -> AttrKeyRef<'_> {
        match self {
            AttrKey::Known(known) => AttrKeyRef::Known(*known),
            AttrKey::Io(id) => AttrKeyRef::Io(*id),
            AttrKey::Other(name) => AttrKeyRef::Other(name),
        }
    }
}

impl AttrValue {
    /// A borrowed view of the value.
    #[inline]
    pub fn view(&self) -> AttrValueRef<'_> {
        match self {
            AttrValue::Bool(b) => AttrValueRef::Bool(*b),
            AttrValue::Int(i) => AttrValueRef::Int(*i),
            AttrValue::Decimal { raw, scale } => AttrValueRef::Decimal {
                raw: *raw,
                scale: *scale,
            },
            AttrValue::Float(f) => AttrValueRef::Float(*f),
            AttrValue::Str(s) => AttrValueRef::Str(s),
            AttrValue::Bytes(b) => AttrValueRef::Bytes(b),
        }
    }
}

/// A borrowed attribute key, as [`Attributes`] hands them out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AttrKeyRef<'a> {
    /// A key Traccar clients know by name.
    Known(KnownKey),
    /// A protocol's numbered element, rendered `io<ID>`.
    Io(u16),
    /// Any other key.
    Other(&'a str),
}

impl<'a> AttrKeyRef<'a> {
    /// The JSON name of the key; `io<ID>` keys are formatted into `buf`.
    pub fn name<'b>(&self, buf: &'b mut String) -> &'b str
    where
        'a: 'b,
    {
        match *self {
            AttrKeyRef::Known(known) => known.as_str(),
            AttrKeyRef::Io(id) => {
                use std::fmt::Write as _;
                buf.clear();
                let _ = write!(buf, "io{id}");
                buf.as_str()
            }
            AttrKeyRef::Other(name) => name,
        }
    }

    /// The owned key.
    #[inline]
    pub fn to_key(self) -> AttrKey {
        match self {
            AttrKeyRef::Known(known) => AttrKey::Known(known),
            AttrKeyRef::Io(id) => AttrKey::Io(id),
            AttrKeyRef::Other(name) => AttrKey::Other(name.into()),
        }
    }
}

impl PartialEq<AttrKey> for AttrKeyRef<'_> {
    fn eq(&self, other: &AttrKey) -> bool {
        *self == other.view()
    }
}

impl PartialEq<AttrKeyRef<'_>> for AttrKey {
    fn eq(&self, other: &AttrKeyRef<'_>) -> bool {
        self.view() == *other
    }
}

impl From<KnownKey> for AttrKeyRef<'_> {
    fn from(key: KnownKey) -> Self {
        AttrKeyRef::Known(key)
    }
}

impl<'a> From<&'a AttrKey> for AttrKeyRef<'a> {
    fn from(key: &'a AttrKey) -> Self {
        key.view()
    }
}

/// A borrowed attribute value, as [`Attributes`] hands them out.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum AttrValueRef<'a> {
    /// JSON boolean.
    Bool(bool),
    /// JSON integer.
    Int(i64),
    /// An exact decimal `raw * 10^-scale`.
    Decimal {
        /// The integer mantissa.
        raw: i64,
        /// Number of decimal places, 0..=9.
        scale: u8,
    },
    /// JSON number that is not an exact decimal.
    Float(f64),
    /// JSON string.
    Str(&'a str),
    /// Opaque bytes, rendered as a lowercase hex string.
    Bytes(&'a [u8]),
}

impl AttrValueRef<'_> {
    /// The numeric value, if any (Decimal divided out, Bool as 0/1).
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            AttrValueRef::Bool(b) => Some(if b { 1.0 } else { 0.0 }),
            AttrValueRef::Int(i) => Some(i as f64),
            AttrValueRef::Decimal { raw, scale } => Some(raw as f64 / 10f64.powi(i32::from(scale))),
            AttrValueRef::Float(f) => Some(f),
            AttrValueRef::Str(_) | AttrValueRef::Bytes(_) => None,
        }
    }

    /// The owned value.
    #[inline]
    pub fn to_value(self) -> AttrValue {
        match self {
            AttrValueRef::Bool(b) => AttrValue::Bool(b),
            AttrValueRef::Int(i) => AttrValue::Int(i),
            AttrValueRef::Decimal { raw, scale } => AttrValue::Decimal { raw, scale },
            AttrValueRef::Float(f) => AttrValue::Float(f),
            AttrValueRef::Str(s) => AttrValue::Str(s.into()),
            AttrValueRef::Bytes(b) => AttrValue::Bytes(b.into()),
        }
    }
}

impl PartialEq<AttrValue> for AttrValueRef<'_> {
    fn eq(&self, other: &AttrValue) -> bool {
        *self == other.view()
    }
}

impl PartialEq<AttrValueRef<'_>> for AttrValue {
    fn eq(&self, other: &AttrValueRef<'_>) -> bool {
        self.view() == *other
    }
}

impl<'a> From<&'a AttrValue> for AttrValueRef<'a> {
    fn from(value: &'a AttrValue) -> Self {
        value.view()
    }
}

/// Compact key: a known code, `IO_KEY | id`, or `OTHER_KEY | side index`.
const IO_KEY: u32 = 1 << 16;
/// Marks a key whose name is a string in the side table.
const OTHER_KEY: u32 = 1 << 31;

/// Value tags of an [`Entry`].
const TAG_BOOL: u8 = 0;
const TAG_INT: u8 = 1;
const TAG_DECIMAL: u8 = 2;
const TAG_FLOAT: u8 = 3;
/// The payload is an index into the side table.
const TAG_SIDE: u8 = 4;

/// One attribute in 16 bytes: the packed key, a value tag, the decimal
/// scale and a payload (bool, integer, decimal mantissa, f64 bits, or the
/// side-table index of a string or byte string).
#[derive(Clone, Copy, Debug, Default)]
struct Entry {
    payload: u64,
    /// `key | tag << 32 | scale << 40`: one word, so an entry is written
    /// with two plain stores.
    meta: u64,
}

impl Entry {
    #[inline(always)]
    fn new(key: u32, tag: u8, scale: u8, payload: u64) -> Entry {
        Entry {
            payload,
            meta: u64::from(key) | u64::from(tag) << 32 | u64::from(scale) << 40,
        }
    }

    #[inline(always)]
    fn key(&self) -> u32 {
        self.meta as u32
    }

    #[inline(always)]
    fn tag(&self) -> u8 {
        (self.meta >> 32) as u8
    }

    #[inline(always)]
    fn scale(&self) -> u8 {
        (self.meta >> 40) as u8
    }

    /// The same key with another value.
    #[inline(always)]
    fn with_value(self, tag: u8, scale: u8, payload: u64) -> Entry {
        Entry::new(self.key(), tag, scale, payload)
    }
}

/// What does not fit in an [`Entry`]: custom key names, strings, bytes.
#[derive(Clone, Debug)]
enum Blob {
    Str(Box<str>),
    Bytes(Box<[u8]>),
}

/// The compact form of a key that needs no side table.
#[inline]
fn inline_key(key: &AttrKeyRef<'_>) -> Option<u32> {
    match *key {
        AttrKeyRef::Known(known) => Some(u32::from(known as u8)),
        AttrKeyRef::Io(id) => Some(IO_KEY | u32::from(id)),
        AttrKeyRef::Other(_) => None,
    }
}

/// A side-table index as a key (the table never nears 2^31 entries: each
/// takes 24 bytes plus an entry of 16).
#[inline]
fn other_key(index: usize) -> u32 {
    OTHER_KEY | (index as u32 & !OTHER_KEY)
}

/// Entries stored in the map itself.
const INLINE: usize = 16;

/// What does not fit inline: entries after the first [`INLINE`], and the
/// side table.
#[derive(Clone, Debug, Default)]
struct Spill {
    tail: Vec<Entry>,
    side: Vec<Blob>,
}

/// The attribute map of a position, in insertion order. Entries are 16
/// bytes and the first 16 are inline, so a typical record does not
/// allocate; later entries, strings, bytes and custom key names live in a
/// spill area that is only allocated when a record needs one.
#[derive(Clone, Default)]
pub struct Attributes {
    head: [Entry; INLINE],
    len: usize,
    spill: Option<Box<Spill>>,
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
        match self.position(key.view()) {
            Some(index) => self.replace_value(index, value),
            None => self.push(key, value),
        }
    }

    /// Appends without looking for an earlier value of the key; for decoders
    /// that know their keys are distinct.
    #[inline(always)]
    pub fn push(&mut self, key: AttrKey, value: AttrValue) {
        let key = match key {
            AttrKey::Known(known) => u32::from(known as u8),
            AttrKey::Io(id) => IO_KEY | u32::from(id),
            AttrKey::Other(name) => other_key(self.push_side(Blob::Str(name))),
        };
        let (tag, scale, payload) = self.compact_value(value);
        let entry = Entry::new(key, tag, scale, payload);
        match self.head.get_mut(self.len) {
            Some(slot) => *slot = entry,
            None => self.push_tail(entry),
        }
        self.len += 1;
    }

    /// Appends past the inline entries (out of line: rare).
    #[inline(never)]
    fn push_tail(&mut self, entry: Entry) {
        self.spill.get_or_insert_with(Box::default).tail.push(entry);
    }

    /// The entries, inline ones first.
    #[inline]
    fn entries(&self) -> (&[Entry], &[Entry]) {
        let head = self.head.get(..self.len).unwrap_or(&self.head);
        let tail = self.spill.as_deref().map_or(&[][..], |spill| &spill.tail);
        (head, tail)
    }

    /// The entry at `index`.
    #[inline]
    fn entry(&self, index: usize) -> Option<&Entry> {
        let (head, tail) = self.entries();
        match head.get(index) {
            Some(entry) => Some(entry),
            None => tail.get(index - head.len()),
        }
    }

    /// The entry at `index`, mutably.
    fn entry_mut(&mut self, index: usize) -> Option<&mut Entry> {
        if index < INLINE {
            return self.head.get_mut(index).filter(|_| index < self.len);
        }
        self.spill.as_deref_mut()?.tail.get_mut(index - INLINE)
    }

    /// The side table.
    #[inline]
    fn side(&self) -> &[Blob] {
        self.spill.as_deref().map_or(&[], |spill| &spill.side)
    }

    /// The value of `key`, if set.
    pub fn get<'k>(&self, key: impl Into<AttrKeyRef<'k>>) -> Option<AttrValueRef<'_>> {
        let index = self.position(key.into())?;
        self.entry(index).map(|entry| self.value_of(entry))
    }

    /// The value of a known key, if set.
    #[inline]
    pub fn get_known(&self, key: KnownKey) -> Option<AttrValueRef<'_>> {
        let code = u32::from(key as u8);
        let (head, tail) = self.entries();
        head.iter()
            .chain(tail)
            .find(|entry| entry.key() == code)
            .map(|entry| self.value_of(entry))
    }

    /// Removes `key` and returns its value.
    pub fn remove<'k>(&mut self, key: impl Into<AttrKeyRef<'k>>) -> Option<AttrValue> {
        let index = self.position(key.into())?;
        let entry = *self.entry(index)?;
        for i in index + 1..self.len {
            if let Some(next) = self.entry(i).copied() {
                if let Some(place) = self.entry_mut(i - 1) {
                    *place = next;
                }
            }
        }
        if self.len > INLINE {
            if let Some(spill) = self.spill.as_deref_mut() {
                spill.tail.pop();
            }
        }
        self.len -= 1;
        let value_slot = (entry.tag() == TAG_SIDE).then_some(entry.payload as usize);
        let key_slot =
            (entry.key() & OTHER_KEY != 0).then_some((entry.key() & !OTHER_KEY) as usize);
        // Free the higher slot first so the lower one keeps its index.
        let mut value_blob = None;
        let mut slots = [value_slot, key_slot];
        slots.sort_unstable_by(|a, b| b.cmp(a));
        for slot in slots.into_iter().flatten() {
            let blob = self.release(slot);
            if Some(slot) == value_slot {
                value_blob = blob;
            }
        }
        Some(match entry.tag() {
            TAG_SIDE => match value_blob {
                Some(Blob::Str(s)) => AttrValue::Str(s),
                Some(Blob::Bytes(b)) => AttrValue::Bytes(b),
                None => AttrValue::Bytes(Box::default()),
            },
            _ => scalar_value(&entry),
        })
    }

    /// Entries in insertion order.
    #[inline]
    pub fn iter(&self) -> Iter<'_> {
        let (head, tail) = self.entries();
        Iter {
            head: head.iter(),
            tail: tail.iter(),
            attributes: self,
        }
    }

    /// Number of entries.
    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are no entries.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The index of `key` in insertion order.
    #[inline]
    fn position(&self, key: AttrKeyRef<'_>) -> Option<usize> {
        let (head, tail) = self.entries();
        match inline_key(&key) {
            Some(code) => head
                .iter()
                .chain(tail)
                .position(|entry| entry.key() == code),
            None => head
                .iter()
                .chain(tail)
                .position(|entry| self.key_of(entry) == key),
        }
    }

    /// Packs a value, moving strings and bytes to the side table.
    #[inline(always)]
    fn compact_value(&mut self, value: AttrValue) -> (u8, u8, u64) {
        match value {
            AttrValue::Bool(b) => (TAG_BOOL, 0, u64::from(b)),
            AttrValue::Int(i) => (TAG_INT, 0, i as u64),
            AttrValue::Decimal { raw, scale } => (TAG_DECIMAL, scale, raw as u64),
            AttrValue::Float(f) => (TAG_FLOAT, 0, f.to_bits()),
            AttrValue::Str(s) => (TAG_SIDE, 0, self.push_side(Blob::Str(s)) as u64),
            AttrValue::Bytes(b) => (TAG_SIDE, 0, self.push_side(Blob::Bytes(b)) as u64),
        }
    }

    /// Appends to the side table and returns the new slot (out of line:
    /// most records have no strings).
    #[inline(never)]
    fn push_side(&mut self, blob: Blob) -> usize {
        let side = &mut self.spill.get_or_insert_with(Box::default).side;
        side.push(blob);
        side.len() - 1
    }

    /// Replaces the value of the entry at `index`, reusing or freeing its
    /// side-table slot.
    fn replace_value(&mut self, index: usize, value: AttrValue) {
        let Some(old) = self.entry(index).copied() else {
            return;
        };
        if old.tag() == TAG_SIDE {
            let slot = old.payload as usize;
            let blob = match value {
                AttrValue::Str(s) => Some(Blob::Str(s)),
                AttrValue::Bytes(b) => Some(Blob::Bytes(b)),
                scalar => {
                    self.release(slot);
                    let (tag, scale, payload) = self.compact_value(scalar);
                    if let Some(entry) = self.entry_mut(index) {
                        *entry = entry.with_value(tag, scale, payload);
                    }
                    None
                }
            };
            let place = self
                .spill
                .as_deref_mut()
                .and_then(|spill| spill.side.get_mut(slot));
            if let (Some(blob), Some(place)) = (blob, place) {
                *place = blob;
            }
            return;
        }
        let (tag, scale, payload) = self.compact_value(value);
        if let Some(entry) = self.entry_mut(index) {
            *entry = entry.with_value(tag, scale, payload);
        }
    }

    /// Removes side-table slot `slot` and renumbers the slots after it.
    fn release(&mut self, slot: usize) -> Option<Blob> {
        let spill = self.spill.as_deref_mut()?;
        if slot >= spill.side.len() {
            return None;
        }
        let blob = spill.side.remove(slot);
        let live = self.len.min(INLINE);
        let head = self.head.get_mut(..live).unwrap_or_default();
        for entry in head.iter_mut().chain(spill.tail.iter_mut()) {
            if entry.key() & OTHER_KEY != 0 && (entry.key() & !OTHER_KEY) as usize > slot {
                entry.meta -= 1;
            }
            if entry.tag() == TAG_SIDE && entry.payload as usize > slot {
                entry.payload -= 1;
            }
        }
        Some(blob)
    }

    /// The key of an entry.
    #[inline]
    fn key_of(&self, entry: &Entry) -> AttrKeyRef<'_> {
        if entry.key() & OTHER_KEY != 0 {
            match self.side().get((entry.key() & !OTHER_KEY) as usize) {
                Some(Blob::Str(name)) => AttrKeyRef::Other(name),
                // Unreachable: custom key slots always hold a string.
                Some(Blob::Bytes(_)) | None => AttrKeyRef::Other(""),
            }
        } else if entry.key() & IO_KEY != 0 {
            AttrKeyRef::Io(entry.key() as u16)
        } else {
            match KnownKey::from_code(entry.key() as u8) {
                Some(known) => AttrKeyRef::Known(known),
                // Unreachable: known codes come from a `KnownKey`.
                None => AttrKeyRef::Other(""),
            }
        }
    }

    /// The value of an entry.
    #[inline]
    fn value_of(&self, entry: &Entry) -> AttrValueRef<'_> {
        match entry.tag() {
            TAG_BOOL => AttrValueRef::Bool(entry.payload != 0),
            TAG_INT => AttrValueRef::Int(entry.payload as i64),
            TAG_DECIMAL => AttrValueRef::Decimal {
                raw: entry.payload as i64,
                scale: entry.scale(),
            },
            TAG_FLOAT => AttrValueRef::Float(f64::from_bits(entry.payload)),
            _ => match self.side().get(entry.payload as usize) {
                Some(Blob::Str(s)) => AttrValueRef::Str(s),
                Some(Blob::Bytes(b)) => AttrValueRef::Bytes(b),
                // Unreachable: side values always have a slot.
                None => AttrValueRef::Bytes(&[]),
            },
        }
    }
}

/// The owned value of an entry that is not in the side table.
fn scalar_value(entry: &Entry) -> AttrValue {
    match entry.tag() {
        TAG_BOOL => AttrValue::Bool(entry.payload != 0),
        TAG_INT => AttrValue::Int(entry.payload as i64),
        TAG_DECIMAL => AttrValue::Decimal {
            raw: entry.payload as i64,
            scale: entry.scale(),
        },
        _ => AttrValue::Float(f64::from_bits(entry.payload)),
    }
}

impl PartialEq for Attributes {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl std::fmt::Debug for Attributes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

/// The entries of an [`Attributes`], in insertion order.
#[derive(Clone)]
pub struct Iter<'a> {
    head: std::slice::Iter<'a, Entry>,
    tail: std::slice::Iter<'a, Entry>,
    attributes: &'a Attributes,
}

impl<'a> Iter<'a> {
    #[inline]
    fn view(&self, entry: &Entry) -> (AttrKeyRef<'a>, AttrValueRef<'a>) {
        (
            self.attributes.key_of(entry),
            self.attributes.value_of(entry),
        )
    }
}

impl<'a> Iterator for Iter<'a> {
    type Item = (AttrKeyRef<'a>, AttrValueRef<'a>);

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        let entry = match self.head.next() {
            Some(entry) => entry,
            None => self.tail.next()?,
        };
        Some(self.view(entry))
    }

    #[inline]
    fn nth(&mut self, n: usize) -> Option<Self::Item> {
        let in_head = self.head.len();
        let entry = if n < in_head {
            self.head.nth(n)?
        } else {
            self.head.nth(in_head);
            self.tail.nth(n - in_head)?
        };
        Some(self.view(entry))
    }

    #[inline]
    fn size_hint(&self) -> (usize, Option<usize>) {
        let len = self.head.len() + self.tail.len();
        (len, Some(len))
    }
}

impl DoubleEndedIterator for Iter<'_> {
    #[inline]
    fn next_back(&mut self) -> Option<Self::Item> {
        let entry = match self.tail.next_back() {
            Some(entry) => entry,
            None => self.head.next_back()?,
        };
        Some(self.view(entry))
    }
}

impl ExactSizeIterator for Iter<'_> {}

impl std::fmt::Debug for Iter<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.clone()).finish()
    }
}

impl<'a> IntoIterator for &'a Attributes {
    type Item = (AttrKeyRef<'a>, AttrValueRef<'a>);
    type IntoIter = Iter<'a>;

    fn into_iter(self) -> Iter<'a> {
        self.iter()
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
        assert_eq!(a.get_known(KnownKey::Sat), Some(AttrValueRef::Int(5)));
    }

    fn sample() -> Attributes {
        let mut a = Attributes::new();
        a.push(AttrKey::Other("a".into()), AttrValue::Str("x".into()));
        a.push(KnownKey::Sat.into(), AttrValue::Int(-3));
        a.push(AttrKey::Io(7), AttrValue::Bytes(vec![1, 2].into()));
        a.push(AttrKey::Other("b".into()), AttrValue::Float(1.5));
        a.push(
            KnownKey::Power.into(),
            AttrValue::Decimal {
                raw: -12_345,
                scale: 3,
            },
        );
        a.push(AttrKey::Other("c".into()), AttrValue::Str("z".into()));
        a
    }

    fn owned(a: &Attributes) -> Vec<(AttrKey, AttrValue)> {
        a.iter().map(|(k, v)| (k.to_key(), v.to_value())).collect()
    }

    #[test]
    fn entries_are_compact() {
        assert_eq!(std::mem::size_of::<Entry>(), 16);
    }

    #[test]
    fn side_values_round_trip() {
        let a = sample();
        assert_eq!(a.len(), 6);
        assert_eq!(
            a.get(&AttrKey::Other("a".into())),
            Some(AttrValueRef::Str("x"))
        );
        assert_eq!(a.get(&AttrKey::Io(7)), Some(AttrValueRef::Bytes(&[1, 2])));
        assert_eq!(
            a.get(&AttrKey::Other("b".into())),
            Some(AttrValueRef::Float(1.5))
        );
        assert_eq!(a.get(&AttrKey::Other("zz".into())), None);
        assert_eq!(
            a.get_known(KnownKey::Power).and_then(|v| v.as_f64()),
            Some(-12.345)
        );
        let rebuilt: Attributes = owned(&a).into_iter().collect();
        assert_eq!(rebuilt, a);
        assert_eq!(a.clone(), a);
    }

    #[test]
    fn replace_and_remove_keep_the_rest() {
        let mut a = sample();
        let mut model = owned(&a);
        a.set(AttrKey::Other("a".into()), AttrValue::Int(1));
        model[0].1 = AttrValue::Int(1);
        assert_eq!(owned(&a), model);
        a.set(KnownKey::Sat, AttrValue::Str("many".into()));
        model[1].1 = AttrValue::Str("many".into());
        assert_eq!(owned(&a), model);
        a.set(AttrKey::Io(7), AttrValue::Str("seven".into()));
        model[2].1 = AttrValue::Str("seven".into());
        assert_eq!(owned(&a), model);
        assert_eq!(
            a.remove(&AttrKey::Other("a".into())),
            Some(AttrValue::Int(1))
        );
        model.remove(0);
        assert_eq!(owned(&a), model);
        assert_eq!(a.remove(KnownKey::Sat), Some(AttrValue::Str("many".into())));
        model.remove(0);
        assert_eq!(owned(&a), model);
        assert_eq!(
            a.remove(&AttrKey::Other("c".into())),
            Some(AttrValue::Str("z".into()))
        );
        model.pop();
        assert_eq!(owned(&a), model);
        assert_eq!(a.remove(KnownKey::Sat), None);
        assert_eq!(a.side().len(), 2);
        let mut b = Attributes::new();
        for (k, v) in model.iter().rev() {
            b.push(k.clone(), v.clone());
        }
        assert_ne!(a, b);
    }

    #[test]
    fn more_than_inline_entries() {
        let mut a = Attributes::new();
        let mut model = Vec::new();
        for id in 0..40u16 {
            let value = if id % 7 == 0 {
                AttrValue::Str(format!("s{id}").into())
            } else {
                AttrValue::Int(i64::from(id))
            };
            a.push(AttrKey::Io(id), value.clone());
            model.push((AttrKey::Io(id), value));
        }
        a.set(AttrKey::Io(30), AttrValue::Bool(true));
        model[30].1 = AttrValue::Bool(true);
        assert_eq!(owned(&a), model);
        for id in [3u16, 14, 15, 16, 17, 35, 0] {
            let index = model.iter().position(|(k, _)| *k == AttrKey::Io(id));
            let expected = index.map(|i| model.remove(i).1);
            assert_eq!(a.remove(&AttrKey::Io(id)), expected);
            assert_eq!(owned(&a), model);
            assert_eq!(a.len(), model.len());
        }
        assert_eq!(a.iter().len(), model.len());
        assert_eq!(
            a.iter().nth(20).map(|(k, _)| k.to_key()),
            Some(model[20].0.clone())
        );
        assert_eq!(a.iter().rev().count(), model.len());
        let rebuilt: Attributes = model.into_iter().collect();
        assert_eq!(rebuilt, a);
    }

    #[test]
    fn equality_is_by_value() {
        let mut a = Attributes::new();
        a.set(KnownKey::Hdop, AttrValue::Float(f64::NAN));
        assert_ne!(a, a.clone());
        let mut b = Attributes::new();
        b.set(KnownKey::Hdop, AttrValue::Float(0.0));
        let mut c = Attributes::new();
        c.set(KnownKey::Hdop, AttrValue::Float(-0.0));
        assert_eq!(b, c);
        assert_eq!(format!("{b:?}"), "{Known(Hdop): Float(0.0)}");
    }
}
