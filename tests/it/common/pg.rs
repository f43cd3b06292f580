//! PostgreSQL for tests: every store gets a schema of its own in the database
//! of `AXUM_USERS_TEST_POSTGRES_URL`, so each starts empty and tests run in
//! parallel; the schemas are dropped when the [`PgSchemas`] is.

use std::sync::Mutex;
use std::time::Duration;

use axum_users::UserModel;
use axum_users::store::PostgresStore;
use sqlx::postgres::PgPoolOptions;
use sqlx::{Connection, PgConnection, PgPool};
use uuid::Uuid;

use super::services::{service_url, unreachable_service};

/// The environment variable with the test database's URL.
pub const POSTGRES_URL: &str = "AXUM_USERS_TEST_POSTGRES_URL";

/// Makes fresh, migrated stores, each in a new schema, and drops the schemas
/// at the end (also when the test panics).
pub struct PgSchemas {
    url: String,
    admin: PgPool,
    created: Mutex<Vec<String>>,
}

impl PgSchemas {
    /// `None` (the test is skipped) when no URL is set and services are not
    /// required; panics when the server cannot be reached.
    pub async fn connect() -> Option<Self> {
        let url = service_url(POSTGRES_URL, "PostgreSQL")?;
        let admin = PgPoolOptions::new()
            .max_connections(2)
            .acquire_timeout(Duration::from_secs(5))
            .connect(&url)
            .await
            .unwrap_or_else(|e| unreachable_service("PostgreSQL", &e));
        Some(Self {
            url,
            admin,
            created: Mutex::new(Vec::new()),
        })
    }

    /// A new empty schema; its name.
    pub async fn schema(&self) -> String {
        let name = format!("axum_users_test_{}", Uuid::new_v4().simple());
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {name}")))
            .execute(&self.admin)
            .await
            .unwrap();
        self.created.lock().unwrap().push(name.clone());
        name
    }

    /// The database URL with `schema` as the search path (where the store's
    /// tables go).
    pub fn url_for(&self, schema: &str) -> String {
        let sep = if self.url.contains('?') { '&' } else { '?' };
        format!("{}{sep}options[search_path]={schema}", self.url)
    }

    /// A migrated store over a new, empty schema.
    pub async fn store<U: UserModel<Id = Uuid>>(&self) -> PostgresStore<U> {
        let schema = self.schema().await;
        let store = PostgresStore::connect(&self.url_for(&schema))
            .await
            .unwrap();
        store.migrate().await.unwrap();
        store
    }

    /// The URL of the test database itself (no search path).
    pub fn admin_url(&self) -> String {
        self.url.clone()
    }

    /// How many schemas were made.
    pub fn count(&self) -> usize {
        self.created.lock().unwrap().len()
    }
}

impl Drop for PgSchemas {
    fn drop(&mut self) {
        let names = std::mem::take(&mut *self.created.lock().unwrap_or_else(|e| e.into_inner()));
        if names.is_empty() {
            return;
        }
        let url = self.url.clone();
        // Drop runs inside the test's runtime, which cannot be blocked on: a
        // thread with a runtime of its own does the clean-up.
        let cleanup = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let mut conn = PgConnection::connect(&url).await?;
                for name in names {
                    sqlx::query(sqlx::AssertSqlSafe(format!(
                        "DROP SCHEMA IF EXISTS {name} CASCADE"
                    )))
                    .execute(&mut conn)
                    .await?;
                }
                conn.close().await
            })
        });
        if let Ok(Err(e)) = cleanup.join() {
            eprintln!("could not drop the test schemas: {e}");
        }
    }
}

/// A database of this run's own on the server of `AXUM_USERS_TEST_POSTGRES_URL`,
/// created empty and dropped (with `FORCE`) on drop, even when the test panics.
pub struct FreshDatabase {
    admin_url: String,
    name: String,
    /// The URL of the new database.
    pub url: String,
}

impl FreshDatabase {
    pub async fn create(admin_url: &str) -> FreshDatabase {
        let mut admin = PgConnection::connect(admin_url)
            .await
            .unwrap_or_else(|e| unreachable_service("PostgreSQL", &e));
        let name = format!("axum_users_two_{}", uuid::Uuid::new_v4().simple());
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await
            .unwrap_or_else(|e| panic!("CREATE DATABASE {name}: {e}"));
        let _ = admin.close().await;
        FreshDatabase {
            url: with_database(admin_url, &name),
            admin_url: admin_url.to_owned(),
            name,
        }
    }
}

impl Drop for FreshDatabase {
    fn drop(&mut self) {
        let admin_url = self.admin_url.clone();
        let drop_database = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        // Drop runs inside the test's runtime, which cannot be blocked on: a
        // thread with a runtime of its own does the clean-up.
        let cleanup = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime");
            runtime.block_on(async move {
                let mut admin = PgConnection::connect(&admin_url).await?;
                sqlx::query(sqlx::AssertSqlSafe(drop_database))
                    .execute(&mut admin)
                    .await?;
                admin.close().await
            })
        });
        if let Ok(Err(e)) = cleanup.join() {
            eprintln!("could not drop the database {}: {e}", self.name);
        }
    }
}

/// `url` with its database (the path) replaced by `name`, the query kept.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority = base.find("://").map_or(0, |i| i + 3);
    let path = base[authority..]
        .find('/')
        .map_or(base.len(), |i| authority + i);
    let mut out = format!("{}/{name}", &base[..path]);
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    out
}

#[test]
fn with_database_replaces_only_the_path() {
    assert_eq!(
        with_database("postgres://postgres@127.0.0.1:5432/test", "db"),
        "postgres://postgres@127.0.0.1:5432/db"
    );
    assert_eq!(
        with_database("postgres://u:p@h/test?sslmode=disable", "db"),
        "postgres://u:p@h/db?sslmode=disable"
    );
    assert_eq!(
        with_database("postgres://h:5432", "db"),
        "postgres://h:5432/db"
    );
}
