-- Users of axum-users' SQLite store.
CREATE TABLE IF NOT EXISTS users (
    id TEXT PRIMARY KEY NOT NULL,
    email TEXT NOT NULL,
    hashed_password TEXT NOT NULL,
    is_active BOOLEAN NOT NULL DEFAULT 1,
    is_superuser BOOLEAN NOT NULL DEFAULT 0,
    is_verified BOOLEAN NOT NULL DEFAULT 0,
    -- The application's own fields, as a JSON object.
    fields TEXT NOT NULL DEFAULT '{}'
);

-- One account per address, ASCII-case-insensitively (SQLite's lower() folds
-- ASCII only): concurrent registrations of one address resolve here.
CREATE UNIQUE INDEX IF NOT EXISTS users_email_lower ON users (lower(email));
