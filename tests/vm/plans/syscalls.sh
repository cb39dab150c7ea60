# shellcheck shell=sh
# syscalls plan: the syscalls probe on this kernel, exact counts for one pid. Sourced by the
# payload's plan.sh (guest) or run by run-matrix.sh on the host; prints KSIGHT-RESULT lines.
# vm-probe: every kernel (plans/agent.sh: agent.check.syscalls must be ok on each)
#
# Checks (tests/vm/list-checks.sh reads the vm-check lines):
# vm-check: agent.syscalls.exact
#   `ksight run --probes syscalls --pid P` on syscall_trigger -w -g 1000 -e 7: the sum of
#   stats.count for getppid == 1000 and of errors_by_errno.ENOENT for openat == 7 (detail:
#   the hook used)
# vm-check: agent.syscalls.exit
#   that agent run exited 0 after SIGINT
# Table cell (KSIGHT-TABLE, see guest-lib.sh): syscalls/syscall.stats = counts seen/expected.
# Env: AGENT_GETPPID (default 1000), AGENT_ENOENT (default 7).
# shellcheck source=tests/vm/guest-lib.sh
. "${KSIGHT_LIB:?}"

sy_bin=$(ksight_find ksight)
sy_trig=$(ksight_find syscall_trigger)
sy_g=${AGENT_GETPPID:-1000}
sy_e=${AGENT_ENOENT:-7}
sy_d=/tmp/ksight-syscalls.$$
mkdir -p "$sy_d"

if [ -z "$sy_bin" ]; then
	for sy_c in agent.syscalls.exact agent.syscalls.exit; do
		ksight_skip "$sy_c" "no ksight in the payload (tests/vm/make-payload.sh)"
	done
	exit 0
fi

# Last 200 characters of a file on one line (for details).
sy_tail() { tail -c 200 "$1" 2>/dev/null | tr '\n' ' '; }
# A JSON string or number field from the input lines: sy_field KEY (first match per line).
sy_field() { sed -n "s/.*\"$1\":\"\{0,1\}\([^\",}]*\).*/\1/p"; }

# A missing trigger is a broken payload: a failure, not a skip.
if [ -z "$sy_trig" ]; then
	ksight_fail agent.syscalls.exact "no syscall_trigger in the payload (tests/vm/make-payload.sh)"
	ksight_fail agent.syscalls.exit "no syscall_trigger in the payload (tests/vm/make-payload.sh)"
else
	rm -f "$sy_d/fifo"
	mkfifo "$sy_d/fifo"
	exec 7<>"$sy_d/fifo"
	"$sy_trig" -w -g "$sy_g" -e "$sy_e" <"$sy_d/fifo" >"$sy_d/trig.out" 2>&1 &
	sy_tpid=$!
	ksight_wait_until 10 ksight_has "$sy_d/trig.out" '^pid ' ||
		ksight_info "agent: syscall_trigger printed no pid line in 10s"
	sy_out=$sy_d/syscalls.json
	"$sy_bin" run --config /dev/null --output "$sy_out" --probes syscalls --pid "$sy_tpid" \
		--interval 1s --duration 100s 2>"$sy_d/agent.err" &
	sy_apid=$!
	sy_t0=$(cut -d' ' -f1 /proc/uptime)
	if ksight_wait_until 60 ksight_has "$sy_out" '"state":"running"'; then
		sy_up="running after $(awk -v a="$sy_t0" -v b="$(cut -d' ' -f1 /proc/uptime)" 'BEGIN { printf "%.1f", b - a }')s"
	else
		sy_up="no running state in 60s"
	fi
	echo go >&7
	ksight_wait_until 30 ksight_has "$sy_d/trig.out" '^done ' ||
		ksight_info "agent: syscall_trigger did not finish in 30s"
	wait "$sy_tpid"
	sy_trc=$?
	exec 7>&-
	# Two more heartbeats (their rollups read the maps after the trigger's last call), then
	# stop as an operator would.
	sy_hb=$(ksight_count "$sy_out" '"type":"agent.heartbeat"')
	sy_hb_more() { [ "$(ksight_count "$sy_out" '"type":"agent.heartbeat"')" -ge $((sy_hb + 2)) ]; }
	ksight_wait_until 30 sy_hb_more || ksight_info "agent: no two heartbeats after the trigger in 30s"
	kill -INT "$sy_apid" 2>/dev/null
	ksight_wait_until 30 ksight_gone "$sy_apid" || kill -KILL "$sy_apid" 2>/dev/null
	wait "$sy_apid"
	sy_arc=$?
	sed 's/^/KSIGHT-INFO agent stderr: /' "$sy_d/agent.err" | head -n 40
	# Records of the trigger's pid: the sum over all intervals.
	grep '"type":"syscall.stats"' "$sy_out" 2>/dev/null | grep "\"process\":{\"pid\":${sy_tpid}[,}]" >"$sy_d/mine.json"
	sy_gc=$(grep '"syscall":{"name":"getppid"' "$sy_d/mine.json" |
		sed -n 's/.*"stats":{"count":\([0-9]*\).*/\1/p' | awk '{ s += $1 } END { print s + 0 }')
	sy_ec=$(grep '"syscall":{"name":"openat"' "$sy_d/mine.json" |
		sed -n 's/.*"ENOENT":\([0-9]*\).*/\1/p' | awk '{ s += $1 } END { print s + 0 }')
	sy_hook=$(grep '"state":"attached","probe":"syscalls"' "$sy_out" 2>/dev/null | head -n1 | sy_field hook)
	sy_reason=$(grep '"state":"attached","probe":"syscalls"' "$sy_out" 2>/dev/null | head -n1 |
		sed -n 's/.*"reason":"\([^"]*\)".*/\1/p')
	sy_detail="getppid=$sy_gc/$sy_g openat.ENOENT=$sy_ec/$sy_e hook=${sy_hook:-?} ($sy_reason) $sy_up trigger=$(tail -n1 "$sy_d/trig.out") trigger_rc=$sy_trc"
	ksight_table syscalls/syscall.stats "getppid:$sy_gc/$sy_g,ENOENT:$sy_ec/$sy_e"
	if [ "$sy_gc" = "$sy_g" ] && [ "$sy_ec" = "$sy_e" ]; then
		ksight_pass agent.syscalls.exact "$sy_detail"
	else
		ksight_fail agent.syscalls.exact "$sy_detail err=$(sy_tail "$sy_d/agent.err")"
	fi
	if [ "$sy_arc" = 0 ]; then
		ksight_pass agent.syscalls.exit "rc=0 after SIGINT"
	else
		ksight_fail agent.syscalls.exit "rc=$sy_arc err=$(sy_tail "$sy_d/agent.err")"
	fi
fi
rm -rf "$sy_d"
:
