#!/usr/bin/env bash
# tests/systemd.sh — check the shipped systemd unit offline (systemd need not be PID 1):
#   1. systemd-sysusers creates the hlscam user from systemd/hlscam.sysusers in a scratch root;
#   2. `systemd-analyze verify` of systemd/hlscam.service in that root (with the real unit
#      directory of this machine and an hlscam executable at /usr/bin/hlscam) prints nothing;
#   3. `systemd-analyze security --offline=true` scores the unit; prints the score and fails
#      above GOAL (default 2.0, "OK").
# HLSCAM_BIN: binary to place at /usr/bin/hlscam in the scratch root (default: a stub script —
# verify only needs an executable there).
set -uo pipefail
cd "$(dirname "$0")/.."

UNIT=systemd/hlscam.service
SYSUSERS=systemd/hlscam.sysusers
GOAL="${GOAL:-2.0}"

if ! command -v systemd-analyze >/dev/null 2>&1; then
  echo "systemd.sh: installing systemd (for systemd-analyze)"
  apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends systemd >/dev/null ||
    { echo "systemd.sh: cannot install systemd-analyze" >&2; exit 1; }
fi

root=$(mktemp -d); trap 'rm -rf "$root"' EXIT
mkdir -p "$root/usr/bin" "$root/usr/lib/systemd" "$root/usr/lib/sysusers.d" "$root/etc"
cp -a /usr/lib/systemd/system "$root/usr/lib/systemd/"
cp "$UNIT" "$root/usr/lib/systemd/system/hlscam.service"
if [ -n "${HLSCAM_BIN:-}" ]; then cp "$HLSCAM_BIN" "$root/usr/bin/hlscam"
else printf '#!/bin/sh\nexit 0\n' >"$root/usr/bin/hlscam"; fi
chmod 755 "$root/usr/bin/hlscam"
fail=0

# 1. sysusers: the user the unit runs as, with the unit's StateDirectory as home.
cp "$SYSUSERS" "$root/usr/lib/sysusers.d/hlscam.conf"
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$root/etc/passwd"
printf 'root:x:0:\nvideo:x:44:\naudio:x:29:\n' >"$root/etc/group"
if out=$(systemd-sysusers --root="$root" 2>&1) && grep -q '^hlscam:x:[0-9]*:[0-9]*:.*:/var/lib/hlscam:/usr/sbin/nologin$' "$root/etc/passwd"; then
  echo "ok    sysusers: $(grep '^hlscam:' "$root/etc/passwd")"
else
  echo "FAIL  sysusers did not create hlscam: $out"; fail=1
fi

# 2. verify: any message (error or warning such as an unknown key) fails.
out=$(systemd-analyze verify --root="$root" "$root/usr/lib/systemd/system/hlscam.service" 2>&1)
rc=$?
if [ "$rc" = 0 ] && [ -z "$out" ]; then
  echo "ok    systemd-analyze verify: no errors or warnings"
else
  echo "FAIL  systemd-analyze verify (exit $rc):"; printf '%s\n' "$out" | sed 's/^/      /'; fail=1
fi

# 3. security score (0 = most restricted, 10 = unrestricted).
sec=$(systemd-analyze security --offline=true --no-pager "$UNIT" 2>&1)
line=$(printf '%s\n' "$sec" | grep 'Overall exposure level')
score=$(printf '%s\n' "$line" | sed -E 's/.*: ([0-9]+\.[0-9]+) .*/\1/')
if [ -z "$score" ]; then
  echo "FAIL  no score from systemd-analyze security:"; printf '%s\n' "$sec" | tail -5; fail=1
else
  printf '%s\n' "$sec" | grep '✗' | sed 's/^/      /'
  if awk -v s="$score" -v g="$GOAL" 'BEGIN { exit !(s <= g) }'; then
    echo "ok    systemd-analyze security: ${line#→ } (goal <= $GOAL)"
  else
    echo "FAIL  systemd-analyze security: ${line#→ } exceeds goal $GOAL"; fail=1
  fi
fi

if [ "$fail" = 0 ]; then echo "systemd.sh: 3 passed, 0 failed"; else echo "systemd.sh: FAILED"; fi
exit $fail
