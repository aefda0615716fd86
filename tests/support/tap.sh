# Sourced by the shell suites (tests/metrics, tests/systemd, tests/packaging): TAP lines and bounded waits.
# The caller sets n=0 and failed=0 and exits non-zero when failed > 0.

# Runs COMMAND as one check: "ok N - NAME" or "not ok N - NAME".
check() { # NAME COMMAND...
    local name=$1
    shift
    n=$((n + 1))
    if "$@"; then echo "ok $n - $name"; else echo "not ok $n - $name"; failed=$((failed + 1)); fi
}

# Polls until COMMAND succeeds, at most SECONDS: waits for the event, not for a guessed time.
wait_for() { # SECONDS COMMAND...
    local until=$((SECONDS + $1))
    shift
    while ! "$@"; do
        [ $SECONDS -lt $until ] || return 1
        sleep 0.1
    done
}
