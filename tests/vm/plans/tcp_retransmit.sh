# shellcheck shell=sh
# tcp_retransmit plan: the tcp_retransmit probe on one kernel of the VM matrix. Lossy lo
# (netem), one client/server transfer per hook flavor, the agent's records against the
# kernel's own TcpRetransSegs.
#
# Checks, for HOOK in tp_btf and tracepoint (KSIGHT_TCP_HOOK=tracepoint forces the
# classic tracepoints, so the older context layouts are loaded and run too):
#   tcp.HOOK.attached   agent.status attached with that hook for tcp_retransmit_skb
#   tcp.HOOK.count      sum of tcp.retransmit segs == RetransSegs delta (> 0)
#   tcp.HOOK.owner      every record names the client or the server, source socket_owner
# and the cell tcp_retransmit/tcp.retransmit:HOOK of the probe table (segs seen/RetransSegs).
# Guest only: it changes lo's qdisc. Env: TCP_NETEM_LOSS (3%), TCP_BYTES (300000).
# vm-probe: every kernel (plans/agent.sh: agent.check.<probe> must be ok on each)
# Checks it reports, one per line (tests/vm/list-checks.sh registers them with ctest):
# vm-check: tcp.tp_btf.attached
# vm-check: tcp.tp_btf.count
# vm-check: tcp.tp_btf.owner
# vm-check: tcp.tracepoint.attached
# vm-check: tcp.tracepoint.count
# vm-check: tcp.tracepoint.owner
# shellcheck source=tests/vm/guest-lib.sh
. "${KSIGHT_LIB:?}"

tr_bin=$(ksight_find ksight)
tr_flow=$(ksight_find tcp_flow)
tr_tc=$(ksight_find tc)
tr_ip=$(ksight_find ip)
tr_bytes=${TCP_BYTES:-300000}
tr_d=/tmp/kstcp.$$
mkdir -p "$tr_d"

tr_skip_all() {
	for tr_h in tp_btf tracepoint; do
		for tr_c in attached count owner; do ksight_skip "tcp.$tr_h.$tr_c" "$1"; done
		ksight_table "tcp_retransmit/tcp.retransmit:$tr_h" "skip"
	done
	exit 0
}
[ "$KSIGHT_MODE" = guest ] || tr_skip_all "host mode: this plan changes lo's qdisc"
[ -n "$tr_bin" ] && [ -n "$tr_flow" ] || tr_skip_all "no ksight or tcp_flow in the payload"
[ -n "$tr_tc" ] && "$tr_tc" -V 2>&1 | grep -q iproute2 || tr_skip_all "no iproute2 tc"
ksight_have_module sch_netem || tr_skip_all "no sch_netem"
"$tr_tc" qdisc add dev lo root netem loss "${TCP_NETEM_LOSS:-3%}" || tr_skip_all "netem qdisc failed"
"$tr_ip" link set dev lo mtu 1500
"$tr_ip" link set dev lo gso_max_segs 1 2>/dev/null || ksight_info "tcp: cannot set gso_max_segs on lo"

tr_retrans() {
	awk '/^Tcp:/ { if (!h) { for (i = 1; i <= NF; i++) if ($i == "RetransSegs") c = i; h = 1 } else print $c }' /proc/net/snmp
}

for tr_h in tp_btf tracepoint; do
	tr_out=$tr_d/$tr_h.jsonl
	KSIGHT_TCP_HOOK=$tr_h "$tr_bin" run --config /dev/null --probes tcp_retransmit --output "$tr_out" \
		--interval 1s 2>"$tr_d/$tr_h.err" &
	tr_ap=$!
	tr_up() { ksight_has "$tr_out" '"state":"running"' || ksight_gone "$tr_ap"; }
	ksight_wait_until 30 tr_up || ksight_info "tcp: agent ($tr_h) not running after 30s"
	tr_used=$(grep '"state":"attached"' "$tr_out" 2>/dev/null | sed -n 's/.*"tcp_retransmit_skb":"\([a-z_]*\)".*/\1/p')
	if [ "$tr_used" = "$tr_h" ]; then
		ksight_pass "tcp.$tr_h.attached" "$(grep '"state":"attached"' "$tr_out" | sed -n 's/.*"reason":"\([^"]*\)".*/\1/p')"
	else
		ksight_fail "tcp.$tr_h.attached" "hook '$tr_used': $(grep -h 'tcp_retransmit' "$tr_out" "$tr_d/$tr_h.err" | tail -c 250)"
		kill -INT $tr_ap 2>/dev/null
		wait $tr_ap
		ksight_skip "tcp.$tr_h.count" "not attached"
		ksight_skip "tcp.$tr_h.owner" "not attached"
		continue
	fi
	tr_a=$(tr_retrans)
	"$tr_flow" server -a 127.0.0.1 -p 5001 -R "$tr_bytes" >"$tr_d/srv.out" 2>&1 &
	tr_sp=$!
	ksight_wait_until 10 ksight_listening 5001 || ksight_info "tcp: no listener on 5001 after 10s"
	ksight_timeout 90 "$tr_flow" client -a 127.0.0.1 -p 5001 -n "$tr_bytes" >"$tr_d/cli.out" 2>&1
	tr_crc=$?
	wait $tr_sp
	# Both ends exited, but a lost FIN or last ACK is re-sent by the kernel after
	# that: wait until neither end of the flow (port 5001 = 0x1389 on either side) is
	# left in any state but TIME_WAIT (st 06), then count.
	tr_closed() {
		! awk 'NR > 1 && ($2 ~ /:1389$/ || $3 ~ /:1389$/) && $4 != "06" { f = 1 } END { exit !f }' /proc/net/tcp
	}
	ksight_wait_until 10 tr_closed || ksight_info "tcp: port 5001 still busy after 10s"
	tr_b=$(tr_retrans)
	# No wait before the stop: on SIGINT the agent detaches, drains its rings and flushes.
	kill -INT $tr_ap
	wait $tr_ap
	tr_delta=$((tr_b - tr_a))
	tr_recs=$(grep -c '"type":"tcp.retransmit"' "$tr_out")
	tr_segs=$(grep '"type":"tcp.retransmit"' "$tr_out" | sed -n 's/.*"segs":\([0-9]*\).*/\1/p' | awk '{ s += $1 } END { print s + 0 }')
	tr_kinds=$(grep '"type":"tcp.retransmit"' "$tr_out" | sed -n 's/.*"kind":"\([a-z]*\)".*/\1/p' | sort | uniq -c | awk '{ printf "%s%s=%s", s, $2, $1; s = " " }')
	tr_detail="client_rc=$tr_crc RetransSegs=$tr_delta records=$tr_recs segs=$tr_segs kinds: $tr_kinds"
	ksight_table "tcp_retransmit/tcp.retransmit:$tr_h" "$tr_segs/$tr_delta"
	if [ "$tr_crc" = 0 ] && [ "$tr_delta" -gt 0 ] && [ "$tr_segs" = "$tr_delta" ]; then
		ksight_pass "tcp.$tr_h.count" "$tr_detail"
	else
		ksight_fail "tcp.$tr_h.count" "$tr_detail"
	fi
	tr_spid=$(sed -n 's/^listening pid=\([0-9]*\).*/\1/p' "$tr_d/srv.out")
	tr_cpid=$(sed -n 's/^connected pid=\([0-9]*\).*/\1/p' "$tr_d/cli.out")
	tr_bad=$(grep '"type":"tcp.retransmit"' "$tr_out" |
		grep -v -e "\"pid\":$tr_spid,[^}]*\"source\":\"socket_owner\"" -e "\"pid\":$tr_cpid,[^}]*\"source\":\"socket_owner\"" |
		head -n1 | cut -c1-200)
	if [ -z "$tr_bad" ] && [ "$tr_recs" -gt 0 ]; then
		ksight_pass "tcp.$tr_h.owner" "server=$tr_spid client=$tr_cpid"
	else
		ksight_fail "tcp.$tr_h.owner" "server=$tr_spid client=$tr_cpid first other: $tr_bad"
	fi
done
"$tr_tc" qdisc del dev lo root 2>/dev/null
exit 0
