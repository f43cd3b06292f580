-- Invitations (src/invitation.rs): accounts a superuser asks for, for an
-- address, taken by the person at the address with the invitation's token.
-- Only the token's SHA-256 digest is stored, unique so that one token finds
-- one invitation. Times are Unix milliseconds; accepted_at is NULL until the
-- invitation is accepted. A revoked invitation stays, listed as revoked.
-- Invitations are not cached (src/store/pg_cache.rs), so no trigger announces
-- their changes.
-- A plain CREATE TABLE (no IF NOT EXISTS): a table of this name that is not
-- the store's, or an index of one of these names in the schema, makes the
-- migration fail rather than be taken for its own.
CREATE TABLE invitations (
    id UUID PRIMARY KEY,
    email TEXT NOT NULL,
    remark TEXT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    accepted_at BIGINT,
    revoked BOOLEAN NOT NULL DEFAULT FALSE,
    -- Set when the invitation expired and the address is invited again: it
    -- then leaves the unique index of pending invitations below (expiry
    -- depends on the time, which an index cannot read).
    lapsed BOOLEAN NOT NULL DEFAULT FALSE,
    token_digest TEXT NOT NULL UNIQUE
);

-- The list, newest first (ORDER BY created_at DESC, id DESC).
CREATE INDEX invitations_created_at ON invitations (created_at DESC, id DESC);

-- The pending invitation of an address, ASCII-case-insensitively, with the
-- expression of the users' address index (translate() folds A-Z only,
-- whatever the collation); the store's look-up repeats it exactly, so it uses
-- the index. Not unique: an address keeps its accepted, revoked and expired
-- invitations.
CREATE INDEX invitations_email_ascii_lower
    ON invitations (translate(email, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'));

-- At most one pending invitation per address (neither accepted, nor revoked,
-- nor lapsed): of two concurrent invitations of one address, one is stored
-- and the other fails here.
CREATE UNIQUE INDEX invitations_pending ON invitations (translate(email, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'))
    WHERE accepted_at IS NULL AND NOT revoked AND NOT lapsed;
