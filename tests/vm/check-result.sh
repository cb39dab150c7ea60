#!/bin/sh
# Exit status of one kernel x check cell of the last run-matrix.sh run, for ctest.
#
# Usage: tests/vm/check-result.sh LABEL CHECK     (e.g. 6.12 smoke.dma_fence.init)
# Reads $VM_BUILD/results/LABEL.txt (VM_BUILD default build/vm).
# Exit: 0 pass, 1 fail (or no result: the guest hung, crashed or never ran the check),
#       77 skip (ctest: set SKIP_RETURN_CODE 77). VM_MISSING_SKIP=1 turns "no results
#       file at all" (matrix not run) into 77 instead of 1.
label=${1:?usage: check-result.sh LABEL CHECK}
check=${2:?usage: check-result.sh LABEL CHECK}
file=${VM_BUILD:-build/vm}/results/$label.txt
if [ ! -f "$file" ]; then
	echo "check-result: no $file (run tests/vm/run-matrix.sh first)" >&2
	[ "${VM_MISSING_SKIP:-0}" = 1 ] && exit 77
	exit 1
fi
line=$(grep -F "KSIGHT-RESULT check=$check status=" "$file" | tail -n 1)
if [ -z "$line" ]; then
	echo "check-result: $label: no result for $check" >&2
	grep -E 'check=(guest|plan[.a-z0-9_-]*) status=fail' "$file" >&2
	exit 1
fi
echo "$line"
case $line in
*" status=pass "*) exit 0 ;;
*" status=skip "*) exit 77 ;;
*) exit 1 ;;
esac
