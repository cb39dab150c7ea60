#!/usr/bin/env bash
# Fetch Debian's generic amd64 kernels for the compatibility matrix and unpack them.
#
# Usage: tests/vm/fetch-kernels.sh [LABEL...]        (labels: 5.10 6.1 6.12 7.x; default all)
# Env:   VM_BUILD       build dir (default build/vm)
#        VM_MIRROR      Debian mirror URL (default: the one this machine's apt sources use)
#        VM_APT_UPDATE  1 = always refresh the package lists, 0 = never (offline, cached
#                       lists only); default: refresh when older than VM_APT_MAX_AGE minutes
#        VM_APT_MAX_AGE default 1440
#        VM_KEYRING     default /usr/share/keyrings/debian-archive-keyring.gpg
#
# Prints one line per kernel on stdout:
#   kernel <suite> <kver> <path-to-vmlinuz> <modules-root>
# where <modules-root> is the directory that holds lib/modules/<kver>/ (give it to
# `modprobe -d` and to mkinitramfs.sh --kernel-root) and, where it could be extracted,
# <modules-root>/vmlinux: the uncompressed ELF kernel (PVH boot, faster under TCG; its
# .BTF section is the kernel's BTF, e.g. for bpftool). Progress goes to stderr. A manifest
# with the label and the Debian package version is written to $VM_BUILD/kernels.tsv.
#
# The machine's own apt configuration is never touched: every apt call runs with a
# private sources list, list directory and cache under $VM_BUILD/apt/<suite>/.
set -euo pipefail

VM_BUILD=${VM_BUILD:-build/vm}
mkdir -p "$VM_BUILD"
VM_BUILD=$(cd "$VM_BUILD" && pwd)
keyring=${VM_KEYRING:-/usr/share/keyrings/debian-archive-keyring.gpg}
max_age=${VM_APT_MAX_AGE:-1440}

# label -> suite. 6.12 comes from trixie (same kernel as bookworm-backports).
declare -A suite_of=([5.10]=bullseye [6.1]=bookworm [6.12]=trixie [7.x]=sid)
all_labels=(5.10 6.1 6.12 7.x)

log() { printf 'fetch-kernels: %s\n' "$*" >&2; }
die() {
	log "error: $*"
	exit 1
}

# The Debian mirror this machine already uses (deb822 or one-line format), minus
# the security archive.
detect_mirror() {
	local f url=""
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list; do
		[[ -r $f ]] || continue
		case $f in
		*.sources) url=$(awk '/^URIs:/ {for (i = 2; i <= NF; i++) print $i}' "$f" |
			grep -E '/debian/?$' | grep -v security | head -n1 || true) ;;
		*) url=$(awk '$1 == "deb" {for (i = 2; i <= NF; i++) if ($i ~ /^(https?|file):/) {print $i; break}}' "$f" |
			grep -E '/debian/?$' | grep -v security | head -n1 || true) ;;
		esac
		[[ -n $url ]] && break
	done
	printf '%s\n' "${url%/}"
}

mirror=${VM_MIRROR:-$(detect_mirror)}
[[ -n $mirror ]] || die "no Debian mirror found in /etc/apt/sources.list*; set VM_MIRROR"

# apt options for one suite: private sources, lists, cache; no host preferences.
apt_opts() {
	local d=$VM_BUILD/apt/$1
	printf '%s\n' \
		-o "Dir::Etc::SourceList=$d/sources.list" -o Dir::Etc::SourceParts=/dev/null \
		-o "Dir::State::Lists=$d/lists" -o "Dir::Cache=$d/cache" \
		-o "Dir::State::status=$d/status" -o Dir::Cache::pkgcache=pkgcache.bin \
		-o Dir::Etc::Preferences=/dev/null -o Dir::Etc::PreferencesParts=/dev/null \
		-o APT::Architecture=amd64 -o APT::Architectures::=amd64 \
		-o Acquire::Retries=3 -o Acquire::http::Timeout=60 -o Acquire::Languages=none \
		-o Debug::NoLocking=1
}

apt_update() {
	local suite=$1 d=$VM_BUILD/apt/$1 fresh=""
	mkdir -p "$d/lists/partial" "$d/cache/archives/partial" "$d/debs"
	: >"$d/status"
	printf 'deb [signed-by=%s] %s %s main\n' "$keyring" "$mirror" "$suite" >"$d/sources.list"
	if compgen -G "$d/lists/*Packages*" >/dev/null; then
		fresh=$(find "$d/lists" -maxdepth 1 -name '*Packages*' -mmin "-$max_age" | head -n1)
		case ${VM_APT_UPDATE:-auto} in
		0) return 0 ;;
		1) fresh="" ;;
		esac
		[[ -n $fresh ]] && return 0
	elif [[ ${VM_APT_UPDATE:-auto} == 0 ]]; then
		die "$suite: no cached package lists and VM_APT_UPDATE=0"
	fi
	log "$suite: apt-get update"
	mapfile -t opts < <(apt_opts "$suite")
	timeout 300 apt-get "${opts[@]}" -q update >"$d/update.log" 2>&1 ||
		die "$suite: apt-get update failed (see $d/update.log)"
}

# Newest kernel of a suite: prints "<style> <kver> <debian-version>".
# style "split" = linux-{base,binary,modules}-<kver> (sid, /usr/lib/modules),
# style "image" = linux-image-<kver>-unsigned (bullseye .. trixie, /boot).
pick_kernel() {
	local suite=$1 pkgs
	mapfile -t opts < <(apt_opts "$suite")
	mapfile -t pkgs < <(apt-cache "${opts[@]}" pkgnames linux- 2>/dev/null |
		grep -E '^linux-(image|binary)-[0-9][0-9.]*(-[0-9]+|[+]deb[0-9]+)?-amd64(-unsigned)?$' |
		grep -E '^linux-(image-.*-unsigned|binary-.*-amd64)$')
	((${#pkgs[@]})) || return 0
	# One apt-cache call for all candidates (each call re-reads the lists).
	apt-cache "${opts[@]}" show "${pkgs[@]}" 2>/dev/null |
		awk '/^Package:/ {p = $2} /^Version:/ {print $2, p}' |
		while read -r ver pkg; do
			case $pkg in
			linux-binary-*) printf '%s split %s\n' "$ver" "${pkg#linux-binary-}" ;;
			*)
				pkg=${pkg#linux-image-}
				printf '%s image %s\n' "$ver" "${pkg%-unsigned}"
				;;
			esac
		done | sort -V -k1,1 | tail -n1 | awk '{print $2, $3, $1}'
}

# The uncompressed ELF kernel inside a bzImage: QEMU boots it through its PVH entry
# (CONFIG_PVH, all of Debian's amd64 kernels), skipping the real-mode setup and the
# in-guest decompression, ~3 s of every TCG boot. Its .BTF section is the kernel's BTF.
extract_elf() {
	local bz=$1 out=$2 magic off tool
	for magic in '\x28\xb5\x2f\xfd:zstd' '\xfd\x37\x7a\x58\x5a\x00:xz' '\x1f\x8b\x08:gzip'; do
		tool=${magic##*:}
		while read -r off; do
			[[ -n $off ]] || continue
			tail -c "+$((off + 1))" "$bz" | "$tool" -dc 2>/dev/null >"$out.tmp" || true
			if [[ $(head -c 4 "$out.tmp" | od -An -tx1 | tr -d ' \n') == 7f454c46 ]] &&
				readelf -n "$out.tmp" 2>/dev/null | grep -q 'Xen'; then
				mv "$out.tmp" "$out"
				return 0
			fi
		done < <(LC_ALL=C grep -obUaP "${magic%:*}" "$bz" | cut -d: -f1 | head -n 5)
	done
	rm -f "$out.tmp"
	return 1
}

# Download and unpack one kernel; prints the "kernel ..." line.
fetch_one() {
	local label=$1 suite=${suite_of[$1]} d t0 pick style kver pkgver root vmlinuz pkgs p
	d=$VM_BUILD/apt/$suite
	t0=$EPOCHREALTIME
	apt_update "$suite"
	pick=$(pick_kernel "$suite")
	[[ -n $pick ]] || die "$suite: no generic amd64 kernel found"
	read -r style kver pkgver <<<"$pick"
	root=$VM_BUILD/kernels/$kver
	if [[ -f $root/.ksight-complete ]]; then
		log "$label: $suite $kver ($pkgver) cached"
	else
		case $style in
		split) pkgs=("linux-base-$kver" "linux-binary-$kver" "linux-modules-$kver") ;;
		image) pkgs=("linux-image-$kver-unsigned") ;;
		esac
		mapfile -t opts < <(apt_opts "$suite")
		for p in "${pkgs[@]}"; do
			if ! compgen -G "$d/debs/${p}_${pkgver//:/%3a}_*.deb" >/dev/null; then
				log "$label: downloading $p $pkgver"
				(cd "$d/debs" && timeout 900 apt-get "${opts[@]}" -q download "$p=$pkgver" >>"$d/download.log" 2>&1) ||
					die "$suite: apt-get download $p failed (see $d/download.log)"
			fi
		done
		rm -rf "$root.tmp"
		mkdir -p "$root.tmp"
		for p in "${pkgs[@]}"; do
			dpkg-deb -x "$d/debs/${p}_${pkgver//:/%3a}_"*.deb "$root.tmp"
		done
		# modprobe/depmod -d ROOT look under ROOT/lib/modules; merged-/usr packages
		# install under usr/lib/modules.
		if [[ ! -e $root.tmp/lib && -d $root.tmp/usr/lib/modules ]]; then
			ln -s usr/lib "$root.tmp/lib"
		fi
		# Debian's packages leave modules.dep to the postinst's depmod.
		depmod -b "$root.tmp" "$kver" || die "$kver: depmod failed"
		printf '%s %s %s\n' "$suite" "$kver" "$pkgver" >"$root.tmp/.ksight-complete"
		rm -rf "$root"
		mv "$root.tmp" "$root"
		log "$label: $suite $kver ($pkgver) unpacked in $(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN {printf "%.1f", b - a}') s"
	fi
	vmlinuz=""
	for p in "$root/boot/vmlinuz-$kver" "$root/usr/lib/modules/$kver/vmlinuz" "$root/lib/modules/$kver/vmlinuz"; do
		if [[ -f $p ]]; then
			vmlinuz=$p
			break
		fi
	done
	[[ -n $vmlinuz ]] || die "$kver: no vmlinuz in $root"
	if [[ ! -f $root/vmlinux && ! -f $root/.no-elf ]] && ! extract_elf "$vmlinuz" "$root/vmlinux"; then
		log "$kver: no ELF vmlinux with a PVH note in $vmlinuz; boots use the bzImage"
		touch "$root/.no-elf"
	fi
	printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$label" "$suite" "$kver" "$pkgver" "$vmlinuz" "$root" >"$VM_BUILD/kernels.$label.tsv"
	printf 'kernel %s %s %s %s\n' "$suite" "$kver" "$vmlinuz" "$root"
}

labels=("$@")
((${#labels[@]})) || labels=("${all_labels[@]}")
for l in "${labels[@]}"; do
	[[ -n ${suite_of[$l]:-} ]] || die "unknown kernel label '$l' (known: ${all_labels[*]})"
done

# Suites are fetched in parallel (network bound); each writes its line to a file so
# the output order is stable.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pids=()
for l in "${labels[@]}"; do
	fetch_one "$l" >"$tmp/$l.out" 2>"$tmp/$l.err" &
	pids+=($!)
done
rc=0
for i in "${!labels[@]}"; do
	wait "${pids[$i]}" || rc=1
	cat "$tmp/${labels[$i]}.err" >&2
	cat "$tmp/${labels[$i]}.out"
done
: >"$VM_BUILD/kernels.tsv"
for l in "${all_labels[@]}"; do
	[[ -f $VM_BUILD/kernels.$l.tsv ]] && cat "$VM_BUILD/kernels.$l.tsv" >>"$VM_BUILD/kernels.tsv"
done
exit $rc
