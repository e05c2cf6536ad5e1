# Sourced by the two-namespace tests (multicast_netns.sh, gso_netns.sh): two
# network namespaces of the script's own, $A and $B (names with its pid), a
# scratch directory $WORK, and $PIDS, the background processes it starts;
# all are removed on every exit path. Skips (77) when not root or when
# namespaces cannot be made. Usage: netns_pair PREFIX
netns_pair() {
    A=$1A.$$
    B=$1B.$$
    if [ "$(id -u)" != 0 ]; then echo "SKIP: needs root to make network namespaces"; exit 77; fi
    if ! ip netns add "$A" 2>/dev/null; then echo "SKIP: cannot make network namespaces"; exit 77; fi
    WORK=$(mktemp -d)
    PIDS=()
    trap netns_pair_cleanup EXIT
    ip netns add "$B" || exit 1
}

netns_pair_cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; done
    ip netns del "$A" 2>/dev/null
    ip netns del "$B" 2>/dev/null
    rm -rf "$WORK"
}
