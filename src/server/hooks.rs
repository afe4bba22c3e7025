//! Statement hooks that run before DataFusion sees a statement:
//! - [`ReadOnlyHook`]: INSERT/UPDATE/DELETE/DDL are refused with 25006;
//! - [`SessionHook`]: `SET search_path` / `SHOW search_path` for this connection only,
//!   and `SHOW` of the server settings ([`crate::pg::settings`]);
//! - [`CopyHook`]: `COPY (query) TO STDOUT` in text, csv (with HEADER) and binary
//!   ([`crate::server::copy_out`]).

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::common::{DFSchema, ParamValues};
use datafusion::logical_expr::{EmptyRelation, LogicalPlan};
use datafusion::prelude::SessionContext;
use datafusion::sql::sqlparser::ast::{CopyTarget, Expr, Set, Statement};
use datafusion_postgres::hooks::{HookClient, QueryHook};
use datafusion_postgres::pgwire::api::results::{
    DataRowEncoder, FieldFormat, FieldInfo, QueryResponse, Response, Tag,
};
use datafusion_postgres::pgwire::api::{ClientInfo, Type};
use datafusion_postgres::pgwire::error::{PgWireError, PgWireResult};
use futures::StreamExt;

use crate::engine::admission::QueryGate;
use crate::engine::SearchPath;
use crate::server::copy_out::{copy_format, copy_out, copy_query, CopyRows};
use crate::server::errors::user_error;
use crate::sqlstate::SqlState;

fn api(e: datafusion::error::DataFusionError) -> PgWireError {
    PgWireError::ApiError(Box::new(e))
}

/// A one-column, one-row text result (what `SHOW x` returns).
fn single_value(name: &str, value: &str) -> PgWireResult<Response> {
    let fields = Arc::new(vec![FieldInfo::new(
        name.to_owned(),
        None,
        None,
        Type::TEXT,
        FieldFormat::Text,
    )]);
    let mut encoder = DataRowEncoder::new(Arc::clone(&fields));
    encoder.encode_field(&Some(value))?;
    let row = encoder.take_row();
    Ok(Response::Query(QueryResponse::new(
        fields,
        futures::stream::once(async move { Ok(row) }).boxed(),
    )))
}

/// The plan extended-protocol clients describe: no rows, or one text column.
fn describe_plan(column: Option<&str>) -> PgWireResult<LogicalPlan> {
    let fields: Vec<Field> = column
        .map(|c| Field::new(c, DataType::Utf8, false))
        .into_iter()
        .collect();
    let schema = DFSchema::try_from(Schema::new(fields)).map_err(api)?;
    Ok(LogicalPlan::EmptyRelation(EmptyRelation {
        produce_one_row: column.is_some(),
        schema: Arc::new(schema),
    }))
}

/// The PostgreSQL command name of a write or DDL statement, `None` for reads.
fn write_command(statement: &Statement) -> Option<String> {
    let name = match statement {
        Statement::Insert(_) => "INSERT",
        Statement::Update { .. } => "UPDATE",
        Statement::Delete(_) => "DELETE",
        Statement::Merge { .. } => "MERGE",
        Statement::Truncate { .. } => "TRUNCATE",
        Statement::Copy { to: false, .. } => "COPY FROM",
        Statement::CreateTable(_) => "CREATE TABLE",
        Statement::CreateView(_) => "CREATE VIEW",
        Statement::CreateIndex(_) => "CREATE INDEX",
        Statement::CreateSchema { .. } => "CREATE SCHEMA",
        Statement::CreateDatabase { .. } => "CREATE DATABASE",
        Statement::CreateFunction(_) => "CREATE FUNCTION",
        Statement::CreateExtension { .. } => "CREATE EXTENSION",
        Statement::Drop { .. } => "DROP",
        Statement::DropFunction { .. } => "DROP FUNCTION",
        Statement::AlterTable { .. } => "ALTER TABLE",
        Statement::AlterView { .. } => "ALTER VIEW",
        Statement::Grant { .. } => "GRANT",
        Statement::Revoke { .. } => "REVOKE",
        _ => return None,
    };
    Some(name.to_owned())
}

fn read_only_error(command: &str) -> PgWireError {
    user_error(
        SqlState::READ_ONLY_SQL_TRANSACTION,
        format!(
            "cannot execute {command} in a read-only transaction: lake tables are files and warehouse tables are built by sql/warehouse scripts"
        ),
    )
}

/// Refuses writes and DDL: the lake is files, the warehouse is built by scripts.
#[derive(Debug)]
pub struct ReadOnlyHook;

#[async_trait]
impl QueryHook for ReadOnlyHook {
    async fn handle_simple_query(
        &self,
        statement: &Statement,
        _ctx: &SessionContext,
        _client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        write_command(statement).map(|c| Err(read_only_error(&c)))
    }

    async fn handle_extended_parse_query(
        &self,
        statement: &Statement,
        _ctx: &SessionContext,
        _client: &(dyn ClientInfo + Send + Sync),
    ) -> Option<PgWireResult<LogicalPlan>> {
        write_command(statement).map(|c| Err(read_only_error(&c)))
    }

    async fn handle_extended_query(
        &self,
        statement: &Statement,
        _plan: &LogicalPlan,
        _params: &ParamValues,
        _ctx: &SessionContext,
        _client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        write_command(statement).map(|c| Err(read_only_error(&c)))
    }
}

/// Connection settings that must not leak: the search path, and version reporting.
#[derive(Debug)]
pub struct SessionHook {
    pub search_path: SearchPath,
}

enum SessionStatement {
    SetSearchPath(Vec<String>),
    /// `DISCARD ALL|PLANS|...`: back to the connection's initial settings.
    Discard(String),
    /// Accepted and answered with this command tag.
    Tag(&'static str),
    /// Server-wide settings a session may not change (memory limit, spill dir).
    Refuse(String),
    Show(&'static str, String),
}

fn expr_text(e: &Expr) -> String {
    match e {
        Expr::Value(v) => v.clone().into_string().unwrap_or_else(|| v.to_string()),
        Expr::Identifier(i) => i.value.clone(),
        other => other.to_string(),
    }
}

impl SessionHook {
    fn classify(&self, statement: &Statement, ctx: &SessionContext) -> Option<SessionStatement> {
        match statement {
            // Read-only sessions have nothing to roll back to; drivers open savepoints
            // for nested transactions (psycopg's `conn.transaction()`).
            Statement::Savepoint { .. } => Some(SessionStatement::Tag("SAVEPOINT")),
            Statement::ReleaseSavepoint { .. } => Some(SessionStatement::Tag("RELEASE")),
            Statement::Discard { object_type } => Some(SessionStatement::Discard(format!(
                "DISCARD {}",
                object_type.to_string().to_uppercase()
            ))),
            Statement::Set(Set::SingleAssignment { variable, .. })
                if variable
                    .to_string()
                    .to_ascii_lowercase()
                    .starts_with("datafusion.runtime.") =>
            {
                Some(SessionStatement::Refuse(format!(
                    "parameter \"{variable}\" is server-wide; set it in the server configuration (server.memory_limit_mb)"
                )))
            }
            Statement::Set(Set::SingleAssignment {
                variable, values, ..
            }) if variable.to_string().eq_ignore_ascii_case("search_path") => {
                let schemas = values
                    .iter()
                    .flat_map(|v| {
                        expr_text(v)
                            .split(',')
                            .map(|s| s.trim().trim_matches('"').to_owned())
                            .collect::<Vec<_>>()
                    })
                    .filter(|s| !s.is_empty() && s != "$user")
                    .collect();
                Some(SessionStatement::SetSearchPath(schemas))
            }
            Statement::ShowVariable { variable } => {
                let words: Vec<String> = variable.iter().map(|i| i.value.to_lowercase()).collect();
                let name = words.join(" ");
                let dotted = words.join(".");
                match name.as_str() {
                    "search_path" => Some(SessionStatement::Show(
                        "search_path",
                        self.search_path.display(),
                    )),
                    _ if dotted.starts_with("datafusion.") => {
                        let key = dotted.as_str();
                        let entry = ctx
                            .state()
                            .config_options()
                            .entries()
                            .into_iter()
                            .find(|e| e.key == key)?;
                        Some(SessionStatement::Show(
                            "setting",
                            entry.value.unwrap_or_default(),
                        ))
                    }
                    _ => crate::pg::settings::find(&name)
                        .map(|s| SessionStatement::Show(s.name, (s.value)())),
                }
            }
            _ => None,
        }
    }

    fn respond(&self, s: SessionStatement) -> PgWireResult<Response> {
        match s {
            SessionStatement::SetSearchPath(schemas) => {
                self.search_path.set(schemas);
                Ok(Response::Execution(Tag::new("SET")))
            }
            SessionStatement::Tag(tag) => Ok(Response::Execution(Tag::new(tag))),
            SessionStatement::Discard(tag) => {
                self.search_path.set(crate::engine::default_search_path());
                Ok(Response::Execution(Tag::new(&tag)))
            }
            SessionStatement::Show(name, value) => single_value(name, &value),
            SessionStatement::Refuse(message) => {
                Err(user_error(SqlState::INSUFFICIENT_PRIVILEGE, message))
            }
        }
    }
}

#[async_trait]
impl QueryHook for SessionHook {
    async fn handle_simple_query(
        &self,
        statement: &Statement,
        ctx: &SessionContext,
        _client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        self.classify(statement, ctx).map(|s| self.respond(s))
    }

    async fn handle_extended_parse_query(
        &self,
        statement: &Statement,
        ctx: &SessionContext,
        _client: &(dyn ClientInfo + Send + Sync),
    ) -> Option<PgWireResult<LogicalPlan>> {
        self.classify(statement, ctx).map(|s| match s {
            SessionStatement::SetSearchPath(_)
            | SessionStatement::Discard(_)
            | SessionStatement::Tag(_) => describe_plan(None),
            SessionStatement::Refuse(message) => {
                Err(user_error(SqlState::INSUFFICIENT_PRIVILEGE, message))
            }
            SessionStatement::Show(name, _) => describe_plan(Some(name)),
        })
    }

    async fn handle_extended_query(
        &self,
        statement: &Statement,
        _plan: &LogicalPlan,
        _params: &ParamValues,
        ctx: &SessionContext,
        _client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        self.classify(statement, ctx).map(|s| self.respond(s))
    }
}

/// `COPY (query) TO STDOUT` and `COPY table TO STDOUT` (see [`crate::server::copy_out`]).
#[derive(Debug)]
pub struct CopyHook {
    /// Shared with the connection's sender, which reports the count in `COPY n`.
    pub rows: Arc<CopyRows>,
    pub gate: Arc<QueryGate>,
}

impl CopyHook {
    async fn copy_out(
        &self,
        statement: &Statement,
        ctx: &SessionContext,
        client: &dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        let Statement::Copy {
            source,
            to: true,
            target,
            options,
            legacy_options,
            ..
        } = statement
        else {
            return None;
        };
        if !matches!(target, CopyTarget::Stdout) {
            return Some(Err(user_error(
                SqlState::INSUFFICIENT_PRIVILEGE,
                "COPY to a file or program is not allowed; use COPY ... TO STDOUT (psql: \\copy)",
            )));
        }
        let format = match copy_format(options, legacy_options) {
            Ok(format) => format,
            Err(e) => return Some(Err(e)),
        };
        let query = match copy_query(source) {
            Ok(query) => query,
            Err(e) => return Some(Err(PgWireError::ApiError(Box::new(e)))),
        };
        Some(
            copy_out(
                &query,
                format,
                ctx,
                client,
                Arc::clone(&self.rows),
                &self.gate,
            )
            .await,
        )
    }
}

#[async_trait]
impl QueryHook for CopyHook {
    async fn handle_simple_query(
        &self,
        statement: &Statement,
        ctx: &SessionContext,
        client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        self.copy_out(statement, ctx, client).await
    }

    async fn handle_extended_parse_query(
        &self,
        statement: &Statement,
        _ctx: &SessionContext,
        _client: &(dyn ClientInfo + Send + Sync),
    ) -> Option<PgWireResult<LogicalPlan>> {
        matches!(statement, Statement::Copy { to: true, .. }).then(|| describe_plan(None))
    }

    async fn handle_extended_query(
        &self,
        statement: &Statement,
        _plan: &LogicalPlan,
        _params: &ParamValues,
        ctx: &SessionContext,
        client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        self.copy_out(statement, ctx, client).await
    }
}
