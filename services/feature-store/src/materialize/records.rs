//! Materializations as recorded: one row per run, read back with the progress of those still
//! in memory.

use cairn_api::{Materialization, MaterializationState};
use cairn_db::{Database, DbError};
use cairn_domain::{Name, Timestamp};
use diesel::prelude::*;

use crate::features::Features;
use crate::lock;
use crate::schema::materializations;

impl Features {
    /// A run: in progress from memory, else as recorded.
    pub(crate) async fn materialization(&self, id: String) -> Result<Option<Materialization>, DbError> {
        if let Some(run) = lock(&self.running).get(&id) {
            return Ok(Some(run.clone()));
        }
        let rows = self
            .db
            .run(move |conn| Ok(materializations::table.find(id).select(RunRow::as_select()).load(conn)?))
            .await?;
        rows.into_iter().next().map(RunRow::into_api).transpose()
    }

    /// The runs of a feature view, newest first.
    pub(crate) async fn materializations(&self, view: String) -> Result<Vec<Materialization>, DbError> {
        let rows = self
            .db
            .run(move |conn| {
                Ok(materializations::table
                    .filter(materializations::view.eq(view))
                    .order(materializations::created_at.desc())
                    .select(RunRow::as_select())
                    .limit(100)
                    .load(conn)?)
            })
            .await?;
        let running = lock(&self.running);
        rows.into_iter()
            .map(|row| row.into_api().map(|run| running.get(&run.id).cloned().unwrap_or(run)))
            .collect()
    }
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = materializations)]
struct RunRow {
    id: String,
    view: String,
    version: i64,
    start_micros: Option<i64>,
    end_micros: i64,
    state: String,
    files: i64,
    files_read: i64,
    rows_read: i64,
    entities: i64,
    rows_written: i64,
    error: Option<String>,
    created_at: i64,
    finished_at: Option<i64>,
}

impl RunRow {
    /// The run as recorded; a row that does not read back is damaged.
    fn into_api(self) -> Result<Materialization, DbError> {
        let id = self.id;
        let corrupt = |what: String| DbError::Corrupt(format!("materialization `{id}`: {what}"));
        let time = |micros: i64| {
            Timestamp::from_micros(micros).ok_or_else(|| corrupt(format!("{micros} µs is not a time")))
        };
        let count = |value: i64| u64::try_from(value).unwrap_or_default();
        Ok(Materialization {
            feature_view: Name::parse(self.view).map_err(|error| corrupt(error.to_string()))?,
            version: self.version,
            start: self.start_micros.map(time).transpose()?,
            end: time(self.end_micros)?,
            state: MaterializationState::parse(&self.state)
                .ok_or_else(|| corrupt(format!("state `{}`", self.state)))?,
            files: count(self.files),
            files_read: count(self.files_read),
            rows_read: count(self.rows_read),
            entities: count(self.entities),
            rows_written: count(self.rows_written),
            error: self.error,
            created_at: time(self.created_at)?,
            finished_at: self.finished_at.map(time).transpose()?,
            id: id.clone(),
        })
    }
}

pub(super) fn save(conn: &mut cairn_db::AnyConnection, run: &Materialization) -> Result<(), DbError> {
    let count = |value: u64| i64::try_from(value).unwrap_or(i64::MAX);
    diesel::delete(materializations::table.find(&run.id)).execute(conn)?;
    diesel::insert_into(materializations::table)
        .values((
            materializations::id.eq(&run.id),
            materializations::view.eq(run.feature_view.as_str()),
            materializations::version.eq(run.version),
            materializations::start_micros.eq(run.start.map(|start| start.as_micros())),
            materializations::end_micros.eq(run.end.as_micros()),
            materializations::state.eq(run.state.as_str()),
            materializations::files.eq(count(run.files)),
            materializations::files_read.eq(count(run.files_read)),
            materializations::rows_read.eq(count(run.rows_read)),
            materializations::entities.eq(count(run.entities)),
            materializations::rows_written.eq(count(run.rows_written)),
            materializations::error.eq(&run.error),
            materializations::created_at.eq(run.created_at.as_micros()),
            materializations::finished_at.eq(run.finished_at.map(|at| at.as_micros())),
        ))
        .execute(conn)?;
    Ok(())
}

/// Runs a restart cut short are failed: they are not running any more.
pub(crate) async fn fail_interrupted(db: &Database) -> Result<(), DbError> {
    db.run(|conn| {
        diesel::update(
            materializations::table
                .filter(materializations::state.eq(MaterializationState::Running.as_str())),
        )
        .set((
            materializations::state.eq(MaterializationState::Failed.as_str()),
            materializations::error.eq("interrupted: the feature store stopped during the run"),
            materializations::finished_at.eq(Timestamp::now().as_micros()),
        ))
        .execute(conn)?;
        Ok(())
    })
    .await
}
