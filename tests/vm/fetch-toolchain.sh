#!/usr/bin/env bash
# Fetch a Debian suite's gcc, binutils and pahole without installing them: for building
# tests/vm/sched-module against a kernel whose compiler this machine (bookworm: gcc-12)
# does not have (6.12 was built with trixie's gcc-14, 7.x with sid's gcc-16).
#
# Usage: tests/vm/fetch-toolchain.sh SUITE GCC_MAJOR      (e.g. trixie 14, sid 16)
# Env:   VM_BUILD (default build/vm); fetch-kernels.sh must have written the suite's
#        private apt configuration ($VM_BUILD/apt/SUITE/) and package lists.
#
# Prints the toolchain directory T on stdout:
#   T/bin/gcc-N, T/bin/x86_64-linux-gnu-{as,ld,objcopy,...}, T/bin/pahole   wrappers
#   T/run PROGRAM ARGS...   runs any program of the suite (a kbuild host tool) with
#                           the suite's own glibc
# The packages (gcc-N, cpp-N, binutils-x86-64-linux-gnu, pahole and the libraries they
# depend on, without the sanitizer runtimes) are downloaded with `apt-get download`
# through the private apt configuration into T/debs/ and unpacked with `dpkg-deb -x` into
# T/root/; nothing is installed and the machine's apt configuration is never touched.
# Their glibc is newer than this machine's, so every program is started through the
# suite's dynamic loader with the suite's library directories (T/run); gcc gets
# -B T/libexec/, where cc1, collect2, lto1, lto-wrapper, as and ld are such wrappers too.
# A second run with the same arguments does nothing (T/.ksight-complete); downloaded
# .deb files are reused.
set -euo pipefail

suite=${1:?usage: fetch-toolchain.sh SUITE GCC_MAJOR}
major=${2:?usage: fetch-toolchain.sh SUITE GCC_MAJOR}
VM_BUILD=${VM_BUILD:-build/vm}
VM_BUILD=$(cd "$VM_BUILD" && pwd)
log() { printf 'fetch-toolchain: %s\n' "$*" >&2; }
die() {
	log "error: $*"
	exit 1
}

[[ $major =~ ^[0-9]+$ ]] || die "GCC_MAJOR '$major' is not a number"
t=$VM_BUILD/toolchain/$suite/gcc-$major
stamp=$t/.ksight-complete
# Contents of the stamp: the directory (the wrappers hold absolute paths) and the
# packages it was made from.
if [[ -f $stamp && $(head -n1 "$stamp") == "$t" ]]; then
	echo "$t"
	exit 0
fi

d=$VM_BUILD/apt/$suite
[[ -f $d/sources.list && -d $d/lists ]] ||
	die "no private apt config $d (run tests/vm/fetch-kernels.sh for a kernel of $suite first)"
command -v dpkg-deb >/dev/null || die "dpkg-deb not found"
opts=(-o "Dir::Etc::SourceList=$d/sources.list" -o Dir::Etc::SourceParts=/dev/null
	-o "Dir::State::Lists=$d/lists" -o "Dir::Cache=$d/cache" -o "Dir::State::status=$d/status"
	-o Dir::Etc::Preferences=/dev/null -o Dir::Etc::PreferencesParts=/dev/null
	-o APT::Architecture=amd64 -o Acquire::Retries=3 -o Debug::NoLocking=1)

# The packages: the closure of Depends/Pre-Depends (first alternative) of the roots, without
# following libgcc-N-dev (its dependencies are the sanitizer and OpenMP runtimes) and
# without the binutils metapackage and libcc1-0 (gcc plugins), which a kernel module
# build does not use.
roots=("gcc-$major" "cpp-$major" binutils-x86-64-linux-gnu pahole)
declare -A seen=([binutils]=1 [libcc1-0]=1)
pkgs=() todo=("${roots[@]}")
while ((${#todo[@]})); do
	follow=()
	for p in "${todo[@]}"; do
		[[ -n ${seen[$p]:-} ]] && continue
		seen[$p]=1
		pkgs+=("$p")
		[[ $p == libgcc-*-dev ]] || follow+=("$p")
	done
	((${#follow[@]})) || break
	mapfile -t todo < <(apt-cache "${opts[@]}" depends -i "${follow[@]}" 2>/dev/null |
		awk '$1 ~ /^\|?(Pre)?Depends:$/ { if (!alt && $2 !~ /^</) print $2; alt = ($1 ~ /^\|/) }' |
		sort -u)
done
for p in "${roots[@]}"; do
	apt-cache "${opts[@]}" show --no-all-versions "$p" >/dev/null 2>&1 ||
		die "$suite has no package $p (gcc-$major not in $suite, or stale lists in $d/lists)"
done

mkdir -p "$t/debs"
missing=()
for p in "${pkgs[@]}"; do
	compgen -G "$t/debs/${p}_*.deb" >/dev/null || missing+=("$p")
done
if ((${#missing[@]})); then
	log "$suite: downloading ${#missing[@]} packages (gcc-$major, binutils, pahole and libraries)"
	(cd "$t/debs" && timeout 900 apt-get "${opts[@]}" -q download "${missing[@]}" >>"$t/download.log" 2>&1) ||
		die "$suite: apt-get download failed (see $t/download.log)"
fi

rm -rf "${t:?}/root" "${t:?}/bin" "${t:?}/libexec" "${t:?}/run"
mkdir -p "$t/root" "$t/bin" "$t/libexec"
for p in "${pkgs[@]}"; do
	f=$(compgen -G "$t/debs/${p}_*.deb" | head -n1)
	dpkg-deb -x "$f" "$t/root" || die "dpkg-deb -x $f failed"
done
r=$t/root
loader=""
for f in "$r/usr/lib64/ld-linux-x86-64.so.2" "$r/lib64/ld-linux-x86-64.so.2" \
	"$r/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"; do
	if [[ -e $f ]]; then
		loader=$f
		break
	fi
done
[[ -n $loader ]] || die "no ld-linux-x86-64.so.2 in the unpacked libc6 of $suite"
libs=""
for l in "$r/usr/lib/x86_64-linux-gnu" "$r/lib/x86_64-linux-gnu"; do
	[[ -d $l ]] && libs+=${libs:+:}$l
done

is_elf() {
	local m=""
	[[ -f $1 ]] && LC_ALL=C read -r -N 4 m <"$1" 2>/dev/null
	[[ $m == $'\x7fELF' ]]
}
# wrap OUT PROGRAM [ARGS...]: OUT runs PROGRAM ARGS... "$@" with the suite's glibc.
wrap() {
	local out=$1
	shift
	printf '#!/bin/sh\nexec %s' "$t/run" >"$out"
	printf ' %q' "$@" >>"$out"
	printf ' "$@"\n' >>"$out"
	chmod +x "$out"
}
printf '#!/bin/sh\n# Runs a program of %s with its own glibc (tests/vm/fetch-toolchain.sh).\nexec %q --library-path %q "$@"\n' \
	"$suite" "$loader" "$libs" >"$t/run"
chmod +x "$t/run"
gexec=$r/usr/libexec/gcc/x86_64-linux-gnu/$major
[[ -x $gexec/cc1 ]] || die "no cc1 in $gexec (gcc-$major of $suite unpacked incompletely)"
for f in "$gexec"/*; do
	is_elf "$f" && wrap "$t/libexec/$(basename "$f")" "$f"
done
wrap "$t/libexec/as" "$r/usr/bin/x86_64-linux-gnu-as"
wrap "$t/libexec/ld" "$r/usr/bin/x86_64-linux-gnu-ld"
# Every program in usr/bin (symlinks resolved inside the unpacked tree); the compiler
# drivers find cc1 and as through -B.
for f in "$r"/usr/bin/*; do
	real=$(realpath -m "$f")
	if [[ $real != "$r"/* ]] || ! is_elf "$real"; then
		continue
	fi
	case $(basename "$f") in
	*gcc-"$major" | *cpp-"$major") wrap "$t/bin/$(basename "$f")" "$real" -B "$t/libexec/" ;;
	*) wrap "$t/bin/$(basename "$f")" "$real" ;;
	esac
done
for f in "gcc-$major" x86_64-linux-gnu-as x86_64-linux-gnu-ld x86_64-linux-gnu-objcopy pahole; do
	[[ -x $t/bin/$f ]] || die "no $f in the unpacked packages of $suite"
done

# Check that it runs: compile and assemble a file, and ask pahole its version.
printf 'int ksight_probe(int x) { return x + 1; }\n' >"$t/probe.c"
"$t/bin/gcc-$major" -O2 -c -o "$t/probe.o" "$t/probe.c" 2>"$t/probe.err" ||
	die "gcc-$major of $suite does not run here: $(head -n2 "$t/probe.err" | tr '\n' ' ')"
pv=$("$t/bin/pahole" --version 2>"$t/probe.err") ||
	die "pahole of $suite does not run here: $(head -n2 "$t/probe.err" | tr '\n' ' ')"
rm -f "$t/probe.c" "$t/probe.o" "$t/probe.err"
{
	echo "$t"
	for p in "${pkgs[@]}"; do
		basename "$(compgen -G "$t/debs/${p}_*.deb" | head -n1)"
	done
} >"$stamp"
log "$suite: gcc-$major ($("$t/bin/gcc-$major" -dumpfullversion)), $("$t/bin/x86_64-linux-gnu-as" --version | head -n1), pahole $pv in $t ($(du -sh "$t/debs" | cut -f1) of packages)"
echo "$t"
