#!/usr/bin/env bash
# Packages peerdrop-signal as a .deb (scripts/server-deb.sh), installs it, checks its files and
# its systemd unit, then runs the *installed* server the way the unit does — its ExecStart, its
# EnvironmentFile, as an unprivileged user with no new privileges (systemd is not PID 1 here) —
# behind Debian's nginx using the packaged example site with a test certificate, and sends a
# file through it over wss:// with the CLI. Purges the package at the end.
# Usage: scripts/server-deb-check.sh [debug|release]   (default: debug, the suite's build)
# Needs root or sudo (dpkg). Loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."

profile="${1:-debug}"
sudo=""
[[ $(id -u) -eq 0 ]] || sudo="sudo"
need=()
command -v openssl >/dev/null || need+=(openssl)
command -v nginx >/dev/null || [[ -x /usr/sbin/nginx ]] || need+=(nginx-light)
command -v strip >/dev/null || need+=(binutils)
command -v setpriv >/dev/null || need+=(util-linux)
command -v curl >/dev/null || need+=(curl)
if ((${#need[@]})); then
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}"
fi
nginx_bin="$(command -v nginx || echo /usr/sbin/nginx)"

# shellcheck source=lib/workspace.sh
source scripts/lib/workspace.sh
target_dir="$(workspace_target_dir)"
if [[ ! -x "$target_dir/$profile/peerdrop-signal" || ! -x "$target_dir/$profile/peerdrop" ]]; then
  flag=()
  [[ "$profile" == release ]] && flag=(--release)
  cargo build --locked "${flag[@]}" -p peerdrop-signal -p peerdrop-cli
fi
peerdrop="$target_dir/$profile/peerdrop"

work="$(mktemp -d)"
chmod 0755 "$work"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  DEBIAN_FRONTEND=noninteractive $sudo dpkg --purge peerdrop-signal >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "server-deb-check: $*" >&2; exit 1; }

echo "==> building the peerdrop-signal .deb ($profile)" >&2
deb="$(scripts/server-deb.sh "$target_dir/$profile/peerdrop-signal" "$work")"
dpkg-deb --info "$deb" >&2
contents="$(dpkg-deb --contents "$deb" | awk '{print $6}')"
for path in ./usr/bin/peerdrop-signal ./lib/systemd/system/peerdrop-signal.service \
  ./etc/peerdrop/signal.env ./usr/share/doc/peerdrop-signal/examples/nginx-peerdrop.conf \
  ./usr/share/doc/peerdrop-signal/examples/turnserver.conf ./usr/share/doc/peerdrop-signal/copyright; do
  grep -qx "$path" <<<"$contents" || fail "the package lacks $path"
done

echo "==> installing it" >&2
DEBIAN_FRONTEND=noninteractive $sudo dpkg -i "$deb" >/dev/null
unit=/lib/systemd/system/peerdrop-signal.service
[[ "$(stat -c %a /etc/peerdrop/signal.env)" == 600 ]] || fail "signal.env must be readable by root only"
for setting in DynamicUser=yes NoNewPrivileges=yes ProtectSystem=strict ProtectHome=yes \
  "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX" CapabilityBoundingSet= PrivateDevices=yes \
  MemoryDenyWriteExecute=yes KillSignal=SIGTERM; do
  grep -qx "$setting" "$unit" || fail "the unit lacks $setting"
done
if command -v systemd-analyze >/dev/null; then
  echo "==> systemd-analyze verify" >&2
  systemd-analyze verify "$unit" || fail "systemd-analyze verify found problems in the unit"
else
  echo "(systemd-analyze not installed: unit syntax not verified)" >&2
fi

# What the unit would run, read from the installed unit (not repeated here).
exec_start="$(sed -n 's/^ExecStart=//p' "$unit")"
env_file="$(sed -n 's/^EnvironmentFile=//p' "$unit")"
[[ -x "${exec_start%% *}" ]] || fail "ExecStart $exec_start is not an installed program"
[[ -f "$env_file" ]] || fail "EnvironmentFile $env_file is missing"
signal_port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
tls_port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
# The operator's one edit for this host: the port (8787 may be taken on a shared machine).
$sudo sed -i "s/^PEERDROP_LISTEN=.*/PEERDROP_LISTEN=127.0.0.1:$signal_port/" "$env_file"

echo "==> starting the installed server as the unit does (unprivileged, no new privileges)" >&2
(
  set -a
  # shellcheck disable=SC1090 # the installed configuration file
  source "$env_file"
  set +a
  exec setpriv --reuid=nobody --regid=nogroup --clear-groups --no-new-privs $exec_start
) >"$work/signal.out" 2>"$work/signal.err" &
pids+=($!)
for _ in $(seq 100); do
  grep -q "^listening on 127.0.0.1:$signal_port" "$work/signal.out" 2>/dev/null && break
  sleep 0.1
done
grep -q "^listening on 127.0.0.1:$signal_port" "$work/signal.out" ||
  fail "the installed server did not start: $(cat "$work/signal.err")"

echo "==> nginx in front, with the packaged example site and a test certificate" >&2
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=PeerDrop test CA" \
  -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
  -keyout "$work/ca.key" -out "$work/ca.pem" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout "$work/server.key" \
  -out "$work/server.csr" 2>/dev/null
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' >"$work/ext"
openssl x509 -req -in "$work/server.csr" -CA "$work/ca.pem" -CAkey "$work/ca.key" \
  -CAcreateserial -days 2 -extfile "$work/ext" -out "$work/server.pem" 2>/dev/null
site=/usr/share/doc/peerdrop-signal/examples/nginx-peerdrop.conf
mkdir -p "$work/nginx/tmp" "$work/nginx/logs"
sed -e "s#listen 443 ssl;#listen 127.0.0.1:$tls_port ssl;#" -e '/listen \[::\]:443 ssl;/d' \
  -e "s#server_name .*;#server_name localhost;#" \
  -e "s#ssl_certificate .*;#ssl_certificate $work/server.pem;#" \
  -e "s#ssl_certificate_key .*;#ssl_certificate_key $work/server.key;#" \
  -e "s#proxy_pass http://127.0.0.1:8787;#proxy_pass http://127.0.0.1:$signal_port;#" \
  "$site" >"$work/nginx/site.conf"
grep -q "proxy_pass http://127.0.0.1:$signal_port;" "$work/nginx/site.conf" || fail "the example site changed shape: $site"
cat >"$work/nginx/nginx.conf" <<NGINX
pid $work/nginx/nginx.pid;
error_log $work/nginx/logs/error.log warn;
events {}
http {
    access_log off;
    client_body_temp_path $work/nginx/tmp;
    proxy_temp_path $work/nginx/tmp;
    include $work/nginx/site.conf;
}
NGINX
"$nginx_bin" -p "$work/nginx" -c "$work/nginx/nginx.conf" -g 'daemon off;' 2>"$work/nginx/stderr" &
pids+=($!)
for _ in $(seq 100); do
  curl -fsS --cacert "$work/ca.pem" "https://localhost:$tls_port/health" >/dev/null 2>&1 && break
  sleep 0.1
done
health="$(curl -fsS --cacert "$work/ca.pem" "https://localhost:$tls_port/health")" ||
  fail "nginx → server /health failed: $(cat "$work/nginx/stderr" "$work/nginx/logs/error.log" 2>/dev/null)"
echo "health through nginx: $health" >&2
[[ "$(curl -s -o /dev/null -w '%{http_code}' --cacert "$work/ca.pem" "https://localhost:$tls_port/metrics")" == 404 ]] ||
  fail "the example site must not expose /metrics"

echo "==> a transfer through the installed server over wss://" >&2
server="wss://localhost:$tls_port/ws"
mkdir -p "$work/in" "$work/out" "$work/home-rx" "$work/home-tx"
head -c 3000000 /dev/urandom >"$work/in/payload.bin"
export SSL_CERT_FILE="$work/ca.pem" PEERDROP_NO_LAN=1
PEERDROP_HOME="$work/home-rx" "$peerdrop" receive --server "$server" --yes --json \
  --name "deb receiver" --dir "$work/out" >"$work/rx.out" 2>"$work/rx.err" &
rx=$!
pids+=($rx)
code=""
for _ in $(seq 200); do
  code="$(sed -n 's/.*"event":"code","code":"\([^"]*\)".*/\1/p' "$work/rx.out" | head -n 1)"
  [[ -n "$code" ]] && break
  sleep 0.1
done
[[ -n "$code" ]] || fail "the receiver printed no code: $(cat "$work/rx.err")"
PEERDROP_HOME="$work/home-tx" timeout 120 "$peerdrop" send --server "$server" --to "$code" \
  --name "deb sender" "$work/in/payload.bin" 2>"$work/tx.err" ||
  fail "send through the installed server failed: $(cat "$work/tx.err")"
for _ in $(seq 100); do kill -0 "$rx" 2>/dev/null || break; sleep 0.1; done
wait "$rx" || fail "the receiver failed: $(cat "$work/rx.err")"
sent="$(sha256sum <"$work/in/payload.bin")"
got="$(sha256sum <"$work/out/payload.bin")"
[[ "$sent" == "$got" ]] || fail "the received file differs from the sent one"
echo "server .deb: installed, unit checked, 3 MB sent through nginx → installed server over wss, sha256 matches" >&2
