# nginx baselines for benchmarks. Source this file, then:
#
#   nginx_start_static            # one worker answering `return 200` on a free port
#   nginx_start_proxy 127.0.0.1:9001   # one worker as a plain reverse proxy to that upstream
#   echo "$NGINX_PORT"            # the port it listens on (127.0.0.1)
#   nginx_stop
#
# Each start runs nginx in the foreground (`daemon off`) in the background of this shell,
# with its config, logs and temp files in a fresh directory ($NGINX_DIR), so nothing
# outside it is touched and no root is needed. One nginx at a time per shell.

NGINX_BIN=${NGINX_BIN:-$(command -v nginx || echo /usr/sbin/nginx)}
NGINX_PORT=
NGINX_PID=
NGINX_DIR=

# Prints a TCP port on 127.0.0.1 that nothing listens on right now.
nginx_free_port() {
  local port
  for _ in $(seq 1 100); do
    port=$((20000 + RANDOM % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$port"
      return 0
    fi
  done
  return 1
}

# nginx_write_config DIR PORT LOCATION_BODY
_nginx_write_config() {
  local dir=$1 port=$2 location=$3
  mkdir -p "$dir/logs" "$dir/tmp"
  cat >"$dir/nginx.conf" <<CONF
worker_processes 1;
daemon off;
master_process on;
pid $dir/nginx.pid;
error_log $dir/logs/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $dir/tmp/body;
  proxy_temp_path $dir/tmp/proxy;
  fastcgi_temp_path $dir/tmp/fastcgi;
  uwsgi_temp_path $dir/tmp/uwsgi;
  scgi_temp_path $dir/tmp/scgi;
  keepalive_requests 1000000;
  upstream backend_pool { server ${NGINX_UPSTREAM:-127.0.0.1:1}; keepalive 64; }
  server {
    listen 127.0.0.1:$port;
    location / { $location }
  }
}
CONF
}

# _nginx_start LOCATION_BODY: starts nginx, waits until it accepts connections.
_nginx_start() {
  local location=$1
  nginx_stop
  NGINX_DIR=$(mktemp -d "${TMPDIR:-/tmp}/nginx-bench.XXXXXX")
  local attempt
  for attempt in 1 2 3 4 5; do
    NGINX_PORT=$(nginx_free_port) || return 1
    _nginx_write_config "$NGINX_DIR" "$NGINX_PORT" "$location"
    "$NGINX_BIN" -p "$NGINX_DIR" -c "$NGINX_DIR/nginx.conf" -e "$NGINX_DIR/logs/error.log" \
      >"$NGINX_DIR/logs/stdout.log" 2>&1 &
    NGINX_PID=$!
    local i
    for i in $(seq 1 50); do
      if (exec 3<>"/dev/tcp/127.0.0.1/$NGINX_PORT") 2>/dev/null; then
        return 0
      fi
      kill -0 "$NGINX_PID" 2>/dev/null || break
      sleep 0.1
    done
    kill "$NGINX_PID" 2>/dev/null
    wait "$NGINX_PID" 2>/dev/null
    NGINX_PID=
  done
  echo "nginx did not start; see $NGINX_DIR/logs" >&2
  return 1
}

# Static `return 200` (the baseline of SPEC section 10).
nginx_start_static() {
  _nginx_start 'default_type text/plain; return 200 "ok";'
}

# Plain reverse proxy to UPSTREAM (HOST:PORT), with upstream keep-alive.
nginx_start_proxy() {
  local upstream=$1
  NGINX_UPSTREAM=$upstream _nginx_start \
    'proxy_pass http://backend_pool; proxy_http_version 1.1; proxy_set_header Connection "";'
}

# Stops the nginx started by this shell and removes its directory.
nginx_stop() {
  if [[ -n "$NGINX_PID" ]]; then
    kill -QUIT "$NGINX_PID" 2>/dev/null
    wait "$NGINX_PID" 2>/dev/null
  fi
  [[ -n "$NGINX_DIR" && -d "$NGINX_DIR" ]] && rm -rf "$NGINX_DIR"
  NGINX_PID=
  NGINX_DIR=
  NGINX_PORT=
}
