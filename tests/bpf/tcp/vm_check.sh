#!/usr/bin/env bash
# vm_check.sh - the tcp_retransmit probe on every kernel of the VM matrix (5.10, 6.1,
# 6.12, 7.x): tests/vm/plans/tcp_retransmit.sh in QEMU guests through tests/vm/run-matrix.sh.
#
#   tests/bpf/tcp/vm_check.sh [BUILD_DIR] [LABELS]     (default: build "5.10 6.1 6.12 7.x")
#
# Needs the kernels fetched once (tests/vm/fetch-kernels.sh, or make test-kernels).
# Results: BUILD_DIR/vm/results/<label>.txt and the table run-matrix.sh prints.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../../.." && pwd)
build=$(cd "${1:-build}" && pwd)
labels=${2:-5.10 6.1 6.12 7.x}
payload=$build/vm-tcp-payload
"$repo/tests/vm/make-payload.sh" "$build" "$payload" >/dev/null
VM_BUILD=${VM_BUILD:-$build/vm} exec "$repo/tests/vm/run-matrix.sh" --payload "$payload" \
	--plans tcp_retransmit --labels "$labels"
