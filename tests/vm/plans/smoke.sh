# shellcheck shell=sh
# Smoke plan: what the guest kernel offers, without the agent. Sourced by the payload's
# plan.sh (guest) or run by run-matrix.sh on the host; prints KSIGHT-RESULT lines.
#
# Checks:
#   smoke.uname              kernel release
#   smoke.tracefs            tracefs mounted with events/
#   smoke.tp.<event>         the tracepoints the probes hook exist in this kernel
#   smoke.vgem_fence         the trigger ran its rounds (needs vgem)
#   smoke.dma_fence.<event>  tracefs saw >= N init/signaled/wait_start/wait_end events
#                            with driver=vgem (a tracefs instance, so nothing global moves)
#   smoke.netem.qdisc        `tc qdisc add dev lo root netem loss` works (needs sch_netem
#                            and iproute2's tc/ip in the payload; guest only unless
#                            KSIGHT_HOST_NETEM=1, as it changes lo's qdisc)
#   smoke.netem.retransmits  a TCP transfer over lossy lo arrives whole, gives
#                            TcpRetransSegs > 0 and as many tcp_retransmit_skb +
#                            tcp_retransmit_synack events (gso_max_segs 1 on lo, so one
#                            event is one segment)
# Env: VGEM_FENCES (default 5), NETEM_LOSS (default 5%), NETEM_BYTES (default 400000).
# Checks it reports, one per line (tests/vm/list-checks.sh registers them with ctest):
# vm-check: smoke.uname
# vm-check: smoke.tracefs
# vm-check: smoke.tp.raw_syscalls.sys_enter
# vm-check: smoke.tp.raw_syscalls.sys_exit
# vm-check: smoke.tp.tcp.tcp_retransmit_skb
# vm-check: smoke.tp.tcp.tcp_retransmit_synack
# vm-check: smoke.tp.dma_fence.dma_fence_init
# vm-check: smoke.tp.dma_fence.dma_fence_signaled
# vm-check: smoke.tp.dma_fence.dma_fence_wait_start
# vm-check: smoke.tp.dma_fence.dma_fence_wait_end
# vm-check: smoke.tp.gpu_scheduler.drm_sched_job
# vm-check: smoke.tp.gpu_scheduler.drm_run_job
# vm-check: smoke.tp.gpu_scheduler.drm_sched_job_queue
# vm-check: smoke.tp.gpu_scheduler.drm_sched_job_run
# vm-check: smoke.vgem_fence
# vm-check: smoke.dma_fence.init
# vm-check: smoke.dma_fence.signaled
# vm-check: smoke.dma_fence.wait_start
# vm-check: smoke.dma_fence.wait_end
# vm-check: smoke.netem.qdisc
# vm-check: smoke.netem.retransmits
# shellcheck source=tests/vm/guest-lib.sh
. "${KSIGHT_LIB:?}"

smoke_n=${VGEM_FENCES:-5}

ksight_pass smoke.uname "$(uname -r) mode=$KSIGHT_MODE"

smoke_t=$(ksight_tracefs)
if [ -n "$smoke_t" ]; then
	ksight_pass smoke.tracefs "$smoke_t"
else
	ksight_fail smoke.tracefs "no tracefs with events/ at /sys/kernel/tracing or /sys/kernel/debug/tracing"
fi

# Tracepoints the probes use; their absence is information, not a failure of the kernel,
# so a missing one is a skip (the agent must then report the probe disabled).
for smoke_tp in raw_syscalls/sys_enter raw_syscalls/sys_exit tcp/tcp_retransmit_skb \
	tcp/tcp_retransmit_synack dma_fence/dma_fence_init dma_fence/dma_fence_signaled \
	dma_fence/dma_fence_wait_start dma_fence/dma_fence_wait_end gpu_scheduler/drm_sched_job \
	gpu_scheduler/drm_run_job gpu_scheduler/drm_sched_job_queue gpu_scheduler/drm_sched_job_run; do
	smoke_name=smoke.tp.$(echo "$smoke_tp" | tr '/' '.')
	if [ -z "$smoke_t" ]; then
		ksight_skip "$smoke_name" "no tracefs"
	elif [ -d "$smoke_t/events/$smoke_tp" ]; then
		ksight_pass "$smoke_name" "present"
	else
		ksight_skip "$smoke_name" "absent in $(uname -r)"
	fi
done

smoke_bin=$(ksight_find vgem_fence)
smoke_events="dma_fence_init dma_fence_signaled dma_fence_wait_start dma_fence_wait_end"
smoke_why=""
if [ -z "$smoke_bin" ]; then
	smoke_why="vgem_fence not in the payload"
elif ! ksight_have_module vgem; then
	smoke_why="no vgem module in this kernel"
elif ! ls /dev/dri/card* >/dev/null 2>&1; then
	smoke_why="vgem loaded but no /dev/dri/card*"
elif [ -z "$smoke_t" ] || [ ! -d "$smoke_t/events/dma_fence" ]; then
	smoke_why="no dma_fence tracepoints"
fi

if [ -n "$smoke_why" ]; then
	ksight_skip smoke.vgem_fence "$smoke_why"
	for smoke_e in $smoke_events; do
		ksight_skip "smoke.dma_fence.${smoke_e#dma_fence_}" "$smoke_why"
	done
else
	# A private tracefs instance: its own buffer and event switches.
	smoke_i=$smoke_t/instances/ksight-smoke-$$
	if ! mkdir "$smoke_i" 2>/tmp/smoke.err; then
		smoke_i=$smoke_t
		ksight_info "smoke: no tracefs instance ($(cat /tmp/smoke.err)), using the top buffer"
		: >"$smoke_i/trace"
	fi
	echo 2048 >"$smoke_i/buffer_size_kb" 2>/dev/null
	for smoke_e in $smoke_events; do
		echo 1 >"$smoke_i/events/dma_fence/$smoke_e/enable" 2>/dev/null ||
			ksight_info "smoke: cannot enable $smoke_e"
	done
	echo 1 >"$smoke_i/tracing_on"
	smoke_out=$(ksight_timeout 60 "$smoke_bin" "$smoke_n" 2>/tmp/smoke.err)
	smoke_rc=$?
	echo 0 >"$smoke_i/tracing_on"
	if [ "$smoke_rc" = 0 ] && [ "$smoke_out" = "fences=$smoke_n" ]; then
		ksight_pass smoke.vgem_fence "$smoke_out"
	else
		ksight_fail smoke.vgem_fence "rc=$smoke_rc out=$smoke_out err=$(head -c 200 /tmp/smoke.err)"
	fi
	cat "$smoke_i/trace" >/tmp/smoke.trace 2>/dev/null
	# A vgem fence is one whose dma_fence_init says driver=vgem; later events are
	# matched by context+seqno too, because since 6.17 a signaled fence prints
	# driver=detached-driver timeline=signaled-timeline (dma_fence_driver_name()),
	# which is what dma_fence_wait_end shows on 7.x.
	for smoke_e in $smoke_events; do
		smoke_c=$(awk -v ev="$smoke_e:" '
			function key(   i, c, s) {
				for (i = 1; i <= NF; i++) {
					if ($i ~ /^context=/) c = $i
					if ($i ~ /^seqno=/) s = $i
				}
				return c " " s
			}
			$0 ~ / dma_fence_init: .*driver=vgem / { vgem[key()] = 1 }
			index($0, " " ev " ") {
				all++
				if ($0 ~ /driver=vgem /) { n++; next }
				if (key() in vgem) { n++; detached++ }
			}
			END { printf "%d %d %d\n", n, all, detached }' /tmp/smoke.trace)
		# shellcheck disable=SC2086 # three numbers to split
		set -- $smoke_c
		smoke_d=""
		[ "$3" -gt 0 ] && smoke_d=" ($3 by context+seqno: driver name detached once signaled)"
		if [ "$1" -ge "$smoke_n" ]; then
			ksight_pass "smoke.dma_fence.${smoke_e#dma_fence_}" "count=$1 expected>=$smoke_n driver=vgem$smoke_d"
		else
			ksight_fail "smoke.dma_fence.${smoke_e#dma_fence_}" \
				"count=$1 (all drivers $2) expected>=$smoke_n driver=vgem$smoke_d"
		fi
	done
	smoke_line=$(grep -m1 ' dma_fence_wait_end: ' /tmp/smoke.trace | sed 's/^.*dma_fence_wait_end: //')
	ksight_info "smoke: wait_end sample: $smoke_line"
	for smoke_e in $smoke_events; do
		echo 0 >"$smoke_i/events/dma_fence/$smoke_e/enable" 2>/dev/null
	done
	[ "$smoke_i" != "$smoke_t" ] && rmdir "$smoke_i" 2>/dev/null
fi

# --- netem: real retransmits on lo -------------------------------------------------
smoke_retrans() {
	awk '/^Tcp:/ { if (!h) { for (i = 1; i <= NF; i++) if ($i == "RetransSegs") c = i; h = 1 } else print $c }' /proc/net/snmp
}
smoke_tc=$(ksight_find tc)
smoke_ip=$(ksight_find ip)
smoke_why=""
if [ "$KSIGHT_MODE" != guest ] && [ "${KSIGHT_HOST_NETEM:-0}" != 1 ]; then
	smoke_why="host mode (KSIGHT_HOST_NETEM=1 to change lo's qdisc here)"
elif [ -z "$smoke_tc" ] || ! "$smoke_tc" -V 2>&1 | grep -q iproute2; then
	smoke_why="no iproute2 tc in the payload (busybox tc has no netem)"
elif [ -z "$smoke_ip" ] || ! "$smoke_ip" -V 2>&1 | grep -q iproute2; then
	smoke_why="no iproute2 ip in the payload"
elif ! ksight_have_module sch_netem; then
	smoke_why="no sch_netem in this kernel"
fi
if [ -n "$smoke_why" ]; then
	ksight_skip smoke.netem.qdisc "$smoke_why"
	ksight_skip smoke.netem.retransmits "$smoke_why"
elif ! smoke_err=$("$smoke_tc" qdisc add dev lo root netem loss "${NETEM_LOSS:-5%}" 2>&1); then
	ksight_fail smoke.netem.qdisc "$smoke_err"
	ksight_skip smoke.netem.retransmits "no netem qdisc"
else
	ksight_pass smoke.netem.qdisc "$("$smoke_tc" qdisc show dev lo | head -n1)"
	smoke_mtu=$(cat /sys/class/net/lo/mtu)
	# Small segments, one per skb: many packets to lose, one event per segment.
	"$smoke_ip" link set dev lo mtu 1500
	"$smoke_ip" link set dev lo gso_max_segs 1 2>/dev/null ||
		ksight_info "smoke: cannot set gso_max_segs on lo"
	smoke_i=$smoke_t/instances/ksight-netem-$$
	mkdir "$smoke_i" 2>/dev/null || smoke_i=""
	if [ -n "$smoke_i" ]; then
		echo 1 >"$smoke_i/events/tcp/tcp_retransmit_skb/enable"
		echo 1 >"$smoke_i/events/tcp/tcp_retransmit_synack/enable"
		echo 1 >"$smoke_i/tracing_on"
	fi
	smoke_a=$(smoke_retrans)
	# busybox nc ends at EOF on either side: the server reads from a fifo that never
	# ends, the client closes after its input, so every byte gets through.
	rm -f /tmp/smoke.fifo
	mkfifo /tmp/smoke.fifo
	exec 9<>/tmp/smoke.fifo
	ksight_timeout 60 nc -l -p 5599 <&9 2>/dev/null | wc -c >/tmp/smoke.rx &
	smoke_srv=$!
	ksight_wait_until 10 ksight_listening 5599 || ksight_info "netem: nc did not listen on 5599 in 10s"
	head -c "${NETEM_BYTES:-400000}" /dev/zero | ksight_timeout 40 nc 127.0.0.1 5599 >/dev/null 2>&1
	smoke_rc=$?
	wait "$smoke_srv" 2>/dev/null
	exec 9>&-
	rm -f /tmp/smoke.fifo
	# Let the connection finish closing (FINs can be lost and retransmitted too):
	# wait until no socket on port 5599 (0x15DF) is left outside TIME_WAIT (06).
	smoke_closed() {
		! awk '$2 ~ /:15DF$/ || $3 ~ /:15DF$/ { if ($4 != "06") f = 1 } END { exit !f }' /proc/net/tcp
	}
	ksight_wait_until 10 smoke_closed || ksight_info "netem: port 5599 not closed in 10s"
	smoke_b=$(smoke_retrans)
	smoke_ev=-1
	if [ -n "$smoke_i" ]; then
		echo 0 >"$smoke_i/tracing_on"
		# TcpRetransSegs also counts SYN-ACK retransmits, traced as tcp_retransmit_synack.
		smoke_ev=$(grep -c -E ' tcp_retransmit_(skb|synack): ' "$smoke_i/trace")
		smoke_syn=$(grep -c ' tcp_retransmit_synack: ' "$smoke_i/trace")
		echo 0 >"$smoke_i/events/tcp/tcp_retransmit_skb/enable"
		echo 0 >"$smoke_i/events/tcp/tcp_retransmit_synack/enable"
		rmdir "$smoke_i" 2>/dev/null
	fi
	"$smoke_tc" qdisc del dev lo root 2>/dev/null
	"$smoke_ip" link set dev lo mtu "$smoke_mtu"
	smoke_d=$((smoke_b - smoke_a))
	smoke_rx=$(cat /tmp/smoke.rx 2>/dev/null)
	smoke_detail="TcpRetransSegs+$smoke_d traced=$smoke_ev (synack ${smoke_syn:-?}) bytes=$smoke_rx/${NETEM_BYTES:-400000} loss=${NETEM_LOSS:-5%} nc_rc=$smoke_rc"
	if [ "$smoke_d" -gt 0 ] && [ "$smoke_ev" = "$smoke_d" ] && [ "$smoke_rx" = "${NETEM_BYTES:-400000}" ]; then
		ksight_pass smoke.netem.retransmits "$smoke_detail"
	else
		ksight_fail smoke.netem.retransmits "$smoke_detail"
	fi
fi
:
