-- The generations of each user's credentials (UserData::token_generation and
-- password_generation): the token generation is raised when every token and
-- session of the user must end (a password reset, a superuser's password
-- change, a deactivation); the password generation with every new password.
ALTER TABLE users ADD COLUMN token_generation BIGINT NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN password_generation BIGINT NOT NULL DEFAULT 0;

-- Each database session is bound to the generations it was opened under:
-- "<token_generation>:<password_generation>". Every user starts at 0:0, so
-- the sessions of earlier versions live on. An empty binding never matches.
ALTER TABLE access_tokens ADD COLUMN binding TEXT NOT NULL DEFAULT '';
UPDATE access_tokens SET binding = '0:0';

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
