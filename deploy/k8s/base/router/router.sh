#!/bin/sh
# Gander's router entrypoint (Kubernetes): fills nginx.conf.template with the
# workers behind the headless Service, runs nginx in the foreground, and
# re-resolves the Service every few seconds; when the set of ready workers
# changes it renders the new configuration, checks it (nginx -t) and reloads
# nginx (SIGHUP), so new calls follow the ring while calls in flight finish
# on the worker they started on.
#
#   router.sh run                  the container's command
#   router.sh render OUT ADDR...   render the template for these workers
#                                  (HOST:PORT each) into OUT, and exit
#
# Environment (ConfigMap gander-router-env; defaults in brackets):
#   GANDER_WORKERS_HOST           headless Service of the workers [gander-worker]
#   GANDER_WORKER_PORT            the workers' gRPC port, as in their --listen [50051]
#   GANDER_ROUTER_LISTEN          gRPC address of the router [0.0.0.0:50051]
#   GANDER_ROUTER_HEALTH_LISTEN   address of GET /healthz [0.0.0.0:8081]
#   GANDER_ROUTER_TLS             on: serve TLS with GANDER_ROUTER_TLS_DIR/tls.{crt,key};
#                                 off: cleartext [on]
#   GANDER_ROUTER_TLS_DIR         mounted Secret gander-router-tls [/etc/gander/router-tls]
#   GANDER_ROUTER_RESOLVE_SECONDS how often the Service is resolved [2]
#   GANDER_ROUTER_TEMPLATE        [/etc/gander/router/nginx.conf.template]
#   GANDER_ROUTER_RUNTIME_DIR     writable directory [/tmp/nginx]
#
# SIGTERM: nginx stops accepting and lets running calls finish (graceful
# shutdown, bounded by the template's worker_shutdown_timeout and by the
# pod's terminationGracePeriodSeconds). Exit status: nginx's, or 1 when the
# first configuration is invalid or TLS is on without a certificate.
set -eu

workers_host=${GANDER_WORKERS_HOST:-gander-worker}
worker_port=${GANDER_WORKER_PORT:-50051}
listen=${GANDER_ROUTER_LISTEN:-0.0.0.0:50051}
health_listen=${GANDER_ROUTER_HEALTH_LISTEN:-0.0.0.0:8081}
tls=${GANDER_ROUTER_TLS:-on}
tls_dir=${GANDER_ROUTER_TLS_DIR:-/etc/gander/router-tls}
period=${GANDER_ROUTER_RESOLVE_SECONDS:-2}
template=${GANDER_ROUTER_TEMPLATE:-/etc/gander/router/nginx.conf.template}
runtime=${GANDER_ROUTER_RUNTIME_DIR:-/tmp/nginx}
# Where no worker is ready, a closed local port: nginx answers UNAVAILABLE.
no_worker=127.0.0.1:9

log() {
  printf '{"level":"%s","event":"%s","detail":"%s"}\n' "$1" "$2" "$3" >&2
}

# render OUT ADDR...: the template with every placeholder filled (the
# addresses may also come as one space-separated argument).
render() {
  out=$1
  shift
  awk -v runtime="$runtime" -v listen="$listen" -v health="$health_listen" \
    -v tls="$tls" -v tls_dir="$tls_dir" -v workers="$*" '
    /^[ \t]*#/ { print; next }
    {
      line = $0
      if (line ~ /^@@IF_TLS@@/) { if (tls != "on") next; sub(/^@@IF_TLS@@/, "", line) }
      if (line ~ /^@@IF_PLAINTEXT@@/) { if (tls == "on") next; sub(/^@@IF_PLAINTEXT@@/, "", line) }
      gsub(/@@RUNTIME_DIR@@/, runtime, line)
      gsub(/@@LISTEN@@/, listen, line)
      gsub(/@@HEALTH_LISTEN@@/, health, line)
      gsub(/@@TLS_DIR@@/, tls_dir, line)
      if (line ~ /@@WORKER@@/) {
        n = split(workers, addresses, " ")
        for (i = 1; i <= n; i++) { copy = line; gsub(/@@WORKER@@/, addresses[i], copy); print copy }
        next
      }
      if (line ~ /@@[A-Z_]+@@/) { print "unfilled placeholder: " line > "/dev/stderr"; failed = 1; exit 1 }
      print line
    }
    END { if (failed) exit 1 }' "$template" >"$out"
}

# The ready workers' HOST:PORT, sorted, one line; no_worker when none.
resolve_workers() {
  found=$(getent ahosts "$workers_host" 2>/dev/null |
    awk -v port="$worker_port" '{ if ($1 ~ /:/) print "[" $1 "]:" port; else print $1 ":" port }' |
    sort -u | tr '\n' ' ' | sed 's/ $//')
  if [ -z "$found" ]; then found=$no_worker; fi
  printf '%s' "$found"
}

check() {
  nginx -t -q -e stderr -p "$runtime" -c "$1"
}

case ${1:-run} in
  render)
    [ $# -ge 3 ] || { echo "usage: router.sh render OUT HOST:PORT..." >&2; exit 2; }
    out=$2
    shift 2
    render "$out" "$@"
    exit 0
    ;;
  run) ;;
  *)
    echo "usage: router.sh run | router.sh render OUT HOST:PORT..." >&2
    exit 2
    ;;
esac

if [ "$tls" = on ] && { [ ! -r "$tls_dir/tls.crt" ] || [ ! -r "$tls_dir/tls.key" ]; }; then
  log error tls_missing "GANDER_ROUTER_TLS=on but $tls_dir/tls.crt or tls.key is not readable"
  exit 1
fi
mkdir -p "$runtime"
current=$(resolve_workers)
render "$runtime/nginx.conf" "$current"
check "$runtime/nginx.conf" || exit 1
log info workers "$current"
nginx -e stderr -p "$runtime" -c "$runtime/nginx.conf" &
nginx_pid=$!
trap 'kill -QUIT "$nginx_pid" 2>/dev/null; wait "$nginx_pid"; exit 0' TERM INT

while kill -0 "$nginx_pid" 2>/dev/null; do
  sleep "$period" &
  wait $! || true
  next=$(resolve_workers)
  if [ "$next" != "$current" ]; then
    if render "$runtime/nginx.conf.next" "$next" && check "$runtime/nginx.conf.next"; then
      mv "$runtime/nginx.conf.next" "$runtime/nginx.conf"
      kill -HUP "$nginx_pid"
      current=$next
      log info workers "$current"
    else
      log error render_failed "kept the previous workers: $current"
    fi
  fi
done
wait "$nginx_pid"
