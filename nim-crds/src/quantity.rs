//! Kubernetes quantities (`250Gi`, `500m`, `1e3`) and semantic versions, as the rules need them.
//!
//! ```
//! use nim_crds::quantity;
//!
//! assert_eq!(quantity::to_f64("250Gi"), Some(250.0 * 1024f64.powi(3)));
//! assert_eq!(quantity::to_f64("500m"), Some(0.5));
//! assert!(!quantity::is_valid("250 GB"));
//! ```

use std::sync::OnceLock;

use regex::Regex;

use crate::schema::QUANTITY_PATTERN;

fn quantity_regex() -> Option<&'static Regex> {
    static RE: OnceLock<Option<Regex>> = OnceLock::new();
    RE.get_or_init(|| Regex::new(QUANTITY_PATTERN).ok())
        .as_ref()
}

/// Whether `text` is a well-formed Kubernetes quantity.
pub fn is_valid(text: &str) -> bool {
    quantity_regex().is_some_and(|re| re.is_match(text))
}

/// The value of a quantity (bytes for memory, cores for CPU), or `None` when malformed.
pub fn to_f64(text: &str) -> Option<f64> {
    if !is_valid(text) {
        return None;
    }
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '+' || c == '-'))
        .unwrap_or(text.len());
    let (number, suffix) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    let factor = match suffix {
        "" => 1.0,
        "n" => 1e-9,
        "u" => 1e-6,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        "Ki" => 1024.0,
        "Mi" => 1024f64.powi(2),
        "Gi" => 1024f64.powi(3),
        "Ti" => 1024f64.powi(4),
        "Pi" => 1024f64.powi(5),
        "Ei" => 1024f64.powi(6),
        exponent => {
            let power: i32 = exponent.get(1..)?.parse().ok()?;
            10f64.powi(power)
        }
    };
    Some(number * factor)
}

/// Whether `text` is a semantic version (`1.2.3`, `1.2.3-rc.1+build`), as DRA version
/// attributes require.
pub fn is_semver(text: &str) -> bool {
    static RE: OnceLock<Option<Regex>> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(
            r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$",
        )
        .ok()
    })
    .as_ref()
    .is_some_and(|re| re.is_match(text))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn suffixes() {
        assert_eq!(to_f64("1"), Some(1.0));
        assert_eq!(to_f64("1k"), Some(1000.0));
        assert_eq!(to_f64("2Mi"), Some(2.0 * 1024.0 * 1024.0));
        assert_eq!(to_f64("1e3"), Some(1000.0));
        assert_eq!(to_f64("0"), Some(0.0));
        assert_eq!(to_f64("-1"), Some(-1.0));
        assert_eq!(to_f64("1.5Gi"), Some(1.5 * 1024f64.powi(3)));
        assert_eq!(to_f64("GB"), None);
        assert_eq!(to_f64(""), None);
    }

    #[test]
    fn semver() {
        assert!(is_semver("1.2.3"));
        assert!(is_semver("12.0.1-rc.1+b5"));
        assert!(!is_semver("1.2"));
        assert!(!is_semver("v1.2.3"));
    }

    proptest! {
        #[test]
        fn binary_suffixes_scale_by_1024(n in 0u32..100_000, s in 0usize..6) {
            let suffixes = ["Ki", "Mi", "Gi", "Ti", "Pi", "Ei"];
            let value = to_f64(&format!("{n}{}", suffixes[s])).expect("valid quantity");
            let expected = f64::from(n) * 1024f64.powi(i32::try_from(s).expect("small") + 1);
            prop_assert!((value - expected).abs() <= expected * 1e-12);
        }

        #[test]
        fn never_panics(text in ".{0,24}") {
            let _ = to_f64(&text);
            let _ = is_valid(&text);
        }
    }
}
