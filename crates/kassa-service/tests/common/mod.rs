//! Fresh databases for the service tests: SQLite always; PostgreSQL too when
//! `KASSA_TEST_POSTGRES_URL` names a server (each test makes and drops its own database).
#![allow(dead_code)]

use std::sync::Arc;

use kassa_egress::EgressPolicy;
use kassa_notify::{Notifier, NotifierConfig};
use kassa_processor::SandboxProcessor;
use kassa_service::paymentwall::PaymentwallProjection;
use kassa_service::paymob::PaymobProjection;
use kassa_service::Services;
use kassa_store::Store;

pub struct Db {
    pub store: Store,
    pg: Option<(String, String)>,
    _dir: Option<tempfile::TempDir>,
}

pub async fn databases() -> Vec<Db> {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::connect(&format!("sqlite://{}/t.db", dir.path().display()), 4)
        .await
        .unwrap();
    s.migrate().await.unwrap();
    let mut out = vec![Db {
        store: s,
        pg: None,
        _dir: Some(dir),
    }];
    if let Ok(admin) = std::env::var("KASSA_TEST_POSTGRES_URL") {
        sqlx::any::install_default_drivers();
        let name = format!(
            "kassa_p_{}",
            kassa_core::ids::random_token(12).to_lowercase()
        );
        let pool = sqlx::AnyPool::connect(&admin).await.unwrap();
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
        let base = admin.rsplit_once('/').unwrap().0;
        let s = Store::connect(&format!("{base}/{name}"), 4).await.unwrap();
        s.migrate().await.unwrap();
        out.push(Db {
            store: s,
            pg: Some((admin, name)),
            _dir: None,
        });
    }
    out
}

pub async fn drop_db(db: Db) {
    db.store.close().await;
    if let Some((admin, name)) = db.pg {
        let pool = sqlx::AnyPool::connect(&admin).await.unwrap();
        let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .execute(&pool)
            .await;
        pool.close().await;
    }
}

/// The services as the app builds them, with both faces registered. The notifier is never
/// started: what the projections queue stays in the outbox for the test to read.
pub fn services(store: &Store) -> Services {
    let registry = prometheus::Registry::new();
    let master = [7u8; 32];
    let notifier = Notifier::new(
        store.clone(),
        kassa_core::secret_box::SecretBox::new(&master),
        NotifierConfig::default(),
        EgressPolicy::new(true, &[] as &[&str]).unwrap(),
        &registry,
    )
    .unwrap();
    let mut svc = Services::new(
        store.clone(),
        Arc::new(SandboxProcessor),
        notifier,
        &master,
        "https://kassa.example".into(),
        &registry,
    )
    .unwrap();
    svc.register_projection(Arc::new(PaymentwallProjection));
    svc.register_projection(Arc::new(PaymobProjection));
    svc
}
