//! The `datapunk` binary: parse the command line, load configuration, start logging, and
//! run the chosen subcommand. All logic lives in the library.

use std::io::{BufRead, IsTerminal, Write};

use anyhow::Context;
use clap::Parser;
use datapunk::cli::{
    Cli, Command, ExecutorArgs, ExportArgs, GenerateArgs, PurgeArgs, SchedulerArgs, ServeArgs,
};
use datapunk::config::{Config, Overrides};
use tokio_util::sync::CancellationToken;

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve(args),
        Command::Generate(args) => generate(args),
        Command::Passwd => passwd(),
        Command::Export(args) => export(args),
        Command::Purge(args) => purge(args),
        Command::Scheduler(args) => scheduler(args),
        Command::Executor(args) => executor(args),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("datapunk: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let mut config = match &args.config {
        Some(path) => Config::from_file(path).map_err(anyhow::Error::msg)?,
        None => Config::default(),
    };
    config.apply(&Overrides {
        listen: args.listen,
        lake: args.lake,
        warehouse_scripts_dir: args.warehouse,
        database: args.database,
        engine: args.engine,
        scheduler: args.scheduler,
        state_dir: args.state_dir,
    });
    datapunk::telemetry::init(&config.log.filter);
    let runtime = tokio::runtime::Runtime::new().context("starting the tokio runtime")?;
    runtime.block_on(async move {
        let app = datapunk::App::build(config)
            .await
            .map_err(anyhow::Error::msg)?;
        let shutdown = CancellationToken::new();
        let on_signal = shutdown.clone();
        tokio::spawn(async move {
            wait_for_signal().await;
            tracing::info!("shutdown requested");
            on_signal.cancel();
        });
        app.run(shutdown).await;
        Ok(())
    })
}

/// Loads the lake, warehouse and audiences of `config` as `serve` does (without
/// serving), runs `work` on the app once and prints what it says.
fn run_once<F, Fut>(config: &std::path::Path, work: F) -> anyhow::Result<()>
where
    F: FnOnce(datapunk::App) -> Fut,
    Fut: std::future::Future<Output = datapunk::Result<String>>,
{
    let mut config = Config::from_file(config).map_err(anyhow::Error::msg)?;
    // No clients are served: any free loopback port does.
    config.server.listen = "127.0.0.1:0".into();
    datapunk::telemetry::init(&config.log.filter);
    let runtime = tokio::runtime::Runtime::new().context("starting the tokio runtime")?;
    runtime.block_on(async move {
        let app = datapunk::App::build(config)
            .await
            .map_err(anyhow::Error::msg)?;
        let message = work(app).await.map_err(anyhow::Error::msg)?;
        println!("{message}");
        Ok(())
    })
}

/// Runs one export (`datapunk export`).
fn export(args: ExportArgs) -> anyhow::Result<()> {
    run_once(&args.config, |app| async move {
        app.run_export(&args.name).await
    })
}

/// Rewrites the lake without erased persons' rows (`datapunk purge`).
fn purge(args: PurgeArgs) -> anyhow::Result<()> {
    run_once(&args.config, |app| async move { app.purge_erased().await })
}

/// Runs a Ballista scheduler (`datapunk scheduler`) until SIGINT/SIGTERM.
fn scheduler(args: SchedulerArgs) -> anyhow::Result<()> {
    datapunk::telemetry::init(datapunk::telemetry::CLUSTER_FILTER);
    let runtime = tokio::runtime::Runtime::new().context("starting the tokio runtime")?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&args.bind)
            .await
            .with_context(|| format!("--bind {}", args.bind))?;
        let options = datapunk::cluster::SchedulerOptions {
            advertise: args.advertise,
            min_ready_executors: 1,
            executor_timeout_seconds: args.executor_timeout,
        };
        let scheduler = datapunk::cluster::RunningScheduler::start(listener, &options)
            .await
            .map_err(anyhow::Error::msg)?;
        println!("datapunk scheduler listening on {}", scheduler.addr);
        tokio::select! {
            result = scheduler.wait() => result.map_err(anyhow::Error::msg),
            () = wait_for_signal() => {
                tracing::info!("scheduler stopping");
                Ok(())
            }
        }
    })
}

/// Runs a Ballista executor (`datapunk executor`) until SIGINT/SIGTERM.
fn executor(args: ExecutorArgs) -> anyhow::Result<()> {
    use std::net::ToSocketAddrs;
    datapunk::telemetry::init(datapunk::telemetry::CLUSTER_FILTER);
    let bind = args
        .bind
        .to_socket_addrs()
        .with_context(|| format!("--bind {}", args.bind))?
        .next()
        .with_context(|| format!("--bind {}: no address", args.bind))?;
    let options = datapunk::cluster::ExecutorOptions {
        scheduler: args.scheduler,
        bind,
        advertise: args.advertise,
        work_dir: args.work_dir,
        vcores: args.vcores,
        memory_bytes: args.memory_limit_mb * 1024 * 1024,
        heartbeat_seconds: args.heartbeat,
    };
    let runtime = tokio::runtime::Runtime::new().context("starting the tokio runtime")?;
    runtime.block_on(async move {
        datapunk::cluster::run_executor(&options, |flight, grpc| {
            println!(
                "datapunk executor serving results on {}:{flight}, tasks on {}:{grpc}",
                bind.ip(),
                bind.ip()
            );
        })
        .await
        .map_err(anyhow::Error::msg)
    })
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

fn generate(args: GenerateArgs) -> anyhow::Result<()> {
    let order_lines = datapunk::generate::parse_count(&args.order_lines)
        .with_context(|| format!("--order-lines {:?} is not a whole number", args.order_lines))?;
    anyhow::ensure!(order_lines <= 1_000_000_000, "--order-lines is at most 1e9");
    let spec = datapunk::generate::Spec {
        order_lines,
        seed: args.seed,
        rows_per_file: args.rows_per_file,
    };
    datapunk::generate::generate(&args.out, spec, true).map_err(anyhow::Error::msg)
}

fn passwd() -> anyhow::Result<()> {
    let stdin = std::io::stdin();
    let password = if stdin.is_terminal() {
        eprint!("Password: ");
        std::io::stderr().flush().ok();
        let mut line = String::new();
        stdin.lock().read_line(&mut line)?;
        line
    } else {
        let mut line = String::new();
        stdin.lock().read_line(&mut line)?;
        line
    };
    let password = password.trim_end_matches(['\n', '\r']);
    anyhow::ensure!(!password.is_empty(), "empty password");
    println!("{}", datapunk::scram::Verifier::from_password(password));
    Ok(())
}
