-- The token generation of each user (UserData::token_generation): raised when
-- every token and session of the user must end (a password reset, a
-- superuser's password change, a deactivation).
ALTER TABLE users ADD COLUMN token_generation BIGINT NOT NULL DEFAULT 0;

-- Each database session is bound to the credentials it was opened under:
-- "<token_generation>:<SHA-256 of hashed_password, lowercase hex>" of its user.
-- The sessions of earlier versions get the binding of their user's current
-- credentials, so they live on. An empty binding never matches.
ALTER TABLE access_tokens ADD COLUMN binding TEXT NOT NULL DEFAULT '';
UPDATE access_tokens t
SET binding = u.token_generation::text || ':'
    || encode(sha256(convert_to(u.hashed_password, 'UTF8')), 'hex')
FROM users u
WHERE u.id = t.user_id;

-- Whether the user's own address was verified when the link was made (the
-- user was verified, or the provider vouched for that very address). Links
-- made while it was not are dropped when the owner takes the address back.
-- Earlier links count as verified only when the provider vouched for the
-- user's own address.
ALTER TABLE oauth_accounts ADD COLUMN user_verified BOOLEAN NOT NULL DEFAULT FALSE;
UPDATE oauth_accounts a
SET user_verified = a.email_verified
    AND translate(a.account_email, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')
      = translate(u.email, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')
FROM users u
WHERE u.id = a.user_id;
