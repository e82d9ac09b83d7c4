//! The input a move carries (a request body, a job's payload) and the typed
//! input an action reads from it.

use std::sync::Arc;

use bytes::Bytes;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::machine::UnknownName;

/// What a caller sends with a move. It is read only if the action takes a
/// typed input ([`Rules::input`](super::Rules::input)); an action without
/// one ignores it.
#[derive(Clone, Debug, Default)]
pub enum Input {
    /// Nothing: an action whose input is all optional reads `{}`.
    #[default]
    None,
    /// JSON text, parsed only when the action takes input.
    Json(Bytes),
    /// A JSON value already parsed (a job's payload, a test's literal).
    Value(Value),
    /// Input that cannot be read at all (a request body that is not JSON):
    /// refused with this error when the action takes input, ignored when
    /// it does not.
    Unreadable(InputError),
}

impl Input {
    /// Serializes `input` (a `Shipment`, say) as the move's input.
    ///
    /// # Errors
    /// The serializer's error, for a type that does not serialize to JSON
    /// (a map with non-string keys).
    pub fn typed<T: Serialize>(input: &T) -> Result<Input, serde_json::Error> {
        serde_json::to_value(input).map(Input::Value)
    }

    /// The input as a JSON value: `{}` when there is none.
    pub(crate) fn read(&self) -> Result<Value, InputError> {
        match self {
            Input::None => Ok(Value::Object(serde_json::Map::new())),
            Input::Json(text) if text.iter().all(u8::is_ascii_whitespace) => {
                Ok(Value::Object(serde_json::Map::new()))
            }
            Input::Json(text) => {
                serde_json::from_slice(text).map_err(|error| InputError::Syntax(error.to_string()))
            }
            Input::Value(value) => Ok(value.clone()),
            Input::Unreadable(error) => Err(error.clone()),
        }
    }
}

/// Why the input of a move, or the state it names, cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InputError {
    /// Not in a form this crate reads (not JSON); the text says what to send.
    #[error("{0}")]
    Unsupported(String),
    /// Not well-formed JSON.
    #[error("the input is not JSON: {0}")]
    Syntax(String),
    /// JSON that does not fit: a field is missing, of the wrong type, or
    /// fails [`ActionInput::validate`].
    #[error("{0}")]
    Invalid(Invalid),
    /// The input names no state of the machine.
    #[error(transparent)]
    UnknownState(UnknownName),
    /// The input does not name a target state where one is required; the
    /// text says where to put it.
    #[error("{0}")]
    NoState(String),
}

/// A field of an action's input that is wrong, and why: a 422 naming it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.sentence())]
pub struct Invalid {
    field: String,
    message: String,
}

impl Invalid {
    /// `field` (a JSON path such as `tracking_number`) is wrong because of `message`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Invalid {
            field: field.into(),
            message: message.into(),
        }
    }

    /// The field.
    #[must_use]
    pub fn field(&self) -> &str {
        &self.field
    }

    /// Why it is wrong.
    #[must_use]
    pub fn message(&self) -> &str {
        &self.message
    }

    /// `` `field`: message ``, or the message alone for the whole input.
    #[must_use]
    pub fn sentence(&self) -> String {
        if self.field.is_empty() {
            self.message.clone()
        } else {
            format!("`{}`: {}", self.field, self.message)
        }
    }
}

/// The typed input of an action (`ship` takes a `tracking_number`): parsed
/// from JSON, checked, recorded in the history and applied to the resource
/// as the move commits.
///
/// ```
/// use conflict_runtime::moves::{ActionInput, Invalid};
/// # #[derive(Clone, PartialEq)] struct Order { tracking_number: Option<String> }
///
/// #[derive(serde::Deserialize, serde::Serialize)]
/// struct Shipment {
///     tracking_number: String,
/// }
///
/// impl ActionInput<Order> for Shipment {
///     fn validate(&self) -> Result<(), Invalid> {
///         if self.tracking_number.trim().is_empty() {
///             return Err(Invalid::new("tracking_number", "must not be empty"));
///         }
///         Ok(())
///     }
///
///     fn edit(&self, order: &mut Order) {
///         order.tracking_number = Some(self.tracking_number.clone());
///     }
/// }
/// ```
pub trait ActionInput<R>: DeserializeOwned + Serialize + Send + Sync + 'static {
    /// Checks what the types cannot say. The default accepts.
    ///
    /// # Errors
    /// [`Invalid`] naming the field: the move is refused.
    fn validate(&self) -> Result<(), Invalid> {
        Ok(())
    }

    /// The reason the history records for the move. None by default.
    fn reason(&self) -> Option<String> {
        None
    }

    /// Changes the resource as the move commits. Nothing by default.
    fn edit(&self, resource: &mut R) {
        let _ = resource;
    }
}

/// An action's input, parsed and checked: what the move records and edits.
pub(crate) struct ParsedInput<R> {
    pub(crate) reason: Option<String>,
    pub(crate) metadata: Value,
    pub(crate) edit: Box<dyn Fn(&mut R) + Send + Sync>,
}

pub(crate) type InputFn<R> =
    Arc<dyn Fn(&Value) -> Result<ParsedInput<R>, InputError> + Send + Sync>;

pub(crate) fn parse_input<R, T: ActionInput<R>>(
    body: &Value,
) -> Result<ParsedInput<R>, InputError> {
    let input: T = from_object(body).map_err(InputError::Invalid)?;
    input.validate().map_err(InputError::Invalid)?;
    let metadata = serde_json::to_value(&input)
        .map_err(|error| InputError::Invalid(Invalid::new(String::new(), error.to_string())))?;
    Ok(ParsedInput {
        reason: input.reason(),
        metadata,
        edit: Box::new(move |resource| input.edit(resource)),
    })
}

/// `T` from a JSON object, naming the field that does not fit. Anything but
/// an object is refused: serde would read a struct from an array too, which
/// no schema of an object admits.
///
/// # Errors
/// [`Invalid`] naming the field that does not fit (empty for the whole value).
pub fn from_object<T: DeserializeOwned>(body: &Value) -> Result<T, Invalid> {
    if !body.is_object() {
        return Err(Invalid::new(String::new(), "expected a JSON object"));
    }
    serde_path_to_error::deserialize(body).map_err(|error| {
        let path = error.path().to_string();
        let message = error.into_inner().to_string();
        Invalid::new(field_of(&path, &message), message)
    })
}

/// The field a serde error is about: its path, or for a missing or unknown
/// member (reported on the object that lacks or has it) the member's name.
fn field_of(path: &str, message: &str) -> String {
    let member = ["missing field `", "unknown field `"]
        .iter()
        .find_map(|prefix| message.strip_prefix(prefix))
        .and_then(|rest| rest.split_once('`'))
        .map(|(name, _)| name);
    // An unknown member's path already ends in its name.
    let missing = message.starts_with("missing field `");
    match (path, member) {
        (".", Some(name)) => name.to_owned(),
        (".", None) => String::new(),
        (path, Some(name)) if missing => format!("{path}.{name}"),
        (path, _) => path.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::{Input, InputError, field_of};

    #[test]
    fn the_field_of_a_serde_error_names_missing_and_unknown_members() {
        assert_eq!(
            field_of(".", "missing field `tracking_number`"),
            "tracking_number"
        );
        assert_eq!(
            field_of("address.zip", "unknown field `zip`, expected `city`"),
            "address.zip"
        );
        assert_eq!(field_of("address", "missing field `city`"), "address.city");
        assert_eq!(
            field_of("reason", "invalid type: integer `5`, expected a string"),
            "reason"
        );
        assert_eq!(field_of(".", "invalid type: string, expected a map"), "");
    }

    #[test]
    fn empty_input_reads_as_an_empty_object_and_bad_json_is_a_syntax_error() {
        let empty = serde_json::json!({});
        assert_eq!(Input::None.read(), Ok(empty.clone()));
        assert_eq!(Input::Json(" \n".into()).read(), Ok(empty));
        assert!(matches!(
            Input::Json("{".into()).read(),
            Err(InputError::Syntax(_))
        ));
        assert_eq!(
            Input::Json(r#"{"a": 1}"#.into()).read(),
            Ok(serde_json::json!({"a": 1}))
        );
    }
}
