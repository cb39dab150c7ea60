#!/usr/bin/env bash
# Install ksight's build and test dependencies from Debian bookworm packages.
# Idempotent: installs only what is missing; safe to run on every `make`.
# Usage: tools/install-deps.sh [--check] [build|test|lint|bench|vm|all]
set -euo pipefail

build_pkgs=(make cmake g++ clang llvm bpftool libbpf-dev libelf-dev zlib1g-dev
	libspdlog-dev libfmt-dev libcli11-dev libtomlplusplus-dev pkg-config linux-libc-dev
	libcpp-httplib-dev libsystemd-dev libcap-dev nlohmann-json3-dev)
test_pkgs=(libgtest-dev libgmock-dev python3 python3-jsonschema iproute2 nftables ethtool
	procps util-linux libclang-rt-14-dev dpkg-dev python3-yaml logrotate)
lint_pkgs=(clang-format clang-tidy)
vm_pkgs=(qemu-system-x86 busybox-static kmod xz-utils zstd cpio file gcc-12 make)
bench_pkgs=(libbpf-tools bpftrace python3)

check_only=0
if [[ ${1:-} == --check ]]; then
	check_only=1
	shift
fi
set_name=${1:-build}
case $set_name in
build) pkgs=("${build_pkgs[@]}") ;;
# CI (.ci/run) installs the test set and runs make lint: it includes the lint tools.
test) pkgs=("${build_pkgs[@]}" "${test_pkgs[@]}" "${lint_pkgs[@]}") ;;
lint) pkgs=("${build_pkgs[@]}" "${lint_pkgs[@]}") ;;
vm) pkgs=("${vm_pkgs[@]}") ;;
bench) pkgs=("${build_pkgs[@]}" "${bench_pkgs[@]}") ;;
all) pkgs=("${build_pkgs[@]}" "${test_pkgs[@]}" "${lint_pkgs[@]}" "${vm_pkgs[@]}" "${bench_pkgs[@]}") ;;
*)
	echo "install-deps: unknown set '$set_name' (use build, test, lint, vm, bench or all)" >&2
	exit 2
	;;
esac

missing=()
for p in "${pkgs[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
		missing+=("$p")
	fi
done
if ((${#missing[@]} == 0)); then
	exit 0
fi
if ((check_only)); then
	echo "missing packages: ${missing[*]}" >&2
	exit 1
fi
if [[ $(id -u) -ne 0 ]]; then
	echo "install-deps: missing packages (${missing[*]}); run as root: tools/install-deps.sh $set_name" >&2
	exit 1
fi
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# Refresh the package lists when they are missing or older than a day.
if [[ -z $(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -mmin -1440 2>/dev/null | head -1) ]]; then
	apt-get update -qq
fi
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
