# shellcheck shell=sh
# process plan: the process probe on this kernel. Sourced by the payload's plan.sh (guest) or
# run by run-matrix.sh on the host; prints KSIGHT-RESULT lines.
# vm-probe: every kernel (plans/agent.sh: agent.check.process must be ok on each)
#
# Checks (tests/vm/list-checks.sh reads the vm-check lines):
# vm-check: agent.process.lifecycle
#   proc_trigger -n 5 -s -t while `ksight run --probes process` runs: for each of its 7
#   children one process.exec (parent_pid = the trigger) and one process.exit: codes 0..4,
#   SIGTERM for the -s child, code 7 for the -t child (its main thread left first: one exit
#   record for two threads); exactly 7 exits with the trigger as parent
# vm-check: agent.process.identity
#   a cgroup made after the agent started, laid out as the kubelet (systemd driver) and
#   containerd lay one out, holds proc_trigger -n 2 and is removed as soon as it exits: both
#   children's exec and exit records name container.id, container.runtime.name containerd
#   and k8s.pod.uid (learnt from cgroup:cgroup_mkdir)
# vm-check: agent.process.oom
#   proc_trigger -o 256 in a cgroup limited to 32 MiB (cgroup v2 memory.max, else v1): one
#   process.oom_kill naming the victim's pid, its cgroup path and memory_limit_bytes 33554432
#   (victim_from exit), and its process.exit says oom_killed and SIGKILL (detail: whether this
#   kernel's oom:mark_victim carries the victim's memory figures)
# vm-check: agent.process.exit
#   that agent run exited 0 after SIGINT
# vm-check: agent.process.tracepoint
#   the classic tracepoint flavor (KSIGHT_PROCESS_HOOK=tracepoint, where tp_btf would be used):
#   agent.status says tracepoint for exec and exit, and proc_trigger -n 3 -s -t gives the same
#   exact exec/exit records as above (5 exits with the trigger as parent)
# Table cells (KSIGHT-TABLE): process/lifecycle = exits seen/expected; process/identity;
# process/oom = memory (figures) or pid-only.
# shellcheck source=tests/vm/guest-lib.sh
. "${KSIGHT_LIB:?}"

pr_bin=$(ksight_find ksight)
pr_trig=$(ksight_find proc_trigger)
pr_d=/tmp/ksight-process.$$
pr_checks="agent.process.lifecycle agent.process.identity agent.process.oom agent.process.exit agent.process.tracepoint"
mkdir -p "$pr_d"
if [ -z "$pr_bin" ] || [ -z "$pr_trig" ]; then
	for pr_c in $pr_checks; do
		ksight_fail "$pr_c" "no ksight or proc_trigger in the payload (tests/vm/make-payload.sh)"
	done
	exit 0
fi

pr_tail() { tail -c 300 "$1" 2>/dev/null | tr '\n' ' '; }
# The records of one type for one pid: pr_rec TYPE PID
pr_rec() { grep "\"type\":\"$1\"" "$pr_out" | grep "\"process\":{\"pid\":$2[,}]"; }

# cgroup v2 (the guest's init mounts none).
pr_cg=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
if [ -z "$pr_cg" ] && [ "$KSIGHT_MODE" = guest ] && mount -t cgroup2 none /sys/fs/cgroup 2>/dev/null; then
	pr_cg=/sys/fs/cgroup
fi

pr_out=$pr_d/process.json
"$pr_bin" run --config /dev/null --output "$pr_out" --probes process --interval 1s \
	--duration 200s 2>"$pr_d/agent.err" &
pr_apid=$!
ksight_wait_until 60 ksight_has "$pr_out" '"state":"running"' ||
	ksight_info "process: no running state in 60s: $(pr_tail "$pr_d/agent.err")"

# pr_run ARGS...: run proc_trigger to its end; its last line in $pr_d/trig.out.
pr_run() {
	"$pr_trig" "$@" >"$pr_d/trig.out" 2>&1 </dev/null
	pr_trc=$?
	pr_tpid=$(sed -n 's/^pid //p' "$pr_d/trig.out")
	pr_pids=$(sed -n 's/^done .*pids=//p' "$pr_d/trig.out" | tr ',' ' ')
}
# pr_wait_exit PID: until the agent wrote PID's process.exit.
pr_exit_seen() { pr_rec process.exit "$1" | grep -q .; }

# --- lifecycle ---------------------------------------------------------------------------
# pr_lifecycle N CHECK: proc_trigger -n N -s -t; its N + 2 children's exec and exit records.
pr_lifecycle() {
	pr_run -n "$1" -s -t
	ksight_wait_until 15 pr_exit_seen "$pr_tpid" || ksight_info "process: no exit record of the trigger in 15s"
	pr_i=0 pr_bad=""
	for pr_p in $pr_pids; do
		pr_e=$(pr_rec process.exec "$pr_p" | grep -c "\"parent_pid\":$pr_tpid,")
		pr_x=$(pr_rec process.exit "$pr_p")
		if [ "$pr_i" = "$1" ]; then
			pr_want='"signal":"SIGTERM"'
		elif [ "$pr_i" = $(($1 + 1)) ]; then
			pr_want='"code":7,'
		else
			pr_want="\"code\":$pr_i,"
		fi
		if [ "$pr_e" != 1 ] || ! echo "$pr_x" | grep -q "$pr_want"; then
			pr_bad="$pr_bad child$pr_i(pid $pr_p: exec=$pr_e exit=$(echo "$pr_x" | sed -n 's/.*"exit":\({[^}]*}\).*/\1/p'))"
		fi
		pr_i=$((pr_i + 1))
	done
	pr_want_n=$(($1 + 2))
	pr_nx=$(grep '"type":"process.exit"' "$pr_out" | grep -c "\"parent_pid\":$pr_tpid,")
	pr_hooks=$(grep '"state":"attached","probe":"process"' "$pr_out" | head -n1 |
		sed -n 's/.*"sched_process_exec":"\([^"]*\)","sched_process_exit":"\([^"]*\)".*/exec=\1 exit=\2/p')
	pr_ld="children=$pr_i exits_with_parent=$pr_nx/$pr_want_n hooks: $pr_hooks trigger_rc=$pr_trc$pr_bad"
	if [ "$pr_trc" = 0 ] && [ "$pr_i" = "$pr_want_n" ] && [ "$pr_nx" = "$pr_want_n" ] && [ -z "$pr_bad" ]; then
		ksight_pass "$2" "$pr_ld"
	else
		ksight_fail "$2" "$pr_ld trigger: $(pr_tail "$pr_d/trig.out")"
	fi
}
pr_lifecycle 5 agent.process.lifecycle
ksight_table process/lifecycle "$pr_nx/7"

# --- identity ----------------------------------------------------------------------------
pr_cid=5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d
pr_uid=0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9
pr_top=ksight-id-$$
pr_rel=/$pr_top/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod0a1b2c3d_4e5f_6071_8293_a4b5c6d7e8f9.slice/cri-containerd-$pr_cid.scope
if [ -z "$pr_cg" ] || ! mkdir -p "$pr_cg$pr_rel" 2>/dev/null; then
	ksight_skip agent.process.identity "no cgroup2 to make a cgroup in"
	ksight_table process/identity "n/a"
else
	pr_run -c "$pr_cg$pr_rel" -n 2
	# The container is gone: its cgroups removed at once, innermost first.
	pr_dir=$pr_cg$pr_rel
	while [ "$pr_dir" != "$pr_cg" ]; do
		rmdir "$pr_dir" 2>/dev/null
		pr_dir=${pr_dir%/*}
	done
	ksight_wait_until 15 pr_exit_seen "$pr_tpid" || ksight_info "process: no exit record of the identity trigger in 15s"
	pr_ok=0 pr_n=0 pr_miss=""
	for pr_p in $pr_pids; do
		for pr_t in process.exec process.exit; do
			pr_n=$((pr_n + 1))
			if pr_rec "$pr_t" "$pr_p" | grep "\"container\":{\"id\":\"$pr_cid\",\"runtime\":{\"name\":\"containerd\"}}" |
				grep -q "\"k8s\":{\"pod\":{\"uid\":\"$pr_uid\"}"; then
				pr_ok=$((pr_ok + 1))
			else
				pr_miss="$pr_miss $pr_t:$pr_p=[$(pr_rec "$pr_t" "$pr_p" | sed -n 's/.*"process":{[^}]*}[^}]*},\(.*\)$/\1/p' | cut -c1-160)]"
			fi
		done
	done
	pr_idd="records naming container+pod=$pr_ok/$pr_n (cgroup removed after exit) trigger_rc=$pr_trc$pr_miss"
	ksight_table process/identity "$pr_ok/$pr_n"
	if [ "$pr_trc" = 0 ] && [ "$pr_n" = 4 ] && [ "$pr_ok" = 4 ]; then
		ksight_pass agent.process.identity "$pr_idd"
	else
		ksight_fail agent.process.identity "$pr_idd"
	fi
fi

# --- OOM ---------------------------------------------------------------------------------
pr_md="" pr_mrel="" pr_lim=""
if [ -n "$pr_cg" ] && grep -qw memory "$pr_cg/cgroup.controllers" 2>/dev/null; then
	echo +memory >"$pr_cg/cgroup.subtree_control" 2>/dev/null
	pr_mrel=/ksight-oom-$$
	if mkdir -p "$pr_cg$pr_mrel" 2>/dev/null && [ -f "$pr_cg$pr_mrel/memory.max" ]; then
		pr_md=$pr_cg$pr_mrel
		echo 33554432 >"$pr_md/memory.max"
		[ -f "$pr_md/memory.swap.max" ] && echo 0 >"$pr_md/memory.swap.max"
		pr_lim=v2
	fi
fi
if [ -z "$pr_md" ] && [ -f /sys/fs/cgroup/memory/memory.limit_in_bytes ]; then
	pr_mrel=/ksight-oom-$$
	pr_md=/sys/fs/cgroup/memory$pr_mrel
	mkdir -p "$pr_md" && echo 33554432 >"$pr_md/memory.limit_in_bytes"
	[ -f "$pr_md/memory.memsw.limit_in_bytes" ] && echo 33554432 >"$pr_md/memory.memsw.limit_in_bytes"
	pr_lim=v1
fi
if [ -z "$pr_md" ]; then
	ksight_skip agent.process.oom "no memory cgroup controller (v2 or v1)"
	ksight_table process/oom "n/a"
else
	pr_run -c "$pr_md" -o 256
	pr_victim=$(echo "$pr_pids" | awk '{ print $1 }')
	pr_oom_seen() { pr_rec process.oom_kill "$pr_victim" | grep -q .; }
	ksight_wait_until 20 pr_oom_seen || ksight_info "process: no process.oom_kill in 20s"
	rmdir "$pr_md" 2>/dev/null
	pr_k=$(pr_rec process.oom_kill "$pr_victim")
	pr_kn=$(pr_rec process.oom_kill "$pr_victim" | grep -c .)
	pr_x=$(pr_rec process.exit "$pr_victim")
	if echo "$pr_k" | grep -q '"memory":{'; then pr_fig=memory; else pr_fig=pid-only; fi
	pr_od="oom_kill records=$pr_kn victim=$pr_victim ($pr_lim) figures=$pr_fig oom=$(echo "$pr_k" | sed -n 's/.*"oom":\(.*\)}$/\1/p' | cut -c1-260) exit=$(echo "$pr_x" | sed -n 's/.*"exit":\({[^}]*}\).*/\1/p') trigger_rc=$pr_trc"
	ksight_table process/oom "$pr_fig"
	if [ "$pr_kn" = 1 ] && echo "$pr_k" | grep -q '"victim_from":"exit"' &&
		echo "$pr_k" | grep -q "\"cgroup\":{\"path\":\"$pr_mrel\",\"memory_limit_bytes\":33554432}" &&
		echo "$pr_x" | grep -q '"signal":"SIGKILL"' && echo "$pr_x" | grep -q '"oom_killed":true'; then
		ksight_pass agent.process.oom "$pr_od"
	else
		ksight_fail agent.process.oom "$pr_od"
	fi
fi

# Stop as an operator would.
kill -INT "$pr_apid" 2>/dev/null
ksight_wait_until 30 ksight_gone "$pr_apid" || kill -KILL "$pr_apid" 2>/dev/null
wait "$pr_apid"
pr_arc=$?
sed 's/^/KSIGHT-INFO process agent stderr: /' "$pr_d/agent.err" | head -n 20
if [ "$pr_arc" = 0 ]; then
	ksight_pass agent.process.exit "rc=0 after SIGINT"
else
	ksight_fail agent.process.exit "rc=$pr_arc err=$(pr_tail "$pr_d/agent.err")"
fi
[ -n "$pr_cg" ] && rmdir "$pr_cg/$pr_top" 2>/dev/null

# --- the classic tracepoint flavor ---------------------------------------------------------
pr_out=$pr_d/process-tp.json
KSIGHT_PROCESS_HOOK=tracepoint "$pr_bin" run --config /dev/null --output "$pr_out" --probes process \
	--interval 1s --duration 100s 2>"$pr_d/agent-tp.err" &
pr_apid=$!
ksight_wait_until 60 ksight_has "$pr_out" '"state":"running"' ||
	ksight_info "process: the tracepoint-flavor agent is not running after 60s: $(pr_tail "$pr_d/agent-tp.err")"
pr_lifecycle 3 agent.process.tracepoint
kill -INT "$pr_apid" 2>/dev/null
ksight_wait_until 30 ksight_gone "$pr_apid" || kill -KILL "$pr_apid" 2>/dev/null
wait "$pr_apid"
ksight_table process/hooks "$(grep '"state":"attached","probe":"process"' "$pr_d/process.json" 2>/dev/null | head -n1 |
	sed -n 's/.*"sched_process_exec":"\([^"]*\)".*/\1/p')+tracepoint"
rm -rf "$pr_d"
:
