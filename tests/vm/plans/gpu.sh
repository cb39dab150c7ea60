# shellcheck shell=sh
# GPU plan: the agent's gpu probe on this kernel, with real events. Sourced by the
# payload's plan.sh (guest) or run by run-matrix.sh on the host; prints KSIGHT-RESULT
# lines and KSIGHT-TABLE cells (the probe table run-matrix.sh prints).
#
# One `ksight run --probes gpu --interval 1s` per kernel; while it runs:
#   agent.gpu.attached   agent.status says gpu attached, with no source "failed:"
#   agent.gpu.fence      vgem_fence N (N = GPU_FENCES, default 20): the gpu.fence.stats
#                        records of driver vgem sum to exactly N init_to_signal (signals)
#                        and N wait (waits) — vgem fences are only made by the trigger
#   agent.gpu.sched      after insmod gpu-sched (guest-init.sh): the scheduler source of
#                        this kernel's naming scheme is "available: tp_btf|tracepoint ..."
#                        in agent.status (<= 6.16 names on 5.10-6.12, >= 6.17 names on 7.x)
#                        and the other scheme is "unavailable"; skip where the kernel has
#                        no gpu_scheduler tracepoints at all (the 6.18 host: no DRM)
#   agent.gpu.xid        Xid/SXid lines written to /dev/kmsg (3 Xids, 1 SXid + its detail
#                        line, 3 lines that are no fault) give exactly 3 gpu.xid records
#                        (codes 79 94 13, bus ids, MIG instance) and 1 gpu.sxid
#   agent.gpu.job        where the payload has tests/vm/sched-module built for this kernel
#                        (5.10, 6.1, 6.12, 7.x; not the host): insmod ksight_sched_test.ko
#                        jobs=N (N = GPU_JOBS, default 5)
#                        runs N jobs through a real DRM scheduler "ksight0": exactly N
#                        gpu.job records on ring ksight0, each with queue_wait_ns and run_ns,
#                        all with process.comm insmod (the task that queued them)
#   agent.gpu.exit       the agent exited 0 after SIGINT
#   agent.gpu.levels     at each level 2, 3, 4 and 5 an NVIDIA Xid, an SXid, an amdgpu ring
#                        timeout and an i915 hang (each on a bus id of its own) plus two lines
#                        that are no fault: exactly one record per fault line (16), none for
#                        the rest, and console_loglevel unchanged. Before 5.19 printk:console
#                        fires only for lines the console prints, so the agent reads /dev/kmsg
#                        there (source "kmsg"); from 5.19 the tracepoint sees every line.
#   agent.gpu.workload   an Xid naming a live process in a cgroup of its own (cgroup2, mounted
#                        by the plan in the guest) names that cgroup (process.source proc);
#                        after the process exited, an Xid naming its pid still does
#                        (exit_cache, from sched:sched_process_exit); pid='<unknown>' gives
#                        no process
# vm-probe: every kernel (plans/agent.sh: agent.check.<probe> must be ok on each)
# Checks it reports, one per line (tests/vm/list-checks.sh registers them with ctest):
# vm-check: agent.gpu.attached
# vm-check: agent.gpu.fence
# vm-check: agent.gpu.sched
# vm-check: agent.gpu.job
# vm-check: agent.gpu.xid
# vm-check: agent.gpu.levels
# vm-check: agent.gpu.workload
# vm-check: agent.gpu.exit
# shellcheck source=tests/vm/guest-lib.sh
. "${KSIGHT_LIB:?}"

gp_bin=$(ksight_find ksight)
gp_vgem=$(ksight_find vgem_fence)
gp_n=${GPU_FENCES:-20}
gp_d=/tmp/ksight-gpu.$$
mkdir -p "$gp_d"
gp_checks="agent.gpu.attached agent.gpu.fence agent.gpu.sched agent.gpu.job agent.gpu.xid agent.gpu.levels agent.gpu.workload agent.gpu.exit"

if [ -z "$gp_bin" ]; then
	for gp_c in $gp_checks; do
		ksight_skip "$gp_c" "no ksight in the payload (tests/vm/make-payload.sh)"
	done
	exit 0
fi

gp_tail() { tail -c 200 "$1" 2>/dev/null | tr '\n' ' '; }
# The value of one key of the gpu agent.status details (keys have spaces and parens).
gp_detail() {
	awk -v k="\"$1\":\"" '{ i = index($0, k); if (!i) next; s = substr($0, i + length(k));
		sub(/".*/, "", s); print s; exit }' "$gp_d/status"
}

gp_out=$gp_d/gpu.jsonl
gp_loglevel=$(cat /proc/sys/kernel/printk)
# cgroup2 for the workload check (the guest's init mounts none); the agent looks for it at start.
gp_cg=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
if [ -z "$gp_cg" ] && [ "$KSIGHT_MODE" = guest ] && mount -t cgroup2 none /sys/fs/cgroup 2>/dev/null; then
	gp_cg=/sys/fs/cgroup
fi
"$gp_bin" run --config /dev/null --probes gpu --output "$gp_out" --interval 1s \
	--gpu-kmsg-state "$gp_d/kmsg.position" 2>"$gp_d/agent.err" &
gp_apid=$!
if ! ksight_wait_until 60 ksight_has "$gp_out" '"state":"running"'; then
	ksight_fail agent.gpu.attached "no running state in 60s: $(gp_tail "$gp_d/agent.err")"
	kill -KILL "$gp_apid" 2>/dev/null
	wait "$gp_apid"
	for gp_c in agent.gpu.fence agent.gpu.sched agent.gpu.job agent.gpu.xid agent.gpu.levels agent.gpu.workload agent.gpu.exit; do
		ksight_skip "$gp_c" "the agent did not start"
	done
	exit 0
fi
grep '"type":"agent.status"' "$gp_out" | grep '"probe":"gpu"' | head -n1 >"$gp_d/status"
gp_state=$(sed -n 's/.*"status":{"state":"\([a-z]*\)".*/\1/p' "$gp_d/status")
gp_reason=$(sed -n 's/.*"reason":"\([^"]*\)".*/\1/p' "$gp_d/status")
if [ "$gp_state" = attached ] && ! grep -q '":"failed: ' "$gp_d/status"; then
	ksight_pass agent.gpu.attached "$gp_reason"
else
	ksight_fail agent.gpu.attached "state=$gp_state $(sed 's/.*"status"://' "$gp_d/status" | cut -c1-250)"
fi
gp_printk=$(gp_detail printk)
gp_fence=$(gp_detail dma_fence)
gp_old=$(gp_detail 'gpu_scheduler (<=6.16)')
gp_new=$(gp_detail 'gpu_scheduler (>=6.17)')
case $gp_printk in
available:*/dev/kmsg*) gp_c="kmsg (every line)" ;;
available:*"every line"*) gp_c="$(echo "$gp_printk" | cut -d',' -f1 | cut -d' ' -f2) (every line)" ;;
available:*) gp_c="$(echo "$gp_printk" | cut -d',' -f1 | cut -d' ' -f2) (console lines only)" ;;
*) gp_c=$gp_printk ;;
esac
ksight_table gpu/printk "$gp_c"
case $gp_fence in
*"tp_btf signaled"*) gp_c="tracepoint+tp_btf" ;;
available:*) gp_c=tracepoint ;;
*) gp_c=$gp_fence ;;
esac
ksight_table gpu/dma_fence "$gp_c"

# --- gpu_scheduler: the naming scheme of this kernel attached --------------------------
gp_t=$(ksight_tracefs)
gp_have_old=0 gp_have_new=0
[ -n "$gp_t" ] && [ -d "$gp_t/events/gpu_scheduler/drm_sched_job" ] && gp_have_old=1
[ -n "$gp_t" ] && [ -d "$gp_t/events/gpu_scheduler/drm_sched_job_queue" ] && gp_have_new=1
gp_sd="old(<=6.16): $gp_old; new(>=6.17): $gp_new"
if [ "$gp_have_old" = 0 ] && [ "$gp_have_new" = 0 ]; then
	if ksight_have_module gpu_sched; then
		ksight_fail agent.gpu.sched "gpu_sched loaded but no gpu_scheduler tracepoints in tracefs"
	else
		ksight_skip agent.gpu.sched "no gpu_scheduler in this kernel (no DRM / gpu-sched): n/a; $gp_sd"
	fi
	ksight_table gpu/gpu_scheduler "n/a"
else
	if [ "$gp_have_new" = 1 ]; then
		gp_want=$gp_new gp_other=$gp_old gp_scheme=new
	else
		gp_want=$gp_old gp_other=$gp_new gp_scheme=old
	fi
	case $gp_want in
	available:*)
		case $gp_other in
		unavailable:*) ksight_pass agent.gpu.sched "$gp_scheme names: $gp_sd" ;;
		*) ksight_fail agent.gpu.sched "$gp_scheme names in tracefs, but the other scheme is not unavailable: $gp_sd" ;;
		esac
		;;
	*) ksight_fail agent.gpu.sched "$gp_scheme names in tracefs, not attached: $gp_sd" ;;
	esac
	ksight_table gpu/gpu_scheduler "$gp_scheme:$(echo "$gp_want" | awk '{ print ($1 == "available:" ? $2 : $1) }')"
fi

# --- dma_fence: N vgem fences -> N signals, N waits ---------------------------------------
gp_why=""
if [ -z "$gp_vgem" ]; then
	gp_why="vgem_fence not in the payload"
elif ! ksight_have_module vgem; then
	gp_why="no vgem module in this kernel (host: no DRM): n/a"
elif ! ls /dev/dri/card* >/dev/null 2>&1; then
	gp_why="vgem loaded but no /dev/dri/card*"
fi
gp_fence_ran=0
if [ -n "$gp_why" ]; then
	ksight_skip agent.gpu.fence "$gp_why"
	ksight_table gpu/gpu.fence.stats "n/a"
else
	gp_vout=$(ksight_timeout 60 "$gp_vgem" "$gp_n" 2>"$gp_d/vgem.err")
	gp_vrc=$?
	gp_fence_ran=1
fi

# --- gpu.job: real jobs through a real DRM scheduler (the test module) -------------------
gp_jobs=${GPU_JOBS:-5}
gp_ko=$KSIGHT_PAYLOAD/modules/$(uname -r)/ksight_sched_test.ko
gp_job_ran=0
if [ ! -f "$gp_ko" ]; then
	ksight_skip agent.gpu.job "no DRM scheduler test module for $(uname -r) (tests/vm/build-sched-module.sh builds it for the 5.10, 6.1, 6.12 and 7.x guests)"
	ksight_table gpu/gpu.job "n/a"
elif ! ksight_have_module gpu_sched; then
	ksight_skip agent.gpu.job "gpu_sched not loaded"
	ksight_table gpu/gpu.job "n/a"
else
	gp_job_err=$(insmod "$gp_ko" jobs="$gp_jobs" 2>&1)
	gp_job_rc=$?
	gp_job_log=$(dmesg 2>/dev/null | grep 'ksight_sched_test:' | tail -n1 | sed 's/^\[[^]]*\] //')
	rmmod ksight_sched_test 2>/dev/null
	gp_job_ran=1
fi

# --- Xid lines through /dev/kmsg ------------------------------------------------------
gp_kmsg() { printf '%s\n' "$1" >/dev/kmsg; }
gp_kmsg "<4>NVRM: loading NVIDIA UNIX x86_64 Kernel Module  550.54.14  Thu Feb 22 01:44:30 UTC 2024"
gp_kmsg "<4>NVRM: Xid (PCI:0000:3b:00): 79, pid=1234, name=python3, GPU has fallen off the bus."
gp_kmsg "<4>ksight-vm: an ordinary line that never leaves the kernel"
gp_kmsg "<4>NVRM: Xid (PCI:0000:3b:00 GPU-I:01 GPU-CI:00): 94, pid=4242, name=trainer, Contained ECC error."
gp_kmsg "<4>nvidia-nvswitch0: SXid (PCI:0000:85:00.0): 12028, Non-fatal, Link 32 egress non-posted PRIV error (First)"
gp_kmsg "<4>nvidia-nvswitch0: SXid (PCI:0000:85:00.0): 12028, Severity 0 Engine instance 32 Sub-engine instance 00"
gp_kmsg "<4>NVRM: Xid (PCI:0000:3b"
gp_kmsg "<4>NVRM: Xid (PCI:0000:cb:00): 13, pid='<unknown>', name=<unknown>, Graphics SM Warp Exception on (GPC 7, TPC 7, SM 0): Illegal Instruction Parameter"
# Every level a driver uses, for four drivers: bus ids a<L> (Xid), b<L> (SXid), c<L> (amdgpu),
# d<L> (i915) name the line each record came from.
for gp_l in 2 3 4 5; do
	gp_kmsg "<$gp_l>NVRM: Xid (PCI:0000:a$gp_l:00): 13, pid=1, name=ksight-level, Graphics Exception: ESR 0x$gp_l"
	gp_kmsg "<$gp_l>nvidia-nvswitch0: SXid (PCI:0000:b$gp_l:00.0): 12028, Non-fatal, Link 32 egress non-posted PRIV error (First)"
	gp_kmsg "<$gp_l>amdgpu 0000:c$gp_l:00.0: amdgpu: ring gfx_0.0.0 timeout, signaled seq=1, emitted seq=2"
	gp_kmsg "<$gp_l>i915 0000:d$gp_l:02.0: [drm] GPU HANG: ecode 12:1:85dffffb, in Xorg [1234]"
	gp_kmsg "<$gp_l>ksight-vm: an ordinary line at level $gp_l"
	gp_kmsg "<$gp_l>amdgpu 0000:c$gp_l:00.0: amdgpu: SMU is initialized successfully!"
done

# --- the workload an Xid names ---------------------------------------------------------
gp_wdir="" gp_wpid=""
if [ -n "$gp_cg" ] && mkdir -p "$gp_cg/ksight-xid-$$" 2>/dev/null; then
	gp_wdir=$gp_cg/ksight-xid-$$
	sleep 60 &
	gp_wpid=$!
	echo "$gp_wpid" >"$gp_wdir/cgroup.procs"
	gp_kmsg "<4>NVRM: Xid (PCI:0000:f1:00): 13, pid=$gp_wpid, name=sleep, Graphics Exception: live"
	gp_live() { grep '"type":"gpu.xid"' "$gp_out" | grep -q '"pci_bus_id":"0000:f1:00"'; }
	ksight_wait_until 15 gp_live || ksight_info "gpu: no record for the live-pid Xid in 15s"
	kill "$gp_wpid"
	wait "$gp_wpid" 2>/dev/null
	gp_kmsg "<4>NVRM: Xid (PCI:0000:f2:00): 13, pid=$gp_wpid, name=sleep, Graphics Exception: exited"
	gp_kmsg "<4>NVRM: Xid (PCI:0000:f3:00): 13, pid='<unknown>', name=<unknown>, Graphics Exception"
fi

# Two more heartbeats so the last fence stats are flushed, then stop as an operator would.
gp_hb=$(ksight_count "$gp_out" '"type":"agent.heartbeat"')
gp_hb_more() { [ "$(ksight_count "$gp_out" '"type":"agent.heartbeat"')" -ge $((gp_hb + 2)) ]; }
ksight_wait_until 30 gp_hb_more || ksight_info "gpu: no two heartbeats after the workload in 30s"
kill -INT "$gp_apid" 2>/dev/null
ksight_wait_until 30 ksight_gone "$gp_apid" || kill -KILL "$gp_apid" 2>/dev/null
wait "$gp_apid"
gp_arc=$?
sed 's/^/KSIGHT-INFO gpu agent stderr: /' "$gp_d/agent.err" | head -n 20
if [ "$gp_arc" = 0 ]; then
	ksight_pass agent.gpu.exit "rc=0 after SIGINT"
else
	ksight_fail agent.gpu.exit "rc=$gp_arc err=$(gp_tail "$gp_d/agent.err")"
fi

if [ "$gp_fence_ran" = 1 ]; then
	grep '"type":"gpu.fence.stats"' "$gp_out" | grep '"gpu":{"driver":"vgem"' >"$gp_d/fence.jsonl"
	gp_sig=$(sed -n 's/.*"init_to_signal":{"count":\([0-9]*\).*/\1/p' "$gp_d/fence.jsonl" | awk '{ s += $1 } END { print s + 0 }')
	gp_wait=$(sed -n 's/.*"wait":{"count":\([0-9]*\).*/\1/p' "$gp_d/fence.jsonl" | awk '{ s += $1 } END { print s + 0 }')
	gp_other=$(grep '"type":"gpu.fence.stats"' "$gp_out" | grep -v -c '"gpu":{"driver":"vgem"')
	gp_fd="signals=$gp_sig/$gp_n waits=$gp_wait/$gp_n records=$(wc -l <"$gp_d/fence.jsonl") other_drivers=$gp_other trigger=$gp_vout rc=$gp_vrc"
	if [ "$gp_vrc" = 0 ] && [ "$gp_sig" = "$gp_n" ] && [ "$gp_wait" = "$gp_n" ]; then
		ksight_pass agent.gpu.fence "$gp_fd"
	else
		ksight_fail agent.gpu.fence "$gp_fd err=$(head -c 150 "$gp_d/vgem.err")"
	fi
	ksight_table gpu/gpu.fence.stats "sig:$gp_sig/$gp_n,wait:$gp_wait/$gp_n"
fi

if [ "$gp_job_ran" = 1 ]; then
	gp_nj=$(grep '"type":"gpu.job"' "$gp_out" | grep -c '"ring":"ksight0"')
	gp_run=$(grep '"type":"gpu.job"' "$gp_out" | grep '"ring":"ksight0"' | grep '"queue_wait_ns":[0-9]' | grep -c '"run_ns":[0-9]')
	gp_comm=$(grep '"type":"gpu.job"' "$gp_out" | grep '"ring":"ksight0"' | sed -n 's/.*"comm":"\([^"]*\)".*/\1/p' | sort -u | tr '\n' ' ')
	gp_jd="gpu.job ring ksight0=$gp_nj/$gp_jobs with queue_wait+run=$gp_run comm=[$gp_comm] insmod_rc=$gp_job_rc module: $gp_job_log $gp_job_err"
	# Every job was queued by the insmod task (the module pushes them from its init).
	if [ "$gp_job_rc" = 0 ] && [ "$gp_nj" = "$gp_jobs" ] && [ "$gp_run" = "$gp_jobs" ] &&
		[ "$gp_comm" = "insmod " ]; then
		ksight_pass agent.gpu.job "$gp_jd"
	else
		ksight_fail agent.gpu.job "$gp_jd"
	fi
	ksight_table gpu/gpu.job "$gp_nj/$gp_jobs"
	ksight_info "gpu: gpu.job sample: $(grep '"type":"gpu.job"' "$gp_out" | tail -n1)"
fi

# Xid records: exactly the three faults, in order, with their bus ids and MIG instance.
gp_xids=$(grep '"type":"gpu.xid"' "$gp_out" |
	sed -n 's/.*"pci_bus_id":"\([^"]*\)".*"xid":{"code":\([0-9]*\).*/\2@\1/p' | tr '\n' ' ')
gp_nx=$(grep -c '"type":"gpu.xid"' "$gp_out")
gp_mig=$(grep '"type":"gpu.xid"' "$gp_out" | grep -c '"gpu_instance":1,"compute_instance":0')
gp_sx=$(grep '"type":"gpu.sxid"' "$gp_out" | grep -c '"code":12028')
gp_nsx=$(grep -c '"type":"gpu.sxid"' "$gp_out")
gp_xd="xid=$gp_nx/3 [$gp_xids] mig=$gp_mig/1 sxid=$gp_nsx/1 (12028: $gp_sx)"
# (the levels and workload checks' Xids, on buses a2-a5 and f1-f3, are theirs)
gp_xids=$(echo "$gp_xids" | sed 's/13@0000:a[2-5]:00 //g; s/13@0000:f[1-3]:00 //g')
gp_nx=$((gp_nx - $(grep '"type":"gpu.xid"' "$gp_out" | grep -c '"pci_bus_id":"0000:[af][1-5]:00"')))
gp_nsx=$((gp_nsx - $(grep '"type":"gpu.sxid"' "$gp_out" | grep -c '"pci_bus_id":"0000:b[2-5]:00.0"')))
gp_sx=$((gp_sx - $(grep '"type":"gpu.sxid"' "$gp_out" | grep -c '"pci_bus_id":"0000:b[2-5]:00.0"')))
gp_xd="xid=$gp_nx/3 [$gp_xids] mig=$gp_mig/1 sxid=$gp_nsx/1 (12028: $gp_sx)"
if [ "$gp_xids" = "79@0000:3b:00 94@0000:3b:00 13@0000:cb:00 " ] && [ "$gp_mig" = 1 ] &&
	[ "$gp_nsx" = 1 ] && [ "$gp_sx" = 1 ]; then
	ksight_pass agent.gpu.xid "$gp_xd"
else
	ksight_fail agent.gpu.xid "$gp_xd"
fi
ksight_table gpu/gpu.xid "$gp_nx/3,sxid:$gp_nsx/1"

# Levels: one record per fault line per level, each through the way the agent reads the log.
gp_ld="" gp_lok=1 gp_lsrc=""
for gp_l in 2 3 4 5; do
	gp_row=""
	for gp_b in "a$gp_l:00" "b$gp_l:00.0" "c$gp_l:00.0" "d$gp_l:02.0"; do
		gp_k=$(grep '"type":"gpu\.' "$gp_out" | grep -c "\"pci_bus_id\":\"0000:$gp_b\"")
		[ "$gp_k" = 1 ] || gp_lok=0
		gp_row="$gp_row$gp_k"
	done
	gp_ld="$gp_ld L$gp_l=$gp_row"
done
gp_lsrc=$(grep '"type":"gpu\.' "$gp_out" | grep '"pci_bus_id":"0000:[abcd][2-5]:' |
	sed -e 's/"process":{[^}]*}//' | sed -n 's/.*"source":"\([a-z]*\)".*/\1/p' | sort | uniq -c | awk '{ printf "%s%s=%s", s, $2, $1; s = "," }')
gp_lnoise=$(grep '"type":"gpu\.' "$gp_out" | grep -c 'SMU is initialized')
gp_after=$(cat /proc/sys/kernel/printk)
gp_ld="records per level (xid sxid amdgpu i915):$gp_ld sources=$gp_lsrc noise=$gp_lnoise console_loglevel=[$gp_loglevel]->[$gp_after]"
if [ "$gp_lok" = 1 ] && [ "$gp_lnoise" = 0 ] && [ "$gp_after" = "$gp_loglevel" ]; then
	ksight_pass agent.gpu.levels "$gp_ld"
else
	ksight_fail agent.gpu.levels "$gp_ld"
fi
ksight_table gpu/levels "$(echo "$gp_lsrc" | cut -d= -f1):$(grep '"type":"gpu\.' "$gp_out" | grep -c '"pci_bus_id":"0000:[abcd][2-5]:')/16"
# Workload: f1 alive -> proc, f2 exited -> exit_cache, both the plan's cgroup; f3 no process.
if [ -z "$gp_wdir" ]; then
	ksight_skip agent.gpu.workload "no cgroup2 to create a cgroup in (mounts: $(awk '$3 ~ /cgroup/ { printf "%s ", $2 }' /proc/mounts))"
else
	gp_rel=/ksight-xid-$$
	gp_w1=$(grep '"type":"gpu.xid"' "$gp_out" | grep '"pci_bus_id":"0000:f1:00"' | sed -n 's/.*"process":{\([^}]*\)}.*/\1/p')
	gp_w2=$(grep '"type":"gpu.xid"' "$gp_out" | grep '"pci_bus_id":"0000:f2:00"' | sed -n 's/.*"process":{\([^}]*\)}.*/\1/p')
	gp_w3=$(grep '"type":"gpu.xid"' "$gp_out" | grep '"pci_bus_id":"0000:f3:00"')
	gp_ino=$(ls -di "$gp_wdir" | awk '{ print $1 }')
	gp_wd="live=[$gp_w1] exited=[$gp_w2] unknown_has_process=$(echo "$gp_w3" | grep -c '"process":') cgroup=$gp_rel id=$gp_ino"
	if echo "$gp_w1" | grep -q "\"pid\":$gp_wpid,.*\"cgroup_id\":$gp_ino,\"cgroup_path\":\"$gp_rel\".*\"source\":\"proc\"" &&
		echo "$gp_w2" | grep -q "\"pid\":$gp_wpid,.*\"cgroup_id\":$gp_ino,\"cgroup_path\":\"$gp_rel\".*\"source\":\"exit_cache\"" &&
		[ -n "$gp_w3" ] && ! echo "$gp_w3" | grep -q '"process":'; then
		ksight_pass agent.gpu.workload "$gp_wd"
	else
		ksight_fail agent.gpu.workload "$gp_wd"
	fi
	ksight_table gpu/workload "$(echo "$gp_w1" | sed -n 's/.*"source":"\([a-z_]*\)".*/\1/p'),$(echo "$gp_w2" | sed -n 's/.*"source":"\([a-z_]*\)".*/\1/p')"
	rmdir "$gp_wdir" 2>/dev/null
fi

# The <4> and <5> Xid records as the agent wrote them (for the compatibility table).
for gp_l in 4 5; do
	ksight_info "gpu: level $gp_l Xid record: $(grep '"type":"gpu.xid"' "$gp_out" | grep "\"pci_bus_id\":\"0000:a$gp_l:00\"" | cut -c1-900)"
done
rm -rf "$gp_d"
:
