//! The SQL of second factors and ceremony state (`mfa_totp`,
//! `mfa_recovery_codes`, `passkeys`, `challenges`): [`MfaStore`] and
//! [`ChallengeStore`] for both SQL stores, generic over the database like the
//! rest of [`Sql`]. A child module of `sql.rs` (its helpers are private to
//! it), in a file of its own to keep each file legible.
//!
//! Every compare-and-set is one statement (`UPDATE … WHERE …`,
//! `DELETE … RETURNING`, `INSERT … ON CONFLICT`): of concurrent ones, the
//! first to write makes the condition false for the others (PostgreSQL locks
//! the row and checks its new version again; SQLite writes one statement at
//! a time). None of these reads goes through the reader beside the pool
//! (PostgreSQL's cache holds users and sessions only). Times are Unix
//! milliseconds, as the invitations'.
//!
//! [`MfaStore`]: crate::store::MfaStore
//! [`ChallengeStore`]: crate::store::ChallengeStore

use chrono::{DateTime, Utc};
use sqlx::{ColumnIndex, Executor, IntoArguments, QueryBuilder};
use uuid::Uuid;

use super::{Dialect, Sql, Stored, from_millis, storable, to_millis};
use crate::store::timed::Timed;
use crate::store::{Challenge, PasskeyUse, StoreError, StoredPasskey, TotpFactor};

/// The columns of a TOTP factor, read back in this order ([`TotpRow`]'s).
const TOTP_COLUMNS: &str = "secret, confirmed, last_used_step, created_at";

type TotpRow = (String, bool, Option<i64>, i64);

/// The columns of a passkey, read back and inserted in this order
/// ([`PasskeyRow`]'s).
const PASSKEY_COLUMNS: &str = "id, user_id, credential_id, user_handle, name, credential, \
                               sign_count, created_at, last_used_at";

type PasskeyRow<D> = (
    <D as Dialect>::Id,
    <D as Dialect>::Id,
    Vec<u8>,
    Vec<u8>,
    String,
    String,
    i64,
    i64,
    Option<i64>,
);

/// The columns of a challenge, read back in this order ([`ChallengeRow`]'s).
const CHALLENGE_COLUMNS: &str = "data, failures, expires_at";

type ChallengeRow = (Vec<u8>, i32, i64);

fn totp_from_row(row: TotpRow) -> Result<TotpFactor, StoreError> {
    let (secret, confirmed, last_used_step, created_at) = row;
    Ok(TotpFactor {
        secret,
        confirmed,
        last_used_step: last_used_step
            .map(|step| u64::try_from(step).map_err(|e| StoreError::Other(Box::new(e))))
            .transpose()?,
        created_at: from_millis(created_at),
    })
}

fn passkey_from_row<D: Dialect>(row: PasskeyRow<D>) -> Result<StoredPasskey<Uuid>, StoreError> {
    let (
        id,
        user_id,
        credential_id,
        user_handle,
        name,
        credential,
        sign_count,
        created_at,
        last_used_at,
    ) = row;
    Ok(StoredPasskey {
        id: D::uuid(id)?,
        user_id: D::uuid(user_id)?,
        credential_id,
        user_handle,
        name,
        credential,
        sign_count: u32::try_from(sign_count).map_err(|e| StoreError::Other(Box::new(e)))?,
        created_at: from_millis(created_at),
        last_used_at: last_used_at.map(from_millis),
    })
}

fn challenge_from_row(row: ChallengeRow) -> Challenge {
    let (data, failures, expires_at) = row;
    Challenge {
        data,
        // Never negative: counted up from 0.
        failures: u32::try_from(failures).unwrap_or(0),
        expires_at: from_millis(expires_at),
    }
}

/// A TOTP time step as a `BIGINT` (a step of this century is far below
/// `i64::MAX`; one beyond is refused rather than wrapped).
fn sql_step(step: u64) -> Result<i64, StoreError> {
    i64::try_from(step).map_err(|e| StoreError::Other(Box::new(e)))
}

/// Text that the database cannot hold (NUL in PostgreSQL) fails before
/// anything is written.
fn check_storable<D: Dialect>(texts: &[&str], what: &str) -> Result<(), StoreError> {
    if texts.iter().all(|text| storable::<D>(text)) {
        Ok(())
    } else {
        Err(StoreError::Other(
            format!("{what} with a NUL character").into(),
        ))
    }
}

/// A passkey whose id or credential id is stored already is a
/// [`StoreError::Conflict`] (not an address taken, as the SQLite dialect
/// reads every unique violation); a missing user is a foreign-key
/// violation.
fn mfa_err<D: Dialect>(e: sqlx::Error) -> StoreError {
    match e {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict,
        sqlx::Error::Database(db) if db.is_foreign_key_violation() => StoreError::NotFound,
        e => D::map_err(e),
    }
}

impl<D: Dialect> Sql<'_, D>
where
    // As `Sql`'s other statements, and bytes.
    for<'c> &'c mut D::Connection: Executor<'c, Database = D>,
    D::Arguments: IntoArguments<D>,
    usize: ColumnIndex<D::Row>,
    String: Stored<D>,
    bool: Stored<D>,
    i32: Stored<D>,
    i64: Stored<D>,
    Vec<u8>: Stored<D>,
    Option<String>: Stored<D>,
    Option<i64>: Stored<D>,
{
    // TOTP and recovery codes.

    pub(in crate::store) async fn totp(
        &self,
        user_id: &Uuid,
    ) -> Result<Option<TotpFactor>, StoreError> {
        let mut query = QueryBuilder::new("SELECT ");
        query
            .push(TOTP_COLUMNS)
            .push(" FROM mfa_totp WHERE user_id = ")
            .push_bind(D::id(user_id));
        query
            .build_query_as::<TotpRow>()
            .fetch_optional(self.pool)
            .timed(D::map_err)
            .await?
            .map(totp_from_row)
            .transpose()
    }

    /// One upsert: a pending factor is replaced, a confirmed one makes the
    /// conditional update skip the row, so nothing comes back.
    pub(in crate::store) async fn set_pending_totp(
        &self,
        user_id: &Uuid,
        secret: &str,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        check_storable::<D>(&[secret], "a TOTP secret")?;
        let mut upsert = QueryBuilder::new(
            "INSERT INTO mfa_totp (user_id, secret, confirmed, last_used_step, created_at) \
             VALUES (",
        );
        let mut values = upsert.separated(", ");
        values.push_bind(D::id(user_id));
        values.push_bind(secret.to_owned());
        values.push_bind(false);
        values.push_bind(None::<i64>);
        values.push_bind(to_millis(at));
        values.push_unseparated(")");
        upsert.push(
            " ON CONFLICT (user_id) DO UPDATE SET secret = excluded.secret, \
             last_used_step = NULL, created_at = excluded.created_at \
             WHERE NOT mfa_totp.confirmed RETURNING user_id",
        );
        let written = upsert
            .build_query_as::<(D::Id,)>()
            .fetch_optional(self.pool)
            .timed(mfa_err::<D>)
            .await?;
        Ok(written.is_some())
    }

    /// The conditional `UPDATE` (the compare-and-set) and the new codes, in
    /// one transaction: the row stays locked (PostgreSQL) or the database
    /// does (SQLite) until the commit.
    pub(in crate::store) async fn confirm_totp(
        &self,
        user_id: &Uuid,
        secret: &str,
        step: u64,
        recovery_codes: &[String],
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        if !storable::<D>(secret) {
            return Ok(false);
        }
        let codes: Vec<&str> = recovery_codes.iter().map(String::as_str).collect();
        check_storable::<D>(&codes, "a recovery code")?;
        let mut confirm = Self::binding("UPDATE mfa_totp SET confirmed = ", true);
        confirm
            .push(", last_used_step = ")
            .push_bind(sql_step(step)?)
            .push(", created_at = ")
            .push_bind(to_millis(at))
            .push(" WHERE user_id = ")
            .push_bind(D::id(user_id))
            .push(" AND NOT confirmed AND secret = ")
            .push_bind(secret.to_owned());
        let mut tx = self.pool.begin().timed(D::map_err).await?;
        let done = confirm
            .build()
            .execute(&mut *tx)
            .timed(mfa_err::<D>)
            .await?;
        if D::rows_affected(&done) != 1 {
            return Ok(false);
        }
        let mut forget = Self::binding(
            "DELETE FROM mfa_recovery_codes WHERE user_id = ",
            D::id(user_id),
        );
        forget.build().execute(&mut *tx).timed(D::map_err).await?;
        if let Some(mut insert) = Self::insert_recovery_codes(user_id, recovery_codes) {
            insert.build().execute(&mut *tx).timed(mfa_err::<D>).await?;
        }
        tx.commit().timed(D::map_err).await?;
        Ok(true)
    }

    /// The `INSERT` of these codes of the user (none: no statement). A code
    /// given twice is stored once.
    fn insert_recovery_codes(user_id: &Uuid, codes: &[String]) -> Option<QueryBuilder<D>> {
        if codes.is_empty() {
            return None;
        }
        let mut insert = QueryBuilder::new("INSERT INTO mfa_recovery_codes (user_id, digest) ");
        insert.push_values(codes, |mut row, code| {
            row.push_bind(D::id(user_id)).push_bind(code.clone());
        });
        insert.push(" ON CONFLICT (user_id, digest) DO NOTHING");
        Some(insert)
    }

    /// One conditional `UPDATE`: of concurrent uses of one step, the first
    /// to write makes the condition false for the others.
    pub(in crate::store) async fn use_totp_step(
        &self,
        user_id: &Uuid,
        step: u64,
    ) -> Result<bool, StoreError> {
        let step = sql_step(step)?;
        let mut update = Self::binding("UPDATE mfa_totp SET last_used_step = ", step);
        update
            .push(" WHERE user_id = ")
            .push_bind(D::id(user_id))
            .push(" AND confirmed AND (last_used_step IS NULL OR last_used_step < ")
            .push_bind(step)
            .push(")");
        let done = update.build().execute(self.pool).timed(D::map_err).await?;
        Ok(D::rows_affected(&done) == 1)
    }

    pub(in crate::store) async fn delete_totp(&self, user_id: &Uuid) -> Result<bool, StoreError> {
        let mut forget = Self::binding(
            "DELETE FROM mfa_recovery_codes WHERE user_id = ",
            D::id(user_id),
        );
        let mut delete = Self::binding("DELETE FROM mfa_totp WHERE user_id = ", D::id(user_id));
        delete.push(" RETURNING confirmed");
        let mut tx = self.pool.begin().timed(D::map_err).await?;
        forget.build().execute(&mut *tx).timed(D::map_err).await?;
        let deleted: Option<(bool,)> = delete
            .build_query_as()
            .fetch_optional(&mut *tx)
            .timed(D::map_err)
            .await?;
        tx.commit().timed(D::map_err).await?;
        Ok(deleted.is_some_and(|(confirmed,)| confirmed))
    }

    pub(in crate::store) async fn recovery_codes(
        &self,
        user_id: &Uuid,
    ) -> Result<Vec<String>, StoreError> {
        let mut query = Self::binding(
            "SELECT digest FROM mfa_recovery_codes WHERE user_id = ",
            D::id(user_id),
        );
        let rows: Vec<(String,)> = query
            .build_query_as()
            .fetch_all(self.pool)
            .timed(D::map_err)
            .await?;
        Ok(rows.into_iter().map(|(digest,)| digest).collect())
    }

    /// In one transaction; a missing user is [`StoreError::NotFound`] (the
    /// foreign key, or a read when there is no code to insert).
    pub(in crate::store) async fn replace_recovery_codes(
        &self,
        user_id: &Uuid,
        recovery_codes: &[String],
    ) -> Result<(), StoreError> {
        let codes: Vec<&str> = recovery_codes.iter().map(String::as_str).collect();
        check_storable::<D>(&codes, "a recovery code")?;
        let mut forget = Self::binding(
            "DELETE FROM mfa_recovery_codes WHERE user_id = ",
            D::id(user_id),
        );
        let mut tx = self.pool.begin().timed(D::map_err).await?;
        forget.build().execute(&mut *tx).timed(D::map_err).await?;
        match Self::insert_recovery_codes(user_id, recovery_codes) {
            Some(mut insert) => {
                insert.build().execute(&mut *tx).timed(mfa_err::<D>).await?;
            }
            None => {
                let mut exists = Self::binding("SELECT id FROM users WHERE id = ", D::id(user_id));
                let user: Option<(D::Id,)> = exists
                    .build_query_as()
                    .fetch_optional(&mut *tx)
                    .timed(D::map_err)
                    .await?;
                if user.is_none() {
                    return Err(StoreError::NotFound);
                }
            }
        }
        tx.commit().timed(D::map_err).await?;
        Ok(())
    }

    /// One `DELETE`: of concurrent uses of one code, one deletes it.
    pub(in crate::store) async fn use_recovery_code(
        &self,
        user_id: &Uuid,
        digest: &str,
    ) -> Result<bool, StoreError> {
        if !storable::<D>(digest) {
            return Ok(false);
        }
        let mut delete = Self::binding(
            "DELETE FROM mfa_recovery_codes WHERE user_id = ",
            D::id(user_id),
        );
        delete.push(" AND digest = ").push_bind(digest.to_owned());
        let done = delete.build().execute(self.pool).timed(D::map_err).await?;
        Ok(D::rows_affected(&done) == 1)
    }

    // Passkeys.

    /// The passkeys a `SELECT` of the passkey columns finds.
    async fn fetch_passkeys(
        &self,
        mut query: QueryBuilder<D>,
    ) -> Result<Vec<StoredPasskey<Uuid>>, StoreError> {
        query
            .build_query_as::<PasskeyRow<D>>()
            .fetch_all(self.pool)
            .timed(D::map_err)
            .await?
            .into_iter()
            .map(passkey_from_row::<D>)
            .collect()
    }

    /// A credential id or passkey id stored already fails on its unique
    /// index ([`StoreError::Conflict`]), a missing user on the foreign key
    /// ([`StoreError::NotFound`]): nothing is written.
    pub(in crate::store) async fn create_passkey(
        &self,
        passkey: StoredPasskey<Uuid>,
    ) -> Result<(), StoreError> {
        check_storable::<D>(&[&passkey.name, &passkey.credential], "a passkey")?;
        let mut query = QueryBuilder::new("INSERT INTO passkeys (");
        query.push(PASSKEY_COLUMNS).push(") VALUES (");
        // In PASSKEY_COLUMNS' order.
        let mut values = query.separated(", ");
        values.push_bind(D::id(&passkey.id));
        values.push_bind(D::id(&passkey.user_id));
        values.push_bind(passkey.credential_id);
        values.push_bind(passkey.user_handle);
        values.push_bind(passkey.name);
        values.push_bind(passkey.credential);
        values.push_bind(i64::from(passkey.sign_count));
        values.push_bind(to_millis(passkey.created_at));
        values.push_bind(passkey.last_used_at.map(to_millis));
        values.push_unseparated(")");
        query.build().execute(self.pool).timed(mfa_err::<D>).await?;
        Ok(())
    }

    /// Oldest first: by `created_at`, then by id.
    pub(in crate::store) async fn passkeys(
        &self,
        user_id: &Uuid,
    ) -> Result<Vec<StoredPasskey<Uuid>>, StoreError> {
        let mut query = QueryBuilder::new("SELECT ");
        query
            .push(PASSKEY_COLUMNS)
            .push(" FROM passkeys WHERE user_id = ")
            .push_bind(D::id(user_id))
            .push(" ORDER BY created_at, id");
        self.fetch_passkeys(query).await
    }

    pub(in crate::store) async fn passkey_by_credential(
        &self,
        credential_id: &[u8],
    ) -> Result<Option<StoredPasskey<Uuid>>, StoreError> {
        let mut query = QueryBuilder::new("SELECT ");
        query
            .push(PASSKEY_COLUMNS)
            .push(" FROM passkeys WHERE credential_id = ")
            .push_bind(credential_id.to_vec());
        Ok(self.fetch_passkeys(query).await?.pop())
    }

    /// One conditional `UPDATE`, a compare-and-set on the counter.
    pub(in crate::store) async fn passkey_used(
        &self,
        used: PasskeyUse<'_>,
    ) -> Result<bool, StoreError> {
        check_storable::<D>(&[used.credential], "a passkey")?;
        let mut update = Self::binding(
            "UPDATE passkeys SET sign_count = ",
            i64::from(used.sign_count),
        );
        update
            .push(", credential = ")
            .push_bind(used.credential.to_owned())
            .push(", last_used_at = ")
            .push_bind(to_millis(used.at))
            .push(" WHERE id = ")
            .push_bind(D::id(used.id))
            .push(" AND sign_count = ")
            .push_bind(i64::from(used.if_sign_count));
        let done = update.build().execute(self.pool).timed(D::map_err).await?;
        Ok(D::rows_affected(&done) == 1)
    }

    pub(in crate::store) async fn delete_passkey(
        &self,
        user_id: &Uuid,
        id: &Uuid,
    ) -> Result<bool, StoreError> {
        let mut delete = Self::binding("DELETE FROM passkeys WHERE id = ", D::id(id));
        delete.push(" AND user_id = ").push_bind(D::id(user_id));
        let done = delete.build().execute(self.pool).timed(D::map_err).await?;
        Ok(D::rows_affected(&done) == 1)
    }

    pub(in crate::store) async fn reset_mfa(&self, user_id: &Uuid) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().timed(D::map_err).await?;
        for table in ["mfa_recovery_codes", "mfa_totp", "passkeys"] {
            let mut delete = QueryBuilder::new("DELETE FROM ");
            delete
                .push(table)
                .push(" WHERE user_id = ")
                .push_bind(D::id(user_id));
            delete.build().execute(&mut *tx).timed(D::map_err).await?;
        }
        tx.commit().timed(D::map_err).await?;
        Ok(())
    }

    // Challenges.

    /// One upsert: a challenge stored again under its key starts afresh.
    pub(in crate::store) async fn put_challenge(
        &self,
        key: &str,
        data: &[u8],
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        check_storable::<D>(&[key], "a challenge key")?;
        let mut upsert =
            QueryBuilder::new("INSERT INTO challenges (key, data, failures, expires_at) VALUES (");
        let mut values = upsert.separated(", ");
        values.push_bind(key.to_owned());
        values.push_bind(data.to_vec());
        values.push_bind(0_i32);
        values.push_bind(to_millis(expires_at));
        values.push_unseparated(")");
        upsert.push(
            " ON CONFLICT (key) DO UPDATE SET data = excluded.data, \
             failures = excluded.failures, expires_at = excluded.expires_at",
        );
        upsert.build().execute(self.pool).timed(D::map_err).await?;
        Ok(())
    }

    pub(in crate::store) async fn challenge(
        &self,
        key: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Challenge>, StoreError> {
        if !storable::<D>(key) {
            return Ok(None);
        }
        let mut query = QueryBuilder::new("SELECT ");
        query
            .push(CHALLENGE_COLUMNS)
            .push(" FROM challenges WHERE key = ")
            .push_bind(key.to_owned())
            .push(" AND expires_at > ")
            .push_bind(to_millis(now));
        let row: Option<ChallengeRow> = query
            .build_query_as()
            .fetch_optional(self.pool)
            .timed(D::map_err)
            .await?;
        Ok(row.map(challenge_from_row))
    }

    /// One `DELETE … RETURNING`: of concurrent takes, one gets the row. A
    /// dead challenge goes too, unanswered.
    pub(in crate::store) async fn take_challenge(
        &self,
        key: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Challenge>, StoreError> {
        if !storable::<D>(key) {
            return Ok(None);
        }
        let mut delete = Self::binding("DELETE FROM challenges WHERE key = ", key.to_owned());
        delete.push(" RETURNING ").push(CHALLENGE_COLUMNS);
        let row: Option<ChallengeRow> = delete
            .build_query_as()
            .fetch_optional(self.pool)
            .timed(D::map_err)
            .await?;
        Ok(row
            .map(challenge_from_row)
            .filter(|challenge| challenge.expires_at > now))
    }

    /// The count goes up in one statement; the challenge goes in another
    /// once the count reached `max_failures` (whichever failure reached it:
    /// counts only grow, so the second statement is right whenever it runs).
    pub(in crate::store) async fn fail_challenge(
        &self,
        key: &str,
        max_failures: u32,
    ) -> Result<(), StoreError> {
        if !storable::<D>(key) {
            return Ok(());
        }
        let mut count = QueryBuilder::new("UPDATE challenges SET failures = failures + 1");
        count
            .push(" WHERE key = ")
            .push_bind(key.to_owned())
            .push(" RETURNING failures");
        let counted: Option<(i32,)> = count
            .build_query_as()
            .fetch_optional(self.pool)
            .timed(D::map_err)
            .await?;
        let Some((failures,)) = counted else {
            return Ok(());
        };
        if i64::from(failures) >= i64::from(max_failures) {
            let mut delete = Self::binding("DELETE FROM challenges WHERE key = ", key.to_owned());
            delete
                .push(" AND failures >= ")
                .push_bind(i64::from(max_failures));
            delete.build().execute(self.pool).timed(D::map_err).await?;
        }
        Ok(())
    }

    pub(in crate::store) async fn delete_expired_challenges(
        &self,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let mut delete = Self::binding(
            "DELETE FROM challenges WHERE expires_at <= ",
            to_millis(now),
        );
        let done = delete.build().execute(self.pool).timed(D::map_err).await?;
        Ok(D::rows_affected(&done))
    }
}

/// Writes [`MfaStore`](crate::store::MfaStore) and
/// [`ChallengeStore`](crate::store::ChallengeStore) for a SQL store, every
/// call [`Sql`]'s: expanded by `sql_store!` (see there) inside its block,
/// where `$store<U>` has a `sql()`.
macro_rules! sql_mfa_store {
    (store: $store:ident) => {
        const _: () = {
            use ::async_trait::async_trait;
            use ::chrono::{DateTime, Utc};
            use ::uuid::Uuid;

            use $crate::store::{
                Challenge, ChallengeStore, MfaStore, PasskeyUse, StoreError, StoredPasskey,
                TotpFactor,
            };
            use $crate::user::UserModel;

            #[async_trait]
            impl<U: UserModel<Id = Uuid>> MfaStore<Uuid> for $store<U> {
                async fn totp(&self, user_id: &Uuid) -> Result<Option<TotpFactor>, StoreError> {
                    self.sql().totp(user_id).await
                }

                async fn set_pending_totp(
                    &self,
                    user_id: &Uuid,
                    secret: &str,
                    at: DateTime<Utc>,
                ) -> Result<bool, StoreError> {
                    self.sql().set_pending_totp(user_id, secret, at).await
                }

                async fn confirm_totp(
                    &self,
                    user_id: &Uuid,
                    secret: &str,
                    step: u64,
                    recovery_codes: &[String],
                    at: DateTime<Utc>,
                ) -> Result<bool, StoreError> {
                    self.sql()
                        .confirm_totp(user_id, secret, step, recovery_codes, at)
                        .await
                }

                async fn use_totp_step(
                    &self,
                    user_id: &Uuid,
                    step: u64,
                ) -> Result<bool, StoreError> {
                    self.sql().use_totp_step(user_id, step).await
                }

                async fn delete_totp(&self, user_id: &Uuid) -> Result<bool, StoreError> {
                    self.sql().delete_totp(user_id).await
                }

                async fn recovery_codes(&self, user_id: &Uuid) -> Result<Vec<String>, StoreError> {
                    self.sql().recovery_codes(user_id).await
                }

                async fn replace_recovery_codes(
                    &self,
                    user_id: &Uuid,
                    recovery_codes: &[String],
                ) -> Result<(), StoreError> {
                    self.sql()
                        .replace_recovery_codes(user_id, recovery_codes)
                        .await
                }

                async fn use_recovery_code(
                    &self,
                    user_id: &Uuid,
                    digest: &str,
                ) -> Result<bool, StoreError> {
                    self.sql().use_recovery_code(user_id, digest).await
                }

                async fn create_passkey(
                    &self,
                    passkey: StoredPasskey<Uuid>,
                ) -> Result<(), StoreError> {
                    self.sql().create_passkey(passkey).await
                }

                async fn passkeys(
                    &self,
                    user_id: &Uuid,
                ) -> Result<Vec<StoredPasskey<Uuid>>, StoreError> {
                    self.sql().passkeys(user_id).await
                }

                async fn passkey_by_credential(
                    &self,
                    credential_id: &[u8],
                ) -> Result<Option<StoredPasskey<Uuid>>, StoreError> {
                    self.sql().passkey_by_credential(credential_id).await
                }

                async fn passkey_used(&self, used: PasskeyUse<'_>) -> Result<bool, StoreError> {
                    self.sql().passkey_used(used).await
                }

                async fn delete_passkey(
                    &self,
                    user_id: &Uuid,
                    id: &Uuid,
                ) -> Result<bool, StoreError> {
                    self.sql().delete_passkey(user_id, id).await
                }

                async fn reset_mfa(&self, user_id: &Uuid) -> Result<(), StoreError> {
                    self.sql().reset_mfa(user_id).await
                }
            }

            #[async_trait]
            impl<U: UserModel<Id = Uuid>> ChallengeStore for $store<U> {
                async fn put_challenge(
                    &self,
                    key: &str,
                    data: &[u8],
                    expires_at: DateTime<Utc>,
                ) -> Result<(), StoreError> {
                    self.sql().put_challenge(key, data, expires_at).await
                }

                async fn challenge(
                    &self,
                    key: &str,
                    now: DateTime<Utc>,
                ) -> Result<Option<Challenge>, StoreError> {
                    self.sql().challenge(key, now).await
                }

                async fn take_challenge(
                    &self,
                    key: &str,
                    now: DateTime<Utc>,
                ) -> Result<Option<Challenge>, StoreError> {
                    self.sql().take_challenge(key, now).await
                }

                async fn fail_challenge(
                    &self,
                    key: &str,
                    max_failures: u32,
                ) -> Result<(), StoreError> {
                    self.sql().fail_challenge(key, max_failures).await
                }

                async fn delete_expired_challenges(
                    &self,
                    now: DateTime<Utc>,
                ) -> Result<u64, StoreError> {
                    self.sql().delete_expired_challenges(now).await
                }
            }
        };
    };
}

pub(in crate::store) use sql_mfa_store;
