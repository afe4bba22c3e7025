//! Query results on the wire: the last query hook runs every query (`SELECT`, `VALUES`,
//! `WITH ...`) the other hooks left, in both protocols, and the query of `DECLARE
//! CURSOR` (whose rows `FETCH` then reads: datafusion-postgres' cursor hook, installed
//! after this one, keeps FETCH and CLOSE), and answers with RowDescription
//! from [`result_fields`] and rows from [`RowEncoder`] — the type mapping and value
//! writers COPY uses too. datafusion-postgres' own path (arrow-pg's encoder) refused
//! uuid, `Decimal256`, lists of lists and decimals past 96 bits, printed `-0` as `0` and
//! dropped the scale of a binary `0.00`.
//!
//! The extended protocol's Execute knows the portal's result formats; the hook is not
//! given the portal, so [`QueryService`](crate::server::service::QueryService) leaves
//! them in the connection's [`ResultFormat`] before running it.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::common::ParamValues;
use datafusion::execution::SendableRecordBatchStream;
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::{DataFrame, SessionContext};
use datafusion::sql::sqlparser::ast::{Declare, DeclareType, Statement};
use datafusion_postgres::hooks::{HookClient, QueryHook};
use datafusion_postgres::pgwire::api::portal::{Format, Portal};
use datafusion_postgres::pgwire::api::results::{QueryResponse, Response, Tag};
use datafusion_postgres::pgwire::api::stmt::StoredStatement;
use datafusion_postgres::pgwire::api::store::PortalStore;
use datafusion_postgres::pgwire::api::ClientInfo;
use datafusion_postgres::pgwire::error::{PgWireError, PgWireResult};
use datafusion_postgres::pgwire::types::format::FormatOptions;
use futures::StreamExt;

use crate::engine::admission::{QueryGate, Started};
use crate::engine::prepare;
use crate::result_cache::ResultCache;
use crate::server::auth::Users;
use crate::server::errors::user_error;
use crate::server::row_description::result_fields;
use crate::server::row_encoder::{Framing, RowEncoder};
use crate::sqlstate::SqlState;

/// The result formats of the portal being executed on one connection.
#[derive(Debug, Default)]
pub struct ResultFormat(Mutex<Option<Format>>);

impl ResultFormat {
    /// Sets the formats for the next extended-protocol query of the connection.
    pub fn set(&self, format: Format) {
        *self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(format);
    }

    /// The formats set for this query (text when none were: the simple protocol).
    fn take(&self) -> Format {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
            .unwrap_or_default()
    }
}

fn api(e: datafusion::error::DataFusionError) -> PgWireError {
    PgWireError::ApiError(Box::new(e))
}

/// Executes `df` and streams its rows encoded in `format`.
///
/// # Errors
/// A column type PostgreSQL has no counterpart for, or the plan failed to start.
pub async fn query_response(
    df: DataFrame,
    format: &Format,
    client: &(dyn ClientInfo + Send + Sync),
) -> PgWireResult<Response> {
    let schema = Arc::new(df.schema().as_arrow().clone());
    let batches = df.execute_stream().await.map_err(api)?;
    rows_response(&schema, batches, format, client)
}

/// Streams `batches` (of a result whose schema is `schema`) encoded in `format`.
///
/// # Errors
/// A column type PostgreSQL has no counterpart for.
fn rows_response(
    schema: &SchemaRef,
    batches: SendableRecordBatchStream,
    format: &Format,
    client: &(dyn ClientInfo + Send + Sync),
) -> PgWireResult<Response> {
    let options = Arc::new(FormatOptions::from_client_metadata(client.metadata()));
    let fields = Arc::new(result_fields(schema, format, options)?);
    let mut encoder = RowEncoder::new(Framing::Length, Arc::clone(&fields), schema);
    let rows = batches.flat_map(move |batch| {
        let rows = match batch.map_err(api) {
            Ok(batch) => match encoder.data_rows(&batch) {
                Ok(rows) => rows.into_iter().map(Ok).collect(),
                Err(e) => vec![Err(e)],
            },
            Err(e) => vec![Err(e)],
        };
        futures::stream::iter(rows)
    });
    Ok(Response::Query(QueryResponse::new(fields, rows)))
}

/// Answers queries; installed after every other hook.
#[derive(Debug)]
pub struct ResultHook {
    pub format: Arc<ResultFormat>,
    pub cache: Arc<ResultCache>,
    pub gate: Arc<QueryGate>,
    pub users: Arc<Users>,
}

impl ResultHook {
    /// Answers `plan` (of `statement`, `params` bound) from the result cache, or runs
    /// it and keeps its rows there when they may be.
    async fn answer(
        &self,
        statement: &Statement,
        params: Option<&ParamValues>,
        plan: LogicalPlan,
        ctx: &SessionContext,
        format: &Format,
        client: &(dyn ClientInfo + Send + Sync),
    ) -> PgWireResult<Response> {
        let user = client.metadata().get("user").map_or("", String::as_str);
        let identity = self.cache.identify(
            &statement.to_string(),
            params,
            &plan,
            &ctx.state(),
            self.users.permissions(user),
        );
        let Some(identity) = identity else {
            let df = ctx.execute_logical_plan(plan).await.map_err(api)?;
            let schema = Arc::new(df.schema().as_arrow().clone());
            let batches = self.gate.execute(df).await.map_err(api)?;
            return rows_response(&schema, batches, format, client);
        };
        if let Some((schema, batches)) = self.cache.get(&identity) {
            return rows_response(&schema, batches, format, client);
        }
        let df = ctx.execute_logical_plan(plan).await.map_err(api)?;
        let schema = Arc::new(df.schema().as_arrow().clone());
        let started = self.gate.execute_or(df, || self.cache.get_again(&identity));
        match started.await.map_err(api)? {
            Started::Ran(batches) => {
                let batches = self.cache.record(identity, Arc::clone(&schema), batches);
                rows_response(&schema, batches, format, client)
            }
            Started::Instead((schema, batches)) => rows_response(&schema, batches, format, client),
        }
    }
}

#[async_trait]
impl QueryHook for ResultHook {
    async fn handle_simple_query(
        &self,
        statement: &Statement,
        ctx: &SessionContext,
        client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        match statement {
            Statement::Query(_) => {}
            Statement::Declare { stmts } => return Some(declare(stmts, ctx, client).await),
            _ => return None,
        }
        let plan = match prepare::plan(&ctx.state(), statement).await {
            Ok(plan) => plan,
            Err(e) => return Some(Err(api(e))),
        };
        Some(
            self.answer(statement, None, plan, ctx, &Format::UnifiedText, &*client)
                .await,
        )
    }

    async fn handle_extended_parse_query(
        &self,
        _statement: &Statement,
        _ctx: &SessionContext,
        _client: &(dyn ClientInfo + Send + Sync),
    ) -> Option<PgWireResult<LogicalPlan>> {
        None
    }

    async fn handle_extended_query(
        &self,
        statement: &Statement,
        plan: &LogicalPlan,
        params: &ParamValues,
        ctx: &SessionContext,
        client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        let format = self.format.take();
        match statement {
            Statement::Query(_) => {}
            Statement::Declare { stmts } => return Some(declare(stmts, ctx, client).await),
            _ => return None,
        }
        let run = async {
            let plan = plan
                .clone()
                .replace_params_with_values(params)
                .map_err(api)?;
            self.answer(statement, Some(params), plan, ctx, &format, &*client)
                .await
        };
        Some(run.await)
    }
}

/// Plans a statement from the one door ([`prepare`]) and starts it.
pub async fn run(
    statement: &Statement,
    ctx: &SessionContext,
) -> datafusion::error::Result<DataFrame> {
    let plan = prepare::plan(&ctx.state(), statement).await?;
    ctx.execute_logical_plan(plan).await
}

/// `DECLARE name CURSOR FOR query`: the query's rows wait in a cursor portal for `FETCH`.
async fn declare(
    declarations: &[Declare],
    ctx: &SessionContext,
    client: &mut dyn HookClient,
) -> PgWireResult<Response> {
    for declaration in declarations {
        let syntax = |message: &str| user_error(SqlState::SYNTAX_ERROR, message.to_owned());
        if declaration.declare_type != Some(DeclareType::Cursor) {
            return Err(syntax("only DECLARE ... CURSOR is supported"));
        }
        let name = declaration
            .names
            .first()
            .ok_or_else(|| syntax("cursor name is required"))?
            .value
            .clone();
        let query = declaration
            .for_query
            .as_ref()
            .ok_or_else(|| syntax("DECLARE CURSOR requires a FOR query"))?;
        let df = run(&Statement::Query(query.clone()), ctx)
            .await
            .map_err(api)?;
        let query = query.to_string();
        let Response::Query(rows) = query_response(df, &Format::UnifiedText, &*client).await?
        else {
            unreachable!("query_response answers with rows");
        };
        let statement = Arc::new(StoredStatement::new(name.clone(), (query, None), vec![]));
        let portal = Portal::new_cursor(name, statement);
        portal.start(rows).await;
        client.portal_store().put_portal(Arc::new(portal));
    }
    Ok(Response::Execution(Tag::new("DECLARE CURSOR")))
}
