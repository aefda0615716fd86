#!/usr/bin/env bash
# git http-backend behind nginx + fcgiwrap (Debian packages): the peer the git tests and bench/git compare with.
#   http_backend.sh start DIR   serves DIR/repos/* at http://127.0.0.1:PORT/git/NAME; prints PORT
#   http_backend.sh stop DIR
# Whoever creates a repository there sets http.receivepack=true to allow pushes, and
# receive.denyCurrentBranch=updateInstead for a work tree that follows pushes to its checked-out branch.
set -euo pipefail
cmd=${1:?start|stop}
dir=$(cd "${2:?DIR}" && pwd)

if [ "$cmd" = stop ]; then
    [ -f "$dir/nginx.pid" ] && kill "$(cat "$dir/nginx.pid")" 2>/dev/null || true
    [ -f "$dir/fcgiwrap.pid" ] && kill "$(cat "$dir/fcgiwrap.pid")" 2>/dev/null || true
    exit 0
fi

mkdir -p "$dir/repos" "$dir/tmp"
rm -f "$dir/fcgi.sock"
fcgiwrap -c 4 -s "unix:$dir/fcgi.sock" </dev/null >"$dir/fcgiwrap.log" 2>&1 &
echo $! >"$dir/fcgiwrap.pid"
for _ in $(seq 100); do [ -S "$dir/fcgi.sock" ] && break; sleep 0.05; done

user_line=""
[ "$(id -u)" -eq 0 ] && user_line="user root;"
for attempt in $(seq 20); do
    port=$((20000 + RANDOM % 40000))
    cat >"$dir/nginx.conf" <<CONF
$user_line
worker_processes 2;
pid $dir/nginx.pid;
error_log $dir/error.log;
events { worker_connections 512; }
http {
    access_log off;
    client_body_temp_path $dir/tmp/body;
    fastcgi_temp_path $dir/tmp/fastcgi;
    proxy_temp_path $dir/tmp/proxy;
    uwsgi_temp_path $dir/tmp/uwsgi;
    scgi_temp_path $dir/tmp/scgi;
    server {
        listen 127.0.0.1:$port;
        client_max_body_size 0;
        location ~ ^/git(/.*)\$ {
            include /etc/nginx/fastcgi_params;
            fastcgi_pass unix:$dir/fcgi.sock;
            fastcgi_param SCRIPT_FILENAME /usr/lib/git-core/git-http-backend;
            fastcgi_param GIT_PROJECT_ROOT $dir/repos;
            fastcgi_param GIT_HTTP_EXPORT_ALL "";
            fastcgi_param PATH_INFO \$1;
            fastcgi_param GIT_PROTOCOL \$http_git_protocol;
            fastcgi_buffering off;
        }
    }
}
CONF
    if nginx -c "$dir/nginx.conf" -p "$dir" -e "$dir/error.log" 2>>"$dir/start.log"; then
        for _ in $(seq 100); do [ -s "$dir/nginx.pid" ] && break; sleep 0.05; done
        echo "$port"
        exit 0
    fi
done
echo "http_backend.sh: nginx did not start; see $dir/start.log $dir/error.log" >&2
exit 1
