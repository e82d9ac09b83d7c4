//! A machine changes under stored data. Version 1 of the parcel machine
//! stores parcels and their history in Postgres and SQLite; version 2
//! renames a state (`shipped` -> `dispatched`) and an action (`ship` ->
//! `dispatch`), merges `in_transit` into `dispatched`, and removes
//! `archived`, whose rows are read as `cancelled`. Every parcel then reads
//! and moves, the history reads under the new names, requests with old
//! names work, `verify` finds nothing unknown, and `migrate_names` rewrites
//! the old names. Without the mapping, `verify` names the rows and a read
//! of one answers a problem naming the stored state.

#[macro_use]
mod support;

use conflict_runtime::http::Problem;
use conflict_runtime::moves::MoveError;
use conflict_runtime::store::{
    Change, Create, MemoryStore, Move, NameReport, Place, Store, StoreError, StoredName, Table,
    Verify,
};
use conflict_runtime::{Action as _, StateMachine as _};
use serde::{Deserialize, Serialize};

/// Version 1, as first deployed.
mod v1 {
    use conflict_runtime::StateMachine;
    use serde::{Deserialize, Serialize};

    #[derive(StateMachine, Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(rename_all = "snake_case")]
    #[state_machine(resource = "parcel")]
    pub(crate) enum Status {
        #[state(initial, on(ship -> Shipped, archive -> Archived))]
        Packed,
        #[state(on(deliver -> Delivered), to(InTransit))]
        Shipped,
        #[state(on(deliver -> Delivered))]
        InTransit,
        #[state(terminal)]
        Delivered,
        #[state(terminal)]
        Archived,
    }
}

/// Version 2: `shipped` is `dispatched` (and `in_transit` merged into it),
/// `ship` is `dispatch`, `archive` is `cancel`, `archived` is gone.
mod v2 {
    use conflict_runtime::StateMachine;
    use serde::{Deserialize, Serialize};

    #[derive(StateMachine, Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(rename_all = "snake_case")]
    #[state_machine(
        resource = "parcel",
        action_alias(dispatch = "ship", cancel = "archive"),
        removed(archived -> Cancelled)
    )]
    pub(crate) enum Status {
        #[state(initial, on(dispatch -> Dispatched, cancel -> Cancelled))]
        Packed,
        // serde reads its own aliases: a stored JSON body reads too.
        #[state(alias = "shipped", on(deliver -> Delivered))]
        #[serde(alias = "shipped", alias = "in_transit")]
        Dispatched,
        #[state(terminal)]
        Delivered,
        #[state(terminal)]
        Cancelled,
    }
}

/// Version 2 without the removed state's mapping.
mod v2_unmapped {
    use conflict_runtime::StateMachine;
    use serde::{Deserialize, Serialize};

    #[derive(StateMachine, Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(rename_all = "snake_case")]
    #[state_machine(
        resource = "parcel",
        action_alias(dispatch = "ship", cancel = "archive")
    )]
    pub(crate) enum Status {
        #[state(initial, on(dispatch -> Dispatched, cancel -> Cancelled))]
        Packed,
        #[state(alias = "shipped", alias = "in_transit", on(deliver -> Delivered))]
        Dispatched,
        #[state(terminal)]
        Delivered,
        #[state(terminal)]
        Cancelled,
    }
}

/// A parcel under any version of its machine.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Parcel<S> {
    label: String,
    status: S,
}

impl<S: conflict_runtime::StateMachine> conflict_runtime::store::Resource for Parcel<S> {
    type State = S;

    fn state(&self) -> S {
        self.status
    }

    fn set_state(&mut self, status: S) {
        self.status = status;
    }
}

impl<S, Id> conflict_runtime::store::Keyed<Id> for Parcel<S> {
    fn set_id(&mut self, _: &Id) {}
}

impl<'r, Row, S> sqlx::FromRow<'r, Row> for Parcel<S>
where
    Row: sqlx::Row,
    &'static str: sqlx::ColumnIndex<Row>,
    String: sqlx::Decode<'r, Row::Database> + sqlx::Type<Row::Database>,
    S: sqlx::Decode<'r, Row::Database> + sqlx::Type<Row::Database>,
{
    fn from_row(row: &'r Row) -> Result<Self, sqlx::Error> {
        Ok(Parcel {
            label: row.try_get("label")?,
            status: row.try_get("status")?,
        })
    }
}

fn parcel<S: conflict_runtime::StateMachine>(label: &str) -> Parcel<S> {
    Parcel {
        label: label.to_owned(),
        status: S::INITIAL[0],
    }
}

fn table() -> Table {
    Table::new("parcels").state("status")
}

fn by<S: conflict_runtime::StateMachine>(action: &str) -> Change<Parcel<S>> {
    let action = <S::Action as conflict_runtime::Action>::from_name(action)
        .unwrap_or_else(|| panic!("{action} is read"));
    Change::new(Move::Action(action))
}

/// The parcels version 1 leaves: one in each of its states.
struct Stored {
    packed: i64,
    shipped: i64,
    in_transit: i64,
    delivered: i64,
    archived: i64,
}

async fn store_with_version_1<St>(store: &St) -> Stored
where
    St: Store<Parcel<v1::Status>, Id = i64> + Create<Parcel<v1::Status>>,
{
    let mut ids = Vec::new();
    for label in ["a", "b", "c", "d", "e"] {
        ids.push(*store.create(parcel(label)).await.unwrap().id());
    }
    let [packed, shipped, in_transit, delivered, archived] = ids[..] else {
        unreachable!("five parcels")
    };
    for id in [shipped, in_transit, delivered] {
        store.apply(&id, by("ship")).await.unwrap();
    }
    store
        .apply(&in_transit, Change::new(Move::To(v1::Status::InTransit)))
        .await
        .unwrap();
    store.apply(&delivered, by("deliver")).await.unwrap();
    store.apply(&archived, by("archive")).await.unwrap();
    Stored {
        packed,
        shipped,
        in_transit,
        delivered,
        archived,
    }
}

fn counts(names: &[StoredName]) -> Vec<(Place, &str, u64, Option<&str>)> {
    let mut counts: Vec<_> = names
        .iter()
        .map(|n| (n.place, n.name.as_str(), n.count, n.read_as))
        .collect();
    counts.sort_unstable();
    counts
}

/// What version 1 left under old names, as version 2 reads it.
fn old_names() -> Vec<(Place, &'static str, u64, Option<&'static str>)> {
    vec![
        (Place::State, "archived", 1, Some("cancelled")),
        (Place::State, "in_transit", 1, Some("dispatched")),
        (Place::State, "shipped", 1, Some("dispatched")),
        // Three ships to it, the move from it to in_transit, the deliver
        // from it.
        (Place::HistoryState, "archived", 1, Some("cancelled")),
        (Place::HistoryState, "in_transit", 1, Some("dispatched")),
        (Place::HistoryState, "shipped", 5, Some("dispatched")),
        (Place::HistoryAction, "archive", 1, Some("cancel")),
        (Place::HistoryAction, "ship", 3, Some("dispatch")),
    ]
}

async fn version_2_reads_and_moves_what_version_1_stored<St>(store: St, stored: &Stored)
where
    St: Store<Parcel<v2::Status>, Id = i64> + Verify<Parcel<v2::Status>>,
{
    use v2::{Status, StatusAction};

    let report = store.verify().await.unwrap();
    assert!(report.is_clean(), "{report}");
    assert_eq!(counts(&report.renamed), old_names(), "{report}");

    let state = |id| {
        let store = &store;
        async move { store.get(&id).await.unwrap().value().status }
    };
    assert_eq!(state(stored.packed).await, Status::Packed);
    assert_eq!(state(stored.shipped).await, Status::Dispatched);
    assert_eq!(state(stored.in_transit).await, Status::Dispatched);
    assert_eq!(state(stored.delivered).await, Status::Delivered);
    assert_eq!(state(stored.archived).await, Status::Cancelled);

    // The history reads under the new names.
    let history = store.history(&stored.delivered).await.unwrap();
    let moves: Vec<_> = history.iter().map(|e| (e.from, e.action, e.to)).collect();
    assert_eq!(
        moves,
        [
            (
                Status::Packed,
                Some(StatusAction::Dispatch),
                Status::Dispatched
            ),
            (
                Status::Dispatched,
                Some(StatusAction::Deliver),
                Status::Delivered
            ),
        ]
    );

    // Moves: by an old action name, and out of a merged state.
    store.apply(&stored.packed, by("ship")).await.unwrap();
    assert_eq!(state(stored.packed).await, Status::Dispatched);
    store
        .apply(&stored.in_transit, by("deliver"))
        .await
        .unwrap();
    assert_eq!(state(stored.in_transit).await, Status::Delivered);
    // The history recorded those under current names only: the old ones
    // are as many as before, but for the state the rows left.
    let mut left = old_names();
    left.retain(|(place, name, ..)| (*place, *name) != (Place::State, "in_transit"));
    assert_eq!(counts(&store.verify().await.unwrap().renamed), left);
}

async fn unmapped_rows_are_named_and_the_others_keep_working<St>(store: St, stored: &Stored)
where
    St: Store<Parcel<v2_unmapped::Status>, Id = i64> + Verify<Parcel<v2_unmapped::Status>>,
{
    let report = store.verify().await.unwrap();
    assert!(!report.is_clean());
    assert_eq!(
        counts(&report.unknown),
        [
            (Place::State, "archived", 1, None),
            (Place::HistoryState, "archived", 1, None),
        ],
        "{report}"
    );
    let text = report.to_string();
    assert!(
        text.contains(
            "parcel: the resource state \"archived\" (1 row), which the machine does not declare"
        ) && text.contains("removed(archived -> State)"),
        "{text}"
    );
    let error = store.get(&stored.archived).await.unwrap_err();
    assert!(
        matches!(&error, StoreError::UnknownName { what: "state", stored } if stored == "archived"),
        "{error:?}"
    );
    let problem = Problem::of_move(MoveError::from(error), &stored.archived);
    assert_eq!(problem.status(), 500);
    let body = serde_json::to_value(&problem).unwrap();
    assert_eq!(body["type"], "urn:conflict:problem:unknown-stored-name");
    assert_eq!(body["stored_state"], "archived");
    assert!(
        body["detail"]
            .as_str()
            .is_some_and(|detail| detail.contains("\"archived\"")),
        "{body}"
    );
    // The others read, and so does their history.
    assert!(store.get(&stored.shipped).await.is_ok());
    assert_eq!(store.history(&stored.delivered).await.unwrap().len(), 2);
}

#[test]
fn old_names_read_as_current_ones() {
    use v2::{Status, StatusAction};
    assert_eq!(Status::from_name("shipped"), Some(Status::Dispatched));
    assert_eq!(Status::from_name("in_transit"), Some(Status::Dispatched));
    assert_eq!(Status::from_name("archived"), Some(Status::Cancelled));
    assert_eq!(Status::Dispatched.name(), "dispatched");
    assert_eq!(
        StatusAction::from_name("ship"),
        Some(StatusAction::Dispatch)
    );
    assert_eq!(StatusAction::Dispatch.name(), "dispatch");
    assert_eq!(
        "ship".parse::<StatusAction>().ok(),
        Some(StatusAction::Dispatch)
    );
    // serde reads the aliases it is given.
    let stored: Parcel<Status> =
        serde_json::from_value(serde_json::json!({"label": "b", "status": "in_transit"})).unwrap();
    assert_eq!(stored.status, Status::Dispatched);
    assert_eq!(
        serde_json::to_value(stored).unwrap()["status"],
        "dispatched"
    );
}

#[test]
fn the_fingerprint_changes_with_the_machine_only() {
    assert_eq!(v1::Status::fingerprint(), v1::Status::fingerprint());
    assert_eq!(v1::Status::fingerprint().len(), 16);
    assert_ne!(v1::Status::fingerprint(), v2::Status::fingerprint());
    // The removed state's mapping is part of the machine.
    assert_ne!(
        v2::Status::fingerprint(),
        v2_unmapped::Status::fingerprint()
    );
    let declaration = v2::Status::declaration();
    for line in [
        "state dispatched",
        "move packed dispatch dispatched",
        "alias shipped dispatched",
        "alias archived cancelled",
        "action_alias ship dispatch",
    ] {
        assert!(
            declaration.iter().any(|l| l == line),
            "{line}: {declaration:?}"
        );
    }
}

#[tokio::test]
async fn a_memory_store_holds_no_unknown_name() {
    let store = MemoryStore::<Parcel<v2::Status>, i64>::new();
    Create::create(&store, parcel("a")).await.unwrap();
    let report: NameReport = store.verify().await.unwrap();
    assert!(report.is_clean() && report.renamed.is_empty(), "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_changed_machine_on_postgres() {
    let Some(backend) = support::Backend::postgres().await else {
        return;
    };
    let connect = || async { backend.pool().await };
    let v1 = conflict_runtime::store::PgStore::<Parcel<v1::Status>, i64>::connect(
        connect().await,
        table(),
    )
    .await
    .unwrap();
    assert_eq!(v1.machine_change(), None, "the first start");
    let stored = store_with_version_1(&v1).await;

    let unmapped = conflict_runtime::store::PgStore::<Parcel<v2_unmapped::Status>, i64>::connect(
        connect().await,
        table(),
    )
    .await
    .unwrap();
    let change = unmapped.machine_change().expect("a changed machine");
    assert_eq!(change.was, v1::Status::fingerprint());
    assert!(
        change.removed.contains(&"state archived".to_owned()),
        "{change:?}"
    );
    assert!(
        change.added.contains(&"state dispatched".to_owned()),
        "{change:?}"
    );
    unmapped_rows_are_named_and_the_others_keep_working(unmapped, &stored).await;

    let v2 = conflict_runtime::store::PgStore::<Parcel<v2::Status>, i64>::connect(
        connect().await,
        table(),
    )
    .await
    .unwrap();
    let again = conflict_runtime::store::PgStore::<Parcel<v2::Status>, i64>::connect(
        connect().await,
        table(),
    )
    .await
    .unwrap();
    assert_eq!(again.machine_change(), None, "served before");
    // The enum renamed without keeping its kind: said at connect.
    let renamed = conflict_runtime::store::PgStore::<Parcel<v2::Status>, i64>::connect(
        connect().await,
        table().kind("parcel_status"),
    )
    .await
    .unwrap();
    let change = renamed.machine_change().expect("a new kind");
    assert_eq!(change.kind_was.as_deref(), Some("parcel"));
    migrates(v2, &stored).await;
    backend.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_changed_machine_on_sqlite() {
    use conflict_runtime::store::SqliteStore;
    let backend = support::Backend::sqlite().await;
    let v1 = SqliteStore::<Parcel<v1::Status>, i64>::connect(backend.sqlite_pool().await, table())
        .await
        .unwrap();
    assert_eq!(v1.machine_change(), None, "the first start");
    let stored = store_with_version_1(&v1).await;
    let unmapped = SqliteStore::<Parcel<v2_unmapped::Status>, i64>::connect(
        backend.sqlite_pool().await,
        table(),
    )
    .await
    .unwrap();
    assert!(unmapped.machine_change().is_some());
    unmapped_rows_are_named_and_the_others_keep_working(unmapped, &stored).await;
    let v2 = SqliteStore::<Parcel<v2::Status>, i64>::connect(backend.sqlite_pool().await, table())
        .await
        .unwrap();
    migrates(v2, &stored).await;
    backend.finish().await;
}

/// Version 2 reads and moves what version 1 stored, then the old names are
/// rewritten: a dry run changes nothing, the migration leaves none.
async fn migrates<St>(store: St, stored: &Stored)
where
    St: Store<Parcel<v2::Status>, Id = i64> + Verify<Parcel<v2::Status>> + Clone + Migrate,
{
    let dry = store.migrate(true).await;
    assert_eq!(counts(&dry), old_names());
    assert_eq!(
        counts(&store.verify().await.unwrap().renamed),
        old_names(),
        "a dry run rewrites nothing"
    );
    version_2_reads_and_moves_what_version_1_stored(store.clone(), stored).await;
    let done = store.migrate(false).await;
    assert!(!done.is_empty());
    let after = store.verify().await.unwrap();
    assert!(after.is_clean() && after.renamed.is_empty(), "{after}");
    assert!(
        store.migrate(false).await.is_empty(),
        "nothing left to rewrite"
    );
    assert_eq!(
        store.get(&stored.archived).await.unwrap().value().status,
        v2::Status::Cancelled
    );
}

/// The SQL stores' `migrate_names`, for the shared test.
trait Migrate {
    async fn migrate(&self, dry_run: bool) -> Vec<StoredName>;
}

impl Migrate for conflict_runtime::store::PgStore<Parcel<v2::Status>, i64> {
    async fn migrate(&self, dry_run: bool) -> Vec<StoredName> {
        self.migrate_names(dry_run).await.unwrap()
    }
}

impl Migrate for conflict_runtime::store::SqliteStore<Parcel<v2::Status>, i64> {
    async fn migrate(&self, dry_run: bool) -> Vec<StoredName> {
        self.migrate_names(dry_run).await.unwrap()
    }
}

/// Over HTTP, on the example's SQLite and Postgres tables: an order stored
/// in a state the machine no longer declares answers a problem naming it;
/// the others answer as before.
async fn an_order_in_an_unknown_state_answers_a_problem(backend: support::Backend, insert: &str) {
    let server = backend
        .serve(conflict_examples::orders::Options::default())
        .await;
    let client = reqwest::Client::new();
    let created: serde_json::Value = client
        .post(server.url("/orders"))
        .json(&serde_json::json!({"item": "lamp", "quantity": 1}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let archived: i64 = match &backend {
        support::Backend::Postgres { .. } => sqlx::query_scalar(sqlx::AssertSqlSafe(insert))
            .fetch_one(&backend.pool().await)
            .await
            .unwrap(),
        _ => sqlx::query_scalar(sqlx::AssertSqlSafe(insert))
            .fetch_one(&backend.sqlite_pool().await)
            .await
            .unwrap(),
    };
    let mut paths = vec![format!("/orders/{archived}")];
    if matches!(backend, support::Backend::Postgres { .. }) {
        // Its history was written there too.
        paths.push(format!("/orders/{archived}/history"));
    }
    for path in paths {
        let response = client.get(server.url(&path)).send().await.unwrap();
        assert_eq!(response.status(), 500, "{path}");
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(
            body["type"], "urn:conflict:problem:unknown-stored-name",
            "{path}"
        );
        assert_eq!(body["stored_state"], "archived", "{path}");
    }
    let other = client
        .get(server.url(&format!("/orders/{}", created["id"])))
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_order_in_an_unknown_state_on_sqlite() {
    let backend = support::Backend::sqlite().await;
    an_order_in_an_unknown_state_answers_a_problem(
        backend.clone(),
        "INSERT INTO orders (item, quantity, status) VALUES ('desk', 1, 'archived') RETURNING id",
    )
    .await;
    backend.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_order_in_an_unknown_state_on_postgres() {
    let Some(backend) = support::Backend::postgres().await else {
        return;
    };
    an_order_in_an_unknown_state_answers_a_problem(
        backend.clone(),
        "WITH o AS (INSERT INTO orders (item, quantity, status) VALUES ('desk', 1, 'archived') RETURNING id)
         INSERT INTO conflict_history (kind, id, version, from_state, to_state)
         SELECT 'order', id::text, 1, 'archived', 'archived' FROM o RETURNING id::bigint",
    )
    .await;
    backend.finish().await;
}
