# shellcheck shell=sh
# Agent plan: the ksight binary from the payload on this kernel, every probe at once. Sourced
# by the payload's plan.sh (guest) or run by run-matrix.sh on the host; prints KSIGHT-RESULT
# lines. Each probe's own checks are in its plan, tests/vm/plans/<probe>.sh.
# Everything skips when the payload has no ksight (tests/vm/make-payload.sh puts it there).
#
# Checks (tests/vm/list-checks.sh reads the vm-check lines):
# vm-check: agent.check
#   `ksight check` exits 0 and prints its probe table
#   agent.check.<probe>: the verdict line of each probe in that table (ok -> pass), one check
#   per KSIGHT_PROBE line of userspace/probes/probes.inc. A probe whose plan has the line
#   "# vm-probe: every kernel" must be ok on every kernel of the matrix (another verdict is a
#   failure); any other probe skips with its reason (fail without one).
# vm-check: agent.verifier
#   a run with every probe the build ships: each one reports agent.status attached, or
#   disabled with a reason (the agent's own feature probing said no); state "failed" (a load
#   or attach error) fails the check, reason or not, and so does a source of an attached probe
#   whose verdict in details is "failed: ..." (the probe degraded after an error); and the
#   agent exits 0
# Table cells (KSIGHT-TABLE, see guest-lib.sh): <probe> = state(hook) from the verifier run.
# shellcheck source=tests/vm/guest-lib.sh
. "${KSIGHT_LIB:?}"

ag_bin=$(ksight_find ksight)
ag_d=/tmp/ksight-agent.$$
mkdir -p "$ag_d"

if [ -z "$ag_bin" ]; then
	for ag_c in agent.check agent.verifier; do
		ksight_skip "$ag_c" "no ksight in the payload (tests/vm/make-payload.sh)"
	done
	exit 0
fi
ksight_info "agent: $("$ag_bin" version 2>&1 | head -n1)"

# Last 200 characters of a file on one line (for details).
ag_tail() { tail -c 200 "$1" 2>/dev/null | tr '\n' ' '; }
# A JSON string or number field from the input lines: ag_field KEY (first match per line).
ag_field() { sed -n "s/.*\"$1\":\"\{0,1\}\([^\",}]*\).*/\1/p"; }

# --- ksight check --------------------------------------------------------------------
"$ag_bin" check >"$ag_d/check.out" 2>"$ag_d/check.err"
ag_rc=$?
sed 's/^/KSIGHT-INFO check: /' "$ag_d/check.out"
# Probe rows: after the "PROBE VERDICT DETAIL" header, lines that start in column 1.
awk '/^PROBE +VERDICT/ { t = 1; next } t && /^[a-z]/ { print }' "$ag_d/check.out" >"$ag_d/check.rows"
if [ "$ag_rc" = 0 ] && [ -s "$ag_d/check.rows" ]; then
	ksight_pass agent.check "$(head -n1 "$ag_d/check.out") rc=0 probes=$(awk '{ printf "%s%s=%s", s, $1, $2; s = " " }' "$ag_d/check.rows")"
else
	ksight_fail agent.check "rc=$ag_rc rows=$(wc -l <"$ag_d/check.rows") out=$(ag_tail "$ag_d/check.out") err=$(ag_tail "$ag_d/check.err")"
fi
while read -r ag_p ag_v ag_rest; do
	# The indented lines under a probe row explain it; keep them with the verdict.
	ag_more=$(awk -v p="$ag_p" '/^PROBE +VERDICT/ { t = 1; next }
		t && /^[a-z]/ { in_p = ($1 == p); next } t && in_p { sub(/^ +/, ""); printf "; %s", $0 }' "$ag_d/check.out")
	case $ag_v in
	ok) ksight_pass "agent.check.$ag_p" "$ag_v $ag_rest$ag_more" ;;
	*)
		# The probe's plan says its hooks exist on every supported kernel: not ok is a regression.
		if grep -q '^# vm-probe: every kernel' "$KSIGHT_PAYLOAD/plans/$ag_p.sh" 2>/dev/null; then
			ksight_fail "agent.check.$ag_p" "must run on every kernel of the matrix: $ag_v $ag_rest$ag_more"
			continue
		fi
		if [ -n "$ag_rest$ag_more" ]; then
			ksight_skip "agent.check.$ag_p" "$ag_v $ag_rest$ag_more"
		else
			ksight_fail "agent.check.$ag_p" "verdict $ag_v without a reason"
		fi
		;;
	esac
done <"$ag_d/check.rows"

# --- verifier: every probe the build ships loads or says why not ----------------------
ag_out=$ag_d/all.json
"$ag_bin" run --config /dev/null --output "$ag_out" --interval 1s --duration 2s 2>"$ag_d/all.err" &
ag_apid=$!
ksight_wait_until 90 ksight_gone "$ag_apid" || kill -KILL "$ag_apid" 2>/dev/null
wait "$ag_apid"
ag_arc=$?
sed 's/^/KSIGHT-INFO agent(all) stderr: /' "$ag_d/all.err" | head -n 40
# Per-probe verdicts from agent.status: the status object, minus details.
grep '"type":"agent.status"' "$ag_out" 2>/dev/null | sed 's/.*"status":{//' |
	grep '"probe":"' | grep -v '"probe":"agent"' >"$ag_d/all.status"
ag_bad="" ag_sum="" ag_seen=""
while read -r ag_l; do
	ag_p=$(echo "$ag_l" | ag_field probe)
	ag_s=$(echo "$ag_l" | ag_field state)
	ag_r=$(echo "$ag_l" | sed -n 's/.*"reason":"\([^"]*\)".*/\1/p')
	ag_seen="$ag_seen $ag_p"
	ag_h=$(echo "$ag_l" | ag_field hook)
	case $ag_s in
	attached)
		# A source the probe dropped after a load/attach error: "<source>":"failed: ...".
		ag_f=$(echo "$ag_l" | sed -n 's/.*"\([^"]*\)":"failed: \([^"]*\)".*/\1: \2/p' | cut -c1-120)
		if [ -n "$ag_f" ]; then
			ag_bad="$ag_bad $ag_p=attached-with-failed-source($ag_f)"
			ksight_table "$ag_p" "attached, a source failed"
		else
			ag_sum="$ag_sum $ag_p=attached${ag_h:+($ag_h)}"
			ksight_table "$ag_p" "attached${ag_h:+ $ag_h}"
		fi
		;;
	disabled)
		if [ -n "$ag_r" ]; then
			ag_sum="$ag_sum $ag_p=disabled($ag_r)"
		else
			ag_bad="$ag_bad $ag_p=disabled-without-reason"
		fi
		ksight_table "$ag_p" "disabled"
		;;
	*)
		ag_bad="$ag_bad $ag_p=$ag_s(${ag_r:-no reason})"
		ksight_table "$ag_p" "$ag_s"
		;;
	esac
done <"$ag_d/all.status"
# Every probe of the check table must have a verdict in the run.
while read -r ag_p ag_v ag_rest; do
	case " $ag_seen " in
	*" $ag_p "*) ;;
	*) ag_bad="$ag_bad $ag_p=no-agent.status" ;;
	esac
done <"$ag_d/check.rows"
if [ -z "$ag_seen" ]; then
	ksight_fail agent.verifier "no probe verdict in agent.status rc=$ag_arc err=$(ag_tail "$ag_d/all.err")"
elif [ -n "$ag_bad" ] || [ "$ag_arc" != 0 ]; then
	ksight_fail agent.verifier "rc=$ag_arc${ag_bad}${ag_sum} err=$(ag_tail "$ag_d/all.err")"
else
	ksight_pass agent.verifier "rc=0${ag_sum}"
fi
rm -rf "$ag_d"
:
