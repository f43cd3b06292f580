use std::marker::PhantomData;
use std::str::FromStr;
use std::sync::Arc;

use sqlx::postgres::{PgConnectOptions, PgQueryResult};
use sqlx::{PgPool, Postgres};
use uuid::Uuid;

use super::pg_cache::Cache;
use super::sql::{self, Dialect};
use super::timed::Timed;
use super::{StoreError, foreign_users_table};
use crate::user::UserModel;

/// A [`UserStore`](super::UserStore) on PostgreSQL through sqlx, for users with UUID ids.
///
/// The schema comes with the crate as embedded migrations, recorded in their own
/// table (`_axum_users_migrations`) so that they live beside the application's
/// own sqlx migrations. Addresses are unique ASCII-case-insensitively through a
/// unique index on the address with `A`–`Z` folded to `a`–`z` (by `translate`,
/// not `lower`, which would also fold non-ASCII letters depending on the
/// database's collation), so concurrent registrations of one address give one
/// user and [`StoreError::EmailTaken`] for the others. Ids are `UUID`s; the
/// application's own fields are stored as a JSON object in the `fields`
/// column (of type `json`).
///
/// The tables live in the first schema of the connection's `search_path`
/// (normally `public`); to keep them in a schema of their own, name it in the
/// URL: `postgres://…/app?options[search_path]=users`.
///
/// ```no_run
/// # async fn run() -> Result<(), axum_users::store::StoreError> {
/// use axum_users::{User, store::PostgresStore};
/// let store: PostgresStore<User> =
///     PostgresStore::connect("postgres://app@localhost/app").await?;
/// store.migrate().await?;
/// # Ok(()) }
/// ```
pub struct PostgresStore<U> {
    pool: PgPool,
    reader: Option<Arc<Cache>>,
    _user: PhantomData<fn() -> U>,
}

/// The most connections one store opens.
const MAX_CONNECTIONS: u32 = 10;

impl<U: UserModel<Id = Uuid>> PostgresStore<U> {
    /// Connects to the database at `url` (`postgres://user:password@host/db`,
    /// with any parameter sqlx understands, such as `options[search_path]=…`).
    /// Call [`migrate`](Self::migrate) before use.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let options =
            PgConnectOptions::from_str(url).map_err(|e| StoreError::Other(Box::new(e)))?;
        Ok(Self::from_pool(sql::pool(options, MAX_CONNECTIONS).await?))
    }

    /// Whether the two reads of an authenticated request (the user by id, a
    /// session token by digest) are served from a cache (on by default).
    ///
    /// The cache never serves a stale row: triggers announce every change to
    /// those tables, by any process, with `NOTIFY`, and a cached row is served
    /// only after a round trip to the database that started after the
    /// request, which brings every announcement of a change committed before
    /// it. One such round trip serves every request that waits for it, so the
    /// database sees a tiny statement per batch of requests instead of a
    /// query per request, and a database that does not answer still gives 503.
    /// It keeps up to 10,000 users and 10,000 sessions, and needs a Tokio
    /// runtime when the store is made (it listens on a connection of its own).
    pub fn cached_reads(mut self, on: bool) -> Self {
        self.reader = if on { Cache::start(&self.pool) } else { None };
        self
    }

    /// Creates or upgrades the schema (idempotent; concurrent calls wait for
    /// each other).
    ///
    /// Fails with [`StoreError::Schema`], saying what to do, when the tables
    /// cannot go where the connection points: its `search_path` names no
    /// schema that exists, or that schema already has a `users` table that is
    /// not the store's.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        self.check_schema().await?;
        sql::own_migrations(sqlx::migrate!("migrations/postgres"))
            .run(&self.pool)
            .await
            .map_err(|e| match e {
                sqlx::migrate::MigrateError::Execute(e)
                | sqlx::migrate::MigrateError::ExecuteMigration(e, _)
                    if is_unavailable(&e) =>
                {
                    StoreError::Unavailable(Box::new(e))
                }
                e => StoreError::Other(Box::new(e)),
            })
    }
}

// `from_pool`, `pool`, `Clone`, `Debug` and the store traits: the shared SQL
// of `sql.rs`, in this store's dialect (below).
sql::sql_store! {
    store: PostgresStore,
    database: Postgres,
    pool: PgPool,
    /// A store over an existing pool (its own settings, such as its acquire
    /// timeout, apply).
    from_pool,
}

impl<U> PostgresStore<U> {
    /// The schema the tables go to exists, and holds no `users` table of
    /// someone else's.
    async fn check_schema(&self) -> Result<(), StoreError> {
        let (schema, search_path): (Option<String>, String) =
            sqlx::query_as("SELECT current_schema(), current_setting('search_path')")
                .fetch_one(&self.pool)
                .timed(Postgres::map_err)
                .await?;
        let Some(schema) = schema else {
            return Err(StoreError::Schema(format!(
                "the connection's search_path ({search_path}) names no schema that exists, so \
                 the store's tables have nowhere to go: create the schema (`CREATE SCHEMA \
                 <name>;`) or fix `options[search_path]=<name>` in the database URL"
            )));
        };
        let columns: Vec<(String,)> = sqlx::query_as(
            "SELECT column_name::text FROM information_schema.columns \
             WHERE table_schema = $1 AND table_name = 'users'",
        )
        .bind(&schema)
        .fetch_all(&self.pool)
        .timed(Postgres::map_err)
        .await?;
        let missing = sql::missing_users_columns(&columns);
        if missing.is_empty() {
            return Ok(());
        }
        Err(foreign_users_table(
            &format!("schema `{schema}`"),
            &missing,
            "Give axum-users a schema of its own: `CREATE SCHEMA axum_users;` and \
             `options[search_path]=axum_users` in the database URL (or rename the other table).",
        ))
    }
}

/// The name of the unique index on the ASCII-folded address (see the migration).
const EMAIL_INDEX: &str = "users_email_ascii_lower";
/// The unique index on the ASCII-lowercased username (migration 0007).
const USERNAME_INDEX: &str = "users_username_ascii_lower";

/// Whether an error says that the server cannot be reached or cannot serve now
/// (rather than that the query is wrong): answered with 503.
fn is_unavailable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|code| {
            // Class 08: connection exception; 57P01 admin shutdown, 57P02 crash
            // shutdown, 57P03 cannot connect now; 53300 too many connections.
            code.starts_with("08") || matches!(&*code, "57P01" | "57P02" | "57P03" | "53300")
        }),
        _ => false,
    }
}

impl Dialect for Postgres {
    /// The id as UUID.
    type Id = Uuid;

    fn id(id: &Uuid) -> Uuid {
        *id
    }

    fn uuid(stored: Uuid) -> Result<Uuid, StoreError> {
        Ok(stored)
    }

    /// `translate`, not `lower`, which would also fold non-ASCII letters
    /// depending on the database's collation.
    const ASCII_LOWER: [&str; 2] = [
        "translate(",
        ", 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')",
    ];
    /// `fields` is `json`: read as text, parsed by serde.
    const JSON_AS_TEXT: &str = "::text";
    const TEXT_AS_JSON: &str = "::json";
    /// PostgreSQL's text cannot hold NUL: sent to the server, it would be an
    /// encoding error rather than "no user".
    const TEXT_HOLDS_NUL: bool = false;
    /// A hash's parameters are what comes before its salt: up to the third
    /// `$` of a bcrypt hash (`$2b$12$`), the fourth of an argon2 one
    /// (`$argon2id$v=19$m=65536,t=3,p=4$`).
    const HASH_SAMPLES: &str = "SELECT min(hashed_password) FROM users GROUP BY \
           CASE WHEN hashed_password LIKE '$2%' THEN split_part(hashed_password, '$', 3) \
                ELSE split_part(hashed_password, '$', 3) || '$' || split_part(hashed_password, '$', 4) \
           END, split_part(hashed_password, '$', 2)";

    /// The user by id and the token by digest are cached (`pg_cache.rs`).
    type Reader = Cache;

    fn reader(pool: &PgPool) -> Option<Arc<Cache>> {
        Cache::start(pool)
    }

    fn rows_affected(done: &PgQueryResult) -> u64 {
        done.rows_affected()
    }

    fn map_err(e: sqlx::Error) -> StoreError {
        match e {
            sqlx::Error::Database(db)
                if db.is_unique_violation() && db.constraint().is_none_or(|c| c == EMAIL_INDEX) =>
            {
                StoreError::EmailTaken
            }
            sqlx::Error::Database(db)
                if db.is_unique_violation() && db.constraint() == Some(USERNAME_INDEX) =>
            {
                StoreError::UsernameTaken
            }
            e if is_unavailable(&e) => StoreError::Unavailable(Box::new(e)),
            e => StoreError::Other(Box::new(e)),
        }
    }
}
