//! The SQL core of the provided stores: one implementation of the `users`,
//! `access_tokens`, `oauth_accounts` and `invitations` statements, generic
//! over the database (and, in `sql_mfa.rs`, of the second factors' and
//! challenges').
//!
//! What the databases do differently is a [`Dialect`], implemented by
//! `sqlx::Sqlite` (in `sqlite.rs`) and `sqlx::Postgres` (in `postgres.rs`):
//! how a user id is stored, how an address is folded to ASCII lower case, how
//! the JSON `fields` column is read and written, whether text can hold NUL,
//! the SQL of the hash samples, and the mapping of errors. Everything else is
//! written once, in [`Sql`]; a new table is written here.
//!
//! Statements are built with sqlx's [`QueryBuilder`], which writes each
//! value's placeholder (`?` or `$n`) where the value is bound: a column and
//! its value stand side by side, so no list of binds has to follow the order
//! of a SQL string written elsewhere. The SQL itself is built from the fixed
//! names here, never from input.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use sqlx::pool::PoolOptions;
use sqlx::{
    ColumnIndex, Connection, Database, Decode, Encode, Executor, IntoArguments, Pool, QueryBuilder,
    Type,
};
use uuid::Uuid;

use super::timed::Timed;
use super::{
    Invitation, MAX_HASH_SAMPLES, OAuthAccount, ProviderToken, Rotation, Session, SessionKind,
    StoreError, USERS_COLUMNS, UserChanges,
};
use crate::session::{from_unix, to_unix};
use crate::user::{PasswordHash, UserData, UserModel};

// A child module, so that it shares this one's private helpers; in a file of
// its own beside this one.
#[path = "sql_mfa.rs"]
mod mfa;

pub(super) use mfa::sql_mfa_store;

/// A database the SQL stores run on, and what its SQL does differently.
pub(super) trait Dialect: Database {
    /// A user id as a column holds it.
    type Id: Stored<Self>;
    /// The id to bind for `id`.
    fn id(id: &Uuid) -> Self::Id;
    /// The id a column held.
    fn uuid(stored: Self::Id) -> Result<Uuid, StoreError>;

    /// What goes before and after an expression to fold `A`–`Z` to `a`–`z`
    /// in it and nothing else: the expression of the unique index on the
    /// address, which look-ups must repeat exactly to use it.
    const ASCII_LOWER: [&'static str; 2];
    /// What follows the `fields` column to read it as text.
    const JSON_AS_TEXT: &'static str;
    /// What follows a placeholder to write its text to the `fields` column.
    const TEXT_AS_JSON: &'static str;
    /// Whether a text column can hold NUL. Where it cannot, no stored text
    /// has one: a look-up with NUL finds nothing (rather than failing), and
    /// OAuth account data with NUL fails before anything is written.
    const TEXT_HOLDS_NUL: bool;
    /// The `SELECT` of one stored hash of each distinct set of hashing
    /// parameters ([`UserStore::password_hash_samples`](super::UserStore::password_hash_samples)),
    /// without its `LIMIT`.
    const HASH_SAMPLES: &'static str;

    /// The reads of the authenticated path served beside the pool.
    type Reader: ReadsBesidePool<Self>;
    /// Those reads for the database `pool` opens (`None`: everything through
    /// the pool).
    fn reader(pool: &Pool<Self>) -> Option<Arc<Self::Reader>>;

    /// How many rows a statement wrote.
    fn rows_affected(done: &Self::QueryResult) -> u64;
    /// A sqlx error as a store error.
    fn map_err(e: sqlx::Error) -> StoreError;
}

/// What a read beside the pool gives: the row or its absence
/// (`Ok(Some(…))`), nothing (`Ok(None)`: read through the pool), or an error.
pub(super) type Served<R> = Result<Option<Option<R>>, StoreError>;

/// The reads of the authenticated path served beside the pool: on the
/// calling thread (SQLite, `sqlite_reader.rs`) or from a cache that never
/// serves a stale row (PostgreSQL, `pg_cache.rs`). A read answers `Ok(None)`
/// when it could not be served that way, and an error when the database is
/// known not to answer; on `Ok(None)` it goes through the pool, and what
/// the pool read is offered back with the [`epoch`](Self::epoch) taken
/// before the read. Every write through the store tells which rows it
/// changed.
pub(super) trait ReadsBesidePool<D: Dialect>: Send + Sync + 'static {
    /// The user with this id, as its row.
    fn user(self: &Arc<Self>, id: &Uuid) -> impl Future<Output = Served<UserRow<D>>> + Send;
    /// The session whose token has this digest, as its row.
    fn token(self: &Arc<Self>, digest: &str) -> impl Future<Output = Served<TokenRow<D>>> + Send;
    /// The session with this id, as its row (by default through the pool).
    fn session(self: &Arc<Self>, _id: &str) -> impl Future<Output = Served<TokenRow<D>>> + Send {
        async { Ok(None) }
    }
    /// A mark taken before a read through the pool.
    fn epoch(&self) -> u64 {
        0
    }
    /// A user read through the pool since `epoch`.
    fn keep_user(&self, _epoch: u64, _row: &UserRow<D>) {}
    /// A token read through the pool since `epoch`.
    fn keep_token(&self, _epoch: u64, _row: &TokenRow<D>) {}
    /// The user (and its tokens) changed or went.
    fn forget_user(&self, _id: &Uuid) {}
    /// The token went.
    fn forget_token(&self, _digest: &str) {}
}

/// A Rust type that a database binds as a parameter and reads from a row.
pub(super) trait Stored<D: Database>:
    for<'q> Encode<'q, D> + for<'r> Decode<'r, D> + Type<D> + Send + Unpin + 'static
{
}

impl<D: Database, T> Stored<D> for T where
    T: for<'q> Encode<'q, D> + for<'r> Decode<'r, D> + Type<D> + Send + Unpin + 'static
{
}

/// How long a call waits for a pooled connection (including opening a new
/// one) before answering 503.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// A pooled connection idle for longer than this is checked (pinged) before
/// use; one in steady use is not.
const CHECK_IDLE_AFTER: Duration = Duration::from_secs(1);

/// A pool of at most `max_connections` connections opened with `options`.
///
/// sqlx's default pings every connection before handing it out, a round trip
/// to the database (or, for SQLite, to the connection's thread) on top of
/// every query: on a busy server that doubles the cost of a read. Only a
/// connection that sat idle for [`CHECK_IDLE_AFTER`] is pinged here, which is
/// what catches the connections a database restart broke while the server
/// was quiet; a connection that breaks under load fails its query (503), and
/// sqlx discards it when it comes back to the pool.
pub(super) async fn pool<D: Dialect>(
    options: <D::Connection as Connection>::Options,
    max_connections: u32,
) -> Result<Pool<D>, StoreError> {
    PoolOptions::<D>::new()
        .max_connections(max_connections)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .test_before_acquire(false)
        .before_acquire(|connection, meta| {
            Box::pin(async move {
                if meta.idle_for >= CHECK_IDLE_AFTER {
                    connection.ping().await?;
                }
                Ok(true)
            })
        })
        .connect_with(options)
        .timed(D::map_err)
        .await
}

/// The crate's migrations, recorded in their own table
/// (`_axum_users_migrations`) so that they live beside the application's own
/// sqlx migrations.
pub(super) fn own_migrations(mut migrator: sqlx::migrate::Migrator) -> sqlx::migrate::Migrator {
    migrator.dangerous_set_table_name("_axum_users_migrations");
    migrator.set_ignore_missing(true);
    migrator
}

/// The columns of the store's `users` table that a table named `users` with
/// these `columns` lacks: none when there is no such table (no columns).
pub(super) fn missing_users_columns(columns: &[(String,)]) -> Vec<&'static str> {
    if columns.is_empty() {
        return Vec::new();
    }
    USERS_COLUMNS
        .into_iter()
        .filter(|column| !columns.iter().any(|(c,)| c == column))
        .collect()
}

/// The columns of a user, read back and inserted in this order ([`UserRow`]'s):
/// those that make a `users` table the store's, then the generations and the
/// username.
fn user_columns() -> impl Iterator<Item = &'static str> {
    USERS_COLUMNS
        .into_iter()
        .chain(["token_generation", "password_generation", "username"])
}

/// A user as read: [`user_columns`], `fields` as JSON text.
pub(super) type UserRow<D> = (
    <D as Dialect>::Id,
    String,
    String,
    bool,
    bool,
    bool,
    String,
    i64,
    i64,
    Option<String>,
);

/// The columns of an OAuth account, read back and inserted in this order
/// ([`AccountRow`]'s).
const ACCOUNT_COLUMNS: &str = "oauth_name, account_id, account_email, email_verified, \
                               user_verified, access_token, refresh_token, expires_at, user_id";

type AccountRow<D> = (
    String,
    String,
    String,
    bool,
    bool,
    String,
    Option<String>,
    Option<i64>,
    <D as Dialect>::Id,
);

/// The columns of a session (the `access_tokens` table holds the sessions of
/// every kind), read back and inserted in this order ([`TokenRow`]'s).
const TOKEN_COLUMNS: &str = "digest, user_id, created_at, expires_at, binding, id, backend, kind, \
                             last_used_at, user_agent, ip";

/// A session as read: [`TOKEN_COLUMNS`], times in Unix seconds.
pub(super) type TokenRow<D> = (
    String,
    <D as Dialect>::Id,
    i64,
    i64,
    String,
    String,
    String,
    String,
    i64,
    Option<String>,
    Option<String>,
);

/// The columns of an invitation, read back and inserted in this order
/// ([`InvitationRow`]'s).
const INVITATION_COLUMNS: &str =
    "id, email, remark, created_at, expires_at, accepted_at, revoked, token_digest";

/// An invitation as read: [`INVITATION_COLUMNS`], times in Unix milliseconds.
type InvitationRow<D> = (
    <D as Dialect>::Id,
    String,
    Option<String>,
    i64,
    i64,
    Option<i64>,
    bool,
    String,
);

/// Pushes the user columns of the table `alias` (`"u."`, or `""` for the
/// only table), `fields` as text.
fn push_user_columns<D: Dialect>(query: &mut QueryBuilder<D>, alias: &str) {
    let mut columns = query.separated(", ");
    for column in user_columns() {
        columns.push(format_args!("{alias}{column}"));
        if column == "fields" {
            columns.push_unseparated(D::JSON_AS_TEXT);
        }
    }
}

/// `SELECT <the user columns of alias> FROM <from>`.
pub(super) fn select_user<D: Dialect>(alias: &str, from: &str) -> QueryBuilder<D> {
    let mut query = QueryBuilder::new("SELECT ");
    push_user_columns(&mut query, alias);
    query.push(" FROM ").push(from);
    query
}

/// `SELECT <the session columns> FROM access_tokens WHERE digest = `.
pub(super) fn select_token<D: Dialect>() -> QueryBuilder<D> {
    select_session_where("digest")
}

/// `SELECT <the session columns> FROM access_tokens WHERE <column> = `.
pub(super) fn select_session_where<D: Dialect>(column: &str) -> QueryBuilder<D> {
    let mut query = QueryBuilder::new("SELECT ");
    query
        .push(TOKEN_COLUMNS)
        .push(" FROM access_tokens WHERE ")
        .push(column)
        .push(" = ");
    query
}

/// `SELECT <the invitation columns> FROM invitations`, to be followed by its
/// `WHERE` or `ORDER BY`.
fn select_invitations<D: Dialect>() -> QueryBuilder<D> {
    let mut query = QueryBuilder::new("SELECT ");
    query.push(INVITATION_COLUMNS).push(" FROM invitations");
    query
}

/// A time as Unix milliseconds, cut (never rounded up): how an invitation's
/// times are stored, so that they read back exact to the millisecond.
fn to_millis(time: chrono::DateTime<chrono::Utc>) -> i64 {
    time.timestamp_millis()
}

/// Unix milliseconds as a time (out-of-range values clamp to the Unix epoch,
/// as [`from_unix`] does; this crate writes none).
fn from_millis(millis: i64) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp_millis(millis).unwrap_or_default()
}

/// A count, an offset or a limit as SQL binds it (a `BIGINT`), clamped to
/// `i64::MAX`: no table holds more rows.
fn sql_count(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// A stored generation (never negative, never above `u32::MAX` when written
/// by this crate).
fn generation_of(stored: i64) -> u32 {
    u32::try_from(stored).unwrap_or(u32::MAX)
}

fn user_from_row<D: Dialect, U: UserModel<Id = Uuid>>(row: UserRow<D>) -> Result<U, StoreError> {
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
        username,
    ) = row;
    let fields = serde_json::from_str(&fields).map_err(|e| StoreError::Other(Box::new(e)))?;
    Ok(U::from_parts(
        D::uuid(id)?,
        UserData {
            email,
            hashed_password: PasswordHash::new(hashed_password),
            is_active,
            is_superuser,
            is_verified,
            fields,
            username,
            token_generation: generation_of(token_generation),
            password_generation: generation_of(password_generation),
        },
    ))
}

fn token_from_row<D: Dialect>(row: TokenRow<D>) -> Result<Session<Uuid>, StoreError> {
    let (
        digest,
        user_id,
        created_at,
        expires_at,
        binding,
        id,
        backend,
        kind,
        last_used_at,
        user_agent,
        ip,
    ) = row;
    let mut session = Session::stored(
        id,
        D::uuid(user_id)?,
        // A kind this version does not know hands out no token it accepts.
        SessionKind::parse(&kind)
            .ok_or_else(|| StoreError::Other("unknown session kind".into()))?,
        digest,
    );
    session.backend = backend;
    session.created_at = from_unix(created_at);
    session.last_used_at = from_unix(last_used_at);
    session.expires_at = from_unix(expires_at);
    session.user_agent = user_agent;
    session.ip = ip;
    session.binding = binding;
    Ok(session)
}

fn account_from_row<D: Dialect>(row: AccountRow<D>) -> Result<OAuthAccount<Uuid>, StoreError> {
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
        user_id: D::uuid(user_id)?,
    })
}

fn invitation_from_row<D: Dialect>(row: InvitationRow<D>) -> Result<Invitation, StoreError> {
    let (id, email, remark, created_at, expires_at, accepted_at, revoked, token_digest) = row;
    Ok(Invitation {
        id: D::uuid(id)?,
        email,
        remark,
        created_at: from_millis(created_at),
        expires_at: from_millis(expires_at),
        accepted_at: accepted_at.map(from_millis),
        revoked,
        token_digest,
    })
}

fn json<F: serde::Serialize>(fields: &F) -> Result<String, StoreError> {
    serde_json::to_string(fields).map_err(|e| StoreError::Other(Box::new(e)))
}

/// Whether `D` can hold `text` (see [`Dialect::TEXT_HOLDS_NUL`]).
fn storable<D: Dialect>(text: &str) -> bool {
    D::TEXT_HOLDS_NUL || !text.contains('\0')
}

/// A session id or token digest stored already is a unique violation, not
/// an address taken (as the SQLite dialect reads every unique violation).
fn session_err<D: Dialect>(e: sqlx::Error) -> StoreError {
    match e {
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            StoreError::Other("session id or token already stored".into())
        }
        e => D::map_err(e),
    }
}

/// The unique index of pending invitations (one per address).
const PENDING_INVITATION_INDEX: &str = "invitations_pending";

/// A pending invitation of the address stored already is a
/// [`StoreError::Conflict`] (PostgreSQL names the index as the constraint,
/// SQLite in its message); an invitation id or token digest stored already
/// is a unique violation too, but no address taken (as the SQLite dialect
/// reads every unique violation).
fn invitation_err<D: Dialect>(e: sqlx::Error) -> StoreError {
    match e {
        sqlx::Error::Database(db)
            if db.is_unique_violation()
                && (db.constraint() == Some(PENDING_INVITATION_INDEX)
                    || db.message().contains(PENDING_INVITATION_INDEX)) =>
        {
            StoreError::Conflict
        }
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            StoreError::Other("invitation id or token already stored".into())
        }
        e => D::map_err(e),
    }
}

/// A missing user is a foreign-key violation.
fn link_err<D: Dialect>(e: sqlx::Error) -> StoreError {
    match e {
        sqlx::Error::Database(db) if db.is_foreign_key_violation() => StoreError::NotFound,
        e => D::map_err(e),
    }
}

/// The statements of the stores, run on a pool of database `D`, the reads of
/// the authenticated path on `reader` when there is one.
pub(super) struct Sql<'p, D: Dialect> {
    pub(super) pool: &'p Pool<D>,
    pub(super) reader: Option<&'p Arc<D::Reader>>,
}

impl<D: Dialect> Sql<'_, D>
where
    // A pool, and a transaction's connection, run the statements; their
    // arguments are `D`'s own; their rows are read by column index and hold
    // these types.
    for<'c> &'c mut D::Connection: Executor<'c, Database = D>,
    D::Arguments: IntoArguments<D>,
    usize: ColumnIndex<D::Row>,
    String: Stored<D>,
    bool: Stored<D>,
    i64: Stored<D>,
    Option<String>: Stored<D>,
    Option<i64>: Stored<D>,
{
    /// `sql` followed by the placeholder of `value`.
    fn binding<T: Stored<D>>(sql: &str, value: T) -> QueryBuilder<D> {
        let mut query = QueryBuilder::new(sql);
        query.push_bind(value);
        query
    }

    /// The user a `SELECT` of the user columns finds, if any.
    async fn fetch_user<U: UserModel<Id = Uuid>>(
        &self,
        mut query: QueryBuilder<D>,
    ) -> Result<Option<U>, StoreError> {
        query
            .build_query_as::<UserRow<D>>()
            .fetch_optional(self.pool)
            .timed(D::map_err)
            .await?
            .map(user_from_row::<D, U>)
            .transpose()
    }

    /// The INSERT of a new user (by `create` and `create_with_oauth_account`).
    fn insert_user<F: serde::Serialize>(
        id: &Uuid,
        data: &UserData<F>,
    ) -> Result<QueryBuilder<D>, StoreError> {
        let mut query = QueryBuilder::new("INSERT INTO users (");
        let mut columns = query.separated(", ");
        for column in user_columns() {
            columns.push(column);
        }
        query.push(") VALUES (");
        // In user_columns' order.
        let mut values = query.separated(", ");
        values.push_bind(D::id(id));
        values.push_bind(data.email.clone());
        values.push_bind(data.hashed_password.as_str().to_owned());
        values.push_bind(data.is_active);
        values.push_bind(data.is_superuser);
        values.push_bind(data.is_verified);
        values.push_bind(json(&data.fields)?);
        values.push_unseparated(D::TEXT_AS_JSON);
        values.push_bind(i64::from(data.token_generation));
        values.push_bind(i64::from(data.password_generation));
        values.push_bind(data.username.clone());
        values.push_unseparated(")");
        Ok(query)
    }

    /// Links an OAuth account in one statement: insert, or refresh when the
    /// same user owns it (`email_verified` can only go down, `user_verified`
    /// stays); another owner makes the conditional update skip the row, so
    /// nothing comes back. Text the database cannot hold (NUL) fails.
    fn upsert_account(account: OAuthAccount<Uuid>) -> Result<QueryBuilder<D>, StoreError> {
        let texts = [
            account.oauth_name.as_str(),
            account.account_id.as_str(),
            account.account_email.as_str(),
            account.access_token.expose(),
            account.refresh_token.as_ref().map_or("", |t| t.expose()),
        ];
        if !texts.into_iter().all(storable::<D>) {
            return Err(StoreError::Other(
                "OAuth account data with a NUL character".into(),
            ));
        }
        let mut query = QueryBuilder::new("INSERT INTO oauth_accounts (");
        query.push(ACCOUNT_COLUMNS).push(") VALUES (");
        // In ACCOUNT_COLUMNS' order.
        let mut values = query.separated(", ");
        values.push_bind(account.oauth_name);
        values.push_bind(account.account_id);
        values.push_bind(account.account_email);
        values.push_bind(account.email_verified);
        values.push_bind(account.user_verified);
        values.push_bind(account.access_token.expose().to_owned());
        values.push_bind(account.refresh_token.map(|t| t.expose().to_owned()));
        values.push_bind(account.expires_at);
        values.push_bind(D::id(&account.user_id));
        values.push_unseparated(")");
        query.push(
            " ON CONFLICT (oauth_name, account_id) DO UPDATE SET \
             account_email = excluded.account_email, \
             email_verified = oauth_accounts.email_verified AND excluded.email_verified, \
             access_token = excluded.access_token, \
             refresh_token = excluded.refresh_token, expires_at = excluded.expires_at \
             WHERE oauth_accounts.user_id = excluded.user_id \
             RETURNING user_id",
        );
        Ok(query)
    }

    // Users.

    pub(super) async fn get<U: UserModel<Id = Uuid>>(
        &self,
        id: &Uuid,
    ) -> Result<Option<U>, StoreError> {
        let mut epoch = 0;
        if let Some(reader) = self.reader {
            if let Some(row) = reader.user(id).await? {
                return row.map(user_from_row::<D, U>).transpose();
            }
            epoch = reader.epoch();
        }
        let mut query = select_user("", "users WHERE id = ");
        query.push_bind(D::id(id));
        let row: Option<UserRow<D>> = query
            .build_query_as()
            .fetch_optional(self.pool)
            .timed(D::map_err)
            .await?;
        if let (Some(reader), Some(row)) = (self.reader, &row) {
            reader.keep_user(epoch, row);
        }
        row.map(user_from_row::<D, U>).transpose()
    }

    pub(super) async fn get_by_email<U: UserModel<Id = Uuid>>(
        &self,
        email: &str,
    ) -> Result<Option<U>, StoreError> {
        if !storable::<D>(email) {
            return Ok(None);
        }
        let [fold, end] = D::ASCII_LOWER;
        let mut query = select_user("", "users WHERE ");
        query.push(format_args!("{fold}email{end} = {fold}"));
        query.push_bind(email.to_owned()).push(end);
        self.fetch_user(query).await
    }

    pub(super) async fn get_by_username<U: UserModel<Id = Uuid>>(
        &self,
        username: &str,
    ) -> Result<Option<U>, StoreError> {
        if !storable::<D>(username) {
            return Ok(None);
        }
        let [fold, end] = D::ASCII_LOWER;
        let mut query = select_user("", "users WHERE ");
        query.push(format_args!("{fold}username{end} = {fold}"));
        query.push_bind(username.to_owned()).push(end);
        self.fetch_user(query).await
    }

    pub(super) async fn create<U: UserModel<Id = Uuid>>(
        &self,
        data: UserData<U::Fields>,
    ) -> Result<U, StoreError> {
        let id = Uuid::new_v4();
        let mut insert = Self::insert_user(&id, &data)?;
        insert.build().execute(self.pool).timed(D::map_err).await?;
        Ok(U::from_parts(id, data))
    }

    /// The user changed or went: cached rows of it go.
    fn forget_user(&self, id: &Uuid) {
        if let Some(reader) = self.reader {
            reader.forget_user(id);
        }
    }

    pub(super) async fn update<U: UserModel<Id = Uuid>>(
        &self,
        id: &Uuid,
        changes: UserChanges<U::Fields>,
    ) -> Result<U, StoreError> {
        let updated = self.write_user(id, changes).await;
        self.forget_user(id);
        updated
    }

    async fn write_user<U: UserModel<Id = Uuid>>(
        &self,
        id: &Uuid,
        changes: UserChanges<U::Fields>,
    ) -> Result<U, StoreError> {
        // Nothing to write (no SET below): the conditions are checked on a read.
        if changes.is_empty() {
            return match self.get::<U>(id).await? {
                Some(user) if changes.conditions_hold(user.data()) => Ok(user),
                Some(_) => Err(StoreError::Conflict),
                None => Err(StoreError::NotFound),
            };
        }
        // Only the given columns are written, each beside its value: the SQL
        // is built from fixed column names and placeholders, never from input.
        let mut query = QueryBuilder::new("UPDATE users SET ");
        let mut sets = query.separated(", ");
        if let Some(email) = changes.email {
            sets.push("email = ").push_bind_unseparated(email);
        }
        if let Some(hash) = changes.hashed_password {
            sets.push("hashed_password = ")
                .push_bind_unseparated(hash.as_str().to_owned());
            if !changes.hash_upgrade {
                sets.push("password_generation = password_generation + 1");
            }
        }
        if let Some(v) = changes.is_active {
            sets.push("is_active = ").push_bind_unseparated(v);
        }
        if let Some(v) = changes.is_superuser {
            sets.push("is_superuser = ").push_bind_unseparated(v);
        }
        if let Some(v) = changes.is_verified {
            sets.push("is_verified = ").push_bind_unseparated(v);
        }
        if let Some(username) = changes.username {
            sets.push("username = ").push_bind_unseparated(username);
        }
        if let Some(fields) = &changes.fields {
            sets.push("fields = ")
                .push_bind_unseparated(json(fields)?)
                .push_unseparated(D::TEXT_AS_JSON);
        }
        if changes.bump_token_generation {
            sets.push("token_generation = token_generation + 1");
        }
        query.push(" WHERE id = ").push_bind(D::id(id));
        if let Some(expected) = changes.if_hashed_password {
            query
                .push(" AND hashed_password = ")
                .push_bind(expected.as_str().to_owned());
        }
        if let Some(expected) = changes.if_email {
            query.push(" AND email = ").push_bind(expected);
        }
        query.push(" RETURNING ");
        push_user_columns(&mut query, "");
        match self.fetch_user(query).await? {
            Some(user) => Ok(user),
            // Either no such user, or the condition failed.
            None => match self.get::<U>(id).await? {
                Some(_) => Err(StoreError::Conflict),
                None => Err(StoreError::NotFound),
            },
        }
    }

    pub(super) async fn delete(&self, id: &Uuid) -> Result<(), StoreError> {
        let mut delete = Self::binding("DELETE FROM users WHERE id = ", D::id(id));
        let done = delete.build().execute(self.pool).timed(D::map_err).await;
        self.forget_user(id);
        let done = done?;
        if D::rows_affected(&done) == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    pub(super) async fn password_hash_samples(&self) -> Result<Vec<PasswordHash>, StoreError> {
        let mut query = QueryBuilder::new(D::HASH_SAMPLES);
        query.push(" LIMIT ").push_bind(MAX_HASH_SAMPLES as i64);
        let rows: Vec<(String,)> = query
            .build_query_as()
            .fetch_all(self.pool)
            .timed(D::map_err)
            .await?;
        Ok(rows.into_iter().map(|(h,)| PasswordHash::new(h)).collect())
    }

    pub(super) async fn forget_unverified_oauth_accounts(
        &self,
        id: &Uuid,
    ) -> Result<(), StoreError> {
        let mut delete = Self::binding("DELETE FROM oauth_accounts WHERE user_id = ", D::id(id));
        delete.push(" AND NOT user_verified");
        delete.build().execute(self.pool).timed(D::map_err).await?;
        Ok(())
    }

    // Sessions (the `access_tokens` table).

    pub(super) async fn create_session(&self, session: Session<Uuid>) -> Result<(), StoreError> {
        let mut query = QueryBuilder::new("INSERT INTO access_tokens (");
        query.push(TOKEN_COLUMNS).push(") VALUES (");
        // In TOKEN_COLUMNS' order.
        let mut values = query.separated(", ");
        values.push_bind(session.token_digest);
        values.push_bind(D::id(&session.user_id));
        values.push_bind(to_unix(session.created_at));
        values.push_bind(to_unix(session.expires_at));
        values.push_bind(session.binding);
        values.push_bind(session.id);
        values.push_bind(session.backend);
        values.push_bind(session.kind.as_str().to_owned());
        values.push_bind(to_unix(session.last_used_at));
        values.push_bind(session.user_agent.filter(|text| storable::<D>(text)));
        values.push_bind(session.ip);
        values.push_unseparated(")");
        query
            .build()
            .execute(self.pool)
            .timed(session_err::<D>)
            .await?;
        Ok(())
    }

    pub(super) async fn session_by_token(
        &self,
        digest: &str,
    ) -> Result<Option<Session<Uuid>>, StoreError> {
        let mut epoch = 0;
        if let Some(reader) = self.reader {
            if let Some(row) = reader.token(digest).await? {
                return row.map(token_from_row::<D>).transpose();
            }
            epoch = reader.epoch();
        }
        let mut query = select_token();
        query.push_bind(digest.to_owned());
        let row: Option<TokenRow<D>> = query
            .build_query_as()
            .fetch_optional(self.pool)
            .timed(D::map_err)
            .await?;
        if let (Some(reader), Some(row)) = (self.reader, &row) {
            reader.keep_token(epoch, row);
        }
        row.map(token_from_row::<D>).transpose()
    }

    pub(super) async fn session(&self, id: &str) -> Result<Option<Session<Uuid>>, StoreError> {
        if let Some(reader) = self.reader
            && let Some(row) = reader.session(id).await?
        {
            return row.map(token_from_row::<D>).transpose();
        }
        let mut query = select_session_where("id");
        query.push_bind(id.to_owned());
        let row: Option<TokenRow<D>> = query
            .build_query_as()
            .fetch_optional(self.pool)
            .timed(D::map_err)
            .await?;
        row.map(token_from_row::<D>).transpose()
    }

    pub(super) async fn user_sessions(
        &self,
        user_id: &Uuid,
    ) -> Result<Vec<Session<Uuid>>, StoreError> {
        let mut query = select_session_where("user_id");
        query.push_bind(D::id(user_id));
        query
            .build_query_as::<TokenRow<D>>()
            .fetch_all(self.pool)
            .timed(D::map_err)
            .await?
            .into_iter()
            // A session of a kind this version does not know is left out.
            .filter_map(|row| token_from_row::<D>(row).ok())
            .map(Ok)
            .collect()
    }

    /// Forgets what the reader may hold of the sessions whose digests a
    /// statement returned.
    fn forget_tokens(&self, digests: &[(String,)]) {
        if let Some(reader) = self.reader {
            for (digest,) in digests {
                reader.forget_token(digest);
            }
        }
    }

    pub(super) async fn rebind_session(&self, id: &str, binding: &str) -> Result<bool, StoreError> {
        let mut update = Self::binding("UPDATE access_tokens SET binding = ", binding.to_owned());
        update
            .push(" WHERE id = ")
            .push_bind(id.to_owned())
            .push(" RETURNING digest");
        let rebound: Vec<(String,)> = update
            .build_query_as()
            .fetch_all(self.pool)
            .timed(D::map_err)
            .await?;
        self.forget_tokens(&rebound);
        Ok(!rebound.is_empty())
    }

    pub(super) async fn touch_session(
        &self,
        id: &str,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), StoreError> {
        let mut update = Self::binding("UPDATE access_tokens SET last_used_at = ", to_unix(at));
        update
            .push(" WHERE id = ")
            .push_bind(id.to_owned())
            .push(" RETURNING digest");
        let touched: Vec<(String,)> = update
            .build_query_as()
            .fetch_all(self.pool)
            .timed(D::map_err)
            .await?;
        self.forget_tokens(&touched);
        Ok(())
    }

    pub(super) async fn rotate_session_token(
        &self,
        rotation: Rotation<'_>,
    ) -> Result<bool, StoreError> {
        let mut update = Self::binding(
            "UPDATE access_tokens SET digest = ",
            rotation.new_digest.to_owned(),
        );
        update
            .push(", last_used_at = ")
            .push_bind(to_unix(rotation.at))
            .push(", expires_at = ")
            .push_bind(to_unix(rotation.expires_at))
            .push(" WHERE id = ")
            .push_bind(rotation.session_id.to_owned())
            .push(" AND digest = ")
            .push_bind(rotation.old_digest.to_owned());
        let mut retire = QueryBuilder::new(
            "INSERT INTO retired_tokens (digest, session_id, expires_at) VALUES (",
        );
        let mut values = retire.separated(", ");
        values.push_bind(rotation.old_digest.to_owned());
        values.push_bind(rotation.session_id.to_owned());
        values.push_bind(to_unix(rotation.expires_at));
        values.push_unseparated(")");
        let mut tx = self.pool.begin().timed(D::map_err).await?;
        let done = update
            .build()
            .execute(&mut *tx)
            .timed(session_err::<D>)
            .await?;
        // The row is locked (PostgreSQL) or the database is (SQLite) until
        // the commit: of concurrent rotations of one token, one finds it.
        if D::rows_affected(&done) != 1 {
            return Ok(false);
        }
        retire
            .build()
            .execute(&mut *tx)
            .timed(session_err::<D>)
            .await?;
        tx.commit().timed(D::map_err).await?;
        if let Some(reader) = self.reader {
            reader.forget_token(rotation.old_digest);
        }
        Ok(true)
    }

    pub(super) async fn retired_token_session(
        &self,
        digest: &str,
    ) -> Result<Option<String>, StoreError> {
        let mut query = Self::binding(
            "SELECT session_id FROM retired_tokens WHERE digest = ",
            digest.to_owned(),
        );
        let row: Option<(String,)> = query
            .build_query_as()
            .fetch_optional(self.pool)
            .timed(D::map_err)
            .await?;
        Ok(row.map(|(id,)| id))
    }

    pub(super) async fn delete_session(&self, id: &str) -> Result<bool, StoreError> {
        let mut delete = Self::binding("DELETE FROM access_tokens WHERE id = ", id.to_owned());
        delete.push(" RETURNING digest");
        let mut forget = Self::binding(
            "DELETE FROM retired_tokens WHERE session_id = ",
            id.to_owned(),
        );
        let mut tx = self.pool.begin().timed(D::map_err).await?;
        let deleted: Vec<(String,)> = delete
            .build_query_as()
            .fetch_all(&mut *tx)
            .timed(D::map_err)
            .await?;
        forget.build().execute(&mut *tx).timed(D::map_err).await?;
        let committed = tx.commit().timed(D::map_err).await;
        self.forget_tokens(&deleted);
        committed?;
        Ok(!deleted.is_empty())
    }

    pub(super) async fn delete_user_sessions(&self, user_id: &Uuid) -> Result<(), StoreError> {
        let mut forget = Self::binding(
            "DELETE FROM retired_tokens WHERE session_id IN \
             (SELECT id FROM access_tokens WHERE user_id = ",
            D::id(user_id),
        );
        forget.push(")");
        let mut delete =
            Self::binding("DELETE FROM access_tokens WHERE user_id = ", D::id(user_id));
        let done = async {
            let mut tx = self.pool.begin().timed(D::map_err).await?;
            forget.build().execute(&mut *tx).timed(D::map_err).await?;
            delete.build().execute(&mut *tx).timed(D::map_err).await?;
            tx.commit().timed(D::map_err).await
        }
        .await;
        self.forget_user(user_id);
        done
    }

    pub(super) async fn delete_expired_sessions(
        &self,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<u64, StoreError> {
        let mut forget = Self::binding(
            "DELETE FROM retired_tokens WHERE expires_at <= ",
            to_unix(now),
        );
        forget.build().execute(self.pool).timed(D::map_err).await?;
        let mut delete = Self::binding(
            "DELETE FROM access_tokens WHERE expires_at <= ",
            to_unix(now),
        );
        delete.push(" RETURNING digest");
        let deleted: Vec<(String,)> = delete
            .build_query_as()
            .fetch_all(self.pool)
            .timed(D::map_err)
            .await?;
        self.forget_tokens(&deleted);
        Ok(deleted.len() as u64)
    }

    // OAuth accounts.

    pub(super) async fn get_by_oauth_account<U: UserModel<Id = Uuid>>(
        &self,
        oauth_name: &str,
        account_id: &str,
    ) -> Result<Option<U>, StoreError> {
        if !storable::<D>(oauth_name) || !storable::<D>(account_id) {
            return Ok(None);
        }
        let mut query = select_user(
            "u.",
            "oauth_accounts a JOIN users u ON u.id = a.user_id WHERE a.oauth_name = ",
        );
        query
            .push_bind(oauth_name.to_owned())
            .push(" AND a.account_id = ")
            .push_bind(account_id.to_owned());
        self.fetch_user(query).await
    }

    pub(super) async fn link_oauth_account(
        &self,
        account: OAuthAccount<Uuid>,
    ) -> Result<(), StoreError> {
        let mut upsert = Self::upsert_account(account)?;
        match upsert
            .build_query_as::<(D::Id,)>()
            .fetch_optional(self.pool)
            .timed(link_err::<D>)
            .await?
        {
            Some(_) => Ok(()),
            None => Err(StoreError::AccountTaken),
        }
    }

    pub(super) async fn create_with_oauth_account<U: UserModel<Id = Uuid>>(
        &self,
        data: UserData<U::Fields>,
        account: OAuthAccount<()>,
    ) -> Result<U, StoreError> {
        let id = Uuid::new_v4();
        let mut upsert = Self::upsert_account(account.with_user(id))?;
        let mut insert = Self::insert_user(&id, &data)?;
        let mut tx = self.pool.begin().timed(D::map_err).await?;
        insert.build().execute(&mut *tx).timed(D::map_err).await?;
        // A fresh user owns no account: nothing back means another user does.
        let linked = upsert
            .build_query_as::<(D::Id,)>()
            .fetch_optional(&mut *tx)
            .timed(link_err::<D>)
            .await?;
        if linked.is_none() {
            return Err(StoreError::AccountTaken);
        }
        // Dropped without a commit (an error above), the transaction rolls back.
        tx.commit().timed(D::map_err).await?;
        Ok(U::from_parts(id, data))
    }

    pub(super) async fn oauth_accounts(
        &self,
        user_id: &Uuid,
    ) -> Result<Vec<OAuthAccount<Uuid>>, StoreError> {
        let mut query = QueryBuilder::new("SELECT ");
        query
            .push(ACCOUNT_COLUMNS)
            .push(" FROM oauth_accounts WHERE user_id = ")
            .push_bind(D::id(user_id));
        query
            .build_query_as::<AccountRow<D>>()
            .fetch_all(self.pool)
            .timed(D::map_err)
            .await?
            .into_iter()
            .map(account_from_row::<D>)
            .collect()
    }

    // Invitations.

    /// The invitation a `SELECT` of the invitation columns finds, if any.
    async fn fetch_invitation(
        &self,
        mut query: QueryBuilder<D>,
    ) -> Result<Option<Invitation>, StoreError> {
        query
            .build_query_as::<InvitationRow<D>>()
            .fetch_optional(self.pool)
            .timed(D::map_err)
            .await?
            .map(invitation_from_row::<D>)
            .transpose()
    }

    /// Stores an invitation, unless the address has a pending one
    /// ([`StoreError::Conflict`], from the unique index of pending
    /// invitations: atomic under concurrent invitations). Its expired
    /// invitations lapse first, leaving that index. Text the database cannot
    /// hold (NUL) fails before anything is written; an id or a token digest
    /// stored already fails on its unique index, and nothing is written
    /// either.
    pub(super) async fn create_invitation(&self, invitation: Invitation) -> Result<(), StoreError> {
        let texts = [
            invitation.email.as_str(),
            invitation.remark.as_deref().unwrap_or(""),
            invitation.token_digest.as_str(),
        ];
        if !texts.into_iter().all(storable::<D>) {
            return Err(StoreError::Other(
                "invitation data with a NUL character".into(),
            ));
        }
        // The address's expired invitations lapse (idempotent: a concurrent
        // invitation may do the same).
        let [fold, end] = D::ASCII_LOWER;
        let mut lapse = QueryBuilder::new("UPDATE invitations SET lapsed = ");
        lapse
            .push_bind(true)
            .push(format_args!(" WHERE {fold}email{end} = {fold}"))
            .push_bind(invitation.email.clone())
            .push(end)
            .push(" AND accepted_at IS NULL AND NOT revoked AND NOT lapsed AND expires_at <= ")
            .push_bind(to_millis(invitation.created_at));
        lapse.build().execute(self.pool).timed(D::map_err).await?;
        let mut query = QueryBuilder::new("INSERT INTO invitations (");
        query.push(INVITATION_COLUMNS).push(") VALUES (");
        // In INVITATION_COLUMNS' order.
        let mut values = query.separated(", ");
        values.push_bind(D::id(&invitation.id));
        values.push_bind(invitation.email);
        values.push_bind(invitation.remark);
        values.push_bind(to_millis(invitation.created_at));
        values.push_bind(to_millis(invitation.expires_at));
        values.push_bind(invitation.accepted_at.map(to_millis));
        values.push_bind(invitation.revoked);
        values.push_bind(invitation.token_digest);
        values.push_unseparated(")");
        query
            .build()
            .execute(self.pool)
            .timed(invitation_err::<D>)
            .await?;
        Ok(())
    }

    pub(super) async fn invitation(&self, id: &Uuid) -> Result<Option<Invitation>, StoreError> {
        let mut query = select_invitations();
        query.push(" WHERE id = ").push_bind(D::id(id));
        self.fetch_invitation(query).await
    }

    pub(super) async fn invitation_by_token(
        &self,
        digest: &str,
    ) -> Result<Option<Invitation>, StoreError> {
        if !storable::<D>(digest) {
            return Ok(None);
        }
        let mut query = select_invitations();
        query
            .push(" WHERE token_digest = ")
            .push_bind(digest.to_owned());
        self.fetch_invitation(query).await
    }

    /// The count and the page are two reads: an invitation made between
    /// them may show in one and not the other.
    pub(super) async fn invitations(
        &self,
        offset: u64,
        limit: u64,
    ) -> Result<(u64, Vec<Invitation>), StoreError> {
        let (count,): (i64,) = QueryBuilder::new("SELECT count(*) FROM invitations")
            .build_query_as()
            .fetch_one(self.pool)
            .timed(D::map_err)
            .await?;
        // The order of the index on (created_at DESC, id DESC).
        let mut query = select_invitations();
        query
            .push(" ORDER BY created_at DESC, id DESC LIMIT ")
            .push_bind(sql_count(limit))
            .push(" OFFSET ")
            .push_bind(sql_count(offset));
        let page = query
            .build_query_as::<InvitationRow<D>>()
            .fetch_all(self.pool)
            .timed(D::map_err)
            .await?
            .into_iter()
            .map(invitation_from_row::<D>)
            .collect::<Result<_, _>>()?;
        Ok((u64::try_from(count).unwrap_or(0), page))
    }

    /// The newest of the address's pending invitations (the manager lets an
    /// address have one at a time).
    pub(super) async fn pending_invitation(
        &self,
        email: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Option<Invitation>, StoreError> {
        if !storable::<D>(email) {
            return Ok(None);
        }
        // The expression of the index on the folded address, exactly.
        let [fold, end] = D::ASCII_LOWER;
        let mut query = select_invitations();
        query.push(format_args!(" WHERE {fold}email{end} = {fold}"));
        query
            .push_bind(email.to_owned())
            .push(end)
            .push(" AND accepted_at IS NULL AND NOT revoked AND expires_at > ")
            .push_bind(to_millis(now))
            .push(" ORDER BY created_at DESC, id DESC LIMIT 1");
        self.fetch_invitation(query).await
    }

    /// An `UPDATE` counts the rows it matched, also those it wrote the value
    /// they had (SQLite counts every row its `WHERE` matched; PostgreSQL
    /// writes a new version of each): revoking twice still finds the row.
    pub(super) async fn revoke_invitation(&self, id: &Uuid) -> Result<bool, StoreError> {
        let mut update = Self::binding("UPDATE invitations SET revoked = ", true);
        update.push(" WHERE id = ").push_bind(D::id(id));
        let done = update.build().execute(self.pool).timed(D::map_err).await?;
        Ok(D::rows_affected(&done) > 0)
    }

    /// One conditional `UPDATE`, a compare-and-set: of concurrent claims,
    /// the first to write makes the condition false for the others (the row
    /// is locked and its new version checked again in PostgreSQL; SQLite
    /// writes one statement at a time).
    pub(super) async fn claim_invitation(
        &self,
        id: &Uuid,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Result<bool, StoreError> {
        let at = to_millis(at);
        let mut update = Self::binding("UPDATE invitations SET accepted_at = ", at);
        update
            .push(" WHERE id = ")
            .push_bind(D::id(id))
            .push(" AND accepted_at IS NULL AND NOT revoked AND expires_at > ")
            .push_bind(at);
        let done = update.build().execute(self.pool).timed(D::map_err).await?;
        Ok(D::rows_affected(&done) == 1)
    }

    /// A newer pending invitation of the address (made while this one was
    /// claimed) wins: this one then stays claimed, its token dead.
    pub(super) async fn unclaim_invitation(&self, id: &Uuid) -> Result<(), StoreError> {
        let mut update = Self::binding(
            "UPDATE invitations SET accepted_at = NULL WHERE id = ",
            D::id(id),
        );
        match update
            .build()
            .execute(self.pool)
            .timed(invitation_err::<D>)
            .await
        {
            Ok(_) | Err(StoreError::Conflict) => Ok(()),
            Err(e) => Err(e),
        }
    }
}

/// Writes what the two SQL stores have alike around [`Sql`]: `from_pool`,
/// `pool`, `Clone`, `Debug` and the store traits (those of `sql_mfa.rs`
/// too), every call [`Sql`]'s. `$store<U>` is a struct with a
/// `pool: $pool` (of database `$db`), a
/// `reader: Option<Arc<<$db as Dialect>::Reader>>` and a
/// `_user: PhantomData<fn() -> U>`; `from_pool` gets the store's own
/// documentation.
///
/// A macro rather than generic impls because the stores are two public
/// types: each keeps its name, its documentation and its own trait
/// implementations, as rustdoc shows them. Only this plumbing is expanded
/// twice; the statements are [`Sql`]'s generic code.
macro_rules! sql_store {
    (
        store: $store:ident,
        database: $db:ty,
        pool: $pool:ty,
        $(#[$from_pool_doc:meta])*
        from_pool,
    ) => {
        // The names the implementations use, without importing them into the
        // store's module.
        const _: () = {
            use ::std::marker::PhantomData;

            use ::async_trait::async_trait;
            use ::uuid::Uuid;

            use $crate::store::sql::{Dialect, Sql};
            use $crate::store::{
                Invitation, InvitationStore, OAuthAccount, OAuthAccountStore, Rotation, Session,
                SessionStore, StoreError, UserChanges, UserStore,
            };
            use $crate::user::{PasswordHash, UserData, UserModel};

            impl<U: UserModel<Id = Uuid>> $store<U> {
                $(#[$from_pool_doc])*
                pub fn from_pool(pool: $pool) -> Self {
                    Self {
                        reader: <$db as Dialect>::reader(&pool),
                        pool,
                        _user: PhantomData,
                    }
                }

                /// The pool, to share it with the application.
                pub fn pool(&self) -> &$pool {
                    &self.pool
                }
            }

            impl<U> $store<U> {
                /// The statements, on this store's pool.
                fn sql(&self) -> Sql<'_, $db> {
                    Sql {
                        pool: &self.pool,
                        reader: self.reader.as_ref(),
                    }
                }
            }

            impl<U> Clone for $store<U> {
                fn clone(&self) -> Self {
                    Self {
                        pool: self.pool.clone(),
                        reader: self.reader.clone(),
                        _user: PhantomData,
                    }
                }
            }

            impl<U> ::std::fmt::Debug for $store<U> {
                fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                    f.debug_struct(stringify!($store)).finish_non_exhaustive()
                }
            }

            #[async_trait]
            impl<U: UserModel<Id = Uuid>> UserStore for $store<U> {
                type User = U;

                async fn get(&self, id: &Uuid) -> Result<Option<U>, StoreError> {
                    self.sql().get(id).await
                }

                async fn get_by_email(&self, email: &str) -> Result<Option<U>, StoreError> {
                    self.sql().get_by_email(email).await
                }

                fn supports_usernames(&self) -> bool {
                    true
                }

                async fn get_by_username(&self, username: &str) -> Result<Option<U>, StoreError> {
                    self.sql().get_by_username(username).await
                }

                async fn create(&self, data: UserData<U::Fields>) -> Result<U, StoreError> {
                    self.sql().create(data).await
                }

                async fn update(
                    &self,
                    id: &Uuid,
                    changes: UserChanges<U::Fields>,
                ) -> Result<U, StoreError> {
                    self.sql().update(id, changes).await
                }

                async fn delete(&self, id: &Uuid) -> Result<(), StoreError> {
                    self.sql().delete(id).await
                }

                async fn password_hash_samples(&self) -> Result<Vec<PasswordHash>, StoreError> {
                    self.sql().password_hash_samples().await
                }

                async fn address_proven(&self, id: &Uuid) -> Result<(), StoreError> {
                    self.sql().forget_unverified_oauth_accounts(id).await
                }
            }

            #[async_trait]
            impl<U: UserModel<Id = Uuid>> SessionStore<Uuid> for $store<U> {
                async fn create_session(&self, session: Session<Uuid>) -> Result<(), StoreError> {
                    self.sql().create_session(session).await
                }

                async fn session_by_token(
                    &self,
                    digest: &str,
                ) -> Result<Option<Session<Uuid>>, StoreError> {
                    self.sql().session_by_token(digest).await
                }

                async fn session(&self, id: &str) -> Result<Option<Session<Uuid>>, StoreError> {
                    self.sql().session(id).await
                }

                async fn user_sessions(
                    &self,
                    user_id: &Uuid,
                ) -> Result<Vec<Session<Uuid>>, StoreError> {
                    self.sql().user_sessions(user_id).await
                }

                async fn rebind_session(
                    &self,
                    id: &str,
                    binding: &str,
                ) -> Result<bool, StoreError> {
                    self.sql().rebind_session(id, binding).await
                }

                async fn touch_session(
                    &self,
                    id: &str,
                    at: ::chrono::DateTime<::chrono::Utc>,
                ) -> Result<(), StoreError> {
                    self.sql().touch_session(id, at).await
                }

                async fn rotate_session_token(
                    &self,
                    rotation: Rotation<'_>,
                ) -> Result<bool, StoreError> {
                    self.sql().rotate_session_token(rotation).await
                }

                async fn retired_token_session(
                    &self,
                    digest: &str,
                ) -> Result<Option<String>, StoreError> {
                    self.sql().retired_token_session(digest).await
                }

                async fn delete_session(&self, id: &str) -> Result<bool, StoreError> {
                    self.sql().delete_session(id).await
                }

                async fn delete_user_sessions(&self, user_id: &Uuid) -> Result<(), StoreError> {
                    self.sql().delete_user_sessions(user_id).await
                }

                async fn delete_expired_sessions(
                    &self,
                    now: ::chrono::DateTime<::chrono::Utc>,
                ) -> Result<u64, StoreError> {
                    self.sql().delete_expired_sessions(now).await
                }
            }

            #[async_trait]
            impl<U: UserModel<Id = Uuid>> OAuthAccountStore for $store<U> {
                async fn get_by_oauth_account(
                    &self,
                    oauth_name: &str,
                    account_id: &str,
                ) -> Result<Option<U>, StoreError> {
                    self.sql().get_by_oauth_account(oauth_name, account_id).await
                }

                async fn link_oauth_account(
                    &self,
                    account: OAuthAccount<Uuid>,
                ) -> Result<(), StoreError> {
                    self.sql().link_oauth_account(account).await
                }

                async fn create_with_oauth_account(
                    &self,
                    data: UserData<U::Fields>,
                    account: OAuthAccount<()>,
                ) -> Result<U, StoreError> {
                    self.sql().create_with_oauth_account(data, account).await
                }

                async fn forget_unverified_oauth_accounts(
                    &self,
                    user_id: &Uuid,
                ) -> Result<(), StoreError> {
                    self.sql().forget_unverified_oauth_accounts(user_id).await
                }

                async fn oauth_accounts(
                    &self,
                    user_id: &Uuid,
                ) -> Result<Vec<OAuthAccount<Uuid>>, StoreError> {
                    self.sql().oauth_accounts(user_id).await
                }
            }

            #[async_trait]
            impl<U: UserModel<Id = Uuid>> InvitationStore for $store<U> {
                async fn create_invitation(
                    &self,
                    invitation: Invitation,
                ) -> Result<(), StoreError> {
                    self.sql().create_invitation(invitation).await
                }

                async fn invitation(&self, id: &Uuid) -> Result<Option<Invitation>, StoreError> {
                    self.sql().invitation(id).await
                }

                async fn invitation_by_token(
                    &self,
                    digest: &str,
                ) -> Result<Option<Invitation>, StoreError> {
                    self.sql().invitation_by_token(digest).await
                }

                async fn invitations(
                    &self,
                    offset: u64,
                    limit: u64,
                ) -> Result<(u64, Vec<Invitation>), StoreError> {
                    self.sql().invitations(offset, limit).await
                }

                async fn pending_invitation(
                    &self,
                    email: &str,
                    now: ::chrono::DateTime<::chrono::Utc>,
                ) -> Result<Option<Invitation>, StoreError> {
                    self.sql().pending_invitation(email, now).await
                }

                async fn revoke_invitation(&self, id: &Uuid) -> Result<bool, StoreError> {
                    self.sql().revoke_invitation(id).await
                }

                async fn claim_invitation(
                    &self,
                    id: &Uuid,
                    at: ::chrono::DateTime<::chrono::Utc>,
                ) -> Result<bool, StoreError> {
                    self.sql().claim_invitation(id, at).await
                }

                async fn unclaim_invitation(&self, id: &Uuid) -> Result<(), StoreError> {
                    self.sql().unclaim_invitation(id).await
                }
            }
        };

        // `MfaStore` and `ChallengeStore` (`sql_mfa.rs`).
        $crate::store::sql::sql_mfa_store! {
            store: $store
        }
    };
}

pub(super) use sql_store;
