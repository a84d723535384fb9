//! Amounts as each language writes money, from CLDR through ICU4X's currency formatter: the
//! symbol (`$`, `€`, `ج.م.`, `₺`) or, where the language has none for that currency, the ISO
//! code; the symbol's side; grouping and decimal separators. Digits are always Kassa's own:
//! the amount's exact minor units (ISO 4217 exponent), never rounded to CLDR's display digits.

use fixed_decimal::Decimal;
use icu_experimental::dimension::currency::formatter::CurrencyFormatter;
use icu_experimental::dimension::currency::CurrencyType;
use icu_locale_core::Locale;
use kassa_core::money::{Currency, Money};
use writeable::Writeable;

use crate::Lang;

fn locale(lang: Lang) -> Locale {
    // Arabic pages use Latin digits (the CLDR default for plain `ar`, and what Paymob and the
    // region's card slips print); the symbol and its side still follow Arabic.
    lang.code().parse().unwrap_or(Locale::UNKNOWN)
}

/// `minor` units of `currency` in `lang`: `$1,234.50` (en), `1 234,50 $US` (fr), `‏250.00 ج.م.‏`
/// (ar). An unknown code or an out-of-range amount comes out as `CODE <minor units>`.
pub fn format_money(lang: Lang, minor: i64, currency: &str) -> String {
    let Ok(cur) = Currency::parse(currency) else {
        return format!("{} {minor}", currency.to_ascii_uppercase());
    };
    let Ok(money) = Money::new(minor, cur) else {
        return format!("{} {minor}", cur.code());
    };
    let exact = money.to_decimal_string();
    icu_format(lang, cur, &exact).unwrap_or_else(|| plain(cur, &exact))
}

/// The ICU rendering, or None when ICU has no pattern or would show other digits than the exact
/// amount (CLDR shows fewer decimals than ISO 4217 for some currencies, e.g. IQD).
fn icu_format(lang: Lang, cur: Currency, exact: &str) -> Option<String> {
    let code = CurrencyType::try_from_str(cur.code()).ok()?;
    let formatter =
        CurrencyFormatter::try_new_symbol((&locale(lang)).into(), code, Default::default()).ok()?;
    let value: Decimal = exact.parse().ok()?;
    let out = formatter
        .format_fixed_decimal(&value)
        .write_to_string()
        .into_owned();
    let digits = |s: &str| s.chars().filter(char::is_ascii_digit).collect::<String>();
    (digits(&out) == digits(exact)).then_some(out)
}

fn plain(cur: Currency, exact: &str) -> String {
    format!("{} {exact}", cur.code())
}

#[cfg(test)]
mod tests {
    use super::*;

    const RLM: char = '\u{200f}';
    const NBSP: char = '\u{a0}';

    #[test]
    fn english_writes_the_symbol_first_with_grouping() {
        assert_eq!(format_money(Lang::En, 123_450, "usd"), "$1,234.50");
        assert_eq!(format_money(Lang::En, 1000, "EUR"), "€10.00");
        assert_eq!(format_money(Lang::En, 500, "JPY"), "¥500");
        assert_eq!(
            format_money(Lang::En, 1250, "KWD"),
            format!("KWD{NBSP}1.250")
        );
    }

    #[test]
    fn european_languages_put_comma_decimals_and_their_own_symbol_side() {
        assert_eq!(format_money(Lang::Fr, 1000, "EUR"), format!("10,00{NBSP}€"));
        assert_eq!(
            format_money(Lang::De, 123_450, "EUR"),
            format!("1.234,50{NBSP}€")
        );
        assert_eq!(format_money(Lang::Es, 1000, "EUR"), format!("10,00{NBSP}€"));
        assert_eq!(format_money(Lang::Tr, 9990, "TRY"), "₺99,90");
        assert_eq!(format_money(Lang::Tr, 1000, "EUR"), "€10,00");
    }

    #[test]
    fn arabic_writes_the_arabic_symbol_after_latin_digits_with_direction_marks() {
        let s = format_money(Lang::Ar, 25_000, "EGP");
        assert_eq!(s, format!("{RLM}250.00{NBSP}ج.م.{RLM}"));
        assert!(format_money(Lang::Ar, 1250, "KWD").contains("1.250"));
    }

    #[test]
    fn the_exact_minor_units_are_kept_even_where_cldr_shows_fewer_decimals() {
        // ISO 4217: IQD has 3 decimals; CLDR displays 0. The payer must see the exact amount.
        let s = format_money(Lang::En, 1250, "IQD");
        assert!(s.contains("1.250"), "{s}");
        assert!(format_money(Lang::De, 1, "KWD").contains("0,001"));
    }

    #[test]
    fn unknown_currencies_and_huge_amounts_are_shown_honestly() {
        assert_eq!(format_money(Lang::En, 100, "XYZ1"), "XYZ1 100");
        assert!(format_money(Lang::En, i64::MAX, "USD").contains("USD"));
    }
}
