//! Feature definitions: checked against the source datasets, planned against what the store
//! holds, and applied — all of it or nothing — in one transaction.

use std::collections::BTreeMap;

use cairn_api::{
    Action, Definitions, Entity, EntityDef, FeatureService, FeatureServiceDef, FeatureView, FeatureViewDef,
    Plan, PlannedChange, Projection, SourceDataset,
};
use cairn_db::{AnyConnection, Database, DbError};
use cairn_domain::{ColumnType, Name, Schema, Timestamp};
use cairn_events::v1::FeatureViewApplied;
use cairn_service::Outbox;
use diesel::prelude::*;
use sha2::{Digest as _, Sha256};

use crate::schema::{entities, feature_services, feature_views};

#[derive(Debug, thiserror::Error)]
pub(crate) enum DefinitionError {
    #[error("{kind} `{name}`, {field}: {message}")]
    Invalid { kind: &'static str, name: String, field: String, message: String },
    #[error("the feature store changed since this plan was made: plan again")]
    Stale,
    #[error(transparent)]
    Database(#[from] DbError),
}

impl From<diesel::result::Error> for DefinitionError {
    fn from(error: diesel::result::Error) -> Self {
        DefinitionError::Database(DbError::Query(error))
    }
}

const ENTITY: &str = "entity";
pub(crate) const VIEW: &str = "feature_view";
const SERVICE: &str = "feature_service";

pub(crate) fn invalid(
    kind: &'static str,
    name: &Name,
    field: impl Into<String>,
    message: impl Into<String>,
) -> DefinitionError {
    DefinitionError::Invalid { kind, name: name.to_string(), field: field.into(), message: message.into() }
}

/// A feature view as asked for, with what its entities and source resolve to.
#[derive(Debug, Clone)]
struct ResolvedView {
    definition: FeatureViewDef,
    join_keys: Vec<Name>,
    timestamp_field: Name,
}

/// A service's features as (view, features), before the views' versions are known.
type Wanted = Vec<(Name, Vec<Name>)>;

/// Definitions that passed every check.
pub(crate) struct Resolved {
    entities: BTreeMap<Name, EntityDef>,
    views: BTreeMap<Name, ResolvedView>,
    /// Each service with its projections as (view, features), versions not yet known.
    services: BTreeMap<Name, (FeatureServiceDef, Wanted)>,
}

/// Checks `definitions` on their own and against the source datasets; a view with a query
/// against its query's result columns (`outputs`, from `transform::outputs`).
pub(crate) fn resolve(
    definitions: Definitions,
    sources: &[SourceDataset],
    outputs: &BTreeMap<Name, Schema>,
) -> Result<Resolved, DefinitionError> {
    let mut entities = BTreeMap::new();
    for entity in definitions.entities {
        if entity.join_keys.is_empty() {
            return Err(invalid(ENTITY, &entity.name, "join_keys", "an entity needs at least one join key"));
        }
        if let Some(key) = duplicate(&entity.join_keys) {
            return Err(invalid(ENTITY, &entity.name, "join_keys", format!("`{key}` is named twice")));
        }
        let name = entity.name.clone();
        if entities.insert(name.clone(), entity).is_some() {
            return Err(invalid(ENTITY, &name, "name", "two entities have this name"));
        }
    }
    let mut views = BTreeMap::new();
    for view in definitions.feature_views {
        let resolved = resolve_view(view, &entities, sources, outputs)?;
        let name = resolved.definition.name.clone();
        if views.insert(name.clone(), resolved).is_some() {
            return Err(invalid(VIEW, &name, "name", "two feature views have this name"));
        }
    }
    let mut services = BTreeMap::new();
    for service in definitions.feature_services {
        let projections = resolve_service(&service, &views)?;
        let name = service.name.clone();
        if services.insert(name.clone(), (service, projections)).is_some() {
            return Err(invalid(SERVICE, &name, "name", "two feature services have this name"));
        }
    }
    Ok(Resolved { entities, views, services })
}

fn duplicate(names: &[Name]) -> Option<&Name> {
    names.iter().enumerate().find(|(i, name)| names[..*i].contains(name)).map(|(_, name)| name)
}

fn resolve_view(
    view: FeatureViewDef,
    entities: &BTreeMap<Name, EntityDef>,
    sources: &[SourceDataset],
    outputs: &BTreeMap<Name, Schema>,
) -> Result<ResolvedView, DefinitionError> {
    let name = view.name.clone();
    let source = sources
        .iter()
        .find(|source| source.name == view.source)
        .ok_or_else(|| invalid(VIEW, &name, "source", format!("no dataset `{}`", view.source)))?;
    // A view with a query reads its result's columns, which any type of string may fill.
    let (schema, origin, queried) = match outputs.get(&name) {
        Some(output) if view.sql.is_some() => (output, "the result of `sql`".to_owned(), true),
        _ => (&source.schema, format!("dataset `{}`", view.source), false),
    };
    let column = |field: String, column: &Name| {
        schema
            .column(column)
            .ok_or_else(|| invalid(VIEW, &name, field, format!("{origin} has no column `{column}`")))
    };
    if view.entities.is_empty() {
        return Err(invalid(VIEW, &name, "entities", "a feature view needs at least one entity"));
    }
    let mut join_keys: Vec<Name> = Vec::new();
    for (i, entity) in view.entities.iter().enumerate() {
        let found = entities
            .get(entity)
            .ok_or_else(|| invalid(VIEW, &name, format!("entities[{i}]"), format!("no entity `{entity}`")))?;
        for key in &found.join_keys {
            column(format!("entities[{i}] (join key `{key}`)"), key)?;
            if !join_keys.contains(key) {
                join_keys.push(key.clone());
            }
        }
    }
    let timestamp_field = view.timestamp_field.clone().unwrap_or_else(|| schema.event_timestamp.clone());
    let timestamp = |field: &str, column_name: &Name| -> Result<(), DefinitionError> {
        let found = column(field.to_owned(), column_name)?;
        if found.column_type != ColumnType::Timestamp {
            return Err(invalid(VIEW, &name, field, format!("`{column_name}` is not a timestamp column")));
        }
        Ok(())
    };
    timestamp("timestamp_field", &timestamp_field)?;
    if let Some(created) = &view.created_timestamp_field {
        timestamp("created_timestamp_field", created)?;
    }
    if view.features.is_empty() {
        return Err(invalid(VIEW, &name, "features", "a feature view needs at least one feature"));
    }
    for (i, feature) in view.features.iter().enumerate() {
        let field = format!("features[{i}]");
        let found = column(field.clone(), &feature.name)?;
        if view.features[..i].iter().any(|earlier| earlier.name == feature.name) {
            return Err(invalid(VIEW, &name, field, format!("`{}` is named twice", feature.name)));
        }
        if join_keys.contains(&feature.name) || feature.name == timestamp_field {
            return Err(invalid(
                VIEW,
                &name,
                field,
                format!("`{}` is a join key or the event time", feature.name),
            ));
        }
        let categorical = queried
            && found.column_type == ColumnType::String
            && matches!(feature.column_type, ColumnType::Categorical { .. });
        if std::mem::discriminant(&found.column_type) != std::mem::discriminant(&feature.column_type)
            && !categorical
        {
            return Err(invalid(
                VIEW,
                &name,
                field,
                format!(
                    "`{}` is declared {} but {origin} holds {}",
                    feature.name,
                    feature.column_type.name(),
                    found.column_type.name()
                ),
            ));
        }
    }
    Ok(ResolvedView { definition: view, join_keys, timestamp_field })
}

fn resolve_service(
    service: &FeatureServiceDef,
    views: &BTreeMap<Name, ResolvedView>,
) -> Result<Wanted, DefinitionError> {
    if service.features.is_empty() {
        return Err(invalid(
            SERVICE,
            &service.name,
            "features",
            "a feature service needs at least one feature",
        ));
    }
    let mut projections: Wanted = Vec::new();
    for (i, reference) in service.features.iter().enumerate() {
        let field = format!("features[{i}]");
        let bad = |message: String| invalid(SERVICE, &service.name, field.clone(), message);
        let (view_name, feature) = match reference.split_once(':') {
            Some((view, feature)) => (view, Some(feature)),
            None => (reference.as_str(), None),
        };
        let (view_name, view) = views
            .iter()
            .find(|(name, _)| name.as_str() == view_name)
            .ok_or_else(|| bad(format!("no feature view `{view_name}`")))?;
        let wanted: Vec<Name> = match feature {
            None => view.definition.features.iter().map(|f| f.name.clone()).collect(),
            Some(feature) => {
                let found = view.definition.features.iter().find(|f| f.name.as_str() == feature);
                vec![
                    found
                        .ok_or_else(|| bad(format!("feature view `{view_name}` has no feature `{feature}`")))?
                        .name
                        .clone(),
                ]
            }
        };
        let at = match projections.iter().position(|(name, _)| name == view_name) {
            Some(at) => at,
            None => {
                projections.push((view_name.clone(), Vec::new()));
                projections.len() - 1
            }
        };
        for feature in wanted {
            if !projections[at].1.contains(&feature) {
                projections[at].1.push(feature);
            }
        }
    }
    Ok(projections)
}

/// What the store holds now.
#[derive(Default)]
struct Current {
    /// With whether it was deleted.
    entities: BTreeMap<Name, (Entity, bool)>,
    views: BTreeMap<Name, FeatureView>,
    services: BTreeMap<Name, FeatureService>,
}

type ViewRow = (String, i64, String, String, String, i64, Option<i64>);
type ServiceRow = (String, i64, String, String, i64, Option<i64>);

fn corrupt(what: &str, error: impl std::fmt::Display) -> DbError {
    DbError::Corrupt(format!("{what}: {error}"))
}

/// A stored time, which a write took from a valid one: anything else is damage.
fn stored_time(what: &str, micros: i64) -> Result<Timestamp, DbError> {
    Timestamp::from_micros(micros).ok_or_else(|| corrupt(what, format!("{micros} µs is not a time")))
}

fn view_of(row: ViewRow) -> Result<FeatureView, DbError> {
    let (_, version, definition_json, join_keys_json, timestamp_field, created_at, deleted_at) = row;
    Ok(FeatureView {
        version,
        definition: serde_json::from_str(&definition_json).map_err(|e| corrupt("feature view", e))?,
        join_keys: serde_json::from_str(&join_keys_json).map_err(|e| corrupt("feature view", e))?,
        timestamp_field: Name::parse(timestamp_field).map_err(|e| corrupt("feature view", e))?,
        created_at: stored_time("feature view", created_at)?,
        deleted: deleted_at.is_some(),
    })
}

fn service_of(row: ServiceRow) -> Result<FeatureService, DbError> {
    let (name, version, projections_json, description, created_at, deleted_at) = row;
    Ok(FeatureService {
        name: Name::parse(name).map_err(|e| corrupt("feature service", e))?,
        version,
        projections: serde_json::from_str(&projections_json).map_err(|e| corrupt("feature service", e))?,
        description,
        created_at: stored_time("feature service", created_at)?,
        deleted: deleted_at.is_some(),
    })
}

fn view_columns() -> (
    feature_views::name,
    feature_views::version,
    feature_views::definition_json,
    feature_views::join_keys_json,
    feature_views::timestamp_field,
    feature_views::created_at,
    feature_views::deleted_at,
) {
    use feature_views::*;
    (name, version, definition_json, join_keys_json, timestamp_field, created_at, deleted_at)
}

fn service_columns() -> (
    feature_services::name,
    feature_services::version,
    feature_services::projections_json,
    feature_services::description,
    feature_services::created_at,
    feature_services::deleted_at,
) {
    use feature_services::*;
    (name, version, projections_json, description, created_at, deleted_at)
}

fn load_current(conn: &mut AnyConnection) -> Result<Current, DbError> {
    let mut current = Current::default();
    let rows: Vec<(String, String, i64, Option<i64>)> = entities::table
        .select((entities::name, entities::definition_json, entities::updated_at, entities::deleted_at))
        .load(conn)?;
    for (name, json, updated_at, deleted_at) in rows {
        let entity = Entity {
            definition: serde_json::from_str(&json).map_err(|e| corrupt("entity", e))?,
            updated_at: stored_time("entity", updated_at)?,
        };
        current
            .entities
            .insert(Name::parse(name).map_err(|e| corrupt("entity", e))?, (entity, deleted_at.is_some()));
    }
    // The latest version of each: rows come in version order, later ones replace earlier ones.
    let rows: Vec<ViewRow> =
        feature_views::table.select(view_columns()).order(feature_views::version.asc()).load(conn)?;
    for row in rows {
        let view = view_of(row)?;
        current.views.insert(view.definition.name.clone(), view);
    }
    let rows: Vec<ServiceRow> = feature_services::table
        .select(service_columns())
        .order(feature_services::version.asc())
        .load(conn)?;
    for row in rows {
        let service = service_of(row)?;
        current.services.insert(service.name.clone(), service);
    }
    Ok(current)
}

/// A change and what it writes.
struct Step {
    change: PlannedChange,
    write: Write,
}

enum Write {
    Nothing,
    Entity(EntityDef),
    DeleteEntity,
    View(ResolvedView),
    DescribeView(FeatureViewDef),
    Service { description: String, projections: Vec<Projection> },
    DescribeService(String),
    DeleteLatest,
}

fn change(
    kind: &str,
    name: &Name,
    action: Action,
    from: Option<i64>,
    to: Option<i64>,
    fields: Vec<String>,
) -> PlannedChange {
    PlannedChange {
        kind: kind.to_owned(),
        name: name.clone(),
        action,
        from_version: from,
        to_version: to,
        fields,
    }
}

/// The fields of two view definitions that differ in what the view's data is (a new version).
fn view_fields(old: &FeatureView, new: &ResolvedView) -> Vec<String> {
    let (a, b) = (&old.definition, &new.definition);
    let mut fields = Vec::new();
    let mut differ = |field: &str, same: bool| {
        if !same {
            fields.push(field.to_owned());
        }
    };
    differ("source", a.source == b.source);
    differ("entities", a.entities == b.entities && old.join_keys == new.join_keys);
    differ("features", a.features == b.features);
    differ("ttl_seconds", a.ttl_seconds == b.ttl_seconds);
    differ("timestamp_field", old.timestamp_field == new.timestamp_field);
    differ("created_timestamp_field", a.created_timestamp_field == b.created_timestamp_field);
    differ("sql", a.sql == b.sql);
    fields
}

fn plan_steps(current: &Current, desired: &Resolved) -> Vec<Step> {
    let mut steps = Vec::new();
    for (name, entity) in &desired.entities {
        let step = match current.entities.get(name) {
            Some((held, false)) if held.definition == *entity => Step {
                change: change(ENTITY, name, Action::Unchanged, None, None, Vec::new()),
                write: Write::Nothing,
            },
            Some((Entity { definition: held, .. }, false)) => {
                let mut fields = Vec::new();
                if held.join_keys != entity.join_keys {
                    fields.push("join_keys".to_owned());
                }
                if held.description != entity.description {
                    fields.push("description".to_owned());
                }
                Step {
                    change: change(ENTITY, name, Action::Update, None, None, fields),
                    write: Write::Entity(entity.clone()),
                }
            }
            _ => Step {
                change: change(ENTITY, name, Action::Create, None, None, Vec::new()),
                write: Write::Entity(entity.clone()),
            },
        };
        steps.push(step);
    }
    for (name, (_, deleted)) in &current.entities {
        if !deleted && !desired.entities.contains_key(name) {
            steps.push(Step {
                change: change(ENTITY, name, Action::Delete, None, None, Vec::new()),
                write: Write::DeleteEntity,
            });
        }
    }

    let mut view_versions: BTreeMap<Name, i64> = BTreeMap::new();
    for (name, view) in &desired.views {
        let held = current.views.get(name).filter(|held| !held.deleted);
        let fields = held.map(|held| view_fields(held, view)).unwrap_or_default();
        let redescribed = held.is_some_and(|held| held.definition.description != view.definition.description);
        let latest = current.views.get(name).map(|held| held.version);
        let (change, verdict) = versioned(VIEW, name, latest, held.is_some(), fields, redescribed);
        view_versions.insert(name.clone(), change.to_version.unwrap_or(1));
        let write = match verdict {
            Verdict::Write => Write::View(view.clone()),
            Verdict::Describe => Write::DescribeView(view.definition.clone()),
            Verdict::Nothing => Write::Nothing,
        };
        steps.push(Step { change, write });
    }
    let held_views = current.views.iter().map(|(name, view)| (name, view.version, view.deleted));
    steps.extend(deletions(VIEW, held_views, |name| desired.views.contains_key(name)));

    for (name, (service, wanted)) in &desired.services {
        let projections: Vec<Projection> = wanted
            .iter()
            .map(|(view, features)| Projection {
                feature_view: view.clone(),
                version: view_versions.get(view).copied().unwrap_or(1),
                features: features.clone(),
            })
            .collect();
        let held = current.services.get(name).filter(|held| !held.deleted);
        let fields = if held.is_some_and(|held| held.projections != projections) {
            vec!["features".into()]
        } else {
            Vec::new()
        };
        let redescribed = held.is_some_and(|held| held.description != service.description);
        let latest = current.services.get(name).map(|held| held.version);
        let (change, verdict) = versioned(SERVICE, name, latest, held.is_some(), fields, redescribed);
        let write = match verdict {
            Verdict::Write => Write::Service { description: service.description.clone(), projections },
            Verdict::Describe => Write::DescribeService(service.description.clone()),
            Verdict::Nothing => Write::Nothing,
        };
        steps.push(Step { change, write });
    }
    let held_services =
        current.services.iter().map(|(name, service)| (name, service.version, service.deleted));
    steps.extend(deletions(SERVICE, held_services, |name| desired.services.contains_key(name)));
    steps
}

/// What a versioned object's plan writes.
enum Verdict {
    /// A version: the first, or a new one.
    Write,
    /// The latest version's description.
    Describe,
    Nothing,
}

/// The change of a versioned object (a feature view or service) whose latest version is
/// `latest` (`live` unless deleted): a new version when `fields` — what its data is — differ, an
/// update in place when only its description does; a deleted or new one is created anew.
fn versioned(
    kind: &str,
    name: &Name,
    latest: Option<i64>,
    live: bool,
    fields: Vec<String>,
    redescribed: bool,
) -> (PlannedChange, Verdict) {
    match latest {
        Some(version) if live && !fields.is_empty() => {
            (change(kind, name, Action::NewVersion, Some(version), Some(version + 1), fields), Verdict::Write)
        }
        Some(version) if live && redescribed => (
            change(kind, name, Action::Update, Some(version), Some(version), vec!["description".into()]),
            Verdict::Describe,
        ),
        Some(version) if live => (
            change(kind, name, Action::Unchanged, Some(version), Some(version), Vec::new()),
            Verdict::Nothing,
        ),
        _ => (
            change(
                kind,
                name,
                Action::Create,
                None,
                Some(latest.map_or(1, |version| version + 1)),
                Vec::new(),
            ),
            Verdict::Write,
        ),
    }
}

/// Deletions of the live versioned objects held that `wanted` no longer names.
fn deletions<'a>(
    kind: &'a str,
    held: impl Iterator<Item = (&'a Name, i64, bool)> + 'a,
    wanted: impl Fn(&Name) -> bool + 'a,
) -> impl Iterator<Item = Step> + 'a {
    held.filter(move |(name, _, deleted)| !deleted && !wanted(name)).map(move |(name, version, _)| Step {
        change: change(kind, name, Action::Delete, Some(version), None, Vec::new()),
        write: Write::DeleteLatest,
    })
}

fn plan_of(steps: &[Step]) -> Plan {
    let changes: Vec<PlannedChange> = steps.iter().map(|step| step.change.clone()).collect();
    let digest = Sha256::digest(json(&changes)).iter().map(|b| format!("{b:02x}")).collect();
    Plan { changes, digest }
}

/// Definitions and plans as JSON: plain data (names, types, numbers, no maps keyed by anything
/// but strings), so writing them cannot fail.
#[expect(clippy::unwrap_used, reason = "definitions always serialize to JSON (see above)")]
fn json(value: &impl serde::Serialize) -> String {
    serde_json::to_string(value).unwrap()
}

/// What applying `desired` would do now.
pub(crate) async fn plan(db: &Database, desired: Resolved) -> Result<Plan, DefinitionError> {
    db.call(move |conn| Ok(plan_of(&plan_steps(&load_current(conn)?, &desired)))).await
}

/// Applies `desired` in one transaction; refused when `confirmed` names another plan.
pub(crate) async fn apply(
    db: &Database,
    desired: Resolved,
    confirmed: Option<String>,
) -> Result<Plan, DefinitionError> {
    db.call(move |conn| {
        cairn_db::write_transaction(conn, |conn| {
            // One apply at a time (SQLite's write transactions already are): a second one waits,
            // then plans against what the first left.
            if let AnyConnection::Postgresql(pg) = conn {
                diesel::sql_query(
                    "LOCK TABLE entities, feature_views, feature_services IN SHARE ROW EXCLUSIVE MODE",
                )
                .execute(pg)?;
            }
            let steps = plan_steps(&load_current(conn)?, &desired);
            let plan = plan_of(&steps);
            if confirmed.is_some_and(|digest| digest != plan.digest) {
                return Err(DefinitionError::Stale);
            }
            let now = Timestamp::now().as_micros();
            for step in steps {
                write(conn, &step, now)?;
            }
            Ok(plan)
        })
    })
    .await
}

fn write(conn: &mut AnyConnection, step: &Step, now: i64) -> Result<(), DefinitionError> {
    let name = step.change.name.as_str();
    match &step.write {
        Write::Nothing => {}
        Write::Entity(entity) => {
            diesel::delete(entities::table.find(name)).execute(conn)?;
            diesel::insert_into(entities::table)
                .values((
                    entities::name.eq(name),
                    entities::definition_json.eq(json(entity)),
                    entities::updated_at.eq(now),
                ))
                .execute(conn)?;
        }
        Write::DeleteEntity => {
            diesel::update(entities::table.find(name))
                .set(entities::deleted_at.eq(Some(now)))
                .execute(conn)?;
        }
        Write::View(view) => {
            let version = step.change.to_version.unwrap_or(1);
            diesel::insert_into(feature_views::table)
                .values((
                    feature_views::name.eq(name),
                    feature_views::version.eq(version),
                    feature_views::definition_json.eq(json(&view.definition)),
                    feature_views::join_keys_json.eq(json(&view.join_keys)),
                    feature_views::timestamp_field.eq(view.timestamp_field.as_str()),
                    feature_views::created_at.eq(now),
                ))
                .execute(conn)?;
            let definition = &view.definition;
            Outbox::stage(
                conn,
                &FeatureViewApplied {
                    feature_view: name.to_owned(),
                    version,
                    source_dataset: definition.source.to_string(),
                    entities: definition.entities.iter().map(ToString::to_string).collect(),
                    features: definition.features.iter().map(|f| f.name.to_string()).collect(),
                    ttl_seconds: i64::try_from(definition.ttl_seconds).unwrap_or(i64::MAX),
                },
            )?;
        }
        Write::DescribeView(definition) => {
            diesel::update(feature_views::table.find((name, step.change.from_version.unwrap_or_default())))
                .set(feature_views::definition_json.eq(json(definition)))
                .execute(conn)?;
        }
        Write::Service { description, projections } => {
            diesel::insert_into(feature_services::table)
                .values((
                    feature_services::name.eq(name),
                    feature_services::version.eq(step.change.to_version.unwrap_or(1)),
                    feature_services::projections_json.eq(json(projections)),
                    feature_services::description.eq(description),
                    feature_services::created_at.eq(now),
                ))
                .execute(conn)?;
        }
        Write::DescribeService(description) => {
            diesel::update(
                feature_services::table.find((name, step.change.from_version.unwrap_or_default())),
            )
            .set(feature_services::description.eq(description))
            .execute(conn)?;
        }
        Write::DeleteLatest => {
            let version = step.change.from_version.unwrap_or_default();
            if step.change.kind == VIEW {
                diesel::update(feature_views::table.find((name, version)))
                    .set(feature_views::deleted_at.eq(Some(now)))
                    .execute(conn)?;
            } else {
                diesel::update(feature_services::table.find((name, version)))
                    .set(feature_services::deleted_at.eq(Some(now)))
                    .execute(conn)?;
            }
        }
    }
    Ok(())
}

/// Entities, feature views (latest versions) and feature services (latest versions) held now,
/// deleted ones included.
pub(crate) async fn held(
    db: &Database,
) -> Result<(Vec<Entity>, Vec<FeatureView>, Vec<FeatureService>), DbError> {
    db.run(|conn| {
        let current = load_current(conn)?;
        let entities = current
            .entities
            .into_values()
            .filter(|(_, deleted)| !deleted)
            .map(|(entity, _)| entity)
            .collect();
        Ok((entities, current.views.into_values().collect(), current.services.into_values().collect()))
    })
    .await
}

/// Every version of feature view `name`, oldest first.
pub(crate) async fn view_versions(db: &Database, name: String) -> Result<Vec<FeatureView>, DbError> {
    db.run(move |conn| {
        let rows: Vec<ViewRow> = feature_views::table
            .select(view_columns())
            .filter(feature_views::name.eq(name))
            .order(feature_views::version.asc())
            .load(conn)?;
        rows.into_iter().map(view_of).collect()
    })
    .await
}

/// Every version of every feature view.
pub(crate) async fn all_views(db: &Database) -> Result<Vec<FeatureView>, DbError> {
    db.run(|conn| {
        let rows: Vec<ViewRow> = feature_views::table.select(view_columns()).load(conn)?;
        rows.into_iter().map(view_of).collect()
    })
    .await
}

/// Every version of feature service `name`, oldest first.
pub(crate) async fn service_versions(db: &Database, name: String) -> Result<Vec<FeatureService>, DbError> {
    db.run(move |conn| {
        let rows: Vec<ServiceRow> = feature_services::table
            .select(service_columns())
            .filter(feature_services::name.eq(name))
            .order(feature_services::version.asc())
            .load(conn)?;
        rows.into_iter().map(service_of).collect()
    })
    .await
}
