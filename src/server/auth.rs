//! Connection startup: database check (3D000), authentication (trust on loopback, or
//! SCRAM-SHA-256 against `[[auth.users]]`, 28P01 on failure), ParameterStatus, and the
//! connection's identity (`current_user`). One handler instance per connection: the
//! exchange state lives in it, so concurrent logins cannot interfere.
//!
//! Passwords and verifiers are never logged.

use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use futures::{Sink, SinkExt};

use datafusion_postgres::pgwire::api::auth::{
    finish_authentication, protocol_negotiation, save_startup_parameters_to_metadata,
    DefaultServerParameterProvider, StartupHandler,
};
use datafusion_postgres::pgwire::api::{
    ClientInfo, PgWireConnectionState, PidSecretKeyGenerator, RandomPidSecretKeyGenerator,
    METADATA_DATABASE, METADATA_USER,
};
use datafusion_postgres::pgwire::error::{PgWireError, PgWireResult};
use datafusion_postgres::pgwire::messages::startup::Authentication;
use datafusion_postgres::pgwire::messages::{PgWireBackendMessage, PgWireFrontendMessage};

use crate::engine::access::Viewer;
use crate::engine::Session;
use crate::pg::system_info::server_version;
use crate::scram::{self, Verifier};
use crate::server::cancel::{CancelRegistry, QuerySlot};
use crate::server::errors::fatal;
use crate::sqlstate::SqlState;

/// Who may log in, shared by all connections.
#[derive(Debug)]
pub struct Users {
    /// None = trust: any user name, no password (loopback only, checked by config).
    verifiers: Option<HashMap<String, (Verifier, Viewer)>>,
    /// Key for fake salts of unknown users, so their exchange looks like a real one.
    mock_key: Vec<u8>,
}

impl Users {
    pub fn trust() -> Self {
        Self {
            verifiers: None,
            mock_key: scram::random_bytes(32),
        }
    }

    /// Users from config; passwords given in plain text get a verifier with a random salt.
    pub fn from_config(users: &[crate::config::UserConfig]) -> Self {
        if users.is_empty() {
            return Self::trust();
        }
        let verifiers = users
            .iter()
            .filter_map(|u| {
                let viewer = Viewer {
                    user: u.name.clone(),
                    admin: u.admin,
                    pii: u.pii,
                    schemas: u.schemas.clone(),
                };
                Some((
                    u.name.clone(),
                    (Verifier::from_config(&u.password)?, viewer),
                ))
            })
            .collect();
        Self {
            verifiers: Some(verifiers),
            mock_key: scram::random_bytes(32),
        }
    }

    pub fn is_trust(&self) -> bool {
        self.verifiers.is_none()
    }

    /// Whether `user` may run admin statements. Everyone is admin under trust.
    pub fn is_admin(&self, user: &str) -> bool {
        match &self.verifiers {
            None => true,
            Some(v) => v.get(user).is_some_and(|(_, viewer)| viewer.admin),
        }
    }

    /// What `user` reads as: under trust, everyone is an admin.
    pub fn viewer(&self, user: &str) -> Viewer {
        match self.verifiers.as_ref().map(|v| v.get(user)) {
            None => Viewer {
                user: user.to_owned(),
                ..Viewer::internal()
            },
            Some(Some((_, viewer))) => viewer.clone(),
            Some(None) => Viewer::nobody(),
        }
    }

    /// What `user` may read, as far as it changes the rows a query answers: cached
    /// results are shared only between users with the same.
    pub fn permissions(&self, user: &str) -> crate::result_cache::Permissions {
        crate::result_cache::Permissions(self.viewer(user).permissions_key())
    }

    /// The user's verifier, or a convincing fake that never matches.
    fn verifier(&self, user: &str) -> (Verifier, bool) {
        if let Some((v, _)) = self.verifiers.as_ref().and_then(|m| m.get(user)) {
            return (v.clone(), true);
        }
        let salt = ring::hmac::sign(
            &ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &self.mock_key),
            user.as_bytes(),
        );
        let fake = Verifier {
            iterations: scram::DEFAULT_ITERATIONS,
            salt: salt.as_ref()[..16].to_vec(),
            stored_key: scram::random_bytes(32),
            server_key: scram::random_bytes(32),
        };
        (fake, false)
    }
}

/// Why a connection is turned away before it starts (limit reached, shutting down).
#[derive(Debug, Clone)]
pub struct Refusal {
    pub code: SqlState,
    pub message: String,
}

#[derive(Debug)]
enum Exchange {
    Start,
    Scram {
        state: scram::ServerFirst,
        known: bool,
    },
    Done,
}

/// The startup handler of one connection.
pub struct Startup {
    users: Arc<Users>,
    database: String,
    session: Session,
    cancels: Arc<CancelRegistry>,
    /// This connection's running statement, registered under its cancel key at login.
    slot: Arc<QuerySlot>,
    refusal: Option<Refusal>,
    /// Refuse connections that did not negotiate TLS.
    require_tls: bool,
    exchange: Mutex<Exchange>,
}

impl Debug for Startup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Startup")
            .field("database", &self.database)
            .finish()
    }
}

impl Startup {
    pub fn new(
        users: Arc<Users>,
        database: String,
        session: Session,
        cancels: Arc<CancelRegistry>,
        slot: Arc<QuerySlot>,
        refusal: Option<Refusal>,
        require_tls: bool,
    ) -> Self {
        Self {
            users,
            database,
            session,
            cancels,
            slot,
            refusal,
            require_tls,
            exchange: Mutex::new(Exchange::Start),
        }
    }

    fn parameters(&self) -> DefaultServerParameterProvider {
        let mut p = DefaultServerParameterProvider::default();
        p.server_version = server_version();
        p.date_style = "ISO, MDY".to_owned();
        p.time_zone = "UTC".to_owned();
        p.search_path = self.session.search_path.display();
        p
    }

    /// Login succeeded: identity, cancel key, ParameterStatus, ReadyForQuery.
    async fn finish<C>(&self, client: &mut C) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let user = client
            .metadata()
            .get(METADATA_USER)
            .cloned()
            .unwrap_or_default();
        for udf in crate::pg::system_info::user_udfs(&user) {
            self.session.ctx.register_udf(udf);
        }
        self.session.viewer.set(self.users.viewer(&user));
        // One generator for the process, so every connection gets its own pid.
        static KEYS: std::sync::LazyLock<RandomPidSecretKeyGenerator> =
            std::sync::LazyLock::new(RandomPidSecretKeyGenerator::default);
        let (pid, secret) = KEYS.generate(client);
        self.session
            .set_connection(crate::pg::catalog::extra::Connection {
                pid,
                ssl: client.is_secure(),
            });
        self.cancels.register(pid, &secret, &self.slot);
        client.set_pid_and_secret_key(pid, secret);
        tracing::debug!(%user, peer = %client.socket_addr(), "login");
        finish_authentication(client, &self.parameters()).await
    }
}

fn take(exchange: &Mutex<Exchange>) -> Exchange {
    exchange
        .lock()
        .map(|mut e| std::mem::replace(&mut *e, Exchange::Done))
        .unwrap_or(Exchange::Done)
}

#[async_trait]
impl StartupHandler for Startup {
    async fn on_startup<C>(
        &self,
        client: &mut C,
        message: PgWireFrontendMessage,
    ) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        match message {
            PgWireFrontendMessage::Startup(ref startup) => {
                if let Some(r) = &self.refusal {
                    return Err(fatal(r.code, r.message.clone()));
                }
                if self.require_tls && !client.is_secure() {
                    return Err(fatal(
                        SqlState::INVALID_AUTHORIZATION_SPECIFICATION,
                        "this server only accepts encrypted connections: connect with sslmode=require",
                    ));
                }
                protocol_negotiation(client, startup).await?;
                save_startup_parameters_to_metadata(client, startup);
                let Some(user) = client.metadata().get(METADATA_USER).cloned() else {
                    return Err(fatal(
                        SqlState::INVALID_AUTHORIZATION_SPECIFICATION,
                        "no PostgreSQL user name specified in startup packet",
                    ));
                };
                let database = client
                    .metadata()
                    .get(METADATA_DATABASE)
                    .cloned()
                    .unwrap_or_else(|| user.clone());
                if database != self.database {
                    return Err(fatal(
                        SqlState::INVALID_CATALOG_NAME,
                        format!("database \"{database}\" does not exist"),
                    ));
                }
                if self.users.is_trust() {
                    return self.finish(client).await;
                }
                client.set_state(PgWireConnectionState::AuthenticationInProgress);
                client
                    .send(PgWireBackendMessage::Authentication(Authentication::SASL(
                        vec!["SCRAM-SHA-256".to_owned()],
                    )))
                    .await?;
            }
            PgWireFrontendMessage::PasswordMessageFamily(msg) => {
                let user = client
                    .metadata()
                    .get(METADATA_USER)
                    .cloned()
                    .unwrap_or_default();
                match take(&self.exchange) {
                    Exchange::Start => {
                        let initial = msg.into_sasl_initial_response()?;
                        if initial.auth_method != "SCRAM-SHA-256" {
                            return Err(PgWireError::UnsupportedSASLAuthMethod(
                                initial.auth_method,
                            ));
                        }
                        let (verifier, known) = self.users.verifier(&user);
                        let data = initial.data.unwrap_or_default();
                        let (server_first, state) = scram::server_first(&data, verifier)
                            .map_err(|e| PgWireError::InvalidScramMessage(format!("{e:?}")))?;
                        if let Ok(mut e) = self.exchange.lock() {
                            *e = Exchange::Scram { state, known };
                        }
                        client
                            .send(PgWireBackendMessage::Authentication(
                                Authentication::SASLContinue(server_first.into_bytes().into()),
                            ))
                            .await?;
                    }
                    Exchange::Scram { state, known } => {
                        let response = msg.into_sasl_response()?;
                        match state.server_final(&response.data) {
                            Ok(server_final) if known => {
                                client
                                    .feed(PgWireBackendMessage::Authentication(
                                        Authentication::SASLFinal(server_final.into_bytes().into()),
                                    ))
                                    .await?;
                                self.finish(client).await?;
                            }
                            _ => {
                                tracing::info!(%user, peer = %client.socket_addr(), "password authentication failed");
                                return Err(fatal(
                                    SqlState::INVALID_PASSWORD,
                                    format!("password authentication failed for user \"{user}\""),
                                ));
                            }
                        }
                    }
                    Exchange::Done => return Err(PgWireError::InvalidSASLState),
                }
            }
            _ => {}
        }
        Ok(())
    }
}
