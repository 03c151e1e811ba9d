#!/usr/bin/env bash
# Build dist/ioc-collector_<version>_amd64.deb: the product with its locked dependencies
# (requirements.lock, hashes checked) under /opt/ioc-collector/lib (pip --target: no venv, so
# the tree is relocatable), a launcher /opt/ioc-collector/bin/ioc running Debian's python3,
# and the systemd unit. Usage: deploy/collector/build-deb.sh [OUTDIR]   (PYTHON=python3.11)
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$repo/dist}
python=${PYTHON:-python3}
version=$("$python" -c 'import re,sys; print(re.search(r"__version__ = \"(.+)\"", open(sys.argv[1]).read()).group(1))' "$repo/ioc/__init__.py")
pyver=$("$python" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
next=$("$python" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1] + 1}")')
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
root=$stage/root
lib=$root/opt/ioc-collector/lib
mkdir -p "$lib" "$root/opt/ioc-collector/bin" "$root/lib/systemd/system" "$root/etc/ioc-collector" \
    "$root/DEBIAN"
"$python" -m pip install --quiet --no-compile --disable-pip-version-check \
    --require-hashes -r "$repo/requirements.lock" --target "$lib"
"$python" -m pip install --quiet --no-compile --disable-pip-version-check --no-deps \
    --target "$lib" "$repo"
rm -rf "$lib/bin"
cat > "$root/opt/ioc-collector/bin/ioc" <<'LAUNCHER'
#!/bin/sh
# The `ioc` command of the ioc-collector package: its own library tree, Debian's python3.
lib="$(dirname "$(readlink -f "$0")")/../lib"
exec /usr/bin/python3 -s -c 'import sys; sys.path.insert(0, sys.argv.pop(1)); from ioc.cli import main; sys.exit(main(sys.argv[1:]))' "$lib" "$@"
LAUNCHER
chmod 0755 "$root/opt/ioc-collector/bin/ioc"
install -m 0644 "$repo/deploy/collector/ioc-collector.service" "$root/lib/systemd/system/"
install -m 0640 "$repo/deploy/collector/collector.env" "$root/etc/ioc-collector/"
cat > "$root/DEBIAN/control" <<CONTROL
Package: ioc-collector
Version: $version
Architecture: amd64
Maintainer: Commune IOC <ioc@localhost>
Depends: python3 (>= $pyver), python3 (<< $next)
Section: net
Priority: optional
Description: Commune IOC edge collector
 Polls the commune's devices (ICMP, SNMP, HTTP, cameras) and forwards readings over MQTT,
 buffering them on disk while the central site is unreachable.
CONTROL
echo /etc/ioc-collector/collector.env > "$root/DEBIAN/conffiles"
cat > "$root/DEBIAN/postinst" <<'POSTINST'
#!/bin/sh
set -e
if [ "$1" = configure ] && [ -d /run/systemd/system ]; then
    systemctl daemon-reload
    systemctl enable ioc-collector.service >/dev/null
    # An upgrade restarts the running collector; its outbox in /var/lib/ioc-collector stays.
    systemctl try-restart ioc-collector.service
fi
POSTINST
chmod 0755 "$root/DEBIAN/postinst"
mkdir -p "$out"
deb="$out/ioc-collector_${version}_amd64.deb"
dpkg-deb --root-owner-group -Zgzip -z1 --build "$root" "$deb" >/dev/null
echo "$deb"
