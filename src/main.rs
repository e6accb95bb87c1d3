//! The `stgw` command.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use stgw::config::Config;
use stgw::runtime::Runtime;
use stgw::runtime::snapshot::{Snapshot, State};

/// tokio's 128-byte-aligned tasks and registrations from `malloc`'s
/// cache instead of `posix_memalign` (see `stgw::allocator`).
#[global_allocator]
static ALLOCATOR: stgw::allocator::Allocator = stgw::allocator::Allocator;

/// stgw: a seven-layer load balancer with the CLB product's configuration model.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    /// The configuration file to run.
    #[arg(long, short, global = true)]
    config: Option<PathBuf>,
    /// Take the listening sockets of the stgw already running with this
    /// state_dir (a binary upgrade: it drains and exits).
    #[arg(long)]
    upgrade: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Validate the configuration file and exit (0 = valid).
    Check,
    /// Start two demo backends and the proxy with conf/demo.toml.
    Demo,
    /// The shared configuration store (`[store] kind = "etcd"`).
    Store {
        #[command(subcommand)]
        action: StoreAction,
    },
}

#[derive(Debug, Subcommand)]
enum StoreAction {
    /// Write the file's shared part (certificates, instances, load
    /// balancers) into the etcd its [store] names, replacing what is there.
    Import,
    /// Print the shared configuration in the etcd the file's [store] names, as TOML.
    Export {
        /// Also write the certificates' PEM files into this folder and name
        /// them in the output (an importable file).
        #[arg(long)]
        pem_dir: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(Command::Store { action }) = &cli.command {
        return store_command(cli.config.as_deref(), action);
    }
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
    match stgw::limits::raise_open_files() {
        Ok(files) if files.after > files.before => {
            tracing::info!(
                from = files.before,
                to = files.after,
                "raised the open-file limit"
            );
        }
        Ok(_) => {}
        Err(e) => tracing::warn!("cannot raise the open-file limit: {e}"),
    }
    // With etcd the warnings of the whole configuration are logged once
    // its shared part is read.
    if config.file.store.kind == stgw::config::model::StoreKind::File {
        for w in &config.warnings {
            tracing::warn!("{w}");
        }
    }
    let runtime = match build_tokio(config.global.worker_threads) {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("stgw: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let demo = matches!(cli.command, Some(Command::Demo));
    let handoff = stgw::upgrade::socket_path(&config.global.state_dir);
    let alive = std::os::unix::net::UnixStream::connect(&handoff).is_ok();
    let inherited = match (cli.upgrade, alive) {
        (true, true) => match stgw::upgrade::take_over(&handoff) {
            Ok(sockets) => {
                tracing::info!(sockets = sockets.len(), "took over the listening sockets");
                sockets
            }
            Err(e) => {
                tracing::error!("cannot take over from the running stgw: {e}");
                return ExitCode::FAILURE;
            }
        },
        (true, false) => {
            tracing::error!(
                "--upgrade: no stgw is running with state_dir {}",
                config.global.state_dir.display()
            );
            return ExitCode::FAILURE;
        }
        (false, true) => {
            tracing::error!(
                "another stgw is running with state_dir {}: stop it, or start this one with --upgrade to take over",
                config.global.state_dir.display()
            );
            return ExitCode::FAILURE;
        }
        (false, false) => Default::default(),
    };
    // The old process took its last configuration change before it handed
    // the sockets over: read again what it may have written since.
    let config = match (&cli.config, cli.upgrade) {
        (Some(path), true) => match Config::load(path) {
            Ok(latest) => latest,
            Err(e) => {
                tracing::error!(
                    "the configuration file changed during the upgrade and is now refused ({e}); serving the one read at start"
                );
                config
            }
        },
        _ => config,
    };
    runtime.block_on(run(config, demo, inherited, handoff))
}

/// `stgw store import|export --config FILE`.
fn store_command(path: Option<&std::path::Path>, action: &StoreAction) -> ExitCode {
    let Some(path) = path else {
        eprintln!("stgw store: give --config FILE (its [store] names the etcd)");
        return ExitCode::from(2);
    };
    init_logging("warn");
    let runtime = match build_tokio(1) {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("stgw: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match action {
            StoreAction::Import => stgw::store::cli::import(path).await.map(|done| {
                for w in &done.warnings {
                    eprintln!("warning: {w}");
                }
                println!(
                    "{}: imported {} load balancers and {} certificates (revision {}, replacing revision {})",
                    path.display(),
                    done.load_balancers,
                    done.certificates,
                    done.revision,
                    done.replaced
                );
            }),
            StoreAction::Export { pem_dir } => stgw::store::cli::export(path, pem_dir.as_deref())
                .await
                .map(|text| print!("{text}")),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("stgw store: {e}");
            ExitCode::FAILURE
        }
    }
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
    if config.file.store.kind == stgw::config::model::StoreKind::Etcd {
        println!(
            "note: [store] kind = \"etcd\": this checked the node's own sections; `stgw store export` shows the shared configuration"
        );
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
        .or_else(|_| tracing_subscriber::EnvFilter::try_new(default_filter(level)))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

/// The log filter for `log_level`. Below `debug`, rustls is held to
/// errors: it warns about every client that sends an IP address as SNI
/// (which it ignores, as RFC 6066 says), a line per connection.
fn default_filter(level: &str) -> String {
    if matches!(level, "debug" | "trace") {
        level.to_owned()
    } else {
        format!("{level},rustls=error")
    }
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

async fn run(
    config: Config,
    demo: bool,
    inherited: std::collections::HashMap<std::net::SocketAddr, std::net::TcpListener>,
    handoff: PathBuf,
) -> ExitCode {
    if demo {
        if let Err(e) = stgw::demo::start_backends().await {
            tracing::error!("cannot start the demo backends on 127.0.0.1:9001-9002: {e}");
            return ExitCode::FAILURE;
        }
        tracing::info!("demo backends rs-1 (127.0.0.1:9001) and rs-2 (127.0.0.1:9002) started");
    }
    let store = match stgw::store::start(config, inherited).await {
        Ok(s) => s,
        Err(e) => {
            tracing::error!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let runtime: Arc<Runtime> = store.runtime().clone();
    if demo {
        tracing::info!("try: curl http://127.0.0.1:8080/  (twice, to see round robin)");
    }
    let admin_settings = runtime.snapshot().config.admin.clone();
    // Held until exit: dropping it stops the admin listener.
    let _admin = match admin_settings {
        Some(settings) => match stgw::admin::start(store.clone(), &settings).await {
            Ok(server) => Some(server),
            Err(e) => {
                tracing::error!("{e}");
                return ExitCode::FAILURE;
            }
        },
        None => None,
    };
    tokio::spawn(runtime.clone().serve_upgrades(handoff.clone()));
    let code = stgw::signals::run(store.clone()).await;
    // A configuration change in progress (an API write on its own task)
    // is persisted, or rolled back, before the process ends; none starts
    // after it.
    let _serial = runtime.changes().lock().await;
    if !runtime.was_handed_over() {
        let _ = std::fs::remove_file(&handoff);
    }
    code
}
