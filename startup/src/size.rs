//! Sizes as people write and read them, the same in every binary: decimal
//! units (`64MB` is 64,000,000 bytes), as the client always showed them and
//! as disks are sold. The binary `KiB`, `MiB`, `GiB`, `TiB` are read too.
//! [`parse`] reads a flag's value; [`human`] writes a byte count for a person.

/// `1.20 MB`: `bytes` in decimal units, as every size is shown.
pub fn human(bytes: u64) -> String {
    indicatif::DecimalBytes(bytes).to_string()
}

/// Parses a size as people write it, in the decimal units every size is
/// shown in: `65536` (bytes), `500kB`, `64MB`, `1.5GB`, `2TB` (a bare `K`,
/// `M`, `G`, `T` means the same). The binary `KiB`, `MiB`, `GiB`, `TiB` are
/// accepted too, for the scripts written when the limit took only those.
/// Case does not matter; a fraction of a byte is dropped.
///
/// # Errors
/// Not a size, or more bytes than a `u64` holds; the text says which.
pub fn parse(text: &str) -> Result<u64, String> {
    const NOT_A_SIZE: &str = "not a size: write bytes, or a number with kB, MB, GB or TB \
                              (or KiB, MiB, GiB, TiB), e.g. 64MB or 1.5GB";
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let unit: u128 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" => 1_000,
        "m" | "mb" => 1_000_000,
        "g" | "gb" => 1_000_000_000,
        "t" | "tb" => 1_000_000_000_000,
        "kib" => 1 << 10,
        "mib" => 1 << 20,
        "gib" => 1 << 30,
        "tib" => 1 << 40,
        _ => return Err(NOT_A_SIZE.into()),
    };
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    // Integers, not floats: 1.1MB is exactly 1,100,000 bytes. At most 18
    // decimals keep the arithmetic within u128.
    let digits_only = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if (whole.is_empty() && fraction.is_empty()) || !digits_only(fraction) || fraction.len() > 18 {
        return Err(NOT_A_SIZE.into());
    }
    if unit == 1 && !fraction.trim_end_matches('0').is_empty() {
        return Err("not a whole number of bytes".into());
    }
    let too_large = || format!("too large (at most {} bytes)", u64::MAX);
    let whole: u128 = if whole.is_empty() {
        0
    } else {
        whole.parse::<u64>().map_err(|_| too_large())?.into()
    };
    let scale = 10u128.pow(fraction.len() as u32);
    let fraction: u128 = if fraction.is_empty() {
        0
    } else {
        fraction.parse().map_err(|_| NOT_A_SIZE.to_string())?
    };
    let bytes = whole * unit + fraction * unit / scale;
    u64::try_from(bytes).map_err(|_| too_large())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_show_in_decimal_units() {
        assert_eq!(human(10_000_000), "10.00 MB");
        assert_eq!(human(512), "512 B");
    }

    #[test]
    fn decimal_units_are_the_ones_sizes_are_shown_in() {
        for (text, bytes) in [
            ("65536", 65_536),
            ("0", 0),
            ("500kB", 500_000),
            ("500KB", 500_000),
            ("64MB", 64_000_000),
            ("64 MB", 64_000_000),
            ("64mb", 64_000_000),
            ("64M", 64_000_000),
            ("1.5GB", 1_500_000_000),
            ("1.1MB", 1_100_000),
            ("0.5kB", 500),
            (".5kB", 500),
            ("2TB", 2_000_000_000_000),
            ("10B", 10),
            ("3.0", 3),
        ] {
            assert_eq!(parse(text), Ok(bytes), "{text}");
        }
    }

    #[test]
    fn binary_units_still_mean_what_they_meant() {
        for (text, bytes) in [
            ("64MiB", 64 << 20),
            ("100KiB", 100 << 10),
            ("1.5GiB", 3 << 29),
            ("1TiB", 1 << 40),
            // A fraction of a byte is dropped, not rounded up.
            ("0.1KiB", 102),
        ] {
            assert_eq!(parse(text), Ok(bytes), "{text}");
        }
    }

    #[test]
    fn what_is_not_a_size_says_why_in_one_line() {
        for bad in [
            "", "M", "-1", "12X", "1e9", "1.2.3MB", "64 M B", "1,5GB", "..", "MB64",
        ] {
            let why = parse(bad).expect_err(bad);
            assert!(
                why.starts_with("not a size") && why.contains("64MB"),
                "{bad}: {why}"
            );
            assert!(!why.contains('\n'), "{bad}: {why}");
        }
        assert_eq!(parse("1.5").unwrap_err(), "not a whole number of bytes");
        for huge in [
            "18446744073709551616",
            "20000000TB",
            "99999999999999999999999",
        ] {
            assert!(parse(huge).unwrap_err().starts_with("too large"), "{huge}");
        }
        assert_eq!(parse("18446744073709551615"), Ok(u64::MAX));
    }
}
