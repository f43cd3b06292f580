use std::marker::PhantomData;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use uuid::Uuid;

use super::timed::Timed;
use super::{
    AccessTokenRecord, AccessTokenStore, MAX_HASH_SAMPLES, OAuthAccount, OAuthAccountStore,
    ProviderToken, StoreError, USERS_COLUMNS, UserChanges, UserStore, foreign_users_table,
};
use crate::user::{PasswordHash, UserData, UserModel};

/// A [`UserStore`] on PostgreSQL through sqlx, for users with UUID ids.
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
    _user: PhantomData<fn() -> U>,
}

impl<U> Clone for PostgresStore<U> {
    fn clone(&self) -> Self {
        Self {
            pool: self.pool.clone(),
            _user: PhantomData,
        }
    }
}

impl<U> std::fmt::Debug for PostgresStore<U> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore").finish_non_exhaustive()
    }
}

/// How long a call waits for a pooled connection (including opening a new one)
/// before answering 503.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);
/// The most connections one store opens.
const MAX_CONNECTIONS: u32 = 10;

impl<U: UserModel<Id = Uuid>> PostgresStore<U> {
    /// Connects to the database at `url` (`postgres://user:password@host/db`,
    /// with any parameter sqlx understands, such as `options[search_path]=…`).
    /// Call [`migrate`](Self::migrate) before use.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let options =
            PgConnectOptions::from_str(url).map_err(|e| StoreError::Other(Box::new(e)))?;
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .timed(map_err)
            .await?;
        Ok(Self::from_pool(pool))
    }

    /// A store over an existing pool (its own settings, such as its acquire
    /// timeout, apply).
    pub fn from_pool(pool: PgPool) -> Self {
        Self {
            pool,
            _user: PhantomData,
        }
    }

    /// The pool, to share it with the application.
    pub fn pool(&self) -> &PgPool {
        &self.pool
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
        let mut migrator = sqlx::migrate!("migrations/postgres");
        migrator.dangerous_set_table_name("_axum_users_migrations");
        migrator.set_ignore_missing(true);
        migrator.run(&self.pool).await.map_err(|e| match e {
            sqlx::migrate::MigrateError::Execute(e)
            | sqlx::migrate::MigrateError::ExecuteMigration(e, _)
                if is_unavailable(&e) =>
            {
                StoreError::Unavailable(e.to_string())
            }
            e => StoreError::Other(Box::new(e)),
        })
    }
}

impl<U> PostgresStore<U> {
    /// The schema the tables go to exists, and holds no `users` table of
    /// someone else's.
    async fn check_schema(&self) -> Result<(), StoreError> {
        let (schema, search_path): (Option<String>, String) =
            sqlx::query_as("SELECT current_schema(), current_setting('search_path')")
                .fetch_one(&self.pool)
                .timed(map_err)
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
        .timed(map_err)
        .await?;
        if columns.is_empty() {
            return Ok(());
        }
        let missing: Vec<&str> = USERS_COLUMNS
            .into_iter()
            .filter(|column| !columns.iter().any(|(c,)| c == column))
            .collect();
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

fn map_err(e: sqlx::Error) -> StoreError {
    match e {
        sqlx::Error::Database(db)
            if db.is_unique_violation() && db.constraint().is_none_or(|c| c == EMAIL_INDEX) =>
        {
            StoreError::EmailTaken
        }
        e if is_unavailable(&e) => StoreError::Unavailable(e.to_string()),
        e => StoreError::Other(Box::new(e)),
    }
}

/// The columns read back, in [`Row`]'s order (`fields` as text, parsed by serde).
macro_rules! columns {
    () => {
        "id, email, hashed_password, is_active, is_superuser, is_verified, fields::text, \
         token_generation, password_generation"
    };
}

/// `$e` with `A`–`Z` folded to `a`–`z` and nothing else: the expression of the
/// unique index, which look-ups must repeat exactly to use it.
macro_rules! ascii_lower {
    ($e:literal) => {
        concat!(
            "translate(",
            $e,
            ", 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')"
        )
    };
}

type Row = (Uuid, String, String, bool, bool, bool, String, i64, i64);

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

fn fields_json<F: serde::Serialize>(fields: &F) -> Result<String, StoreError> {
    serde_json::to_string(fields).map_err(|e| StoreError::Other(Box::new(e)))
}

#[async_trait]
impl<U: UserModel<Id = Uuid>> UserStore for PostgresStore<U> {
    type User = U;

    async fn get(&self, id: &Uuid) -> Result<Option<U>, StoreError> {
        sqlx::query_as::<_, Row>(concat!("SELECT ", columns!(), " FROM users WHERE id = $1"))
            .bind(*id)
            .fetch_optional(&self.pool)
            .timed(map_err)
            .await?
            .map(from_row)
            .transpose()
    }

    async fn get_by_email(&self, email: &str) -> Result<Option<U>, StoreError> {
        // PostgreSQL's text cannot hold NUL, so no stored address has one; sent
        // to the server, it would be an encoding error rather than "no user".
        if email.contains('\0') {
            return Ok(None);
        }
        sqlx::query_as::<_, Row>(concat!(
            "SELECT ",
            columns!(),
            " FROM users WHERE ",
            ascii_lower!("email"),
            " = ",
            ascii_lower!("$1")
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
        insert_user(id, &data, fields_json(&data.fields)?)
            .execute(&self.pool)
            .timed(map_err)
            .await?;
        Ok(U::from_parts(id, data))
    }

    async fn update(&self, id: &Uuid, changes: UserChanges<U::Fields>) -> Result<U, StoreError> {
        // Only the given columns are written: the SQL is built from this fixed
        // list of column names and numbered placeholders, never from input.
        let mut sets: Vec<String> = Vec::new();
        let mut next = 0;
        let mut placeholder = || {
            next += 1;
            format!("${next}")
        };
        if changes.email.is_some() {
            sets.push(format!("email = {}", placeholder()));
        }
        if changes.hashed_password.is_some() {
            sets.push(format!("hashed_password = {}", placeholder()));
            if !changes.hash_upgrade {
                sets.push("password_generation = password_generation + 1".to_owned());
            }
        }
        if changes.is_active.is_some() {
            sets.push(format!("is_active = {}", placeholder()));
        }
        if changes.is_superuser.is_some() {
            sets.push(format!("is_superuser = {}", placeholder()));
        }
        if changes.is_verified.is_some() {
            sets.push(format!("is_verified = {}", placeholder()));
        }
        if changes.fields.is_some() {
            sets.push(format!("fields = {}::json", placeholder()));
        }
        if changes.bump_token_generation {
            sets.push("token_generation = token_generation + 1".to_owned());
        }
        if sets.is_empty() {
            return match self.get(id).await? {
                Some(user) if changes.conditions_hold(user.data()) => Ok(user),
                Some(_) => Err(StoreError::Conflict),
                None => Err(StoreError::NotFound),
            };
        }
        let mut condition = format!("id = {}", placeholder());
        if changes.if_hashed_password.is_some() {
            condition.push_str(&format!(" AND hashed_password = {}", placeholder()));
        }
        if changes.if_email.is_some() {
            condition.push_str(&format!(" AND email = {}", placeholder()));
        }
        let sql = format!(
            "UPDATE users SET {} WHERE {condition} RETURNING {}",
            sets.join(", "),
            columns!()
        );
        let fields = changes.fields.as_ref().map(fields_json).transpose()?;
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
        query = query.bind(*id);
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
        let done = sqlx::query("DELETE FROM users WHERE id = $1")
            .bind(*id)
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
        // (`$argon2id$v=19$m=65536,t=3,p=4$`).
        let rows: Vec<(String,)> = sqlx::query_as(
            "SELECT min(hashed_password) FROM users GROUP BY \
               CASE WHEN hashed_password LIKE '$2%' THEN split_part(hashed_password, '$', 3) \
                    ELSE split_part(hashed_password, '$', 3) || '$' || split_part(hashed_password, '$', 4) \
               END, split_part(hashed_password, '$', 2) \
             LIMIT $1",
        )
        .bind(MAX_HASH_SAMPLES as i64)
        .fetch_all(&self.pool)
        .timed(map_err)
        .await?;
        Ok(rows.into_iter().map(|(h,)| PasswordHash::new(h)).collect())
    }

    async fn forget_unverified_oauth_accounts(&self, id: &Uuid) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM oauth_accounts WHERE user_id = $1 AND NOT user_verified")
            .bind(*id)
            .execute(&self.pool)
            .timed(map_err)
            .await?;
        Ok(())
    }
}

#[async_trait]
impl<U: UserModel<Id = Uuid>> AccessTokenStore<Uuid> for PostgresStore<U> {
    async fn create_token(&self, record: AccessTokenRecord<Uuid>) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO access_tokens (digest, user_id, created_at, expires_at, binding) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(record.digest)
        .bind(record.user_id)
        .bind(i64::try_from(record.created_at).unwrap_or(i64::MAX))
        .bind(i64::try_from(record.expires_at).unwrap_or(i64::MAX))
        .bind(record.binding)
        .execute(&self.pool)
        .timed(map_err)
        .await?;
        Ok(())
    }

    async fn get_token(&self, digest: &str) -> Result<Option<AccessTokenRecord<Uuid>>, StoreError> {
        let row: Option<(String, Uuid, i64, i64, String)> = sqlx::query_as(
            "SELECT digest, user_id, created_at, expires_at, binding FROM access_tokens \
             WHERE digest = $1",
        )
        .bind(digest)
        .fetch_optional(&self.pool)
        .timed(map_err)
        .await?;
        Ok(row.map(
            |(digest, user_id, created_at, expires_at, binding)| AccessTokenRecord {
                digest,
                user_id,
                created_at: u64::try_from(created_at).unwrap_or(0),
                expires_at: u64::try_from(expires_at).unwrap_or(0),
                binding,
            },
        ))
    }

    async fn delete_token(&self, digest: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM access_tokens WHERE digest = $1")
            .bind(digest)
            .execute(&self.pool)
            .timed(map_err)
            .await?;
        Ok(())
    }

    async fn delete_user_tokens(&self, user_id: &Uuid) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM access_tokens WHERE user_id = $1")
            .bind(user_id)
            .execute(&self.pool)
            .timed(map_err)
            .await?;
        Ok(())
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
    Uuid,
);

fn account_from_row(row: AccountRow) -> OAuthAccount<Uuid> {
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
    OAuthAccount {
        oauth_name,
        account_id,
        account_email,
        email_verified,
        user_verified,
        access_token: ProviderToken::new(access_token),
        refresh_token: refresh_token.map(ProviderToken::new),
        expires_at,
        user_id,
    }
}

type PgArgs = <sqlx::Postgres as sqlx::Database>::Arguments;

/// The INSERT of a new user (by `create` and `create_with_oauth_account`).
fn insert_user<F>(
    id: Uuid,
    data: &UserData<F>,
    fields: String,
) -> sqlx::query::Query<'static, sqlx::Postgres, PgArgs> {
    sqlx::query(
        "INSERT INTO users (id, email, hashed_password, is_active, is_superuser, is_verified, \
         fields, token_generation, password_generation) \
         VALUES ($1, $2, $3, $4, $5, $6, $7::json, $8, $9)",
    )
    .bind(id)
    .bind(data.email.clone())
    .bind(data.hashed_password.as_str().to_owned())
    .bind(data.is_active)
    .bind(data.is_superuser)
    .bind(data.is_verified)
    .bind(fields)
    .bind(i64::from(data.token_generation))
    .bind(i64::from(data.password_generation))
}

/// Text PostgreSQL cannot hold (NUL): no stored account has it.
fn storable(text: &str) -> bool {
    !text.contains('\0')
}

/// Links an OAuth account in one statement: insert, or refresh when the same
/// user owns it (`email_verified` can only go down, `user_verified` stays);
/// another owner makes the conditional update skip the row, so nothing comes
/// back. Text with NUL, which PostgreSQL cannot store, fails.
fn upsert_account(
    account: OAuthAccount<Uuid>,
) -> Result<sqlx::query::QueryAs<'static, sqlx::Postgres, (Uuid,), PgArgs>, StoreError> {
    let texts = [
        account.oauth_name.as_str(),
        account.account_id.as_str(),
        account.account_email.as_str(),
        account.access_token.expose(),
        account.refresh_token.as_ref().map_or("", |t| t.expose()),
    ];
    if !texts.iter().all(|t| storable(t)) {
        return Err(StoreError::Other(
            "OAuth account data with a NUL character".into(),
        ));
    }
    Ok(sqlx::query_as(
        "INSERT INTO oauth_accounts (oauth_name, account_id, account_email, email_verified, \
         user_verified, access_token, refresh_token, expires_at, user_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
         ON CONFLICT (oauth_name, account_id) DO UPDATE SET \
         account_email = EXCLUDED.account_email, \
         email_verified = oauth_accounts.email_verified AND EXCLUDED.email_verified, \
         access_token = EXCLUDED.access_token, \
         refresh_token = EXCLUDED.refresh_token, expires_at = EXCLUDED.expires_at \
         WHERE oauth_accounts.user_id = EXCLUDED.user_id \
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
    .bind(account.user_id))
}

/// A missing user is a foreign-key violation.
fn link_err(e: sqlx::Error) -> StoreError {
    match e {
        sqlx::Error::Database(db) if db.is_foreign_key_violation() => StoreError::NotFound,
        e => map_err(e),
    }
}

#[async_trait]
impl<U: UserModel<Id = Uuid>> OAuthAccountStore for PostgresStore<U> {
    async fn get_by_oauth_account(
        &self,
        oauth_name: &str,
        account_id: &str,
    ) -> Result<Option<U>, StoreError> {
        if !storable(oauth_name) || !storable(account_id) {
            return Ok(None);
        }
        sqlx::query_as::<_, Row>(
            "SELECT u.id, u.email, u.hashed_password, u.is_active, u.is_superuser, \
             u.is_verified, u.fields::text, u.token_generation, u.password_generation \
             FROM oauth_accounts a JOIN users u ON u.id = a.user_id \
             WHERE a.oauth_name = $1 AND a.account_id = $2",
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
        match upsert_account(account)?
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
        let upsert = upsert_account(account.with_user(id))?;
        let fields = fields_json(&data.fields)?;
        let mut tx = self.pool.begin().timed(map_err).await?;
        insert_user(id, &data, fields)
            .execute(&mut *tx)
            .timed(map_err)
            .await?;
        // A fresh user owns no account: nothing back means another user does.
        if upsert
            .fetch_optional(&mut *tx)
            .timed(link_err)
            .await?
            .is_none()
        {
            return Err(StoreError::AccountTaken);
        }
        // Dropped without a commit (an error above), the transaction rolls back.
        tx.commit().timed(map_err).await?;
        Ok(U::from_parts(id, data))
    }

    async fn oauth_accounts(&self, user_id: &Uuid) -> Result<Vec<OAuthAccount<Uuid>>, StoreError> {
        Ok(sqlx::query_as::<_, AccountRow>(
            "SELECT oauth_name, account_id, account_email, email_verified, user_verified, \
             access_token, refresh_token, expires_at, user_id FROM oauth_accounts \
             WHERE user_id = $1",
        )
        .bind(*user_id)
        .fetch_all(&self.pool)
        .timed(map_err)
        .await?
        .into_iter()
        .map(account_from_row)
        .collect())
    }
}
