//! Branding commands: a merchant's (and each Paymentwall project's or Paymob profile's) display
//! name, accent colour and logo, and the resolved look a payer page uses. The rules for names
//! and colours are `kassa_core::branding`'s; this module adds the logo rule: only PNG or JPEG,
//! at most [`MAX_LOGO_BYTES`], decoded under pixel and memory limits and re-encoded as a fresh
//! PNG, so what Kassa serves is pixels Kassa wrote, never the uploaded file (no SVG script, no
//! polyglot trailer, no metadata).

use crate::Brandings;
use std::io::Cursor;

use base64::Engine;
use image::{imageops::FilterType, ImageFormat, ImageReader, Limits};
use kassa_core::branding::{self, Color};
use kassa_core::ids::new_id;
use kassa_store::{now_ms, BrandingRow, Logo};
use serde::Serialize;

use crate::{Result, Scope, ServiceError};

/// Largest logo upload accepted, in bytes.
pub const MAX_LOGO_BYTES: usize = 512 * 1024;
/// Largest logo Kassa decodes, in pixels per side.
const MAX_DECODE_SIDE: u32 = 4096;
/// The box a stored logo fits in (it is scaled down, never up).
const LOGO_BOX: (u32, u32) = (640, 240);
const MIN_SIDE: u32 = 16;

/// Whose look: the merchant's own, or one Paymentwall project's or Paymob profile's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BrandScope {
    Merchant,
    PwProject(String),
    PmProfile(i64),
}

impl BrandScope {
    fn key(&self) -> String {
        match self {
            BrandScope::Merchant => "merchant".into(),
            BrandScope::PwProject(id) => format!("pw:{id}"),
            BrandScope::PmProfile(id) => format!("pm:{id}"),
        }
    }
}

/// A logo as the API shows it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct LogoInfo {
    pub id: String,
    /// Where Kassa serves it (public, immutable).
    pub url: String,
    pub width: i64,
    pub height: i64,
}

/// One scope's own settings (`null` = not set here; a project or profile then uses the
/// merchant's).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Branding {
    pub object: &'static str,
    pub scope: String,
    pub display_name: Option<String>,
    pub accent_color: Option<String>,
    pub logo: Option<LogoInfo>,
    pub updated_at: Option<i64>,
}

/// The look a payer page uses, scope first, then the merchant's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageBranding {
    pub display_name: Option<String>,
    pub accent_color: Option<Color>,
    /// Same-origin path of the logo, e.g. `/branding/logos/logo_…`.
    pub logo_path: Option<String>,
}

/// A change to one scope: `None` leaves a field as it is, `Some(None)` clears it.
#[derive(Debug, Clone, Default)]
pub struct BrandingUpdate {
    pub display_name: Option<Option<String>>,
    pub accent_color: Option<Option<String>>,
}

/// The path a logo is served at.
pub fn logo_path(id: &str) -> String {
    format!("/branding/logos/{id}")
}

/// Checks and re-encodes an uploaded logo: PNG or JPEG only (the declared type must match the
/// bytes), within the size and pixel limits, scaled down to fit [`LOGO_BOX`]. Returns the new
/// PNG and its size.
pub fn reencode_logo(content_type: &str, bytes: &[u8]) -> Result<(Vec<u8>, u32, u32)> {
    let invalid = |m: String| ServiceError::invalid("logo", m);
    let declared = match content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
        .as_str()
    {
        "image/png" => ImageFormat::Png,
        "image/jpeg" | "image/jpg" => ImageFormat::Jpeg,
        "image/svg+xml" => {
            return Err(invalid(
                "logo must be a PNG or JPEG image; SVG is not accepted because it can carry script."
                    .into(),
            ))
        }
        other => {
            return Err(invalid(format!(
                "logo must be sent as the request body with Content-Type image/png or image/jpeg; got {:?}.",
                other.chars().take(60).collect::<String>()
            )))
        }
    };
    if bytes.is_empty() {
        return Err(invalid("logo is empty.".into()));
    }
    if bytes.len() > MAX_LOGO_BYTES {
        return Err(invalid(format!(
            "logo is {} bytes; the limit is {MAX_LOGO_BYTES}.",
            bytes.len()
        )));
    }
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|_| invalid("logo could not be read.".into()))?;
    if reader.format() != Some(declared) {
        return Err(invalid(format!(
            "logo is declared as {content_type} but its bytes are not a {} image.",
            if declared == ImageFormat::Png {
                "PNG"
            } else {
                "JPEG"
            }
        )));
    }
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_DECODE_SIDE);
    limits.max_image_height = Some(MAX_DECODE_SIDE);
    limits.max_alloc = Some(64 * 1024 * 1024);
    reader.limits(limits);
    let img = reader.decode().map_err(|e| match e {
        image::ImageError::Limits(_) => invalid(format!(
            "logo is larger than {MAX_DECODE_SIDE}×{MAX_DECODE_SIDE} pixels."
        )),
        _ => invalid("logo is not a valid image (it could not be decoded).".into()),
    })?;
    if img.width() < MIN_SIDE || img.height() < MIN_SIDE {
        return Err(invalid(format!(
            "logo is {}×{} pixels; it must be at least {MIN_SIDE}×{MIN_SIDE}.",
            img.width(),
            img.height()
        )));
    }
    let img = if img.width() > LOGO_BOX.0 || img.height() > LOGO_BOX.1 {
        img.resize(LOGO_BOX.0, LOGO_BOX.1, FilterType::Lanczos3)
    } else {
        img
    };
    let rgba = image::DynamicImage::ImageRgba8(img.to_rgba8());
    let mut out = Vec::new();
    rgba.write_to(&mut Cursor::new(&mut out), ImageFormat::Png)
        .map_err(|_| invalid("logo could not be re-encoded.".into()))?;
    Ok((out, rgba.width(), rgba.height()))
}

impl Brandings<'_> {
    /// Not found unless the project or profile is the merchant's own.
    async fn check_brand_scope(&self, merchant_id: &str, scope: &BrandScope) -> Result<()> {
        match scope {
            BrandScope::Merchant => Ok(()),
            BrandScope::PwProject(id) => self
                .store
                .pw_project(merchant_id, id)
                .await?
                .map(|_| ())
                .ok_or_else(|| ServiceError::not_found("paymentwall project", id)),
            BrandScope::PmProfile(id) => match self.store.pm_profile(*id).await? {
                Some(p) if p.merchant_id == merchant_id => Ok(()),
                _ => Err(ServiceError::not_found("paymob profile", &id.to_string())),
            },
        }
    }

    async fn branding_row(&self, merchant_id: &str, scope: &BrandScope) -> Result<BrandingRow> {
        let key = scope.key();
        Ok(self
            .store
            .brandings(merchant_id, &[&key])
            .await?
            .pop()
            .unwrap_or(BrandingRow {
                merchant_id: merchant_id.to_string(),
                scope: key,
                ..Default::default()
            }))
    }

    async fn branding_json(&self, row: BrandingRow) -> Result<Branding> {
        let logo = match &row.logo_id {
            Some(id) => self.store.logo(id).await?.map(|l| LogoInfo {
                url: format!(
                    "{}{}",
                    self.base_url.trim_end_matches('/'),
                    logo_path(&l.id)
                ),
                id: l.id,
                width: l.width,
                height: l.height,
            }),
            None => None,
        };
        Ok(Branding {
            object: "branding",
            scope: row.scope,
            display_name: row.display_name,
            accent_color: row.accent_color,
            logo,
            updated_at: (row.updated_at > 0).then_some(row.updated_at),
        })
    }

    /// One scope's own settings.
    pub async fn get_branding(&self, merchant_id: &str, scope: &BrandScope) -> Result<Branding> {
        self.check_brand_scope(merchant_id, scope).await?;
        let row = self.branding_row(merchant_id, scope).await?;
        self.branding_json(row).await
    }

    /// Changes a scope's display name and accent colour (checked: see `kassa_core::branding`).
    pub async fn update_branding(
        &self,
        merchant_id: &str,
        scope: &BrandScope,
        update: BrandingUpdate,
    ) -> Result<Branding> {
        self.check_brand_scope(merchant_id, scope).await?;
        let refused = |e: branding::BrandingError| ServiceError::invalid(e.param, e.message);
        let display_name = match update.display_name {
            Some(Some(n)) => Some(Some(branding::display_name(&n).map_err(refused)?)),
            other => other,
        };
        let accent = match update.accent_color {
            Some(Some(c)) => Some(Some(
                branding::accent_color(&c).map_err(refused)?.to_string(),
            )),
            other => other,
        };
        let mut row = self.branding_row(merchant_id, scope).await?;
        if let Some(n) = display_name {
            row.display_name = n;
        }
        if let Some(c) = accent {
            row.accent_color = c;
        }
        row.updated_at = now_ms();
        let mut tx = self.store.begin().await?;
        tx.put_branding(&row).await?;
        crate::audit::record(
            &mut tx,
            &Scope::test(merchant_id),
            "branding.update",
            Some(&scope.key()),
            &serde_json::json!({"name": row.display_name, "accent_color": row.accent_color}),
        )
        .await?;
        tx.commit().await?;
        self.branding_json(row).await
    }

    /// Stores a new logo for a scope (re-encoded, see [`reencode_logo`]); the previous one is
    /// deleted when nothing else uses it.
    pub async fn upload_logo(
        &self,
        merchant_id: &str,
        scope: &BrandScope,
        content_type: &str,
        bytes: &[u8],
    ) -> Result<Branding> {
        self.check_brand_scope(merchant_id, scope).await?;
        let (png, width, height) = reencode_logo(content_type, bytes)?;
        let now = now_ms();
        let logo = Logo {
            id: new_id("logo"),
            merchant_id: merchant_id.to_string(),
            png_base64: base64::engine::general_purpose::STANDARD.encode(&png),
            width: i64::from(width),
            height: i64::from(height),
            created_at: now,
        };
        let mut row = self.branding_row(merchant_id, scope).await?;
        let previous = row.logo_id.replace(logo.id.clone());
        row.updated_at = now;
        let mut tx = self.store.begin().await?;
        tx.insert_logo(&logo).await?;
        tx.put_branding(&row).await?;
        crate::audit::record(
            &mut tx,
            &Scope::test(merchant_id),
            "branding.logo_upload",
            Some(&scope.key()),
            &serde_json::json!({"logo": logo.id}),
        )
        .await?;
        if let Some(old) = previous {
            tx.delete_logo_if_unused(merchant_id, &old).await?;
        }
        tx.commit().await?;
        self.branding_json(row).await
    }

    /// Removes a scope's logo (a project or profile then shows the merchant's).
    pub async fn remove_logo(&self, merchant_id: &str, scope: &BrandScope) -> Result<Branding> {
        self.check_brand_scope(merchant_id, scope).await?;
        let mut row = self.branding_row(merchant_id, scope).await?;
        let previous = row.logo_id.take();
        row.updated_at = now_ms();
        let mut tx = self.store.begin().await?;
        tx.put_branding(&row).await?;
        crate::audit::record(
            &mut tx,
            &Scope::test(merchant_id),
            "branding.logo_remove",
            Some(&scope.key()),
            &serde_json::json!({}),
        )
        .await?;
        if let Some(old) = previous {
            tx.delete_logo_if_unused(merchant_id, &old).await?;
        }
        tx.commit().await?;
        self.branding_json(row).await
    }

    /// The look a payer page of `scope` uses: each field from the scope when set there, else
    /// the merchant's.
    pub async fn page_branding(
        &self,
        merchant_id: &str,
        scope: &BrandScope,
    ) -> Result<PageBranding> {
        let own = scope.key();
        let keys: Vec<&str> = if *scope == BrandScope::Merchant {
            vec!["merchant"]
        } else {
            vec![own.as_str(), "merchant"]
        };
        let rows = self.store.brandings(merchant_id, &keys).await?;
        let pick = |f: fn(&BrandingRow) -> &Option<String>| {
            keys.iter().find_map(|k| {
                rows.iter()
                    .find(|r| r.scope == *k)
                    .and_then(|r| f(r).clone())
            })
        };
        Ok(PageBranding {
            display_name: pick(|r| &r.display_name),
            accent_color: pick(|r| &r.accent_color).and_then(|c| Color::parse(&c)),
            logo_path: pick(|r| &r.logo_id).map(|id| logo_path(&id)),
        })
    }

    /// A stored logo's PNG bytes by its public id.
    pub async fn logo_png(&self, id: &str) -> Result<Option<Vec<u8>>> {
        if !kassa_core::ids::is_valid_id(id, "logo") {
            return Ok(None);
        }
        Ok(self.store.logo(id).await?.and_then(|l| {
            base64::engine::general_purpose::STANDARD
                .decode(l.png_base64)
                .ok()
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(w: u32, h: u32) -> Vec<u8> {
        let img = image::RgbaImage::from_pixel(w, h, image::Rgba([10, 102, 194, 255]));
        let mut out = Vec::new();
        image::DynamicImage::ImageRgba8(img)
            .write_to(&mut Cursor::new(&mut out), ImageFormat::Png)
            .unwrap();
        out
    }

    fn jpeg(w: u32, h: u32) -> Vec<u8> {
        let img = image::RgbImage::from_pixel(w, h, image::Rgb([200, 30, 30]));
        let mut out = Vec::new();
        image::DynamicImage::ImageRgb8(img)
            .write_to(&mut Cursor::new(&mut out), ImageFormat::Jpeg)
            .unwrap();
        out
    }

    fn decoded(png: &[u8]) -> image::DynamicImage {
        image::load_from_memory_with_format(png, ImageFormat::Png).unwrap()
    }

    #[test]
    fn a_png_or_jpeg_comes_back_as_a_fresh_png_of_the_same_size() {
        let (out, w, h) = reencode_logo("image/png", &png(200, 80)).unwrap();
        assert_eq!((w, h), (200, 80));
        assert_eq!(decoded(&out).dimensions_tuple(), (200, 80));
        let (out, w, h) = reencode_logo("image/jpeg", &jpeg(120, 40)).unwrap();
        assert_eq!((w, h), (120, 40));
        assert!(out.starts_with(b"\x89PNG\r\n\x1a\n"));
    }

    trait Dims {
        fn dimensions_tuple(&self) -> (u32, u32);
    }
    impl Dims for image::DynamicImage {
        fn dimensions_tuple(&self) -> (u32, u32) {
            (self.width(), self.height())
        }
    }

    #[test]
    fn a_big_logo_is_scaled_down_to_fit_the_box_keeping_its_shape() {
        let (_, w, h) = reencode_logo("image/png", &png(1600, 400)).unwrap();
        assert_eq!((w, h), (640, 160));
    }

    #[test]
    fn bytes_appended_after_the_image_do_not_survive() {
        let mut polyglot = png(64, 64);
        polyglot.extend_from_slice(b"<script>alert(1)</script>");
        let (out, _, _) = reencode_logo("image/png", &polyglot).unwrap();
        assert!(!out.windows(8).any(|w| w == b"<script>"));
    }

    #[test]
    fn svg_other_types_and_mismatched_bytes_are_refused_with_the_reason() {
        let svg = br#"<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>"#;
        let e = reencode_logo("image/svg+xml", svg).unwrap_err().to_string();
        assert!(e.contains("SVG is not accepted"), "{e}");
        let e = reencode_logo("text/html", b"<html>")
            .unwrap_err()
            .to_string();
        assert!(e.contains("image/png or image/jpeg"), "{e}");
        let e = reencode_logo("image/jpeg", &png(32, 32))
            .unwrap_err()
            .to_string();
        assert!(e.contains("not a JPEG image"), "{e}");
        let e = reencode_logo("image/png", b"\x89PNG\r\n\x1a\nnot really").unwrap_err();
        assert!(e.to_string().contains("could not be decoded"), "{e}");
        let e = reencode_logo("image/png", &png(8, 8))
            .unwrap_err()
            .to_string();
        assert!(e.contains("at least 16"), "{e}");
        let e = reencode_logo("image/png", &[]).unwrap_err().to_string();
        assert!(e.contains("empty"), "{e}");
    }

    #[test]
    fn a_header_claiming_huge_dimensions_is_refused_before_decoding() {
        // A valid PNG signature and IHDR chunk claiming 100000 × 100000 pixels.
        let mut ihdr = Vec::new();
        ihdr.extend_from_slice(&100_000u32.to_be_bytes());
        ihdr.extend_from_slice(&100_000u32.to_be_bytes());
        ihdr.extend_from_slice(&[8, 6, 0, 0, 0]);
        let mut chunk = b"IHDR".to_vec();
        chunk.extend_from_slice(&ihdr);
        let crc = crc32(&chunk);
        let mut bomb = b"\x89PNG\r\n\x1a\n".to_vec();
        bomb.extend_from_slice(&(ihdr.len() as u32).to_be_bytes());
        bomb.extend_from_slice(&chunk);
        bomb.extend_from_slice(&crc.to_be_bytes());
        let e = reencode_logo("image/png", &bomb).unwrap_err().to_string();
        assert!(e.contains("larger than 4096"), "{e}");
    }

    fn crc32(data: &[u8]) -> u32 {
        let mut crc = 0xffff_ffffu32;
        for &b in data {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 != 0 {
                    (crc >> 1) ^ 0xedb8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }

    #[test]
    fn an_upload_over_the_byte_limit_is_refused() {
        let e = reencode_logo("image/png", &vec![0u8; MAX_LOGO_BYTES + 1])
            .unwrap_err()
            .to_string();
        assert!(e.contains("the limit is 524288"), "{e}");
    }
}
