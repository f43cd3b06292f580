-- Every change to a user or a session, by whichever process makes it (an
-- instance of the application, another application, a hand-written UPDATE),
-- is announced on the channel axum_users_changes, so that every instance
-- drops its cached copy (src/store/pg_cache.rs): 'u:<user id>' for a user
-- updated or deleted, 't:<digest>' for a session token updated or deleted,
-- '*' for a table emptied by TRUNCATE.
-- NOTIFY is sent when the transaction commits, and not at all when it rolls
-- back.
CREATE OR REPLACE FUNCTION axum_users_user_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('axum_users_changes', 'u:' || OLD.id::text);
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION axum_users_token_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('axum_users_changes', 't:' || OLD.digest);
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION axum_users_all_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('axum_users_changes', '*');
    RETURN NULL;
END
$$;

CREATE TRIGGER axum_users_user_changed AFTER UPDATE OR DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION axum_users_user_changed();

CREATE TRIGGER axum_users_token_changed AFTER UPDATE OR DELETE ON access_tokens
    FOR EACH ROW EXECUTE FUNCTION axum_users_token_changed();

CREATE TRIGGER axum_users_users_emptied AFTER TRUNCATE ON users
    FOR EACH STATEMENT EXECUTE FUNCTION axum_users_all_changed();

CREATE TRIGGER axum_users_tokens_emptied AFTER TRUNCATE ON access_tokens
    FOR EACH STATEMENT EXECUTE FUNCTION axum_users_all_changed();
