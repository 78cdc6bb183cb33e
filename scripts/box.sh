#!/usr/bin/env bash
# The e2e box by hand (docs/e2e.md). Needs root.
#   scripts/box.sh build               build (or find) the cached root file system; prints its path
#   scripts/box.sh up [--sim] [--keep] boot a box and stay in the foreground through its reboots until it
#                                      powers off; Ctrl-C destroys it. --sim installs the rpm-ostreed
#                                      simulator; --keep keeps the run's disk afterwards.
#   scripts/box.sh shell [CMD ...]     a login shell (or CMD) inside the running box
#   scripts/box.sh journal [ARGS ...]  journalctl ARGS inside the running box
#   scripts/box.sh poweroff            power the box off from outside (SIGRTMIN+4 to its PID 1)
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
cache="${UPDATE_AGENT_E2E_CACHE:-$repo/.cache/e2e}"
state="$cache/manual-box.json"

[ "$(id -u)" = 0 ] || { echo "box.sh: the e2e box needs root" >&2; exit 1; }

box_pid() {
  [ -f "$state" ] || { echo "box.sh: no box is up (start one with: scripts/box.sh up)" >&2; exit 1; }
  local pid
  pid="$(sed -n 's/.*"pid": *\([0-9]*\).*/\1/p' "$state")"
  [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = systemd ] || {
    echo "box.sh: the box in $state is not running (rebooting?)" >&2; exit 1; }
  echo "$pid"
}

# nsenter --no-fork: the shell itself stays outside the box's PID namespace (its children are inside), so
# a reboot in the box never waits on it; see "Reboots" in docs/e2e.md.
enter() {
  local pid; pid="$(box_pid)"
  exec nsenter -t "$pid" -m -u -i -p -r -w --no-fork -- /usr/bin/env -i TERM="${TERM:-dumb}" HOME=/root LANG=C.UTF-8 \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$@"
}

cmd="${1:-}"
shift || true
case "$cmd" in
  build|up) cd "$repo" && exec node --import tsx tests/e2e/box-cli.ts "$cmd" "$@" ;;
  shell) if [ $# -eq 0 ]; then enter /bin/bash -l; else enter "$@"; fi ;;
  journal) enter journalctl --no-pager "$@" ;;
  poweroff) kill -s SIGRTMIN+4 "$(box_pid)" ;;
  *) sed -n '2,10s/^# \{0,1\}//p' "$0" >&2; exit 2 ;;
esac
