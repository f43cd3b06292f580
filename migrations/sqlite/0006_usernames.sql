-- Usernames (src/username.rs), for applications that turn them on: NULL for
-- a user without one. Unique ASCII-case-insensitively (usernames are ASCII;
-- SQLite's lower() folds ASCII only): concurrent registrations of one name
-- resolve here. NULLs are distinct in a unique index.
ALTER TABLE users ADD COLUMN username TEXT;
CREATE UNIQUE INDEX IF NOT EXISTS users_username_lower ON users (lower(username));
