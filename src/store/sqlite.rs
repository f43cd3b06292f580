use std::marker::PhantomData;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
use uuid::Uuid;

use super::timed::Timed;
use super::{
    AccessTokenRecord, AccessTokenStore, MAX_HASH_SAMPLES, OAuthAccount, OAuthAccountStore,
    ProviderToken, StoreError, USERS_COLUMNS, UserChanges, UserStore, foreign_users_table,
};
use crate::user::{PasswordHash, UserData, UserModel};

/// A [`UserStore`] on SQLite through sqlx, for users with UUID ids.
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
    _user: PhantomData<fn() -> U>,
}

impl<U> Clone for SqliteStore<U> {
    fn clone(&self) -> Self {
        Self {
            pool: self.pool.clone(),
            _user: PhantomData,
        }
    }
}

impl<U> std::fmt::Debug for SqliteStore<U> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").finish_non_exhaustive()
    }
}

/// How long a call waits for a pooled connection before answering 503.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

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
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .timed(map_err)
            .await?;
        Ok(Self::from_pool(pool))
    }

    /// A store over an existing pool.
    pub fn from_pool(pool: SqlitePool) -> Self {
        Self {
            pool,
            _user: PhantomData,
        }
    }

    /// The pool, to share it with the application.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Creates or upgrades the schema (idempotent).
    ///
    /// Fails with [`StoreError::Schema`], saying what to do, when the database
    /// already has a `users` table that is not the store's.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        let columns: Vec<(String,)> = sqlx::query_as("SELECT name FROM pragma_table_info('users')")
            .fetch_all(&self.pool)
            .timed(map_err)
            .await?;
        let missing: Vec<&str> = USERS_COLUMNS
            .into_iter()
            .filter(|column| !columns.iter().any(|(c,)| c == column))
            .collect();
        if !columns.is_empty() && !missing.is_empty() {
            return Err(foreign_users_table(
                "this SQLite database",
                &missing,
                "Give axum-users a database file of its own (or rename the other table).",
            ));
        }
        let mut migrator = sqlx::migrate!("migrations/sqlite");
        migrator.dangerous_set_table_name("_axum_users_migrations");
        migrator.set_ignore_missing(true);
        migrator
            .run(&self.pool)
            .await
            .map_err(|e| StoreError::Other(Box::new(e)))
    }
}

/// SQLite's primary result codes for a database held by another connection.
const SQLITE_BUSY: i64 = 5;
const SQLITE_LOCKED: i64 = 6;

fn map_err(e: sqlx::Error) -> StoreError {
    match e {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::EmailTaken,
        // Still busy after the busy timeout: the database is overloaded, not broken.
        sqlx::Error::Database(db)
            if db
                .code()
                .and_then(|code| code.parse::<i64>().ok())
                .is_some_and(|code| matches!(code & 0xff, SQLITE_BUSY | SQLITE_LOCKED)) =>
        {
            StoreError::Unavailable(db.to_string())
        }
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::WorkerCrashed => StoreError::Unavailable(e.to_string()),
        e => StoreError::Other(Box::new(e)),
    }
}

/// The columns read back, in [`Row`]'s order.
macro_rules! columns {
    () => {
        "id, email, hashed_password, is_active, is_superuser, is_verified, fields, \
         token_generation, password_generation"
    };
}

type Row = (String, String, String, bool, bool, bool, String, i64, i64);

/// A stored token generation (never negative, never above `u32::MAX` when
/// written by this crate).
fn generation_of(stored: i64) -> u32 {
    u32::try_from(stored).unwrap_or(u32::MAX)
}

fn from_row<U: UserModel<Id = Uuid>>(row: Row) -> Result<U, StoreError> {
    let (
        id,
        email,
        hashed_password,
        is_active,
        is_superuser,
        is_verified,
        fields,
        token_generation,
        password_generation,
    ) = row;
    let id = Uuid::parse_str(&id).map_err(|e| StoreError::Other(Box::new(e)))?;
    let fields = serde_json::from_str(&fields).map_err(|e| StoreError::Other(Box::new(e)))?;
    Ok(U::from_parts(
        id,
        UserData {
            email,
            hashed_password: PasswordHash::new(hashed_password),
            is_active,
            is_superuser,
            is_verified,
            fields,
            token_generation: generation_of(token_generation),
            password_generation: generation_of(password_generation),
        },
    ))
}

fn fields_json<U: UserModel>(user: &UserData<U::Fields>) -> Result<String, StoreError> {
    serde_json::to_string(&user.fields).map_err(|e| StoreError::Other(Box::new(e)))
}

#[async_trait]
impl<U: UserModel<Id = Uuid>> UserStore for SqliteStore<U> {
    type User = U;

    async fn get(&self, id: &Uuid) -> Result<Option<U>, StoreError> {
        sqlx::query_as::<_, Row>(concat!("SELECT ", columns!(), " FROM users WHERE id = ?"))
            .bind(id.hyphenated().to_string())
            .fetch_optional(&self.pool)
            .timed(map_err)
            .await?
            .map(from_row)
            .transpose()
    }

    async fn get_by_email(&self, email: &str) -> Result<Option<U>, StoreError> {
        sqlx::query_as::<_, Row>(concat!(
            "SELECT ",
            columns!(),
            " FROM users WHERE lower(email) = lower(?)"
        ))
        .bind(email)
        .fetch_optional(&self.pool)
        .timed(map_err)
        .await?
        .map(from_row)
        .transpose()
    }

    async fn create(&self, data: UserData<U::Fields>) -> Result<U, StoreError> {
        let id = Uuid::new_v4();
        insert_user(id, &data, fields_json::<U>(&data)?)
            .execute(&self.pool)
            .timed(map_err)
            .await?;
        Ok(U::from_parts(id, data))
    }

    async fn update(&self, id: &Uuid, changes: UserChanges<U::Fields>) -> Result<U, StoreError> {
        // Only the given columns are written: the SQL is built from this fixed
        // list of column names, never from input.
        let mut sets: Vec<&'static str> = Vec::new();
        if changes.email.is_some() {
            sets.push("email = ?");
        }
        if changes.hashed_password.is_some() {
            sets.push("hashed_password = ?");
            if !changes.hash_upgrade {
                sets.push("password_generation = password_generation + 1");
            }
        }
        if changes.is_active.is_some() {
            sets.push("is_active = ?");
        }
        if changes.is_superuser.is_some() {
            sets.push("is_superuser = ?");
        }
        if changes.is_verified.is_some() {
            sets.push("is_verified = ?");
        }
        if changes.fields.is_some() {
            sets.push("fields = ?");
        }
        if changes.bump_token_generation {
            sets.push("token_generation = token_generation + 1");
        }
        if sets.is_empty() {
            return match self.get(id).await? {
                Some(user) if changes.conditions_hold(user.data()) => Ok(user),
                Some(_) => Err(StoreError::Conflict),
                None => Err(StoreError::NotFound),
            };
        }
        let mut condition = String::new();
        if changes.if_hashed_password.is_some() {
            condition.push_str(" AND hashed_password = ?");
        }
        if changes.if_email.is_some() {
            condition.push_str(" AND email = ?");
        }
        let sql = format!(
            "UPDATE users SET {} WHERE id = ?{condition} RETURNING {}",
            sets.join(", "),
            columns!()
        );
        let fields = match &changes.fields {
            Some(fields) => {
                Some(serde_json::to_string(fields).map_err(|e| StoreError::Other(Box::new(e)))?)
            }
            None => None,
        };
        let mut query = sqlx::query_as::<_, Row>(sqlx::AssertSqlSafe(sql));
        if let Some(email) = changes.email {
            query = query.bind(email);
        }
        if let Some(hash) = changes.hashed_password {
            query = query.bind(hash.as_str().to_owned());
        }
        if let Some(v) = changes.is_active {
            query = query.bind(v);
        }
        if let Some(v) = changes.is_superuser {
            query = query.bind(v);
        }
        if let Some(v) = changes.is_verified {
            query = query.bind(v);
        }
        if let Some(fields) = fields {
            query = query.bind(fields);
        }
        query = query.bind(id.hyphenated().to_string());
        if let Some(expected) = &changes.if_hashed_password {
            query = query.bind(expected.as_str().to_owned());
        }
        if let Some(expected) = &changes.if_email {
            query = query.bind(expected.clone());
        }
        match query.fetch_optional(&self.pool).timed(map_err).await? {
            Some(row) => from_row(row),
            // Either no such user, or the condition failed.
            None => match self.get(id).await? {
                Some(_) => Err(StoreError::Conflict),
                None => Err(StoreError::NotFound),
            },
        }
    }

    async fn delete(&self, id: &Uuid) -> Result<(), StoreError> {
        let done = sqlx::query("DELETE FROM users WHERE id = ?")
            .bind(id.hyphenated().to_string())
            .execute(&self.pool)
            .timed(map_err)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn password_hash_samples(&self) -> Result<Vec<PasswordHash>, StoreError> {
        // A hash's parameters are what comes before its salt: up to the third
        // `$` of a bcrypt hash (`$2b$12$`), the fourth of an argon2 one
        // (`$argon2id$v=19$m=65536,t=3,p=4$`). SQLite has no split function:
        // each `$` is found after the one before.
        let rows: Vec<(String,)> = sqlx::query_as(
            "WITH a AS (SELECT hashed_password AS h, \
                    instr(substr(hashed_password, 2), '$') + 1 AS p1 FROM users), \
                  b AS (SELECT h, instr(substr(h, p1 + 1), '$') + p1 AS p2 FROM a), \
                  c AS (SELECT h, instr(substr(h, p2 + 1), '$') + p2 AS p3 FROM b) \
             SELECT min(h) FROM c GROUP BY substr(h, 1, p3) LIMIT ?",
        )
        .bind(MAX_HASH_SAMPLES as i64)
        .fetch_all(&self.pool)
        .timed(map_err)
        .await?;
        Ok(rows.into_iter().map(|(h,)| PasswordHash::new(h)).collect())
    }

    async fn forget_unverified_oauth_accounts(&self, id: &Uuid) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM oauth_accounts WHERE user_id = ? AND NOT user_verified")
            .bind(id.hyphenated().to_string())
            .execute(&self.pool)
            .timed(map_err)
            .await?;
        Ok(())
    }
}

#[async_trait]
impl<U: UserModel<Id = Uuid>> AccessTokenStore<Uuid> for SqliteStore<U> {
    async fn create_token(&self, record: AccessTokenRecord<Uuid>) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO access_tokens (digest, user_id, created_at, expires_at, binding) \
             VALUES (?, ?, ?, ?, ?)",
        )
        .bind(record.digest)
        .bind(record.user_id.hyphenated().to_string())
        .bind(i64::try_from(record.created_at).unwrap_or(i64::MAX))
        .bind(i64::try_from(record.expires_at).unwrap_or(i64::MAX))
        .bind(record.binding)
        .execute(&self.pool)
        .timed(map_err)
        .await?;
        Ok(())
    }

    async fn get_token(&self, digest: &str) -> Result<Option<AccessTokenRecord<Uuid>>, StoreError> {
        let row: Option<(String, String, i64, i64, String)> = sqlx::query_as(
            "SELECT digest, user_id, created_at, expires_at, binding FROM access_tokens \
             WHERE digest = ?",
        )
        .bind(digest)
        .fetch_optional(&self.pool)
        .timed(map_err)
        .await?;
        row.map(|(digest, user_id, created_at, expires_at, binding)| {
            Ok(AccessTokenRecord {
                digest,
                user_id: Uuid::parse_str(&user_id).map_err(|e| StoreError::Other(Box::new(e)))?,
                created_at: u64::try_from(created_at).unwrap_or(0),
                expires_at: u64::try_from(expires_at).unwrap_or(0),
                binding,
            })
        })
        .transpose()
    }

    async fn delete_token(&self, digest: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM access_tokens WHERE digest = ?")
            .bind(digest)
            .execute(&self.pool)
            .timed(map_err)
            .await?;
        Ok(())
    }

    async fn delete_user_tokens(&self, user_id: &Uuid) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM access_tokens WHERE user_id = ?")
            .bind(user_id.hyphenated().to_string())
            .execute(&self.pool)
            .timed(map_err)
            .await?;
        Ok(())
    }
}

type SqliteArgs = <sqlx::Sqlite as sqlx::Database>::Arguments;

/// The INSERT of a new user (by `create` and `create_with_oauth_account`).
fn insert_user<F>(
    id: Uuid,
    data: &UserData<F>,
    fields: String,
) -> sqlx::query::Query<'static, sqlx::Sqlite, SqliteArgs> {
    sqlx::query(
        "INSERT INTO users (id, email, hashed_password, is_active, is_superuser, is_verified, \
         fields, token_generation, password_generation) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(id.hyphenated().to_string())
    .bind(data.email.clone())
    .bind(data.hashed_password.as_str().to_owned())
    .bind(data.is_active)
    .bind(data.is_superuser)
    .bind(data.is_verified)
    .bind(fields)
    .bind(i64::from(data.token_generation))
    .bind(i64::from(data.password_generation))
}

/// Links an OAuth account in one statement: insert, or refresh when the same
/// user owns it (`email_verified` can only go down, `user_verified` stays);
/// another owner makes the conditional update skip the row, so nothing comes
/// back.
fn upsert_account(
    account: OAuthAccount<Uuid>,
) -> sqlx::query::QueryAs<'static, sqlx::Sqlite, (String,), SqliteArgs> {
    sqlx::query_as(
        "INSERT INTO oauth_accounts (oauth_name, account_id, account_email, email_verified, \
         user_verified, access_token, refresh_token, expires_at, user_id) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) \
         ON CONFLICT (oauth_name, account_id) DO UPDATE SET \
         account_email = excluded.account_email, \
         email_verified = oauth_accounts.email_verified AND excluded.email_verified, \
         access_token = excluded.access_token, \
         refresh_token = excluded.refresh_token, expires_at = excluded.expires_at \
         WHERE oauth_accounts.user_id = excluded.user_id \
         RETURNING user_id",
    )
    .bind(account.oauth_name)
    .bind(account.account_id)
    .bind(account.account_email)
    .bind(account.email_verified)
    .bind(account.user_verified)
    .bind(account.access_token.expose().to_owned())
    .bind(account.refresh_token.map(|t| t.expose().to_owned()))
    .bind(account.expires_at)
    .bind(account.user_id.hyphenated().to_string())
}

/// A missing user is a foreign-key violation.
fn link_err(e: sqlx::Error) -> StoreError {
    match e {
        sqlx::Error::Database(db) if db.is_foreign_key_violation() => StoreError::NotFound,
        e => map_err(e),
    }
}

type AccountRow = (
    String,
    String,
    String,
    bool,
    bool,
    String,
    Option<String>,
    Option<i64>,
    String,
);

fn account_from_row(row: AccountRow) -> Result<OAuthAccount<Uuid>, StoreError> {
    let (
        oauth_name,
        account_id,
        account_email,
        email_verified,
        user_verified,
        access_token,
        refresh_token,
        expires_at,
        user_id,
    ) = row;
    Ok(OAuthAccount {
        oauth_name,
        account_id,
        account_email,
        email_verified,
        user_verified,
        access_token: ProviderToken::new(access_token),
        refresh_token: refresh_token.map(ProviderToken::new),
        expires_at,
        user_id: Uuid::parse_str(&user_id).map_err(|e| StoreError::Other(Box::new(e)))?,
    })
}

#[async_trait]
impl<U: UserModel<Id = Uuid>> OAuthAccountStore for SqliteStore<U> {
    async fn get_by_oauth_account(
        &self,
        oauth_name: &str,
        account_id: &str,
    ) -> Result<Option<U>, StoreError> {
        sqlx::query_as::<_, Row>(
            "SELECT u.id, u.email, u.hashed_password, u.is_active, u.is_superuser, \
             u.is_verified, u.fields, u.token_generation, u.password_generation \
             FROM oauth_accounts a JOIN users u ON u.id = a.user_id \
             WHERE a.oauth_name = ? AND a.account_id = ?",
        )
        .bind(oauth_name)
        .bind(account_id)
        .fetch_optional(&self.pool)
        .timed(map_err)
        .await?
        .map(from_row)
        .transpose()
    }

    async fn link_oauth_account(&self, account: OAuthAccount<Uuid>) -> Result<(), StoreError> {
        match upsert_account(account)
            .fetch_optional(&self.pool)
            .timed(link_err)
            .await?
        {
            Some(_) => Ok(()),
            None => Err(StoreError::AccountTaken),
        }
    }

    async fn create_with_oauth_account(
        &self,
        data: UserData<U::Fields>,
        account: OAuthAccount<()>,
    ) -> Result<U, StoreError> {
        let id = Uuid::new_v4();
        let fields = fields_json::<U>(&data)?;
        let mut tx = self.pool.begin().timed(map_err).await?;
        insert_user(id, &data, fields)
            .execute(&mut *tx)
            .timed(map_err)
            .await?;
        // A fresh user owns no account: nothing back means another user does.
        let linked = upsert_account(account.with_user(id))
            .fetch_optional(&mut *tx)
            .timed(link_err)
            .await?;
        if linked.is_none() {
            return Err(StoreError::AccountTaken);
        }
        // Dropped without a commit (an error above), the transaction rolls back.
        tx.commit().timed(map_err).await?;
        Ok(U::from_parts(id, data))
    }

    async fn oauth_accounts(&self, user_id: &Uuid) -> Result<Vec<OAuthAccount<Uuid>>, StoreError> {
        sqlx::query_as::<_, AccountRow>(
            "SELECT oauth_name, account_id, account_email, email_verified, user_verified, \
             access_token, refresh_token, expires_at, user_id FROM oauth_accounts \
             WHERE user_id = ?",
        )
        .bind(user_id.hyphenated().to_string())
        .fetch_all(&self.pool)
        .timed(map_err)
        .await?
        .into_iter()
        .map(account_from_row)
        .collect()
    }
}
