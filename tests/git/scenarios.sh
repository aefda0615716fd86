#!/usr/bin/env bash
# The git client scenarios of docs/api.md §13, run with the real git against a real server:
#   scenarios.sh daemon BINARY   agent-gateway on a free loopback port, workspace in a temp root
#   scenarios.sh oracle          git http-backend behind nginx + fcgiwrap (tests/git/http_backend.sh)
# The same scenarios run against both; those that test what only the daemon promises (auth, pending changes
# committed first, forced non-fast-forward refused, manifest checks) run against the daemon only.
# Prints one "ok"/"not ok" line per scenario; exits non-zero when any failed. After every scenario both sides
# pass `git fsck`.
set -uo pipefail
mode=${1:?daemon BINARY | oracle}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
export HOME=$work/home GIT_CONFIG_NOSYSTEM=1 GIT_TERMINAL_PROMPT=0
mkdir -p "$HOME"
git config --global user.name "Test Client"
git config --global user.email client@example.com
git config --global init.defaultBranch main
git config --global advice.detachedHead false
git config --global pull.rebase false
git config --global protocol.version 2 # what 2.39 does by default; the server must make it fall back

cleanup() {
    [ -f "$work/daemon.pid" ] && kill "$(cat "$work/daemon.pid")" 2>/dev/null
    [ "$mode" = oracle ] && "$here/http_backend.sh" stop "$work/oracle"
    [ -n "${KEEP_WORK:-}" ] && echo "# kept $work" || rm -rf "$work"
}
trap cleanup EXIT

token=scenario-token-0123456789
# Starts a daemon on ROOT and a free port, logging to NAME.log, its pid in NAME.pid; sets launched_port.
launch() { # ROOT NAME
    # The log of an earlier start under this NAME goes first: the child truncates it only once it runs, and
    # until then the wait below would find the old "listening on" line and its dead port.
    rm -f "$work/$2.log"
    "$binary" --root "$1" --token "$token" --listen 127.0.0.1:0 --agent-id box --snapshot-interval 0 \
        >"$work/$2.out" 2>"$work/$2.log" &
    echo $! >"$work/$2.pid"
    # Bounded wait for the event itself: the line that says the port is bound.
    # 60 s: a restart after kill -9 repairs first, and CI compiles the sanitizer build meanwhile (one CI run
    # saw a start take over 30 s then, cause not yet found: a start over 5 s is printed so it shows).
    local started=$SECONDS
    for _ in $(seq 1200); do grep -q "listening on" "$work/$2.log" 2>/dev/null && break; sleep 0.05; done
    launched_port=$(sed -n 's/.*listening on http:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$work/$2.log" | head -1)
    [ -n "$launched_port" ] || { echo "not ok - daemon did not start within $((SECONDS - started)) s"; cat "$work/$2.log"; return 1; }
    [ $((SECONDS - started)) -lt 5 ] || echo "# the daemon took $((SECONDS - started)) s to start"
}
# The daemon of the scenarios (again, after a kill); sets port, url and api.
start_daemon() {
    launch "$work/root" daemon || return 1
    port=$launched_port
    url="http://x:$token@127.0.0.1:$port/v0/agents/box/git"
    api="http://127.0.0.1:$port/v0/agents/box"
}
if [ "$mode" = daemon ]; then
    binary=$(realpath "${2:?daemon BINARY}")
    mkdir -p "$work/root/workspace"
    start_daemon || exit 1
    server=$work/root/workspace
else
    mkdir -p "$work/oracle"
    port=$("$here/http_backend.sh" start "$work/oracle") || exit 1
    git init -q "$work/oracle/repos/ws"
    git -C "$work/oracle/repos/ws" config receive.denyCurrentBranch updateInstead
    git -C "$work/oracle/repos/ws" config http.receivepack true
    url="http://127.0.0.1:$port/git/ws"
    server=$work/oracle/repos/ws
fi

failed=0
n=0
# ONLY="fn1 fn2" runs just those scenarios (with the ones they build on), for debugging one of them.
scenario() {
    local name=$1
    shift
    if [ -n "${ONLY:-}" ] && [[ " $ONLY " != *" $1 "* ]]; then return; fi
    n=$((n + 1))
    local log=$work/scenario.log
    # Not inside an `if` or `&&`: bash ignores set -e there, and the scenario would only report its last
    # command.
    (
        set -e
        cd "$work"
        "$@"
        fsck_all
    ) >"$log" 2>&1
    if [ $? -eq 0 ]; then
        echo "ok $n - $name"
    else
        echo "not ok $n - $name"
        sed 's/^/#   /' "$log" | tail -40
        failed=$((failed + 1))
    fi
}
# `! cmd` never stops a set -e script; this does.
fails() {
    if "$@"; then
        echo "expected to fail: $*"
        return 1
    fi
}
daemon_only() { [ "$mode" = daemon ]; }

fsck_all() {
    git -C "$server" fsck --no-dangling --no-progress
    for d in "$work"/c-*; do
        if [ -d "$d/.git" ]; then git -C "$d" fsck --no-dangling --no-progress; fi
    done
}

# A commit made on the server side (the agent working in its workspace).
server_commit() { # FILE CONTENT
    printf '%s\n' "$2" >"$server/$1"
    git -C "$server" add -A
    git -C "$server" commit -qm "server: $1"
}
# The agent commits what it wrote (as a snapshot would), so the next push meets a clean workspace.
settle_server() {
    git -C "$server" add -A
    git -C "$server" diff --cached --quiet || git -C "$server" commit -qm "server: agent work"
}
same_head() { # CLIENT_DIR [REF]
    [ "$(git -C "$1" rev-parse "${2:-origin/main}")" = "$(git -C "$server" rev-parse main)" ]
}
push_output_has() { # DIR TEXT ARGS...: push must fail and say TEXT
    local d=$1 text=$2
    shift 2
    if git -C "$d" push "$@" >"$work/push.out" 2>&1; then
        cat "$work/push.out"
        echo "push was accepted"
        return 1
    fi
    cat "$work/push.out"
    grep -qF -- "$text" "$work/push.out"
}

# --- scenarios -------------------------------------------------------------------------------------------

clone_empty() {
    git clone "$url" c-empty 2>&1 | tee out
    grep -q "cloned an empty repository" out
    [ -z "$(git -C c-empty rev-parse --all)" ]
}

first_push_into_empty() {
    cd c-empty
    printf 'hello\n' >hello.txt
    mkdir -p dir/sub
    printf 'deep\n' >dir/sub/deep.txt
    git add -A
    git commit -qm first
    git push origin main
    cd ..
    [ "$(cat "$server/hello.txt")" = hello ]
    [ "$(cat "$server/dir/sub/deep.txt")" = deep ]
    [ -z "$(git -C "$server" status --porcelain)" ]
}

clone_default() {
    server_commit server.txt "from the server"
    GIT_TRACE_CURL=$work/clone.trace git clone "$url" c-main
    same_head c-main
    [ "$(cat c-main/server.txt)" = "from the server" ]
    [ "$(git -C c-main symbolic-ref HEAD)" = refs/heads/main ]
    # The client asked for v2 (and was answered in v0: the clone above worked).
    grep -q "Git-Protocol: version=2" "$work/clone.trace"
}

clone_v0() {
    git -c protocol.version=0 clone "$url" c-v0
    same_head c-v0
}

annotated_tags() {
    git -C "$server" tag -a v1.0 -m "release 1.0"
    git -C "$server" tag light
    git clone "$url" c-tags
    [ "$(git -C c-tags rev-parse v1.0^{tag})" = "$(git -C "$server" rev-parse v1.0)" ]
    [ "$(git -C c-tags cat-file -t v1.0)" = tag ]
    [ "$(git -C c-tags rev-parse light)" = "$(git -C "$server" rev-parse light)" ]
    git ls-remote "$url" | grep -q 'refs/tags/v1.0^{}'
}

shallow_then_fetch() {
    for i in 1 2 3 4; do server_commit "s$i.txt" "$i"; done
    git clone --depth 1 "$url" c-shallow
    [ "$(git -C c-shallow rev-list --count HEAD)" = 1 ]
    [ -f c-shallow/.git/shallow ]
    server_commit s5.txt 5
    git -C c-shallow fetch
    same_head c-shallow
    [ "$(git -C c-shallow rev-list --count origin/main)" = 2 ]
}

deepen_by_one() {
    git -C c-shallow fetch --deepen=1
    [ "$(git -C c-shallow rev-list --count origin/main)" = 3 ]
}

unshallow() {
    git -C c-shallow fetch --unshallow
    [ ! -f c-shallow/.git/shallow ]
    [ "$(git -C c-shallow rev-list --count origin/main)" = "$(git -C "$server" rev-list --count main)" ]
}

fetch_after_one() {
    server_commit one.txt one
    git -C c-main fetch
    same_head c-main
}

fetch_after_500() {
    for i in $(seq 500); do
        printf '%s\n' "$i" >"$server/counter.txt"
        git -C "$server" commit -qam "counter $i" 2>/dev/null || { git -C "$server" add counter.txt && git -C "$server" commit -qm "counter $i"; }
    done
    # 60 local commits the server lacks: the later negotiation rounds carry over 1 KiB of haves, which git
    # sends gzip-compressed.
    git -C c-main checkout -qb local-work
    for i in $(seq 60); do git -C c-main commit -q --allow-empty -m "local $i"; done
    git -C c-main checkout -q main
    GIT_TRACE_CURL=$work/curl.trace git -C c-main fetch
    git -C c-main branch -qD local-work
    same_head c-main
    grep -q "Content-Encoding: gzip" "$work/curl.trace"
}

pull() {
    server_commit pulled.txt pulled
    git -C c-v0 pull
    [ "$(cat c-v0/pulled.txt)" = pulled ]
    same_head c-v0 main
}

push_fast_forward() {
    git -C c-main pull -q
    printf 'client\n' >c-main/client.txt
    git -C c-main add client.txt
    git -C c-main commit -qm client
    git -C c-main push
    [ "$(cat "$server/client.txt")" = client ]
    same_head c-main main
    [ -z "$(git -C "$server" status --porcelain)" ]
}

push_new_branch_and_tag() {
    git -C c-main checkout -qb feature
    printf 'feature\n' >c-main/feature.txt
    git -C c-main add feature.txt
    git -C c-main commit -qm feature
    git -C c-main push origin feature
    git -C c-main tag -a v2.0 -m "two"
    git -C c-main push origin v2.0
    [ "$(git -C "$server" rev-parse feature)" = "$(git -C c-main rev-parse feature)" ]
    [ "$(git -C "$server" rev-parse v2.0)" = "$(git -C c-main rev-parse v2.0)" ]
    [ ! -f "$server/feature.txt" ] # not the checked-out branch
    git -C c-main checkout -q main
}

delete_branch() {
    git -C c-main push origin --delete feature
    fails git -C "$server" rev-parse --verify -q refs/heads/feature
}

delete_checked_out_branch() {
    push_output_has c-main "deletion of the current branch prohibited" origin --delete main
    git -C "$server" rev-parse --verify refs/heads/main
}

diverged_push() {
    git -C c-v0 pull -q
    server_commit diverge-server.txt server
    printf 'client\n' >c-v0/diverge-client.txt
    git -C c-v0 add -A
    git -C c-v0 commit -qm "client diverges"
    push_output_has c-v0 "rejected" origin main
}

diverged_force_push() {
    local before
    before=$(git -C "$server" rev-parse main)
    push_output_has c-v0 "non-fast-forward" --force origin main
    [ "$(git -C "$server" rev-parse main)" = "$before" ]
    [ -f "$server/diverge-server.txt" ]
    # The objects of the refused push are nowhere in the server's repository.
    fails git -C "$server" cat-file -e "$(git -C c-v0 rev-parse HEAD)"
    git -C c-v0 reset -q --hard origin/main
}

large_push() {
    git -C c-main pull -q
    head -c 3000000 /dev/urandom >c-main/big.bin
    git -C c-main add big.bin
    git -C c-main commit -qm big
    GIT_TRACE_CURL=$work/push.trace git -C c-main push
    cmp c-main/big.bin "$server/big.bin"
    grep -q "Transfer-Encoding: chunked" "$work/push.trace"
}

push_checked_out_updates_files() {
    git -C c-main pull -q
    printf 'v2\n' >c-main/hello.txt
    git -C c-main rm -q dir/sub/deep.txt
    mkdir -p c-main/new/dir
    printf 'n\n' >c-main/new/dir/n.txt
    git -C c-main add -A
    git -C c-main commit -qm "edit, remove, add"
    git -C c-main push
    [ "$(cat "$server/hello.txt")" = v2 ]
    [ ! -e "$server/dir/sub/deep.txt" ]
    [ "$(cat "$server/new/dir/n.txt")" = n ]
    [ -z "$(git -C "$server" status --porcelain)" ]
}

pending_changes_committed_first() {
    git -C c-main pull -q
    printf 'agent was here\n' >"$server/agent-note.txt"
    printf 'x\n' >c-main/x.txt
    git -C c-main add x.txt
    git -C c-main commit -qm x
    push_output_has c-main "non-fast-forward" origin main
    # The agent's file is now in a commit, and the client can pull it and push on top.
    git -C "$server" log -1 --format=%s | grep -q "Workspace changes before a push"
    git -C c-main pull -q
    [ "$(cat c-main/agent-note.txt)" = "agent was here" ]
    git -C c-main push
    [ "$(cat "$server/x.txt")" = x ]
}

push_racing_agent_edits() {
    git -C c-main pull -q
    # The agent appends a line every 300 ms while the client pulls and pushes 15 times. A push that meets
    # uncommitted agent work is refused (that work is committed first); one that does not goes through.
    (for i in $(seq 20); do printf 'line %s\n' "$i" >>"$server/agent.log"; sleep 0.3; done) &
    local agent=$! accepted=0
    for i in $(seq 15); do
        git -C c-main pull -q --no-edit >/dev/null 2>&1 || true
        printf '%s\n' "$i" >c-main/race.txt
        git -C c-main add race.txt
        git -C c-main commit -qm "race $i"
        if git -C c-main push -q origin main 2>/dev/null; then
            accepted=$((accepted + 1))
            [ "$(cat "$server/race.txt")" = "$i" ]
        fi
    done
    wait $agent
    # How many of the 15 met no agent work depends on the machine's speed (on a loaded one, none). With the
    # agent quiet, a push goes through: at most one refusal first, which commits the agent's last lines.
    local final=refused
    for try in 1 2; do
        git -C c-main pull -q --no-edit >/dev/null 2>&1 || true
        printf 'final %s\n' "$try" >c-main/race.txt
        git -C c-main commit -qam "race, the agent quiet ($try)"
        if git -C c-main push -q origin main 2>/dev/null; then
            final=accepted
            [ "$(cat "$server/race.txt")" = "final $try" ]
            break
        fi
    done
    # Every line the agent wrote is still there, in order.
    [ "$(wc -l <"$server/agent.log")" = 20 ]
    [ "$(tail -1 "$server/agent.log")" = "line 20" ]
    echo "accepted pushes while the agent wrote: $accepted of 15; with the agent quiet: $final"
    [ "$final" = accepted ]
}

invalid_manifest_push() {
    settle_server
    git -C c-main pull -q
    local before
    before=$(git -C "$server" rev-parse main)
    printf '{"version": 1, "scripts": {' >c-main/manifest.json
    git -C c-main add manifest.json
    git -C c-main commit -qm "broken manifest"
    push_output_has c-main "manifest.json: not valid JSON" origin main
    printf '{"version": 2}\n' >c-main/manifest.json
    git -C c-main commit -qam "wrong version"
    push_output_has c-main '"version" must be 1' origin main
    [ "$(git -C "$server" rev-parse main)" = "$before" ]
    [ ! -e "$server/manifest.json" ]
    printf '{"version": 1}\n' >c-main/manifest.json
    git -C c-main commit -qam "good manifest"
    git -C c-main push origin main
    [ -f "$server/manifest.json" ]
}

atomic_all_or_nothing() {
    git -C c-main pull -q
    printf 'y\n' >c-main/y.txt
    git -C c-main add y.txt
    git -C c-main commit -qm y
    git -C c-main branch -f side HEAD
    printf 'broken' >c-main/manifest.json
    git -C c-main commit -qam "breaks the manifest"
    # Two refs in one push: side is fine, main is refused: neither moves.
    push_output_has c-main "atomic push failure" origin main side
    fails git -C "$server" rev-parse --verify -q refs/heads/side
    git -C c-main reset -q --hard HEAD~1
}

sync_snapshot() {
    curl -sf -X POST -H "Authorization: Bearer $token" "$api/snapshots/sync" >"$work/sync.json"
    cat "$work/sync.json"
    grep -q '"success":true' "$work/sync.json"
}

# The finding that destroyed repositories: the agent writes the very bytes the client pushes, the pre-push
# commit of that change must not point into the refused pack.
refused_push_same_bytes() {
    settle_server
    git -C c-main pull -q
    mkdir -p c-main/docs "$server/docs"
    printf 'the same bytes\n' >c-main/docs/a.txt
    git -C c-main add docs/a.txt
    git -C c-main commit -qm "docs/a.txt from the client"
    printf 'the same bytes\n' >"$server/docs/a.txt"
    push_output_has c-main "non-fast-forward" origin main
    git -C "$server" fsck --full --no-dangling
    git -C "$server" cat-file -e "$(git -C "$server" rev-parse HEAD:docs/a.txt)"
    sync_snapshot
    git clone -q "$url" c-after-refusal
    [ "$(cat c-after-refusal/docs/a.txt)" = "the same bytes" ]
    # The same user pulls and pushes again, and it works.
    git -C c-main pull -q --no-edit
    printf 'after\n' >c-main/after.txt
    git -C c-main add after.txt
    git -C c-main commit -qm after
    git -C c-main push -q origin main
    [ "$(cat "$server/after.txt")" = after ]
}

# A push whose checkout fails half-way (an ignored file `build` where the push needs a directory) leaves
# every file of the work tree as it was.
refused_push_keeps_work_tree() {
    settle_server
    printf 'build\n' >"$server/.gitignore"
    settle_server
    printf 'an ignored build output\n' >"$server/build"
    git -C c-main pull -q
    : >c-main/.gitignore
    mkdir -p c-main/b c-main/build
    printf '1\n' >c-main/b/1
    printf 'out\n' >c-main/build/out.txt
    git -C c-main add -A
    git -C c-main commit -qm "empties .gitignore, adds b/1 and build/out.txt"
    local before
    before=$(git -C "$server" rev-parse main)
    push_output_has c-main "build" origin main
    [ "$(git -C "$server" rev-parse main)" = "$before" ]
    [ "$(cat "$server/.gitignore")" = build ]
    [ ! -e "$server/b" ]
    [ "$(cat "$server/build")" = "an ignored build output" ]
    [ -z "$(git -C "$server" status --porcelain)" ]
    sync_snapshot
    fails git -C "$server" cat-file -e HEAD:build
    fails git -C "$server" cat-file -e "$(git -C c-main rev-parse HEAD)"
    git -C c-main reset -q --hard origin/main
    rm -f "$server/build"
}

# A commit on top of crafted's HEAD whose root tree is TREE; echoes its id.
commit_with_tree() { # TREE
    git -C crafted commit-tree "$1" -p HEAD -m "crafted tree"
}
crafted_push_refused() { # COMMIT TEXT
    local before
    before=$(git -C "$server" rev-parse main)
    push_output_has crafted "$2" origin "$1:refs/heads/main"
    [ "$(git -C "$server" rev-parse main)" = "$before" ]
    [ -z "$(git -C "$server" status --porcelain)" ]
    fails git -C "$server" cat-file -e "$1"
}

# Names a Linux work tree could hold but git refuses elsewhere, and objects transfer.fsckObjects refuses.
fsck_rules_refuse_pushes() {
    settle_server
    # A clone of its own (not c-*): the crafted objects stay on the client, and fsck_all would see them.
    git clone -q "$url" crafted
    local blob base tree name
    blob=$(echo hi | git -C crafted hash-object -w --stdin)
    base=$(git -C crafted rev-parse 'HEAD^{tree}')
    for name in '..\y' '.\y' 'x\..\y'; do
        tree=$( (git -C crafted ls-tree HEAD; printf '100644 blob %s\t%s\n' "$blob" "$name") | git -C crafted mktree)
        crafted_push_refused "$(commit_with_tree "$tree")" "hasBackslash"
    done
    # Two entries of one name (git mktree writes them as given).
    tree=$( (git -C crafted ls-tree HEAD; printf '100644 blob %s\tdup\n100644 blob %s\tdup\n' "$blob" "$blob") |
        git -C crafted mktree)
    crafted_push_refused "$(commit_with_tree "$tree")" "duplicateEntries"
    # A .gitmodules whose url is an option for the client that clones it.
    printf '[submodule "x"]\n\tpath = x\n\turl = --upload-pack=touch${IFS}/tmp/pwned\n' >crafted/.gitmodules
    git -C crafted add .gitmodules
    git -C crafted commit -qm gitmodules
    push_output_has crafted "gitmodulesUrl" origin main
    git -C crafted reset -q --hard origin/main
    [ "$(git -C crafted rev-parse HEAD)" = "$(git -C "$server" rev-parse main)" ]
    [ "$base" = "$(git -C "$server" rev-parse 'HEAD^{tree}')" ]
}

# kill -9 at random points of pushes (with and without pending agent work); after each restart the
# repository passes fsck, tracked files match HEAD, and the next push and snapshot work.
crash_loop_during_pushes() {
    settle_server
    git -C c-main pull -q
    local i interrupted=0 landed=0 delay
    for i in $(seq "${CRASH_ROUNDS:-50}"); do
        for f in $(seq 40); do head -c 20000 /dev/urandom >"c-main/crash-$f.bin"; done
        git -C c-main add -A
        git -C c-main commit -qm "crash round $i"
        [ $((i % 3)) -eq 0 ] && printf 'agent %s\n' "$i" >"$server/pending-$i.txt"
        git -C c-main push -q origin main >/dev/null 2>&1 &
        local pusher=$!
        delay=$(printf '0.%03d' $((RANDOM % 250)))
        sleep "$delay" # a random point of the push, not a wait for an event
        kill -9 "$(cat "$work/daemon.pid")"
        if wait "$pusher"; then landed=$((landed + 1)); else interrupted=$((interrupted + 1)); fi
        { wait "$(cat "$work/daemon.pid")" || true; } 2>/dev/null # bash's "Killed" notice, not ours
        start_daemon
        git -C "$server" fsck --full --no-dangling --no-progress
        # The pushed files are exactly HEAD's (a ref that moved took the work tree along, one that did not
        # left it alone); the agent's files are all there, committed or pending.
        echo "round $i: killed after $delay s"
        git -C "$server" diff --stat --exit-code HEAD -- 'crash-*'
        [ "$(find "$server" -maxdepth 1 -name 'pending-*.txt' | wc -l)" = $((i / 3)) ]
        git -C c-main remote set-url origin "$url"
        git -C c-main fetch -q origin
        git -C c-main reset -q --hard origin/main
    done
    echo "pushes interrupted by the kill: $interrupted, completed before it: $landed"
    # The kill must have landed inside the push in a good share of the rounds, or this tested nothing.
    [ "$interrupted" -ge $(( ${CRASH_ROUNDS:-50} / 5 )) ]
    printf 'after the crashes\n' >c-main/after-crashes.txt
    git -C c-main add after-crashes.txt
    git -C c-main commit -qm "after the crashes"
    # An agent file of the last rounds may still be uncommitted (its round's push was killed before it got
    # that far): the push then commits it and is refused as non-fast-forward, as designed; pull, push again.
    git -C c-main push -q origin main 2>/dev/null || { git -C c-main pull -q --no-edit && git -C c-main push -q origin main; }
    [ "$(cat "$server/after-crashes.txt")" = "after the crashes" ]
    sync_snapshot
}

# A push is streamed to disk: a daemon of its own takes 200 MB of incompressible files and its peak
# resident set stays far below the pack's size (the bound is skipped under ASan, whose allocator keeps
# freed memory).
large_push_memory() {
    mkdir -p "$work/mem-root/workspace"
    echo seed >"$work/mem-root/workspace/seed.txt"
    launch "$work/mem-root" mem
    local pid
    pid=$(cat "$work/mem.pid")
    git clone -q "http://x:$token@127.0.0.1:$launched_port/v0/agents/box/git" mem-client
    for i in $(seq 20); do head -c 10000000 /dev/urandom >"mem-client/big-$i.bin"; done
    git -C mem-client add -A
    git -C mem-client commit -qm "200 MB"
    git -C mem-client -c core.bigFileThreshold=1m -c pack.compression=0 push -q origin main
    cmp mem-client/big-20.bin "$work/mem-root/workspace/big-20.bin"
    local peak
    peak=$(sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$pid/status")
    kill "$pid"
    { wait "$pid" || true; } 2>/dev/null
    rm -rf mem-client "$work/mem-root"
    echo "daemon peak RSS during a 200 MB push: $peak kB"
    if [ -n "${TEST_SANITIZED:-}" ]; then return 0; fi
    [ "$peak" -lt 150000 ]
}

wrong_token() {
    local bad=${url/$token/wrong-token}
    fails git ls-remote "$bad" 2>err
    grep -q "Authentication failed" err
    local bare=${url/x:$token@/}
    curl -s -o /dev/null -D h1 "$bare/info/refs?service=git-upload-pack"
    grep -q "^HTTP/1.1 401" h1
    grep -qi '^WWW-Authenticate: Basic realm="agent-gateway"' h1
    curl -s -o /dev/null -D h2 -X POST -H "Content-Type: application/x-git-receive-pack-request" \
        --data-binary 0000 "$bare/git-receive-pack"
    grep -q "^HTTP/1.1 401" h2
    grep -qi '^WWW-Authenticate: Basic' h2
    curl -s -o /dev/null -D h3 -X POST -H "Content-Type: application/x-git-upload-pack-request" \
        --data-binary 0000 "$bare/git-upload-pack"
    grep -q "^HTTP/1.1 401" h3
    grep -qi '^WWW-Authenticate: Basic' h3
}

scenario "clone of an empty repository" clone_empty
scenario "first push into the empty repository" first_push_into_empty
scenario "clone (default client: v2 asked, v0 answered)" clone_default
scenario "clone with protocol.version=0" clone_v0
scenario "annotated and lightweight tags" annotated_tags
scenario "--depth 1 clone, then fetch" shallow_then_fetch
scenario "fetch --deepen=1" deepen_by_one
scenario "fetch --unshallow" unshallow
scenario "incremental fetch after 1 new commit" fetch_after_one
scenario "incremental fetch after 500 new commits (gzip request)" fetch_after_500
scenario "git pull" pull
scenario "push fast-forward" push_fast_forward
scenario "push a new branch and a new tag" push_new_branch_and_tag
scenario "delete a branch" delete_branch
scenario "push over 1 MiB (chunked, with the credentials probe)" large_push
scenario "push into the checked-out branch updates the working tree" push_checked_out_updates_files
scenario "diverged push is rejected" diverged_push
if daemon_only; then
    scenario "diverged push with --force is refused too" diverged_force_push
    scenario "deleting the checked-out branch is refused" delete_checked_out_branch
    scenario "pending workspace changes are committed before a push" pending_changes_committed_first
    scenario "pushes racing agent edits lose nothing" push_racing_agent_edits
    scenario "a pushed invalid manifest.json is refused with the reason" invalid_manifest_push
    scenario "ref updates are all-or-nothing per push" atomic_all_or_nothing
    scenario "wrong or missing token: 401 with WWW-Authenticate: Basic" wrong_token
    scenario "a refused push whose files the agent also wrote leaves the repository whole" refused_push_same_bytes
    scenario "a push refused during its checkout leaves the work tree as it was" refused_push_keeps_work_tree
    scenario "pushes that transfer.fsckObjects would refuse are refused, with the reason" fsck_rules_refuse_pushes
    scenario "a 200 MB push keeps the daemon's memory far below the pack's size" large_push_memory
fi

# Last: it restarts the daemon on other ports (cleanup stops whichever daemon.pid names).
if daemon_only; then
    scenario "kill -9 at random points of ${CRASH_ROUNDS:-50} pushes leaves fsck clean" crash_loop_during_pushes
fi
echo "1..$n"
if [ "$failed" -gt 0 ]; then
    echo "# $failed of $n git scenarios failed ($mode)"
    [ "$mode" = daemon ] && { echo "# daemon log:"; tail -30 "$work/daemon.log" | sed 's/^/#   /'; }
    exit 1
fi
echo "# all $n git scenarios passed ($mode)"
