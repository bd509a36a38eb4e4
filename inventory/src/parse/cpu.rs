//! `/proc/cpuinfo`, `/proc/meminfo` and the cpufreq sysfs files.

use std::collections::BTreeSet;

/// What `/proc/cpuinfo` says about the processor.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CpuInfoText {
    /// `vendor_id` (x86) or the name of the `CPU implementer` (Arm).
    pub vendor: Option<String>,
    /// `model name`, or on Arm boards the `Model`/`Hardware` line.
    pub model: Option<String>,
    /// Number of `processor` entries.
    pub threads: u32,
    /// Distinct (`physical id`, `core id`) pairs; `None` when the kernel omits them.
    pub cores: Option<u32>,
    /// `cpu MHz` of the first processor, rounded.
    pub current_mhz: Option<u32>,
    /// The clock printed in the model name ("@ 2.80GHz"), as a fallback maximum.
    pub nominal_mhz: Option<u32>,
}

/// Parses `/proc/cpuinfo` as x86 and Arm kernels write it.
pub fn parse_cpuinfo(text: &str) -> CpuInfoText {
    let mut info = CpuInfoText::default();
    let mut board_model = None;
    let mut physical_id = None;
    let mut cores = BTreeSet::new();
    for line in text.lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        match key.trim() {
            "processor" => {
                info.threads += 1;
                physical_id = None;
            }
            "vendor_id" if info.vendor.is_none() => info.vendor = Some(value.to_owned()),
            "CPU implementer" if info.vendor.is_none() => {
                info.vendor = Some(arm_implementer(value).to_owned());
            }
            "model name" if info.model.is_none() => info.model = Some(value.to_owned()),
            "Model" | "Hardware" if board_model.is_none() => board_model = Some(value.to_owned()),
            "physical id" => physical_id = Some(value.to_owned()),
            "core id" => {
                cores.insert((physical_id.clone(), value.to_owned()));
            }
            "cpu MHz" if info.current_mhz.is_none() => {
                info.current_mhz = value.parse::<f64>().ok().map(|mhz| mhz.round() as u32);
            }
            _ => {}
        }
    }
    info.model = info.model.or(board_model).filter(|m| !m.is_empty());
    info.cores = u32::try_from(cores.len()).ok().filter(|&n| n > 0);
    info.nominal_mhz = info.model.as_deref().and_then(nominal_mhz);
    info
}

/// Reads "2.80GHz" out of an Intel-style model name.
fn nominal_mhz(model: &str) -> Option<u32> {
    let at = model.rfind('@')?;
    let ghz = model[at + 1..].trim().strip_suffix("GHz")?;
    let ghz: f64 = ghz.trim().parse().ok()?;
    (ghz > 0.0 && ghz < 100.0).then(|| (ghz * 1000.0).round() as u32)
}

/// Names the Arm `CPU implementer` codes a help desk is likely to meet.
fn arm_implementer(code: &str) -> &str {
    match code.to_ascii_lowercase().as_str() {
        "0x41" => "ARM",
        "0x42" => "Broadcom",
        "0x48" => "HiSilicon",
        "0x4e" => "NVIDIA",
        "0x51" => "Qualcomm",
        "0x61" => "Apple",
        "0xc0" => "Ampere",
        _ => code,
    }
}

/// Totals from `/proc/meminfo`, in bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MemInfo {
    /// `MemTotal`.
    pub mem_total: Option<u64>,
    /// `SwapTotal`.
    pub swap_total: Option<u64>,
}

/// Parses `/proc/meminfo` (`Key:   123456 kB` lines).
pub fn parse_meminfo(text: &str) -> MemInfo {
    let mut info = MemInfo::default();
    for line in text.lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let slot = match key.trim() {
            "MemTotal" => &mut info.mem_total,
            "SwapTotal" => &mut info.swap_total,
            _ => continue,
        };
        *slot = parse_kib(value);
    }
    info
}

fn parse_kib(value: &str) -> Option<u64> {
    let mut parts = value.split_whitespace();
    let number: u64 = parts.next()?.parse().ok()?;
    match parts.next() {
        Some("kB") | None => number.checked_mul(1024),
        Some(_) => None,
    }
}

/// Parses a cpufreq file such as `cpuinfo_max_freq` (kHz) into MHz.
pub fn parse_khz_to_mhz(text: &str) -> Option<u32> {
    let khz: u64 = text.trim().parse().ok()?;
    u32::try_from(khz / 1000).ok().filter(|&mhz| mhz > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nominal_clock_from_model_name() {
        assert_eq!(
            nominal_mhz("Intel(R) Core(TM) i5-8250U CPU @ 1.60GHz"),
            Some(1600)
        );
        assert_eq!(nominal_mhz("AMD Ryzen 7 5800X 8-Core Processor"), None);
    }

    #[test]
    fn meminfo_units() {
        let info = parse_meminfo("MemTotal: 1000 kB\nSwapTotal: x kB\n");
        assert_eq!(info.mem_total, Some(1_024_000));
        assert_eq!(info.swap_total, None);
    }
}
