-- One session model for database sessions and refresh-token families
-- (src/session.rs): the access_tokens table holds sessions of both kinds.
-- Each gets a random id (never the token nor derived from it), the backend
-- that opened it, its kind, when it was last used, and the client's
-- User-Agent and address. Sessions of earlier versions live on, with a
-- random id and no client details.
ALTER TABLE access_tokens ADD COLUMN id TEXT NOT NULL DEFAULT '';
UPDATE access_tokens SET id = lower(hex(randomblob(16)));
CREATE UNIQUE INDEX IF NOT EXISTS access_tokens_id ON access_tokens (id);
ALTER TABLE access_tokens ADD COLUMN backend TEXT NOT NULL DEFAULT '';
ALTER TABLE access_tokens ADD COLUMN kind TEXT NOT NULL DEFAULT 'token';
ALTER TABLE access_tokens ADD COLUMN last_used_at INTEGER NOT NULL DEFAULT 0;
UPDATE access_tokens SET last_used_at = created_at;
ALTER TABLE access_tokens ADD COLUMN user_agent TEXT;
ALTER TABLE access_tokens ADD COLUMN ip TEXT;
-- Expiry cleanup deletes by end time.
CREATE INDEX IF NOT EXISTS access_tokens_expires_at ON access_tokens (expires_at);

-- Refresh tokens already rotated, by digest, naming their session until it
-- would have ended: presenting one again is reuse, and ends the session.
CREATE TABLE IF NOT EXISTS retired_tokens (
    digest TEXT PRIMARY KEY NOT NULL,
    session_id TEXT NOT NULL,
    expires_at INTEGER NOT NULL
);

CREATE INDEX IF NOT EXISTS retired_tokens_session_id ON retired_tokens (session_id);
CREATE INDEX IF NOT EXISTS retired_tokens_expires_at ON retired_tokens (expires_at);
