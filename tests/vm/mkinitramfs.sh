#!/usr/bin/env bash
# Build the test guest's initramfs (a gzip'd newc cpio).
#
# Usage: tests/vm/mkinitramfs.sh --kernel-root DIR --kver VER --payload DIR --out FILE
#                                [--modules "vgem gpu-sched sch_netem"]
#
#   --kernel-root  directory holding lib/modules/VER (fetch-kernels.sh's <modules-root>);
#                  may be empty ("") for an initramfs without modules
#   --kver         the kernel release (uname -r) of that kernel
#   --payload      directory copied to /payload in the guest: the agent, triggers,
#                  plan.sh. Every dynamically linked ELF in it gets its shared
#                  libraries (as ldd resolves them on this host) copied in too.
#   --modules      modules to load in the guest, with their dependencies in
#                  `modprobe --show-depends` order (default: vgem gpu-sched sch_netem)
#
# The guest gets: busybox-static with all its applets, /init (guest-init.sh), the
# helper library /etc/ksight/lib.sh (guest-lib.sh), the modules decompressed under
# /lib/modules/VER/ and their load order in /etc/ksight/modules (lines
# "want <name>" per module asked for, "dep <name> <dependency>", and in load order
# "load <name> <path>", "builtin <name>" or "absent <name>").
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
kroot="" kver="" payload="" out="" modules="vgem gpu-sched sch_netem"
while (($#)); do
	case $1 in
	--kernel-root) kroot=$2; shift 2 ;;
	--kver) kver=$2; shift 2 ;;
	--payload) payload=$2; shift 2 ;;
	--out) out=$2; shift 2 ;;
	--modules) modules=$2; shift 2 ;;
	-h | --help)
		sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'
		exit 0
		;;
	*)
		echo "mkinitramfs: unknown argument '$1'" >&2
		exit 2
		;;
	esac
done
[[ -n $out ]] || { echo "mkinitramfs: --out is required" >&2; exit 2; }
[[ -z $kroot || -n $kver ]] || { echo "mkinitramfs: --kernel-root needs --kver" >&2; exit 2; }

log() { printf 'mkinitramfs: %s\n' "$*" >&2; }

busybox=${BUSYBOX:-/bin/busybox}
if ! file -L "$busybox" | grep -q 'statically linked'; then
	log "error: $busybox is not a static busybox (install busybox-static: tools/install-deps.sh vm)"
	exit 1
fi

mkdir -p "$(dirname "$out")"
stage=$(mktemp -d "$(dirname "$out")/.initramfs.XXXXXX")
trap 'rm -rf "$stage"' EXIT

mkdir -p "$stage"/{bin,sbin,usr/bin,usr/sbin,etc/ksight,proc,sys,dev,tmp,run,root,mnt,var/log,payload}
cp "$busybox" "$stage/bin/busybox"
# One link per applet at the path busybox expects (--list-full gives e.g. usr/bin/awk).
while read -r applet; do
	[[ -e $stage/$applet ]] && continue
	mkdir -p "$stage/$(dirname "$applet")"
	ln -s /bin/busybox "$stage/$applet"
done < <("$busybox" --list-full)
install -m 0755 "$here/guest-init.sh" "$stage/init"
install -m 0644 "$here/guest-lib.sh" "$stage/etc/ksight/lib.sh"
mknod -m 0600 "$stage/dev/console" c 5 1
mknod -m 0666 "$stage/dev/null" c 1 3
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$stage/etc/passwd"
printf 'root:x:0:\n' >"$stage/etc/group"
printf '127.0.0.1 localhost\n::1 localhost\n' >"$stage/etc/hosts"

# Modules: the dependency order modprobe would use, decompressed (busybox insmod and
# older kernels cannot read .ko.xz/.ko.zst).
: >"$stage/etc/ksight/modules"
if [[ -n $kroot ]]; then
	mdir=$kroot/lib/modules/$kver
	[[ -d $mdir ]] || { log "error: no $mdir"; exit 1; }
	declare -A seen=()
	for m in $modules; do
		echo "want ${m//-/_}" >>"$stage/etc/ksight/modules"
		if ! deps=$(modprobe -d "$kroot" -S "$kver" --show-depends "$m" 2>&1); then
			log "$kver: module $m not available: $deps"
			echo "absent ${m//-/_}" >>"$stage/etc/ksight/modules"
			continue
		fi
		while read -r kind path _; do
			case $kind in
			builtin)
				echo "builtin ${path//-/_}" >>"$stage/etc/ksight/modules"
				continue
				;;
			insmod) ;;
			*) continue ;;
			esac
			dname=$(basename "$path")
			dname=${dname%%.ko*}
			dname=${dname//-/_}
			[[ $dname != "${m//-/_}" ]] && echo "dep ${m//-/_} $dname" >>"$stage/etc/ksight/modules"
			[[ -n ${seen[$path]:-} ]] && continue
			seen[$path]=1
			rel=${path#"$kroot"/}
			rel=${rel#/}
			rel=${rel#usr/}
			dst=$stage/${rel%.xz}
			dst=${dst%.zst}
			dst=${dst%.gz}
			mkdir -p "$(dirname "$dst")"
			case $path in
			*.xz) xz -dc "$path" >"$dst" ;;
			*.zst) zstd -qdc "$path" >"$dst" ;;
			*.gz) gzip -dc "$path" >"$dst" ;;
			*) cp "$path" "$dst" ;;
			esac
			name=$(basename "$dst" .ko)
			echo "load ${name//-/_} /${dst#"$stage"/}" >>"$stage/etc/ksight/modules"
		done <<<"$deps"
	done
	for f in modules.builtin modules.order; do
		if [[ -f $mdir/$f && -d $stage/lib/modules/$kver ]]; then
			cp "$mdir/$f" "$stage/lib/modules/$kver/"
		fi
	done
fi

# Payload, plus the shared libraries of its dynamic executables.
if [[ -n $payload ]]; then
	[[ -d $payload ]] || { log "error: payload $payload is not a directory"; exit 1; }
	cp -a "$payload/." "$stage/payload/"
	declare -A libs=()
	while IFS= read -r -d '' f; do
		head -c 4 "$f" 2>/dev/null | grep -q $'\x7fELF' || continue
		file -L "$f" | grep -q 'dynamically linked' || continue
		while read -r lib; do
			libs[$lib]=1
		done < <(ldd "$f" 2>/dev/null | awk '/=> \// {print $3} /^[[:space:]]*\// {print $1}')
	done < <(find "$stage/payload" -type f -perm -u+x -print0)
	for lib in "${!libs[@]}"; do
		# Keep the path the loader looks up (e.g. /lib64/ld-linux-x86-64.so.2) and
		# copy the file it points to.
		mkdir -p "$stage/$(dirname "$lib")"
		cp -L "$lib" "$stage/$lib"
	done
	((${#libs[@]})) && log "copied ${#libs[@]} shared libraries for the payload"
fi

(cd "$stage" && find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc --quiet -R 0:0) |
	gzip -1 >"$out.tmp"
mv "$out.tmp" "$out"
log "wrote $out ($(du -h "$out" | cut -f1); kernel ${kver:-none}; modules: $(awk '$1 != "want" && $1 != "dep" {printf "%s%s(%s)", sep, $2, $1; sep=" "}' "$stage/etc/ksight/modules"))"
