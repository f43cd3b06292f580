-- Invitations (src/invitation.rs): accounts a superuser asks for, for an
-- address, taken by the person at the address with the invitation's token.
-- Only the token's SHA-256 digest is stored, unique so that one token finds
-- one invitation. Times are Unix milliseconds; accepted_at is NULL until the
-- invitation is accepted. A revoked invitation stays, listed as revoked.
-- A plain CREATE TABLE (no IF NOT EXISTS): a table of this name that is not
-- the store's makes the migration fail rather than be taken for its own.
CREATE TABLE invitations (
    id TEXT PRIMARY KEY NOT NULL,
    email TEXT NOT NULL,
    remark TEXT,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    accepted_at INTEGER,
    revoked BOOLEAN NOT NULL DEFAULT 0,
    -- Set when the invitation expired and the address is invited again: it
    -- then leaves the unique index of pending invitations below (expiry
    -- depends on the time, which an index cannot read).
    lapsed BOOLEAN NOT NULL DEFAULT 0,
    token_digest TEXT NOT NULL UNIQUE
);

-- The list, newest first (ORDER BY created_at DESC, id DESC).
CREATE INDEX invitations_created_at ON invitations (created_at DESC, id DESC);

-- The pending invitation of an address, ASCII-case-insensitively, with the
-- expression of the users' address index (SQLite's lower() folds ASCII
-- only); the store's look-up repeats it exactly, so it uses the index. Not
-- unique: an address keeps its accepted, revoked and expired invitations.
CREATE INDEX invitations_email_lower ON invitations (lower(email));

-- At most one pending invitation per address (neither accepted, nor revoked,
-- nor lapsed): of two concurrent invitations of one address, one is stored
-- and the other fails here.
CREATE UNIQUE INDEX invitations_pending ON invitations (lower(email))
    WHERE accepted_at IS NULL AND NOT revoked AND NOT lapsed;
