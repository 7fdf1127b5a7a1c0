#!/usr/bin/env bash
# scripts/check_boards.sh — validate every shipped configuration with the built binary's
# `hlscam check-config FILE` (exit 2 on error): board/*.toml and the packaged production config
# systemd/hlscam.toml. Fails if any of them is refused, and also if a deliberately broken
# config is *accepted* (so a check-config that validates nothing cannot pass this script).
#
#   scripts/check_boards.sh                  uses $HLSCAM_BIN, else builds target/debug/hlscam
#   HLSCAM_BIN=path/to/hlscam scripts/check_boards.sh
set -uo pipefail
cd "$(dirname "$0")/.."

bin="${HLSCAM_BIN:-}"
if [ -z "$bin" ]; then
  cargo build --locked --bin hlscam -q || { echo "check_boards: build failed" >&2; exit 1; }
  bin="${CARGO_TARGET_DIR:-target}/debug/hlscam"
fi
[ -x "$bin" ] || { echo "check_boards: no executable at $bin" >&2; exit 1; }

tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
ok=0; bad=0
for f in board/*.toml systemd/hlscam.toml; do
  if "$bin" check-config "$f" >"$tmp/out" 2>"$tmp/err"; then
    echo "ok    $f"; ok=$((ok + 1))
  else
    rc=$?
    echo "FAIL  $f (exit $rc)"; sed 's/^/      /' "$tmp/err" "$tmp/out" | head -20
    bad=$((bad + 1))
  fi
done

# Negative control: a wrong type and an out-of-range value must be refused with exit 2.
printf '[video]\nwidth = "wide"\nfps = 0\n' >"$tmp/broken.toml"
"$bin" check-config "$tmp/broken.toml" >/dev/null 2>"$tmp/err"
rc=$?
if [ "$rc" = 2 ]; then
  echo "ok    broken config refused (exit 2): $(head -1 "$tmp/err")"
else
  echo "FAIL  broken config gave exit $rc, expected 2"; bad=$((bad + 1))
fi

echo "check_boards: $ok configs accepted, $bad problems"
[ "$bad" = 0 ]
