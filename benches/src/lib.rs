//! Shared pieces of the benchmarks: the `orders` machine and a fixed,
//! pseudo-random stream of requested moves.

pub use conflict_examples::orders::{OrderStatus, OrderStatusAction};

/// The machine of the HTTP and Postgres benchmarks: cyclic, so that random
/// traffic keeps mixing moves and conflicts.
#[derive(
    conflict_runtime::StateMachine,
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum DoorState {
    /// Shut, not locked.
    #[state(initial, on(open -> Open, lock -> Locked))]
    Closed,
    /// Open.
    #[state(on(close -> Closed))]
    Open,
    /// Shut and locked.
    #[state(on(unlock -> Closed))]
    Locked,
}

/// A door as stored.
#[derive(Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Door {
    /// Given by the store.
    pub id: u64,
    /// Its state.
    pub state: DoorState,
}

impl conflict_runtime::store::Resource for Door {
    type State = DoorState;

    fn state(&self) -> DoorState {
        self.state
    }

    fn set_state(&mut self, state: DoorState) {
        self.state = state;
    }
}

/// A door in a SQL table of the benchmarks: `bench_doors(id, name, state,
/// version)`.
#[derive(Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Latch {
    /// What it is.
    pub name: String,
    /// Its state.
    pub state: DoorState,
}

impl Latch {
    /// A closed door.
    #[must_use]
    pub fn closed() -> Self {
        Latch {
            name: "door".to_owned(),
            state: DoorState::Closed,
        }
    }
}

impl conflict_runtime::store::Resource for Latch {
    type State = DoorState;

    fn state(&self) -> DoorState {
        self.state
    }

    fn set_state(&mut self, state: DoorState) {
        self.state = state;
    }
}

impl<'r, Row> sqlx::FromRow<'r, Row> for Latch
where
    Row: sqlx::Row,
    &'static str: sqlx::ColumnIndex<Row>,
    String: sqlx::Decode<'r, Row::Database> + sqlx::Type<Row::Database>,
    DoorState: sqlx::Decode<'r, Row::Database> + sqlx::Type<Row::Database>,
{
    fn from_row(row: &'r Row) -> Result<Self, sqlx::Error> {
        Ok(Latch {
            name: row.try_get("name")?,
            state: row.try_get("state")?,
        })
    }
}

/// How many doors the benchmarks preload.
pub const DOORS: u64 = 1000;

/// `(state index, action index)` pairs, about half of them illegal, from a
/// fixed seed: every implementation decides the same stream.
#[must_use]
pub fn move_stream(len: usize) -> Vec<(usize, usize)> {
    use conflict_runtime::{Action, StateMachine};

    let legal: Vec<(usize, usize)> = OrderStatus::STATES
        .iter()
        .flat_map(|&s| s.actions().iter().map(move |&a| (s.index(), a.index())))
        .collect();
    let states = OrderStatus::STATES.len();
    let actions = OrderStatusAction::ALL.len();
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        // xorshift64*: deterministic, good enough to defeat branch prediction
        seed ^= seed >> 12;
        seed ^= seed << 25;
        seed ^= seed >> 27;
        seed.wrapping_mul(0x2545_F491_4F6C_DD1D)
    };
    (0..len)
        .map(|_| {
            let roll = next();
            let pick = usize::try_from(roll >> 33).unwrap_or(0);
            if roll & 1 == 0 {
                legal[pick % legal.len()]
            } else {
                (pick % states, (pick / states) % actions)
            }
        })
        .collect()
}
