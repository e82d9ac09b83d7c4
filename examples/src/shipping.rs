//! The `shipping` job: moves orders from commands read off a channel,
//! through the same engine, rules, history and hooks as the HTTP service,
//! with no HTTP in between.
//!
//! A command is one line, `ship ID TRACKING-NUMBER` (or any action with its
//! input as JSON: `cancel 7 {"reason": "lost in transit"}`).

use std::fmt;

use conflict_runtime::StateMachine;
use conflict_runtime::moves::{Caller, Engine, Input, MoveError, MoveSpec};
use conflict_runtime::store::Store;
use tokio::sync::mpsc;

use crate::orders::{Order, OrderStatus, OrderStatusAction};

/// The job's identity: the history records its moves as `shipping-job`. It
/// holds every permission, as a trusted back-office process does.
#[derive(Clone, Copy, Debug, Default)]
pub struct ShippingJob;

impl Caller for ShippingJob {
    fn actor(&self) -> Option<&str> {
        Some("shipping-job")
    }

    fn has_permission(&self, _: &str) -> bool {
        true
    }
}

/// One parsed command.
#[derive(Clone, Debug, PartialEq)]
pub struct Command {
    /// The order.
    pub id: i64,
    /// What to do with it.
    pub action: OrderStatusAction,
    /// The action's input.
    pub input: Option<serde_json::Value>,
}

/// A line that is not a command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BadCommand(pub String);

impl fmt::Display for BadCommand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}; write `ship ID TRACKING-NUMBER` or `ACTION ID [JSON]`",
            self.0
        )
    }
}

impl std::str::FromStr for Command {
    type Err = BadCommand;

    fn from_str(line: &str) -> Result<Self, BadCommand> {
        let line = line.trim();
        let (action, rest) = line.split_once(' ').unwrap_or((line, ""));
        let action: OrderStatusAction = action
            .parse()
            .map_err(|error| BadCommand(format!("{error}")))?;
        let rest = rest.trim_start();
        let (id, input) = rest.split_once(' ').unwrap_or((rest, ""));
        let id = id
            .parse()
            .map_err(|_| BadCommand(format!("`{id}` is not an order id")))?;
        let input = input.trim();
        let input = match (action, input) {
            (_, "") => None,
            (_, json) if json.starts_with('{') => Some(
                serde_json::from_str(json)
                    .map_err(|error| BadCommand(format!("the input is not JSON: {error}")))?,
            ),
            (OrderStatusAction::Ship, tracking) => {
                Some(serde_json::json!({ "tracking_number": tracking }))
            }
            (_, other) => {
                return Err(BadCommand(format!(
                    "`{other}`: the input of `{action}` is a JSON object"
                )));
            }
        };
        Ok(Command { id, action, input })
    }
}

/// What became of one command.
#[derive(Debug)]
pub enum Outcome {
    /// The line was not a command.
    Unreadable(BadCommand),
    /// The order moved; the new version, and the hooks that failed.
    Moved {
        /// The order.
        id: i64,
        /// Where it is now.
        status: OrderStatus,
        /// Its new version.
        version: u64,
        /// After-commit hooks that failed (the move stays).
        failed_hooks: Vec<&'static str>,
    },
    /// The order was already where the command leads.
    Unchanged {
        /// The order.
        id: i64,
    },
    /// The engine refused the move.
    Refused {
        /// The order.
        id: i64,
        /// Why.
        error: MoveError<OrderStatus>,
    },
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Unreadable(bad) => write!(f, "skipped: {bad}"),
            Outcome::Moved {
                id,
                status,
                version,
                failed_hooks,
            } => {
                write!(f, "order {id}: {} at version {version}", status.name())?;
                if !failed_hooks.is_empty() {
                    write!(f, " (hooks failed: {})", failed_hooks.join(", "))?;
                }
                Ok(())
            }
            Outcome::Unchanged { id } => write!(f, "order {id}: already there"),
            Outcome::Refused { id, error } => write!(f, "order {id}: refused: {error}"),
        }
    }
}

/// Performs each line received on `lines` as a move of `engine`, and sends
/// what became of it on `outcomes`, until `lines` closes.
pub async fn run<St>(
    engine: Engine<Order, St>,
    mut lines: mpsc::Receiver<String>,
    outcomes: mpsc::Sender<Outcome>,
) where
    St: Store<Order, Id = i64>,
{
    while let Some(line) = lines.recv().await {
        if line.trim().is_empty() {
            continue;
        }
        let outcome = match line.parse::<Command>() {
            Ok(command) => perform(&engine, command).await,
            Err(bad) => Outcome::Unreadable(bad),
        };
        if outcomes.send(outcome).await.is_err() {
            break;
        }
    }
}

async fn perform<St: Store<Order, Id = i64>>(
    engine: &Engine<Order, St>,
    command: Command,
) -> Outcome {
    let Command { id, action, input } = command;
    let spec = MoveSpec::action(id, action).with_input(input.map_or(Input::None, Input::Value));
    match engine.perform(&ShippingJob, spec).await {
        Ok(moved) if moved.is_committed() => Outcome::Moved {
            id,
            status: moved.resource().value().status,
            version: moved.resource().version(),
            failed_hooks: moved.failed_hooks().to_vec(),
        },
        Ok(_) => Outcome::Unchanged { id },
        Err(error) => Outcome::Refused { id, error },
    }
}
