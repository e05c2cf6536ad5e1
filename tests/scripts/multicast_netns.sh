#!/bin/bash
# Multicast and broadcast across a real link: two network namespaces of this
# script's own, joined by a veth pair, with private addresses that exist only
# inside them. A sender in one reaches members in the other (IPv4 and IPv6);
# after a leave nothing more arrives; with TTL 0 nothing leaves a host that
# is itself a member (Linux drops TTL 0 only on that path, in ip_mc_output;
# with no local member it goes on the wire, where only routers decrement it);
# broadcast crosses only when allowed. "Did not arrive" is proved by a
# unicast marker sent afterwards arriving first.
set -u
BUILD=${DGRAM_BUILD:?DGRAM_BUILD not set}
DRIVER=$BUILD/tests/ns_multicast
WRAP=${DGRAM_WRAP:-}
. "$(dirname "$0")/tool_lib/netns_pair.sh"
netns_pair dgmc
[ -x "$DRIVER" ] || { echo "FAIL: $DRIVER not built"; exit 1; }
inA() { ip netns exec "$A" "$@"; }
inB() { ip netns exec "$B" "$@"; }
ip link add vA netns "$A" type veth peer name vB netns "$B" || exit 1
setup() { # ns dev v4 v6
    ip netns exec "$1" sh -e -c "
        ip link set lo up
        echo 0 > /proc/sys/net/ipv6/conf/$2/accept_dad
        ip addr add $3/24 broadcast + dev $2
        ip -6 addr add $4/64 dev $2 nodad
        ip link set $2 up
        ip route add 224.0.0.0/4 dev $2"
}
setup "$A" vA 10.99.0.1 fd00:99::1 || exit 1
setup "$B" vB 10.99.0.2 fd00:99::2 || exit 1

fail() { echo "FAIL: $*"; for f in "$WORK"/*.out; do echo "--- $f"; cat "$f"; done; exit 1; }

# wait_for FILE TEXT: until a line starts with TEXT, at most 20 s.
wait_for() {
    for _ in $(seq 200); do grep -q -- "^$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
    fail "timed out waiting for '$2' in $(basename "$1")"
}

# member NAME NS GROUP PORT [IFACE]: a driver in NS, as a background job.
member() {
    local name=$1 ns=$2; shift 2
    ip netns exec "$ns" $WRAP "$DRIVER" recv "$@" > "$WORK/$name.out" 2>&1 &
    PIDS+=($!)
    eval "${name}_pid=$!"
    wait_for "$WORK/$name.out" ready
}

# send ARGS...: from A; its output is in $WORK/send.out, its status returned.
# Only the first send of each kind runs under $WRAP (valgrind), to stay fast.
send() { inA "$DRIVER" send "$@" > "$WORK/send.out" 2>&1; }
wsend() { inA $WRAP "$DRIVER" send "$@" > "$WORK/send.out" 2>&1; }

# sees NAME TEXT SRC: the member printed TEXT from an address of SRC.
has() { grep -q -- "^$2 from $3" "$WORK/$1.out"; }

check_family() { # name group port ifA ifB src-pattern B's-address A's-address
    local n=$1 g=$2 port=$3 ifA=$4 ifB=$5 src=$6 uni=$7 srcA=$8
    member "$n" "$B" "$g" "$port" "$ifB"
    member "${n}local" "$A" "$g" "$port" "$ifA"
    wsend "$g" "$port" hello --iface "$ifA" --bind "$srcA" || fail "$n: send: $(cat "$WORK/send.out")"
    wait_for "$WORK/$n.out" hello
    has "$n" hello "$src" || fail "$n: hello not from $src"

    # TTL 0: the datagram stays on A (its member gets it), so the later one
    # arrives alone in B.
    wsend "$g" "$port" ttl-zero --iface "$ifA" --bind "$srcA" --ttl 0 || fail "$n: ttl 0 send failed"
    send "$g" "$port" after-ttl-zero --iface "$ifA" --bind "$srcA" || fail "$n: send failed"
    wait_for "$WORK/$n.out" after-ttl-zero
    wait_for "$WORK/${n}local.out" ttl-zero
    has "$n" after-ttl-zero "$src" || fail "$n: after-ttl-zero never arrived"
    has "$n" ttl-zero "$src" && fail "$n: a TTL 0 datagram crossed the link"

    # After the leave, group datagrams stop; the unicast marker still comes.
    send "$g" "$port" leave --iface "$ifA" --bind "$srcA" || fail "$n: send failed"
    wait_for "$WORK/$n.out" left
    send "$g" "$port" late --iface "$ifA" --bind "$srcA" || fail "$n: send failed"
    send "$uni" "$port" marker --bind "$srcA" || fail "$n: marker send failed"
    wait_for "$WORK/$n.out" marker
    has "$n" marker "$src" || fail "$n: marker never arrived"
    has "$n" late "$src" && fail "$n: a datagram arrived after the leave"
    send "$uni" "$port" stop || fail "$n: stop send failed"
    send "$srcA" "$port" stop || fail "$n: stop send failed"
    local pid_var=${n}_pid local_var=${n}local_pid
    wait "${!pid_var}" || fail "$n: member exited with $?"
    wait "${!local_var}" || fail "$n: A's member exited with $?"
    echo "ok: $n"
}

check_family v4 225.0.0.77 7000 vA vB 10.99.0.1 10.99.0.2 10.99.0.1
check_family v6 ff12::77 7002 vA vB "\[fd00:99::1\]" fd00:99::2 fd00:99::1

# Broadcast: -EACCES until allowed, then it crosses the link.
member bcast "$B" - 7001
wsend 10.99.0.255 7001 subnet --bind 10.99.0.1
[ $? = 13 ] || fail "subnet broadcast without permission: $(cat "$WORK/send.out")"
grep -q "Permission denied" "$WORK/send.out" || fail "no EACCES text: $(cat "$WORK/send.out")"
send "<broadcast>" 7001 all --bind 10.99.0.1
[ $? = 13 ] || fail "<broadcast> without permission: $(cat "$WORK/send.out")"
wsend 10.99.0.255 7001 subnet --bind 10.99.0.1 --broadcast || fail "subnet broadcast: $(cat "$WORK/send.out")"
send "<broadcast>" 7001 all --bind 10.99.0.1 --broadcast || fail "<broadcast>: $(cat "$WORK/send.out")"
wait_for "$WORK/bcast.out" "all from"
has bcast subnet 10.99.0.1 || fail "subnet broadcast did not cross"
has bcast all 10.99.0.1 || fail "<broadcast> did not cross"
send 10.99.0.2 7001 stop || fail "stop send failed"
wait "$bcast_pid" || fail "broadcast member exited with $?"
echo "ok: broadcast"
echo "3 passed, 0 failed"
