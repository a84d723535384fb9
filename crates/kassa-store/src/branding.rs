//! Branding rows (display name, accent colour, logo per merchant and per project/profile) and
//! the re-encoded logos they point at.

use sqlx::any::AnyRow;
use sqlx::Row;

use crate::{Result, Store, Tx};

/// One scope's stored look; `None` fields fall back to the merchant's.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BrandingRow {
    pub merchant_id: String,
    /// `merchant`, `pw:<project id>` or `pm:<profile id>`.
    pub scope: String,
    pub display_name: Option<String>,
    pub accent_color: Option<String>,
    pub logo_id: Option<String>,
    pub updated_at: i64,
}

/// A logo as Kassa re-encoded it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Logo {
    pub id: String,
    pub merchant_id: String,
    pub png_base64: String,
    pub width: i64,
    pub height: i64,
    pub created_at: i64,
}

impl BrandingRow {
    fn from_row(r: &AnyRow) -> Self {
        BrandingRow {
            merchant_id: r.get("merchant_id"),
            scope: r.get("scope"),
            display_name: r.get("display_name"),
            accent_color: r.get("accent_color"),
            logo_id: r.get("logo_id"),
            updated_at: r.get("updated_at"),
        }
    }
}

impl Store {
    /// The stored rows of `scopes` for a merchant (missing scopes are simply absent).
    pub async fn brandings(&self, merchant_id: &str, scopes: &[&str]) -> Result<Vec<BrandingRow>> {
        let mut out = Vec::with_capacity(scopes.len());
        for scope in scopes {
            let row = sqlx::query(
                "SELECT merchant_id, scope, display_name, accent_color, logo_id, updated_at \
                 FROM brandings WHERE merchant_id = $1 AND scope = $2",
            )
            .bind(merchant_id)
            .bind(*scope)
            .fetch_optional(&self.reader)
            .await?;
            out.extend(row.as_ref().map(BrandingRow::from_row));
        }
        Ok(out)
    }

    /// A logo by its public id.
    pub async fn logo(&self, id: &str) -> Result<Option<Logo>> {
        let row = sqlx::query(
            "SELECT id, merchant_id, png_base64, width, height, created_at FROM logos WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.reader)
        .await?;
        Ok(row.map(|r| Logo {
            id: r.get("id"),
            merchant_id: r.get("merchant_id"),
            png_base64: r.get("png_base64"),
            width: r.get("width"),
            height: r.get("height"),
            created_at: r.get("created_at"),
        }))
    }
}

impl Tx {
    /// Inserts or replaces one scope's row.
    pub async fn put_branding(&mut self, b: &BrandingRow) -> Result<()> {
        sqlx::query(
            "INSERT INTO brandings (merchant_id, scope, display_name, accent_color, logo_id, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (merchant_id, scope) DO UPDATE SET display_name = excluded.display_name, \
             accent_color = excluded.accent_color, logo_id = excluded.logo_id, \
             updated_at = excluded.updated_at",
        )
        .bind(&b.merchant_id)
        .bind(&b.scope)
        .bind(&b.display_name)
        .bind(&b.accent_color)
        .bind(&b.logo_id)
        .bind(b.updated_at)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    pub async fn insert_logo(&mut self, logo: &Logo) -> Result<()> {
        sqlx::query(
            "INSERT INTO logos (id, merchant_id, png_base64, width, height, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&logo.id)
        .bind(&logo.merchant_id)
        .bind(&logo.png_base64)
        .bind(logo.width)
        .bind(logo.height)
        .bind(logo.created_at)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    /// Deletes a merchant's logo unless a branding row still points at it.
    pub async fn delete_logo_if_unused(&mut self, merchant_id: &str, id: &str) -> Result<()> {
        sqlx::query(
            "DELETE FROM logos WHERE id = $1 AND merchant_id = $2 \
             AND NOT EXISTS (SELECT 1 FROM brandings WHERE logo_id = $1)",
        )
        .bind(id)
        .bind(merchant_id)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }
}
