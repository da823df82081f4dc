//! The ids as SQL values: `INTEGER` on SQLite (feature `sqlite`), `BIGINT`
//! on PostgreSQL (feature `postgres`), so the store binds and reads them
//! without unwrapping.

use crate::{
    CalendarId, DeviceId, EventId, GeofenceId, GroupId, MaintenanceId, PositionId, UserId,
};

/// Implements the enabled backends' traits for id newtypes over `i64`.
macro_rules! sql_id {
    ($($name:ident),* $(,)?) => {$(
        #[cfg(feature = "sqlite")]
        impl rusqlite::types::ToSql for $name {
            fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
                Ok(rusqlite::types::ToSqlOutput::from(self.0))
            }
        }

        #[cfg(feature = "sqlite")]
        impl rusqlite::types::FromSql for $name {
            fn column_result(
                value: rusqlite::types::ValueRef<'_>,
            ) -> rusqlite::types::FromSqlResult<Self> {
                i64::column_result(value).map($name)
            }
        }

        #[cfg(feature = "postgres")]
        impl sqlx::Type<sqlx::Postgres> for $name {
            fn type_info() -> sqlx::postgres::PgTypeInfo {
                <i64 as sqlx::Type<sqlx::Postgres>>::type_info()
            }

            fn compatible(ty: &sqlx::postgres::PgTypeInfo) -> bool {
                <i64 as sqlx::Type<sqlx::Postgres>>::compatible(ty)
            }
        }

        #[cfg(feature = "postgres")]
        impl sqlx::postgres::PgHasArrayType for $name {
            fn array_type_info() -> sqlx::postgres::PgTypeInfo {
                <i64 as sqlx::postgres::PgHasArrayType>::array_type_info()
            }

            fn array_compatible(ty: &sqlx::postgres::PgTypeInfo) -> bool {
                <i64 as sqlx::postgres::PgHasArrayType>::array_compatible(ty)
            }
        }

        #[cfg(feature = "postgres")]
        impl sqlx::Encode<'_, sqlx::Postgres> for $name {
            fn encode_by_ref(
                &self,
                buf: &mut sqlx::postgres::PgArgumentBuffer,
            ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
                <i64 as sqlx::Encode<'_, sqlx::Postgres>>::encode_by_ref(&self.0, buf)
            }

            fn size_hint(&self) -> usize {
                <i64 as sqlx::Encode<'_, sqlx::Postgres>>::size_hint(&self.0)
            }
        }

        #[cfg(feature = "postgres")]
        impl sqlx::Decode<'_, sqlx::Postgres> for $name {
            fn decode(
                value: sqlx::postgres::PgValueRef<'_>,
            ) -> Result<Self, sqlx::error::BoxDynError> {
                <i64 as sqlx::Decode<'_, sqlx::Postgres>>::decode(value).map($name)
            }
        }
    )*};
}

sql_id!(
    DeviceId,
    UserId,
    GroupId,
    GeofenceId,
    EventId,
    MaintenanceId,
    CalendarId,
    PositionId,
);

#[cfg(all(test, feature = "sqlite"))]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn ids_round_trip_through_sqlite() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        let (device, group): (DeviceId, Option<GroupId>) = conn
            .query_row(
                "SELECT ?1, ?2",
                rusqlite::params![DeviceId(7), None::<GroupId>],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .unwrap();
        assert_eq!((device, group), (DeviceId(7), None));
    }
}
