#!/usr/bin/env bash
# Boot one kernel + initramfs in QEMU and print the guest's result lines.
#
# Usage: tests/vm/boot.sh --kernel VMLINUZ --initrd FILE --out DIR
#                         [--timeout SECS] [--mem MIB] [--smp N] [--append "ARGS"]
# VMLINUZ: a bzImage, or the uncompressed ELF vmlinux with a PVH note (faster to boot).
# Env:   VM_ACCEL  kvm | tcg (default: kvm when /dev/kvm really works, else tcg)
#        VM_TIMEOUT, VM_MEM, VM_SMP  defaults for the options (240, 1024, 1)
#
# Writes DIR/console.log (the guest's ttyS0: kernel log and init output),
# DIR/results.log (its ttyS1: only KSIGHT-* lines) and DIR/boot.txt (how it ran).
# Prints the KSIGHT-RESULT / KSIGHT-INFO / KSIGHT-DONE lines on stdout; when the guest
# never reached KSIGHT-DONE it adds "KSIGHT-RESULT check=guest status=fail ...".
# Exit status: 0 guest finished, 1 guest crashed or hung (killed at the timeout),
# 2 usage error.
set -euo pipefail

kernel="" initrd="" out="" append=""
timeout_s=${VM_TIMEOUT:-240} mem=${VM_MEM:-1024} smp=${VM_SMP:-1}
while (($#)); do
	case $1 in
	--kernel) kernel=$2; shift 2 ;;
	--initrd) initrd=$2; shift 2 ;;
	--out) out=$2; shift 2 ;;
	--timeout) timeout_s=$2; shift 2 ;;
	--mem) mem=$2; shift 2 ;;
	--smp) smp=$2; shift 2 ;;
	--append) append=$2; shift 2 ;;
	*)
		echo "boot: unknown argument '$1'" >&2
		exit 2
		;;
	esac
done
[[ -f $kernel && -f $initrd && -n $out ]] || {
	echo "usage: boot.sh --kernel VMLINUZ --initrd FILE --out DIR [--timeout S]" >&2
	exit 2
}
qemu=${QEMU:-qemu-system-x86_64}
command -v "$qemu" >/dev/null || {
	echo "boot: $qemu not found (tools/install-deps.sh vm)" >&2
	exit 2
}

# /dev/kvm can exist and still be unusable (nested virtualisation that fails at the
# first MSR write, as on this project's build VMs): start a paused machine to find out.
kvm_works() {
	[[ -r /dev/kvm && -w /dev/kvm ]] || return 1
	# The subshell keeps bash's "Aborted" job notice (QEMU asserts) off stderr.
	(echo quit | timeout 20 "$qemu" -accel kvm -cpu host -machine q35 -S -nodefaults \
		-display none -monitor stdio >/dev/null 2>&1) 2>/dev/null
}
accel=${VM_ACCEL:-}
if [[ -z $accel ]]; then
	if kvm_works; then accel=kvm; else accel=tcg; fi
fi
case $accel in
kvm) accel_args=(-accel kvm -cpu host) ;;
tcg) accel_args=(-accel "tcg,thread=multi" -cpu max) ;;
*)
	echo "boot: VM_ACCEL must be kvm or tcg" >&2
	exit 2
	;;
esac

mkdir -p "$out"
console=$out/console.log
results=$out/results.log
: >"$console"
: >"$results"

# quiet + loglevel keep the console readable; panic=-1 + -no-reboot end the VM if init
# dies; random.trust_cpu lets getrandom() work at once on 5.10 (no entropy source
# otherwise); the second serial port carries the results.
cmdline="console=ttyS0,115200 quiet loglevel=4 panic=-1 oops=panic random.trust_cpu=on"
cmdline+=" mitigations=off ksight.results=/dev/ttyS1 $append"

start=$EPOCHREALTIME
set +e
timeout -k 5 "$timeout_s" "$qemu" "${accel_args[@]}" -machine q35 -m "$mem" -smp "$smp" \
	-nodefaults -no-user-config -nographic -monitor none -no-reboot \
	-kernel "$kernel" -initrd "$initrd" -append "$cmdline" \
	-serial "file:$console" -serial "file:$results" \
	-nic none </dev/null >"$out/qemu.log" 2>&1
rc=$?
set -e
secs=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN {printf "%.1f", b - a}')
printf 'accel=%s rc=%s seconds=%s kernel=%s initrd=%s\n' "$accel" "$rc" "$secs" "$kernel" "$initrd" >"$out/boot.txt"

# Prefer the clean channel; fall back to the console if ttyS1 stayed empty.
src=$results
grep -q 'KSIGHT-' "$results" 2>/dev/null || src=$console
tr -d '\r' <"$src" | grep -a -o 'KSIGHT-[A-Z]*.*' >"$out/lines.txt" || true
cat "$out/lines.txt"

if grep -q '^KSIGHT-DONE' "$out/lines.txt"; then
	echo "KSIGHT-INFO boot accel=$accel seconds=$secs" | tee -a "$out/lines.txt"
	exit 0
fi
if ((rc == 124 || rc == 137)); then
	why="no KSIGHT-DONE: killed after ${timeout_s}s (accel=$accel)"
else
	why="no KSIGHT-DONE: qemu rc=$rc after ${secs}s; console: $(tr -d '\r"' <"$console" | grep -a -E 'panic|Oops|BUG|error|Kernel' | tail -n 3 | tr '\n' ' ' | cut -c1-200)"
fi
echo "KSIGHT-RESULT check=guest status=fail detail=\"$why\"" | tee -a "$out/lines.txt"
exit 1
