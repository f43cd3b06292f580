-- Provider accounts linked to users, for OAuth login. One owner per provider
-- account: the primary key. Provider tokens are kept so that the application
-- can call the provider's API for the user.
CREATE TABLE IF NOT EXISTS oauth_accounts (
    oauth_name TEXT NOT NULL,
    account_id TEXT NOT NULL,
    account_email TEXT NOT NULL,
    -- Whether the provider vouched for account_email: links made with an
    -- unverified address are dropped when the user proves the mailbox.
    email_verified BOOLEAN NOT NULL DEFAULT FALSE,
    access_token TEXT NOT NULL,
    refresh_token TEXT,
    expires_at BIGINT,
    user_id UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (oauth_name, account_id)
);

CREATE INDEX IF NOT EXISTS oauth_accounts_user_id ON oauth_accounts (user_id);
