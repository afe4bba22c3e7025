//! A throwaway local PostgreSQL cluster for side-by-side figures: `initdb` in a temp dir,
//! started on a free loopback port, stopped and removed when dropped.
//!
//! Needs the server binaries: `DATAPUNK_BENCH_PG_BIN`, else the directory `initdb` on
//! PATH resolves to. As root (which `initdb` refuses) it runs them as the `postgres` user.

use std::path::{Path, PathBuf};
use std::process::Command;

#[derive(Debug)]
pub struct LocalPostgres {
    _dir: tempfile::TempDir,
    data: PathBuf,
    bin: PathBuf,
    run_as: Option<&'static str>,
    pub port: u16,
    pub version: String,
}

fn find_bin() -> Option<PathBuf> {
    if let Ok(dir) = std::env::var("DATAPUNK_BENCH_PG_BIN") {
        return Some(PathBuf::from(dir));
    }
    let on_path = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|d| d.join("initdb"))
            .find(|p| p.exists())
            .and_then(|p| std::fs::canonicalize(p).ok())
            .and_then(|p| p.parent().map(Path::to_path_buf))
    });
    // Debian's packages keep the server binaries off PATH, one folder per version.
    on_path.or_else(|| {
        let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
            .filter(|bin| bin.join("initdb").exists())
            .collect();
        versions.sort();
        versions.pop()
    })
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

impl LocalPostgres {
    /// Starts a cluster, or says why not (`None`).
    pub fn start() -> Option<Self> {
        let Some(bin) = find_bin() else {
            println!("postgres: no server binaries (set DATAPUNK_BENCH_PG_BIN or apt-get install postgresql); skipped");
            return None;
        };
        let dir = tempfile::tempdir().ok()?;
        let data = dir.path().join("data");
        let run_as = is_root().then_some("postgres");
        if let Some(user) = run_as {
            let ok = Command::new("chown")
                .args(["-R", user])
                .arg(dir.path())
                .status()
                .map(|s| s.success())
                .unwrap_or(false);
            if !ok {
                println!("postgres: cannot hand the data dir to {user}; skipped");
                return None;
            }
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .ok()?
            .local_addr()
            .ok()?
            .port();
        let mut pg = Self {
            _dir: dir,
            data,
            bin,
            run_as,
            port,
            version: String::new(),
        };
        let data = pg.data.display().to_string();
        if !pg.run(
            "initdb",
            &[
                "-D",
                &data,
                "-U",
                "bench",
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C",
            ],
        ) {
            return None;
        }
        let options = format!(
            "-p {port} -c listen_addresses=127.0.0.1 -k {} -c shared_buffers=512MB",
            pg._dir.path().display()
        );
        let log = pg._dir.path().join("log").display().to_string();
        if !pg.run(
            "pg_ctl",
            &["-D", &data, "-o", &options, "-l", &log, "-w", "start"],
        ) {
            return None;
        }
        pg.version = Command::new(pg.bin.join("postgres"))
            .arg("--version")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_default();
        Some(pg)
    }

    fn run(&self, program: &str, args: &[&str]) -> bool {
        let program = self.bin.join(program);
        let mut command = match self.run_as {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(&program);
                c
            }
            None => Command::new(&program),
        };
        let out = command.args(args).output();
        match out {
            Ok(o) if o.status.success() => true,
            Ok(o) => {
                println!(
                    "postgres: {} failed: {}",
                    program.display(),
                    String::from_utf8_lossy(&o.stderr)
                );
                false
            }
            Err(e) => {
                println!("postgres: {} failed: {e}", program.display());
                false
            }
        }
    }

    pub fn conn_string(&self) -> String {
        format!(
            "host=127.0.0.1 port={} user=bench dbname=postgres",
            self.port
        )
    }
}

impl Drop for LocalPostgres {
    fn drop(&mut self) {
        let data = self.data.display().to_string();
        self.run("pg_ctl", &["-D", &data, "-m", "fast", "-w", "stop"]);
    }
}
