# shellcheck shell=sh
# Helpers for the guest test plans (tests/vm/plans/*.sh). POSIX sh: it runs under
# busybox ash in the guest and under bash/dash when a plan runs on the host.
#
# In the guest it is /etc/ksight/lib.sh; plans source it with `. "$KSIGHT_LIB"`.
# Environment (set by guest-init.sh, or by run-matrix.sh for the host column):
#   KSIGHT_MODE     guest | host
#   KSIGHT_PAYLOAD  the payload directory (/payload in the guest)
#   KSIGHT_RESULTS  extra file/tty that receives the result lines (the guest's
#                   second serial port), empty for stdout only
#
# Result lines, one per check, machine-readable:
#   KSIGHT-RESULT check=<name> status=pass|fail|skip detail="<text>"
# <name> uses [a-z0-9_.-] only (it becomes part of a ctest name); detail has no
# double quotes or newlines.

: "${KSIGHT_MODE:=host}"
: "${KSIGHT_PAYLOAD:=/payload}"
: "${KSIGHT_RESULTS:=}"

ksight_emit() {
	printf '%s\n' "$1"
	if [ -n "$KSIGHT_RESULTS" ]; then
		printf '%s\n' "$1" >>"$KSIGHT_RESULTS" 2>/dev/null || true
	fi
}

# ksight_result CHECK STATUS DETAIL...
ksight_result() {
	_kr_check=$(printf '%s' "$1" | tr -c 'a-zA-Z0-9_.\n-' '_' | tr '[:upper:]' '[:lower:]')
	_kr_status=$2
	shift 2
	_kr_detail=$(printf '%s' "$*" | tr '\n\r\t"' "   '" | cut -c1-300)
	ksight_emit "KSIGHT-RESULT check=$_kr_check status=$_kr_status detail=\"$_kr_detail\""
}
ksight_pass() { _kp=$1; shift; ksight_result "$_kp" pass "$@"; }
ksight_fail() { _kp=$1; shift; ksight_result "$_kp" fail "$@"; }
ksight_skip() { _kp=$1; shift; ksight_result "$_kp" skip "$@"; }

# Informational line (kept in the results file, not a check).
ksight_info() { ksight_emit "KSIGHT-INFO $*"; }

# ksight_table ROW VALUE: one cell of the probe table run-matrix.sh prints (rows:
# "<probe>" for its agent.status state and hook, "<probe>/<source or record type>" for a
# source's verdict or "events seen/expected"). The last value of a row wins.
# Line: KSIGHT-TABLE row=<row> value="<text>"
ksight_table() {
	_kt_row=$(printf '%s' "$1" | tr -c 'a-zA-Z0-9_.:/\n-' '_')
	shift
	_kt_val=$(printf '%s' "$*" | tr '\n\r\t"' "   '" | cut -c1-40)
	ksight_emit "KSIGHT-TABLE row=$_kt_row value=\"$_kt_val\""
}

# ksight_timeout SECS CMD...: run with a hard limit (rc 124 on timeout). Works with
# busybox (>= 1.30) and coreutils timeout alike.
ksight_timeout() {
	_kt=$1
	shift
	timeout -s KILL "$_kt" "$@"
}

# ksight_wait_until SECS CMD...: poll CMD (every 0.1 s) until it succeeds; rc 1 if it
# still fails after SECS seconds. The one way the plans wait for something (an agent to
# start or exit, a listener, a record): never a fixed sleep. SECS bounds a hung run, it
# is not an assertion on speed; the caller fails the check naming what did not happen.
ksight_wait_until() {
	_kw_n=$(($1 * 10))
	shift
	while ! "$@"; do
		[ "$_kw_n" -gt 0 ] || return 1
		sleep 0.1 # the poll period
		_kw_n=$((_kw_n - 1))
	done
	return 0
}

# ksight_has FILE PATTERN: FILE exists and has a line matching PATTERN (for ksight_wait_until).
ksight_has() { grep -q "$2" "$1" 2>/dev/null; }

# ksight_alive PID: the process still runs (ksight_wait_until ... ksight_gone PID to wait for exit).
ksight_alive() { kill -0 "$1" 2>/dev/null; }
ksight_gone() { ! kill -0 "$1" 2>/dev/null; }

# ksight_count FILE PATTERN: how many lines of FILE match PATTERN (0 if none or no file).
ksight_count() {
	_kc=$(grep -c "$2" "$1" 2>/dev/null)
	printf '%s\n' "${_kc:-0}"
}

# ksight_listening PORT: a TCP socket listens on PORT (decimal) in this namespace.
ksight_listening() {
	awk -v p="$(printf ':%04X' "$1")" 'FNR > 1 && $4 == "0A" && substr($2, length($2) - 4) == p { f = 1 }
		END { exit !f }' /proc/net/tcp /proc/net/tcp6 2>/dev/null
}

# The tracefs mount point (prints nothing if there is none).
ksight_tracefs() {
	for _kt_d in /sys/kernel/tracing /sys/kernel/debug/tracing; do
		if [ -d "$_kt_d/events" ]; then
			printf '%s\n' "$_kt_d"
			return 0
		fi
	done
	return 1
}

# ksight_have_module NAME: loaded as a module or built in.
ksight_have_module() {
	[ -d "/sys/module/$1" ]
}

# A trigger or tool from the payload (bin/ first), else from PATH.
ksight_find() {
	for _kf in "$KSIGHT_PAYLOAD/bin/$1" "$KSIGHT_PAYLOAD/$1"; do
		if [ -x "$_kf" ]; then
			printf '%s\n' "$_kf"
			return 0
		fi
	done
	command -v "$1" 2>/dev/null
}
