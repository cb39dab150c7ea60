#!/usr/bin/env bash
# Build the ksight .deb from a built tree, with dpkg-deb alone (no debhelper).
# Usage: packaging/deb/build-deb.sh [BUILD_DIR]   (default: build; `make package` runs it)
# Writes BUILD_DIR/package/ksight_<version>_<arch>.deb and prints its path.
# Needs: dpkg-deb and dpkg-shlibdeps (dpkg-dev), python3, binutils (strip), gzip.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=$(cd "$here/../.." && pwd)
build=$(cd "${1:-build}" && pwd)
bin=$build/ksight

die() {
	echo "build-deb: $*" >&2
	exit 1
}
[[ -x $bin ]] || die "$bin is missing: build the agent first (make)"
for tool in dpkg-deb dpkg-shlibdeps python3 strip gzip; do
	command -v "$tool" >/dev/null || die "$tool not found: run tools/install-deps.sh test"
done

# The package version is the agent's own plus a Debian revision: "ksight 0.1.0 (rev)" ->
# 0.1.0-1. (A non-native version: the upstream CHANGELOG.md ships as changelog.gz, the
# Debian-format log as changelog.Debian.gz.)
read -r name version rev < <("$bin" version)
[[ $name == ksight && $version =~ ^[0-9][0-9A-Za-z.+~]*$ ]] ||
	die "cannot read a version from '$bin version'"
rev=${rev//[()]/}
deb_version=$version-${DEB_REVISION:-1}
arch=$(dpkg --print-architecture)
# Reproducible: every timestamp is the last commit's (or now, outside git).
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git -C "$src" log -1 --format=%ct 2>/dev/null || date +%s)}

maintainer_email=maintainers@users.noreply.h-seed-36f307a1.example

out=$build/package
root=$out/root
rm -rf "$root"
mkdir -p "$root/DEBIAN"
umask 022

install -D -m 0755 "$bin" "$root/usr/sbin/ksight"
strip --strip-unneeded --remove-section=.comment --remove-section=.note "$root/usr/sbin/ksight"
install -D -m 0644 "$src/packaging/systemd/ksight.service" "$root/lib/systemd/system/ksight.service"
install -d -m 0755 "$root/etc/ksight"
"$bin" config default >"$root/etc/ksight/ksight.toml"
chmod 0644 "$root/etc/ksight/ksight.toml"
install -D -m 0644 "$src/packaging/logrotate/ksight" "$root/etc/logrotate.d/ksight"
install -d -m 0755 "$root/usr/share/man/man8" "$root/usr/share/doc/ksight"
python3 "$src/packaging/man/gen-man.py" "$bin" "$version" | gzip -9n >"$root/usr/share/man/man8/ksight.8.gz"
install -m 0644 "$here/copyright" "$root/usr/share/doc/ksight/copyright"
gzip -9n <"$src/CHANGELOG.md" >"$root/usr/share/doc/ksight/changelog.gz"
{
	printf 'ksight (%s) unstable; urgency=medium\n\n' "$deb_version"
	printf '  * Built with packaging/deb/build-deb.sh from the ksight source tree,\n'
	printf '    git revision %s.\n' "$rev"
	printf '  * The changes are in changelog.gz (upstream CHANGELOG.md).\n\n'
	printf ' -- ksight maintainers <%s>  %s\n' "$maintainer_email" \
		"$(LC_ALL=C date -u -R -d "@$SOURCE_DATE_EPOCH")"
} | gzip -9n >"$root/usr/share/doc/ksight/changelog.Debian.gz"
chmod 0644 "$root"/usr/share/man/man8/ksight.8.gz "$root"/usr/share/doc/ksight/changelog*.gz

for script in postinst prerm postrm; do
	install -m 0755 "$here/$script" "$root/DEBIAN/$script"
done
printf '%s\n' /etc/ksight/ksight.toml /etc/logrotate.d/ksight >"$root/DEBIAN/conffiles"

# Shared-library dependencies of the binary, as Debian computes them (shlibs/symbols files).
shl=$(mktemp -d)
trap 'rm -rf "$shl"' EXIT
mkdir -p "$shl/debian"
printf 'Source: ksight\n\nPackage: ksight\nArchitecture: any\n' >"$shl/debian/control"
depends=$(cd "$shl" && dpkg-shlibdeps -O "$root/usr/sbin/ksight" 2>/dev/null |
	sed -n 's/^shlibs:Depends=//p')
[[ -n $depends ]] || die "dpkg-shlibdeps found no dependencies for $root/usr/sbin/ksight"

installed_size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
cat >"$root/DEBIAN/control" <<CONTROL
Package: ksight
Version: $deb_version
Architecture: $arch
Maintainer: ksight maintainers <$maintainer_email>
Installed-Size: $installed_size
Depends: $depends
Suggests: logrotate
Section: admin
Priority: optional
Description: eBPF kernel tracing agent (syscalls, TCP retransmits, GPU events)
 ksight loads eBPF programs into the running kernel and writes what they see
 as JSON lines under /var/log/ksight: per-process syscall counts, errors and
 latency percentiles, slow or failing calls, TCP retransmits with the owning
 process, NVIDIA Xid and GPU driver resets and jobs. Every record carries a
 gap-free sequence number and every drop is counted, so loss is visible.
 .
 The package runs it as a hardened systemd service (ksight.service).
CONTROL

(cd "$root" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | LC_ALL=C sort -z |
	xargs -0 md5sum) >"$root/DEBIAN/md5sums"
chmod 0644 "$root/DEBIAN/control" "$root/DEBIAN/conffiles" "$root/DEBIAN/md5sums"
find "$root" -exec touch --no-dereference --date="@$SOURCE_DATE_EPOCH" {} +

deb=$out/ksight_${deb_version}_${arch}.deb
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
echo "$deb"
