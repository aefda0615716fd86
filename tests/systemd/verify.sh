#!/usr/bin/env bash
# ctest `systemd_unit`: systemd/agent-gateway.service has the settings packaging promises, passes `systemd-analyze
# verify` without a single message (its Documentation= man page included: this build's, from
# packaging/deb/manpage, on MANPATH), and its exposure score from `systemd-analyze security --offline=true`
# stays at 3.0 or below (printed). Nothing is installed here, so ExecStart is pointed at this build's binary;
# tests/packaging/deb.sh verifies the installed unit as it is. Exit 77 (ctest: skipped) without
# systemd-analyze. TAP-style output.
#   verify.sh AGENT_GATEWAY_BINARY
set -euo pipefail
binary=$(realpath "${1:?agent-gateway binary}")
repo=$(cd "$(dirname "$0")/../.." && pwd)
if ! command -v systemd-analyze >/dev/null; then
    echo "skipped: systemd-analyze is not installed (Debian's systemd package)"
    exit 77
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
n=0
failed=0
. "$(dirname "$0")/../support/tap.sh" # check, wait_for

unit=$work/agent-gateway.service
sed "s|^ExecStart=/usr/bin/agent-gateway$|ExecStart=$binary|" "$repo/systemd/agent-gateway.service" >"$unit"
check "ExecStart is /usr/bin/agent-gateway" grep -qx "ExecStart=$binary" "$unit"
for setting in Type=notify NotifyAccess=main 'WatchdogSec=[0-9]+s' Restart=on-failure User=agent-gateway \
    'EnvironmentFile=/etc/agent-gateway/agent-gateway.conf' NoNewPrivileges=yes ProtectSystem=strict \
    'ReadWritePaths=/var/lib/agent-gateway' PrivateTmp=yes ProtectKernelTunables=yes ProtectKernelModules=yes \
    ProtectKernelLogs=yes ProtectControlGroups=yes 'RestrictAddressFamilies=.+' SystemCallArchitectures=native \
    LockPersonality=yes RestrictRealtime=yes RestrictSUIDSGID=yes ProtectHostname=yes ProtectClock=yes \
    'CapabilityBoundingSet='; do
    check "the unit sets $setting" grep -Eqx "$setting" "$unit"
done

verify=(systemd-analyze verify)
if command -v help2man >/dev/null && command -v man >/dev/null; then
    mkdir -p "$work/man/man8"
    "$repo/packaging/deb/manpage" "$binary" "$work/man/man8/agent-gateway.8"
    export MANPATH=$work/man
else
    echo "# help2man or man is missing: verifying without the man page (scripts/install-deps installs help2man)"
    verify+=(--man=no)
fi
rc=0
out=$("${verify[@]}" "$unit" 2>&1) || rc=$?
check "systemd-analyze verify exits 0" [ "$rc" -eq 0 ]
check "systemd-analyze verify says nothing" [ -z "$out" ]
[ -z "$out" ] || sed 's/^/# /' <<<"$out"

if systemd-analyze security --help | grep -q -- --offline; then
    rc=0
    out=$(systemd-analyze security --offline=true --threshold=30 "$unit" 2>&1) || rc=$?
    score=$(sed -n 's/.*Overall exposure level for agent-gateway.service: \([0-9.]*\).*/\1/p' <<<"$out")
    echo "# systemd-analyze security --offline=true: exposure $score"
    check "the exposure score is computed" [ -n "$score" ]
    check "the exposure score is 3.0 or below (--threshold=30)" [ "$rc" -eq 0 ]
    [ "$rc" -eq 0 ] || grep '✗' <<<"$out" | sed 's/^/# /'
else
    echo "# this systemd-analyze cannot score a unit offline: no exposure score"
fi

echo "1..$n"
[ "$failed" -eq 0 ]
