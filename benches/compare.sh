#!/usr/bin/env bash
# benches/compare.sh - stgw and nginx side by side, on loopback, in the same run.
#
#   benches/compare.sh            full run (DURATION=10 REPS=3), prints the ratio table
#   benches/compare.sh --smoke    CI check: 1 s per case, one rep, 500 idle connections,
#                                 debug build; fails unless every case produced a number
#                                 without errors (its numbers mean nothing)
#   benches/compare.sh --serve    start backend, nginx and stgw as below, print their
#                                 addresses and PIDs, and wait (for profiling by hand)
#   benches/compare.sh --help     this text
#
# Topology (127.0.0.1 only; nothing else is contacted; ports from PORT_BASE=18000):
#   backend  nginx :18080 (h1) and :18444 (TLS, h2 + http/1.1), worker_processes 1
#            GET /small -> 200 with a fixed 100-byte body; GET /static/10k.bin -> 10 KiB file
#   nginx    proxy :18000 (h1) and :18443 (TLS, h2 + http/1.1), worker_processes 1
#   stgw     proxy :19000 (HTTP) and :19443 (HTTPS, h2 + http/1.1), worker_threads = 1
#   Both proxies: keep-alive pool of UPSTREAM_KEEPALIVE (64) connections to the backend,
#   keepalive_requests KEEPALIVE_REQUESTS (10000) and keepalive_timeout 65s toward clients
#   (nginx's TLS server: 1000000, as nginx also caps HTTP/2 connections with it; stgw doesn't),
#   no access log, no gzip, and the same request headers added (Host passed through,
#   X-Forwarded-For, X-Real-IP, X-Client-Proto, X-Forwarded-Proto, a 32-hex request id),
#   so that both do the same work. Same ECDSA P-256 certificate, TLS 1.2 and 1.3.
#
# Cases (ONLY=<regex> selects; each runs against direct (the backend itself: the
# ceiling), nginx and stgw, interleaved: rep 1 of every case and target, then rep 2 ...,
# with nginx and stgw swapping order on every rep):
#   h1-small        HTTP/1.1 keep-alive, 100-byte body        wrk -c CONNS
#   h1-10k          HTTP/1.1 keep-alive, 10 KiB body           wrk -c CONNS
#   h1-close        a new connection per request (100 B)       wrk -H 'Connection: close'
#   https-small     HTTPS keep-alive (HTTP/1.1), 100 B         wrk -c CONNS
#   https-10k       HTTPS keep-alive (HTTP/1.1), 10 KiB        wrk -c CONNS
#   https-handshake full TLS handshakes: a new connection per request, no session
#                   resumption, CONNS loops, 100 B               examples/handshakes.rs
#   https-resume    a new TLS connection per request, resuming the session (TLS 1.3
#                   PSK: wrk reuses each connection's last session)  wrk -H 'Connection: close'
#   h2-small        HTTP/2 over TLS, 100 B, H2_CLIENTS x H2_STREAMS streams in flight  h2load
#   h2-10k          HTTP/2 over TLS, 10 KiB, same                                      h2load
#   idle            RSS per idle keep-alive connection: IDLE_CONNS connections each
#                   send one request and stay open (examples/idle_conns.rs); the
#                   proxy's RSS (VmRSS of all its processes) is read from /proc
#                   before and after. Each proxy is restarted fresh for it.
# HTTPS cases run against stgw only when its TLS listener answers (probed with curl);
# otherwise they print "skipped: stgw has no TLS listener yet" (nginx and direct still run).
#
# Reported per case (median over reps): requests/s, latency p50 and p99 (wrk --latency;
# h2load per-request log), errors, proxy CPU time per request (utime+stime of all the
# proxy's processes and threads from /proc/PID/stat, divided by the requests done), and
# "other%": CPU used on the machine by anything but the backend, the proxies and the load
# generator during the run (other people's builds: noise; runs above NOISY% are counted
# in the table). The proxy's CPU is also split into user and system time, and each case
# shows the generator side's cap ("gen cap": the rate at which the load generator and the
# backend would fill their CPUs, as a multiple of nginx's rate), an estimate of the most any
# proxy could lead nginx by on this host.
# Ratios are stgw/nginx.
#
# Knobs (environment):
#   DURATION=10 REPS=3 WARMUP=2      seconds per run, reps, warm-up seconds (rep 1 only)
#   CONNS=64 THREADS=1               wrk connections and threads
#   H2_CLIENTS=16 H2_STREAMS=4       h2load connections x streams each (64 in flight)
#   IDLE_CONNS=10000 IDLE_SETTLE=2   idle connections; seconds to wait before reading RSS
#   KEEPALIVE_REQUESTS=10000         client keepalive_requests on both proxies (stgw: 1-10000)
#   UPSTREAM_KEEPALIVE=64            idle connections to the backend kept by both proxies
#   PIN=1                            taskset: the proxy under test on CPU 1, backend + load
#                                    generator on every other CPU (CPU 0 on a 2-CPU host;
#                                    default 1 when there are 2+ CPUs)
#   ONLY=<regex>                     cases to run, e.g. ONLY='h1-small|idle'
#   NOISY=10                         a run is "noisy" when other work used more than this % of
#                                    the machine's CPU meanwhile (counted in the table)
#   PORT_BASE=18000                  ports: +0/+443 nginx, +80/+444 backend, +1000/+1443 stgw
#   BIN_DIR=<dir>                    use the binaries already built there (stgw and
#                                    examples/{idle_conns,handshakes}, e.g. target/release)
#                                    instead of building them with cargo
#   PROFILE=release                  cargo profile to build (smoke: dev, which `cargo test`
#                                    has already built)
#   PGO=1                            build stgw profile-guided (benches/pgo-build.sh, about
#                                    11 minutes more; needs llvm-profdata of rustc's LLVM)
#   RESULTS_DIR=<dir>                copy raw per-rep results, configs and logs there
#   KEEP_TMP=1                       keep the temp dir
#   STGW_WRAP='valgrind --tool=dhat' words put before the stgw command (profilers)
# The only files written outside the temp dir are cargo's (target/) and RESULTS_DIR.
#
# Needs (Debian): nginx wrk nghttp2-client openssl curl procps util-linux, and cargo.
set -euo pipefail

SMOKE=0
SERVE=0
for a in "$@"; do
  case "$a" in
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0;;
    --smoke) SMOKE=1;;
    --serve) SERVE=1;;
    *) echo "unknown argument: $a (try --help)" >&2; exit 2;;
  esac
done

if [[ "$SMOKE" = 1 ]]; then
  DURATION=${DURATION:-1}; REPS=${REPS:-1}; WARMUP=${WARMUP:-0}
  IDLE_CONNS=${IDLE_CONNS:-500}; IDLE_SETTLE=${IDLE_SETTLE:-1}; PROFILE=${PROFILE:-dev}
fi
DURATION=${DURATION:-10}
REPS=${REPS:-3}
WARMUP=${WARMUP:-2}
CONNS=${CONNS:-64}
THREADS=${THREADS:-1}
H2_CLIENTS=${H2_CLIENTS:-16}
H2_STREAMS=${H2_STREAMS:-4}
IDLE_CONNS=${IDLE_CONNS:-10000}
IDLE_SETTLE=${IDLE_SETTLE:-2}
KEEPALIVE_REQUESTS=${KEEPALIVE_REQUESTS:-10000}
UPSTREAM_KEEPALIVE=${UPSTREAM_KEEPALIVE:-64}
ONLY=${ONLY:-}
NOISY=${NOISY:-10}
PORT_BASE=${PORT_BASE:-18000}
PROFILE=${PROFILE:-release}
RESULTS_DIR=${RESULTS_DIR:-}
KEEP_TMP=${KEEP_TMP:-0}
BIN_DIR=${BIN_DIR:-}
STGW_WRAP=${STGW_WRAP:-}
if [[ -z "${PIN:-}" ]]; then
  if [[ "$(nproc)" -ge 2 ]]; then PIN=1; else PIN=0; fi
fi

for v in DURATION REPS WARMUP CONNS THREADS H2_CLIENTS H2_STREAMS IDLE_CONNS IDLE_SETTLE NOISY \
         KEEPALIVE_REQUESTS UPSTREAM_KEEPALIVE PORT_BASE PIN; do
  [[ "${!v}" =~ ^[0-9]+$ ]] || { echo "$v must be a whole number, got '${!v}'" >&2; exit 2; }
done
[[ "$DURATION" -ge 1 && "$REPS" -ge 1 ]] || { echo "DURATION and REPS must be at least 1" >&2; exit 2; }

BACKEND_PORT=$((PORT_BASE + 80))
BACKEND_TLS_PORT=$((PORT_BASE + 444))
NGINX_PORT=$PORT_BASE
NGINX_TLS_PORT=$((PORT_BASE + 443))
STGW_PORT=$((PORT_BASE + 1000))
STGW_TLS_PORT=$((PORT_BASE + 1443))

need() {  # tool package
  command -v "$1" >/dev/null || { echo "missing tool: $1 (apt-get install $2)" >&2; exit 1; }
}
need nginx nginx; need wrk wrk; need h2load nghttp2-client; need openssl openssl
need curl curl; need ps procps; need awk gawk; need sort coreutils; need timeout coreutils
[[ "$PIN" = 1 ]] && need taskset util-linux

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PGO=${PGO:-0}
if [[ -z "$BIN_DIR" && "$PGO" = 1 ]]; then
  [[ "$SMOKE" = 1 ]] && { echo "PGO=1 is for measuring runs; CI checks benches/pgo-build.sh --smoke" >&2; exit 2; }
  BIN_DIR=$(PORT_BASE=$PORT_BASE "$(dirname "$0")/pgo-build.sh" | tail -1)
fi
if [[ -z "$BIN_DIR" ]]; then
  need cargo "the Rust toolchain (rustup)"
  echo "# building stgw and examples/{idle_conns,handshakes} (cargo --profile $PROFILE)" >&2
  (cd "$ROOT" && cargo build --quiet --profile "$PROFILE" --bin stgw --example idle_conns --example handshakes)
  BIN_DIR=$ROOT/target/$PROFILE; [[ "$PROFILE" = dev ]] && BIN_DIR=$ROOT/target/debug
fi
STGW_BIN=$BIN_DIR/stgw
IDLE_BIN=$BIN_DIR/examples/idle_conns
HS_BIN=$BIN_DIR/examples/handshakes
for b in "$STGW_BIN" "$IDLE_BIN" "$HS_BIN"; do
  [[ -x "$b" ]] || { echo "no binary at $b (BIN_DIR=$BIN_DIR)" >&2; exit 1; }
done

# Descriptors: the proxies and the idle tool each hold IDLE_CONNS connections plus spare.
WANT_FDS=$((IDLE_CONNS + 1024))
if [[ "$(ulimit -n)" != unlimited && "$(ulimit -n)" -lt "$WANT_FDS" ]]; then
  hard=$(ulimit -Hn)
  if [[ "$hard" != unlimited && "$hard" -lt "$WANT_FDS" ]]; then
    echo "ulimit -n: hard limit $hard is below the $WANT_FDS descriptors IDLE_CONNS=$IDLE_CONNS needs;" \
         "raise it (e.g. ulimit -Hn $WANT_FDS as root) or lower IDLE_CONNS" >&2
    exit 1
  fi
  ulimit -n "$WANT_FDS"
fi

CLK_TCK=$(getconf CLK_TCK)
T=$(mktemp -d "${TMPDIR:-/tmp}/stgw-compare.XXXXXX")
chmod 755 "$T"                      # nginx workers run as an unprivileged user when started as root
declare -a STARTED_PIDS=()
IDLE_PID=

stop_pid() {
  local p=$1
  [[ -n "$p" ]] || return 0
  if kill -0 "$p" 2>/dev/null; then
    kill -TERM "$p" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$p" 2>/dev/null; then kill -KILL "$p" 2>/dev/null || true; fi
  fi
  wait "$p" 2>/dev/null || true
}
cleanup() {
  local rc=$? p
  exec 7>&- 2>/dev/null || true
  stop_pid "$IDLE_PID"
  for p in "${STARTED_PIDS[@]}"; do stop_pid "$p"; done
  if [[ -n "$RESULTS_DIR" ]] && mkdir -p "$RESULTS_DIR"; then
    cp -r "$T/raw" "$RESULTS_DIR"/ 2>/dev/null || true
    for d in backend nginx; do
      cp "$T/$d/nginx.conf" "$RESULTS_DIR/$d-nginx.conf" 2>/dev/null || true
      cp "$T/$d/error.log" "$RESULTS_DIR/$d-error.log" 2>/dev/null || true
    done
    cp "$T/stgw/stgw.toml" "$T/stgw/stgw.log" "$RESULTS_DIR"/ 2>/dev/null || true
  fi
  if [[ "$KEEP_TMP" = 1 ]]; then echo "kept temp dir: $T" >&2; else rm -rf "$T"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for p in $BACKEND_PORT $BACKEND_TLS_PORT $NGINX_PORT $NGINX_TLS_PORT $STGW_PORT $STGW_TLS_PORT; do
  port_busy "$p" && { echo "port 127.0.0.1:$p is already in use (another run? set PORT_BASE)" >&2; exit 1; }
done

# ------------------------------------------------------------------ content, certificate
mkdir -p "$T/www/static" "$T/raw" "$T/backend" "$T/nginx" "$T/stgw" "$T/tls"
head -c 10240 /dev/urandom > "$T/www/static/10k.bin"
chmod -R a+rX "$T/www"
SMALL_BODY=$(printf 'x%.0s' $(seq 100))   # exactly 100 bytes
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
  -keyout "$T/tls/key.pem" -out "$T/tls/cert.pem" -days 2 -subj /CN=localhost \
  -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" >/dev/null 2>&1
chmod a+r "$T/tls/key.pem" "$T/tls/cert.pem"

# ------------------------------------------------------------------ configurations
nginx_main() {  # dir
  cat <<EOF
worker_processes 1;
worker_rlimit_nofile $WANT_FDS;
pid $1/nginx.pid;
error_log $1/error.log warn;
events { worker_connections $WANT_FDS; }
EOF
}
nginx_http() {  # dir keepalive_requests
  cat <<EOF
  access_log off;
  default_type application/octet-stream;
  sendfile on;
  tcp_nodelay on;
  gzip off;
  keepalive_timeout 65s;
  keepalive_requests $2;
  client_body_temp_path $1/tmp_body;
  proxy_temp_path $1/tmp_proxy;
  fastcgi_temp_path $1/tmp_fastcgi;
  uwsgi_temp_path $1/tmp_uwsgi;
  scgi_temp_path $1/tmp_scgi;
  ssl_certificate $T/tls/cert.pem;
  ssl_certificate_key $T/tls/key.pem;
  ssl_protocols TLSv1.2 TLSv1.3;
  ssl_session_cache shared:SSL:1m;
EOF
}
{ nginx_main "$T/backend"; cat <<EOF
http {
$(nginx_http "$T/backend" 1000000)
  server {
    listen 127.0.0.1:$BACKEND_PORT;
    listen 127.0.0.1:$BACKEND_TLS_PORT ssl http2;
    root $T/www;
    # The same file over and over: its descriptor is kept open, which spares
    # the generator side (the backend shares its CPU with the load generator)
    # an open, fstat and close per request.
    open_file_cache max=16 inactive=60s;
    location = /small { default_type text/plain; return 200 "$SMALL_BODY"; }
    location /static/ { }
  }
}
EOF
} > "$T/backend/nginx.conf"

nginx_proxy_location() {
  cat <<EOF
    location / {
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host \$http_host;
      proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
      proxy_set_header X-Real-IP \$remote_addr;
      proxy_set_header X-Client-Proto \$scheme;
      proxy_set_header X-Forwarded-Proto \$scheme;
      proxy_set_header Stgw-request-id \$request_id;
    }
EOF
}
# The proxy nginx adds the request headers stgw adds (README: Forwarding), so both do
# the same work: Host passed through, X-Forwarded-For appended, X-Real-IP, the scheme
# twice, a 32-hex-digit request id.
{ nginx_main "$T/nginx"; cat <<EOF
http {
$(nginx_http "$T/nginx" "$KEEPALIVE_REQUESTS")
  upstream backend {
    server 127.0.0.1:$BACKEND_PORT;
    keepalive $UPSTREAM_KEEPALIVE;
    keepalive_requests 1000000;
    keepalive_timeout 60s;
  }
  server {
    listen 127.0.0.1:$NGINX_PORT;
    server_name localhost;
$(nginx_proxy_location)
  }
  server {
    listen 127.0.0.1:$NGINX_TLS_PORT ssl http2;
    server_name localhost;
    # nginx applies keepalive_requests to HTTP/2 connections too (stgw does not), and
    # h2load does not reconnect: the limit would stop its clients. One extra handshake
    # per KEEPALIVE_REQUESTS HTTPS/1.1 requests on stgw's side costs nothing measurable.
    keepalive_requests 1000000;
$(nginx_proxy_location)
  }
}
EOF
} > "$T/nginx/nginx.conf"

stgw_rule() {
  cat <<EOF
      [[load_balancer.listener.domain.rule]]
      url = "/"
      gzip = false
      targets = [{ address = "127.0.0.1:$BACKEND_PORT" }]
      [load_balancer.listener.domain.rule.health_check]
      enabled = false
EOF
}
cat > "$T/stgw/stgw.toml" <<EOF
# generated by benches/compare.sh
[global]
worker_threads = 1
access_log = "off"
log_level = "warn"
state_dir = "var"
upstream_keepalive = $UPSTREAM_KEEPALIVE
upstream_keepalive_timeout = "60s"

[[load_balancer]]
name = "bench"
vip = "127.0.0.1"
custom_config = "keepalive_requests $KEEPALIVE_REQUESTS; keepalive_timeout 65s;"

  [[load_balancer.listener]]
  protocol = "HTTP"
  port = $STGW_PORT
    [[load_balancer.listener.domain]]
    name = "localhost"
$(stgw_rule)

  [[load_balancer.listener]]
  protocol = "HTTPS"
  port = $STGW_TLS_PORT
  certificate = { cert = "$T/tls/cert.pem", key = "$T/tls/key.pem" }
    [[load_balancer.listener.domain]]
    name = "localhost"
    http2 = true
$(stgw_rule)
EOF

# ------------------------------------------------------------------ processes
on_cpu() {  # cpu -> prefix words for a pinned command
  [[ "$PIN" = 1 ]] && echo "taskset -c $1"
  return 0
}
# The generator side: every CPU but the proxy's.
GEN_CPUS=0; GEN_COUNT=1
(( $(nproc) > 2 )) && GEN_CPUS="0,2-$(( $(nproc) - 1 ))" && GEN_COUNT=$(( $(nproc) - 1 ))
LG=(); [[ "$PIN" = 1 ]] && LG=(taskset -c "$GEN_CPUS")

wait_ready() {  # url pid
  for _ in $(seq 300); do
    curl -sk -o /dev/null --max-time 1 "$1" && return 0
    kill -0 "$2" 2>/dev/null || { echo "the server for $1 died; see its log" >&2; return 1; }
    sleep 0.1
  done
  echo "timeout waiting for $1" >&2; return 1
}
start_nginx() {  # instance cpu -> LAST_PID
  local d="$T/$1"
  nginx -t -q -p "$d/" -c "$d/nginx.conf" -e "$d/error.log"
  # shellcheck disable=SC2046
  $(on_cpu "$2") nginx -p "$d/" -c "$d/nginx.conf" -e "$d/error.log" -g 'daemon off;' &
  LAST_PID=$!
  STARTED_PIDS+=("$LAST_PID")
}
start_target() {  # nginx|stgw  (the proxies; the backend runs throughout)
  case "$1" in
    nginx)
      start_nginx nginx 1; NGINX_PID=$LAST_PID
      wait_ready "http://127.0.0.1:$NGINX_PORT/small" "$NGINX_PID";;
    stgw)
      "$STGW_BIN" check --config "$T/stgw/stgw.toml" >/dev/null
      # shellcheck disable=SC2046,SC2086
      $(on_cpu 1) $STGW_WRAP "$STGW_BIN" --config "$T/stgw/stgw.toml" >> "$T/stgw/stgw.log" 2>&1 &
      STGW_PID=$!
      STARTED_PIDS+=("$STGW_PID")
      wait_ready "http://127.0.0.1:$STGW_PORT/small" "$STGW_PID";;
  esac
}
stop_target() {
  case "$1" in
    nginx) stop_pid "$NGINX_PID";;
    stgw) stop_pid "$STGW_PID";;
  esac
}
pid_of() {
  case "$1" in
    direct) echo "$BACKEND_PID";;
    nginx) echo "$NGINX_PID";;
    stgw) echo "$STGW_PID";;
  esac
}

start_nginx backend "$GEN_CPUS"; BACKEND_PID=$LAST_PID
wait_ready "http://127.0.0.1:$BACKEND_PORT/small" "$BACKEND_PID"
start_target nginx
start_target stgw

# ------------------------------------------------------------------ sanity checks
check() {  # url want_bytes want_http_version [curl args]
  local url=$1 want=$2 ver=$3 got; shift 3
  got=$(curl -sk "$@" --max-time 5 -o /dev/null -w '%{http_code} %{http_version} %{size_download}' "$url" || true)
  [[ "$got" == "200 $ver $want" ]] || { echo "sanity check failed for $url: got '$got', want '200 $ver $want'" >&2; exit 1; }
}
for p in $BACKEND_PORT $NGINX_PORT $STGW_PORT; do
  check "http://127.0.0.1:$p/small" 100 1.1
  check "http://127.0.0.1:$p/static/10k.bin" 10240 1.1
done
for p in $BACKEND_TLS_PORT $NGINX_TLS_PORT; do
  check "https://127.0.0.1:$p/small" 100 2 --http2
  check "https://127.0.0.1:$p/static/10k.bin" 10240 2 --http2
  check "https://127.0.0.1:$p/small" 100 1.1 --http1.1
done
STGW_TLS="skipped: stgw has no TLS listener yet"
STGW_H2="$STGW_TLS"
if curl -sk --http1.1 --max-time 3 -o /dev/null "https://127.0.0.1:$STGW_TLS_PORT/small"; then
  STGW_TLS=
  check "https://127.0.0.1:$STGW_TLS_PORT/small" 100 1.1 --http1.1
  if [[ "$(curl -sk --http2 --max-time 3 -o /dev/null -w '%{http_version}' "https://127.0.0.1:$STGW_TLS_PORT/small" || true)" == 2 ]]; then
    STGW_H2=
    check "https://127.0.0.1:$STGW_TLS_PORT/static/10k.bin" 10240 2 --http2
  else
    STGW_H2="skipped: stgw's TLS listener does not negotiate h2"
  fi
fi

if [[ "$SERVE" = 1 ]]; then
  echo "backend  http://127.0.0.1:$BACKEND_PORT  https://127.0.0.1:$BACKEND_TLS_PORT  pid $BACKEND_PID"
  echo "nginx    http://127.0.0.1:$NGINX_PORT  https://127.0.0.1:$NGINX_TLS_PORT  pid $NGINX_PID (worker: $(ps -o pid= --ppid "$NGINX_PID" | tr -d ' '))"
  echo "stgw     http://127.0.0.1:$STGW_PORT  https://127.0.0.1:$STGW_TLS_PORT  pid $STGW_PID ${STGW_TLS:+($STGW_TLS)}"
  echo "paths    /small (100 B)  /static/10k.bin (10 KiB)    temp dir $T    Ctrl-C stops everything"
  sleep infinity &
  STARTED_PIDS+=("$!")
  wait "$!"
fi

# ------------------------------------------------------------------ accounting
proc_cpu() {  # "utime stime" (ticks) of PID and its direct children (threads included)
  local u=0 k=0 p s
  for p in "$1" $(ps -o pid= --ppid "$1" 2>/dev/null); do
    s=$(cat "/proc/$p/stat" 2>/dev/null) || continue
    s=${s##*) }
    # shellcheck disable=SC2086
    set -- $s
    u=$((u + ${12})); k=$((k + ${13}))
  done
  echo "$u $k"
}
proc_ticks() {  # utime+stime of PID and its direct children
  local u k
  read -r u k < <(proc_cpu "$1")
  echo $((u + k))
}
proc_rss_kib() {  # VmRSS of PID and its direct children
  local total=0 p v
  for p in "$1" $(ps -o pid= --ppid "$1" 2>/dev/null); do
    v=$(awk '/^VmRSS:/{print $2}' "/proc/$p/status" 2>/dev/null) || continue
    total=$((total + ${v:-0}))
  done
  echo "$total"
}
proc_fds() {  # open descriptors of PID and its direct children (best effort)
  local total=0 p n
  for p in "$1" $(ps -o pid= --ppid "$1" 2>/dev/null); do
    n=$(find "/proc/$p/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l) || n=0
    total=$((total + n))
  done
  echo "$total"
}
sys_ticks() {  # "busy total" over all CPUs
  awk '/^cpu /{t=0; for(i=2;i<=NF;i++) t+=$i; print t-$5-$6, t; exit}' /proc/stat
}
children_ticks() {  # `times` output (2nd line: children user, sys) -> ticks
  awk -v hz="$CLK_TCK" 'NR==2{ s=0; for(i=1;i<=2;i++){ v=$i; m=v; sub(/m.*/,"",m); sub(/^[0-9]+m/,"",v); sub(/s$/,"",v); s+=m*60+v }
    printf "%d", s*hz+0.5 }' "$1" 2>/dev/null || echo 0
}

# ------------------------------------------------------------------ runners
# Each prints: rps p50_us p99_us requests errors loadgen_ticks
to_us() { awk -v v="$1" 'BEGIN{ n=v+0; u=v; sub(/^[0-9.]+/,"",u);
  m=(u=="us")?1:(u=="ms")?1000:(u=="s")?1e6:(u=="m")?6e7:(u=="h")?3.6e9:-1; printf "%.0f", (m<0||v=="")?-1:n*m }'; }
run_wrk() {  # url seconds outfile close(0|1)
  local hdr=() rps p50 p99 req err
  [[ "$4" = 1 ]] && hdr=(-H 'Connection: close')
  ( timeout $(($2 + 30)) "${LG[@]}" wrk -t"$THREADS" -c"$CONNS" -d"$2"s --latency "${hdr[@]}" "$1" > "$3" 2>&1 || true
    times > "$3.times" )
  rps=$(awk '/^Requests\/sec:/{print $2}' "$3")
  p50=$(to_us "$(awk '$1=="50%"{print $2}' "$3")")
  p99=$(to_us "$(awk '$1=="99%"{print $2}' "$3")")
  req=$(awk '/requests in/{print $1}' "$3")
  err=$(awk '/Non-2xx/{n+=$NF} /Socket errors/{gsub(",","");n+=$4+$6+$8+$10} END{print n+0}' "$3")
  echo "${rps:-0} ${p50:--1} ${p99:--1} ${req:-0} $err $(children_ticks "$3.times")"
}
run_hs() {  # url seconds outfile
  local hostport=${1#https://} rps p50 p99 req err
  hostport=${hostport%%/*}
  ( timeout $(($2 + 30)) "${LG[@]}" "$HS_BIN" "$hostport" "$2" "$CONNS" "/${1#https://*/}" > "$3" 2> "$3.err" || true
    times > "$3.times" )
  read -r rps p50 p99 req err < "$3" || true
  echo "${rps:-0} ${p50:--1} ${p99:--1} ${req:-0} ${err:-0} $(children_ticks "$3.times")"
}
run_h2load() {  # url seconds outfile
  local rps req err p50 p99
  ( timeout $(($2 + 30)) "${LG[@]}" h2load -t"$THREADS" -c"$H2_CLIENTS" -m"$H2_STREAMS" -D "$2" \
      --log-file="$3.log" "$1" > "$3" 2>&1 || true
    times > "$3.times" )
  rps=$(awk '/^finished in/{gsub(",",""); print $4}' "$3")
  req=$(awk '/^requests:/{print $8}' "$3")
  err=$(awk '/^requests:/{e=$10+$12+$14} /^status codes:/{e+=$7+$9} END{print e+0}' "$3")
  read -r p50 p99 < <(awk -F'\t' '$2>=200&&$2<400{print $3}' "$3.log" 2>/dev/null | sort -n |
    awk '{a[NR]=$1} END{ if(NR==0){print -1,-1; exit}
      i50=int(NR*0.50); if(i50<1)i50=1; i99=int(NR*0.99); if(i99<1)i99=1; print a[i50], a[i99] }')
  rm -f "$3.log"
  echo "${rps:-0} ${p50:--1} ${p99:--1} ${req:-0} ${err:-0} $(children_ticks "$3.times")"
}

# ------------------------------------------------------------------ cases
# name|tool|path|tls(0|1)|close(0|1)
ALL_CASES=(
  "h1-small|wrk|/small|0|0"
  "h1-10k|wrk|/static/10k.bin|0|0"
  "h1-close|wrk|/small|0|1"
  "https-small|wrk|/small|1|0"
  "https-10k|wrk|/static/10k.bin|1|0"
  "https-handshake|hs|/small|1|1"
  "https-resume|wrk|/small|1|1"
  "h2-small|h2load|/small|1|0"
  "h2-10k|h2load|/static/10k.bin|1|0"
)
SEL=()
for c in "${ALL_CASES[@]}"; do
  [[ -n "$ONLY" && ! "${c%%|*}" =~ $ONLY ]] && continue
  SEL+=("$c")
done
RUN_IDLE=1
[[ -n "$ONLY" && ! idle =~ $ONLY ]] && RUN_IDLE=0
[[ ${#SEL[@]} -gt 0 || "$RUN_IDLE" = 1 ]] || { echo "no case matches ONLY=$ONLY" >&2; exit 2; }

url_of() {  # target path tls
  local port
  case "$1:$3" in
    direct:0) port=$BACKEND_PORT;; direct:1) port=$BACKEND_TLS_PORT;;
    nginx:0) port=$NGINX_PORT;; nginx:1) port=$NGINX_TLS_PORT;;
    stgw:0) port=$STGW_PORT;; stgw:1) port=$STGW_TLS_PORT;;
  esac
  local scheme=http; [[ "$3" = 1 ]] && scheme=https
  echo "$scheme://127.0.0.1:$port$2"
}
skip_reason() {  # target tool tls
  [[ "$1" != stgw || "$3" = 0 ]] && return 0
  if [[ "$2" = h2load ]]; then echo "$STGW_H2"; else echo "$STGW_TLS"; fi
}

tls_info() {  # port
  h2load -n1 -c1 "https://127.0.0.1:$1/small" 2>/dev/null |
    awk -F': ' '/^TLS Protocol|^Cipher|^Server Temp Key|^Application protocol/{printf "%s ", $2}'
}
COMMIT=$(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo unknown)
echo "# stgw vs nginx  $(date -u +%Y-%m-%dT%H:%M:%SZ)  stgw $COMMIT ($STGW_BIN)"
echo "# host: $(nproc) CPUs, $(awk -F': ' '/model name/{print $2; exit}' /proc/cpuinfo), kernel $(uname -r), $(awk '/MemTotal/{printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
echo "# $(nginx -v 2>&1 | sed 's/^nginx version: //'), wrk $(wrk -v 2>&1 | awk 'NR==1{print $2}'), $(h2load --version), $(openssl version | awk '{print $1,$2}')"
echo "# wrk -t$THREADS -c$CONNS -d${DURATION}s --latency | h2load -t$THREADS -c$H2_CLIENTS -m$H2_STREAMS -D $DURATION | reps=$REPS warmup=${WARMUP}s pin=$PIN | keepalive_requests=$KEEPALIVE_REQUESTS upstream keepalive=$UPSTREAM_KEEPALIVE | idle=$IDLE_CONNS"
[[ "$SMOKE" = 1 ]] && echo "# SMOKE RUN (profile $PROFILE, ${DURATION}s, $REPS rep): checks that every case works; the numbers are not a measurement"
echo "# TLS nginx: $(tls_info "$NGINX_TLS_PORT")"
if [[ -z "$STGW_TLS" ]]; then echo "# TLS stgw:  $(tls_info "$STGW_TLS_PORT")"; else echo "# TLS stgw:  $STGW_TLS"; fi

RAW="$T/raw/results.tsv"
printf 'case\ttarget\trep\trps\tp50_us\tp99_us\trequests\terrors\tproxy_ticks\tbackend_ticks\tloadgen_ticks\tbusy_ticks\ttotal_ticks\tnote\tproxy_user_ticks\n' > "$RAW"

measure() {  # case tool path tls close target rep
  local name=$1 tool=$2 path=$3 tls=$4 close=$5 target=$6 r=$7 url why
  local f0=0 f1=0 n0=0 n1=0 s0 t0 b0 b1 s1 t1 res rps p50 p99 req err lg fd u0 u1 k pu
  url=$(url_of "$target" "$path" "$tls")
  why=$(skip_reason "$target" "$tool" "$tls")
  if [[ -n "$why" ]]; then
    printf '%s\t%s\t%s\t-\t-\t-\t-\t-\t-\t-\t-\t-\t-\t%s\t-\n' "$name" "$target" "$r" "$why" >> "$RAW"
    return 0
  fi
  if [[ "$r" = 1 && "$WARMUP" -gt 0 ]]; then
    "run_$tool" "$url" "$WARMUP" "$T/raw/$name.$target.warmup.txt" "$close" >/dev/null
  fi
  # proxy CPU: the proxy under test; "direct" has no proxy. Others' CPU = busy - ours.

  b0=$(proc_ticks "$BACKEND_PID"); f0=$(proc_ticks "$NGINX_PID"); n0=$(proc_ticks "$STGW_PID")
  u0=0; [[ "$target" != direct ]] && read -r u0 k < <(proc_cpu "$(pid_of "$target")")
  read -r s0 t0 < <(sys_ticks)
  res=$("run_$tool" "$url" "$DURATION" "$T/raw/$name.$target.$r.txt" "$close")
  read -r s1 t1 < <(sys_ticks)
  b1=$(proc_ticks "$BACKEND_PID"); f1=$(proc_ticks "$NGINX_PID"); n1=$(proc_ticks "$STGW_PID")
  u1=0; [[ "$target" != direct ]] && read -r u1 k < <(proc_cpu "$(pid_of "$target")")
  pu=-1; [[ "$target" != direct ]] && pu=$((u1 - u0))
  read -r rps p50 p99 req err lg <<<"$res"
  case "$target" in nginx) fd=$((f1 - f0));; stgw) fd=$((n1 - n0));; *) fd=-1;; esac
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$target" "$r" "$rps" "$p50" "$p99" \
    "$req" "$err" "$fd" $((b1 - b0)) $((lg + f1 - f0 + n1 - n0 - (fd > 0 ? fd : 0))) $((s1 - s0)) $((t1 - t0)) "" "$pu" >> "$RAW"
  printf '  %-16s %-6s rep %s: %9.0f req/s  p50 %6sus  p99 %6sus  err %s\n' "$name" "$target" "$r" "$rps" "$p50" "$p99" "$err" >&2
}
# loadgen_ticks above also carries the idle proxy's ticks (tiny) so that
# other = busy - backend - proxy - loadgen_ticks stays exact.

IDLE_RAW="$T/raw/idle.tsv"
printf 'target\trep\tconns\tfailed\talive\trss_before_kib\trss_after_kib\tfds_before\tfds_after\n' > "$IDLE_RAW"
measure_idle() {  # target rep
  local target=$1 r=$2 port pid before after fdb fda line ok failed alive
  stop_target "$target"; start_target "$target"
  pid=$(pid_of "$target")
  case "$target" in nginx) port=$NGINX_PORT;; stgw) port=$STGW_PORT;; esac
  for _ in 1 2 3; do curl -s -o /dev/null "http://127.0.0.1:$port/small"; done
  sleep 0.5
  before=$(proc_rss_kib "$pid"); fdb=$(proc_fds "$pid")
  rm -f "$T/idle.fifo"; mkfifo "$T/idle.fifo"
  "$IDLE_BIN" "127.0.0.1:$port" "$IDLE_CONNS" /small 128 < "$T/idle.fifo" > "$T/raw/idle.$target.$r.out" 2> "$T/raw/idle.$target.$r.err" &
  IDLE_PID=$!
  exec 7> "$T/idle.fifo"
  line=
  for _ in $(seq 1200); do
    line=$(awk '$1=="ready"' "$T/raw/idle.$target.$r.out")
    [[ -n "$line" ]] && break
    kill -0 "$IDLE_PID" 2>/dev/null || break
    sleep 0.1
  done
  [[ -n "$line" ]] || { echo "idle_conns did not get ready: $(cat "$T/raw/idle.$target.$r.err")" >&2; exit 1; }
  read -r _ ok failed <<<"$line"
  sleep "$IDLE_SETTLE"
  after=$(proc_rss_kib "$pid"); fda=$(proc_fds "$pid")
  exec 7>&-
  wait "$IDLE_PID" 2>/dev/null || true
  IDLE_PID=
  alive=$(awk '$1=="alive"{print $2}' "$T/raw/idle.$target.$r.out")
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$target" "$r" "$ok" "$failed" "${alive:--1}" "$before" "$after" "$fdb" "$fda" >> "$IDLE_RAW"
  printf '  %-16s %-6s rep %s: %d idle conns (%d failed, %s alive), RSS %d -> %d KiB: %.2f KiB/conn\n' idle "$target" "$r" \
    "$ok" "$failed" "${alive:--1}" "$before" "$after" "$(awk -v a="$after" -v b="$before" -v n="$ok" 'BEGIN{print (n>0)?(a-b)/n:0}')" >&2
  [[ -s "$T/raw/idle.$target.$r.err" ]] && sed 's/^/    /' "$T/raw/idle.$target.$r.err" >&2
  return 0
}

for r in $(seq "$REPS"); do
  # nginx first on odd reps, stgw first on even ones: order effects cancel out.
  if ((r % 2)); then ORDER=(direct nginx stgw); else ORDER=(direct stgw nginx); fi
  for c in "${SEL[@]}"; do
    IFS='|' read -r name tool path tls close <<<"$c"
    for target in "${ORDER[@]}"; do
      measure "$name" "$tool" "$path" "$tls" "$close" "$target" "$r"
    done
  done
done
if [[ "$RUN_IDLE" = 1 ]]; then
  for r in $(seq "$REPS"); do
    if ((r % 2)); then ORDER=(nginx stgw); else ORDER=(stgw nginx); fi
    for target in "${ORDER[@]}"; do measure_idle "$target" "$r"; done
  done
fi

# ------------------------------------------------------------------ summary
echo
awk -F'\t' -v hz="$CLK_TCK" -v idle_raw="$IDLE_RAW" -v smoke="$SMOKE" -v want_idle="$IDLE_CONNS" -v noisy="$NOISY" -v ncpu="$(nproc)" -v gcpus="$GEN_COUNT" -v pin="$PIN" '
function med(s,   a,n,i,j,t){ n=split(s,a," "); if(n==0) return -1
  for(i=1;i<=n;i++)for(j=i+1;j<=n;j++)if(a[j]+0<a[i]+0){t=a[i];a[i]=a[j];a[j]=t}
  return (n%2)?a[(n+1)/2]:(a[n/2]+a[n/2+1])/2 }
function max(s,   a,n,i,m){ n=split(s,a," "); m=-1; for(i=1;i<=n;i++) if(a[i]+0>m) m=a[i]+0; return m }
# gen cap of case c as a multiple of the median nginx rate; -1 when unknown
function gencap(c,   n){ n=c SUBSEP "nginx"; return (capr[c]==""||med(rps[n])<=0)?-1:max(capr[c])/med(rps[n]) }
function ratio(a,b){ return (a<0||b<=0)?"-":sprintf("%.2f",a/b) }
function num(v,fmt){ return (v<0)?"-":sprintf(fmt,v) }
function problem(s){ problems[++np]=s }
NR==1{next}
{ k=$1 SUBSEP $2
  if(!($1 in seen)){seen[$1]=1; order[++nc]=$1}
  if($14!=""){ skip[k]=$14; next }
  rps[k]=rps[k]" "$4; p50[k]=p50[k]" "$5; p99[k]=p99[k]" "$6; err[k]+=$8
  if($4+0<=0||$5<0||$6<0||$7+0<=0) problem(sprintf("%s %s rep %s: no result (see raw output)",$1,$2,$3))
  if($8>0) problem(sprintf("%s %s rep %s: %d errors",$1,$2,$3,$8))
  if($9>=0&&$7>0) cpu[k]=cpu[k]" "($9*1e6/hz/$7)
  if($13>0){ o=100*($12-$10-($9>0?$9:0)-$11)/$13; oth[k]=oth[k]" "o
    if($2!="direct"){ runs[$1]++; if(o>noisy) loud[$1]++ } }
  if($13>0&&$9>=0){ gb=100*($10+$11)*ncpu/$13; pbusy[k]=pbusy[k]" "(100*$9*ncpu/$13); gbusy[k]=gbusy[k]" "gb
    # The cap of the generator side: the rate at which the load generator and backend would fill their CPUs
    # at the CPU per request they spent in this run (rps / the share of their CPUs they used).
    if(pin==1&&$2!="direct"&&$4>0&&gb>0) capr[$1]=capr[$1]" "($4*100*gcpus/gb) }
  if($15>=0&&$9>=0&&$7>0){ ucpu[k]=ucpu[k]" "($15*1e6/hz/$7); scpu[k]=scpu[k]" "(($9-$15)*1e6/hz/$7) }
}
END{
  keep["h1-small"]=keep["h1-10k"]=keep["https-small"]=keep["https-10k"]=keep["h2-small"]=keep["h2-10k"]=1
  if(nc>0){
  print "stgw / nginx, medians over reps. rps: requests (or handshakes) per second; x = stgw/nginx:"
  print "above 1 is better for rps, below 1 is better for p50, p99 and CPU. ceiling = the backend served directly."
  printf "%-15s %9s %9s %9s %5s | %7s %7s %5s | %7s %7s %5s | %6s %6s %5s | %5s %6s | %s\n",
    "case","ceiling","nginx","stgw","x","p50 ng","stgw","x","p99 ng","stgw","x","cpu ng","stgw","x","err","noisy","goal (issue 10)"
  printf "%-15s %9s %9s %9s %5s | %7s %7s %5s | %7s %7s %5s | %6s %6s %5s | %5s %6s |\n",
    "","rps","rps","rps","","ms","ms","","ms","ms","","us/req","us/req","","n+s","runs"
  for(i=1;i<=nc;i++){ c=order[i]; d=c SUBSEP "direct"; n=c SUBSEP "nginx"; s=c SUBSEP "stgw"
    if(s in skip){
      printf "%-15s %9s %9s %9s %5s | %7s %7s %5s | %7s %7s %5s | %6s %6s %5s | %5s %6s | %s\n", c,
        num(med(rps[d]),"%.0f"), num(med(rps[n]),"%.0f"), "-", "-", num(med(p50[n])/1000,"%.3f"), "-", "-",
        num(med(p99[n])/1000,"%.3f"), "-", "-", num(med(cpu[n]),"%.1f"), "-", "-", err[n]+0, (loud[c]+0)"/"(runs[c]+0), skip[s]
      continue }
    rx=ratio(med(rps[s]),med(rps[n])); px=ratio(med(p50[s]),med(p50[n])); qx=ratio(med(p99[s]),med(p99[n])); cx=ratio(med(cpu[s]),med(cpu[n]))
    capx=gencap(c)
    if(c in keep){ g=(rx!="-"&&rx>=1.2&&qx!="-"&&qx<=1&&cx!="-"&&cx<=1)?"met":"not met"
      g=g" (rps>=1.2x, p99 & cpu <=1x)"
      if(g~/^not/&&capx>0&&capx<1.2) g=g"; gen cap "sprintf("%.2f",capx)"x" }
    else if(c=="h1-close"||c=="https-handshake"){ g=(rx!="-"&&rx>=1.0)?"met":"not met"; g=g" (rps>=1x)" }
    else g="(none)"
    printf "%-15s %9s %9s %9s %5s | %7s %7s %5s | %7s %7s %5s | %6s %6s %5s | %5d %6s | %s\n", c,
      num(med(rps[d]),"%.0f"), num(med(rps[n]),"%.0f"), num(med(rps[s]),"%.0f"), rx,
      num(med(p50[n])/1000,"%.3f"), num(med(p50[s])/1000,"%.3f"), px,
      num(med(p99[n])/1000,"%.3f"), num(med(p99[s])/1000,"%.3f"), qx,
      num(med(cpu[n]),"%.1f"), num(med(cpu[s]),"%.1f"), cx, err[n]+err[s], (loud[c]+0)"/"(runs[c]+0), g
  }
  print "cpu = utime+stime of the proxy (all processes and threads) per request. noisy = nginx and stgw runs during which"
  printf "more than %d%% of the machine'"'"'s CPU went to other work (other people'"'"'s builds): their rates are not trustworthy.\n", noisy
  print ""
  printf "%-15s %13s %13s | %-11s %-11s | %7s | %s\n","CPU split","nginx","stgw","busy ng","busy stgw","gen cap","bound"
  printf "%-15s %27s | %-23s | %7s |\n","","us/req: user + system","% of a core: proxy, gen","x nginx"
  for(i=1;i<=nc;i++){ c=order[i]; n=c SUBSEP "nginx"; s=c SUBSEP "stgw"
    capx=gencap(c)
    b=""; if(pin==1&&pbusy[s]!=""&&med(pbusy[s])<90&&med(gbusy[s])>=90*gcpus) b="stgw idles "sprintf("%.0f",100-med(pbusy[s]))"%: the load generator and backend set the rate"
    printf "%-15s %13s %13s | %-11s %-11s | %7s | %s\n", c, (ucpu[n]=="")?"-":sprintf("%5.1f + %5.1f",med(ucpu[n]),med(scpu[n])),
      (ucpu[s]=="")?"-":sprintf("%5.1f + %5.1f",med(ucpu[s]),med(scpu[s])),
      (pbusy[n]=="")?"-":sprintf("%3.0f, %3.0f",med(pbusy[n]),med(gbusy[n])),
      (pbusy[s]=="")?"-":sprintf("%3.0f, %3.0f",med(pbusy[s]),med(gbusy[s])), num(capx,"%.2f"), b }
  print "busy = CPU time over the run, as % of one core: of the proxy, and of the generator side (load generator + backend,"
  print "pinned to the other CPUs when pin=1). A proxy well under 100% while those are saturated is not what limits the rate:"
  print "there, the rps ratio understates the difference and the CPU per request is the measure of the proxy."
  print "gen cap = the rate at which the generator side would fill its CPUs at the cheapest CPU per request it reached in"
  print "this case (rps / its busy share, best of all nginx and stgw runs), as a multiple of nginx'"'"'s median rate (pin=1 only)."
  print "A proxy cannot lead nginx by more on this host unless the generator side works more cheaply still; where it is below"
  print "1.2, the goal'"'"'s 1.2x cannot show here, and the CPU per request is the measure of the proxy."
  }
  ni=0
  while((getline line < idle_raw)>0){ if(++ni==1) continue; split(line,f,"\t")
    t=f[1]; ic[t]=ic[t]" "f[3]; ra[t]=ra[t]" "f[7]; kb[t]=kb[t]" "((f[3]>0)?(f[7]-f[6])/f[3]:-1)
    if(f[3]!=want_idle||f[4]>0) problem(sprintf("idle %s rep %s: %d of %d connections opened, %d failed",t,f[2],f[3],want_idle,f[4]))
    if(f[5]>=0&&f[5]<f[3]) problem(sprintf("idle %s rep %s: only %d of %d connections were still open at the end",t,f[2],f[5],f[3]))
    if(f[9]>0&&f[9]-f[8]<f[3]) problem(sprintf("idle %s rep %s: the proxy holds %d more descriptors, expected %d or more",t,f[2],f[9]-f[8],f[3]))
  }
  if(ni>1){
    print ""
    printf "%-15s %9s %9s %9s %5s | %s\n","idle","conns","nginx","stgw","x","goal (issue 10)"
    printf "%-15s %9s %9s %9s %5s |\n","","","KiB/conn","KiB/conn",""
    mn=med(kb["nginx"]); ms=med(kb["stgw"])
    printf "%-15s %9d %9s %9s %5s | %s\n","rss-per-conn",med(ic["stgw"]" "ic["nginx"]),num(mn,"%.2f"),num(ms,"%.2f"),ratio(ms,mn),
      (ms>=0&&ms<=24)?"met (<= 24 KiB)":"not met (<= 24 KiB)"
    printf "%-15s %9s %9s %9s %5s |\n","rss-total MiB","",num(med(ra["nginx"])/1024,"%.1f"),num(med(ra["stgw"])/1024,"%.1f"),ratio(med(ra["stgw"]),med(ra["nginx"]))
    print "KiB/conn = (VmRSS after - before) / connections, all processes of the proxy; kernel socket buffers are not in RSS."
    print "nginx touches its connection array (worker_connections) at start, so part of its per-connection cost is in \"before\"."
  }
  if(np>0){ print ""; for(i=1;i<=np;i++) print "PROBLEM: " problems[i]; exit 1 }
  if(smoke) print "\nsmoke: every case produced a number, no errors"
}' "$RAW" || { echo "some runs failed or produced no number (see PROBLEM lines; RESULTS_DIR=<dir> keeps raw output)" >&2; exit 1; }
