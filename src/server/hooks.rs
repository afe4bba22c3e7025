//! Statement hooks that run before DataFusion sees a statement:
//! - [`ReadOnlyHook`]: INSERT/UPDATE/DELETE/DDL are refused with 25006;
//! - [`SessionHook`]: `SET search_path` / `SHOW search_path|server_version[_num]` for this
//!   connection only;
//! - [`CopyHook`]: `COPY (query) TO STDOUT` in text, csv (with HEADER) and binary,
//!   streamed batch by batch.

use std::sync::Arc;

use async_trait::async_trait;
use bytes::BytesMut;
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::common::{DFSchema, ParamValues};
use datafusion::logical_expr::{EmptyRelation, LogicalPlan};
use datafusion::prelude::SessionContext;
use datafusion::sql::sqlparser::ast::{
    CopyLegacyCsvOption, CopyLegacyOption, CopyOption, CopySource, CopyTarget, Expr, Set, Statement,
};
use datafusion_postgres::arrow_pg::datatypes::arrow_schema_to_pg_fields;
use datafusion_postgres::arrow_pg::encoder::encode_value;
use datafusion_postgres::hooks::{HookClient, QueryHook};
use datafusion_postgres::pgwire::api::portal::Format;
use datafusion_postgres::pgwire::api::results::{
    CopyCsvOptions, CopyEncoder, CopyResponse, CopyTextOptions, DataRowEncoder, FieldFormat,
    FieldInfo, QueryResponse, Response, Tag,
};
use datafusion_postgres::pgwire::api::{ClientInfo, Type};
use datafusion_postgres::pgwire::error::{PgWireError, PgWireResult};
use datafusion_postgres::pgwire::messages::copy::CopyData;
use datafusion_postgres::pgwire::types::format::FormatOptions;
use futures::StreamExt;

use crate::engine::compat::{server_version, PG_VERSION_NUM};
use crate::engine::SearchPath;
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
                    "server_version" => {
                        Some(SessionStatement::Show("server_version", server_version()))
                    }
                    "transaction isolation level" | "transaction_isolation" => Some(
                        SessionStatement::Show("transaction_isolation", "read committed".to_owned()),
                    ),
                    "datestyle" => Some(SessionStatement::Show(
                        "DateStyle",
                        // Output is always ISO; the order only matters for input.
                        "ISO, MDY".to_owned(),
                    )),
                    "server_version_num" => Some(SessionStatement::Show(
                        "server_version_num",
                        PG_VERSION_NUM.to_owned(),
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
                    _ => None,
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

/// How COPY output is written.
#[derive(Debug, Clone, PartialEq)]
enum CopyFormat {
    Text {
        delimiter: char,
        null: String,
    },
    Csv {
        delimiter: char,
        null: String,
        quote: char,
        escape: char,
        header: bool,
    },
    Binary,
}

fn copy_format(options: &[CopyOption], legacy: &[CopyLegacyOption]) -> PgWireResult<CopyFormat> {
    let mut format = "text".to_owned();
    let mut delimiter = None;
    let mut null = None;
    let mut header = false;
    let mut quote = '"';
    let mut escape = None;
    for o in options {
        match o {
            CopyOption::Format(f) => format = f.value.to_lowercase(),
            CopyOption::Delimiter(c) => delimiter = Some(*c),
            CopyOption::Null(n) => null = Some(n.clone()),
            CopyOption::Header(h) => header = *h,
            CopyOption::Quote(c) => quote = *c,
            CopyOption::Escape(c) => escape = Some(*c),
            CopyOption::Encoding(e)
                if e.eq_ignore_ascii_case("utf8") || e.eq_ignore_ascii_case("utf-8") => {}
            other => {
                return Err(user_error(
                    SqlState::FEATURE_NOT_SUPPORTED,
                    format!("COPY option {other} is not supported"),
                ))
            }
        }
    }
    for o in legacy {
        match o {
            CopyLegacyOption::Binary => format = "binary".into(),
            CopyLegacyOption::Csv(csv) => {
                format = "csv".into();
                for c in csv {
                    match c {
                        CopyLegacyCsvOption::Header => header = true,
                        CopyLegacyCsvOption::Quote(q) => quote = *q,
                        CopyLegacyCsvOption::Escape(e) => escape = Some(*e),
                        other => {
                            return Err(user_error(
                                SqlState::FEATURE_NOT_SUPPORTED,
                                format!("COPY option {other} is not supported"),
                            ))
                        }
                    }
                }
            }
            CopyLegacyOption::Delimiter(c) => delimiter = Some(*c),
            CopyLegacyOption::Null(n) => null = Some(n.clone()),
            CopyLegacyOption::Header => header = true,
            other => {
                return Err(user_error(
                    SqlState::FEATURE_NOT_SUPPORTED,
                    format!("COPY option {other} is not supported"),
                ))
            }
        }
    }
    match format.as_str() {
        "text" => Ok(CopyFormat::Text {
            delimiter: delimiter.unwrap_or('\t'),
            null: null.unwrap_or_else(|| "\\N".into()),
        }),
        "csv" => Ok(CopyFormat::Csv {
            delimiter: delimiter.unwrap_or(','),
            null: null.unwrap_or_default(),
            quote,
            escape: escape.unwrap_or(quote),
            header,
        }),
        "binary" => Ok(CopyFormat::Binary),
        other => Err(user_error(
            SqlState::INVALID_PARAMETER_VALUE,
            format!("COPY format \"{other}\" not recognized"),
        )),
    }
}

fn csv_quote(s: &str, delimiter: char, quote: char, escape: char) -> String {
    if s.contains(delimiter)
        || s.contains(quote)
        || s.contains('\n')
        || s.contains('\r')
        || s.is_empty()
    {
        let mut out = String::with_capacity(s.len() + 2);
        out.push(quote);
        for c in s.chars() {
            if c == quote || c == escape {
                out.push(escape);
            }
            out.push(c);
        }
        out.push(quote);
        out
    } else {
        s.to_owned()
    }
}

/// `COPY (query) TO STDOUT` and `COPY table TO STDOUT`.
#[derive(Debug)]
pub struct CopyHook;

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
        Some(copy_out(source, options, legacy_options, ctx, client).await)
    }
}

async fn copy_out(
    source: &CopySource,
    options: &[CopyOption],
    legacy: &[CopyLegacyOption],
    ctx: &SessionContext,
    client: &dyn HookClient,
) -> PgWireResult<Response> {
    let format = copy_format(options, legacy)?;
    let sql = match source {
        CopySource::Query(q) => q.to_string(),
        CopySource::Table {
            table_name,
            columns,
        } => {
            let cols = if columns.is_empty() {
                "*".to_owned()
            } else {
                columns
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            format!("SELECT {cols} FROM {table_name}")
        }
    };
    let df = ctx.sql(&sql).await.map_err(api)?;
    let source_schema = Arc::new(df.schema().as_arrow().clone());
    // Text and CSV carry no types, so timestamps can be printed PostgreSQL's way as text.
    let as_text = format != CopyFormat::Binary;
    let schema = if as_text {
        crate::server::text_output::temporal_as_text_schema(&source_schema)
    } else {
        Arc::clone(&source_schema)
    };
    let wire_format = if format == CopyFormat::Binary {
        Format::UnifiedBinary
    } else {
        Format::UnifiedText
    };
    let format_options = Arc::new(FormatOptions::from_client_metadata(client.metadata()));
    let fields = Arc::new(arrow_schema_to_pg_fields(
        &schema,
        &wire_format,
        Some(format_options),
    )?);
    let columns = fields.len();
    let mut encoder = match &format {
        CopyFormat::Binary => CopyEncoder::new_binary(Arc::clone(&fields)),
        CopyFormat::Text { delimiter, null } => CopyEncoder::new_text(
            Arc::clone(&fields),
            CopyTextOptions {
                delimiter: delimiter.to_string().into(),
                null_string: null.as_str().into(),
            },
        ),
        CopyFormat::Csv {
            delimiter,
            null,
            quote,
            escape,
            ..
        } => CopyEncoder::new_csv(
            Arc::clone(&fields),
            CopyCsvOptions {
                delimiter: delimiter.to_string().into(),
                quote: quote.to_string().into(),
                escape: escape.to_string().into(),
                null_string: null.as_str().into(),
                force_quote: Vec::new(),
            },
        ),
    };
    let header = match &format {
        CopyFormat::Csv {
            header: true,
            delimiter,
            quote,
            escape,
            ..
        } => {
            let names: Vec<String> = schema
                .fields()
                .iter()
                .map(|f| csv_quote(f.name(), *delimiter, *quote, *escape))
                .collect();
            Some(format!("{}\n", names.join(&delimiter.to_string())))
        }
        _ => None,
    };
    // One CopyData per row: pgwire's `COPY n` tag counts messages. The CSV header rides
    // with the first row so it is not counted as one.
    let header = Arc::new(std::sync::Mutex::new(header));
    let leftover = Arc::clone(&header);
    let batches = df.execute_stream().await.map_err(api)?;
    let rows = batches
        .map(move |batch| -> PgWireResult<Vec<PgWireResult<CopyData>>> {
            let mut batch = batch.map_err(api)?;
            if as_text {
                batch = crate::server::text_output::temporal_as_text(&batch, &schema)
                    .map_err(|e| api(e.into()))?;
            }
            let mut out = Vec::with_capacity(batch.num_rows());
            for row in 0..batch.num_rows() {
                for (col, field) in fields.iter().enumerate() {
                    encode_value(
                        &mut encoder,
                        batch.column(col),
                        row,
                        batch.schema().field(col),
                        field,
                    )?;
                }
                let data = encoder.take_copy().data;
                let pending = header.lock().ok().and_then(|mut h| h.take());
                let data = match pending {
                    Some(h) => {
                        let mut joined = BytesMut::from(h.as_bytes());
                        joined.extend_from_slice(&data);
                        joined.freeze()
                    }
                    None => data,
                };
                out.push(Ok(CopyData::new(data)));
            }
            Ok(out)
        })
        .flat_map(|rows| match rows {
            Ok(rows) => futures::stream::iter(rows),
            Err(e) => futures::stream::iter(vec![Err(e)]),
        });
    // A header with no rows after it still goes out.
    let stream = rows.chain(futures::stream::once(async move {
        let pending = leftover.lock().ok().and_then(|mut h| h.take());
        Ok(CopyData::new(
            pending.map(|h| h.into_bytes().into()).unwrap_or_default(),
        ))
    }));
    let code = if format == CopyFormat::Binary { 1 } else { 0 };
    Ok(Response::CopyOut(CopyResponse::new(code, columns, stream)))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quoting_follows_postgres() {
        assert_eq!(csv_quote("plain", ',', '"', '"'), "plain");
        assert_eq!(csv_quote("a,b", ',', '"', '"'), "\"a,b\"");
        assert_eq!(csv_quote("say \"hi\"", ',', '"', '"'), "\"say \"\"hi\"\"\"");
    }
}
