//! Stores: versioned resources where a move is one atomic step. The
//! contract ([`Store`]) is what the move engine asks of a store; this module
//! holds its implementations, in memory and in SQL. Domain errors only: the
//! HTTP layer maps them to statuses.

mod memory;
#[cfg(feature = "postgres")]
mod postgres;

pub use crate::moves::history::{Entry, Note};
pub use crate::moves::store::{
    Change, ChangeParts, Create, Expected, Inserted, Move, Resource, Store, StoreError, Versioned,
};

pub use self::memory::MemoryStore;
#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub use self::postgres::{PgStore, SCHEMA};
#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub use sqlx::postgres::PgPool;
