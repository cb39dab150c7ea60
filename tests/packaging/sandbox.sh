#!/bin/sh
# Run a command inside an approximation of ksight.service's sandbox, without systemd:
# a private mount namespace where every mount is read-only except OUTDIR (ProtectSystem=strict,
# ProtectKernelTunables, ProtectControlGroups, ReadWritePaths), /proc/sys read-only,
# /proc/kallsyms and /proc/kcore hidden (ProtectKernelTunables; /dev/kmsg stays: the unit allows
# it for the gpu probe),
# then only the capabilities in CAPS (CapabilityBoundingSet) and no_new_privs (NoNewPrivileges).
# Usage: OUTDIR=DIR CAPS=+bpf,+perfmon,... unshare -m sh sandbox.sh COMMAND ARGS...
set -e
mount --make-rprivate /
mount --bind "$OUTDIR" "$OUTDIR"
for m in $(findmnt -rn -o TARGET | sort -u); do
	case $m in /proc | /proc/* | /dev | /dev/* | "$OUTDIR") continue ;; esac
	mount -o remount,bind,ro "$m" 2>/dev/null || true
done
mount --bind /proc/sys /proc/sys
mount -o remount,bind,ro /proc/sys
for f in /proc/kallsyms /proc/kcore; do
	[ ! -e "$f" ] || mount --bind /dev/null "$f"
done
exec setpriv --bounding-set "-all,$CAPS" --no-new-privs -- "$@"
