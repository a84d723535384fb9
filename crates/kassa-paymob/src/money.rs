//! Supported currencies and minor units.

/// Currencies accepted by this gateway.
pub const CURRENCIES: [&str; 5] = ["EGP", "SAR", "AED", "PKR", "OMR"];

/// Number of minor-unit digits (OMR 3, others 2); None if unsupported.
pub fn exponent(currency: &str) -> Option<u32> {
    match currency {
        "OMR" => Some(3),
        c if CURRENCIES.contains(&c) => Some(2),
        _ => None,
    }
}

/// Formats minor units as a decimal amount (12345 EGP → "123.45").
/// Unsupported currencies use 2 digits.
pub fn format_minor(amount: i64, currency: &str) -> String {
    let exp = exponent(currency).unwrap_or(2);
    let unit = 10u64.pow(exp);
    let abs = amount.unsigned_abs();
    let sign = if amount < 0 { "-" } else { "" };
    format!(
        "{sign}{}.{:0width$}",
        abs / unit,
        abs % unit,
        width = exp as usize
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exponents() {
        assert_eq!(exponent("EGP"), Some(2));
        assert_eq!(exponent("OMR"), Some(3));
        assert_eq!(exponent("PKR"), Some(2));
        assert_eq!(exponent("USD"), None);
        assert_eq!(exponent("egp"), None);
    }

    #[test]
    fn formatting() {
        assert_eq!(format_minor(12345, "EGP"), "123.45");
        assert_eq!(format_minor(1500, "OMR"), "1.500");
        assert_eq!(format_minor(5, "SAR"), "0.05");
        assert_eq!(format_minor(0, "OMR"), "0.000");
        assert_eq!(format_minor(-101, "AED"), "-1.01");
        assert_eq!(format_minor(i64::MIN, "EGP"), "-92233720368547758.08");
        assert_eq!(format_minor(100, "XXX"), "1.00");
    }
}
