//! The query path of one connection: admin statements (`REFRESH WAREHOUSE`,
//! `REFRESH LAKE`, `CREATE AUDIENCE`, `DROP AUDIENCE`, `REFRESH AUDIENCE`, `RUN EXPORT`,
//! `PURGE ERASED`), then every other statement parsed by the one door
//! ([`crate::engine::prepare`]) and answered by the first hook that takes it
//! (datafusion-postgres' `DfSessionService` only for statements no hook answers: EXPLAIN,
//! DDL), with every running query counted so a graceful shutdown can wait for it.
//!
//! A query counts as running until its last row has been sent (or the client went away).
//! Extended-protocol Execute streams rows straight from the engine to the socket: pgwire
//! 0.41's portal fetch would first collect the whole result in memory.

use std::fmt::Debug;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::SessionContext;
use datafusion::sql::sqlparser::ast::Statement as SqlStatement;
use datafusion_postgres::hooks::QueryHook;
use datafusion_postgres::pgwire::api::copy::{send_copy_both_response, send_copy_in_response};
use datafusion_postgres::pgwire::api::portal::{Format, Portal, PortalExecutionState};
use datafusion_postgres::pgwire::api::query::{
    send_execution_response, send_query_response, send_ready_for_query,
};
use datafusion_postgres::pgwire::api::query::{ExtendedQueryHandler, SimpleQueryHandler};
use datafusion_postgres::pgwire::api::results::{DescribePortalResponse, FieldInfo, Response, Tag};
use datafusion_postgres::pgwire::api::stmt::QueryParser;
use datafusion_postgres::pgwire::api::store::Entry;
use datafusion_postgres::pgwire::api::store::PortalStore;
use datafusion_postgres::pgwire::api::Type;
use datafusion_postgres::pgwire::api::{ClientInfo, ClientPortalStore, METADATA_USER};
use datafusion_postgres::pgwire::api::{PgWireConnectionState, DEFAULT_NAME};
use datafusion_postgres::pgwire::error::{PgWireError, PgWireResult};
use datafusion_postgres::pgwire::messages::extendedquery::{
    Bind, BindComplete, Execute, PortalSuspended,
};
use datafusion_postgres::pgwire::messages::response::{CommandComplete, EmptyQueryResponse};
use datafusion_postgres::pgwire::messages::simplequery::Query;
use datafusion_postgres::pgwire::messages::PgWireBackendMessage;
use datafusion_postgres::{DfSessionService, Parser};
use futures::{Sink, SinkExt, StreamExt};
use tokio::sync::Notify;

use crate::engine::prepare;
use crate::pg::dialect;
use crate::server::auth::Users;
use crate::server::cancel::{QuerySlot, Statement};
use crate::server::copy_out::{send_copy_out, CopyRows};
use crate::server::errors::{self, user_error};
use crate::server::parameters;
use crate::server::results::ResultFormat;
use crate::server::row_description::result_fields;
use crate::sqlstate::SqlState;

/// Server-wide actions an admin user can trigger from SQL.
#[async_trait]
pub trait Admin: Send + Sync + Debug {
    /// Rebuilds the warehouse; returns a one-line summary.
    async fn refresh_warehouse(&self) -> Result<String, String>;
    /// Rescans the lake (and rebuilds the warehouse if it changed).
    async fn refresh_lake(&self) -> Result<String, String>;
    /// `CREATE AUDIENCE name AS query`.
    async fn create_audience(&self, name: &str, sql: &str) -> Result<String, crate::error::Error>;
    /// `DROP AUDIENCE name`.
    async fn drop_audience(&self, name: &str) -> Result<String, crate::error::Error>;
    /// `REFRESH AUDIENCE name`.
    async fn refresh_audience(&self, name: &str) -> Result<String, crate::error::Error>;
    /// `RUN EXPORT name`.
    async fn run_export(&self, name: &str) -> Result<String, crate::error::Error>;
    /// `PURGE ERASED`: rewrites the lake files without erased persons' rows.
    async fn purge_erased(&self) -> Result<String, crate::error::Error>;
}

/// Counts running queries; shutdown waits until it reaches zero.
#[derive(Debug, Default)]
pub struct Activity {
    running: AtomicUsize,
    idle: Notify,
}

/// Held while a query runs.
#[derive(Debug)]
pub struct Running(Arc<Activity>);

impl Activity {
    pub fn begin(self: &Arc<Self>) -> Arc<Running> {
        self.running.fetch_add(1, Ordering::SeqCst);
        Arc::new(Running(Arc::clone(self)))
    }

    pub fn running(&self) -> usize {
        self.running.load(Ordering::SeqCst)
    }

    /// Resolves once no query is running.
    pub async fn wait_idle(&self) {
        loop {
            let notified = self.idle.notified();
            if self.running() == 0 {
                return;
            }
            notified.await;
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if self.0.running.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

/// Prepares a response for the wire: rows printed as PostgreSQL prints them, streams
/// that stop when the statement is cancelled, and `running` held until the last row has
/// been streamed.
fn prepare_response(response: Response, running: &Arc<Running>, statement: &Statement) -> Response {
    match response {
        Response::Query(mut q) => {
            q.row_schema = Arc::new(crate::server::row_description::complete(
                q.row_schema.as_ref().clone(),
                None,
            ));
            let held = Arc::clone(running);
            q.data_rows = statement
                .guard(q.data_rows)
                .inspect(move |_| {
                    let _ = &held;
                })
                .boxed();
            Response::Query(q)
        }
        Response::CopyOut(mut c) => {
            let held = Arc::clone(running);
            c.data_stream = statement
                .guard(c.data_stream)
                .inspect(move |_| {
                    let _ = &held;
                })
                .boxed();
            Response::CopyOut(c)
        }
        other => other,
    }
}

/// The connection's `statement_timeout` as datafusion-postgres' SET handler stores it
/// (client metadata `statement_timeout_ms`; absent or 0 = none).
fn statement_timeout<C: ClientInfo>(client: &C) -> Option<std::time::Duration> {
    client
        .metadata()
        .get("statement_timeout_ms")
        .and_then(|v| v.parse::<u64>().ok())
        .filter(|ms| *ms > 0)
        .map(std::time::Duration::from_millis)
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum AdminCommand {
    RefreshWarehouse,
    RefreshLake,
    CreateAudience { name: String, sql: String },
    DropAudience { name: String, if_exists: bool },
    RefreshAudience { name: String },
    RunExport { name: String },
    PurgeErased,
}

impl AdminCommand {
    fn name(&self) -> &'static str {
        match self {
            Self::RefreshWarehouse => "REFRESH WAREHOUSE",
            Self::RefreshLake => "REFRESH LAKE",
            Self::CreateAudience { .. } => "CREATE AUDIENCE",
            Self::DropAudience { .. } => "DROP AUDIENCE",
            Self::RefreshAudience { .. } => "REFRESH AUDIENCE",
            Self::RunExport { .. } => "RUN EXPORT",
            Self::PurgeErased => "PURGE ERASED",
        }
    }
}

/// The first word of `text` (a double-quoted name is one word) and what follows it.
fn next_word(text: &str) -> Option<(&str, &str)> {
    let text = text.trim_start();
    let end = if let Some(quoted) = text.strip_prefix('"') {
        // The closing quote: a quote not doubled.
        let mut chars = quoted.char_indices().peekable();
        let mut close = None;
        while let Some((i, c)) = chars.next() {
            if c == '"' {
                if chars.peek().map(|(_, c)| *c) == Some('"') {
                    chars.next();
                } else {
                    close = Some(i + 2);
                    break;
                }
            }
        }
        close?
    } else {
        text.find(char::is_whitespace).unwrap_or(text.len())
    };
    (end > 0).then(|| (&text[..end], &text[end..]))
}

/// A name as written: `"x"` unquoted, otherwise folded to lower case as PostgreSQL does.
fn object_name(word: &str) -> String {
    match word.strip_prefix('"').and_then(|w| w.strip_suffix('"')) {
        Some(quoted) => quoted.replace("\"\"", "\""),
        None => word.to_lowercase(),
    }
}

fn admin_command(query: &str) -> Option<AdminCommand> {
    let text = query.trim().trim_end_matches(';');
    let (first, rest) = next_word(text)?;
    let (second, rest) = next_word(rest)?;
    let (first, second) = (first.to_ascii_uppercase(), second.to_ascii_uppercase());
    let only_name = |rest: &str| match next_word(rest) {
        Some((name, after)) if after.trim().is_empty() => Some(object_name(name)),
        _ => None,
    };
    match (first.as_str(), second.as_str()) {
        ("REFRESH", "WAREHOUSE") if rest.trim().is_empty() => Some(AdminCommand::RefreshWarehouse),
        ("REFRESH", "LAKE") if rest.trim().is_empty() => Some(AdminCommand::RefreshLake),
        ("PURGE", "ERASED") if rest.trim().is_empty() => Some(AdminCommand::PurgeErased),
        ("REFRESH", "AUDIENCE") => Some(AdminCommand::RefreshAudience {
            name: only_name(rest)?,
        }),
        ("RUN", "EXPORT") => Some(AdminCommand::RunExport {
            name: next_word(rest)
                .filter(|(_, after)| after.trim().is_empty())
                .map(|(name, _)| name.trim_matches('"').to_owned())?,
        }),
        ("DROP", "AUDIENCE") => {
            let (if_exists, rest) = match (
                next_word(rest),
                next_word(rest).and_then(|(_, r)| next_word(r)),
            ) {
                (Some((a, _)), Some((b, after)))
                    if a.eq_ignore_ascii_case("IF") && b.eq_ignore_ascii_case("EXISTS") =>
                {
                    (true, after)
                }
                _ => (false, rest),
            };
            Some(AdminCommand::DropAudience {
                name: only_name(rest)?,
                if_exists,
            })
        }
        ("CREATE", "AUDIENCE") => {
            let (name, rest) = next_word(rest)?;
            let (as_word, sql) = next_word(rest)?;
            as_word
                .eq_ignore_ascii_case("AS")
                .then(|| AdminCommand::CreateAudience {
                    name: object_name(name),
                    sql: sql.trim().to_owned(),
                })
        }
        _ => None,
    }
}

/// The extended protocol's Parse: the one door ([`prepare`]), then the hooks' plans for
/// the statements they answer, else the engine's plan.
pub struct DoorParser {
    /// The hooks the connection runs, asked in order for a plan of their statements.
    hooks: Vec<Arc<dyn QueryHook>>,
    /// The connection's session.
    ctx: Arc<SessionContext>,
}

impl Debug for DoorParser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DoorParser")
    }
}

impl DoorParser {
    /// The first statement of `statements` with its plan (the extended protocol runs one).
    async fn first_planned<C>(
        &self,
        client: &C,
        sql: &str,
        statements: Vec<SqlStatement>,
    ) -> PgWireResult<Option<<Self as QueryParser>::Statement>>
    where
        C: ClientInfo + Unpin + Send + Sync,
    {
        let Some(statement) = statements.into_iter().next() else {
            return Ok(None);
        };
        for hook in &self.hooks {
            if let Some(plan) = hook
                .handle_extended_parse_query(&statement, &self.ctx, client)
                .await
            {
                return Ok(Some((sql.to_owned(), Some((statement, plan?)))));
            }
        }
        let plan = prepare::plan(&self.ctx.state(), &statement)
            .await
            .map_err(api)?;
        Ok(Some((sql.to_owned(), Some((statement, plan)))))
    }
}

fn api(e: datafusion::error::DataFusionError) -> PgWireError {
    PgWireError::ApiError(Box::new(e))
}

#[async_trait]
impl QueryParser for DoorParser {
    type Statement = <Parser as QueryParser>::Statement;

    async fn parse_sql<C>(
        &self,
        client: &C,
        sql: &str,
        types: &[Option<Type>],
    ) -> PgWireResult<Option<Self::Statement>>
    where
        C: ClientInfo + Unpin + Send + Sync,
    {
        if admin_command(sql).is_some() {
            // Run by Execute ([`QueryService::execute_portal`]): no plan, no parameters,
            // no rows.
            return Ok(Some((sql.to_owned(), None)));
        }
        let statements = prepare::parse(sql).map_err(|e| errors::located(api(e), sql))?;
        let first = self
            .first_planned(client, sql, statements)
            .await
            .and_then(|s| declare_types(s, types))
            .map_err(|e| errors::located(e, sql));
        let Some(retry) = dialect::catalog_retry(sql) else {
            return first;
        };
        // DataFusion refuses an unaggregated correlated subquery when planning or, for
        // some shapes, only when optimizing (at Execute): check both before keeping it.
        let fails = match &first {
            Err(_) => true,
            Ok(Some((_, Some((_, plan))))) => self.ctx.state().optimize(plan).is_err(),
            Ok(_) => false,
        };
        if !fails {
            return first;
        }
        let retried = self.first_planned(client, sql, retry).await;
        match retried.and_then(|s| declare_types(s, types)) {
            Ok(statement) => Ok(statement),
            Err(_) => first,
        }
    }

    fn get_parameter_types(&self, stmt: &Self::Statement) -> PgWireResult<Vec<Type>> {
        match &stmt.1 {
            Some((_, plan)) => parameters::described_types(plan),
            None => Ok(Vec::new()),
        }
    }

    fn get_result_schema(
        &self,
        stmt: &Self::Statement,
        column_format: Option<&Format>,
    ) -> PgWireResult<Vec<FieldInfo>> {
        match &stmt.1 {
            Some((_, plan)) if !matches!(plan, LogicalPlan::Ddl(_) | LogicalPlan::Dml(_)) => {
                result_fields(
                    plan.schema().as_arrow(),
                    column_format.unwrap_or(&Format::UnifiedText),
                    Arc::default(),
                )
            }
            _ => Ok(Vec::new()),
        }
    }
}

/// A parsed statement with the parameter types the client declared put in its plan.
fn declare_types(
    statement: Option<<Parser as QueryParser>::Statement>,
    types: &[Option<Type>],
) -> PgWireResult<Option<<Parser as QueryParser>::Statement>> {
    Ok(match statement {
        Some((sql, Some((parsed, plan)))) => {
            let plan = parameters::with_declared_types(plan, types)
                .map_err(|e| PgWireError::ApiError(Box::new(e)))?;
            Some((sql, Some((parsed, plan))))
        }
        other => other,
    })
}

/// One connection's query handler.
pub struct QueryService {
    pub inner: Arc<DfSessionService>,
    pub parser: Arc<DoorParser>,
    /// The hooks `inner` runs; the extended protocol runs them itself, with parameters
    /// bound by [`parameters::bind`].
    hooks: Vec<Arc<dyn QueryHook>>,
    ctx: Arc<SessionContext>,
    parts: ServiceParts,
}

/// What a connection's [`QueryService`] shares with its hooks, its startup handler or
/// the whole server.
#[derive(Debug)]
pub struct ServiceParts {
    /// The statement this connection runs, for cancel requests and timeouts.
    pub slot: Arc<QuerySlot>,
    pub users: Arc<Users>,
    pub admin: Arc<dyn Admin>,
    pub activity: Arc<Activity>,
    /// Rows of the running COPY, counted by [`crate::server::hooks::CopyHook`].
    pub copy_rows: Arc<CopyRows>,
    /// Where Execute leaves the portal's result formats for [`ResultHook`].
    ///
    /// [`ResultHook`]: crate::server::results::ResultHook
    pub result_format: Arc<ResultFormat>,
}

impl QueryService {
    pub fn new(
        ctx: Arc<SessionContext>,
        hooks: Vec<Arc<dyn QueryHook>>,
        parts: ServiceParts,
    ) -> Self {
        let inner = Arc::new(DfSessionService::new_with_hooks(
            Arc::clone(&ctx),
            hooks.clone(),
        ));
        let parser = Arc::new(DoorParser {
            hooks: hooks.clone(),
            ctx: Arc::clone(&ctx),
        });
        Self {
            inner,
            parser,
            hooks,
            ctx,
            parts,
        }
    }

    /// Runs a portal: the hooks with parameters bound as PostgreSQL binds them, else
    /// datafusion-postgres (statements no hook answers: EXPLAIN, DDL).
    async fn execute_portal<C>(
        &self,
        client: &mut C,
        portal: &Portal<<Self as ExtendedQueryHandler>::Statement>,
        max_rows: usize,
    ) -> PgWireResult<Response>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = <Self as ExtendedQueryHandler>::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        if let (sql, None) = &portal.statement.statement {
            if let Some(command) = admin_command(sql) {
                return self.run_admin(client, command).await;
            }
        }
        if let (_, Some((statement, plan))) = &portal.statement.statement {
            let params = parameters::bind(portal, plan)?;
            for hook in &self.hooks {
                if let Some(result) = hook
                    .handle_extended_query(statement, plan, &params, &self.ctx, client)
                    .await
                {
                    return result;
                }
            }
        }
        ExtendedQueryHandler::do_query(self.inner.as_ref(), client, portal, max_rows).await
    }
}

impl Debug for QueryService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueryService")
            .field("admin", &self.parts.admin)
            .finish()
    }
}

impl QueryService {
    /// One statement of a simple query: the first hook that answers it, else
    /// datafusion-postgres (statements no hook answers: EXPLAIN, DDL).
    async fn run_simple<C>(
        &self,
        client: &mut C,
        statement: &SqlStatement,
    ) -> PgWireResult<Response>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        for hook in &self.hooks {
            if let Some(result) = hook.handle_simple_query(statement, &self.ctx, client).await {
                return result;
            }
        }
        let mut responses =
            SimpleQueryHandler::do_query(self.inner.as_ref(), client, &statement.to_string())
                .await?;
        Ok(if responses.is_empty() {
            Response::EmptyQuery
        } else {
            responses.swap_remove(0)
        })
    }

    async fn run_admin<C: ClientInfo>(
        &self,
        client: &C,
        command: AdminCommand,
    ) -> PgWireResult<Response> {
        let user = client
            .metadata()
            .get(METADATA_USER)
            .cloned()
            .unwrap_or_default();
        let name = command.name();
        if !self.parts.users.is_admin(&user) {
            return Err(user_error(
                SqlState::INSUFFICIENT_PRIVILEGE,
                format!("permission denied: {name} requires an admin user"),
            ));
        }
        tracing::info!(%user, "{name}");
        let admin = &self.parts.admin;
        let outcome = match &command {
            AdminCommand::RefreshWarehouse => admin
                .refresh_warehouse()
                .await
                .map_err(|m| user_error(SqlState::INTERNAL_ERROR, m)),
            AdminCommand::RefreshLake => admin
                .refresh_lake()
                .await
                .map_err(|m| user_error(SqlState::INTERNAL_ERROR, m)),
            AdminCommand::CreateAudience { name, sql } => admin
                .create_audience(name, sql)
                .await
                .map_err(|e| errors::from_error(&e)),
            AdminCommand::DropAudience { name, if_exists } => {
                match admin.drop_audience(name).await {
                    Err(crate::error::Error::Undefined { .. }) if *if_exists => {
                        Ok(format!("audience {name} does not exist, skipping"))
                    }
                    other => other.map_err(|e| errors::from_error(&e)),
                }
            }
            AdminCommand::RefreshAudience { name } => admin
                .refresh_audience(name)
                .await
                .map_err(|e| errors::from_error(&e)),
            AdminCommand::RunExport { name } => admin
                .run_export(name)
                .await
                .map_err(|e| errors::from_error(&e)),
            AdminCommand::PurgeErased => admin
                .purge_erased()
                .await
                .map_err(|e| errors::from_error(&e)),
        };
        outcome?;
        Ok(Response::Execution(Tag::new(match command {
            AdminCommand::CreateAudience { .. } => "CREATE AUDIENCE",
            AdminCommand::DropAudience { .. } => "DROP AUDIENCE",
            AdminCommand::RunExport { .. } => "RUN EXPORT",
            AdminCommand::PurgeErased => "PURGE",
            _ => "REFRESH",
        })))
    }
}

#[async_trait]
impl SimpleQueryHandler for QueryService {
    /// pgwire's simple query flow, except that COPY OUT goes through our sender
    /// ([`send_copy_out`]).
    async fn on_query<C>(&self, client: &mut C, query: Query) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        if !matches!(client.state(), PgWireConnectionState::ReadyForQuery) {
            return Err(PgWireError::NotReadyForQuery);
        }
        let mut transaction_status = client.transaction_status();
        client.set_state(PgWireConnectionState::QueryInProgress);
        if query.query.chars().all(|c| c == ';' || c.is_whitespace()) {
            client
                .feed(PgWireBackendMessage::EmptyQueryResponse(
                    EmptyQueryResponse::new(),
                ))
                .await?;
        } else {
            let responses = SimpleQueryHandler::do_query(self, client, &query.query).await?;
            for response in responses {
                match response {
                    Response::EmptyQuery => {
                        client
                            .feed(PgWireBackendMessage::EmptyQueryResponse(
                                EmptyQueryResponse::new(),
                            ))
                            .await?;
                    }
                    Response::Query(results) => send_query_response(client, results, true).await?,
                    Response::Execution(tag) => send_execution_response(client, tag).await?,
                    Response::TransactionStart(tag) => {
                        send_execution_response(client, tag).await?;
                        transaction_status = transaction_status.to_in_transaction_state();
                    }
                    Response::TransactionEnd(tag) => {
                        send_execution_response(client, tag).await?;
                        transaction_status = transaction_status.to_idle_state();
                    }
                    Response::Error(e) => {
                        client
                            .feed(PgWireBackendMessage::ErrorResponse((*e).into()))
                            .await?;
                        transaction_status = transaction_status.to_error_state();
                    }
                    Response::CopyIn(r) => {
                        send_copy_in_response(client, r).await?;
                        client.set_state(PgWireConnectionState::CopyInProgress(false));
                    }
                    Response::CopyOut(r) => send_copy_out(client, r, &self.parts.copy_rows).await?,
                    Response::CopyBoth(r) => {
                        send_copy_both_response(client, r).await?;
                        client.set_state(PgWireConnectionState::CopyInProgress(false));
                    }
                }
            }
        }
        if !matches!(client.state(), PgWireConnectionState::CopyInProgress(_)) {
            client.set_state(PgWireConnectionState::ReadyForQuery);
            client.set_transaction_status(transaction_status);
            send_ready_for_query(client, transaction_status).await?;
        }
        Ok(())
    }

    async fn do_query<C>(&self, client: &mut C, query: &str) -> PgWireResult<Vec<Response>>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        if let Some(command) = admin_command(query) {
            return Ok(vec![self.run_admin(client, command).await?]);
        }
        // Commands among other statements run one statement at a time, in order.
        if let Some(texts) = prepare::statement_texts(query)
            .filter(|t| t.len() > 1 && t.iter().any(|t| admin_command(t).is_some()))
        {
            let mut responses = Vec::with_capacity(texts.len());
            for text in texts {
                responses.extend(SimpleQueryHandler::do_query(self, client, text).await?);
            }
            return Ok(responses);
        }
        let running = self.parts.activity.begin();
        let statement = self.parts.slot.begin(statement_timeout(client));
        let statements = prepare::parse(query).map_err(|e| errors::located(api(e), query))?;
        if statements.is_empty() {
            return Ok(vec![Response::EmptyQuery]);
        }
        let mut retries = None;
        let mut responses = Vec::with_capacity(statements.len());
        for (i, parsed) in statements.iter().enumerate() {
            let mut outcome = tokio::select! {
                r = self.run_simple(client, parsed) => r,
                () = statement.cancelled() => return Err(statement.error()),
            };
            if outcome.is_err() {
                // The retry's statements stand for these one for one, or not at all.
                let retry = retries
                    .get_or_insert_with(|| {
                        dialect::catalog_retry(query)
                            .filter(|r| r.len() == statements.len())
                            .unwrap_or_default()
                    })
                    .get(i)
                    .cloned();
                if let Some(retry) = retry {
                    let retried = tokio::select! {
                        r = self.run_simple(client, &retry) => r,
                        () = statement.cancelled() => return Err(statement.error()),
                    };
                    if retried.is_ok() {
                        outcome = retried;
                    }
                }
            }
            let outcome = outcome.map_err(|e| errors::located(e, query))?;
            responses.push(prepare_response(outcome, &running, &statement));
        }
        Ok(responses)
    }
}

#[async_trait]
impl ExtendedQueryHandler for QueryService {
    type Statement = <DfSessionService as ExtendedQueryHandler>::Statement;
    type QueryParser = DoorParser;

    fn query_parser(&self) -> Arc<Self::QueryParser> {
        Arc::clone(&self.parser)
    }

    /// Describes a portal; a cursor opened by `DECLARE` (psycopg's named cursors) is
    /// described by its query's columns rather than the DECLARE statement's none.
    async fn do_describe_portal<C>(
        &self,
        _client: &mut C,
        target: &Portal<Self::Statement>,
    ) -> PgWireResult<DescribePortalResponse>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        if target.statement.statement.1.is_none() {
            if let PortalExecutionState::Suspended(cursor) = &*target.state().lock().await {
                return Ok(DescribePortalResponse::new(
                    cursor.row_schema().as_ref().clone(),
                ));
            }
        }
        let fields = self.parser.get_result_schema(
            &target.statement.statement,
            Some(&target.result_column_format),
        )?;
        Ok(DescribePortalResponse::new(fields))
    }

    /// pgwire's Execute, except that rows stream to the client instead of being collected
    /// first; `max_rows` (portal suspension) is honoured the same way.
    /// pgwire's Bind after PostgreSQL's checks of the format code counts (pgwire reads
    /// the codes by index unchecked, so a short list took the connection down).
    async fn on_bind<C>(&self, client: &mut C, message: Bind) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let bad_counts = |what: &str, codes: usize, count: usize, of: &str| {
            (codes > 1 && codes != count).then(|| {
                user_error(
                    SqlState::PROTOCOL_VIOLATION,
                    format!("bind message has {codes} {what} formats but {of}"),
                )
            })
        };
        let values = message.parameters.len();
        if let Some(e) = bad_counts(
            "parameter",
            message.parameter_format_codes.len(),
            values,
            &format!("{values} parameters"),
        ) {
            return Err(e);
        }
        let statement_name = message.statement_name.as_deref().unwrap_or(DEFAULT_NAME);
        let portal_name = message.portal_name.as_deref().unwrap_or(DEFAULT_NAME);
        match client.portal_store().get_statement(statement_name) {
            Some(Entry::Value(statement)) => {
                if let Some((_, plan)) = &statement.statement.1 {
                    let columns = plan.schema().fields().len();
                    if let Some(e) = bad_counts(
                        "result",
                        message.result_column_format_codes.len(),
                        columns,
                        &format!("query has {columns} columns"),
                    ) {
                        return Err(e);
                    }
                }
                let portal = Portal::try_new(&message, statement)?;
                client.portal_store().put_portal(Arc::new(portal));
            }
            Some(Entry::Empty) => {
                if values > 0 {
                    return Err(user_error(
                        SqlState::PROTOCOL_VIOLATION,
                        format!(
                            "bind message supplies {values} parameters, but prepared \
                             statement \"{statement_name}\" requires 0"
                        ),
                    ));
                }
                client.portal_store().put_empty_portal(portal_name);
            }
            None => return Err(PgWireError::StatementNotFound(statement_name.to_owned())),
        }
        client
            .send(PgWireBackendMessage::BindComplete(BindComplete::new()))
            .await?;
        Ok(())
    }

    async fn on_execute<C>(&self, client: &mut C, message: Execute) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        if !matches!(client.state(), PgWireConnectionState::ReadyForQuery) {
            return Err(PgWireError::NotReadyForQuery);
        }
        let mut transaction_status = client.transaction_status();
        client.set_state(PgWireConnectionState::QueryInProgress);
        let portal_name = message.name.as_deref().unwrap_or(DEFAULT_NAME);
        let max_rows = usize::try_from(message.max_rows).unwrap_or(0);
        let portal = match client.portal_store().get_portal(portal_name) {
            Some(Entry::Value(portal)) => portal,
            Some(Entry::Empty) => {
                client
                    .feed(PgWireBackendMessage::EmptyQueryResponse(
                        EmptyQueryResponse::new(),
                    ))
                    .await?;
                client.set_state(PgWireConnectionState::ReadyForQuery);
                return Ok(());
            }
            None => return Err(PgWireError::PortalNotFound(portal_name.to_owned())),
        };
        let state = portal.state();
        let initial = matches!(*state.lock().await, PortalExecutionState::Initial);
        let mut fetch = true;
        if initial {
            match ExtendedQueryHandler::do_query(self, client, portal.as_ref(), max_rows).await? {
                Response::Query(results) => {
                    *state.lock().await = PortalExecutionState::Suspended(results);
                }
                Response::EmptyQuery => {
                    client
                        .feed(PgWireBackendMessage::EmptyQueryResponse(
                            EmptyQueryResponse::new(),
                        ))
                        .await?;
                    fetch = false;
                }
                Response::Execution(tag) => {
                    send_execution_response(client, tag).await?;
                    fetch = false;
                }
                Response::TransactionStart(tag) => {
                    send_execution_response(client, tag).await?;
                    transaction_status = transaction_status.to_in_transaction_state();
                    fetch = false;
                }
                Response::TransactionEnd(tag) => {
                    send_execution_response(client, tag).await?;
                    transaction_status = transaction_status.to_idle_state();
                    client.portal_store().rm_portal(DEFAULT_NAME);
                    fetch = false;
                }
                Response::Error(e) => {
                    client
                        .send(PgWireBackendMessage::ErrorResponse((*e).into()))
                        .await?;
                    transaction_status = transaction_status.to_error_state();
                    fetch = false;
                }
                Response::CopyIn(r) => {
                    client.set_state(PgWireConnectionState::CopyInProgress(true));
                    send_copy_in_response(client, r).await?;
                    fetch = false;
                }
                Response::CopyOut(r) => {
                    send_copy_out(client, r, &self.parts.copy_rows).await?;
                    fetch = false;
                }
                Response::CopyBoth(r) => {
                    client.set_state(PgWireConnectionState::CopyInProgress(true));
                    send_copy_both_response(client, r).await?;
                    fetch = false;
                }
            }
        }
        if fetch {
            let mut guard = state.lock().await;
            match std::mem::replace(&mut *guard, PortalExecutionState::Finished) {
                PortalExecutionState::Suspended(mut response) => {
                    let tag = response.command_tag().to_owned();
                    let mut sent = 0usize;
                    let mut suspended = false;
                    while let Some(row) = response.data_rows().next().await {
                        let row = row?;
                        if max_rows > 0 && sent == max_rows {
                            // One row too many: keep it for the next Execute.
                            let rest = std::mem::replace(
                                response.data_rows(),
                                futures::stream::empty().boxed(),
                            );
                            *response.data_rows() = futures::stream::once(async move { Ok(row) })
                                .chain(rest)
                                .boxed();
                            *guard = PortalExecutionState::Suspended(response);
                            suspended = true;
                            break;
                        }
                        client.feed(PgWireBackendMessage::DataRow(row)).await?;
                        sent += 1;
                    }
                    if suspended {
                        client
                            .send(PgWireBackendMessage::PortalSuspended(PortalSuspended::new()))
                            .await?;
                    } else {
                        let tag = Tag::new(&tag).with_rows(sent);
                        client
                            .send(PgWireBackendMessage::CommandComplete(
                                CommandComplete::from(tag),
                            ))
                            .await?;
                    }
                }
                PortalExecutionState::Finished => {
                    let tag = Tag::new("SELECT").with_rows(0);
                    client
                        .send(PgWireBackendMessage::CommandComplete(
                            CommandComplete::from(tag),
                        ))
                        .await?;
                }
                PortalExecutionState::Initial => return Err(PgWireError::PortalNotStarted),
            }
        }
        if !matches!(client.state(), PgWireConnectionState::CopyInProgress(_)) {
            client.set_state(PgWireConnectionState::ReadyForQuery);
            client.set_transaction_status(transaction_status);
        }
        Ok(())
    }

    async fn do_query<C>(
        &self,
        client: &mut C,
        portal: &Portal<Self::Statement>,
        max_rows: usize,
    ) -> PgWireResult<Response>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let running = self.parts.activity.begin();
        let statement = self.parts.slot.begin(statement_timeout(client));
        self.parts
            .result_format
            .set(portal.result_column_format.clone());
        let response = tokio::select! {
            r = self.execute_portal(client, portal, max_rows) => r?,
            () = statement.cancelled() => return Err(statement.error()),
        };
        Ok(prepare_response(response, &running, &statement))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_commands_are_recognised_whole() {
        assert!(matches!(
            admin_command(" refresh  warehouse ;"),
            Some(AdminCommand::RefreshWarehouse)
        ));
        assert!(admin_command("REFRESH WAREHOUSE; SELECT 1").is_none());
        assert!(admin_command("SELECT 'REFRESH WAREHOUSE'").is_none());
    }

    #[test]
    fn audience_commands_keep_the_query_as_written() {
        assert_eq!(
            admin_command("create audience VIP as\n  SELECT customer_id FROM t WHERE x = 'A' ;"),
            Some(AdminCommand::CreateAudience {
                name: "vip".into(),
                sql: "SELECT customer_id FROM t WHERE x = 'A'".into()
            })
        );
        assert_eq!(
            admin_command("DROP AUDIENCE if exists \"vip\";"),
            Some(AdminCommand::DropAudience {
                name: "vip".into(),
                if_exists: true
            })
        );
        assert_eq!(
            admin_command("REFRESH AUDIENCE win_back"),
            Some(AdminCommand::RefreshAudience {
                name: "win_back".into()
            })
        );
        assert!(admin_command("REFRESH AUDIENCE a b").is_none());
        assert!(admin_command("CREATE AUDIENCE x SELECT 1").is_none());
    }
}
