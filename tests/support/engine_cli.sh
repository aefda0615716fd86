#!/bin/sh
# A stand-in for the engine's CLI where the real one (tests/engine) cannot show the case: a refusal with
# issues on demand, a failing approve. It answers as OpenClaw 2026.9.6's does
# (../shared/design/engine-openclaw.md): `config validate --json` reads OPENCLAW_CONFIG_PATH.
case "$1 $2" in
"config validate")
    if grep -q '"refuse-me"' "$OPENCLAW_CONFIG_PATH"; then
        printf '{"valid":false,"issues":[{"path":"gateway.port","message":"Invalid input: expected number in %s"}]}\n' \
            "$OPENCLAW_CONFIG_PATH"
        exit 1
    fi
    printf '{"valid":true,"path":"%s","warnings":[]}\n' "$OPENCLAW_CONFIG_PATH" ;;
"devices list")
    printf '{"pending":[{"requestId":"r-1","deviceId":"d-1"},{"requestId":"r-fail","deviceId":"d-2"}],"paired":[]}\n' ;;
"devices approve")
    # The id comes after `--` (docs/api.md §15); an option in its place is refused, as a CLI would.
    shift 2
    if [ "$1" = -- ]; then
        shift
    else
        case "$1" in -*) echo "error: unknown option '$1'" >&2; exit 2 ;; esac
    fi
    if [ "$1" = r-fail ]; then echo "No pending device request matches r-fail." >&2; exit 1; fi
    echo "Approved d-1 ($1)" ;;
*) echo "unknown command: $*" >&2; exit 2 ;;
esac
