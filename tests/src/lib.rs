//! What the integration tests and their child processes share; the tests
//! themselves are in `tests/`.
#![forbid(unsafe_code)]

pub mod rooms {
    //! Rooms with a door: a small cyclic machine whose moves always commit.

    use conflict_runtime::StateMachine;
    use conflict_runtime::store::{Keyed, Resource, Table};
    use serde::{Deserialize, Serialize};

    /// A small cyclic machine for store tests: many moves commit.
    #[derive(StateMachine, Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(rename_all = "snake_case")]
    pub enum Door {
        #[state(initial, on(open -> Open, lock -> Locked))]
        /// Closed: it opens or locks.
        Closed,
        #[state(on(close -> Closed), after(1h, close))]
        /// Open: it closes, by itself after an hour.
        Open,
        #[state(on(unlock -> Closed))]
        /// Locked: it unlocks.
        Locked,
    }

    /// A resource with a [`Door`], kept apart from its id.
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    pub struct Room {
        /// What the room is called.
        pub name: String,
        /// Its door.
        pub door: Door,
        /// When its door, once open, closes by itself (Unix seconds), for
        /// stores given a deadline read from the room; `None` for the door's
        /// declared hour.
        pub closes_at: Option<i64>,
    }

    impl Resource for Room {
        type State = Door;

        fn state(&self) -> Door {
            self.door
        }

        fn set_state(&mut self, door: Door) {
            self.door = door;
        }
    }

    impl<Id> Keyed<Id> for Room {
        fn set_id(&mut self, _: &Id) {}
    }

    impl<'r, Row> sqlx::FromRow<'r, Row> for Room
    where
        Row: sqlx::Row,
        &'static str: sqlx::ColumnIndex<Row>,
        String: sqlx::Decode<'r, Row::Database> + sqlx::Type<Row::Database>,
        Door: sqlx::Decode<'r, Row::Database> + sqlx::Type<Row::Database>,
        Option<i64>: sqlx::Decode<'r, Row::Database>,
        i64: sqlx::Type<Row::Database>,
    {
        fn from_row(row: &'r Row) -> Result<Self, sqlx::Error> {
            Ok(Room {
                name: row.try_get("name")?,
                door: row.try_get("door")?,
                closes_at: row.try_get("closes_at")?,
            })
        }
    }

    /// Where rooms live in SQL: `rooms`, the state in `door`.
    #[must_use]
    pub fn rooms_table() -> Table {
        Table::new("rooms").state("door")
    }

    /// A room with a closed door.
    #[must_use]
    pub fn room(name: &str) -> Room {
        Room {
            name: name.to_owned(),
            door: Door::Closed,
            closes_at: None,
        }
    }
}
