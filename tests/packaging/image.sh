#!/usr/bin/env bash
# ctest `static_package_image`: the OCI image of the static binary (packaging/oci/build), unpacked with umoci
# and its entrypoint started as the image says (user, arguments) in a chroot of its rootfs under
# `unshare --pid --mount --fork`, in a network namespace of this test's own (its loopback only, so the image's
# port 18789 is free). Checks: the image config (FROM scratch: one layer; entrypoint, user 10001, port 18789
# exposed, the root a volume); the rootfs (static binary, CA bundle, passwd and group, the root owned by the
# user); /healthz; a second listener named by a host name that only the image's /etc/hosts knows; the Control
# UI proxied to an --engine-url whose host only a DNS server (dnsmasq on this namespace's loopback, the
# image's resolv.conf) knows; a custom domain verified through a TXT record of that DNS server; `git clone`
# of the workspace with the real git; an exec; the daemon running as uid 10001 and as PID 1 of its namespace;
# an orphan (an exec's grandchild, blocked on a FIFO) re-parented to the daemon and reaped once released; exit
# 0 on SIGTERM. An agent image brings its own shell: /bin/sh for the exec is busybox-static, added to the
# unpacked rootfs here. Needs root, buildah, umoci, dnsmasq and busybox-static: exit 77 (ctest: skipped)
# otherwise. Everything it starts is stopped and everything it made removed, whatever happens.
#   image.sh STATIC_BINARY   (AG_STATIC_BINARY, when set, wins)
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
skip() {
    echo "skipped: $*"
    exit 77
}
if [ "${1:-}" != --inside ]; then
    binary=${AG_STATIC_BINARY:-${1:?static agent-gateway binary}}
    [ "$(id -u)" -eq 0 ] || skip "needs root (unshare, chroot, umoci unpack)"
    [ -x "$binary" ] || skip "no static binary at $binary (scripts/build-static makes it)"
    file -b "$binary" | grep -q "statically linked" || skip "$binary is not static"
    for tool in buildah umoci unshare chroot dnsmasq curl git python3 ip; do
        command -v "$tool" >/dev/null || skip "$tool is missing (scripts/install-deps buildah umoci)"
    done
    if [ ! -x /bin/busybox ] || ! file -b /bin/busybox | grep -q "statically linked"; then
        skip "busybox-static is missing"
    fi
    # The rest in a network namespace of its own: only its loopback, which nobody else uses.
    exec unshare --net bash "$0" --inside "$(realpath "$binary")"
fi
binary=$2
ip link set lo up

work=$(mktemp -d)
pids=()
ns_pid=""
failures=0
cleanup() {
    # The daemon is PID 1 of its namespace: when it goes, everything in the namespace goes with it.
    [ -z "$ns_pid" ] || kill -KILL "$ns_pid" 2>/dev/null || true
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    [ ! -f "$work/dnsmasq.pid" ] || kill -TERM "$(cat "$work/dnsmasq.pid")" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
check() {
    local what=$1
    shift
    if "$@"; then
        echo "ok - $what"
    else
        echo "not ok - $what"
        failures=$((failures + 1))
    fi
}
# poll SECONDS COMMAND...: until COMMAND succeeds, at most SECONDS.
poll() {
    local deadline=$((SECONDS + $1))
    shift
    until "$@"; do
        [ $SECONDS -lt $deadline ] || return 1
        sleep 0.1
    done
}

archive=$("$repo/packaging/oci/build" "$binary" "$work/dist")
echo "# $(basename "$archive"): $(du -k "$archive" | cut -f1) KiB"
mkdir "$work/layout"
tar -xf "$archive" -C "$work/layout"
ref=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"])' "$work/layout/index.json")
umoci unpack --image "$work/layout:$ref" "$work/bundle" >/dev/null
rootfs=$work/bundle/rootfs

# The image's own config: entrypoint, user, port, volume, one layer (FROM scratch: nothing beneath).
image_config() {
    python3 - "$work/layout" <<'EOF'
import json, sys
layout = sys.argv[1]
def blob(d):
    algo, hexd = d["digest"].split(":")
    return json.load(open(f"{layout}/blobs/{algo}/{hexd}"))
manifest = blob(json.load(open(f"{layout}/index.json"))["manifests"][0])
config = blob(manifest["config"])
c = config["config"]
assert c["Entrypoint"] == ["/usr/bin/agent-gateway", "--listen", "0.0.0.0:18789", "--root",
                           "/var/lib/agent-gateway"], c["Entrypoint"]
assert c["User"] == "10001:10001", c["User"]
assert "18789/tcp" in c["ExposedPorts"], c.get("ExposedPorts")
assert "/var/lib/agent-gateway" in c["Volumes"], c.get("Volumes")
assert len(manifest["layers"]) == 1, len(manifest["layers"])  # what the Containerfile copies, nothing else
EOF
}
check "image config: entrypoint on 0.0.0.0:18789, user 10001, port exposed, root a volume, FROM scratch" image_config
check "the binary is static" bash -c "file -b '$rootfs/usr/bin/agent-gateway' | grep -q 'statically linked'"
check "CA certificates" test -s "$rootfs/etc/ssl/certs/ca-certificates.crt"
check "the user in passwd and group" bash -c "grep -q '^agent-gateway:x:10001:10001:' '$rootfs/etc/passwd' &&
    grep -q '^agent-gateway:x:10001:' '$rootfs/etc/group'"
check "the root belongs to the user" test "$(stat -c %u:%g "$rootfs/var/lib/agent-gateway")" = 10001:10001

# What an agent image would add, and the run time a container runtime would give: a shell, a workspace with
# a file, /proc and /dev, /etc/hosts and resolv.conf.
install -m 0755 /bin/busybox "$rootfs/bin/busybox" -D
for applet in sh cat setsid id; do ln -s busybox "$rootfs/bin/$applet"; done
install -d -o 10001 -g 10001 "$rootfs/var/lib/agent-gateway/workspace"
echo "from the image test" >"$rootfs/var/lib/agent-gateway/workspace/hello.txt"
chown 10001:10001 "$rootfs/var/lib/agent-gateway/workspace/hello.txt"
mkdir -p "$rootfs/proc" "$rootfs/dev"
printf '127.0.0.1\tlocalhost\n127.0.0.1\tgateway.files.test\n' >"$rootfs/etc/hosts"
printf 'nameserver 127.0.0.1\noptions timeout:1 attempts:2\n' >"$rootfs/etc/resolv.conf"
mkfifo -m 0666 "$rootfs/tmp/release"

# The engine: a static HTTP server whose pages name themselves.
mkdir -p "$work/engine/config"
echo "engine page" >"$work/engine/index.html"
echo "engine page" >"$work/engine/config/index.html"
python3 -m http.server --bind 127.0.0.1 --directory "$work/engine" 18790 >"$work/engine.log" 2>&1 &
pids+=($!)
poll 10 curl -fso /dev/null http://127.0.0.1:18790/ || { echo "the engine stub did not start"; exit 1; }

# The DNS server of the image's resolv.conf: engine.dns.test, and TXT records as given. dnsmasq returns once
# it is bound; stopping waits for its exit (so the next one can bind), bounded.
start_dns() {
    dnsmasq --conf-file=/dev/null --no-resolv --no-hosts --bind-interfaces --listen-address=127.0.0.1 \
        --port=53 --pid-file="$work/dnsmasq.pid" --host-record=engine.dns.test,127.0.0.1 "$@"
}
stop_dns() {
    local p
    p=$(cat "$work/dnsmasq.pid")
    kill -TERM "$p"
    timeout 5 tail --pid="$p" -f /dev/null
    rm -f "$work/dnsmasq.pid"
}
start_dns

token=image-test-token
# The entrypoint as umoci's runtime config has it, then this test's own options.
mapfile -t args < <(python3 -c 'import json,sys; print("\n".join(json.load(open(sys.argv[1]))["process"]["args"]))' \
    "$work/bundle/config.json")
# shellcheck disable=SC2016 # the inner script's variables are its own
unshare --pid --mount --fork bash -c '
    chroot=$1 root=$2
    shift 2
    mount -t proc proc "$root/proc"
    mount --rbind /dev "$root/dev"
    exec env -i PATH=/usr/bin:/bin HOME=/var/lib/agent-gateway AGENT_GATEWAY_TOKEN='"$token"' \
        "$chroot" --userspec=10001:10001 "$root" "$@"' \
    sh "$(command -v chroot)" "$rootfs" "${args[@]}" --listen gateway.files.test:18791 --engine-url http://engine.dns.test:18790 \
    >"$work/daemon.log" 2>&1 &
ns_pid=$!
healthy() { curl -fso /dev/null -m 2 http://127.0.0.1:18789/healthz; }
poll 20 healthy || {
    cat "$work/daemon.log"
    echo "not ok - /healthz never answered"
    exit 1
}
echo "ok - /healthz on 0.0.0.0:18789"
daemon=$(cat "/proc/$ns_pid/task/$ns_pid/children")
daemon=${daemon%% *}
check "the daemon is PID 1 of its namespace" bash -c "grep -Eq '^NSpid:\s+$daemon\s+1$' /proc/$daemon/status"
check "the daemon runs as 10001" bash -c "grep -Eq '^Uid:\s+10001\s+10001\s+10001\s+10001$' /proc/$daemon/status"
check "a listener named through /etc/hosts (gateway.files.test)" curl -fso /dev/null -m 5 \
    http://127.0.0.1:18791/healthz

api=http://127.0.0.1:18789/v0/agents/local
auth=(-H "Authorization: Bearer $token")
post() { curl -s -m 30 "${auth[@]}" -H 'Content-Type: application/json' -d "$2" "$api$1"; }
json() { python3 -c 'import json,sys; print(eval("json.load(sys.stdin)" + sys.argv[1]))' "$1"; }

# DNS: engine.dns.test and the domain's TXT record, from dnsmasq on this namespace's loopback.
domain=$(post /domains '{"customDomain":"shop.test","targetPort":18790}')
id=$(json '["domain"]["id"]' <<<"$domain")
challenge=$(post /domains/challenge '{"domain":"shop.test"}')
stop_dns
start_dns --txt-record="$(json '["name"]' <<<"$challenge"),$(json '["value"]' <<<"$challenge")"
control_ui() { curl -s -m 10 "${auth[@]}" http://127.0.0.1:18789/config/ | grep -q "engine page"; }
check "the Control UI through --engine-url named by DNS (getaddrinfo)" control_ui
verify() { [ "$(post "/domains/$id/verify" '{}' | json '["domain"]["status"]')" = active ]; }
check "a custom domain verified by its TXT record (res_nquery)" verify

clone() {
    git clone -q "http://x:$token@127.0.0.1:18789/v0/agents/local/git" "$work/clone" &&
        grep -q "from the image test" "$work/clone/hello.txt"
}
check "git clone of the workspace" clone
exec_id() { [ "$(post /console/exec '{"command":"id -u"}' | json '["stdout"].strip()')" = 10001 ]; }
check "an exec (as 10001)" exec_id

# An orphan: the exec's shell starts a session of its own blocked on the FIFO and exits; the orphan is
# re-parented to PID 1, the daemon, which must reap it once the FIFO releases it.
post /console/exec '{"command":"setsid cat /tmp/release </dev/null >/dev/null 2>&1 &"}' >/dev/null
orphan_of_daemon() {
    local s
    for s in /proc/[0-9]*/status; do
        grep -q '^Name:\s*cat$' "$s" 2>/dev/null && grep -Eq "^PPid:\s+$daemon$" "$s" 2>/dev/null &&
            { s=${s#/proc/}; echo "${s%/status}"; return 0; }
    done
    return 1
}
orphan=""
find_orphan() { orphan=$(orphan_of_daemon); }
check "the exec's grandchild is re-parented to the daemon" poll 10 find_orphan
if [ -n "$orphan" ]; then
    timeout 5 sh -c "echo go >'$rootfs/tmp/release'"
    gone() { [ ! -e "/proc/$orphan" ]; }
    check "the orphan is reaped (no zombie)" poll 10 gone
    [ ! -e "/proc/$orphan" ] || grep '^State' "/proc/$orphan/status" || true
fi

kill -TERM "$daemon"
rc=0
wait "$ns_pid" || rc=$?
ns_pid=""
check "exit 0 on SIGTERM" test "$rc" -eq 0
[ "$failures" -eq 0 ] || { cat "$work/daemon.log"; exit 1; }
