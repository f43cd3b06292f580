-- Usernames (src/username.rs), for applications that turn them on: NULL for
-- a user without one. Unique ASCII-case-insensitively, with the expression of
-- the address's index (translate() folds A-Z only, whatever the collation);
-- the store's look-ups repeat it exactly, so they use the index. NULLs are
-- distinct in a unique index.
ALTER TABLE users ADD COLUMN IF NOT EXISTS username TEXT;
CREATE UNIQUE INDEX IF NOT EXISTS users_username_ascii_lower
    ON users (translate(username, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'));
