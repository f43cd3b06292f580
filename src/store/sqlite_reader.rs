//! Reads of the SQLite store on the calling thread: a read-only connection per
//! thread and per store, with its prepared statements cached, beside sqlx's
//! pool.
//!
//! sqlx runs each SQLite connection on a thread of its own, so a query through
//! the pool is a hand-off to that thread and back (several, with the pool's
//! checks), and on a loaded server those hand-offs cost far more than the
//! primary-key read itself, which is a few microseconds of CPU on a warm
//! database. The two reads on the path of every authenticated request (the
//! user by id, a session token by digest) therefore run here, inline on the
//! runtime's worker thread; everything else, and every write, goes through
//! the pool.
//!
//! What bounds the rare slow case on the worker thread: the connection never
//! waits for a lock (`busy_timeout` 0), so a database that a writer or a
//! checkpoint holds answers `SQLITE_BUSY` at once, and any error at all sends
//! the read to the pool instead, which waits with its own busy timeout and
//! time limit and answers 503 when the database is really unusable. In WAL
//! mode (the store's default) readers do not wait for writers anyway. What
//! remains on the worker thread is reading pages the OS does not have cached.
//!
//! Consistency: every read is its own transaction on a connection to the same
//! file, so it sees every write the pool has committed before it starts.

use std::cell::RefCell;
use std::path::PathBuf;
use std::sync::{Arc, Weak};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension};
use sqlx::{QueryBuilder, Sqlite, SqlitePool};
use uuid::Uuid;

use super::sql::{self, ReadsBesidePool, Served, TokenRow, UserRow};

/// The inline reads of one store: the database file and the SQL of the reads.
#[derive(Debug)]
pub(super) struct Reader {
    path: PathBuf,
    user_sql: String,
    token_sql: String,
    session_sql: String,
}

/// A thread's connection for one store; `None` when it could not be opened
/// (that thread then reads through the pool).
struct Slot {
    reader: Weak<Reader>,
    connection: Option<Connection>,
}

thread_local! {
    /// This thread's connections, one per live store that read on it.
    static CONNECTIONS: RefCell<Vec<Slot>> = const { RefCell::new(Vec::new()) };
}

impl Reader {
    /// Inline reads of the file `pool` opens, unless it is an in-memory
    /// database (which only the pool's connections can see).
    pub(super) fn for_pool(pool: &SqlitePool) -> Option<Arc<Self>> {
        let options = pool.connect_options();
        let path = options.get_filename();
        let name = path.to_string_lossy();
        // sqlx names its in-memory databases `file:sqlx-in-memory-<n>`, and
        // URLs may ask for `mode=memory`.
        if name.is_empty() || name == ":memory:" || name.starts_with("file:") {
            return None;
        }
        Some(Arc::new(Self {
            path: path.to_owned(),
            user_sql: select_sql(sql::select_user::<Sqlite>("", "users WHERE id = ")),
            token_sql: select_sql(sql::select_token::<Sqlite>()),
            session_sql: select_sql(sql::select_session_where::<Sqlite>("id")),
        }))
    }

    /// Runs the one-parameter `SELECT` `sql` on this thread's connection for
    /// this store and maps the row it finds, if any.
    fn read<T>(
        self: &Arc<Self>,
        sql: &str,
        parameter: &str,
        map: impl FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> Option<Option<T>> {
        CONNECTIONS
            .try_with(|connections| {
                // Re-entrance cannot happen (nothing below calls back here),
                // but a failed borrow only means reading through the pool.
                let mut connections = connections.try_borrow_mut().ok()?;
                let connection = self.connection(&mut connections)?;
                let mut statement = connection.prepare_cached(sql).ok()?;
                statement.query_row([parameter], map).optional().ok()
            })
            .ok()
            .flatten()
    }

    /// This thread's connection for this store, opened on first use.
    fn connection<'s>(self: &Arc<Self>, slots: &'s mut Vec<Slot>) -> Option<&'s Connection> {
        let index = match slots
            .iter()
            .position(|slot| std::ptr::eq(slot.reader.as_ptr(), Arc::as_ptr(self)))
        {
            Some(index) => index,
            None => {
                // Connections of stores dropped since go with them.
                slots.retain(|slot| slot.reader.strong_count() > 0);
                slots.push(Slot {
                    reader: Arc::downgrade(self),
                    connection: self.open().ok(),
                });
                slots.len() - 1
            }
        };
        slots[index].connection.as_ref()
    }

    /// A connection that only reads and never waits for a lock. The file must
    /// exist: the pool created it.
    fn open(&self) -> rusqlite::Result<Connection> {
        let connection = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        connection.busy_timeout(Duration::ZERO)?;
        connection.pragma_update(None, "query_only", true)?;
        Ok(connection)
    }
}

impl ReadsBesidePool<Sqlite> for Reader {
    /// The user with this id as its row, read on this thread; `None` when
    /// the read could not be done here (then read through the pool).
    async fn user(self: &Arc<Self>, id: &Uuid) -> Served<UserRow<Sqlite>> {
        let mut buffer = Uuid::encode_buffer();
        let id = id.hyphenated().encode_lower(&mut buffer);
        Ok(self.read(&self.user_sql, id, |row| {
            Ok((
                row.get(0)?,
                row.get(1)?,
                row.get(2)?,
                row.get(3)?,
                row.get(4)?,
                row.get(5)?,
                row.get(6)?,
                row.get(7)?,
                row.get(8)?,
                row.get(9)?,
            ))
        }))
    }

    /// The access token with this digest as its row, read on this thread;
    /// `None` when the read could not be done here.
    async fn token(self: &Arc<Self>, digest: &str) -> Served<TokenRow<Sqlite>> {
        Ok(self.read(&self.token_sql, digest, session_row))
    }

    async fn session(self: &Arc<Self>, id: &str) -> Served<TokenRow<Sqlite>> {
        Ok(self.read(&self.session_sql, id, session_row))
    }
}

/// The SQL text of a `SELECT` ending in its one placeholder.
fn select_sql(mut query: QueryBuilder<Sqlite>) -> String {
    query.push("?1");
    query.into_string()
}

/// A session's row, in the order of the `SELECT` of `sql::select_token`.
fn session_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<TokenRow<Sqlite>> {
    Ok((
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
        row.get(5)?,
        row.get(6)?,
        row.get(7)?,
        row.get(8)?,
        row.get(9)?,
        row.get(10)?,
    ))
}
