//! The payer's language: which one a page speaks (the face's own parameter, else the browser's
//! `Accept-Language`, else English), the words in it (one catalog per face and language under
//! `locales/<face>/<lang>.toml`, embedded in the binary) and amounts written the way that
//! language writes money (CLDR data through ICU4X: symbol, its side, separators).
//!
//! Every page model carries a [`Lang`]; templates call `lang.text("checkout.pay")`,
//! `lang.fmt("checkout.pay", &[("amount", …)])` and `lang.money(…)`. A key missing from a
//! language falls back to English; the unit tests keep every catalog complete and every
//! placeholder spelled the same in all six languages.
#![forbid(unsafe_code)]

mod catalog;
mod money;

pub use money::format_money;

/// A language Kassa's payer pages speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Lang {
    #[default]
    En,
    Ar,
    Fr,
    De,
    Es,
    Tr,
}

impl Lang {
    /// Every supported language, English first.
    pub const ALL: [Lang; 6] = [Lang::En, Lang::Ar, Lang::Fr, Lang::De, Lang::Es, Lang::Tr];

    /// The BCP 47 tag written into `<html lang>`: `en`, `ar`, …
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Ar => "ar",
            Lang::Fr => "fr",
            Lang::De => "de",
            Lang::Es => "es",
            Lang::Tr => "tr",
        }
    }

    /// `rtl` for Arabic, `ltr` otherwise: the value of `<html dir>`.
    pub fn dir(self) -> &'static str {
        if self.is_rtl() {
            "rtl"
        } else {
            "ltr"
        }
    }

    pub fn is_rtl(self) -> bool {
        self == Lang::Ar
    }

    /// The language's name in itself, for a language switcher: `العربية`, `Français`, …
    pub fn native_name(self) -> &'static str {
        match self {
            Lang::En => "English",
            Lang::Ar => "العربية",
            Lang::Fr => "Français",
            Lang::De => "Deutsch",
            Lang::Es => "Español",
            Lang::Tr => "Türkçe",
        }
    }

    /// The language a tag names, by its primary subtag: `ar-EG`, `AR`, `fr_FR`, `de` → Some.
    /// Unknown or empty tags → None.
    pub fn from_tag(tag: &str) -> Option<Lang> {
        let primary = tag.trim().split(['-', '_']).next()?.to_ascii_lowercase();
        Lang::ALL.into_iter().find(|l| l.code() == primary)
    }

    /// The page's language: `explicit` (the face's own parameter, e.g. Paymentwall's `lang`,
    /// or a `?lang=` the flow carried) when Kassa speaks it, else the first language of the
    /// `Accept-Language` header (highest quality first) that Kassa speaks, else English.
    pub fn negotiate(explicit: Option<&str>, accept_language: Option<&str>) -> Lang {
        if let Some(l) = explicit.and_then(Lang::from_tag) {
            return l;
        }
        accept_language
            .map(accept_language::parse)
            .unwrap_or_default()
            .iter()
            .find_map(|tag| Lang::from_tag(tag))
            .unwrap_or_default()
    }

    /// The text for `key` (`face.key`, e.g. `common.test_mode`) in this language; English when
    /// this language lacks it; the key itself when no catalog has it (a bug the tests catch).
    pub fn text(self, key: &str) -> &'static str {
        catalog::lookup(self, key)
            .or_else(|| catalog::lookup(Lang::En, key))
            .unwrap_or_else(|| catalog::leak_key(key))
    }

    /// [`Lang::text`] with `{name}` placeholders replaced by `args`.
    pub fn fmt(self, key: &str, args: &[(&str, &str)]) -> String {
        let mut out = self.text(key).to_string();
        for (name, value) in args {
            out = out.replace(&format!("{{{name}}}"), value);
        }
        out
    }

    /// [`Lang::fmt`] with one placeholder, for templates: `lang.fmt1("checkout.pay", "amount", a)`.
    pub fn fmt1(self, key: &str, name: &str, value: &str) -> String {
        self.fmt(key, &[(name, value)])
    }

    /// `minor` units of `currency` as this language writes money: `$10.00`, `10,00 €`,
    /// `‏250.00 ج.م.‏`, `₺99,90`. Unknown currency codes come out as `CODE amount`.
    pub fn money(self, minor: i64, currency: &str) -> String {
        format_money(self, minor, currency)
    }

    /// A decline reason the payer can read in this language: the catalog's sentence for the
    /// finer `decline_code` (e.g. `insufficient_funds`), else for the `code`
    /// (`incorrect_cvc`), else `fallback` (the processor's own sentence). English pages keep the
    /// processor's sentence when there is one.
    pub fn decline(self, code: &str, decline_code: Option<&str>, fallback: &str) -> String {
        if self == Lang::En && !fallback.is_empty() {
            return fallback.to_string();
        }
        let found = decline_code
            .into_iter()
            .chain(std::iter::once(code))
            .filter(|c| !c.is_empty())
            .find_map(|c| catalog::lookup(self, &format!("decline.{c}")));
        match found {
            Some(text) => text.to_string(),
            None if !fallback.is_empty() => fallback.to_string(),
            None => self.text("decline.card_declined").to_string(),
        }
    }

    /// Every key under `prefix` (e.g. `card`) with this language's text, as a JSON object safe
    /// to put inside `<script type="application/json">` (`<`, `>` and `&` escaped), keys
    /// without the prefix: `{"number_required":"…",…}`.
    pub fn json(self, prefix: &str) -> String {
        let mut out = String::from("{");
        let start = format!("{prefix}.");
        for (i, key) in catalog::keys()
            .iter()
            .filter(|k| k.starts_with(&start))
            .enumerate()
        {
            if i > 0 {
                out.push(',');
            }
            json_string(&mut out, &key[start.len()..]);
            out.push(':');
            json_string(&mut out, self.text(key));
        }
        out.push('}');
        out
    }
}

fn json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

impl std::fmt::Display for Lang {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_map_by_their_primary_subtag() {
        assert_eq!(Lang::from_tag("ar-EG"), Some(Lang::Ar));
        assert_eq!(Lang::from_tag("AR"), Some(Lang::Ar));
        assert_eq!(Lang::from_tag("fr_FR"), Some(Lang::Fr));
        assert_eq!(Lang::from_tag(" tr "), Some(Lang::Tr));
        assert_eq!(Lang::from_tag("pt-BR"), None);
        assert_eq!(Lang::from_tag(""), None);
        assert_eq!(Lang::from_tag("english"), None);
    }

    #[test]
    fn the_explicit_language_wins_then_accept_language_by_quality_then_english() {
        assert_eq!(
            Lang::negotiate(Some("ar"), Some("de-DE,de;q=0.9")),
            Lang::Ar
        );
        assert_eq!(
            Lang::negotiate(Some("xx"), Some("de-DE,de;q=0.9")),
            Lang::De
        );
        assert_eq!(
            Lang::negotiate(None, Some("pt-BR,pt;q=0.9,es;q=0.8,en;q=0.5")),
            Lang::Es
        );
        assert_eq!(Lang::negotiate(None, Some("en;q=0.2, tr;q=0.8")), Lang::Tr);
        assert_eq!(Lang::negotiate(None, Some("*")), Lang::En);
        assert_eq!(Lang::negotiate(None, Some("garbage;;q=")), Lang::En);
        assert_eq!(Lang::negotiate(None, None), Lang::En);
    }

    #[test]
    fn arabic_is_the_right_to_left_one() {
        for l in Lang::ALL {
            assert_eq!(l.dir(), if l == Lang::Ar { "rtl" } else { "ltr" });
        }
    }

    #[test]
    fn placeholders_are_filled_and_missing_keys_fall_back() {
        assert_eq!(
            Lang::Fr.fmt1("common.pay_amount", "amount", "10,00 €"),
            "Payer 10,00 €"
        );
        assert_eq!(Lang::De.text("no.such.key"), "no.such.key");
    }

    #[test]
    fn declines_are_translated_by_code_and_english_keeps_the_processors_sentence() {
        assert_eq!(
            Lang::En.decline(
                "card_declined",
                Some("insufficient_funds"),
                "The card has insufficient balance."
            ),
            "The card has insufficient balance."
        );
        assert_eq!(
            Lang::De.decline("card_declined", Some("insufficient_funds"), "x"),
            Lang::De.text("decline.insufficient_funds")
        );
        assert_eq!(
            Lang::Ar.decline("incorrect_cvc", None, "x"),
            Lang::Ar.text("decline.incorrect_cvc")
        );
        assert_eq!(Lang::Tr.decline("martian", Some("odd"), "Odd."), "Odd.");
        assert_eq!(
            Lang::Es.decline("martian", None, ""),
            Lang::Es.text("decline.card_declined")
        );
    }

    #[test]
    fn json_is_safe_inside_a_script_element() {
        let j = Lang::En.json("card");
        assert!(j.starts_with("{\"") && j.ends_with('}'), "{j}");
        assert!(!j.contains('<') && !j.contains("\"card."), "{j}");
        let mut s = String::new();
        json_string(&mut s, "</script>&\"\n");
        assert_eq!(s, "\"\\u003c/script\\u003e\\u0026\\\"\\u000a\"");
    }
}
