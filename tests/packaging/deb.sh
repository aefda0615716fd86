#!/usr/bin/env bash
# ctest `package_deb`: the .deb of this build's binary (packaging/deb/build), installed on this very system.
# lintian reports no error; the package holds what it promises (stripped binary, unit, man page, conffile);
# `dpkg -i` makes the system user and the token and enables the unit; the installed unit passes
# `systemd-analyze verify` as it is; the daemon started with the installed unit's ExecStart, User= and
# EnvironmentFile= (run directly: systemd is not PID 1 here), on a free loopback port and a temporary root,
# says READY=1 and WATCHDOG=1 on a notify socket, answers /healthz and the conffile's token, runs an exec as
# the user without AGENT_GATEWAY_* variables, and stops with exit 0 on SIGTERM; `dpkg -i` again keeps the
# token; `dpkg -r` keeps the conffile, `dpkg -P` removes it and the rest. Whatever happens, the package, the
# user it made and the files are gone at the end. Needs root, and leaves an agent-gateway already on this
# system alone: exit 77 (ctest: skipped) otherwise. TAP-style output.
#   deb.sh AGENT_GATEWAY_BINARY
set -euo pipefail
binary=$(realpath "${1:?agent-gateway binary}")
repo=$(cd "$(dirname "$0")/../.." && pwd)
skip() {
    echo "skipped: $*"
    exit 77
}
[ "$(id -u)" -eq 0 ] || skip "needs root (dpkg -i on this system)"
[ -z "${TEST_SANITIZED:-}" ] || skip "a sanitized build (the package is tested with the plain build)"
for tool in dpkg-deb dpkg-shlibdeps help2man lintian setpriv curl python3 readelf; do
    command -v "$tool" >/dev/null || skip "$tool is missing (scripts/install-deps installs it)"
done
status=$(dpkg-query -W -f='${db:Status-Status}' agent-gateway 2>/dev/null || true)
[ -z "$status" ] || [ "$status" = not-installed ] || skip "the agent-gateway package is on this system ($status)"
for path in /etc/agent-gateway /var/lib/agent-gateway /run/agent-gateway; do
    [ ! -e "$path" ] || skip "$path exists: not touching it"
done
user_existed=false
getent passwd agent-gateway >/dev/null && user_existed=true

work=$(mktemp -d)
chmod 0755 "$work" # the daemon runs as agent-gateway under it
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    local s
    s=$(dpkg-query -W -f='${db:Status-Status}' agent-gateway 2>/dev/null || true)
    if [ -n "$s" ] && [ "$s" != not-installed ]; then
        dpkg -P agent-gateway >/dev/null 2>&1 || echo "# cleanup: dpkg -P agent-gateway failed" >&2
    fi
    if ! $user_existed && getent passwd agent-gateway >/dev/null; then
        userdel agent-gateway || echo "# cleanup: userdel agent-gateway failed" >&2
    fi
    if ! $user_existed && getent group agent-gateway >/dev/null; then
        groupdel agent-gateway || echo "# cleanup: groupdel agent-gateway failed" >&2
    fi
    rm -rf "$work"
}
trap cleanup EXIT
trap "exit 143" TERM INT HUP

n=0
failed=0
. "$(dirname "$0")/../support/tap.sh" # check, wait_for
# A check the next steps depend on: stop at its failure (the trap cleans up).
must() {
    local before=$failed
    check "$@"
    if [ "$failed" -ne "$before" ]; then
        echo "1..$n"
        exit 1
    fi
}
# Runs COMMAND with its output in LOG, shown only when it fails.
quietly() { # LOG COMMAND...
    local log=$1
    shift
    "$@" >"$log" 2>&1 || {
        sed 's/^/# /' "$log"
        return 1
    }
}

# --- the package
deb=$("$repo/packaging/deb/build" "$binary" "$work/dist" 2>"$work/build.log") || sed 's/^/# /' "$work/build.log"
must "packaging/deb/build makes a .deb" test -f "$deb"
echo "# $(basename "$deb")"
lintian_ok() { lintian --fail-on error "$deb" >"$work/lintian" 2>&1; }
check "lintian reports no error" lintian_ok
grep -v 'running with root privileges' "$work/lintian" | sed 's/^/# lintian: /' || true
dpkg-deb -c "$deb" | awk '{ print $6 }' >"$work/contents"
for f in ./usr/bin/agent-gateway ./lib/systemd/system/agent-gateway.service ./etc/agent-gateway/agent-gateway.conf \
    ./usr/share/man/man8/agent-gateway.8.gz ./usr/share/doc/agent-gateway/copyright \
    ./usr/share/doc/agent-gateway/changelog.Debian.gz; do
    check "the package holds $f" grep -qx "$f" "$work/contents"
done
mkdir "$work/control" "$work/files"
dpkg-deb -e "$deb" "$work/control"
dpkg-deb -x "$deb" "$work/files"
check "the options file is a conffile" grep -qx /etc/agent-gateway/agent-gateway.conf "$work/control/conffiles"
stripped() { ! readelf -S "$work/files/usr/bin/agent-gateway" | grep -q '\.symtab\|\.debug_info'; }
check "the binary is stripped" stripped
commit=$("$binary" --version | sed -n 's/.*(commit \([0-9a-f]*\).*/\1/p')
version=$(dpkg-deb -f "$deb" Version)
check "the version ($version) names the binary's commit ($commit)" grep -q "\.$commit" <<<"$version"
check "the package's binary is the build's (--version)" \
    test "$("$work/files/usr/bin/agent-gateway" --version)" = "$("$binary" --version)"

# --- installed
must "dpkg -i installs it" quietly "$work/dpkg-i.log" dpkg -i "$deb"
IFS=: read -r _ _ uid _ _ home shell < <(getent passwd agent-gateway) || true
check "postinst made the system user agent-gateway (uid $uid)" test "$uid" -lt 1000
check "its home is /var/lib/agent-gateway and its shell nologin" \
    test "$home:$shell" = /var/lib/agent-gateway:/usr/sbin/nologin
check "postinst made the token: 64 hex characters, 0640 root:agent-gateway" \
    test "$(stat -c '%a %U:%G' /etc/agent-gateway/token) $(wc -c </etc/agent-gateway/token)" = \
    "640 root:agent-gateway 64"
check "postinst enabled the unit" test -L /etc/systemd/system/multi-user.target.wants/agent-gateway.service
unit=/lib/systemd/system/agent-gateway.service
if command -v systemd-analyze >/dev/null; then
    verify_quiet() { out=$(systemd-analyze verify "$unit" 2>&1) && [ -z "$out" ]; }
    check "systemd-analyze verify on the installed unit says nothing" verify_quiet
    [ -z "$out" ] || sed 's/^/# /' <<<"$out"
else
    echo "# systemd-analyze is missing: the installed unit is not verified"
fi

# --- the daemon as the unit starts it
exec_start=$(sed -n 's/^ExecStart=//p' "$unit")
env_file=$(sed -n 's/^EnvironmentFile=-\{0,1\}//p' "$unit")
user=$(sed -n 's/^User=//p' "$unit")
watchdog=$(sed -n 's/^WatchdogSec=\([0-9]*\)s$/\1/p' "$unit")
read -r -a command <<<"$exec_start"
must "the unit's ExecStart (${command[*]}), User= ($user), EnvironmentFile= and WatchdogSec= (${watchdog}s) are read" \
    test -x "${command[0]}" -a -n "$user" -a -f "$env_file" -a -n "$watchdog"
mapfile -t variables < <(grep -E '^[A-Z_][A-Z0-9_]*=' "$env_file")
root=$work/root
mkdir "$root"
chown "$user:" "$root"

# systemd's end of the notification socket: every datagram becomes a line of notify.log.
python3 - "$work/notify" "$work/notify.log" <<'EOF' &
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
os.chmod(sys.argv[1], 0o666)
s.settimeout(300)
with open(sys.argv[2], "a", buffering=1) as log:
    while True:
        log.write(s.recv(4096).decode() + "\n")
EOF
pids+=($!)
must "the notify socket is bound" wait_for 10 test -S "$work/notify"

# As systemd would: a clean environment with the file's variables, the user, the watchdog meant for this pid.
(cd "$root" && exec env -i PATH=/usr/local/bin:/usr/bin:/bin HOME="$home" USER="$user" LOGNAME="$user" \
    "${variables[@]}" NOTIFY_SOCKET="$work/notify" WATCHDOG_USEC=$((watchdog * 1000000)) \
    sh -c 'export WATCHDOG_PID=$$; exec setpriv --reuid="$0" --regid="$0" --init-groups "$@"' "$user" \
    "${command[@]}" --root "$root" --listen 127.0.0.1:0 >"$work/out" 2>"$work/log") &
daemon=$!
pids+=("$daemon")
if ! wait_for 20 grep -q "listening on" "$work/log"; then
    sed 's/^/# daemon: /' "$work/log"
    must "the daemon starts" false
fi
port=$(sed -n 's/.*listening on http:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$work/log" | head -1)
base="http://127.0.0.1:$port"
check "it runs as $user" test "$(ps -o user= -p "$daemon")" = "$user"
check "GET /healthz answers 200" test "$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$base/healthz")" = 200
token=$(cat /etc/agent-gateway/token)
check "the token of the conffile's token file is the gateway's" test "$(curl -s -o /dev/null -w '%{http_code}' \
    --max-time 10 -H "Authorization: Bearer $token" "$base/v0/agents/local")" = 200
exec_stdout=$(curl -s --max-time 30 -H "Authorization: Bearer $token" \
    -d '{"command":"id -un; env | grep -c ^AGENT_GATEWAY_ || true"}' "$base/v0/agents/local/console/exec" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["stdout"], end="")' || true)
check "an exec runs as $user without AGENT_GATEWAY_* variables" test "$exec_stdout" = "$(printf '%s\n0' "$user")"
check "READY=1 reached the notify socket" wait_for 10 grep -qx READY=1 "$work/notify.log"
check "WATCHDOG=1 reached the notify socket" wait_for 10 grep -qx WATCHDOG=1 "$work/notify.log"
check "the log says the watchdog pings every ${watchdog}s / 2" \
    grep -q "systemd watchdog: WATCHDOG=1 every $((watchdog * 500)) ms" "$work/log"
kill -TERM "$daemon"
stopped() { ! kill -0 "$daemon" 2>/dev/null; }
wait_for 30 stopped || kill -KILL "$daemon"
rc=0
wait "$daemon" || rc=$?
check "SIGTERM stops it with exit 0" test "$rc" -eq 0
[ "$rc" -eq 0 ] || sed 's/^/# daemon: /' "$work/log"

# --- installed again (postinst configure with the old version, as in an upgrade)
check "dpkg -i over the installed package works" quietly "$work/dpkg-i2.log" dpkg -i "$deb"
check "it keeps the token" test "$(cat /etc/agent-gateway/token)" = "$token"

# --- removed, then purged
must "dpkg -r removes it" quietly "$work/dpkg-r.log" dpkg -r agent-gateway
check "dpkg -r leaves the conffile" test -f /etc/agent-gateway/agent-gateway.conf
check "dpkg -r removes the binary" test ! -e /usr/bin/agent-gateway
must "dpkg -P purges it" quietly "$work/dpkg-p.log" dpkg -P agent-gateway
check "dpkg -P removes the conffile, the token and /etc/agent-gateway" test ! -e /etc/agent-gateway
leftovers() { ! find /etc/systemd/system /var/lib/systemd/deb-systemd-helper-enabled -name '*agent-gateway*' 2>/dev/null | grep -q .; }
check "dpkg -P leaves no unit state (enablement, mask)" leftovers

echo "1..$n"
[ "$failed" -eq 0 ]
