#!/usr/bin/env bash
# Issue 3 against real resolvers, in a network namespace made here: names from
# its own /etc/hosts (IPv4-only, IPv6-only, both), a real DNS server (dnsmasq)
# with a test zone, and a server that never answers. Runs tests/ns_resolve.c
# inside it, once per resolv.conf; everything started is stopped by pid.
set -u
build=${DGRAM_BUILD:?} wrap=${DGRAM_WRAP:-}
bin=$build/tests/ns_resolve
[ "$(id -u)" = 0 ] || { echo "SKIP: resolve_netns needs root (ip netns)"; exit 77; }
[ -x /usr/sbin/dnsmasq ] || { echo "SKIP: /usr/sbin/dnsmasq missing (Debian package dnsmasq-base)"; exit 77; }
[ -x "$bin" ] || { echo "FAIL: $bin not built"; exit 1; }

ns=dgtest-$$
etc=/etc/netns/$ns
tmp=$(mktemp -d)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do
        kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    done
    ip netns del "$ns" 2>/dev/null
    rm -rf "$etc" "$tmp"
}
trap cleanup EXIT
ip netns add "$ns" 2>"$tmp/err" || { echo "SKIP: ip netns add failed: $(cat "$tmp/err")"; exit 77; }
in_ns() { ip netns exec "$ns" "$@"; }
in_ns ip link set lo up || { echo "FAIL: lo up in $ns"; exit 1; }

# ip netns exec bind-mounts these over /etc/hosts and /etc/resolv.conf.
mkdir -p "$etc"
cat > "$etc/hosts" <<'HOSTS'
127.0.0.1 localhost
::1 v6only.dgram.test
127.0.0.1 v4only.dgram.test
127.0.0.1 both.dgram.test
::1 both.dgram.test
HOSTS
printf 'nameserver 127.0.0.1\noptions timeout:1 attempts:1\n' > "$etc/resolv.conf"

# The zone: ok.dgram.test (and below it) is 127.0.0.1, ok6.dgram.test ::1,
# every other name under dgram.test NXDOMAIN. Nothing is forwarded.
# Started with ip netns exec itself (which execs), not in_ns, so that $! is
# the server's own pid.
ip netns exec "$ns" /usr/sbin/dnsmasq --conf-file=/dev/null --no-resolv --no-hosts --no-dhcp-interface=lo \
    --address=/ok.dgram.test/127.0.0.1 --address=/ok6.dgram.test/::1 --address=/dgram.test/ \
    --listen-address=127.0.0.1 --bind-interfaces --port=53 --user=root \
    --keep-in-foreground --pid-file="$tmp/dnsmasq.pid" --log-facility="$tmp/dnsmasq.log" &
pids+=($!)
# A server that reads queries and never answers.
ip netns exec "$ns" /usr/bin/python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.2", 53))
print("ready", flush=True)
while True:
    s.recv(512)
' > "$tmp/sink" &
pids+=($!)

ready=
for _ in $(seq 100); do   # at most ~10 s
    if grep -q ready "$tmp/sink" && in_ns getent ahosts ok.dgram.test >/dev/null; then
        ready=1
        break
    fi
    sleep 0.1
done
[ -n "$ready" ] || { echo "FAIL: dnsmasq or the silent server did not come up"; cat "$tmp/dnsmasq.log"; exit 1; }

status=0
echo "== resolv.conf -> dnsmasq on 127.0.0.1"
# shellcheck disable=SC2086
in_ns $wrap "$bin" dns || status=1
printf 'nameserver 127.0.0.2\noptions timeout:2 attempts:1\n' > "$etc/resolv.conf"
echo "== resolv.conf -> a server that never answers, on 127.0.0.2"
# shellcheck disable=SC2086
in_ns $wrap "$bin" hang || status=1
exit $status
