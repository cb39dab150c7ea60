#!/usr/bin/env bash
# clang-format check (or --fix) over our sources, and clang-tidy over the
# agent with the build's compile_commands.json. vmlinux.h is excluded.
set -euo pipefail
cd "$(dirname "$0")/.."
fix=0
[[ ${1:-} == --fix ]] && fix=1
mapfile -t files < <(git ls-files 'userspace/*.cc' 'userspace/*.h' 'tests/*.cc' 'tests/*.h' 'bpf/*.c' 'bpf/*.h' 'bench/*.c')
if ((fix)); then
	clang-format -i "${files[@]}"
	exit 0
fi
rc=0
clang-format --dry-run --Werror "${files[@]}" || rc=1
build=${BUILD:-build}
if [[ -f $build/compile_commands.json ]]; then
	mapfile -t srcs < <(git ls-files 'userspace/*.cc')
	clang-tidy -p "$build" --quiet "${srcs[@]}" || rc=1
else
	echo "lint: no $build/compile_commands.json; run make first for clang-tidy" >&2
fi
exit $rc
