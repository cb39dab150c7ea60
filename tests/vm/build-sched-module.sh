#!/usr/bin/env bash
# Build tests/vm/sched-module (ksight_sched_test.ko: jobs through a real DRM scheduler)
# against Debian's linux-headers of one kernel of the matrix.
#
# Usage: tests/vm/build-sched-module.sh LABEL      (5.10 or 6.1: the scheduler APIs the
#                                                   module is written for)
# Env:   VM_BUILD (default build/vm); fetch-kernels.sh must have run for LABEL (it writes
#        $VM_BUILD/kernels.LABEL.tsv and the suite's private apt config).
#
# The headers come through the same private apt configuration as the kernels
# ($VM_BUILD/apt/<suite>/, never the machine's own): linux-headers-<kver>,
# linux-headers-<kver minus -amd64>-common and linux-kbuild-<major.minor>, of the kernel's
# exact Debian version, unpacked under $VM_BUILD/headers/<kver>/. The compiler: the one
# the kernel was built with when installed (6.1: gcc-12, bookworm's), else gcc-12 (5.10
# was built with gcc-10; a module this small builds and loads fine with 12).
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

[[ $label == 6.1 || $label == 5.10 ]] || die "label $label: the module is written for the drm_sched API of 5.10 and 6.1 only"
tsv=$VM_BUILD/kernels.$label.tsv
[[ -f $tsv ]] || die "no $tsv (run tests/vm/fetch-kernels.sh $label first)"
IFS=$'\t' read -r _ suite kver pkgver _ _ <"$tsv"
out=$VM_BUILD/sched-module/$kver
ko=$out/ksight_sched_test.ko
if [[ -f $ko && $ko -nt $here/sched-module/ksight_sched_test.c ]]; then
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
pkgs=("linux-headers-$kver" "linux-headers-${kver%-amd64}-common" "linux-kbuild-$mm")
mkdir -p "$d/headers"
for p in "${pkgs[@]}"; do
	if ! compgen -G "$d/headers/${p}_${pkgver}_*.deb" >/dev/null; then
		log "downloading $p $pkgver"
		(cd "$d/headers" && timeout 600 apt-get "${opts[@]}" -q download "$p=$pkgver" >>"$d/headers.log" 2>&1) ||
			die "apt-get download $p=$pkgver failed (see $d/headers.log)"
	fi
done
hroot=$VM_BUILD/headers/$kver
if [[ ! -f $hroot/.ksight-complete ]]; then
	rm -rf "$hroot"
	mkdir -p "$hroot"
	for p in "${pkgs[@]}"; do
		dpkg-deb -x "$d/headers/${p}_${pkgver}_"*.deb "$hroot"
	done
	# The arch directory's Makefile includes the common one by its absolute /usr/src path.
	sed -i "s#^include /usr/src/#include $hroot/usr/src/#" "$hroot/usr/src/linux-headers-$kver/Makefile"
	touch "$hroot/.ksight-complete"
fi
kcc=$(sed -n 's/^CONFIG_CC_VERSION_TEXT="\(x86_64-linux-gnu-\)\{0,1\}\(gcc-[0-9]*\) .*/\2/p' \
	"$hroot/usr/src/linux-headers-$kver/.config")
cc=${kcc:-gcc-12}
if ! command -v "$cc" >/dev/null; then
	command -v gcc-12 >/dev/null || die "neither $cc (the compiler of $kver) nor gcc-12 installed"
	log "$kver was built with $cc, not installed: using gcc-12"
	cc=gcc-12
fi
rm -rf "$out"
mkdir -p "$out"
cp "$here/sched-module/ksight_sched_test.c" "$here/sched-module/Kbuild" "$out/"
make -s -C "$hroot/usr/src/linux-headers-$kver" M="$out" CC="$cc" modules >"$out/build.log" 2>&1 ||
	die "module build failed: $(tail -n 5 "$out/build.log" | tr '\n' ' ')"
log "built $ko for $kver ($pkgver) with $cc"
echo "$ko"
