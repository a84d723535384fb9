//! How a merchant's payer pages look: the display name and the accent colour, with the rules
//! that keep them readable. The accent paints the primary button (white text on it), links and
//! focus rings on a white page, so it must reach WCAG 2.x AA contrast (4.5:1) against white.
//! A colour that does not is refused, and the refusal names the nearest darker shade that does.

use std::fmt;

/// Longest display name shown at the top of the payer pages, in characters.
pub const MAX_DISPLAY_NAME: usize = 60;
/// The contrast an accent colour needs against white (WCAG 2.x AA for normal text).
pub const MIN_CONTRAST: f64 = 4.5;

/// An sRGB colour written `#rrggbb`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Color {
    pub r: u8,
    pub g: u8,
    pub b: u8,
}

/// Why a branding value was refused, in words a merchant can act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrandingError {
    pub param: &'static str,
    pub message: String,
}

impl fmt::Display for BrandingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for BrandingError {}

impl Color {
    /// `#0a7cff`, `0A7CFF` or `#07f`; nothing else (no names, no alpha).
    pub fn parse(s: &str) -> Option<Color> {
        let hex = s.trim().strip_prefix('#').unwrap_or(s.trim());
        if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let expanded: String = match hex.len() {
            3 => hex.chars().flat_map(|c| [c, c]).collect(),
            6 => hex.to_string(),
            _ => return None,
        };
        let byte = |i: usize| u8::from_str_radix(&expanded[i..i + 2], 16).ok();
        Some(Color {
            r: byte(0)?,
            g: byte(2)?,
            b: byte(4)?,
        })
    }

    /// WCAG 2.x relative luminance, 0 (black) to 1 (white).
    pub fn luminance(self) -> f64 {
        fn channel(c: u8) -> f64 {
            let c = f64::from(c) / 255.0;
            if c <= 0.04045 {
                c / 12.92
            } else {
                ((c + 0.055) / 1.055).powf(2.4)
            }
        }
        0.2126 * channel(self.r) + 0.7152 * channel(self.g) + 0.0722 * channel(self.b)
    }

    /// WCAG contrast ratio between two colours, 1 to 21.
    pub fn contrast(self, other: Color) -> f64 {
        let (a, b) = (self.luminance(), other.luminance());
        let (hi, lo) = if a > b { (a, b) } else { (b, a) };
        (hi + 0.05) / (lo + 0.05)
    }

    pub const WHITE: Color = Color {
        r: 255,
        g: 255,
        b: 255,
    };

    /// This colour scaled towards black by `factor` (0 = unchanged, 1 = black).
    pub fn darken(self, factor: f64) -> Color {
        let k = (1.0 - factor).clamp(0.0, 1.0);
        let f = |c: u8| (f64::from(c) * k).round() as u8;
        Color {
            r: f(self.r),
            g: f(self.g),
            b: f(self.b),
        }
    }

    /// A hover/pressed shade: 15 % darker.
    pub fn hover(self) -> Color {
        self.darken(0.15)
    }

    /// The lightest shade of this colour (darkening in 1 % steps) that reaches `MIN_CONTRAST`
    /// against white.
    pub fn nearest_readable(self) -> Color {
        (0..=100)
            .map(|step| self.darken(f64::from(step) / 100.0))
            .find(|c| c.contrast(Color::WHITE) >= MIN_CONTRAST)
            .unwrap_or(Color { r: 0, g: 0, b: 0 })
    }

    /// Lower-case `rrggbb`, without `#` (for URLs).
    pub fn hex(self) -> String {
        format!("{:02x}{:02x}{:02x}", self.r, self.g, self.b)
    }
}

impl fmt::Display for Color {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.hex())
    }
}

/// Checks a merchant's accent colour: well formed and readable with white text on it.
pub fn accent_color(input: &str) -> Result<Color, BrandingError> {
    let color = Color::parse(input).ok_or_else(|| BrandingError {
        param: "accent_color",
        message: format!("accent_color must be a hex colour like #0a66c2; got {input:?}."),
    })?;
    let ratio = color.contrast(Color::WHITE);
    if ratio < MIN_CONTRAST {
        return Err(BrandingError {
            param: "accent_color",
            message: format!(
                "accent_color {color} has a contrast of {ratio:.2}:1 against white; the Pay button's \
                 white text and links on the page need at least {MIN_CONTRAST}:1. The nearest \
                 darker shade that passes is {}.",
                color.nearest_readable()
            ),
        });
    }
    Ok(color)
}

/// Checks a display name: trimmed, 1 to 60 characters, no control characters.
pub fn display_name(input: &str) -> Result<String, BrandingError> {
    let name = input.trim();
    let err = |message: String| BrandingError {
        param: "display_name",
        message,
    };
    if name.is_empty() {
        return Err(err(
            "display_name must not be empty; omit it to keep the merchant's name.".into(),
        ));
    }
    if name.chars().count() > MAX_DISPLAY_NAME {
        return Err(err(format!(
            "display_name is longer than {MAX_DISPLAY_NAME} characters."
        )));
    }
    if name.chars().any(char::is_control) {
        return Err(err(
            "display_name must not contain control characters.".into()
        ));
    }
    Ok(name.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_parse_in_long_and_short_hex_only() {
        assert_eq!(
            Color::parse("#0a7cff"),
            Some(Color {
                r: 10,
                g: 124,
                b: 255
            })
        );
        assert_eq!(
            Color::parse("0A7CFF"),
            Some(Color {
                r: 10,
                g: 124,
                b: 255
            })
        );
        assert_eq!(
            Color::parse("#07f"),
            Some(Color {
                r: 0,
                g: 119,
                b: 255
            })
        );
        for bad in [
            "",
            "#",
            "red",
            "#12345",
            "#1234567",
            "#ggg",
            "#0a7cff80",
            "url(x)",
            "#+1+2+3",
        ] {
            assert_eq!(Color::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn contrast_matches_the_wcag_reference_values() {
        let black = Color::parse("#000").unwrap();
        assert!((black.contrast(Color::WHITE) - 21.0).abs() < 1e-9);
        assert!((Color::WHITE.contrast(Color::WHITE) - 1.0).abs() < 1e-9);
        // #767676 is the classic lightest grey that passes 4.5:1 on white (4.54:1).
        let grey = Color::parse("#767676").unwrap().contrast(Color::WHITE);
        assert!((grey - 4.54).abs() < 0.01, "{grey}");
    }

    #[test]
    fn a_light_accent_is_refused_with_a_readable_suggestion() {
        let err = accent_color("#ffcc00").unwrap_err();
        assert_eq!(err.param, "accent_color");
        assert!(
            err.message.contains("#ffcc00 has a contrast of 1.51"),
            "{}",
            err.message
        );
        let suggested = Color::parse("#ffcc00").unwrap().nearest_readable();
        assert!(suggested.contrast(Color::WHITE) >= MIN_CONTRAST);
        assert!(err.message.contains(&suggested.to_string()));
        // The suggestion is the lightest passing shade: one step lighter fails.
        assert!(
            Color::parse("#ffcc00")
                .unwrap()
                .darken(0.0)
                .contrast(Color::WHITE)
                < MIN_CONTRAST
        );
    }

    #[test]
    fn dark_accents_pass_and_are_normalised() {
        assert_eq!(accent_color(" #0A66C2 ").unwrap().to_string(), "#0a66c2");
        assert_eq!(accent_color("#000").unwrap().to_string(), "#000000");
        assert!(accent_color("not a colour").is_err());
    }

    #[test]
    fn display_names_are_trimmed_and_bounded() {
        assert_eq!(display_name("  Nile Books ").unwrap(), "Nile Books");
        assert_eq!(display_name("متجر النيل").unwrap(), "متجر النيل");
        assert!(display_name("   ").is_err());
        assert!(display_name(&"x".repeat(61)).is_err());
        assert!(display_name("a\u{0}b").is_err());
        assert_eq!(display_name(&"é".repeat(60)).unwrap().chars().count(), 60);
    }
}
