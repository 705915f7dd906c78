#!/usr/bin/env bash
# The router's configuration as Kubernetes runs it: router.sh renders
# nginx.conf.template for a set of workers (IPv4 and IPv6), in cleartext and
# with TLS (a throw-away self-signed certificate), and `nginx -t` accepts
# both; the rendered upstream lists each worker once and hashes on the
# stream id; an unfilled placeholder makes rendering fail.
set -euo pipefail

nginx=/usr/sbin/nginx
for tool in "$nginx" /usr/bin/openssl; do
  if [[ ! -x $tool ]]; then
    echo "FAIL: $tool not found: install Debian's $(basename "$tool") (tools/setup.sh)" >&2
    exit 1
  fi
done
tmp=${TEST_TMPDIR:-$(mktemp -d)}
# Run as root, nginx would hand its temporary directories to the user nobody,
# which a sandbox may not know: check the files as the user that runs them.
as_user=()
if [[ $(id -u) -eq 0 ]]; then as_user=(-g "user root root;"); fi
script=deploy/k8s/base/router/router.sh
template=deploy/k8s/base/router/nginx.conf.template
mkdir -p "$tmp/run" "$tmp/tls"
/usr/bin/openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=gander-router \
  -keyout "$tmp/tls/tls.key" -out "$tmp/tls/tls.crt" 2>/dev/null

render() {
  GANDER_ROUTER_TEMPLATE=$template GANDER_ROUTER_RUNTIME_DIR=$tmp/run \
    GANDER_ROUTER_TLS_DIR=$tmp/tls GANDER_ROUTER_TLS=$1 \
    GANDER_ROUTER_LISTEN=127.0.0.1:50051 GANDER_ROUTER_HEALTH_LISTEN=127.0.0.1:8081 \
    /bin/sh "$script" render "$2" 10.1.2.3:50051 10.1.2.4:50051 '[fd00::5]:50051'
}

for tls in off on; do
  conf="$tmp/nginx-$tls.conf"
  render "$tls" "$conf"
  if grep -v '^[[:space:]]*#' "$conf" | grep -q '@@'; then
    echo "FAIL: unfilled placeholder in the $tls configuration:" >&2
    grep -n '@@' "$conf" >&2
    exit 1
  fi
  "$nginx" -t -q -e stderr -p "$tmp/run" -c "$conf" "${as_user[@]}"
  [[ $(grep -c '^ *server 10.1.2.3:50051 ' "$conf") -eq 1 ]]
  [[ $(grep -c '^ *server \[fd00::5\]:50051 ' "$conf") -eq 1 ]]
  # shellcheck disable=SC2016  # nginx variables, not shell ones
  grep -q 'hash $gander_route_key consistent;' "$conf"
  # shellcheck disable=SC2016
  grep -q 'map $http_x_gander_stream_id $gander_route_key' "$conf"
  if [[ $tls == on ]]; then
    grep -q 'listen 127.0.0.1:50051 ssl http2;' "$conf"
  else
    grep -q 'listen 127.0.0.1:50051 http2;' "$conf"
    if grep -q 'ssl_certificate' "$conf"; then
      echo "FAIL: TLS directives in the cleartext configuration" >&2
      exit 1
    fi
  fi
  echo "router configuration ($tls TLS): nginx -t accepts it"
done

# A placeholder the script does not know fails the render.
sed 's/^events {/@@UNKNOWN@@\nevents {/' \
  "$template" >"$tmp/bad.template"
if GANDER_ROUTER_TEMPLATE=$tmp/bad.template /bin/sh "$script" render "$tmp/bad.conf" \
  10.0.0.1:50051 2>"$tmp/bad.err"; then
  echo "FAIL: a template with an unknown placeholder rendered" >&2
  exit 1
fi
grep -q 'unfilled placeholder' "$tmp/bad.err"
echo "PASS"
