-- Second factors (src/store/mfa.rs) and ceremony state. Nothing secret is
-- stored as it is: the TOTP secret is sealed, recovery codes and challenge
-- keys are digests. Times are Unix milliseconds, as the invitations' are.
-- A user's factors go with the user (ON DELETE CASCADE).
-- None of these is cached (src/store/pg_cache.rs), so no trigger announces
-- their changes.
-- Plain CREATE TABLEs (no IF NOT EXISTS): a table of one of these names that
-- is not the store's, or an index of one of these names in the schema, makes
-- the migration fail rather than be taken for its own.

-- A user's TOTP factor: pending until its first code confirms it.
CREATE TABLE mfa_totp (
    user_id UUID PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    -- Sealed (`v1.…`), bound to the user's id.
    secret TEXT NOT NULL,
    confirmed BOOLEAN NOT NULL DEFAULT FALSE,
    -- The time step of the last code accepted: later ones only.
    last_used_step BIGINT,
    created_at BIGINT NOT NULL
);

-- The digests of a user's unused recovery codes: a code used is deleted.
CREATE TABLE mfa_recovery_codes (
    user_id UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    digest TEXT NOT NULL,
    PRIMARY KEY (user_id, digest)
);

-- Passkeys (WebAuthn credentials). The credential id the authenticator
-- chose is unique among every user's passkeys: a login names it.
CREATE TABLE passkeys (
    id UUID PRIMARY KEY,
    user_id UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    credential_id BYTEA NOT NULL UNIQUE,
    user_handle BYTEA NOT NULL,
    name TEXT NOT NULL,
    -- Its public key and state, as the passkey module writes it.
    credential TEXT NOT NULL,
    -- The authenticator's signature counter (0 to 2^32 - 1).
    sign_count BIGINT NOT NULL CHECK (sign_count BETWEEN 0 AND 4294967295),
    created_at BIGINT NOT NULL,
    last_used_at BIGINT
);

CREATE INDEX passkeys_user_id ON passkeys (user_id);

-- Short-lived, single-use ceremony state (the mfa_token of a two-step login,
-- WebAuthn challenges), under the digest of what the client holds.
CREATE TABLE challenges (
    key TEXT PRIMARY KEY,
    data BYTEA NOT NULL,
    failures INTEGER NOT NULL DEFAULT 0,
    expires_at BIGINT NOT NULL
);

-- Expiry cleanup deletes by end time.
CREATE INDEX challenges_expires_at ON challenges (expires_at);
