#!/usr/bin/env bash
# clang-format check (or --fix) over our sources, and clang-tidy over the
# agent with the build's compile_commands.json. vmlinux.h is excluded.
# Fails (never skips) when a tool or the compile database is missing: a lint
# that did not run must not read as clean. CI runs it (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."
fix=0
[[ ${1:-} == --fix ]] && fix=1
for tool in clang-format clang-tidy; do
	if ! command -v "$tool" >/dev/null; then
		echo "lint: $tool not found; install it: tools/install-deps.sh lint" >&2
		exit 1
	fi
done
mapfile -t files < <(git ls-files 'userspace/*.cc' 'userspace/*.h' 'tests/*.cc' 'tests/*.h' 'bpf/*.c' 'bpf/*.h' 'bench/*.c')
if ((fix)); then
	clang-format -i "${files[@]}"
	exit 0
fi
rc=0
clang-format --dry-run --Werror "${files[@]}" || rc=1
build=${BUILD:-build}
if [[ ! -f $build/compile_commands.json ]]; then
	echo "lint: no $build/compile_commands.json for clang-tidy; run make first" >&2
	exit 1
fi
mapfile -t srcs < <(git ls-files 'userspace/*.cc')
# One clang-tidy per few files, on every core; any finding fails (.clang-tidy: WarningsAsErrors).
printf '%s\n' "${srcs[@]}" | xargs -P "$(nproc)" -n 2 clang-tidy -p "$build" --quiet || rc=1
exit $rc
