//! The running proxy: the current snapshot, the bound listeners, and how a
//! new configuration replaces the old one.
//!
//! [`Runtime::apply`] compiles a configuration beside the running one, binds
//! the listeners it adds (refusing the whole change if one cannot bind),
//! swaps the snapshot, points kept listeners at their new configuration
//! without touching their sockets, and stops the listeners it removes.
//! Connections in flight finish on what they started with; nothing is
//! dropped.

pub mod registry;
mod secrets;
pub mod snapshot;
mod tls;
mod work;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use tokio::sync::watch;

use crate::config::{Config, ConfigError};
use crate::health::HealthChecker;
use crate::listener::{self, ListenerSlot};
use crate::store::StoreStatus;
use snapshot::{Snapshot, State};
pub use work::off_worker;
#[cfg(test)]
pub(crate) use work::wait_for;

/// Why a configuration could not be started or applied.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The TLS session-ticket keys could not be loaded or created.
    #[error(transparent)]
    Tickets(#[from] crate::tls::TicketKeyError),
    /// A generated secret could not be read or written in state_dir.
    #[error("state_dir secret: {0}")]
    Secret(std::io::Error),
    /// The access log could not be opened.
    #[error(transparent)]
    AccessLog(#[from] crate::observe::AccessLogError),
    /// A listener could not bind its address.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The socket error.
        source: std::io::Error,
    },
}

/// The running proxy.
#[derive(Debug)]
pub struct Runtime {
    state: State,
    health: HealthChecker,
    snapshot: ArcSwap<Snapshot>,
    listeners: Mutex<HashMap<SocketAddr, Running>>,
    drain: watch::Sender<bool>,
    /// Serialises reloads and API writes.
    apply_lock: Mutex<()>,
    /// Serialises whole configuration changes (read, change, apply,
    /// persist): SIGHUP reloads and management API writes.
    changes: Arc<tokio::sync::Mutex<()>>,
    /// Listening sockets received from the process this one replaced.
    inherited: Mutex<HashMap<SocketAddr, std::net::TcpListener>>,
    /// Set once a newer process took the listening sockets.
    handed_over: watch::Sender<bool>,
    /// Listening sockets besides the proxy's (the admin listener), handed
    /// over with them.
    other_sockets: Mutex<Vec<(SocketAddr, std::os::fd::RawFd)>>,
    /// Whether the configuration store is reachable, and what it applied.
    store_status: StoreStatus,
}

#[derive(Debug)]
struct Running {
    slot: Arc<ListenerSlot>,
    stop: watch::Sender<bool>,
    socket: Arc<tokio::net::TcpListener>,
}

impl Runtime {
    /// Binds every listener of `config` and starts serving. Must run inside
    /// a tokio runtime.
    pub fn start(config: Config) -> Result<Arc<Runtime>, RuntimeError> {
        Runtime::start_with(config, HashMap::new())
    }

    /// Like [`start`](Self::start), using `inherited` listening sockets
    /// (from the process being replaced) instead of binding their addresses.
    pub fn start_with(
        config: Config,
        inherited: HashMap<SocketAddr, std::net::TcpListener>,
    ) -> Result<Arc<Runtime>, RuntimeError> {
        let state = State::new(&config.global.state_dir)?;
        Runtime::start_with_state(config, inherited, state)
    }

    /// Like [`start_with`](Self::start_with), with `state` built by the
    /// caller (a shared configuration store supplies its secrets).
    pub fn start_with_state(
        config: Config,
        inherited: HashMap<SocketAddr, std::net::TcpListener>,
        state: State,
    ) -> Result<Arc<Runtime>, RuntimeError> {
        state
            .observe
            .log
            .configure(&config.global.access_log, config.global.access_log_format)?;
        let snapshot = Snapshot::compile(Arc::new(config), &state)?;
        let (drain, _) = watch::channel(false);
        let runtime = Arc::new(Runtime {
            state,
            health: HealthChecker::default(),
            snapshot: ArcSwap::from_pointee(Snapshot {
                config: snapshot.config.clone(),
                listeners: Vec::new(),
            }),
            listeners: Mutex::new(HashMap::new()),
            drain,
            apply_lock: Mutex::new(()),
            changes: Arc::new(tokio::sync::Mutex::new(())),
            inherited: Mutex::new(inherited),
            handed_over: watch::channel(false).0,
            other_sockets: Mutex::new(Vec::new()),
            store_status: StoreStatus::new(snapshot.config.file.store.kind),
        });
        runtime.install(snapshot)?;
        tokio::spawn(maintain(Arc::downgrade(&runtime)));
        Ok(runtime)
    }

    /// The lock a whole configuration change holds from reading the
    /// running configuration to persisting the new one, so a SIGHUP reload
    /// and a management API write never interleave (one would otherwise
    /// re-apply a file the other is about to replace). Once this process
    /// has handed over to a newer one ([`was_handed_over`](Self::was_handed_over)),
    /// whoever takes it must change nothing: the newer process has read
    /// the configuration.
    pub fn changes(&self) -> &Arc<tokio::sync::Mutex<()>> {
        &self.changes
    }

    /// The configuration store's health and the revision this node runs
    /// (for metrics and the status page).
    pub fn store_status(&self) -> &StoreStatus {
        &self.store_status
    }

    /// Whether the configuration store is reachable: always true for the
    /// file; false while etcd cannot be reached (the node then serves its
    /// last good configuration).
    pub fn store_healthy(&self) -> bool {
        self.store_status.healthy()
    }

    /// The snapshot serving now.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.snapshot.load_full()
    }

    /// Shared state (pools, loads, health).
    pub fn state(&self) -> &State {
        &self.state
    }

    /// Re-reads the configuration file the running one came from and
    /// applies it; on error the running configuration stays.
    pub fn reload(&self) -> Result<(), RuntimeError> {
        let path = self.snapshot.load().config.path.clone();
        let config = off_worker(|| Config::load(&path))?;
        self.apply(config)
    }

    /// Replaces the running configuration with `config`. Compiling a large
    /// configuration takes seconds of CPU, so it runs [`off_worker`]: the
    /// proxy's tasks go on being served meanwhile.
    pub fn apply(&self, config: Config) -> Result<(), RuntimeError> {
        off_worker(|| self.apply_here(config))
    }

    fn apply_here(&self, mut config: Config) -> Result<(), RuntimeError> {
        let _serial = self.apply_lock.lock().unwrap_or_else(|e| e.into_inner());
        // The store has written it; the running configuration need not
        // keep a copy of the whole file.
        config.model_text = None;
        let global = &config.global;
        if let Err(e) = self
            .state
            .observe
            .log
            .configure(&global.access_log, global.access_log_format)
        {
            tracing::error!("{e}; the access log goes on as it was");
        }
        let metrics = &self.state.observe.metrics;
        let generation = metrics.begin_compile();
        let snapshot = Snapshot::compile(Arc::new(config), &self.state)?;
        self.install(snapshot)?;
        metrics.forget_before(generation);
        Ok(())
    }

    /// The bound listeners' slots (their live configuration and counters).
    pub fn listener_slots(&self) -> Vec<Arc<ListenerSlot>> {
        let running = self.listeners.lock().unwrap_or_else(|e| e.into_inner());
        running.values().map(|r| r.slot.clone()).collect()
    }

    /// Reopens the access log file (SIGUSR1, after logrotate moved it).
    pub fn reopen_access_log(&self) {
        self.state.observe.log.reopen();
    }

    fn install(&self, snapshot: Snapshot) -> Result<(), RuntimeError> {
        let mut running = self.listeners.lock().unwrap_or_else(|e| e.into_inner());
        // Bind what is new first: a failure leaves everything as it was.
        let mut bound = Vec::new();
        for l in &snapshot.listeners {
            if !running.contains_key(&l.addr) {
                let socket = self
                    .socket_for(l.addr)
                    .map_err(|source| RuntimeError::Bind {
                        addr: l.addr,
                        source,
                    })?;
                bound.push((l.clone(), Arc::new(socket)));
            }
        }
        let snapshot = Arc::new(snapshot);
        self.snapshot.store(snapshot.clone());
        for l in &snapshot.listeners {
            if let Some(r) = running.get(&l.addr) {
                defer_accept(&r.socket, l);
                r.slot.runtime.store(l.clone());
            }
        }
        for (l, socket) in bound {
            defer_accept(&socket, &l);
            let slot = ListenerSlot::new(l.clone());
            let (stop, stop_rx) = watch::channel(false);
            tokio::spawn(listener::accept_loop(
                socket.clone(),
                slot.clone(),
                stop_rx,
                self.drain.subscribe(),
            ));
            tracing::info!(listener = %l.id, addr = %l.addr, protocol = l.protocol.as_str(), "listening");
            running.insert(l.addr, Running { slot, stop, socket });
        }
        running.retain(|addr, r| {
            let keep = snapshot.listeners.iter().any(|l| l.addr == *addr);
            if !keep {
                tracing::info!(%addr, "listener removed");
                let _ = r.stop.send(true);
            }
            keep
        });
        self.health.reconcile(&snapshot);
        Ok(())
    }

    /// A listening socket for `addr`: the inherited one, else a new one.
    fn socket_for(&self, addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
        let inherited = self
            .inherited
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&addr);
        match inherited {
            Some(socket) => {
                tracing::info!(%addr, "listening socket taken over from the previous process");
                listener::inherit_options(&socket)?;
                tokio::net::TcpListener::from_std(socket)
            }
            None => listener::bind(addr),
        }
    }

    /// The listening sockets, for a process that takes over.
    pub fn listening_sockets(&self) -> Vec<(SocketAddr, std::os::fd::RawFd)> {
        use std::os::fd::AsRawFd;
        let running = self.listeners.lock().unwrap_or_else(|e| e.into_inner());
        let others = self.other_sockets.lock().unwrap_or_else(|e| e.into_inner());
        running
            .iter()
            .map(|(a, r)| (*a, r.socket.as_raw_fd()))
            .chain(others.iter().copied())
            .collect()
    }

    /// The socket for `addr` that the previous process handed over and no
    /// proxy listener took (the admin listener's), if any.
    pub fn take_inherited(&self, addr: SocketAddr) -> Option<std::net::TcpListener> {
        self.inherited
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&addr)
    }

    /// Hands `fd`, listening on `addr`, to a process that takes over,
    /// with the proxy's sockets. The caller keeps it open until
    /// [`handed_over`](Self::handed_over) resolves (or the process exits).
    pub fn hand_over_too(&self, addr: SocketAddr, fd: std::os::fd::RawFd) {
        self.other_sockets
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((addr, fd));
    }

    /// Serves binary-upgrade requests on `path` until one succeeds; then
    /// this process should drain and exit (see [`handed_over`](Self::handed_over)).
    pub async fn serve_upgrades(self: Arc<Self>, path: std::path::PathBuf) {
        let _ = std::fs::remove_file(&path);
        let server = match tokio::net::UnixListener::bind(&path) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "binary upgrades unavailable");
                return;
            }
        };
        loop {
            let Ok((stream, _)) = server.accept().await else {
                continue;
            };
            let Ok(stream) = stream.into_std() else {
                continue;
            };
            // Held until the new process has the sockets and this one has
            // marked itself handed over: the change in progress finishes
            // first (the sockets listed are those of its listeners), and
            // none starts after it, so the configuration the new process
            // reads once it has the sockets is the last one.
            let serial = self.changes.clone().lock_owned().await;
            let sockets = self.listening_sockets();
            let handover = tokio::task::spawn_blocking(move || {
                stream.set_nonblocking(false)?;
                crate::upgrade::hand_over(stream, &sockets)
            });
            match handover.await {
                Ok(Ok(())) => {
                    tracing::info!("a new process took the listening sockets: draining");
                    let _ = self.handed_over.send(true);
                    drop(serial);
                    return;
                }
                Ok(Err(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {}
                Ok(Err(e)) => tracing::warn!(error = %e, "binary upgrade failed"),
                Err(e) => tracing::warn!(error = %e, "binary upgrade failed"),
            }
        }
    }

    /// Whether a newer process has taken over.
    pub fn was_handed_over(&self) -> bool {
        *self.handed_over.borrow()
    }

    /// Resolves once a newer process has taken over.
    pub async fn handed_over(&self) {
        let _ = self.handed_over.subscribe().wait_for(|h| *h).await;
    }

    /// Open client connections now.
    pub fn connections(&self) -> usize {
        let running = self.listeners.lock().unwrap_or_else(|e| e.into_inner());
        running
            .values()
            .map(|r| r.slot.connections.load(Ordering::Relaxed))
            .sum()
    }

    /// Stops accepting and closes the listening sockets (new connections
    /// are refused, not queued), asks every connection to finish, and
    /// waits until they have or `timeout` passed. Returns the connections
    /// left open.
    pub async fn shutdown(&self, timeout: Duration) -> usize {
        // Dropping `Running` closes its socket once its accept loop ends;
        // the slots are kept to count the connections still open.
        let slots: Vec<Arc<ListenerSlot>> = {
            let mut running = self.listeners.lock().unwrap_or_else(|e| e.into_inner());
            running
                .drain()
                .map(|(_, r)| {
                    let _ = r.stop.send(true);
                    r.slot
                })
                .collect()
        };
        let _ = self.drain.send(true);
        self.health.stop();
        let deadline = Instant::now() + timeout;
        loop {
            let open: usize = slots
                .iter()
                .map(|slot| slot.connections.load(Ordering::Relaxed))
                .sum();
            if open == 0 || Instant::now() >= deadline {
                return open;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Housekeeping: closes idle upstream connections past their keep-alive
/// timeout (every second) and rotates TLS ticket keys when due (checked
/// hourly).
async fn maintain(runtime: std::sync::Weak<Runtime>) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut seconds = 0u64;
    loop {
        tick.tick().await;
        seconds += 1;
        let Some(runtime) = runtime.upgrade() else {
            return;
        };
        for pool in runtime.state.pools.live() {
            pool.reap();
        }
        if seconds.is_multiple_of(3600) {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            match runtime.state.tls_tickets.rotate_if_due(now) {
                Ok(true) => tracing::info!("TLS session-ticket key rotated"),
                Ok(false) => {}
                Err(e) => tracing::error!("{e}"),
            }
        }
    }
}

/// Sets deferred accept on a listener's socket for its rules; a failure
/// costs only speed, so it is logged.
fn defer_accept(socket: &tokio::net::TcpListener, l: &snapshot::ListenerRuntime) {
    if let Err(e) = listener::defer_accept(socket, &l.admission) {
        tracing::warn!(addr = %l.addr, error = %e, "could not set deferred accept");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file with one listener on `port` whose domain has one rule per id.
    fn config_with_rules(test: &str, port: u16, rules: &[&str]) -> Config {
        let dir = std::env::temp_dir().join(format!("stgw-runtime-{test}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("scratch folder");
        let mut text = format!(
            "[global]\naccess_log = \"off\"\nstate_dir = \"var\"\n\n[[load_balancer]]\nid = \"lb-metrics1\"\nname = \"m\"\nvip = \"127.0.0.1\"\n  [[load_balancer.listener]]\n  id = \"lbl-metrics1\"\n  protocol = \"HTTP\"\n  port = {port}\n    [[load_balancer.listener.domain]]\n    name = \"m.example.com\"\n"
        );
        for (i, id) in rules.iter().enumerate() {
            text.push_str(&format!(
                "      [[load_balancer.listener.domain.rule]]\n      id = \"{id}\"\n      url = \"/r{i}/\"\n      targets = [{{ address = \"127.0.0.1:{}\" }}]\n      [load_balancer.listener.domain.rule.health_check]\n      enabled = false\n",
                40_000 + i
            ));
        }
        let path = dir.join("stgw.toml");
        std::fs::write(&path, &text).expect("config file");
        Config::load(&path).expect("valid config")
    }

    #[tokio::test]
    async fn series_of_removed_rules_are_dropped_by_the_next_apply() {
        let runtime = Runtime::start(config_with_rules(
            "series",
            31851,
            &["loc-keep0001", "loc-gone0001"],
        ))
        .expect("runtime starts");
        let metrics = || {
            runtime
                .state()
                .observe
                .metrics
                .encode_counted()
                .expect("encodes")
        };
        assert!(metrics().contains("loc-gone0001"));
        runtime
            .apply(config_with_rules("series", 31851, &["loc-keep0001"]))
            .expect("applies");
        let text = metrics();
        assert!(
            !text.contains("loc-gone0001"),
            "a removed rule keeps its series"
        );
        assert!(text.contains("loc-keep0001"), "a kept rule lost its series");
        // The same churn a thousand times leaves the same number of series.
        let lines = text.lines().count();
        for round in 0..20 {
            let id = format!("loc-chrn{round:04}");
            runtime
                .apply(config_with_rules("series", 31851, &["loc-keep0001", &id]))
                .expect("applies");
            runtime
                .apply(config_with_rules("series", 31851, &["loc-keep0001"]))
                .expect("applies");
        }
        assert_eq!(metrics().lines().count(), lines);
    }
}
