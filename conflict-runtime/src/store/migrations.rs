//! The crate's own tables, as versioned migrations. They keep their record
//! in `_conflict_migrations`, apart from `_sqlx_migrations`, so they run
//! beside an application's own migrator without either seeing the other's
//! versions as missing.

use std::borrow::Cow;

use sqlx::SqlStr;
use sqlx::migrate::{Migration, MigrationType, Migrator};

/// The table that records which of the crate's migrations ran.
pub const MIGRATIONS_TABLE: &str = "_conflict_migrations";

fn migrator(files: &[(i64, &'static str, &'static str)]) -> Migrator {
    let migrations = files
        .iter()
        .map(|&(version, description, sql)| {
            Migration::new(
                version,
                Cow::Borrowed(description),
                MigrationType::Simple,
                SqlStr::from_static(sql),
                false,
            )
        })
        .collect();
    let mut migrator = Migrator::with_migrations(migrations);
    migrator.dangerous_set_table_name(MIGRATIONS_TABLE);
    migrator
}

#[cfg(feature = "postgres")]
pub(crate) fn postgres() -> Migrator {
    migrator(&[
        (
            20_261_130_000_001,
            "history",
            include_str!("../../migrations/postgres/20261130000001_history.sql"),
        ),
        (
            20_261_130_000_002,
            "idempotency",
            include_str!("../../migrations/postgres/20261130000002_idempotency.sql"),
        ),
        (
            20_261_130_000_003,
            "outbox",
            include_str!("../../migrations/postgres/20261130000003_outbox.sql"),
        ),
        (
            20_261_130_000_004,
            "deadlines",
            include_str!("../../migrations/postgres/20261130000004_deadlines.sql"),
        ),
        (
            20_261_204_000_001,
            "machines",
            include_str!("../../migrations/postgres/20261204000001_machines.sql"),
        ),
    ])
}

#[cfg(feature = "sqlite")]
pub(crate) fn sqlite() -> Migrator {
    migrator(&[
        (
            20_261_130_000_001,
            "history",
            include_str!("../../migrations/sqlite/20261130000001_history.sql"),
        ),
        (
            20_261_130_000_002,
            "outbox",
            include_str!("../../migrations/sqlite/20261130000002_outbox.sql"),
        ),
        (
            20_261_130_000_003,
            "deadlines",
            include_str!("../../migrations/sqlite/20261130000003_deadlines.sql"),
        ),
        (
            20_261_204_000_001,
            "machines",
            include_str!("../../migrations/sqlite/20261204000001_machines.sql"),
        ),
    ])
}
