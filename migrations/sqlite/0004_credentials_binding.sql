-- The token generation of each user (UserData::token_generation): raised when
-- every token and session of the user must end (a password reset, a
-- superuser's password change, a deactivation).
ALTER TABLE users ADD COLUMN token_generation INTEGER NOT NULL DEFAULT 0;

-- Each database session is bound to the credentials it was opened under:
-- "<token_generation>:<SHA-256 of hashed_password, lowercase hex>" of its user.
-- SQLite
-- has no SHA-256 function: SqliteStore::migrate computes it for the sessions of
-- earlier versions, which it finds by their empty binding (one that never
-- matches until then).
ALTER TABLE access_tokens ADD COLUMN binding TEXT NOT NULL DEFAULT '';

-- Whether the user's own address was verified when the link was made (the
-- user was verified, or the provider vouched for that very address). Links
-- made while it was not are dropped when the owner takes the address back.
-- Earlier links count as verified only when the provider vouched for the
-- user's own address.
ALTER TABLE oauth_accounts ADD COLUMN user_verified BOOLEAN NOT NULL DEFAULT 0;
UPDATE oauth_accounts
SET user_verified = email_verified AND lower(account_email) = (
    SELECT lower(email) FROM users WHERE users.id = oauth_accounts.user_id
);
