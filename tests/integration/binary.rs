//! The `datapunk` binary as a user runs it: one command serves the demo lake, SIGTERM
//! exits 0, `generate` is deterministic, `passwd` prints a usable verifier, `--help`
//! explains every flag.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_datapunk");

use crate::harness::ServerProcess;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_demo_with_one_command_and_stop_on_sigterm() {
    let home = tempfile::tempdir().unwrap();
    let mut child = ServerProcess(
        Command::new(BIN)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .env("XDG_CACHE_HOME", home.path())
            .env("RUST_LOG", "info")
            .stderr(Stdio::piped())
            .spawn()
            .expect("datapunk starts"),
    );
    let stderr = child.0.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut log = Vec::new();
    let port = loop {
        let line = rx
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .unwrap_or_else(|_| panic!("no ready line; log so far:\n{}", log.join("\n")));
        log.push(line.clone());
        if let Some(rest) = line.split("datapunk ready: psql -h 127.0.0.1 -p ").nth(1) {
            break rest
                .split(|c: char| !c.is_ascii_digit())
                .next()
                .unwrap()
                .parse::<u16>()
                .unwrap();
        }
    };
    let all = log.join("\n");
    assert!(all.contains("serving the built-in demo lake"), "{all}");
    assert!(all.contains("trust authentication"), "{all}");

    let (client, conn) = tokio_postgres::connect(
        &format!("host=127.0.0.1 port={port} user=newcomer dbname=datapunk"),
        tokio_postgres::NoTls,
    )
    .await
    .unwrap();
    tokio::spawn(conn);
    let tables: i64 = client
        .query_one(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema IN ('lake', 'warehouse')",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(tables, 18, "7 lake tables and 11 warehouse tables");
    let customers: i64 = client
        .query_one("SELECT count(*) FROM warehouse.customers", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(customers, 4000);

    let status = Command::new("kill")
        .args(["-TERM", &child.0.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(30);
    let exit = loop {
        if let Some(s) = child.0.try_wait().unwrap() {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "server did not stop after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(exit.success(), "exit status {exit:?}");
}

/// Every file the generator wrote: the tables' parts and the identity ground truth.
fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for table in std::fs::read_dir(dir).unwrap().flatten() {
        if table.path().is_file() {
            let name = table.file_name().to_string_lossy().into_owned();
            out.push((name, std::fs::read(table.path()).unwrap()));
            continue;
        }
        for f in std::fs::read_dir(table.path()).unwrap().flatten() {
            let name = format!(
                "{}/{}",
                table.file_name().to_string_lossy(),
                f.file_name().to_string_lossy()
            );
            out.push((name, std::fs::read(f.path()).unwrap()));
        }
    }
    out.sort();
    out
}

#[test]
fn generate_is_deterministic_and_writes_several_files_per_table() {
    let dir = tempfile::tempdir().unwrap();
    let run = |out: &str, seed: &str| {
        let o = Command::new(BIN)
            .args([
                "generate",
                "--out",
                &dir.path().join(out).display().to_string(),
            ])
            .args([
                "--order-lines",
                "3e3",
                "--seed",
                seed,
                "--rows-per-file",
                "1000",
            ])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        files(&dir.path().join(out))
    };
    let a = run("a", "5");
    let b = run("b", "5");
    let c = run("c", "6");
    assert_eq!(a, b, "same seed, same bytes");
    assert_ne!(a, c, "another seed, other data");
    let names: Vec<&str> = a.iter().map(|(n, _)| n.as_str()).collect();
    for table in [
        "customers",
        "products",
        "orders",
        "order_lines",
        "web_events",
        "guest_orders",
        "experiment_assignments",
    ] {
        assert!(
            names
                .iter()
                .any(|n| n.starts_with(&format!("{table}/part-"))),
            "{names:?}"
        );
    }
    assert!(names.contains(&"_identity_truth.csv"), "{names:?}");
    assert!(
        names.contains(&"order_lines/part-00002.parquet"),
        "{names:?}"
    );
    assert!(!names
        .iter()
        .any(|n| n.contains('_') && n.contains("inprogress")));
}

#[test]
fn passwd_prints_a_verifier_for_the_password() {
    let mut child = Command::new(BIN)
        .arg("passwd")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"correct horse\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let v = datapunk::scram::Verifier::parse(text.trim()).expect("a SCRAM-SHA-256 verifier");
    assert_eq!(
        datapunk::scram::Verifier::derive("correct horse", &v.salt, v.iterations),
        v
    );
    assert!(!text.contains("correct horse"));
}

#[test]
fn help_explains_every_flag() {
    let help = |args: &[&str]| {
        let o = Command::new(BIN).args(args).output().unwrap();
        assert!(o.status.success());
        String::from_utf8(o.stdout).unwrap()
    };
    let top = help(&["--help"]);
    for sub in ["serve", "generate", "passwd"] {
        assert!(top.contains(sub), "{top}");
    }
    let serve = help(&["serve", "--help"]);
    for flag in [
        "--config",
        "--listen",
        "--lake",
        "--warehouse",
        "--database",
    ] {
        assert!(serve.contains(flag), "{serve}");
    }
    let generate = help(&["generate", "--help"]);
    for flag in ["--out", "--order-lines", "--seed", "--rows-per-file"] {
        assert!(generate.contains(flag), "{generate}");
    }
}
