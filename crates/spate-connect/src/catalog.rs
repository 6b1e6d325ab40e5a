//! The Catalog relation (`spark.catalog.*`): databases, tables, views, columns and functions
//! of the session, answered as small relations with the columns PySpark reads
//! (`listTables` -> name, catalog, namespace, description, tableType, isTemporary; ...).

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, BooleanArray, ListBuilder, RecordBatch, StringArray, StringBuilder,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::logical_expr::{LogicalPlan, LogicalPlanBuilder};
use spark_connect_proto::spark::connect::catalog::CatType;
use spark_connect_proto::spark::connect::{self as sc, Catalog};
use spate_common::names::split_name;
use spate_common::{Error, Result};
use spate_plan::Resolver;
use spate_plan::session::CATALOG;

use spate_session::Session;

/// A column of a catalog answer.
enum Col {
    Str(Vec<Option<String>>),
    Bool(Vec<bool>),
    List(Vec<Vec<String>>),
}

fn answer(resolver: &Resolver<'_>, cols: Vec<(&str, Col)>) -> Result<LogicalPlan> {
    let mut fields = Vec::new();
    let mut arrays: Vec<ArrayRef> = Vec::new();
    for (name, col) in cols {
        match col {
            Col::Str(v) => {
                fields.push(Field::new(name, DataType::Utf8, true));
                arrays.push(Arc::new(StringArray::from(v)));
            }
            Col::Bool(v) => {
                fields.push(Field::new(name, DataType::Boolean, false));
                arrays.push(Arc::new(BooleanArray::from(v)));
            }
            Col::List(v) => {
                let mut b = ListBuilder::new(StringBuilder::new());
                for row in v {
                    for s in row {
                        b.values().append_value(s);
                    }
                    b.append(true);
                }
                let array = b.finish();
                fields.push(Field::new(name, array.data_type().clone(), true));
                arrays.push(Arc::new(array));
            }
        }
    }
    let schema = Arc::new(Schema::new(fields));
    let batch =
        RecordBatch::try_new(schema.clone(), arrays).map_err(|e| Error::internal(e.to_string()))?;
    resolver.memory_plan(schema, vec![batch])
}

fn strings<I: IntoIterator<Item = S>, S: Into<String>>(v: I) -> Col {
    Col::Str(v.into_iter().map(|s| Some(s.into())).collect())
}

fn nulls(n: usize) -> Col {
    Col::Str(vec![None; n])
}

fn matches(pattern: &Option<String>, name: &str) -> bool {
    let Some(p) = pattern else { return true };
    // Spark's catalog patterns: '*' is any text, '|' separates alternatives.
    p.split('|').any(|alt| {
        let re = format!(
            "^{}$",
            spate_common::names::regex_escape(alt.trim()).replace("\\*", ".*")
        );
        regex_match(&re, name)
    })
}

fn regex_match(re: &str, name: &str) -> bool {
    // A tiny matcher for the only metacharacter we produce (`.*`).
    let body = re.trim_start_matches('^').trim_end_matches('$');
    let parts: Vec<String> = body.split(".*").map(|p| p.replace('\\', "")).collect();
    let name = name.to_lowercase();
    let mut pos = 0;
    for (i, part) in parts.iter().enumerate() {
        let part = part.to_lowercase();
        if i == 0 {
            if !name.starts_with(&part) {
                return false;
            }
            pos = part.len();
        } else if let Some(at) = name[pos..].find(&part) {
            pos += at + part.len();
        } else {
            return false;
        }
    }
    parts.len() > 1 || pos == name.len()
}

/// Resolves a Catalog relation.
pub async fn resolve(
    session: &Session,
    resolver: &Resolver<'_>,
    c: &Catalog,
) -> Result<LogicalPlan> {
    let cat = &session.catalog;
    let t = c
        .cat_type
        .as_ref()
        .ok_or_else(|| Error::internal("catalog request without a type"))?;
    let empty = || -> Result<LogicalPlan> { Ok(LogicalPlanBuilder::empty(false).build()?) };
    let table_rows = |names: Vec<(String, bool)>, db: &str| -> Result<LogicalPlan> {
        let n = names.len();
        answer(
            resolver,
            vec![
                ("name", strings(names.iter().map(|(t, _)| t.clone()))),
                (
                    "catalog",
                    Col::Str(
                        names
                            .iter()
                            .map(|(_, tmp)| (!tmp).then(|| CATALOG.to_string()))
                            .collect(),
                    ),
                ),
                (
                    "namespace",
                    Col::List(
                        names
                            .iter()
                            .map(|(_, tmp)| if *tmp { vec![] } else { vec![db.to_string()] })
                            .collect(),
                    ),
                ),
                ("description", nulls(n)),
                (
                    "tableType",
                    strings(
                        names
                            .iter()
                            .map(|(_, tmp)| if *tmp { "TEMPORARY" } else { "MANAGED" }),
                    ),
                ),
                (
                    "isTemporary",
                    Col::Bool(names.iter().map(|(_, tmp)| *tmp).collect()),
                ),
            ],
        )
    };
    match t {
        CatType::CurrentDatabase(_) => {
            answer(resolver, vec![("value", strings([cat.current_database()]))])
        }
        CatType::SetCurrentDatabase(sc::SetCurrentDatabase { db_name }) => {
            cat.set_current_database(db_name)?;
            empty()
        }
        CatType::CurrentCatalog(_) => answer(resolver, vec![("value", strings([CATALOG]))]),
        CatType::SetCurrentCatalog(sc::SetCurrentCatalog { catalog_name }) => {
            if catalog_name != CATALOG {
                return Err(Error::analysis(
                    "CATALOG_NOT_FOUND",
                    format!("The catalog `{catalog_name}` is not found."),
                ));
            }
            empty()
        }
        CatType::ListCatalogs(_) => answer(
            resolver,
            vec![("name", strings([CATALOG])), ("description", nulls(1))],
        ),
        CatType::ListDatabases(sc::ListDatabases { pattern }) => {
            let dbs: Vec<String> = cat
                .databases()
                .into_iter()
                .filter(|d| matches(pattern, d))
                .collect();
            let n = dbs.len();
            let locations: Vec<String> = dbs
                .iter()
                .map(|d| format!("file:{}", cat.database_dir(d).display()))
                .collect();
            answer(
                resolver,
                vec![
                    ("name", strings(dbs)),
                    ("catalog", strings(vec![CATALOG; n])),
                    ("description", nulls(n)),
                    ("locationUri", strings(locations)),
                ],
            )
        }
        CatType::GetDatabase(sc::GetDatabase { db_name }) => {
            if !cat.database_exists(db_name) {
                return Err(Error::analysis(
                    "SCHEMA_NOT_FOUND",
                    format!("The schema `{db_name}` cannot be found."),
                ));
            }
            let loc = format!("file:{}", cat.database_dir(db_name).display());
            answer(
                resolver,
                vec![
                    ("name", strings([db_name.clone()])),
                    ("catalog", strings([CATALOG])),
                    ("description", nulls(1)),
                    ("locationUri", strings([loc])),
                ],
            )
        }
        CatType::DatabaseExists(sc::DatabaseExists { db_name }) => answer(
            resolver,
            vec![("value", Col::Bool(vec![cat.database_exists(db_name)]))],
        ),
        CatType::CreateDatabase(sc::CreateDatabase {
            db_name,
            if_not_exists,
            properties: _,
        }) => {
            cat.create_database(db_name, *if_not_exists)?;
            empty()
        }
        CatType::ListTables(sc::ListTables { db_name, pattern }) => {
            let db = db_name.clone().unwrap_or_else(|| cat.current_database());
            let mut names: Vec<(String, bool)> = cat
                .tables(&db)
                .into_iter()
                .filter(|t| matches(pattern, t))
                .map(|t| (t, false))
                .collect();
            names.extend(
                cat.temp_views()
                    .into_iter()
                    .filter(|t| matches(pattern, t))
                    .map(|t| (t, true)),
            );
            table_rows(names, &db)
        }
        CatType::GetTable(sc::GetTable {
            table_name,
            db_name,
        }) => {
            let name = qualified(table_name, db_name);
            let temp = name.len() == 1 && cat.temp_views().contains(&name[0].to_lowercase());
            if !temp && !cat.table_exists(&name) {
                return Err(spate_plan::sql::table_not_found(&name.join(".")));
            }
            let db = if name.len() == 2 {
                name[0].clone()
            } else {
                cat.current_database()
            };
            table_rows(vec![(name.last().cloned().unwrap_or_default(), temp)], &db)
        }
        CatType::TableExists(sc::TableExists {
            table_name,
            db_name,
        }) => {
            let name = qualified(table_name, db_name);
            let exists = cat.table_exists(&name)
                || (name.len() == 1 && cat.temp_views().contains(&name[0].to_lowercase()))
                || (name.len() == 2
                    && name[0].eq_ignore_ascii_case("global_temp")
                    && cat.global_view_exists(&name[1]));
            answer(resolver, vec![("value", Col::Bool(vec![exists]))])
        }
        CatType::ListColumns(sc::ListColumns {
            table_name,
            db_name,
        }) => {
            let name = qualified(table_name, db_name);
            let plan = cat.lookup(resolver.state(), &name).await?;
            let partitions = cat
                .table_meta(&name)
                .map(|m| m.partition_columns)
                .unwrap_or_default();
            let fields = plan.schema().fields().clone();
            let n = fields.len();
            answer(
                resolver,
                vec![
                    ("name", strings(fields.iter().map(|f| f.name().clone()))),
                    ("description", nulls(n)),
                    (
                        "dataType",
                        strings(
                            fields
                                .iter()
                                .map(|f| spate_plan::types::simple_string(f.data_type())),
                        ),
                    ),
                    (
                        "nullable",
                        Col::Bool(fields.iter().map(|f| f.is_nullable()).collect()),
                    ),
                    (
                        "isPartition",
                        Col::Bool(
                            fields
                                .iter()
                                .map(|f| partitions.contains(f.name()))
                                .collect(),
                        ),
                    ),
                    ("isBucket", Col::Bool(vec![false; n])),
                    ("isCluster", Col::Bool(vec![false; n])),
                ],
            )
        }
        CatType::DropTempView(sc::DropTempView { view_name }) => answer(
            resolver,
            vec![("value", Col::Bool(vec![cat.drop_view(view_name, false)]))],
        ),
        CatType::DropGlobalTempView(sc::DropGlobalTempView { view_name }) => answer(
            resolver,
            vec![("value", Col::Bool(vec![cat.drop_view(view_name, true)]))],
        ),
        CatType::DropTable(sc::DropTable {
            table_name,
            if_exists,
            purge: _,
        }) => {
            spate_plan::Sources::drop_object(
                cat.as_ref(),
                "TABLE",
                &split_name(table_name),
                *if_exists,
            )
            .await?;
            empty()
        }
        CatType::DropView(sc::DropView {
            view_name,
            if_exists,
        }) => {
            spate_plan::Sources::drop_object(
                cat.as_ref(),
                "VIEW",
                &split_name(view_name),
                *if_exists,
            )
            .await?;
            empty()
        }
        CatType::IsCached(_) => answer(resolver, vec![("value", Col::Bool(vec![false]))]),
        CatType::ClearCache(_) => {
            session.cache.clear();
            empty()
        }
        CatType::CacheTable(_)
        | CatType::UncacheTable(_)
        | CatType::RefreshTable(_)
        | CatType::RefreshByPath(_) => empty(),
        CatType::ListFunctions(sc::ListFunctions {
            db_name: _,
            pattern,
        }) => {
            let state = resolver.state();
            let mut names: Vec<String> = state
                .scalar_functions()
                .keys()
                .chain(state.aggregate_functions().keys())
                .chain(state.window_functions().keys())
                .filter(|n| matches(pattern, n))
                .cloned()
                .collect();
            names.sort();
            names.dedup();
            let n = names.len();
            answer(
                resolver,
                vec![
                    ("name", strings(names)),
                    ("catalog", nulls(n)),
                    ("namespace", Col::List(vec![vec![]; n])),
                    ("description", nulls(n)),
                    ("className", nulls(n)),
                    ("isTemporary", Col::Bool(vec![true; n])),
                ],
            )
        }
        CatType::FunctionExists(sc::FunctionExists {
            function_name,
            db_name: _,
        }) => {
            let exists = spate_plan::functions::knows(function_name, resolver.state());
            answer(resolver, vec![("value", Col::Bool(vec![exists]))])
        }
        other => {
            let debug = format!("{other:?}");
            Err(Error::unsupported(format!(
                "catalog operation {}",
                debug.split('(').next().unwrap_or("unknown")
            )))
        }
    }
}

fn qualified(table: &str, db: &Option<String>) -> Vec<String> {
    let mut name = split_name(table);
    if let Some(db) = db.as_ref().filter(|_| name.len() == 1) {
        name.insert(0, db.clone());
    }
    name
}
