#!/bin/bash
# UDP GSO across a real link, and its fallback: two network namespaces of
# this script's own joined by a veth pair (MTU 1500). With tx checksum
# offload on, a bulk send goes by GSO (where this kernel and veth take it).
# With it off, kernels before 6.11 refuse GSO sends with EIO (a device that
# cannot checksum the segments): dg_port_write_segments() must still deliver
# every datagram, in order and intact (the receiver in the other namespace
# checks each), stop trying GSO on that port, and say so in the log; later
# kernels checksum in software and keep GSO, which must work as well.
# Segments larger than the MTU must arrive too (fragmented), GSO or not.
# IPv4 and IPv6. The EIO path itself is also tested, on any kernel, by
# tests/test_gso.c with an injected refusal.
set -u
BUILD=${DGRAM_BUILD:?DGRAM_BUILD not set}
DRIVER=$BUILD/tests/ns_gso
WRAP=${DGRAM_WRAP:-}
. "$(dirname "$0")/tool_lib/netns_pair.sh"
N=150
SEG=1200
command -v ethtool >/dev/null || { echo "SKIP: no ethtool (Debian package ethtool)"; exit 77; }
netns_pair dggso
[ -x "$DRIVER" ] || { echo "FAIL: $DRIVER not built"; exit 1; }
ip link add vA netns "$A" type veth peer name vB netns "$B" || exit 1
setup() { # ns dev v4 v6
    ip netns exec "$1" sh -e -c "
        ip link set lo up
        ip addr add $3/24 dev $2
        ip -6 addr add $4/64 dev $2 nodad
        ip link set $2 up"
}
setup "$A" vA 10.98.0.1 fd00:98::1 || exit 1
setup "$B" vB 10.98.0.2 fd00:98::2 || exit 1

fail() { echo "FAIL: $*"; for f in "$WORK"/*.out; do echo "--- $f"; cat "$f"; done; exit 1; }

wait_for() { # FILE TEXT: until a line starts with TEXT, at most 20 s
    for _ in $(seq 200); do grep -q -- "^$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
    fail "timed out waiting for '$2' in $(basename "$1")"
}

# run NAME ADDR PORT [--no-gso]: a receiver in B, one bulk send from A of N
# datagrams of SEG bytes; both must succeed. The sender's output is in
# $WORK/NAME.send.out.
run() {
    local name=$1 addr=$2 port=$3; shift 3
    ip netns exec "$B" $WRAP "$DRIVER" recv "$addr" "$port" $N $SEG > "$WORK/$name.recv.out" 2>&1 &
    local rpid=$!
    PIDS+=($rpid)
    wait_for "$WORK/$name.recv.out" ready
    ip netns exec "$A" $WRAP "$DRIVER" send "$addr" "$port" $N $SEG "$@" \
        > "$WORK/$name.send.out" 2>&1 || fail "$name: send failed: $(grep '^sent' "$WORK/$name.send.out")"
    wait "$rpid" || fail "$name: receiver exited with $?"
    grep -q "^ok $N\$" "$WORK/$name.recv.out" || fail "$name: receiver did not get all $N"
}
field() { sed -n "s/^sent .* $2 \([0-9-]*\).*/\1/p" "$WORK/$1.send.out"; }

# Positive control: offload on, GSO carries the datagrams (if veth takes it).
ip netns exec "$A" ethtool -K vA tx on >/dev/null 2>&1
run on4 10.98.0.2 7100
if [ "$(field on4 gso)" = 1 ] && [ "$(field on4 gso_sends)" -gt 0 ]; then
    control=1
    run on6 fd00:98::2 7101
    [ "$(field on6 gso)" = 1 ] && [ "$(field on6 gso_sends)" -gt 0 ] || fail "on6: GSO not used"
    echo "ok: offload on: GSO sends, every datagram arrives (IPv4, IPv6)"
else
    control=0
    echo "note: GSO not used across veth with offload on here: $(grep '^sent' "$WORK/on4.send.out")"
fi
grep -q "GSO refused" "$WORK"/on*.send.out && fail "GSO refused with offload on"

# Segments over the MTU: fragmented, every one delivered, GSO on or off.
SEG=2000 N=40 run mtu4 10.98.0.2 7102
SEG=2000 N=40 run mtu6 fd00:98::2 7103
SEG=2000 N=40 run mtu4off 10.98.0.2 7104 --no-gso
echo "ok: segments over the MTU arrive (IPv4, IPv6)"

# Offload off: EIO, the fallback, the log line; every datagram still arrives.
ip netns exec "$A" ethtool -K vA tx off >/dev/null || fail "ethtool -K vA tx off"
refused=0
for fam in 4 6; do
    addr=10.98.0.2; [ $fam = 6 ] && addr=fd00:98::2
    run off$fam "$addr" 711$fam
    grep -q "^gso before 1" "$WORK/off$fam.send.out" || {
        echo "note: no UDP GSO in this kernel: only the sendmmsg path was checked"; continue; }
    if [ "$(field off$fam gso)" = 1 ]; then
        # Linux 6.11 on: segments checksummed in software, no EIO.
        grep -q "GSO refused" "$WORK/off$fam.send.out" && fail "off$fam: refusal logged, GSO kept"
        [ "$(field off$fam gso_sends)" -gt 0 ] || fail "off$fam: GSO kept but not used"
        continue
    fi
    refused=$((refused + 1))
    [ "$(field off$fam gso_sends)" = 0 ] || fail "off$fam: a GSO send counted"
    grep -q "^log: (UDP Port [0-9]*) GSO refused by the device; using sendmmsg\$" \
        "$WORK/off$fam.send.out" || fail "off$fam: no 'GSO refused by the device' log line"
    [ "$(grep -c 'GSO refused' "$WORK/off$fam.send.out")" = 1 ] || fail "off$fam: logged more than once"
done
if [ $refused = 0 ]; then
    echo "ok: offload off: this kernel keeps GSO (software checksums); every datagram arrives"
else
    echo "ok: offload off: GSO refused, logged once, sendmmsg delivers every datagram (IPv4, IPv6)"
fi

# Turned off by the user: nothing to refuse, nothing logged.
ip netns exec "$A" ethtool -K vA tx on >/dev/null
run user4 10.98.0.2 7105 --no-gso
[ "$(field user4 gso_sends)" = 0 ] || fail "user4: GSO used while off"
grep -q "GSO refused" "$WORK/user4.send.out" && fail "user4: refusal logged while off"
echo "ok: GSO off by dg_port_set_gso(): sendmmsg only"
echo "$((3 + control)) passed, 0 failed"
