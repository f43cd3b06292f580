use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use async_trait::async_trait;

use chrono::{DateTime, Utc};

use uuid::Uuid;

use super::{
    Challenge, ChallengeStore, Invitation, InvitationStore, MAX_HASH_SAMPLES, MfaStore,
    OAuthAccount, OAuthAccountStore, PasskeyUse, Rotation, Session, SessionStore, StoreError,
    StoredPasskey, TotpFactor, UserChanges, UserStore,
};
use crate::password::parameters_prefix;
use crate::user::{PasswordHash, UserData, UserId, UserModel};

/// An in-memory [`UserStore`]: fast, shared by its clones, and gone when the
/// process ends. For tests, examples and prototypes.
///
/// ```
/// use axum_users::{User, store::MemoryStore};
/// let store: MemoryStore<User> = MemoryStore::new();
/// ```
pub struct MemoryStore<U: UserModel> {
    inner: Arc<Inner<U>>,
}

struct Inner<U: UserModel> {
    tables: RwLock<Tables<U>>,
    seq: AtomicU64,
}

struct Tables<U: UserModel> {
    users: HashMap<U::Id, U>,
    /// ASCII-lowercased address → id: the unique index.
    by_email: HashMap<String, U::Id>,
    /// ASCII-lowercased username → id: the unique index of usernames.
    by_username: HashMap<String, U::Id>,
    /// Sessions of every kind.
    sessions: SessionTable<U::Id>,
    /// OAuth accounts by (`oauth_name`, `account_id`): the unique key.
    oauth_accounts: HashMap<(String, String), OAuthAccount<U::Id>>,
    /// Invitations, in the order they were made.
    invitations: Vec<Invitation>,
    /// Second factors.
    mfa: MfaTables<U::Id>,
    /// Ceremony state by key.
    challenges: HashMap<String, Challenge>,
}

/// The second factors of a [`MemoryStore`].
struct MfaTables<Id> {
    totp: HashMap<Id, TotpFactor>,
    recovery_codes: HashMap<Id, Vec<String>>,
    /// In the order they were registered.
    passkeys: Vec<StoredPasskey<Id>>,
}

impl<Id> Default for MfaTables<Id> {
    fn default() -> Self {
        Self {
            totp: HashMap::new(),
            recovery_codes: HashMap::new(),
            passkeys: Vec::new(),
        }
    }
}

impl<Id: std::hash::Hash + Eq> MfaTables<Id> {
    fn delete_user(&mut self, user_id: &Id) {
        self.totp.remove(user_id);
        self.recovery_codes.remove(user_id);
        self.passkeys.retain(|passkey| passkey.user_id != *user_id);
    }
}

impl<U: UserModel> Clone for MemoryStore<U> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<U: UserModel> Default for MemoryStore<U> {
    fn default() -> Self {
        Self::new()
    }
}

impl<U: UserModel> std::fmt::Debug for MemoryStore<U> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryStore")
            .field("users", &self.read().users.len())
            .finish()
    }
}

impl<U: UserModel> MemoryStore<U> {
    /// An empty store.
    pub fn new() -> Self {
        Self {
            inner: Arc::new(Inner {
                tables: RwLock::new(Tables {
                    users: HashMap::new(),
                    by_email: HashMap::new(),
                    by_username: HashMap::new(),
                    sessions: SessionTable::default(),
                    oauth_accounts: HashMap::new(),
                    invitations: Vec::new(),
                    mfa: MfaTables::default(),
                    challenges: HashMap::new(),
                }),
                seq: AtomicU64::new(0),
            }),
        }
    }

    // A panic while holding the lock cannot leave the tables half-written (every
    // write below checks first and mutates after), so a poisoned lock is safe to use.
    fn read(&self) -> RwLockReadGuard<'_, Tables<U>> {
        self.inner.tables.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Tables<U>> {
        self.inner.tables.write().unwrap_or_else(|e| e.into_inner())
    }
}

impl<U: UserModel> MemoryStore<U> {
    /// Inserts a new user under the caller's write lock.
    fn insert_user(
        tables: &mut Tables<U>,
        seq: &AtomicU64,
        data: UserData<U::Fields>,
    ) -> Result<U, StoreError> {
        let key = email_key(&data.email);
        if tables.by_email.contains_key(&key) {
            return Err(StoreError::EmailTaken);
        }
        let username_key = data.username.as_deref().map(name_key);
        if let Some(name) = &username_key
            && tables.by_username.contains_key(name)
        {
            return Err(StoreError::UsernameTaken);
        }
        // Random ids collide with negligible probability; sequential ones only
        // when the id type is exhausted, which must not spin forever.
        let id = (0..16)
            .map(|_| U::Id::generate(seq.fetch_add(1, Ordering::Relaxed) + 1))
            .find(|id| !tables.users.contains_key(id))
            .ok_or_else(|| StoreError::Other("no free user id left".into()))?;
        let user = U::from_parts(id.clone(), data);
        tables.by_email.insert(key, id.clone());
        if let Some(name) = username_key {
            tables.by_username.insert(name, id.clone());
        }
        tables.users.insert(id, user.clone());
        Ok(user)
    }
}

fn email_key(email: &str) -> String {
    email.to_ascii_lowercase()
}

fn name_key(username: &str) -> String {
    username.to_ascii_lowercase()
}

#[async_trait]
impl<U: UserModel> UserStore for MemoryStore<U> {
    type User = U;

    async fn get(&self, id: &U::Id) -> Result<Option<U>, StoreError> {
        Ok(self.read().users.get(id).cloned())
    }

    async fn get_by_email(&self, email: &str) -> Result<Option<U>, StoreError> {
        let tables = self.read();
        Ok(tables
            .by_email
            .get(&email_key(email))
            .and_then(|id| tables.users.get(id))
            .cloned())
    }

    fn supports_usernames(&self) -> bool {
        true
    }

    async fn get_by_username(&self, username: &str) -> Result<Option<U>, StoreError> {
        let tables = self.read();
        Ok(tables
            .by_username
            .get(&name_key(username))
            .and_then(|id| tables.users.get(id))
            .cloned())
    }

    async fn create(&self, data: UserData<U::Fields>) -> Result<U, StoreError> {
        Self::insert_user(&mut self.write(), &self.inner.seq, data)
    }

    async fn update(&self, id: &U::Id, changes: UserChanges<U::Fields>) -> Result<U, StoreError> {
        let mut tables = self.write();
        let Some(old) = tables.users.get(id) else {
            return Err(StoreError::NotFound);
        };
        if !changes.conditions_hold(old.data()) {
            return Err(StoreError::Conflict);
        }
        let old_key = email_key(old.email());
        let old_name = old.data().username.as_deref().map(name_key);
        // Every check before any write.
        let new_email = changes
            .email
            .as_deref()
            .map(email_key)
            .filter(|key| *key != old_key);
        if new_email
            .as_ref()
            .is_some_and(|key| tables.by_email.contains_key(key))
        {
            return Err(StoreError::EmailTaken);
        }
        let new_name = changes
            .username
            .as_deref()
            .map(name_key)
            .filter(|key| old_name.as_ref() != Some(key));
        if new_name
            .as_ref()
            .is_some_and(|key| tables.by_username.contains_key(key))
        {
            return Err(StoreError::UsernameTaken);
        }
        if let Some(new_key) = new_email {
            tables.by_email.remove(&old_key);
            tables.by_email.insert(new_key, id.clone());
        }
        if let Some(new_name) = new_name {
            if let Some(old_name) = &old_name {
                tables.by_username.remove(old_name);
            }
            tables.by_username.insert(new_name, id.clone());
        }
        let Some(user) = tables.users.get_mut(id) else {
            return Err(StoreError::NotFound);
        };
        changes.apply_to(user.data_mut());
        Ok(user.clone())
    }

    async fn delete(&self, id: &U::Id) -> Result<(), StoreError> {
        let mut tables = self.write();
        let Some(user) = tables.users.remove(id) else {
            return Err(StoreError::NotFound);
        };
        tables.by_email.remove(&email_key(user.email()));
        if let Some(name) = &user.data().username {
            tables.by_username.remove(&name_key(name));
        }
        // A deleted user's sessions go with it, as with a foreign key.
        tables.sessions.delete_user(id);
        tables
            .oauth_accounts
            .retain(|_, account| account.user_id != *id);
        tables.mfa.delete_user(id);
        Ok(())
    }

    async fn password_hash_samples(&self) -> Result<Vec<PasswordHash>, StoreError> {
        let mut samples: Vec<PasswordHash> = Vec::new();
        for user in self.read().users.values() {
            let hash = &user.data().hashed_password;
            let prefix = parameters_prefix(hash.as_str());
            if !samples
                .iter()
                .any(|seen| parameters_prefix(seen.as_str()) == prefix)
            {
                samples.push(hash.clone());
                if samples.len() == MAX_HASH_SAMPLES {
                    break;
                }
            }
        }
        Ok(samples)
    }

    async fn address_proven(&self, id: &U::Id) -> Result<(), StoreError> {
        self.forget_unverified_oauth_accounts(id).await
    }
}

/// The sessions of a [`MemoryStore`]: by id, with the digest of each
/// current token and of each retired refresh token naming its session.
struct SessionTable<Id> {
    by_id: HashMap<String, Session<Id>>,
    by_token: HashMap<String, String>,
    retired: HashMap<String, String>,
}

impl<Id> Default for SessionTable<Id> {
    fn default() -> Self {
        Self {
            by_id: HashMap::new(),
            by_token: HashMap::new(),
            retired: HashMap::new(),
        }
    }
}

impl<Id: PartialEq> SessionTable<Id> {
    fn delete(&mut self, id: &str) -> bool {
        let Some(session) = self.by_id.remove(id) else {
            return false;
        };
        self.by_token.remove(&session.token_digest);
        self.retired.retain(|_, owner| owner != id);
        true
    }

    fn delete_user(&mut self, user_id: &Id) {
        let ids: Vec<String> = self
            .by_id
            .values()
            .filter(|session| session.user_id == *user_id)
            .map(|session| session.id.clone())
            .collect();
        for id in ids {
            self.delete(&id);
        }
    }
}

#[async_trait]
impl<U: UserModel> SessionStore<U::Id> for MemoryStore<U> {
    async fn create_session(&self, session: Session<U::Id>) -> Result<(), StoreError> {
        let mut tables = self.write();
        let sessions = &mut tables.sessions;
        if sessions.by_id.contains_key(&session.id)
            || sessions.by_token.contains_key(&session.token_digest)
        {
            return Err(StoreError::Other(
                "session id or token already stored".into(),
            ));
        }
        sessions
            .by_token
            .insert(session.token_digest.clone(), session.id.clone());
        sessions.by_id.insert(session.id.clone(), session);
        Ok(())
    }

    async fn session_by_token(&self, digest: &str) -> Result<Option<Session<U::Id>>, StoreError> {
        let tables = self.read();
        let sessions = &tables.sessions;
        Ok(sessions
            .by_token
            .get(digest)
            .and_then(|id| sessions.by_id.get(id))
            .cloned())
    }

    async fn session(&self, id: &str) -> Result<Option<Session<U::Id>>, StoreError> {
        Ok(self.read().sessions.by_id.get(id).cloned())
    }

    async fn user_sessions(&self, user_id: &U::Id) -> Result<Vec<Session<U::Id>>, StoreError> {
        Ok(self
            .read()
            .sessions
            .by_id
            .values()
            .filter(|session| session.user_id == *user_id)
            .cloned()
            .collect())
    }

    async fn rebind_session(&self, id: &str, binding: &str) -> Result<bool, StoreError> {
        Ok(match self.write().sessions.by_id.get_mut(id) {
            Some(session) => {
                binding.clone_into(&mut session.binding);
                true
            }
            None => false,
        })
    }

    async fn touch_session(&self, id: &str, at: DateTime<Utc>) -> Result<(), StoreError> {
        if let Some(session) = self.write().sessions.by_id.get_mut(id) {
            session.last_used_at = at;
        }
        Ok(())
    }

    async fn rotate_session_token(&self, rotation: Rotation<'_>) -> Result<bool, StoreError> {
        let mut tables = self.write();
        let sessions = &mut tables.sessions;
        let Some(session) = sessions.by_id.get_mut(rotation.session_id) else {
            return Ok(false);
        };
        if session.token_digest != rotation.old_digest {
            return Ok(false);
        }
        session.token_digest = rotation.new_digest.to_owned();
        session.last_used_at = rotation.at;
        session.expires_at = rotation.expires_at;
        sessions.by_token.remove(rotation.old_digest);
        sessions.by_token.insert(
            rotation.new_digest.to_owned(),
            rotation.session_id.to_owned(),
        );
        sessions.retired.insert(
            rotation.old_digest.to_owned(),
            rotation.session_id.to_owned(),
        );
        Ok(true)
    }

    async fn retired_token_session(&self, digest: &str) -> Result<Option<String>, StoreError> {
        Ok(self.read().sessions.retired.get(digest).cloned())
    }

    async fn delete_session(&self, id: &str) -> Result<bool, StoreError> {
        Ok(self.write().sessions.delete(id))
    }

    async fn delete_user_sessions(&self, user_id: &U::Id) -> Result<(), StoreError> {
        self.write().sessions.delete_user(user_id);
        Ok(())
    }

    async fn delete_expired_sessions(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        let mut tables = self.write();
        let sessions = &mut tables.sessions;
        let expired: Vec<String> = sessions
            .by_id
            .values()
            .filter(|session| session.is_expired(now))
            .map(|session| session.id.clone())
            .collect();
        for id in &expired {
            sessions.delete(id);
        }
        Ok(expired.len() as u64)
    }
}

#[async_trait]
impl<U: UserModel> OAuthAccountStore for MemoryStore<U> {
    async fn get_by_oauth_account(
        &self,
        oauth_name: &str,
        account_id: &str,
    ) -> Result<Option<U>, StoreError> {
        let tables = self.read();
        let key = (oauth_name.to_owned(), account_id.to_owned());
        Ok(tables
            .oauth_accounts
            .get(&key)
            .and_then(|account| tables.users.get(&account.user_id))
            .cloned())
    }

    async fn link_oauth_account(&self, account: OAuthAccount<U::Id>) -> Result<(), StoreError> {
        let mut tables = self.write();
        if !tables.users.contains_key(&account.user_id) {
            return Err(StoreError::NotFound);
        }
        let key = (account.oauth_name.clone(), account.account_id.clone());
        let mut account = account;
        if let Some(existing) = tables.oauth_accounts.get(&key) {
            if existing.user_id != account.user_id {
                return Err(StoreError::AccountTaken);
            }
            // A refresh: the flags of the link never go up.
            account.email_verified &= existing.email_verified;
            account.user_verified = existing.user_verified;
        }
        tables.oauth_accounts.insert(key, account);
        Ok(())
    }

    async fn create_with_oauth_account(
        &self,
        data: UserData<U::Fields>,
        account: OAuthAccount<()>,
    ) -> Result<U, StoreError> {
        let key = (account.oauth_name.clone(), account.account_id.clone());
        let mut tables = self.write();
        if tables.oauth_accounts.contains_key(&key) {
            return Err(StoreError::AccountTaken);
        }
        let user = Self::insert_user(&mut tables, &self.inner.seq, data)?;
        tables
            .oauth_accounts
            .insert(key, account.with_user(user.id().clone()));
        Ok(user)
    }

    async fn forget_unverified_oauth_accounts(&self, id: &U::Id) -> Result<(), StoreError> {
        self.write()
            .oauth_accounts
            .retain(|_, account| account.user_id != *id || account.user_verified);
        Ok(())
    }

    async fn oauth_accounts(
        &self,
        user_id: &U::Id,
    ) -> Result<Vec<OAuthAccount<U::Id>>, StoreError> {
        Ok(self
            .read()
            .oauth_accounts
            .values()
            .filter(|account| account.user_id == *user_id)
            .cloned()
            .collect())
    }
}

#[async_trait]
impl<U: UserModel> InvitationStore for MemoryStore<U> {
    async fn create_invitation(&self, invitation: Invitation) -> Result<(), StoreError> {
        let mut tables = self.write();
        if tables
            .invitations
            .iter()
            .any(|i| i.id == invitation.id || i.token_digest == invitation.token_digest)
        {
            return Err(StoreError::Other(
                "invitation id or token already stored".into(),
            ));
        }
        let key = email_key(&invitation.email);
        if tables
            .invitations
            .iter()
            .any(|i| email_key(&i.email) == key && i.is_pending(invitation.created_at))
        {
            return Err(StoreError::Conflict);
        }
        tables.invitations.push(invitation);
        Ok(())
    }

    async fn invitation(&self, id: &Uuid) -> Result<Option<Invitation>, StoreError> {
        Ok(self
            .read()
            .invitations
            .iter()
            .find(|i| i.id == *id)
            .cloned())
    }

    async fn invitation_by_token(&self, digest: &str) -> Result<Option<Invitation>, StoreError> {
        Ok(self
            .read()
            .invitations
            .iter()
            .find(|i| i.token_digest == digest)
            .cloned())
    }

    async fn invitations(
        &self,
        offset: u64,
        limit: u64,
    ) -> Result<(u64, Vec<Invitation>), StoreError> {
        let tables = self.read();
        let mut all: Vec<&Invitation> = tables.invitations.iter().collect();
        all.sort_by_key(|i| std::cmp::Reverse((i.created_at, i.id)));
        let count = u64::try_from(all.len()).unwrap_or(u64::MAX);
        let page = all
            .into_iter()
            .skip(usize::try_from(offset).unwrap_or(usize::MAX))
            .take(usize::try_from(limit).unwrap_or(usize::MAX))
            .cloned()
            .collect();
        Ok((count, page))
    }

    async fn pending_invitation(
        &self,
        email: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Invitation>, StoreError> {
        let key = email_key(email);
        Ok(self
            .read()
            .invitations
            .iter()
            .find(|i| email_key(&i.email) == key && i.is_pending(now))
            .cloned())
    }

    async fn revoke_invitation(&self, id: &Uuid) -> Result<bool, StoreError> {
        let mut tables = self.write();
        match tables.invitations.iter_mut().find(|i| i.id == *id) {
            Some(invitation) => {
                invitation.revoked = true;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    async fn claim_invitation(&self, id: &Uuid, at: DateTime<Utc>) -> Result<bool, StoreError> {
        let mut tables = self.write();
        match tables.invitations.iter_mut().find(|i| i.id == *id) {
            Some(invitation) if invitation.is_pending(at) => {
                invitation.accepted_at = Some(at);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn unclaim_invitation(&self, id: &Uuid) -> Result<(), StoreError> {
        let mut tables = self.write();
        let now = chrono::Utc::now();
        let Some(claimed) = tables.invitations.iter().find(|i| i.id == *id) else {
            return Ok(());
        };
        let key = email_key(&claimed.email);
        // A newer pending invitation of the address wins.
        if tables
            .invitations
            .iter()
            .any(|i| i.id != *id && email_key(&i.email) == key && i.is_pending(now))
        {
            return Ok(());
        }
        if let Some(invitation) = tables.invitations.iter_mut().find(|i| i.id == *id) {
            invitation.accepted_at = None;
        }
        Ok(())
    }
}

#[async_trait]
impl<U: UserModel> MfaStore<U::Id> for MemoryStore<U> {
    async fn totp(&self, user_id: &U::Id) -> Result<Option<TotpFactor>, StoreError> {
        Ok(self.read().mfa.totp.get(user_id).cloned())
    }

    async fn set_pending_totp(
        &self,
        user_id: &U::Id,
        secret: &str,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let mut tables = self.write();
        if !tables.users.contains_key(user_id) {
            return Err(StoreError::NotFound);
        }
        if tables
            .mfa
            .totp
            .get(user_id)
            .is_some_and(|factor| factor.confirmed)
        {
            return Ok(false);
        }
        tables.mfa.totp.insert(
            user_id.clone(),
            TotpFactor {
                secret: secret.to_owned(),
                confirmed: false,
                last_used_step: None,
                created_at: at,
            },
        );
        Ok(true)
    }

    async fn confirm_totp(
        &self,
        user_id: &U::Id,
        secret: &str,
        step: u64,
        recovery_codes: &[String],
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let mut tables = self.write();
        let Some(factor) = tables.mfa.totp.get_mut(user_id) else {
            return Ok(false);
        };
        if factor.confirmed || factor.secret != secret {
            return Ok(false);
        }
        factor.confirmed = true;
        factor.last_used_step = Some(step);
        factor.created_at = at;
        let mut codes = recovery_codes.to_vec();
        codes.sort();
        codes.dedup();
        tables.mfa.recovery_codes.insert(user_id.clone(), codes);
        Ok(true)
    }

    async fn use_totp_step(&self, user_id: &U::Id, step: u64) -> Result<bool, StoreError> {
        let mut tables = self.write();
        match tables.mfa.totp.get_mut(user_id) {
            Some(factor)
                if factor.confirmed && factor.last_used_step.is_none_or(|last| last < step) =>
            {
                factor.last_used_step = Some(step);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn delete_totp(&self, user_id: &U::Id) -> Result<bool, StoreError> {
        let mut tables = self.write();
        tables.mfa.recovery_codes.remove(user_id);
        Ok(tables
            .mfa
            .totp
            .remove(user_id)
            .is_some_and(|factor| factor.confirmed))
    }

    async fn recovery_codes(&self, user_id: &U::Id) -> Result<Vec<String>, StoreError> {
        Ok(self
            .read()
            .mfa
            .recovery_codes
            .get(user_id)
            .cloned()
            .unwrap_or_default())
    }

    async fn replace_recovery_codes(
        &self,
        user_id: &U::Id,
        recovery_codes: &[String],
    ) -> Result<(), StoreError> {
        let mut tables = self.write();
        if !tables.users.contains_key(user_id) {
            return Err(StoreError::NotFound);
        }
        let mut codes = recovery_codes.to_vec();
        codes.sort();
        codes.dedup();
        tables.mfa.recovery_codes.insert(user_id.clone(), codes);
        Ok(())
    }

    async fn use_recovery_code(&self, user_id: &U::Id, digest: &str) -> Result<bool, StoreError> {
        let mut tables = self.write();
        let Some(codes) = tables.mfa.recovery_codes.get_mut(user_id) else {
            return Ok(false);
        };
        let before = codes.len();
        codes.retain(|code| code != digest);
        Ok(codes.len() < before)
    }

    async fn create_passkey(&self, passkey: StoredPasskey<U::Id>) -> Result<(), StoreError> {
        let mut tables = self.write();
        if !tables.users.contains_key(&passkey.user_id) {
            return Err(StoreError::NotFound);
        }
        if tables
            .mfa
            .passkeys
            .iter()
            .any(|p| p.credential_id == passkey.credential_id || p.id == passkey.id)
        {
            return Err(StoreError::Conflict);
        }
        tables.mfa.passkeys.push(passkey);
        Ok(())
    }

    async fn passkeys(&self, user_id: &U::Id) -> Result<Vec<StoredPasskey<U::Id>>, StoreError> {
        let mut passkeys: Vec<StoredPasskey<U::Id>> = self
            .read()
            .mfa
            .passkeys
            .iter()
            .filter(|p| p.user_id == *user_id)
            .cloned()
            .collect();
        passkeys.sort_by_key(|p| (p.created_at, p.id));
        Ok(passkeys)
    }

    async fn passkey_by_credential(
        &self,
        credential_id: &[u8],
    ) -> Result<Option<StoredPasskey<U::Id>>, StoreError> {
        Ok(self
            .read()
            .mfa
            .passkeys
            .iter()
            .find(|p| p.credential_id == credential_id)
            .cloned())
    }

    async fn passkey_used(&self, used: PasskeyUse<'_>) -> Result<bool, StoreError> {
        let mut tables = self.write();
        match tables.mfa.passkeys.iter_mut().find(|p| p.id == *used.id) {
            Some(passkey) if passkey.sign_count == used.if_sign_count => {
                passkey.sign_count = used.sign_count;
                passkey.credential = used.credential.to_owned();
                passkey.last_used_at = Some(used.at);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn delete_passkey(&self, user_id: &U::Id, id: &Uuid) -> Result<bool, StoreError> {
        let mut tables = self.write();
        let before = tables.mfa.passkeys.len();
        tables
            .mfa
            .passkeys
            .retain(|p| !(p.id == *id && p.user_id == *user_id));
        Ok(tables.mfa.passkeys.len() < before)
    }

    async fn reset_mfa(&self, user_id: &U::Id) -> Result<(), StoreError> {
        self.write().mfa.delete_user(user_id);
        Ok(())
    }
}

#[async_trait]
impl<U: UserModel> ChallengeStore for MemoryStore<U> {
    async fn put_challenge(
        &self,
        key: &str,
        data: &[u8],
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut tables = self.write();
        // Dead challenges are dropped now and then, as a SQL store's sweep
        // would: a store nobody sweeps does not grow without bound.
        if tables.challenges.len() >= 1024 && tables.challenges.len().is_power_of_two() {
            let now = Utc::now();
            tables.challenges.retain(|_, c| c.expires_at > now);
        }
        tables.challenges.insert(
            key.to_owned(),
            Challenge {
                data: data.to_vec(),
                failures: 0,
                expires_at,
            },
        );
        Ok(())
    }

    async fn challenge(
        &self,
        key: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Challenge>, StoreError> {
        Ok(self
            .read()
            .challenges
            .get(key)
            .filter(|c| c.expires_at > now)
            .cloned())
    }

    async fn take_challenge(
        &self,
        key: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Challenge>, StoreError> {
        Ok(self
            .write()
            .challenges
            .remove(key)
            .filter(|c| c.expires_at > now))
    }

    async fn fail_challenge(&self, key: &str, max_failures: u32) -> Result<(), StoreError> {
        let mut tables = self.write();
        if let Some(challenge) = tables.challenges.get_mut(key) {
            challenge.failures = challenge.failures.saturating_add(1);
            if challenge.failures >= max_failures {
                tables.challenges.remove(key);
            }
        }
        Ok(())
    }

    async fn delete_expired_challenges(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        let mut tables = self.write();
        let before = tables.challenges.len();
        tables.challenges.retain(|_, c| c.expires_at > now);
        Ok((before - tables.challenges.len()) as u64)
    }
}
