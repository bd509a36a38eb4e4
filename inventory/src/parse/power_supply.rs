//! `/sys/class/power_supply/*/uevent`: `POWER_SUPPLY_KEY=value` lines.

use std::collections::HashMap;

use super::non_empty;
use crate::model::Battery;

/// Parses a power supply's uevent file into a [`Battery`].
///
/// Returns `None` for mains adapters and USB ports, and for batteries of
/// peripherals (`SCOPE=Device`: a wireless mouse), which come and go and would
/// make the hardware hash flap. Capacities are converted to mWh; firmware that
/// counts charge (µAh) instead of energy (µWh) is converted with the design voltage.
pub fn parse_battery_uevent(name: &str, text: &str) -> Option<Battery> {
    let fields: HashMap<&str, &str> = text
        .lines()
        .filter_map(|line| line.trim_end_matches('\r').split_once('='))
        .filter_map(|(k, v)| Some((k.strip_prefix("POWER_SUPPLY_")?, v)))
        .collect();
    if fields.get("TYPE").map(|t| t.trim()) != Some("Battery") {
        return None;
    }
    if fields.get("SCOPE").map(|s| s.trim()) == Some("Device") {
        return None;
    }
    let text_field = |key: &str| fields.get(key).and_then(|v| non_empty(v));
    let number = |key: &str| fields.get(key).and_then(|v| v.trim().parse::<u64>().ok());
    let capacity_mwh = |energy: &str, charge: &str| {
        number(energy).map(|uwh| uwh / 1000).or_else(|| {
            let uah = number(charge)?;
            let uv = number("VOLTAGE_MIN_DESIGN")?;
            // µAh × µV = 10⁻¹² Wh; to mWh divide by 10⁹. u128 keeps it exact.
            u64::try_from(u128::from(uah) * u128::from(uv) / 1_000_000_000).ok()
        })
    };
    Some(Battery {
        name: fields
            .get("NAME")
            .and_then(|v| non_empty(v))
            .unwrap_or_else(|| name.to_owned()),
        manufacturer: text_field("MANUFACTURER"),
        model: text_field("MODEL_NAME"),
        serial: text_field("SERIAL_NUMBER"),
        technology: text_field("TECHNOLOGY"),
        design_capacity_mwh: capacity_mwh("ENERGY_FULL_DESIGN", "CHARGE_FULL_DESIGN"),
        full_capacity_mwh: capacity_mwh("ENERGY_FULL", "CHARGE_FULL"),
        cycle_count: number("CYCLE_COUNT")
            .and_then(|c| u32::try_from(c).ok())
            .filter(|&c| c > 0),
        capacity_percent: number("CAPACITY").and_then(|c| u8::try_from(c).ok()),
        status: text_field("STATUS"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charge_based_battery_and_non_batteries() {
        let text = "POWER_SUPPLY_NAME=BAT1\nPOWER_SUPPLY_TYPE=Battery\nPOWER_SUPPLY_CHARGE_FULL_DESIGN=5000000\n\
                    POWER_SUPPLY_VOLTAGE_MIN_DESIGN=11100000\nPOWER_SUPPLY_CYCLE_COUNT=0\n";
        let battery = parse_battery_uevent("x", text).unwrap();
        assert_eq!(battery.name, "BAT1");
        assert_eq!(battery.design_capacity_mwh, Some(55_500));
        assert_eq!(battery.full_capacity_mwh, None);
        assert_eq!(battery.cycle_count, None);
        assert!(parse_battery_uevent("AC", "POWER_SUPPLY_TYPE=Mains\n").is_none());
        assert!(
            parse_battery_uevent(
                "hid",
                "POWER_SUPPLY_TYPE=Battery\nPOWER_SUPPLY_SCOPE=Device\n"
            )
            .is_none()
        );
    }
}
