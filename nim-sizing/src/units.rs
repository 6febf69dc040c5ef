//! Units as newtypes, so that GB and GiB, tokens and blocks never mix.
//!
//! Memory is counted in [`Bytes`] (an exact `u64`); [`Bytes::gib`] and [`Bytes::gb`] convert
//! for display only, and [`Bytes::from_gib`] / [`Bytes::from_gb`] say which unit a figure
//! came in. Vendors quote memory in GB (10^9) or in GiB (2^30) inconsistently; a catalog entry
//! records which one it was.
//!
//! ```
//! use nim_sizing::units::Bytes;
//!
//! let kv = Bytes::new(327_680) * 131_072; // Llama 3.1 70B, bf16 KV, one 128k sequence
//! assert_eq!(kv, Bytes::from_gib(40.0));
//! assert_eq!(kv.to_string(), "40.00 GiB");
//! assert_eq!(Bytes::from_gb(80.0).to_string(), "74.51 GiB");
//! ```

use std::fmt;
use std::ops::{Add, AddAssign, Mul, Sub};

use serde::{Deserialize, Serialize};

/// 2^30 bytes.
pub const GIB: u64 = 1 << 30;
/// 2^20 bytes.
pub const MIB: u64 = 1 << 20;
/// 10^9 bytes.
pub const GB: u64 = 1_000_000_000;

/// A number of bytes. Serialized as a plain integer.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Bytes(pub u64);

impl Bytes {
    /// Zero bytes.
    pub const ZERO: Bytes = Bytes(0);

    /// `n` bytes.
    pub const fn new(n: u64) -> Self {
        Self(n)
    }

    /// `gib` GiB (2^30 bytes each), rounded to the nearest byte.
    pub fn from_gib(gib: f64) -> Self {
        Self::from_f64(gib * GIB as f64)
    }

    /// `mib` MiB (2^20 bytes each), rounded to the nearest byte.
    pub fn from_mib(mib: f64) -> Self {
        Self::from_f64(mib * MIB as f64)
    }

    /// `gb` GB (10^9 bytes each), rounded to the nearest byte.
    pub fn from_gb(gb: f64) -> Self {
        Self::from_f64(gb * GB as f64)
    }

    /// A byte count from a float: rounded, negative and NaN become 0, huge values saturate.
    pub fn from_f64(bytes: f64) -> Self {
        if bytes.is_nan() || bytes <= 0.0 {
            Self(0)
        } else if bytes >= u64::MAX as f64 {
            Self(u64::MAX)
        } else {
            Self(bytes.round() as u64)
        }
    }

    /// The count.
    pub const fn get(self) -> u64 {
        self.0
    }

    /// In GiB.
    pub fn gib(self) -> f64 {
        self.0 as f64 / GIB as f64
    }

    /// In GB.
    pub fn gb(self) -> f64 {
        self.0 as f64 / GB as f64
    }

    /// `self - other`, or zero when `other` is larger.
    pub fn saturating_sub(self, other: Bytes) -> Bytes {
        Bytes(self.0.saturating_sub(other.0))
    }

    /// `self * factor` for a fraction such as a memory-utilization setting.
    pub fn scale(self, factor: f64) -> Bytes {
        Self::from_f64(self.0 as f64 * factor)
    }

    /// How many whole `unit`s fit in `self` (0 when `unit` is zero).
    pub fn div_floor(self, unit: Bytes) -> u64 {
        self.0.checked_div(unit.0).unwrap_or(0)
    }

    /// `self / parts`, rounded up (0 parts gives `self`).
    pub fn div_ceil(self, parts: u64) -> Bytes {
        Bytes(if parts == 0 {
            self.0
        } else {
            self.0.div_ceil(parts)
        })
    }
}

impl fmt::Display for Bytes {
    /// GiB with two decimals from 1 GiB up, MiB below, bytes below 1 MiB.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 >= GIB {
            write!(f, "{:.2} GiB", self.gib())
        } else if self.0 >= MIB {
            write!(f, "{:.2} MiB", self.0 as f64 / MIB as f64)
        } else {
            write!(f, "{} B", self.0)
        }
    }
}

impl Add for Bytes {
    type Output = Bytes;
    fn add(self, rhs: Bytes) -> Bytes {
        Bytes(self.0.saturating_add(rhs.0))
    }
}

impl AddAssign for Bytes {
    fn add_assign(&mut self, rhs: Bytes) {
        *self = *self + rhs;
    }
}

impl Sub for Bytes {
    type Output = Bytes;
    /// Saturating: memory never goes negative; compare first when a shortfall matters.
    fn sub(self, rhs: Bytes) -> Bytes {
        self.saturating_sub(rhs)
    }
}

impl Mul<u64> for Bytes {
    type Output = Bytes;
    fn mul(self, rhs: u64) -> Bytes {
        Bytes(self.0.saturating_mul(rhs))
    }
}

impl std::iter::Sum for Bytes {
    fn sum<I: Iterator<Item = Bytes>>(iter: I) -> Bytes {
        iter.fold(Bytes::ZERO, Add::add)
    }
}

impl From<u64> for Bytes {
    fn from(n: u64) -> Self {
        Self(n)
    }
}

/// A number of tokens.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Tokens(pub u64);

impl Tokens {
    /// The count.
    pub const fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for Tokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} tokens", self.0)
    }
}

impl From<u64> for Tokens {
    fn from(n: u64) -> Self {
        Self(n)
    }
}

/// A duration in seconds (fractional).
#[derive(Clone, Copy, Debug, Default, PartialEq, PartialOrd, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Seconds(pub f64);

impl fmt::Display for Seconds {
    /// `42 s`, `12m 30s`, `1h 05m`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.0.max(0.0).round() as u64;
        if s < 60 {
            write!(f, "{s} s")
        } else if s < 3600 {
            write!(f, "{}m {:02}s", s / 60, s % 60)
        } else {
            write!(f, "{}h {:02}m", s / 3600, (s % 3600) / 60)
        }
    }
}

/// A transfer rate in bytes per second.
#[derive(Clone, Copy, Debug, Default, PartialEq, PartialOrd, Serialize, Deserialize)]
#[serde(transparent)]
pub struct BytesPerSecond(pub f64);

impl BytesPerSecond {
    /// `gb` GB/s (10^9 bytes per second), the unit of vendor bandwidth figures.
    pub fn from_gb_per_s(gb: f64) -> Self {
        Self(gb * GB as f64)
    }

    /// In GB/s.
    pub fn gb_per_s(self) -> f64 {
        self.0 / GB as f64
    }

    /// How long `bytes` take at this rate (infinite at zero rate).
    pub fn time_for(self, bytes: Bytes) -> Seconds {
        Seconds(bytes.0 as f64 / self.0)
    }
}

impl fmt::Display for BytesPerSecond {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.1} GB/s", self.gb_per_s())
    }
}

/// Dense tensor throughput in TFLOP/s (10^12 floating-point operations per second).
#[derive(Clone, Copy, Debug, Default, PartialEq, PartialOrd, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Tflops(pub f64);

impl fmt::Display for Tflops {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.0} TFLOP/s", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gib_and_gb_are_different_units() {
        assert_eq!(Bytes::from_gib(1.0).get(), 1_073_741_824);
        assert_eq!(Bytes::from_gb(1.0).get(), 1_000_000_000);
        assert!((Bytes::from_gb(80.0).gib() - 74.505_805).abs() < 1e-5);
    }

    #[test]
    fn worked_kv_examples() {
        assert_eq!(Bytes::new(327_680) * 131_072, Bytes::from_gib(40.0));
        assert_eq!(Bytes::new(131_072) * 131_072, Bytes::from_gib(16.0));
    }

    #[test]
    fn arithmetic_saturates() {
        assert_eq!(Bytes::new(5) - Bytes::new(9), Bytes::ZERO);
        assert_eq!(Bytes::new(u64::MAX) + Bytes::new(1), Bytes::new(u64::MAX));
        assert_eq!(Bytes::new(10).div_floor(Bytes::ZERO), 0);
        assert_eq!(Bytes::new(10).div_ceil(3), Bytes::new(4));
        assert_eq!(Bytes::from_f64(f64::NAN), Bytes::ZERO);
        assert_eq!(Bytes::from_f64(-3.0), Bytes::ZERO);
    }

    #[test]
    fn display() {
        assert_eq!(Bytes::from_gib(16.0).to_string(), "16.00 GiB");
        assert_eq!(Bytes::from_mib(1.5).to_string(), "1.50 MiB");
        assert_eq!(Bytes::new(12).to_string(), "12 B");
        assert_eq!(Seconds(42.4).to_string(), "42 s");
        assert_eq!(Seconds(750.0).to_string(), "12m 30s");
        assert_eq!(Seconds(3900.0).to_string(), "1h 05m");
        assert_eq!(
            BytesPerSecond::from_gb_per_s(3350.0).to_string(),
            "3350.0 GB/s"
        );
    }

    #[test]
    fn serde_is_a_plain_number() {
        assert_eq!(
            serde_json::to_string(&Bytes::new(7)).ok().as_deref(),
            Some("7")
        );
        assert_eq!(serde_json::to_string(&Tokens(3)).ok().as_deref(), Some("3"));
    }
}
