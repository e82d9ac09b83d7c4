//! Stores: versioned resources where a move is one atomic step. The
//! contract ([`Store`]) is what the move engine asks of a store; this module
//! holds its implementations, in memory and in SQL. Domain errors only: the
//! HTTP layer maps them to statuses.

mod memory;
mod memory_deadlines;
mod memory_log;
#[cfg(any(feature = "postgres", feature = "sqlite"))]
mod migrations;
mod names;
#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub mod postgres;
#[cfg(feature = "postgres")]
mod postgres_deadlines;
#[cfg(feature = "postgres")]
mod postgres_outbox;
#[cfg(any(feature = "postgres", feature = "sqlite"))]
mod sql;
#[cfg(feature = "sqlite")]
#[cfg_attr(docsrs, doc(cfg(feature = "sqlite")))]
pub mod sqlite;
#[cfg(feature = "sqlite")]
mod sqlite_deadlines;
#[cfg(feature = "sqlite")]
mod sqlite_outbox;

pub use crate::moves::history::{Entry, Note};
pub use crate::moves::store::{
    Applied, Change, ChangeParts, Create, Expected, Inserted, Keyed, List, Move, Page, Resource,
    Store, StoreError, Versioned,
};

pub use self::memory::{MemoryStore, SequentialId};
#[cfg(any(feature = "postgres", feature = "sqlite"))]
pub use self::migrations::MIGRATIONS_TABLE;
#[cfg(any(feature = "postgres", feature = "sqlite"))]
#[cfg_attr(docsrs, doc(cfg(any(feature = "postgres", feature = "sqlite"))))]
pub use self::names::MachineChange;
pub use self::names::{NameReport, Place, StoredName, Verify};
#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub use self::postgres::{PgStore, PgTx};
#[cfg(any(feature = "postgres", feature = "sqlite"))]
#[cfg_attr(docsrs, doc(cfg(any(feature = "postgres", feature = "sqlite"))))]
pub use self::sql::Table;
#[cfg(feature = "sqlite")]
#[cfg_attr(docsrs, doc(cfg(feature = "sqlite")))]
pub use self::sqlite::{SqliteStore, SqliteTx};
#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub use sqlx::postgres::PgPool;
#[cfg(feature = "sqlite")]
#[cfg_attr(docsrs, doc(cfg(feature = "sqlite")))]
pub use sqlx::sqlite::SqlitePool;
