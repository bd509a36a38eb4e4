//! Values from `/sys/class/dmi/id/*`.

/// Firmware placeholders that vendors leave in unfilled DMI fields. Reporting them
/// would make thousands of machines share the serial "To Be Filled By O.E.M.".
const PLACEHOLDERS: &[&str] = &[
    "to be filled by o.e.m.",
    "default string",
    "not specified",
    "not applicable",
    "system serial number",
    "system product name",
    "system manufacturer",
    "system version",
    "0123456789",
    "none",
    "n/a",
];

/// Cleans one DMI file's content: trimmed, `None` when empty or a known placeholder.
pub fn clean_dmi_value(text: &str) -> Option<String> {
    let value = text.trim_matches(|c: char| c.is_whitespace() || c == '\0');
    if value.is_empty() || PLACEHOLDERS.contains(&value.to_ascii_lowercase().as_str()) {
        return None;
    }
    Some(value.to_owned())
}

/// Names an SMBIOS chassis type code (`chassis_type`, DMTF DSP0134 table 17).
pub fn chassis_type_name(text: &str) -> Option<String> {
    let code: u8 = text.trim().parse().ok()?;
    let name = match code {
        1 => "Other",
        2 => return None, // "Unknown": same as not reported
        3 => "Desktop",
        4 => "Low Profile Desktop",
        5 => "Pizza Box",
        6 => "Mini Tower",
        7 => "Tower",
        8 => "Portable",
        9 => "Laptop",
        10 => "Notebook",
        11 => "Hand Held",
        12 => "Docking Station",
        13 => "All in One",
        14 => "Sub Notebook",
        15 => "Space-saving",
        16 => "Lunch Box",
        17 => "Main Server Chassis",
        18 => "Expansion Chassis",
        19 => "SubChassis",
        20 => "Bus Expansion Chassis",
        21 => "Peripheral Chassis",
        22 => "RAID Chassis",
        23 => "Rack Mount Chassis",
        24 => "Sealed-case PC",
        25 => "Multi-system Chassis",
        26 => "Compact PCI",
        27 => "Advanced TCA",
        28 => "Blade",
        29 => "Blade Enclosure",
        30 => "Tablet",
        31 => "Convertible",
        32 => "Detachable",
        33 => "IoT Gateway",
        34 => "Embedded PC",
        35 => "Mini PC",
        36 => "Stick PC",
        _ => return Some(format!("Unknown ({code})")),
    };
    Some(name.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_and_codes() {
        assert_eq!(clean_dmi_value("To Be Filled By O.E.M.\n"), None);
        assert_eq!(clean_dmi_value(" LENOVO \n").as_deref(), Some("LENOVO"));
        assert_eq!(chassis_type_name("10\n").as_deref(), Some("Notebook"));
        assert_eq!(chassis_type_name("2"), None);
        assert_eq!(chassis_type_name("99").as_deref(), Some("Unknown (99)"));
        assert_eq!(chassis_type_name("x"), None);
    }
}
