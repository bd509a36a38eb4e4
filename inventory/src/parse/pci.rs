//! PCI sysfs attribute files and the pci.ids name database.

/// Normalises a sysfs id file ("0x8086\n") to lowercase hex without prefix ("8086").
pub fn parse_hex_id(text: &str) -> Option<String> {
    let value = text.trim();
    let hex = value.strip_prefix("0x").unwrap_or(value);
    (!hex.is_empty() && hex.chars().all(|c| c.is_ascii_hexdigit()))
        .then(|| hex.to_ascii_lowercase())
}

/// True for PCI base class 0x03, display controllers (VGA, XGA, 3D, other).
pub fn is_display_class(class_hex: &str) -> bool {
    class_hex.len() == 6 && class_hex.starts_with("03")
}

/// Looks up a vendor and device name in the text of a pci.ids file.
///
/// The file lists vendors at column 0 (`8086  Intel Corporation`), their devices
/// indented by one tab and subsystems by two; the class list after the vendors
/// starts with `C `. One linear scan, stopping at the vendor's end, is enough for
/// the one or two GPUs a machine has.
pub fn pci_names(ids: &str, vendor: &str, device: &str) -> (Option<String>, Option<String>) {
    let mut vendor_name = None;
    for line in ids.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        if let Some(rest) = line.strip_prefix('\t') {
            if vendor_name.is_none() || rest.starts_with('\t') {
                continue;
            }
            if let Some(name) = id_line(rest, device) {
                return (vendor_name, Some(name));
            }
            continue;
        }
        if vendor_name.is_some() || line.starts_with("C ") {
            break;
        }
        vendor_name = id_line(line, vendor);
    }
    (vendor_name, None)
}

/// `"8086  Intel Corporation"` → `Some("Intel Corporation")` when the id matches.
fn id_line(line: &str, id: &str) -> Option<String> {
    let (line_id, name) = line.split_once(char::is_whitespace)?;
    line_id
        .eq_ignore_ascii_case(id)
        .then(|| name.trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    const IDS: &str = "# comment\n1002  Advanced Micro Devices, Inc. [AMD/ATI]\n\t73bf  Navi 21\n\
                       8086  Intel Corporation\n\t1234  Other\n\t\t46a6 1234  Sub\n\t46a6  Alder Lake-P GT2\n\
                       C 03  Display controller\n";

    #[test]
    fn lookups() {
        assert_eq!(parse_hex_id("0x8086\n").as_deref(), Some("8086"));
        assert_eq!(parse_hex_id("zz"), None);
        assert!(is_display_class("030000") && !is_display_class("020000"));
        let (v, d) = pci_names(IDS, "8086", "46a6");
        assert_eq!(v.as_deref(), Some("Intel Corporation"));
        assert_eq!(d.as_deref(), Some("Alder Lake-P GT2"));
        assert_eq!(pci_names(IDS, "1002", "ffff").1, None);
        assert_eq!(pci_names(IDS, "10de", "0001"), (None, None));
    }
}
