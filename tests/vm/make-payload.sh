#!/bin/sh
# Stage the agent payload for tests/vm/run-matrix.sh.
#
# Usage: tests/vm/make-payload.sh BUILD_DIR PAYLOAD_DIR
#   BUILD_DIR    a build tree (make BUILD=...): BUILD_DIR/ksight, BUILD_DIR/triggers/*
#   PAYLOAD_DIR  recreated: bin/ksight, bin/<every trigger program>
# Then: PAYLOAD=PAYLOAD_DIR tests/vm/run-matrix.sh, which adds every plan of tests/vm/plans/
# (shared libraries of the dynamic binaries are added to each initramfs by mkinitramfs.sh).
set -eu
build=${1:?usage: make-payload.sh BUILD_DIR PAYLOAD_DIR}
payload=${2:?usage: make-payload.sh BUILD_DIR PAYLOAD_DIR}

if [ ! -x "$build/ksight" ]; then
	echo "make-payload: no $build/ksight (build it first: make BUILD=$build)" >&2
	exit 1
fi
rm -rf "$payload"
mkdir -p "$payload/bin"
cp "$build/ksight" "$payload/bin/"
n=0
if [ -d "$build/triggers" ]; then
	for t in "$build"/triggers/*; do
		# Executable regular files only (no CMake leftovers).
		[ -f "$t" ] && [ -x "$t" ] || continue
		cp "$t" "$payload/bin/"
		n=$((n + 1))
	done
fi
echo "make-payload: $payload: ksight + $n trigger(s): $(ls "$payload/bin" | tr '\n' ' ')"
