use crate::clinics::dto::ClinicResponse;
use crate::db::schema::clinics;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = clinics)]
pub struct ClinicRow {
    pub id: Uuid,
    pub name: String,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<ClinicRow> for ClinicResponse {
    fn from(r: ClinicRow) -> Self {
        ClinicResponse {
            id: r.id,
            name: r.name,
            version: r.version,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

pub async fn insert(conn: &mut AsyncPgConnection, name: &str) -> QueryResult<ClinicRow> {
    diesel::insert_into(clinics::table)
        .values((clinics::id.eq(Uuid::now_v7()), clinics::name.eq(name)))
        .returning(ClinicRow::as_returning())
        .get_result(conn)
        .await
}

pub async fn find(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<ClinicRow> {
    clinics::table.find(id).select(ClinicRow::as_select()).first(conn).await
}
