#!/usr/bin/env bash
# ctest package.deb: build the .deb, check what is in it, install it for real with dpkg, run the
# installed agent, then remove and purge it and check that nothing is left behind.
# Usage: deb_test.sh SOURCE_DIR BUILD_DIR. Root (dpkg -i); exit 77 = skipped (ctest SKIP).
set -euo pipefail

src=$1
build=$2
passed=0
failed=0
ok() {
	echo "ok:   $*"
	passed=$((passed + 1))
}
bad() {
	echo "FAIL: $*"
	failed=$((failed + 1))
}
check() { # check "what" command...
	local what=$1
	shift
	if "$@"; then ok "$what"; else bad "$what"; fi
}
quiet() { "$@" >/dev/null 2>&1; }
# dpkg, waiting while another dpkg or apt holds the lock (a shared machine installing packages).
dpkg_wait() {
	local _ out
	for _ in $(seq 1 150); do
		if out=$(dpkg "$@" 2>&1); then
			echo "$out"
			return 0
		fi
		grep -q "lock" <<<"$out" || break
		sleep 2
	done
	echo "$out"
	return 1
}
skip() {
	echo "SKIP: $*"
	exit 77
}
# A missing tool or privilege: a skip, or a failure under CI=true (everything is installed there).
need() {
	[[ ${CI:-} == true ]] && { echo "FAIL: CI=true, cannot run: $*"; exit 1; }
	skip "$@"
}

[[ $(id -u) -eq 0 ]] || need "needs root: it installs the package with dpkg -i"
for tool in dpkg-deb dpkg-shlibdeps python3; do
	command -v "$tool" >/dev/null || need "$tool not found (tools/install-deps.sh test)"
done
state=$(dpkg-query -W -f='${db:Status-Abbrev}' ksight 2>/dev/null || true)
if [[ -n ${state// /} && $state != un* ]]; then
	skip "a ksight package is already on this machine (dpkg status '$state', version" \
		"$(dpkg-query -W -f='${Version}' ksight)); this test installs and purges its own," \
		"so it leaves that one alone: purge it (dpkg --purge ksight) to run the test"
fi

tmp=$(mktemp -d)
masked=0
# A config or events left by a run from source are not the package's: keep them aside (same
# file system, a rename) while the package comes and goes, and put them back afterwards.
saved=()
for dir in /etc/ksight /var/log/ksight; do
	if [[ -e $dir ]]; then
		mv "$dir" "$dir.before-package-test.$$"
		saved+=("$dir")
	fi
done
cleanup() {
	dpkg_wait --purge ksight >/dev/null 2>&1 || true
	if ((masked)); then systemctl unmask --runtime ksight.service >/dev/null 2>&1 || true; fi
	for dir in "${saved[@]}"; do
		rm -rf "$dir"
		mv "$dir.before-package-test.$$" "$dir"
	done
	rm -rf "$tmp"
}
trap cleanup EXIT

# --- build ---
deb=$("$src/packaging/deb/build-deb.sh" "$build")
[[ -f $deb ]] || {
	echo "FAIL: build-deb.sh made no package"
	exit 1
}
echo "package: $deb"
agent_version=$("$build/ksight" version | awk '{ print $2 }')

# --- what is in it ---
field() { dpkg-deb --field "$deb" "$1"; }
check "Package is ksight" test "$(field Package)" = ksight
check "Version $(field Version) is the agent's $agent_version plus a Debian revision" \
	test "${agent_version}-1" = "$(field Version)"
check "Architecture is this machine's" test "$(field Architecture)" = "$(dpkg --print-architecture)"
contents=$(dpkg-deb --contents "$deb")
for path in ./usr/sbin/ksight ./lib/systemd/system/ksight.service ./etc/ksight/ksight.toml \
	./etc/logrotate.d/ksight ./usr/share/man/man8/ksight.8.gz ./usr/share/doc/ksight/copyright \
	./usr/share/doc/ksight/changelog.gz ./usr/share/doc/ksight/changelog.Debian.gz; do
	check "contains $path" grep -q " $path\$" <<<"$contents"
done
check "/usr/sbin/ksight is root-owned 0755" grep -Eq '^-rwxr-xr-x root/root .* \./usr/sbin/ksight$' <<<"$contents"
check "every other file is root-owned and not writable by others" \
	test -z "$(awk '$2 != "root/root" || substr($1, 9, 1) == "w"' <<<"$contents")"
mkdir "$tmp/ctl"
dpkg-deb --control "$deb" "$tmp/ctl"
check "conffiles: the config and the logrotate file" \
	test "$(cat "$tmp/ctl/conffiles")" = $'/etc/ksight/ksight.toml\n/etc/logrotate.d/ksight'
for script in postinst prerm postrm; do
	check "$script is executable and parses (sh -n)" sh -n "$tmp/ctl/$script"
done

# Depends: every library the binary links (objdump NEEDED) belongs to a package in Depends.
depends=$(field Depends)
dep_names=$(sed 's/([^)]*)//g; s/[,|]/ /g' <<<"$depends" | xargs)
mkdir "$tmp/x"
dpkg-deb --extract "$deb" "$tmp/x"
while read -r soname; do
	libpath=$(ldconfig -p | awk -v s="$soname" '$1 == s && /x86-64|AArch64|64bit/ && !f { print $NF; f = 1 }')
	[[ -n $libpath ]] || libpath=$(ldconfig -p | awk -v s="$soname" '$1 == s && !f { print $NF; f = 1 }')
	# dpkg knows a file by the path its package ships (/lib or /usr/lib: merged /usr).
	real=$(readlink -f "$libpath")
	pkg=$( (dpkg -S "$real" || dpkg -S "${real#/usr}" || dpkg -S "$libpath") 2>/dev/null |
		head -1 | cut -d: -f1)
	pkg=${pkg:-?}
	# The package itself, or a name it Provides (libspdlog1.10 provides libspdlog1.10-fmt9).
	names="$pkg $(dpkg-query -W -f='${Provides}' "$pkg" 2>/dev/null | sed 's/([^)]*)//g; s/,/ /g')"
	found=no
	for n in $names; do
		if [[ " $dep_names " == *" $n "* ]]; then found=yes; fi
	done
	check "NEEDED $soname (package $pkg) is in Depends" test $found = yes
done < <(objdump -p "$tmp/x/usr/sbin/ksight" | awk '$1 == "NEEDED" { print $2 }' |
	grep -v '^ld-linux')
check "the shipped config is 'ksight config default'" \
	cmp -s "$tmp/x/etc/ksight/ksight.toml" <("$build/ksight" config default)
for flag in $("$build/ksight" run --help | grep -Eo -- '--[a-z][a-z-]+' | sort -u); do
	[[ $flag == --help* ]] && continue
	check "man page documents run $flag" grep -q -- "${flag//-/\\\\-}" \
		<(zcat "$tmp/x/usr/share/man/man8/ksight.8.gz")
done
if command -v man >/dev/null; then
	check "man renders ksight.8 without warnings" test -z "$(MANWIDTH=80 man --warnings -l \
		"$tmp/x/usr/share/man/man8/ksight.8.gz" 2>&1 >/dev/null)"
fi
if command -v lintian >/dev/null; then
	# initial-upload-closes-no-bugs is about uploads to the Debian archive, not this package.
	check "lintian: no errors or warnings" lintian --fail-on error,warning \
		--suppress-tags initial-upload-closes-no-bugs "$deb"
else
	echo "note: lintian not installed; skipped its checks (apt-get install lintian)"
fi

# --- install for real ---
if [[ -d /run/systemd/system ]]; then
	# Under a running systemd the postinst would start the unit; this test only installs.
	systemctl mask --runtime ksight.service >/dev/null && masked=1
fi
check "dpkg -i installs it" dpkg_wait -i "$deb"
check "installed: dpkg status is ii" test "$(dpkg-query -W -f='${db:Status-Abbrev}' ksight)" = "ii "
check "/usr/sbin/ksight version prints $agent_version" \
	grep -q "^ksight $agent_version " <(/usr/sbin/ksight version)
if /usr/sbin/ksight check >"$tmp/check.txt" 2>&1; then
	ok "/usr/sbin/ksight check: probes can run here"
else
	bad "/usr/sbin/ksight check exited $? ($(tail -3 "$tmp/check.txt"))"
fi
check "ksight check --config /etc/ksight/ksight.toml accepts the shipped config" \
	quiet /usr/sbin/ksight check --config /etc/ksight/ksight.toml
check "/var/log/ksight is a 0750 root directory" test "$(stat -c '%a %U' /var/log/ksight)" = "750 root"
# The installed (stripped) binary writes events where the unit expects them.
if /usr/sbin/ksight run --probes syscalls --duration 1s 2>"$tmp/run.err" &&
	grep -q '"type":"agent.heartbeat"' /var/log/ksight/events.jsonl; then
	ok "/usr/sbin/ksight run writes /var/log/ksight/events.jsonl"
else
	bad "/usr/sbin/ksight run: $(tail -3 "$tmp/run.err")"
fi
if command -v systemd-analyze >/dev/null; then
	man_opt=--man=yes
	command -v man >/dev/null || man_opt=--man=no
	check "systemd-analyze verify $man_opt the installed unit" \
		systemd-analyze verify "$man_opt" /lib/systemd/system/ksight.service
else
	echo "note: systemd-analyze not installed; skipped the unit check"
fi
if command -v deb-systemd-helper >/dev/null; then
	check "the unit is enabled (deb-systemd-helper)" \
		env DPKG_MAINTSCRIPT_PACKAGE=ksight deb-systemd-helper --quiet is-enabled ksight.service
	check "multi-user.target wants it" test -L /etc/systemd/system/multi-user.target.wants/ksight.service
fi

# --- remove, then purge ---
check "dpkg -r removes it" dpkg_wait -r ksight
check "removed: the binary is gone" test ! -e /usr/sbin/ksight
check "removed: the conffiles stay" test -f /etc/ksight/ksight.toml
if command -v deb-systemd-helper >/dev/null; then
	check "removed: the unit is masked until purge" \
		test "$(readlink /etc/systemd/system/ksight.service)" = /dev/null
fi
check "dpkg --purge purges it" dpkg_wait --purge ksight
check "purged: /etc/ksight is gone" test ! -e /etc/ksight
check "purged: /var/log/ksight is gone" test ! -e /var/log/ksight
check "purged: no unit symlinks left" test -z "$(find /etc/systemd/system -name 'ksight*' 2>/dev/null)"
check "purged: dpkg no longer knows it" \
	test -z "$(dpkg-query -W -f='${db:Status-Abbrev}' ksight 2>/dev/null | tr -d ' ' | grep -v '^un')"

echo "$passed passed, $failed failed"
((failed == 0))
