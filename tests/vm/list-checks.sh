#!/bin/sh
# Every check the VM matrix reports in each column, one per line, from the declarations:
#   - each "# vm-check: NAME" line of tests/vm/guest-init.sh and of every plan
#     tests/vm/plans/*.sh (a probe's checks live in its own plan, plans/<probe>.sh);
#   - agent.check.<probe> for each KSIGHT_PROBE(<probe>) line of userspace/probes/probes.inc
#     (plans/agent.sh reports the `ksight check` verdict of every probe of the build).
# tests/vm/CMakeLists.txt registers one ctest per kernel x check from this list, and
# run-matrix.sh fails when a plan reports a check that is not in it. A check declared twice
# is an error (exit 1): two plans would report into one ctest.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
list=$(
	sed -n 's/^# vm-check: \([a-z0-9_.-]*\)$/\1/p' "$here/guest-init.sh" "$here"/plans/*.sh
	sed -n 's/^KSIGHT_PROBE(\([a-z0-9_]*\))$/agent.check.\1/p' "$repo/userspace/probes/probes.inc"
)
dups=$(printf '%s\n' "$list" | sort | uniq -d)
if [ -n "$dups" ]; then
	echo "list-checks: declared more than once: $(echo "$dups" | tr '\n' ' ')" >&2
	exit 1
fi
printf '%s\n' "$list"
