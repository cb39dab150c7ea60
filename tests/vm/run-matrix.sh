#!/usr/bin/env bash
# Run the test plans on every kernel of the compatibility matrix and print a table.
#
# Usage: tests/vm/run-matrix.sh [--payload DIR] [--labels "5.10 6.1 6.12 7.x host"]
#                               [--plans "smoke ..."] [--jobs N] [--timeout SECS]
#                               [--report-only]
# Env (same meaning as the options): PAYLOAD, VM_LABELS, VM_PLANS, VM_JOBS, VM_TIMEOUT,
#   VM_REPORT_ONLY=1;
#   VM_BUILD (default build/vm), VM_PLAN_TIMEOUT (per plan, default 150 s) and
#   everything fetch-kernels.sh and boot.sh read (VM_MIRROR, VM_APT_UPDATE, VM_ACCEL...).
#
# Labels: 5.10 (bullseye), 6.1 (bookworm), 6.12 (trixie), 7.x (sid) boot Debian's
# kernels in QEMU; "host" runs the same plans directly on this machine (root needed).
#
# The payload directory (optional) is copied to /payload in each guest: the agent and
# anything it needs (shared libraries of dynamic ELF files are added automatically),
# extra triggers in bin/, extra plans in plans/. If it has its own plan.sh, that runs
# instead of the generated one. The generated /payload/plan.sh runs each plan
# (tests/vm/plans/<name>.sh, all of them by default, in name order) under a time limit.
# tests/triggers/vgem_fence.c is built statically into bin/ unless the payload has one;
# this machine's iproute2 tc and ip are copied into bin/ too (VM_HOST_TOOLS, "" for none);
# tests/vm/sched-module is built for the kernels in VM_SCHED_MODULE (default
# "5.10 6.1 6.12 7.x") into modules/<kver>/ (tests/vm/build-sched-module.sh; for 6.12 and
# 7.x it first fetches the kernel's gcc, binutils and pahole from trixie/sid without
# installing them: tests/vm/fetch-toolchain.sh, into $VM_BUILD/toolchain/).
#
# Output: $VM_BUILD/results/<label>.txt (the KSIGHT-* lines of that kernel),
# $VM_BUILD/results/table.txt (the tables printed at the end: check x kernel with
# pass/fail/skip, then probe x kernel with each probe's state and hook, its sources and
# the events seen vs expected, from the plans' KSIGHT-TABLE lines), and per kernel the
# console log under $VM_BUILD/runs/<label>/. Exit status 0 when no check failed, else 1;
# with --report-only 0 whenever the table was made (for a ctest fixture whose cells are
# judged one by one by check-result.sh).
# tests/vm/check-result.sh LABEL CHECK turns one cell into an exit status for ctest.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
export VM_BUILD=${VM_BUILD:-build/vm}
mkdir -p "$VM_BUILD"
VM_BUILD=$(cd "$VM_BUILD" && pwd)

payload=${PAYLOAD:-}
labels=${VM_LABELS:-5.10 6.1 6.12 7.x host}
plans=${VM_PLANS:-}
# One TCG guest keeps a host core busy; leave half the cores to everything else.
jobs=${VM_JOBS:-$(($(nproc) / 2))}
report_only=${VM_REPORT_ONLY:-0}
boot_timeout=${VM_TIMEOUT:-360}
plan_timeout=${VM_PLAN_TIMEOUT:-150}
while (($#)); do
	case $1 in
	--payload) payload=$2; shift 2 ;;
	--labels) labels=$2; shift 2 ;;
	--plans) plans=$2; shift 2 ;;
	--jobs) jobs=$2; shift 2 ;;
	--timeout) boot_timeout=$2; shift 2 ;;
	--report-only) report_only=1; shift ;;
	-h | --help)
		sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'
		exit 0
		;;
	*)
		echo "run-matrix: unknown argument '$1'" >&2
		exit 2
		;;
	esac
done
((jobs >= 1)) || jobs=1

log() { printf 'run-matrix: %s\n' "$*" >&2; }
now() { printf '%s' "$EPOCHREALTIME"; }
since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN {printf "%.1f", b - a}'; }
t_all=$(now)

results=$VM_BUILD/results
rm -rf "$results"
mkdir -p "$results" "$VM_BUILD/runs" "$VM_BUILD/initramfs"

vm_labels=() run_host=0
for l in $labels; do
	case $l in
	host) run_host=1 ;;
	*) vm_labels+=("$l") ;;
	esac
done

# 1. Kernels.
if ((${#vm_labels[@]})); then
	t=$(now)
	if ! timeout 1800 "$here/fetch-kernels.sh" "${vm_labels[@]}" >"$VM_BUILD/fetch.out"; then
		log "fetch-kernels failed for some kernels; those columns fail"
	fi
	log "kernels ready in $(since "$t") s"
	cat "$VM_BUILD/fetch.out" >&2
fi

# 2. Payload: user payload + plans + triggers + plan.sh.
stage=$VM_BUILD/payload
rm -rf "$stage"
mkdir -p "$stage/bin" "$stage/plans"
if [[ -n $payload ]]; then
	[[ -d $payload ]] || { log "payload $payload is not a directory"; exit 2; }
	cp -a "$payload/." "$stage/"
fi
for p in "$here"/plans/*.sh; do
	[[ -e $stage/plans/$(basename "$p") ]] || cp "$p" "$stage/plans/"
done
if [[ ! -x $stage/bin/vgem_fence ]]; then
	gcc -static -O2 -Wall -pthread -o "$stage/bin/vgem_fence" "$repo/tests/triggers/vgem_fence.c" ||
		log "could not build vgem_fence; its checks will skip"
fi
# iproute2's tc and ip for netem (busybox's tc has no netem, its ip no gso_max_segs);
# mkinitramfs.sh adds their shared libraries.
for t in ${VM_HOST_TOOLS-/usr/sbin/tc /usr/sbin/ip}; do
	[[ -x $t && ! -e $stage/bin/$(basename "$t") ]] && cp "$t" "$stage/bin/"
done
# The DRM scheduler test module (tests/vm/sched-module), built against Debian's headers
# for the kernels listed in VM_SCHED_MODULE (default "5.10 6.1 6.12 7.x", the APIs it is
# written for; "" for none): /payload/modules/<kver>/ksight_sched_test.ko. Without it the gpu
# plan's agent.gpu.job check skips.
for l in ${VM_SCHED_MODULE-5.10 6.1 6.12 7.x}; do
	[[ " ${vm_labels[*]} " == *" $l "* && -f $VM_BUILD/kernels.$l.tsv ]] || continue
	t=$(now)
	if ko=$("$here/build-sched-module.sh" "$l" 2>>"$VM_BUILD/sched-module.log"); then
		kv=$(cut -f3 "$VM_BUILD/kernels.$l.tsv")
		mkdir -p "$stage/modules/$kv"
		cp "$ko" "$stage/modules/$kv/"
		log "$l: DRM scheduler test module ready in $(since "$t") s"
	else
		log "$l: no DRM scheduler test module ($(tail -n1 "$VM_BUILD/sched-module.log")); agent.gpu.job skips"
	fi
done
if [[ -z $plans ]]; then
	plans=$(for p in "$stage"/plans/*.sh; do [[ -e $p ]] && basename "$p" .sh; done | tr '\n' ' ')
fi
if [[ ! -f $stage/plan.sh ]]; then
	{
		echo '#!/bin/sh'
		echo '# Generated by tests/vm/run-matrix.sh: runs each plan under a time limit.'
		echo '. "$KSIGHT_LIB"'
		echo 'rc=0'
		for p in $plans; do
			[[ -f $stage/plans/$p.sh ]] || { log "no plan $p"; exit 2; }
			cat <<-EOF
				ksight_info "plan $p start uptime=\$(cut -d' ' -f1 /proc/uptime)"
				timeout -s KILL $plan_timeout sh "\$KSIGHT_PAYLOAD/plans/$p.sh"
				r=\$?
				if [ \$r -ne 0 ]; then
				  ksight_fail plan.$p "exited \$r\$( [ \$r = 137 ] && echo ' (killed after ${plan_timeout}s)')"
				  rc=1
				fi
			EOF
		done
		echo 'exit $rc'
	} >"$stage/plan.sh"
	chmod +x "$stage/plan.sh"
fi
log "payload: $(du -sh "$stage" | cut -f1), plans: $plans"

# 3. One guest per kernel, at most $jobs at a time (TCG: one host core per guest).
run_kernel() {
	local label=$1 tsv=$VM_BUILD/kernels.$1.tsv out=$results/$1.txt run=$VM_BUILD/runs/$1
	local suite kver pkgver vmlinuz root t
	# Only a kernel that fetch-kernels.sh delivered in this run (kernels.<label>.tsv may
	# be left over from an earlier one).
	if [[ ! -f $tsv ]] || ! grep -qF " $(cut -f3 "$tsv") " "$VM_BUILD/fetch.out"; then
		echo "KSIGHT-RESULT check=guest status=fail detail=\"kernel $label not available (fetch-kernels failed)\"" >"$out"
		return
	fi
	IFS=$'\t' read -r _ suite kver pkgver vmlinuz root <"$tsv"
	# The uncompressed ELF boots ~3 s faster under TCG (PVH entry); VM_PVH=0 for bzImage.
	[[ ${VM_PVH:-1} == 1 && -f $root/vmlinux ]] && vmlinuz=$root/vmlinux
	rm -rf "$run"
	mkdir -p "$run"
	t=$(now)
	if ! "$here/mkinitramfs.sh" --kernel-root "$root" --kver "$kver" --payload "$stage" \
		--out "$VM_BUILD/initramfs/$label.cpio.gz" 2>"$run/mkinitramfs.log"; then
		echo "KSIGHT-RESULT check=guest status=fail detail=\"mkinitramfs failed: $(tail -n1 "$run/mkinitramfs.log" | tr -d '"')\"" >"$out"
		return
	fi
	{
		echo "KSIGHT-KERNEL label=$label suite=$suite kver=$kver version=$pkgver"
		"$here/boot.sh" --kernel "$vmlinuz" --initrd "$VM_BUILD/initramfs/$label.cpio.gz" \
			--out "$run" --timeout "$boot_timeout" --append "ksight.plan_timeout=$((boot_timeout - 30))" ||
			true
	} >"$out.tmp" 2>"$run/boot.err"
	mv "$out.tmp" "$out"
	log "$label: $kver done in $(since "$t") s ($(grep -c 'status=pass' "$out") pass, $(grep -c 'status=fail' "$out") fail, $(grep -c 'status=skip' "$out") skip)"
}

run_host() {
	local out=$results/host.txt t rc m
	t=$(now)
	mkdir -p "$VM_BUILD/runs/host"
	{
		echo "KSIGHT-KERNEL label=host suite=host kver=$(uname -r) version=$(uname -v | tr ' ' '_')"
		if [[ $(id -u) -ne 0 ]]; then
			echo "KSIGHT-RESULT check=guest status=skip detail=\"host plans need root\""
		else
			# The checks guest-init.sh makes, as far as they mean something here, so
			# every column has the same rows.
			(
				# shellcheck source=tests/vm/guest-lib.sh
				. "$here/guest-lib.sh"
				ksight_skip boot "host column: no VM"
				if grep -q ' /sys/kernel/tracing tracefs ' /proc/mounts; then
					ksight_pass mount.tracefs /sys/kernel/tracing
				else
					ksight_skip mount.tracefs "not mounted on this host"
				fi
				if grep -q ' bpf ' /proc/mounts; then
					ksight_pass mount.bpffs "$(awk '$3 == "bpf" {print $2; exit}' /proc/mounts)"
				else
					ksight_skip mount.bpffs "not mounted on this host"
				fi
				if ip addr show lo 2>/dev/null | grep -q 'inet 127'; then
					ksight_pass net.lo "lo up"
				else
					ksight_skip net.lo "lo down on this host"
				fi
				for m in vgem gpu_sched sch_netem; do
					if [[ -d /sys/module/$m ]]; then
						ksight_pass "module.$m" "present on the host"
					else
						ksight_skip "module.$m" "not in the host kernel (run-matrix does not load modules here)"
					fi
				done
			)
			set +e
			(cd "$VM_BUILD/runs/host" &&
				KSIGHT_MODE=host KSIGHT_PAYLOAD=$stage KSIGHT_LIB=$here/guest-lib.sh KSIGHT_RESULTS="" \
					PATH="$stage/bin:$stage:$PATH" timeout -s KILL "$boot_timeout" sh "$stage/plan.sh") \
				>"$VM_BUILD/runs/host/plan.out" 2>"$VM_BUILD/runs/host/plan.err"
			rc=$?
			set -e
			grep -a '^KSIGHT-' "$VM_BUILD/runs/host/plan.out" || true
			if ((rc == 0)); then
				echo "KSIGHT-RESULT check=plan status=pass detail=\"plan.sh finished\""
			else
				echo "KSIGHT-RESULT check=plan status=fail detail=\"plan.sh exited $rc\""
			fi
			echo "KSIGHT-DONE host seconds=$(since "$t")"
		fi
	} >"$out.tmp"
	mv "$out.tmp" "$out"
	log "host: $(uname -r) done in $(since "$t") s"
}

running=0
for l in "${vm_labels[@]}"; do
	if ((running >= jobs)); then
		wait -n || true
		running=$((running - 1))
	fi
	run_kernel "$l" &
	running=$((running + 1))
done
wait || true
((run_host)) && run_host

# 4. Table: one row per check (in order of first appearance), one column per kernel.
cols=()
for l in $labels; do
	[[ -f $results/$l.txt ]] && cols+=("$l")
done
set +e # the awk exits 1 when a cell failed; PIPESTATUS carries it on
awk -v cols="${cols[*]}" -v dir="$results" '
	BEGIN {
		nc = split(cols, col, " ")
		for (c = 1; c <= nc; c++) {
			f = dir "/" col[c] ".txt"
			while ((getline line < f) > 0) {
				if (line ~ /^KSIGHT-KERNEL /) {
					match(line, /kver=[^ ]*/); kv[c] = substr(line, RSTART + 5, RLENGTH - 5)
				}
				if (line ~ /^KSIGHT-INFO boot /) {
					match(line, /seconds=[^ ]*/); secs[c] = substr(line, RSTART + 8, RLENGTH - 8) "s"
				}
				if (line ~ /^KSIGHT-DONE host/) {
					match(line, /seconds=[^ ]*/); secs[c] = substr(line, RSTART + 8, RLENGTH - 8) "s"
				}
				if (line !~ /^KSIGHT-RESULT /) continue
				match(line, /check=[^ ]*/); chk = substr(line, RSTART + 6, RLENGTH - 6)
				match(line, /status=[^ ]*/); st = substr(line, RSTART + 7, RLENGTH - 7)
				if (!(chk in seen)) { seen[chk] = 1; order[++n] = chk }
				if (st == "fail") { st = "FAIL"; fails++ }
				cell[chk, c] = st
			}
			close(f)
		}
		w = 10
		for (i = 1; i <= n; i++) if (length(order[i]) > w) w = length(order[i])
		printf "%-" w "s", "check"
		for (c = 1; c <= nc; c++) printf "  %-8s", col[c]
		printf "\n%-" w "s", "(seconds)"
		for (c = 1; c <= nc; c++) printf "  %-8s", secs[c]
		printf "\n"
		for (i = 1; i <= n; i++) {
			printf "%-" w "s", order[i]
			for (c = 1; c <= nc; c++) {
				v = cell[order[i], c]
				printf "  %-8s", (v == "" ? "-" : v)
			}
			printf "\n"
		}
		printf "\n%d failed cell(s)\n", fails
		exit fails > 0
	}' | tee "$results/table.txt"
rc=${PIPESTATUS[0]}
# 5. The probe table: kernel x probe, from the plans' KSIGHT-TABLE cells: each probe's
# agent.status (state and hook), each source's verdict and events seen/expected.
awk -v cols="${cols[*]}" -v dir="$results" '
	BEGIN {
		nc = split(cols, col, " ")
		for (c = 1; c <= nc; c++) {
			f = dir "/" col[c] ".txt"
			while ((getline line < f) > 0) {
				if (line !~ /^KSIGHT-TABLE row=/) continue
				match(line, /row=[^ ]*/); row = substr(line, RSTART + 4, RLENGTH - 4)
				v = line; sub(/^[^"]*"/, "", v); sub(/"[^"]*$/, "", v)
				if (!(row in seen)) { seen[row] = 1; order[++n] = row }
				cell[row, c] = v
			}
			close(f)
		}
		if (!n) exit
		# Rows sorted by name: a probe, then its "<probe>/<item>" rows.
		for (i = 2; i <= n; i++) {
			r = order[i]
			for (j = i - 1; j >= 1 && order[j] > r; j--) order[j + 1] = order[j]
			order[j + 1] = r
		}
		w = 14
		for (i = 1; i <= n; i++) {
			lab[i] = order[i]
			if (index(lab[i], "/")) lab[i] = "  " substr(lab[i], index(lab[i], "/") + 1)
			if (length(lab[i]) > w) w = length(lab[i])
		}
		for (c = 1; c <= nc; c++) {
			cw[c] = length(col[c])
			for (i = 1; i <= n; i++) if (length(cell[order[i], c]) > cw[c]) cw[c] = length(cell[order[i], c])
		}
		printf "\n%-" w "s", "probe / events"
		for (c = 1; c <= nc; c++) printf "  %-" cw[c] "s", col[c]
		printf "\n"
		for (i = 1; i <= n; i++) {
			printf "%-" w "s", lab[i]
			for (c = 1; c <= nc; c++) {
				v = cell[order[i], c]
				printf "  %-" cw[c] "s", (v == "" ? "-" : v)
			}
			printf "\n"
		}
		printf "(events: seen by the agent / expected from an independent count; n/a: no such kernel feature)\n"
	}' | tee -a "$results/table.txt"
set -e
((report_only)) && rc=0
for l in "${cols[@]}"; do
	grep -h '^KSIGHT-KERNEL' "$results/$l.txt" 2>/dev/null | sed 's/^KSIGHT-KERNEL /kernel: /'
done | tee -a "$results/table.txt"
# Rows no plan declares (tests/vm/list-checks.sh, the list ctest registers): a result nobody
# would see. It fails the run, --report-only or not.
declared=$("$here/list-checks.sh") || rc=1
unlisted=$(for l in "${cols[@]}"; do cat "$results/$l.txt"; done | sed -n 's/^KSIGHT-RESULT check=\([^ ]*\) .*/\1/p' |
	grep -v -E '^(guest|plan\..*)$' | sort -u | grep -vxF -f <(echo "$declared") || true)
if [[ -n $unlisted ]]; then
	echo "run-matrix: checks no plan declares (add a '# vm-check: NAME' line to the plan): $(echo "$unlisted" | tr '\n' ' ')" |
		tee -a "$results/table.txt" >&2
	rc=1
fi
echo "matrix: $(since "$t_all") s in all; results in $results" | tee -a "$results/table.txt"
exit "$rc"
