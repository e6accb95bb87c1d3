#!/usr/bin/env bash
# Runs every fuzz target for SECONDS each (default 10): CI's short run.
# A longer one: `fuzz/run.sh 600`, or one target for an hour with
# `cd fuzz && cargo fuzz run TARGET --sanitizer none -O corpus/TARGET -- -max_total_time=3600`.
#
# Stable Rust: no sanitizer (`--sanitizer none`), libFuzzer's coverage
# guidance only. Seeds are read from corpus/TARGET (committed); what the
# run finds goes to work/TARGET (ignored), crashes to artifacts/TARGET.
# Exits non-zero if any target crashes.
set -euo pipefail
cd "$(dirname "$0")"
SECONDS_EACH="${1:-10}"

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "installing cargo-fuzz 0.13.2"
  cargo install cargo-fuzz --version 0.13.2 --locked
fi
# libfuzzer-sys compiles libFuzzer (C++).
if ! command -v c++ >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  if [ "$(id -u)" -eq 0 ]; then SUDO=(); else SUDO=(sudo); fi
  "${SUDO[@]}" apt-get update -qq
  "${SUDO[@]}" apt-get install -y -qq g++ >/dev/null
fi

FLAGS=(--sanitizer none -O)
# One build for all targets; each run below reuses it.
cargo fuzz build "${FLAGS[@]}"

failed=()
for target in $(cargo fuzz list); do
  mkdir -p "work/$target" "artifacts/$target" "corpus/$target"
  echo "== fuzz $target (${SECONDS_EACH}s)"
  if ! cargo fuzz run "${FLAGS[@]}" "$target" "work/$target" "corpus/$target" -- \
      -max_total_time="$SECONDS_EACH" -print_final_stats=1 >"work/$target.log" 2>&1; then
    tail -40 "work/$target.log"
    failed+=("$target")
  else
    grep -E '^(Done|stat::number_of_executed_units)' "work/$target.log" || true
  fi
done

if [ "${#failed[@]}" -gt 0 ]; then
  echo "fuzzing found crashes in: ${failed[*]} (inputs in fuzz/artifacts/)"
  exit 1
fi
echo "fuzzing: no crash"
