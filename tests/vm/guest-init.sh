#!/bin/sh
# /init of the test guest (busybox ash). Mounts the pseudo file systems, brings up lo,
# loads the modules listed in /etc/ksight/modules, runs /payload/plan.sh under a time
# limit, prints "KSIGHT-DONE" and powers off. Every check prints one
# "KSIGHT-RESULT check=... status=pass|fail|skip detail=..." line on the console and,
# when the kernel command line has ksight.results=/dev/ttySN, on that serial port too
# (a channel without kernel messages interleaved; boot.sh reads it).
#
# Kernel command line knobs: ksight.results=DEV, ksight.plan_timeout=SECONDS (180),
# ksight.shell=1 (start a shell instead of powering off; for debugging by hand).

# Checks it reports, one per line (tests/vm/list-checks.sh registers them with ctest):
# vm-check: boot
# vm-check: mount.tracefs
# vm-check: mount.bpffs
# vm-check: net.lo
# vm-check: module.vgem
# vm-check: module.gpu_sched
# vm-check: module.sch_netem
# vm-check: plan

PATH=/payload/bin:/payload:/bin:/sbin:/usr/bin:/usr/sbin
export PATH
umask 022

mount -t proc -o nosuid,nodev,noexec proc /proc
mount -t sysfs -o nosuid,nodev,noexec sysfs /sys
mount -t devtmpfs -o nosuid devtmpfs /dev 2>/dev/null
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts 2>/dev/null
mount -t tmpfs -o mode=1777 tmpfs /dev/shm 2>/dev/null
mount -t tmpfs -o mode=1777 tmpfs /tmp
mount -t tmpfs -o mode=0755 tmpfs /run

KSIGHT_MODE=guest
KSIGHT_PAYLOAD=/payload
KSIGHT_LIB=/etc/ksight/lib.sh
KSIGHT_RESULTS=""
plan_timeout=180
want_shell=0
for arg in $(cat /proc/cmdline); do
	case $arg in
	ksight.results=*) KSIGHT_RESULTS=${arg#ksight.results=} ;;
	ksight.plan_timeout=*) plan_timeout=${arg#ksight.plan_timeout=} ;;
	ksight.shell=1) want_shell=1 ;;
	esac
done
if [ -n "$KSIGHT_RESULTS" ] && [ -c "$KSIGHT_RESULTS" ]; then
	# Raw, so the host sees exactly the bytes written.
	stty -F "$KSIGHT_RESULTS" raw -echo 115200 2>/dev/null
else
	KSIGHT_RESULTS=""
fi
export KSIGHT_MODE KSIGHT_PAYLOAD KSIGHT_LIB KSIGHT_RESULTS
# shellcheck source=tests/vm/guest-lib.sh
. "$KSIGHT_LIB"

# Keep kernel chatter (module loads, audit) off the console; warnings still show.
echo 4 >/proc/sys/kernel/printk 2>/dev/null

ksight_emit "KSIGHT-BEGIN kernel=$(uname -r)"
ksight_pass boot "$(uname -r) $(uname -m) $(nproc) cpu(s), init at $(cut -d' ' -f1 /proc/uptime)s"

# tracefs: its own mount point since 4.1; older layouts only under debugfs.
mount -t debugfs -o nosuid,nodev,noexec debugfs /sys/kernel/debug 2>/dev/null
if mount -t tracefs -o nosuid,nodev,noexec tracefs /sys/kernel/tracing 2>/tmp/err; then
	ksight_pass mount.tracefs "/sys/kernel/tracing"
elif [ -d /sys/kernel/debug/tracing/events ]; then
	ksight_pass mount.tracefs "only under debugfs: $(cat /tmp/err)"
else
	ksight_fail mount.tracefs "$(cat /tmp/err)"
fi
mkdir -p /sys/fs/bpf 2>/dev/null
if mount -t bpf -o nosuid,nodev,noexec,mode=0700 bpf /sys/fs/bpf 2>/tmp/err; then
	ksight_pass mount.bpffs "/sys/fs/bpf"
else
	ksight_fail mount.bpffs "$(cat /tmp/err)"
fi

hostname ksight-guest 2>/dev/null
if ip link set lo up 2>/tmp/err && ip addr show lo | grep -q 'inet 127'; then
	ksight_pass net.lo "lo up"
else
	ksight_fail net.lo "$(cat /tmp/err)"
fi

# Modules, in the order mkinitramfs.sh took from modprobe --show-depends. One result
# per module that was asked for (module.<name>); dependencies show up in its detail.
if [ -s /etc/ksight/modules ]; then
	: >/tmp/insmod.log
	while read -r kind name path; do
		case $kind in
		load)
			[ -d "/sys/module/$name" ] && continue
			if err=$(insmod "$path" 2>&1); then
				echo "$name ok" >>/tmp/insmod.log
			else
				echo "$name failed: $err" >>/tmp/insmod.log
				ksight_info "insmod $name failed: $err"
			fi
			;;
		esac
	done </etc/ksight/modules
	while read -r kind name path; do
		case $kind in
		want)
			deps=$(awk -v m="$name" '$1 == "dep" && $2 == m {printf "%s%s", sep, $3; sep=","}' /etc/ksight/modules)
			if ksight_have_module "$name"; then
				if grep -q "^$name " /proc/modules; then
					ksight_pass "module.$name" "loaded${deps:+ with $deps}"
				else
					ksight_pass "module.$name" "built in"
				fi
			elif grep -q "^builtin $name\$" /etc/ksight/modules; then
				# Built-in modules without parameters have no /sys/module entry.
				ksight_pass "module.$name" "built in"
			elif grep -q "^absent $name\$" /etc/ksight/modules; then
				ksight_skip "module.$name" "not shipped with this kernel"
			else
				ksight_fail "module.$name" "$(grep -E "failed" /tmp/insmod.log | tr '\n' ';')"
			fi
			;;
		esac
	done </etc/ksight/modules
fi

# BTF: vmlinux, and which loaded modules carry their own (none on 5.10).
if [ -e /sys/kernel/btf/vmlinux ]; then
	btf_mods=""
	for f in /sys/kernel/btf/*; do
		[ "${f##*/}" = vmlinux ] || btf_mods="$btf_mods${btf_mods:+,}${f##*/}"
	done
	ksight_info "btf vmlinux=yes modules=$btf_mods"
else
	ksight_info "btf vmlinux=no"
fi

plan_rc=none
if [ -f "$KSIGHT_PAYLOAD/plan.sh" ]; then
	ksight_info "plan start uptime=$(cut -d' ' -f1 /proc/uptime)"
	(cd /tmp && timeout -s KILL "$plan_timeout" sh "$KSIGHT_PAYLOAD/plan.sh")
	plan_rc=$?
	if [ "$plan_rc" = 0 ]; then
		ksight_pass plan "plan.sh finished at uptime $(cut -d' ' -f1 /proc/uptime)s"
	elif [ "$plan_rc" = 137 ]; then
		ksight_fail plan "plan.sh killed after ${plan_timeout}s"
	else
		ksight_fail plan "plan.sh exited $plan_rc"
	fi
fi

ksight_emit "KSIGHT-DONE uptime=$(cut -d' ' -f1 /proc/uptime) plan_rc=$plan_rc"
if [ "$want_shell" = 1 ]; then
	setsid cttyhack sh
fi
sync
poweroff -f
# Should poweroff fail, exiting init panics the kernel; with panic=-1 and QEMU's
# -no-reboot that ends the VM too.
exit 1
