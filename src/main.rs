//! The `stgw` command.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use stgw::config::Config;
use stgw::runtime::Runtime;
use stgw::runtime::snapshot::{Snapshot, State};

/// stgw: a seven-layer load balancer with the CLB product's configuration model.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    /// The configuration file to run.
    #[arg(long, short, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Validate the configuration file and exit (0 = valid).
    Check,
    /// Start two demo backends and the proxy with conf/demo.toml.
    Demo,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match (&cli.command, &cli.config) {
        (Some(Command::Demo), _) => stgw::demo::config(),
        (_, Some(path)) => Config::load(path),
        (_, None) => {
            eprintln!("stgw: give --config FILE (or run `stgw demo`)");
            return ExitCode::from(2);
        }
    };
    let config = match config {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    if matches!(cli.command, Some(Command::Check)) {
        return check(&config);
    }
    init_logging(&config.global.log_level);
    for w in &config.warnings {
        tracing::warn!("{w}");
    }
    let runtime = match build_tokio(config.global.worker_threads) {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("stgw: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let demo = matches!(cli.command, Some(Command::Demo));
    runtime.block_on(run(config, demo))
}

fn check(config: &Config) -> ExitCode {
    for w in &config.warnings {
        println!("warning: {w}");
    }
    // Compiling reads the certificates: a bad one fails the check too.
    let state = match State::ephemeral() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    if let Err(e) = Snapshot::compile(Arc::new(config.clone()), &state) {
        eprintln!("{e}");
        return ExitCode::FAILURE;
    }
    let listeners = config.listeners().count();
    println!(
        "{}: ok ({} load balancers, {listeners} listeners)",
        config.path.display(),
        config.load_balancers.len()
    );
    ExitCode::SUCCESS
}

fn init_logging(level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .or_else(|_| tracing_subscriber::EnvFilter::try_new(level))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

fn build_tokio(workers: usize) -> std::io::Result<tokio::runtime::Runtime> {
    if workers <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers)
            .enable_all()
            .build()
    }
}

async fn run(config: Config, demo: bool) -> ExitCode {
    if demo {
        if let Err(e) = stgw::demo::start_backends().await {
            tracing::error!("cannot start the demo backends on 127.0.0.1:9001-9002: {e}");
            return ExitCode::FAILURE;
        }
        tracing::info!("demo backends rs-1 (127.0.0.1:9001) and rs-2 (127.0.0.1:9002) started");
    }
    let runtime: Arc<Runtime> = match Runtime::start(config) {
        Ok(r) => r,
        Err(e) => {
            tracing::error!("{e}");
            return ExitCode::FAILURE;
        }
    };
    if demo {
        tracing::info!("try: curl http://127.0.0.1:8080/  (twice, to see round robin)");
    }
    let admin_settings = runtime.snapshot().config.admin.clone();
    // Held until exit: dropping it stops the admin listener.
    let _admin = match admin_settings {
        Some(settings) => match stgw::admin::start(runtime.clone(), &settings).await {
            Ok(server) => Some(server),
            Err(e) => {
                tracing::error!("{e}");
                return ExitCode::FAILURE;
            }
        },
        None => None,
    };
    stgw::signals::run(runtime).await
}
