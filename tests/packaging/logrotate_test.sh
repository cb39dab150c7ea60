#!/usr/bin/env bash
# ctest package.logrotate: packaging/logrotate/ksight is inert as shipped (every line a
# comment), and once its block is uncommented, as the file says to do, logrotate accepts it and
# rotates for real: events.jsonl -> events.jsonl.1 (then .2.gz), a new events.jsonl 0640 root,
# and the postrotate script run once. The rotation runs on a copy in a temporary directory,
# with the postrotate command (SIGUSR1 to the agent) replaced by a marker so that no real
# process is signalled.
# Usage: logrotate_test.sh SOURCE_DIR. Root; exit 77 = skipped.
set -euo pipefail

src=$1
conf=$src/packaging/logrotate/ksight
passed=0
failed=0
check() {
	local what=$1
	shift
	if "$@"; then
		echo "ok:   $what"
		passed=$((passed + 1))
	else
		echo "FAIL: $what"
		failed=$((failed + 1))
	fi
}
# A missing tool or privilege: a skip, or a failure under CI=true (everything is installed there).
need() {
	[[ ${CI:-} == true ]] && { echo "FAIL: CI=true, cannot run: $*"; exit 1; }
	echo "SKIP: $*"
	exit 77
}
[[ $(id -u) -eq 0 ]] || need "needs root (logrotate's create 0640 root root)"
command -v logrotate >/dev/null || need "logrotate not installed (tools/install-deps.sh test)"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

check "as shipped, every line is a comment (off by default)" \
	test -z "$(grep -Ev '^(#|[[:space:]]*$)' "$conf")"
check "its postrotate sends SIGUSR1 to the agent" \
	grep -q 'systemctl kill --kill-whom=main --signal=USR1 ksight.service' "$conf"

# Uncomment the block (the lines that start with "#/", "#<tab>" or "#}"), point it at $tmp.
sed -nE 's/^#([/\t}].*)$/\1/p' "$conf" |
	sed -e "s#/var/log/ksight/#$tmp/#" \
		-e "s#^\(\t*\)systemctl kill .*#\1echo rotated >>$tmp/postrotate.log#" >"$tmp/ksight.conf"
check "the uncommented block names events.jsonl" grep -q "^$tmp/events.jsonl {" "$tmp/ksight.conf"
check "logrotate --debug accepts it" logrotate --debug --state "$tmp/state" "$tmp/ksight.conf"

echo '{"line":1}' >"$tmp/events.jsonl"
logrotate --force --state "$tmp/state" "$tmp/ksight.conf"
check "rotation 1: events.jsonl -> events.jsonl.1" grep -q '"line":1' "$tmp/events.jsonl.1"
check "rotation 1: a new empty events.jsonl, 0640 root:root" \
	test "$(stat -c '%a %U %G %s' "$tmp/events.jsonl")" = "640 root root 0"
check "rotation 1: postrotate ran once" test "$(cat "$tmp/postrotate.log")" = rotated
echo '{"line":2}' >>"$tmp/events.jsonl"
logrotate --force --state "$tmp/state" "$tmp/ksight.conf"
check "rotation 2: events.jsonl.1 is the newer file" grep -q '"line":2' "$tmp/events.jsonl.1"
check "rotation 2: the older one is events.jsonl.2.gz (delaycompress)" \
	grep -q '"line":1' <(zcat "$tmp/events.jsonl.2.gz")

echo "$passed passed, $failed failed"
((failed == 0))
