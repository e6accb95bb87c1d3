#!/usr/bin/env bash
# benches/pgo-build.sh - a profile-guided (PGO) release build of stgw.
#
#   benches/pgo-build.sh            build, train, rebuild; prints the BIN_DIR of the result
#   benches/pgo-build.sh --smoke    CI check of the same steps with the dev profile and
#                                   1 s of each training load (the binary it makes is no faster)
#   benches/pgo-build.sh --help     this text
#
# Steps:
#   1. build stgw instrumented (rustc -Cprofile-generate) into target/pgo-gen;
#   2. train it: benches/compare.sh --serve starts the backend and the instrumented stgw,
#      and the load tools run every kind of traffic the harness measures against it for
#      TRAIN_SECONDS (4) each: HTTP/1.1 keep-alive (100 B and 10 KiB), a new connection
#      per request, HTTPS keep-alive (both sizes), resumed and full TLS handshakes, and
#      HTTP/2 over TLS (both sizes); stgw then stops on SIGTERM and writes its counts;
#   3. merge the counts with llvm-profdata (the one of rustc's LLVM version);
#   4. build stgw with them (rustc -Cprofile-use) into target/pgo-use, and copy it to
#      target/pgo/bin beside the harness's examples; the last line printed is that
#      directory, for BIN_DIR.
# The code a request runs through is laid out and inlined by what the training load ran:
# per request 17-19% fewer instructions and about half the instruction-cache misses
# (callgrind; BENCHMARKS.md, tenth pass). Code the load does not run (gzip, regex rules,
# WebSockets, the management API) counts as cold and is compiled for size: it does the
# same, possibly a little slower than in the plain build.
#
# Builds with --target <host>, so that RUSTFLAGS reach stgw's crates and not build scripts
# or proc macros. Two full builds: about 11 minutes on 2 cores.
#
# Knobs (environment):
#   TRAIN_SECONDS=4                  seconds of each training load
#   PORT_BASE=18000                  as benches/compare.sh
#   LLVM_PROFDATA=<path>             the llvm-profdata to use (default: found by rustc's LLVM
#                                    major version: llvm-profdata-<major>, then llvm-profdata,
#                                    then rustup's llvm-tools component)
#
# Needs what benches/compare.sh needs, and llvm-profdata of rustc's LLVM major version
# (rustc 1.95: LLVM 22, Debian's package llvm-22).
set -euo pipefail

SMOKE=0
for a in "$@"; do
  case "$a" in
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0;;
    --smoke) SMOKE=1;;
    *) echo "unknown argument: $a (try --help)" >&2; exit 2;;
  esac
done

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
if [[ "$SMOKE" = 1 ]]; then
  PROFILE=dev; OUT_PROFILE_DIR=debug; TRAIN_SECONDS=${TRAIN_SECONDS:-1}
else
  PROFILE=release; OUT_PROFILE_DIR=release; TRAIN_SECONDS=${TRAIN_SECONDS:-4}
fi
PORT_BASE=${PORT_BASE:-18000}
for v in TRAIN_SECONDS PORT_BASE; do
  [[ "${!v}" =~ ^[0-9]+$ && "${!v}" -ge 1 ]] || { echo "$v must be a whole number >= 1, got '${!v}'" >&2; exit 2; }
done
HTTP=http://127.0.0.1:$((PORT_BASE + 1000))
HTTPS=https://127.0.0.1:$((PORT_BASE + 1443))

HOST=$(rustc -vV | sed -n 's/^host: //p')
LLVM_MAJOR=$(rustc -vV | sed -n 's/^LLVM version: \([0-9]*\).*/\1/p')
major_of() { "$1" --version 2>/dev/null | sed -n 's/.*LLVM version \([0-9]*\).*/\1/p' | head -1; }
if [[ -z "${LLVM_PROFDATA:-}" ]]; then
  sysroot_tool="$(rustc --print sysroot)/lib/rustlib/$HOST/bin/llvm-profdata"
  for c in "llvm-profdata-$LLVM_MAJOR" llvm-profdata "$sysroot_tool"; do
    p=$(command -v "$c" 2>/dev/null) || continue
    [[ "$(major_of "$p")" = "$LLVM_MAJOR" ]] && { LLVM_PROFDATA=$p; break; }
  done
fi
if [[ -z "${LLVM_PROFDATA:-}" || "$(major_of "$LLVM_PROFDATA")" != "$LLVM_MAJOR" ]]; then
  echo "needs llvm-profdata of LLVM $LLVM_MAJOR (rustc's): apt-get install llvm-$LLVM_MAJOR," \
       "or rustup component add llvm-tools, or set LLVM_PROFDATA" >&2
  exit 1
fi

WORK=$ROOT/target/pgo
rm -rf "$WORK"; mkdir -p "$WORK/raw" "$WORK/bin/examples"
# Two target dirs, so that neither build undoes the other's artifacts.
GEN_DIR=$ROOT/target/pgo-gen/$HOST/$OUT_PROFILE_DIR
OUT_DIR=$ROOT/target/pgo-use/$HOST/$OUT_PROFILE_DIR

echo "# 1/4 instrumented build (--profile $PROFILE)" >&2
RUSTFLAGS="-Cprofile-generate=$WORK/raw" cargo build --quiet --profile "$PROFILE" \
  --target "$HOST" --target-dir target/pgo-gen --bin stgw
# The harness's own examples drive the training; they need no profile.
cargo build --quiet --profile "$PROFILE" --example idle_conns --example handshakes
PLAIN_DIR=$ROOT/target/$OUT_PROFILE_DIR
cp "$GEN_DIR/stgw" "$WORK/bin/stgw"
ln -sf "$PLAIN_DIR/examples/idle_conns" "$PLAIN_DIR/examples/handshakes" "$WORK/bin/examples/"

echo "# 2/4 training (${TRAIN_SECONDS} s per load)" >&2
SERVE_LOG=$WORK/serve.log
LLVM_PROFILE_FILE="$WORK/raw/stgw-%p.profraw" BIN_DIR=$WORK/bin PORT_BASE=$PORT_BASE \
  "$ROOT/benches/compare.sh" --serve > "$SERVE_LOG" 2>&1 &
SERVE_PID=$!
stop_serve() { kill -TERM "$SERVE_PID" 2>/dev/null || true; wait "$SERVE_PID" 2>/dev/null || true; }
trap stop_serve EXIT
for _ in $(seq 100); do
  grep -q '^stgw .* pid [0-9]' "$SERVE_LOG" 2>/dev/null && break
  kill -0 "$SERVE_PID" 2>/dev/null || { cat "$SERVE_LOG" >&2; exit 1; }
  sleep 0.2
done
STGW_PID=$(sed -n 's/^stgw .* pid \([0-9]*\).*/\1/p' "$SERVE_LOG")
[[ -n "$STGW_PID" ]] || { echo "stgw did not start:" >&2; cat "$SERVE_LOG" >&2; exit 1; }

T=$TRAIN_SECONDS
train() { echo "#   $*" >&2; "$@" > "$WORK/train.out" 2>&1 || { cat "$WORK/train.out" >&2; exit 1; }; }
train wrk -t1 -c64 -d"$T"s "$HTTP/small"
train wrk -t1 -c64 -d"$T"s "$HTTP/static/10k.bin"
train wrk -t1 -c64 -d"$T"s -H 'Connection: close' "$HTTP/small"
train wrk -t1 -c64 -d"$T"s "$HTTPS/small"
train wrk -t1 -c64 -d"$T"s "$HTTPS/static/10k.bin"
train wrk -t1 -c64 -d"$T"s -H 'Connection: close' "$HTTPS/small"
train "$WORK/bin/examples/handshakes" "127.0.0.1:$((PORT_BASE + 1443))" "$T" 64 /small
train h2load -c16 -m4 -D "$T" "$HTTPS/small"
train h2load -c16 -m4 -D "$T" "$HTTPS/static/10k.bin"

# The counts are written when stgw exits.
kill -TERM "$STGW_PID"
for _ in $(seq 100); do kill -0 "$STGW_PID" 2>/dev/null || break; sleep 0.1; done
stop_serve; trap - EXIT
shopt -s nullglob
raw=("$WORK"/raw/stgw-*.profraw)
[[ ${#raw[@]} -gt 0 ]] || { echo "the instrumented stgw wrote no profile to $WORK/raw" >&2; exit 1; }

echo "# 3/4 merging ${#raw[@]} profile(s) with $LLVM_PROFDATA" >&2
"$LLVM_PROFDATA" merge -o "$WORK/merged.profdata" "${raw[@]}"
# cargo rebuilds when RUSTFLAGS change, not when a file they name does: the profile's
# name carries its hash, so that every crate is optimised with this profile.
PROFDATA=$WORK/stgw-$(sha256sum "$WORK/merged.profdata" | cut -c1-16).profdata
mv "$WORK/merged.profdata" "$PROFDATA"

echo "# 4/4 optimised build (target/pgo-use)" >&2
# stgw alone, as in step 1: building the examples with it would unify their
# dev-dependencies' features into stgw's dependencies, which renames those crates'
# functions, and the profile would no longer match them (it kept a third of the gain).
RUSTFLAGS="-Cprofile-use=$PROFDATA" cargo build --quiet --profile "$PROFILE" \
  --target "$HOST" --target-dir target/pgo-use --bin stgw
[[ -x "$OUT_DIR/stgw" ]] || { echo "no binary at $OUT_DIR/stgw" >&2; exit 1; }
# The BIN_DIR for benches/compare.sh: this stgw and the examples of step 1.
cp "$OUT_DIR/stgw" "$WORK/bin/stgw"
echo "$WORK/bin"
