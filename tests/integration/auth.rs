//! Authentication: SCRAM with plain and verifier passwords, wrong password 28P01,
//! unknown database 3D000, trust only on loopback, concurrent logins.

use datapunk::config::Config;
use datapunk::scram::Verifier;

use crate::harness::{scalar, sqlstate, user, TestServer};

#[tokio::test]
async fn scram_logins_accept_right_and_refuse_wrong_passwords() {
    let verifier = Verifier::from_password("s3cret").to_string();
    let server = TestServer::start(|c, _| {
        c.auth.users = vec![
            user("ann", "plain-pw", false),
            user("bob", &verifier, false),
        ];
    })
    .await;
    let ann = server.connect_as("ann", Some("plain-pw")).await.unwrap();
    assert_eq!(
        scalar(&ann, "SELECT current_user").await.as_deref(),
        Some("ann")
    );
    let bob = server.connect_as("bob", Some("s3cret")).await.unwrap();
    assert_eq!(scalar(&bob, "SELECT 1").await.as_deref(), Some("1"));

    for (who, pw) in [("ann", "wrong"), ("bob", "plain-pw"), ("nobody", "x")] {
        let e = server.connect_as(who, Some(pw)).await.unwrap_err();
        assert_eq!(sqlstate(&e), "28P01", "{who}: {e}");
    }
    // Many logins at once all succeed (one handler per connection).
    let logins = (0..20).map(|_| server.connect_as("ann", Some("plain-pw")));
    for r in futures::future::join_all(logins).await {
        r.expect("concurrent login");
    }
}

#[tokio::test]
async fn unknown_database_is_3d000() {
    let server = TestServer::start(|_, _| {}).await;
    let s = format!(
        "host={} port={} user=x dbname=nope",
        server.addr.ip(),
        server.addr.port()
    );
    let Err(e) = tokio_postgres::connect(&s, tokio_postgres::NoTls).await else {
        panic!("unknown database must be refused");
    };
    assert_eq!(sqlstate(&e), "3D000");
}

#[tokio::test]
async fn trust_is_refused_off_loopback() {
    let mut config = Config::default();
    config.server.listen = "0.0.0.0:0".into();
    let e = datapunk::App::build(config.clone())
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("trust"), "{e}");
    // With a user it starts.
    config.auth.users = vec![user("u", "p", false)];
    config.lake.root = tempfile::tempdir().unwrap().path().display().to_string();
    std::fs::create_dir_all(&config.lake.root).unwrap();
    let app = datapunk::App::build(config)
        .await
        .expect("starts with users");
    assert_eq!(app.local_addr().unwrap().ip().to_string(), "0.0.0.0");
}

#[tokio::test]
async fn connections_beyond_the_limit_get_53300() {
    let server = TestServer::start(|c, _| c.server.max_connections = 2).await;
    let _a = server.client().await;
    let _b = server.client().await;
    let e = server.connect_as("c", None).await.unwrap_err();
    assert_eq!(sqlstate(&e), "53300");
}
