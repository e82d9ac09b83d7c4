//! Used by generated code. Not public API: no semver guarantees.

use core::fmt;
use core::marker::PhantomData;

use serde::de::{self, DeserializeSeed, EnumAccess, VariantAccess, Visitor};

use crate::machine::{Action, NameKind, StateMachine, UnknownName};

pub use serde;

/// `FromStr` of the generated action enum.
///
/// # Errors
/// [`UnknownName`] listing the actions when `name` is none of them.
pub fn parse_action<A: Action>(name: &str) -> Result<A, UnknownName> {
    A::from_name(name).ok_or_else(|| {
        UnknownName::new(
            NameKind::Action,
            <A::Machine as StateMachine>::RESOURCE,
            name,
            A::NAMES,
        )
    })
}

/// Serializes an action the way `serde_derive` serializes a unit variant.
///
/// # Errors
/// Whatever the serializer reports.
pub fn serialize_action<A: Action, S: serde::Serializer>(
    action: A,
    enum_name: &'static str,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    // An enum with more than u32::MAX variants does not compile.
    let index = u32::try_from(action.index()).unwrap_or(u32::MAX);
    serializer.serialize_unit_variant(enum_name, index, action.name())
}

/// Deserializes an action the way `serde_derive` deserializes a unit variant.
///
/// # Errors
/// An unknown-variant error listing the actions, or whatever the
/// deserializer reports.
pub fn deserialize_action<'de, A: Action, D: serde::Deserializer<'de>>(
    enum_name: &'static str,
    deserializer: D,
) -> Result<A, D::Error> {
    deserializer.deserialize_enum(enum_name, A::NAMES, ActionVisitor(PhantomData))
}

struct ActionVisitor<A>(PhantomData<A>);

impl<'de, A: Action> Visitor<'de> for ActionVisitor<A> {
    type Value = A;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "one of the actions {:?}", A::NAMES)
    }

    fn visit_str<E: de::Error>(self, name: &str) -> Result<A, E> {
        A::from_name(name).ok_or_else(|| E::unknown_variant(name, A::NAMES))
    }

    fn visit_bytes<E: de::Error>(self, bytes: &[u8]) -> Result<A, E> {
        match core::str::from_utf8(bytes) {
            Ok(name) => self.visit_str(name),
            Err(_) => Err(E::invalid_value(de::Unexpected::Bytes(bytes), &self)),
        }
    }

    fn visit_u64<E: de::Error>(self, index: u64) -> Result<A, E> {
        usize::try_from(index)
            .ok()
            .and_then(|index| A::ALL.get(index).copied())
            .ok_or_else(|| E::invalid_value(de::Unexpected::Unsigned(index), &self))
    }

    fn visit_enum<E: EnumAccess<'de>>(self, data: E) -> Result<A, E::Error> {
        let (action, variant) = data.variant_seed(ActionVisitor(PhantomData))?;
        variant.unit_variant()?;
        Ok(action)
    }
}

impl<'de, A: Action> DeserializeSeed<'de> for ActionVisitor<A> {
    type Value = A;

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<A, D::Error> {
        deserializer.deserialize_identifier(self)
    }
}
