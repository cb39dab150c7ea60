#!/usr/bin/env bash
# measure_cost.sh - what the tcp_retransmit probe's BPF programs cost per
# call, from the kernel's own bpf_stats (run_time_ns / run_cnt).
#
#   tests/bpf/tcp/measure_cost.sh [BUILD_DIR] [RUNS] [DROP_EVERY]
#
# Root. Builds a private network namespace (lo, MTU 1500, TSO/GSO off, an nft
# input rule dropping every DROP_EVERY-th data segment to the test port),
# starts the agent with only this probe, runs RUNS client/server transfers of
# 4 MB pinned to one CPU, and prints per program: calls, total ns, ns per
# call, next to the namespace's TcpRetransSegs. kernel.bpf_stats_enabled is
# restored and the namespace removed on exit, whatever happens. Counts cover the
# whole host while the agent runs (set_state fires for every TCP state change).
set -euo pipefail

build=${1:-build}
runs=${2:-20}
every=${3:-50}
port=5009
ns=kstcp_cost_$$
out=$(mktemp /tmp/ksight_cost.XXXXXX.jsonl)
agent=""
old_stats=$(sysctl -n kernel.bpf_stats_enabled)

cleanup() {
	[[ -n $agent ]] && kill -INT "$agent" 2>/dev/null && wait "$agent" 2>/dev/null || true
	sysctl -qw kernel.bpf_stats_enabled="$old_stats"
	ip netns del "$ns" 2>/dev/null || true
	rm -f "$out"
}
trap cleanup EXIT

[[ $(id -u) == 0 ]] || { echo "measure_cost.sh: needs root" >&2; exit 1; }
ksight=$build/ksight
flow=$build/triggers/tcp_flow
[[ -x $ksight && -x $flow ]] || { echo "measure_cost.sh: build first (make BUILD=$build)" >&2; exit 1; }

X() { nsenter --net="/run/netns/$ns" "$@"; }
ip netns add "$ns"
X sh -c 'ip link set lo mtu 1500 && ip link set lo up && ethtool -K lo tso off gso off' >/dev/null
X nft add table inet ksight_cost
X nft add chain inet ksight_cost input '{ type filter hook input priority 0; }'
X nft add rule inet ksight_cost input tcp dport $port tcp flags \& \(syn\|rst\) == 0 \
	meta length \> 52 numgen inc mod "$every" == 0 counter drop

sysctl -qw kernel.bpf_stats_enabled=1
"$ksight" run --config /dev/null --probes tcp_retransmit --output "$out" --interval 1s 2>/dev/null &
agent=$!
# wait_until SECS CMD...: poll CMD every 0.1 s (the poll period), fail after SECS.
wait_until() {
	local n=$(($1 * 10))
	shift
	until "$@"; do
		((n-- > 0)) || return 1
		sleep 0.1
	done
}
wait_until 30 grep -q '"state":"running"' "$out" ||
	{ echo "measure_cost.sh: the agent did not start in 30s" >&2; kill "$agent"; exit 1; }
listening() { X awk -v p="$(printf ':%04X' "$port")" '$4 == "0A" && substr($2, length($2) - 4) == p { f = 1 } END { exit !f }' /proc/net/tcp; }

before=$(X nstat -asz TcpRetransSegs | awk '/TcpRetransSegs/ { print $2 }')
cpu=$(taskset -pc $$ | sed 's/.*: *//; s/[-,].*//')
start=$(date +%s.%N)
for _ in $(seq "$runs"); do
	X taskset -c "$cpu" "$flow" server -a 127.0.0.1 -p $port -R 4000000 >/dev/null &
	srv=$!
	wait_until 10 listening || { echo "measure_cost.sh: no listener on $port" >&2; exit 1; }
	X taskset -c "$cpu" "$flow" client -a 127.0.0.1 -p $port -n 4000000 >/dev/null
	wait "$srv"
done
end=$(date +%s.%N)
after=$(X nstat -asz TcpRetransSegs | awk '/TcpRetransSegs/ { print $2 }')
drops=$(X nft list table inet ksight_cost | sed -n 's/.*counter packets \([0-9]*\).*/\1/p')

echo "transfers=$runs bytes_each=4000000 wall_s=$(echo "$end - $start" | bc) nft_drops=$drops" \
	"TcpRetransSegs=$((after - before))"
printf '%-16s %-12s %12s %14s %10s\n' PROGRAM TYPE CALLS RUN_TIME_NS NS/CALL
# The agent's own programs: its BPF prog fds (fdinfo has prog_id, run_time_ns, run_cnt).
for fd in /proc/"$agent"/fdinfo/*; do
	id=$(awk '$1 == "prog_id:" { print $2 }' "$fd")
	[[ -n $id ]] || continue
	cnt=$(awk '$1 == "run_cnt:" { print $2 }' "$fd")
	ns_=$(awk '$1 == "run_time_ns:" { print $2 }' "$fd")
	[[ -n $cnt ]] || continue # a link's fd: no stats
	read -r name type < <(bpftool -j prog show id "$id" | python3 -c \
		'import json, sys; p = json.load(sys.stdin); print(p.get("name", "?"), p.get("type", "?"))')
	per=0
	((cnt > 0)) && per=$((ns_ / cnt))
	printf '%-16s %-12s %12d %14d %10d\n' "$name" "$type" "$cnt" "$ns_" "$per"
done | sort -u
