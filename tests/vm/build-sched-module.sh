#!/usr/bin/env bash
# Build tests/vm/sched-module (ksight_sched_test.ko: jobs through a real DRM scheduler)
# against Debian's linux-headers of one kernel of the matrix.
#
# Usage: tests/vm/build-sched-module.sh LABEL      (5.10, 6.1, 6.12 or 7.x: the scheduler
#                                                   APIs the module is written for)
# Env:   VM_BUILD (default build/vm); fetch-kernels.sh must have run for LABEL (it writes
#        $VM_BUILD/kernels.LABEL.tsv and the suite's private apt config).
#
# The headers come through the same private apt configuration as the kernels
# ($VM_BUILD/apt/<suite>/, never the machine's own): linux-headers-<kver>,
# linux-headers-<kver minus -amd64>-common and linux-kbuild-<major.minor> (up to 6.1;
# linux-kbuild-<kver minus -amd64> from 6.12 on), of the kernel's exact Debian version,
# unpacked under $VM_BUILD/headers/<kver>/. The compiler: the one the kernel was built with
# (CONFIG_CC_VERSION_TEXT) when installed (6.1: gcc-12, bookworm's); if it is older than
# gcc-12, gcc-12 (5.10 was built with gcc-10; a module this small builds and loads fine
# with 12); if newer (6.12: trixie's gcc-14, 7.x: sid's gcc-16, which bookworm lacks and
# its gcc-12 cannot replace), that gcc with its suite's binutils and pahole, fetched
# without installing them by tests/vm/fetch-toolchain.sh; the kbuild host tools of such a
# suite (modpost, objtool, resolve_btfids...) need its newer glibc too, so each is renamed
# <tool>.bin and replaced by a wrapper that runs it through the fetched toolchain's loader.
# Prints the path of the module on stdout.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
label=${1:?usage: build-sched-module.sh LABEL}
VM_BUILD=${VM_BUILD:-build/vm}
VM_BUILD=$(cd "$VM_BUILD" && pwd)
log() { printf 'build-sched-module: %s\n' "$*" >&2; }
die() {
	log "error: $*"
	exit 1
}

case $label in
5.10 | 6.1 | 6.12 | 7.x) ;;
*) die "label $label: the module is written for the drm_sched APIs of 5.10, 6.1, 6.12 and 7.x only" ;;
esac
tsv=$VM_BUILD/kernels.$label.tsv
[[ -f $tsv ]] || die "no $tsv (run tests/vm/fetch-kernels.sh $label first)"
IFS=$'\t' read -r _ suite kver pkgver _ _ <"$tsv"
out=$VM_BUILD/sched-module/$kver
ko=$out/ksight_sched_test.ko
if [[ -f $ko && $ko -nt $here/sched-module/ksight_sched_test.c && $ko -nt $here/sched-module/Kbuild ]]; then
	echo "$ko"
	exit 0
fi

d=$VM_BUILD/apt/$suite
[[ -f $d/sources.list ]] || die "no private apt config $d (run tests/vm/fetch-kernels.sh $label)"
opts=(-o "Dir::Etc::SourceList=$d/sources.list" -o Dir::Etc::SourceParts=/dev/null
	-o "Dir::State::Lists=$d/lists" -o "Dir::Cache=$d/cache" -o "Dir::State::status=$d/status"
	-o Dir::Etc::Preferences=/dev/null -o Dir::Etc::PreferencesParts=/dev/null
	-o APT::Architecture=amd64 -o Acquire::Retries=3 -o Debug::NoLocking=1)
mm=$(echo "$kver" | cut -d. -f1,2)
# linux-kbuild-6.1 (one per major.minor) up to bookworm; linux-kbuild-6.12.117+deb13 (one
# per upload) from trixie on: whichever the suite has.
kbuild=linux-kbuild-${kver%-amd64}
if ! apt-cache "${opts[@]}" show "$kbuild=$pkgver" >/dev/null 2>&1; then
	kbuild=linux-kbuild-$mm
	apt-cache "${opts[@]}" show "$kbuild=$pkgver" >/dev/null 2>&1 ||
		die "neither linux-kbuild-${kver%-amd64} nor $kbuild $pkgver in $suite (stale lists in $d/lists?)"
fi
pkgs=("linux-headers-$kver" "linux-headers-${kver%-amd64}-common" "$kbuild")
mkdir -p "$d/headers"
for p in "${pkgs[@]}"; do
	if ! compgen -G "$d/headers/${p}_${pkgver}_*.deb" >/dev/null; then
		log "downloading $p $pkgver"
		(cd "$d/headers" && timeout 600 apt-get "${opts[@]}" -q download "$p=$pkgver" >>"$d/headers.log" 2>&1) ||
			die "apt-get download $p=$pkgver failed (see $d/headers.log)"
	fi
done
hroot=$VM_BUILD/headers/$kver
hdir=$hroot/usr/src/linux-headers-$kver
if [[ ! -f $hroot/.ksight-complete ]]; then
	rm -rf "$hroot"
	mkdir -p "$hroot"
	for p in "${pkgs[@]}"; do
		dpkg-deb -x "$d/headers/${p}_${pkgver}_"*.deb "$hroot"
	done
	# The arch directory's Makefile includes the common one by its absolute /usr/src path
	# (and from 7.x on sets KBUILD_OUTPUT to its own).
	sed -i "s#^\(include \|KBUILD_OUTPUT=\)/usr/src/#\1$hroot/usr/src/#" "$hdir/Makefile"
	touch "$hroot/.ksight-complete"
fi
# The kernel's compiler: "x86_64-linux-gnu-gcc-14 (Debian 14.2.0-19) 14.2.0" -> gcc-14.
kcc=$(sed -n 's/^CONFIG_CC_VERSION_TEXT="\(x86_64-linux-gnu-\)\{0,1\}\(gcc-[0-9]*\) .*/\2/p' "$hdir/.config")
cc=${kcc:-gcc-12}
make_args=(CC="$cc")
if ! command -v "$cc" >/dev/null; then
	if ((${cc#gcc-} <= 12)); then
		command -v gcc-12 >/dev/null || die "neither $cc (the compiler of $kver) nor gcc-12 installed"
		log "$kver was built with $cc, not installed: using gcc-12"
		cc=gcc-12
		make_args=(CC="$cc")
	else
		tc=$("$here/fetch-toolchain.sh" "$suite" "${cc#gcc-}") ||
			die "$kver was built with $cc: could not fetch it from $suite (tests/vm/fetch-toolchain.sh)"
		# The kbuild host tools (ELF executables of linux-kbuild-*) run with the suite's glibc,
		# under their own name (the objtool and modpost dispatchers exec "$0.real-<arch>").
		while IFS= read -r -d '' f; do
			[[ $f == *.bin ]] && continue
			if [[ ! -e $f.bin ]]; then
				m=""
				LC_ALL=C read -r -N 4 m <"$f" 2>/dev/null || true
				[[ $m == $'\x7fELF' ]] || continue
				mv "$f" "$f.bin"
			fi
			printf '#!/bin/sh\nexec %q --argv0 %q %q "$@"\n' "$tc/run" "$f" "$f.bin" >"$f"
			chmod +x "$f"
		done < <(find "$hroot/usr/lib" -path '*/linux-kbuild-*' -type f -perm -u+x -print0)
		make_args=(CC="$tc/bin/$cc" CROSS_COMPILE="$tc/bin/x86_64-linux-gnu-" PAHOLE="$tc/bin/pahole")
		cc="$cc of $suite ($tc)"
	fi
fi
rm -rf "$out"
mkdir -p "$out"
cp "$here/sched-module/ksight_sched_test.c" "$here/sched-module/Kbuild" "$out/"
make -s -C "$hdir" M="$out" "${make_args[@]}" modules >"$out/build.log" 2>&1 ||
	die "module build failed: $(tail -n 5 "$out/build.log" | tr '\n' ' ')"
# A warning is an error here: the module must build cleanly against every API.
if grep -E -q 'warning:|error:' "$out/build.log"; then
	die "module built with warnings: $(grep -E -m 3 'warning:|error:' "$out/build.log" | tr '\n' ' ')"
fi
log "built $ko for $kver ($pkgver) with $cc"
echo "$ko"
