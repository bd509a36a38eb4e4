//! dpkg and rpm version ordering.

use std::cmp::Ordering::{self, Equal, Greater, Less};

use lifeline_inventory::{VersionScheme, compare_versions};

fn check(scheme: VersionScheme, cases: &[(&str, Ordering, &str)]) {
    for &(a, expected, b) in cases {
        assert_eq!(
            compare_versions(scheme, a, b),
            expected,
            "{scheme:?}: {a} vs {b}"
        );
        assert_eq!(
            compare_versions(scheme, b, a),
            expected.reverse(),
            "{scheme:?}: {b} vs {a}"
        );
    }
}

#[test]
fn debian_ordering() {
    check(
        VersionScheme::Debian,
        &[
            ("1:2.0", Greater, "1.9"),
            ("1:0.1", Greater, "9.9"),
            ("1.0~rc1", Less, "1.0"),
            ("1.0~rc1", Greater, "1.0~beta2"),
            ("1.0~~", Less, "1.0~"),
            // dpkg: the end of a string sorts before any letter, so 1.0 < 1.0a.
            ("1.0", Less, "1.0a"),
            // Letters sort before non-letters.
            ("1.0a", Less, "1.0+"),
            ("1.0+", Less, "1.0.1"),
            ("2.10", Greater, "2.9"),
            ("1.0-1", Less, "1.0-2"),
            ("1.0-10", Greater, "1.0-9"),
            ("1.0", Equal, "1.0-0"),
            ("0:1.0", Equal, "1.0"),
            ("1.01", Equal, "1.1"),
            ("3.0.11-1~deb12u2", Less, "3.0.13-1~deb12u1"),
            ("3.0.11-1~deb12u2", Less, "3.0.11-1"),
            ("2:9.0.1378-2", Greater, "9.1"),
            ("1.2.3-1ubuntu1", Greater, "1.2.3-1"),
            ("1.2-3-4", Greater, "1.2-3-3"),
            ("99999999999999999999999", Greater, "9999999999999999999999"),
        ],
    );
}

#[test]
fn rpm_ordering() {
    check(
        VersionScheme::Rpm,
        &[
            ("1.0~rc1", Less, "1.0"),
            ("1.0~rc1", Less, "1.0~rc2"),
            ("1.0^post1", Greater, "1.0"),
            ("1.0^post1", Less, "1.0.1"),
            ("1.0^", Less, "1.0^git1"),
            ("1.0~rc1^git1", Less, "1.0~rc1^git2"),
            ("1.0~rc1^git1", Greater, "1.0~rc1"),
            ("2.10", Greater, "2.9"),
            ("1.0-1", Less, "1.0-2"),
            ("1.0a", Greater, "1.0"),
            ("1.0", Less, "1.0.1"),
            ("1a", Less, "1.0"),
            ("1.0010", Equal, "1.10"),
            ("1.0", Equal, "1_0"),
            ("1:1.0", Greater, "2.0"),
            ("6.8.10-300.fc40", Greater, "6.8.9-300.fc40"),
            ("5.2.26-3.fc40", Less, "5.2.26-10.fc40"),
            ("2.39-8.fc40", Greater, "2.39-8.el9"),
        ],
    );
}
