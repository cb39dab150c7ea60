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
# Env: VGEM_FENCES (default 5).
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
:
