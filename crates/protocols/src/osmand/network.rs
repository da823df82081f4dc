//! `cell=mcc,mnc,lac,cid[,rssi]` and `wifi=mac,rssi` parameters, kept as
//! Traccar's network object (`cellTowers`, `wifiAccessPoints`) in the
//! `network` attribute for a later geolocation step.

use serde_json::{json, Map, Value};

use super::{clip, Error};

/// The cell towers and access points of one request.
#[derive(Default)]
pub(crate) struct Network {
    cell_towers: Vec<Value>,
    wifi_access_points: Vec<Value>,
}

impl Network {
    pub(crate) fn is_empty(&self) -> bool {
        self.cell_towers.is_empty() && self.wifi_access_points.is_empty()
    }

    /// Adds a `cell` parameter. Ranges are the ones Traccar's cell-tower
    /// checks use (MCC and MNC 0..=999, LAC 1..=65535, CID 0..=268435455).
    pub(crate) fn add_cell(&mut self, text: &str) -> Result<(), Error> {
        let malformed = || Error::Malformed {
            field: "cell",
            value: clip(text),
        };
        let parts: Vec<&str> = text.split(',').collect();
        if !(4..=5).contains(&parts.len()) {
            return Err(malformed());
        }
        let mut numbers = [0i64; 5];
        for (slot, part) in numbers.iter_mut().zip(&parts) {
            *slot = part.trim().parse().map_err(|_| malformed())?;
        }
        let [mcc, mnc, lac, cid, rssi] = numbers;
        if !(0..=999).contains(&mcc)
            || !(0..=999).contains(&mnc)
            || !(1..=65_535).contains(&lac)
            || !(0..=268_435_455).contains(&cid)
        {
            return Err(malformed());
        }
        let mut tower = json!({
            "mobileCountryCode": mcc,
            "mobileNetworkCode": mnc,
            "locationAreaCode": lac,
            "cellId": cid,
        });
        if parts.len() == 5 {
            tower["signalStrength"] = rssi.into();
        }
        self.cell_towers.push(tower);
        Ok(())
    }

    /// Adds a `wifi` parameter; the MAC may use `-` or `:` separators.
    pub(crate) fn add_wifi(&mut self, text: &str) -> Result<(), Error> {
        let malformed = || Error::Malformed {
            field: "wifi",
            value: clip(text),
        };
        let (mac, rssi) = text.split_once(',').ok_or_else(malformed)?;
        let rssi: i64 = rssi.trim().parse().map_err(|_| malformed())?;
        let groups: Vec<&str> = mac.split(['-', ':']).collect();
        let well_formed = groups.len() == 6
            && groups
                .iter()
                .all(|g| g.len() == 2 && g.bytes().all(|b| b.is_ascii_hexdigit()));
        if !well_formed {
            return Err(malformed());
        }
        let mac = groups.join(":").to_ascii_lowercase();
        self.wifi_access_points.push(json!({
            "macAddress": mac,
            "signalStrength": rssi,
        }));
        Ok(())
    }

    /// Traccar's network JSON, as text.
    pub(crate) fn to_json(&self) -> String {
        let mut object = Map::new();
        if !self.cell_towers.is_empty() {
            object.insert("cellTowers".into(), self.cell_towers.clone().into());
        }
        if !self.wifi_access_points.is_empty() {
            let points = self.wifi_access_points.clone();
            object.insert("wifiAccessPoints".into(), points.into());
        }
        Value::Object(object).to_string()
    }
}
