//! Parsers see whatever a machine holds: arbitrary input must never panic, and
//! version ordering must behave like an order on any strings.

use std::cmp::Ordering;

use lifeline_inventory::parse::{
    cpu, dmi, dpkg, net, os_release, packages, pci, power_supply, sessions,
};
use lifeline_inventory::{VersionScheme, compare_versions};
use proptest::prelude::*;

/// Text that looks enough like the real formats to reach deep branches.
fn texty() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            Just("Package: a".to_owned()),
            Just("Status: install ok installed".to_owned()),
            Just("Version: 1:2.0-1".to_owned()),
            Just(" continuation".to_owned()),
            Just(String::new()),
            Just("\r".to_owned()),
            Just("KEY=\"va\\\"l".to_owned()),
            Just("name\t1.0-1\tx86_64\t17".to_owned()),
            Just("\t8086  Intel".to_owned()),
            Just("core id\t: 3".to_owned()),
            Just("POWER_SUPPLY_TYPE=Battery".to_owned()),
            ".{0,40}",
        ],
        0..30,
    )
    .prop_map(|lines| lines.join("\n"))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn text_parsers_never_panic(text in texty()) {
        let _ = dpkg::parse_dpkg_status(&text);
        let _ = os_release::parse_os_release(&text);
        let _ = packages::parse_rpm_query(&text);
        let _ = packages::parse_flatpak_list(&text);
        let _ = packages::parse_snap_list(&text);
        let _ = cpu::parse_cpuinfo(&text);
        let _ = cpu::parse_meminfo(&text);
        let _ = cpu::parse_khz_to_mhz(&text);
        let _ = dmi::clean_dmi_value(&text);
        let _ = dmi::chassis_type_name(&text);
        let _ = pci::pci_names(&text, "8086", "46a6");
        let _ = pci::parse_hex_id(&text);
        let _ = power_supply::parse_battery_uevent("BAT0", &text);
        let _ = sessions::parse_logind_session(&text);
        let _ = net::parse_if_inet6(&text);
        let _ = net::parse_mac(&text);
    }

    #[test]
    fn utmp_parser_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..2000)) {
        let _ = sessions::parse_utmp(&bytes);
    }

    #[test]
    fn version_comparison_is_an_order(a in "[0-9a-z.:~^+-]{0,12}", b in "[0-9a-z.:~^+-]{0,12}", c in "[0-9a-z.:~^+-]{0,12}") {
        for scheme in [VersionScheme::Debian, VersionScheme::Rpm] {
            let ab = compare_versions(scheme, &a, &b);
            prop_assert_eq!(ab, compare_versions(scheme, &b, &a).reverse());
            prop_assert_eq!(compare_versions(scheme, &a, &a), Ordering::Equal);
            let bc = compare_versions(scheme, &b, &c);
            if ab == bc && ab != Ordering::Equal {
                prop_assert_eq!(compare_versions(scheme, &a, &c), ab, "transitivity {:?}", scheme);
            }
        }
    }
}
