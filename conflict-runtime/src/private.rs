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

#[cfg(any(feature = "postgres", feature = "sqlite"))]
pub use sqlx;

/// A state stored under a name the machine does not declare.
#[cfg(any(feature = "postgres", feature = "sqlite"))]
#[derive(Debug, thiserror::Error)]
#[error("the database holds the state `{0}`, which the machine does not declare")]
pub struct UnknownStoredState(pub String);

/// Decodes a state from its wire name, as text or a Postgres enum label.
///
/// # Errors
/// The database's error, or [`UnknownStoredState`].
#[cfg(any(feature = "postgres", feature = "sqlite"))]
pub fn decode_state<'r, DB, S>(value: DB::ValueRef<'r>) -> Result<S, sqlx::error::BoxDynError>
where
    DB: sqlx::Database,
    S: StateMachine,
    &'r str: sqlx::Decode<'r, DB>,
{
    let name = <&str as sqlx::Decode<'r, DB>>::decode(value)?;
    // Boxed once (not `Box::new(..).into()`, which boxes the box), so that
    // the stores can tell this error apart by downcasting.
    S::from_name(name).ok_or_else(|| -> sqlx::error::BoxDynError {
        Box::new(UnknownStoredState(name.to_owned()))
    })
}

/// Encodes a state as its wire name.
///
/// # Errors
/// The database's error.
#[cfg(any(feature = "postgres", feature = "sqlite"))]
pub fn encode_state<'q, DB, S>(
    state: &S,
    buf: &mut DB::ArgumentBuffer,
) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError>
where
    DB: sqlx::Database,
    S: StateMachine,
    &'static str: sqlx::Encode<'q, DB>,
{
    <&str as sqlx::Encode<'q, DB>>::encode(state.name(), buf)
}

/// A state column may be text or a Postgres enum type of the same labels.
#[cfg(feature = "postgres")]
#[must_use]
pub fn pg_state_compatible(ty: &sqlx::postgres::PgTypeInfo) -> bool {
    <str as sqlx::Type<sqlx::Postgres>>::compatible(ty)
        || matches!(ty.kind(), sqlx::postgres::PgTypeKind::Enum(_))
}

/// `sqlx` impls for a derived state enum, so that a row type holding it
/// derives `sqlx::FromRow`: stored as its wire name, in text or an enum
/// column. Expands to nothing without the `postgres` and `sqlite` features.
#[doc(hidden)]
#[macro_export]
macro_rules! __conflict_sql_state {
    ($state:ty) => {
        $crate::__conflict_pg_state!($state);
        $crate::__conflict_sqlite_state!($state);
    };
}

#[cfg(feature = "postgres")]
#[doc(hidden)]
#[macro_export]
macro_rules! __conflict_pg_state {
    ($state:ty) => {
        #[automatically_derived]
        impl $crate::__private::sqlx::Type<$crate::__private::sqlx::Postgres> for $state {
            fn type_info() -> $crate::__private::sqlx::postgres::PgTypeInfo {
                <::core::primitive::str as $crate::__private::sqlx::Type<
                    $crate::__private::sqlx::Postgres,
                >>::type_info()
            }

            fn compatible(
                ty: &$crate::__private::sqlx::postgres::PgTypeInfo,
            ) -> ::core::primitive::bool {
                $crate::__private::pg_state_compatible(ty)
            }
        }

        #[automatically_derived]
        impl<'r> $crate::__private::sqlx::Decode<'r, $crate::__private::sqlx::Postgres> for $state {
            fn decode(
                value: $crate::__private::sqlx::postgres::PgValueRef<'r>,
            ) -> ::core::result::Result<Self, $crate::__private::sqlx::error::BoxDynError> {
                $crate::__private::decode_state::<$crate::__private::sqlx::Postgres, Self>(value)
            }
        }

        #[automatically_derived]
        impl $crate::__private::sqlx::Encode<'_, $crate::__private::sqlx::Postgres> for $state {
            fn encode_by_ref(
                &self,
                buf: &mut $crate::__private::sqlx::postgres::PgArgumentBuffer,
            ) -> ::core::result::Result<
                $crate::__private::sqlx::encode::IsNull,
                $crate::__private::sqlx::error::BoxDynError,
            > {
                $crate::__private::encode_state::<$crate::__private::sqlx::Postgres, Self>(
                    self, buf,
                )
            }
        }
    };
}

#[cfg(not(feature = "postgres"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __conflict_pg_state {
    ($state:ty) => {};
}

#[cfg(feature = "sqlite")]
#[doc(hidden)]
#[macro_export]
macro_rules! __conflict_sqlite_state {
    ($state:ty) => {
        #[automatically_derived]
        impl $crate::__private::sqlx::Type<$crate::__private::sqlx::Sqlite> for $state {
            fn type_info() -> $crate::__private::sqlx::sqlite::SqliteTypeInfo {
                <::core::primitive::str as $crate::__private::sqlx::Type<
                    $crate::__private::sqlx::Sqlite,
                >>::type_info()
            }
        }

        #[automatically_derived]
        impl<'r> $crate::__private::sqlx::Decode<'r, $crate::__private::sqlx::Sqlite> for $state {
            fn decode(
                value: $crate::__private::sqlx::sqlite::SqliteValueRef<'r>,
            ) -> ::core::result::Result<Self, $crate::__private::sqlx::error::BoxDynError> {
                $crate::__private::decode_state::<$crate::__private::sqlx::Sqlite, Self>(value)
            }
        }

        #[automatically_derived]
        impl $crate::__private::sqlx::Encode<'_, $crate::__private::sqlx::Sqlite> for $state {
            fn encode_by_ref(
                &self,
                buf: &mut $crate::__private::sqlx::sqlite::SqliteArgumentsBuffer,
            ) -> ::core::result::Result<
                $crate::__private::sqlx::encode::IsNull,
                $crate::__private::sqlx::error::BoxDynError,
            > {
                $crate::__private::encode_state::<$crate::__private::sqlx::Sqlite, Self>(self, buf)
            }
        }
    };
}

#[cfg(not(feature = "sqlite"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __conflict_sqlite_state {
    ($state:ty) => {};
}

pub use crate::__conflict_sql_state as sql_state;
