-- Users of axum-users' PostgreSQL store.
CREATE TABLE IF NOT EXISTS users (
    id UUID PRIMARY KEY,
    email TEXT NOT NULL,
    hashed_password TEXT NOT NULL,
    is_active BOOLEAN NOT NULL DEFAULT TRUE,
    is_superuser BOOLEAN NOT NULL DEFAULT FALSE,
    is_verified BOOLEAN NOT NULL DEFAULT FALSE,
    -- The application's own fields, as a JSON object. `json`, not `jsonb`: it
    -- keeps the text as written (like SQLite's TEXT column) and accepts every
    -- string serde_json writes, including "\u0000", which `jsonb` rejects; the
    -- application can still query it (`fields->>'display_name'`) or index an
    -- expression on it.
    fields JSON NOT NULL DEFAULT '{}'
);

-- One account per address, ASCII-case-insensitively: concurrent registrations
-- of one address resolve here. translate() folds A-Z only, whatever the
-- database's collation (lower() would fold non-ASCII letters too, depending on
-- it). The store's look-ups use exactly this expression, so they use the index.
CREATE UNIQUE INDEX IF NOT EXISTS users_email_ascii_lower
    ON users (translate(email, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'));
