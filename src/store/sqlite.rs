use std::marker::PhantomData;
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteQueryResult};
use sqlx::{Sqlite, SqlitePool};
use uuid::Uuid;

use super::sql::{self, Dialect};
use super::sqlite_reader::Reader;
use super::timed::Timed;
use super::{StoreError, foreign_users_table};
use crate::user::UserModel;

/// A [`UserStore`](super::UserStore) on SQLite through sqlx, for users with UUID ids.
///
/// The schema comes with the crate as embedded migrations, recorded in their own
/// table (`_axum_users_migrations`) so that they live beside the application's
/// own sqlx migrations. A unique index on `lower(email)` makes addresses unique
/// ASCII-case-insensitively, so concurrent registrations of one address give one
/// user and [`StoreError::EmailTaken`] for the others. The application's own
/// fields are stored as a JSON object in the `fields` column.
///
/// ```no_run
/// # async fn run() -> Result<(), axum_users::store::StoreError> {
/// use axum_users::{User, store::SqliteStore};
/// let store: SqliteStore<User> = SqliteStore::open("users.db").await?;
/// store.migrate().await?;
/// # Ok(()) }
/// ```
pub struct SqliteStore<U> {
    pool: SqlitePool,
    reader: Option<Arc<Reader>>,
    _user: PhantomData<fn() -> U>,
}

impl<U: UserModel<Id = Uuid>> SqliteStore<U> {
    /// Opens (creating it if missing) the SQLite database file at `path`, in WAL
    /// mode. Call [`migrate`](Self::migrate) before use.
    pub async fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        Self::with_options(options).await
    }

    /// Opens a database from a URL: `sqlite://<path>` (everything after
    /// `sqlite://` is a filesystem path, so `sqlite:///tmp/x.db` is `/tmp/x.db`),
    /// `sqlite:<path>`, or any URL sqlx understands (`sqlite::memory:`).
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        if let Some(path) = url.strip_prefix("sqlite://") {
            return Self::open(path).await;
        }
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|e| StoreError::Other(Box::new(e)))?
            .create_if_missing(true)
            .busy_timeout(Duration::from_secs(10));
        Self::with_options(options).await
    }

    async fn with_options(options: SqliteConnectOptions) -> Result<Self, StoreError> {
        Ok(Self::from_pool(sql::pool(options, 8).await?))
    }

    /// Whether the two reads of an authenticated request (the user by id, a
    /// session token by digest) run on the calling thread, on a read-only
    /// connection per thread that never waits for a lock, falling back to the
    /// pool whenever that read cannot be done at once (on by default for a
    /// database file; an in-memory database is read through the pool only).
    ///
    /// A read through the pool hands the query to the connection's own
    /// thread and back; on a busy server that costs many times the read
    /// itself. Turn it off to keep every query on sqlx's threads, for
    /// example on a filesystem where reading a page can block for long.
    pub fn inline_reads(mut self, on: bool) -> Self {
        self.reader = if on {
            Reader::for_pool(&self.pool)
        } else {
            None
        };
        self
    }

    /// Creates or upgrades the schema (idempotent).
    ///
    /// Fails with [`StoreError::Schema`], saying what to do, when the database
    /// already has a `users` table that is not the store's.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        let columns: Vec<(String,)> = sqlx::query_as("SELECT name FROM pragma_table_info('users')")
            .fetch_all(&self.pool)
            .timed(Sqlite::map_err)
            .await?;
        let missing = sql::missing_users_columns(&columns);
        if !missing.is_empty() {
            return Err(foreign_users_table(
                "this SQLite database",
                &missing,
                "Give axum-users a database file of its own (or rename the other table).",
            ));
        }
        sql::own_migrations(sqlx::migrate!("migrations/sqlite"))
            .run(&self.pool)
            .await
            .map_err(|e| StoreError::Other(Box::new(e)))
    }
}

// `from_pool`, `pool`, `Clone`, `Debug` and the store traits: the shared SQL
// of `sql.rs`, in this store's dialect (below).
sql::sql_store! {
    store: SqliteStore,
    database: Sqlite,
    pool: SqlitePool,
    /// A store over an existing pool.
    from_pool,
}

/// SQLite's primary result codes for a database held by another connection.
const SQLITE_BUSY: i64 = 5;
const SQLITE_LOCKED: i64 = 6;

/// The unique index on the ASCII-lowercased username (migration 0006).
const USERNAME_INDEX: &str = "users_username_lower";

impl Dialect for Sqlite {
    /// The id as hyphenated TEXT.
    type Id = String;

    fn id(id: &Uuid) -> String {
        id.hyphenated().to_string()
    }

    fn uuid(stored: String) -> Result<Uuid, StoreError> {
        Uuid::parse_str(&stored).map_err(|e| StoreError::Other(Box::new(e)))
    }

    /// SQLite's `lower` folds ASCII letters only; the unique index is on
    /// `lower(email)`.
    const ASCII_LOWER: [&str; 2] = ["lower(", ")"];
    /// `fields` is TEXT.
    const JSON_AS_TEXT: &str = "";
    const TEXT_AS_JSON: &str = "";
    const TEXT_HOLDS_NUL: bool = true;
    /// A hash's parameters are what comes before its salt: up to the third
    /// `$` of a bcrypt hash (`$2b$12$`), the fourth of an argon2 one
    /// (`$argon2id$v=19$m=65536,t=3,p=4$`). SQLite has no split function:
    /// each `$` is found after the one before.
    const HASH_SAMPLES: &str = "WITH a AS (SELECT hashed_password AS h, \
            instr(substr(hashed_password, 2), '$') + 1 AS p1 FROM users), \
          b AS (SELECT h, instr(substr(h, p1 + 1), '$') + p1 AS p2 FROM a), \
          c AS (SELECT h, instr(substr(h, p2 + 1), '$') + p2 AS p3 FROM b) \
     SELECT min(h) FROM c GROUP BY substr(h, 1, p3)";

    /// The user by id and the token by digest are read on the calling
    /// thread (`sqlite_reader.rs`).
    type Reader = Reader;

    fn reader(pool: &SqlitePool) -> Option<Arc<Reader>> {
        Reader::for_pool(pool)
    }

    fn rows_affected(done: &SqliteQueryResult) -> u64 {
        done.rows_affected()
    }

    fn map_err(e: sqlx::Error) -> StoreError {
        match e {
            // SQLite names the index in its message: "UNIQUE constraint
            // failed: index 'users_username_lower'".
            sqlx::Error::Database(db)
                if db.is_unique_violation() && db.message().contains(USERNAME_INDEX) =>
            {
                StoreError::UsernameTaken
            }
            sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::EmailTaken,
            // Still busy after the busy timeout: the database is overloaded, not broken.
            sqlx::Error::Database(db)
                if db
                    .code()
                    .and_then(|code| code.parse::<i64>().ok())
                    .is_some_and(|code| matches!(code & 0xff, SQLITE_BUSY | SQLITE_LOCKED)) =>
            {
                StoreError::Unavailable(Box::new(sqlx::Error::Database(db)))
            }
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::WorkerCrashed => StoreError::Unavailable(Box::new(e)),
            e => StoreError::Other(Box::new(e)),
        }
    }
}
