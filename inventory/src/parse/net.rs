//! `/proc/net/if_inet6` and `/sys/class/net/*/address`.

/// One line of `/proc/net/if_inet6`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Inet6Address {
    /// Interface name.
    pub interface: String,
    /// Address with prefix ("fe80::1/64").
    pub address: String,
}

/// `IFA_F_TEMPORARY`: an RFC 4941 privacy address.
const TEMPORARY: u32 = 0x01;

/// Parses `/proc/net/if_inet6` (`addr32hex ifindex prefixlen scope flags name`)
/// and drops privacy addresses: they rotate daily and would make every machine's
/// hardware category change every day.
pub fn parse_if_inet6(text: &str) -> Vec<Inet6Address> {
    text.lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let [hex, _index, prefix, _scope, flags, name] = fields[..] else {
                return None;
            };
            let flags = u32::from_str_radix(flags, 16).ok()?;
            let prefix = u8::from_str_radix(prefix, 16).ok()?;
            let bits = u128::from_str_radix(hex, 16)
                .ok()
                .filter(|_| hex.len() == 32)?;
            (flags & TEMPORARY == 0).then(|| Inet6Address {
                interface: name.to_owned(),
                address: format!("{}/{}", std::net::Ipv6Addr::from(bits), prefix),
            })
        })
        .collect()
}

/// Normalises a MAC address file; the all-zero address (tunnels, loopback) is `None`.
pub fn parse_mac(text: &str) -> Option<String> {
    let mac = text.trim().to_ascii_lowercase();
    let valid = mac.len() == 17
        && mac
            .split(':')
            .all(|p| p.len() == 2 && p.chars().all(|c| c.is_ascii_hexdigit()));
    (valid && mac != "00:00:00:00:00:00").then_some(mac)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn privacy_addresses_are_dropped() {
        let text = "fe800000000000000a0027fffe8f1a2b 02 40 20 80     eth0\n\
                    20010db8000000001c2d3e4f5a6b7c8d 02 40 00 01     eth0\n\
                    00000000000000000000000000000001 01 80 10 80       lo\n";
        let got = parse_if_inet6(text);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].address, "fe80::a00:27ff:fe8f:1a2b/64");
        assert_eq!(parse_mac("00:00:00:00:00:00\n"), None);
        assert_eq!(
            parse_mac("0A:00:27:8F:1A:2B\n").as_deref(),
            Some("0a:00:27:8f:1a:2b")
        );
    }
}
