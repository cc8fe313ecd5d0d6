#!/usr/bin/env bash
# Obtain the measured-boot firmware images the measurement code and its
# tests use, and check them against pinned SHA-256s:
#
#   DEST/OVMF.amdsev.fd        Debian sid, ovmf-amdsev   (SEV-SNP)
#   DEST/OVMF.inteltdx.ms.fd   Debian sid, ovmf-inteltdx (TDX / TDVF)
#   DEST/OVMF.fd               Debian bookworm, ovmf     (unified, SNP)
#
# Usage: tools/fetch-firmware.sh DEST
#
# The packages are fetched with `apt-get download` through a private apt
# configuration (sources, lists, cache and state under DEST/.apt) derived
# from this machine's own Debian sources with the suite changed to sid; the
# machine's apt configuration is read, never modified. Each .deb and each
# firmware file is checked against the pins below; any mismatch is fatal.
# Idempotent: files already present with the pinned hashes are kept.
set -euo pipefail

if [ $# -ne 1 ] || [ -z "$1" ]; then
    echo "usage: $0 DEST" >&2
    exit 2
fi
dest=$1

# suite  package  version  deb-sha256  path-in-deb  firmware-sha256
PINS=(
"sid      ovmf-amdsev 2026.08+ds-2 92c9b6d15e4eeb371938c3f99080c1a8fc057dfd6bc0509d37f8b615e9edebfb usr/share/ovmf/OVMF.amdsev.fd 3e4fd0b3fe3b2dbe481c3d9e99418a034174f26cbe1f55aa212b0f18c12d2d6f"
"sid      ovmf-inteltdx 2026.08+ds-2 87123a9bf4dc1af7bbc48257a9b3db5933ff695167476d4fa48b705da1011fb1 usr/share/ovmf/OVMF.inteltdx.ms.fd a265075b4147a096109e501e76196df1ec8a18659c26f7401492c597ec88f312"
"bookworm ovmf 2022.11-6+deb12u2 e73d3d1a8799f7f6fc16b73501d913edcdd86237556fbff30693e747e6dc262e usr/share/ovmf/OVMF.fd 7b456907dd0786d415999e801a1ac4637b8ed4d7cf5378cfc6edbe5e574dd773"
)

die() {
    echo "fetch-firmware: $*" >&2
    exit 1
}

sha256() {
    sha256sum "$1" | cut -d' ' -f1
}

# Everything present and matching already? Then there is nothing to do.
missing=0
for pin in "${PINS[@]}"; do
    read -r _suite _pkg _version _debsum path fdsum <<< "$pin"
    file="$dest/$(basename "$path")"
    if [ ! -f "$file" ] || [ "$(sha256 "$file")" != "$fdsum" ]; then
        missing=1
    fi
done
if [ "$missing" = 0 ]; then
    echo "fetch-firmware: $dest is up to date"
    exit 0
fi

command -v apt-get >/dev/null || die "apt-get is required"
command -v dpkg-deb >/dev/null || die "dpkg-deb is required"
command -v python3 >/dev/null || die "python3 is required"

mkdir -p "$dest"
dest=$(cd "$dest" && pwd)
apt="$dest/.apt"
mkdir -p "$apt/sources.list.d" "$apt/preferences.d" \
    "$apt/lists/partial" "$apt/archives/partial" "$apt/debs"
: > "$apt/sources.list"
: > "$apt/status"

# Private sources: the machine's Debian main-archive entries (URIs and
# keyring), with the suite changed to each suite the pins name.
suites=$(for pin in "${PINS[@]}"; do echo "${pin%% *}"; done | sort -u)
# shellcheck disable=SC2086
python3 - "$apt/sources.list.d/buckypaper.sources" $suites <<'EOF'
import glob
import os
import sys

codename = 'bookworm'
with open('/etc/os-release') as f:
    for line in f:
        if line.startswith('VERSION_CODENAME='):
            codename = line.split('=', 1)[1].strip().strip('"') or codename
entries = []
for path in sorted(glob.glob('/etc/apt/sources.list.d/*.sources')):
    with open(path) as f:
        text = f.read()
    for stanza in text.split('\n\n'):
        fields = {}
        key = None
        for line in stanza.splitlines():
            if not line.strip() or line.startswith('#'):
                continue
            if line[0] in ' \t' and key:
                fields[key] += '\n' + line
                continue
            key, _, value = line.partition(':')
            key = key.strip()
            fields[key] = value.strip()
        if fields.get('Enabled', 'yes').lower() == 'no':
            continue
        if 'deb' not in fields.get('Types', '').split():
            continue
        if codename not in fields.get('Suites', '').split():
            continue
        entries.append((fields['URIs'], fields.get('Signed-By')))
for path in ['/etc/apt/sources.list'] + sorted(
        glob.glob('/etc/apt/sources.list.d/*.list')):
    if not os.path.exists(path):
        continue
    with open(path) as f:
        for line in f:
            words = line.split('#', 1)[0].split()
            if len(words) < 3 or words[0] != 'deb':
                continue
            opts = {}
            if words[1].startswith('['):
                while words and not words[1].endswith(']'):
                    words[1] += ' ' + words.pop(2)
                for opt in words.pop(1).strip('[]').split():
                    k, _, v = opt.partition('=')
                    opts[k] = v
            if words[2] == codename:
                entries.append((words[1], opts.get('signed-by')))
if not entries:
    sys.exit('no Debian %s entry in the machine apt sources' % codename)
with open(sys.argv[1], 'w') as out:
    for uris, signed_by in entries:
        for suite in sys.argv[2:]:
            out.write('Types: deb\nURIs: %s\nSuites: %s\nComponents: main\n'
                      % (uris, suite))
            if signed_by:
                out.write('Signed-By: %s\n' % signed_by)
            out.write('\n')
EOF

aptget() {
    apt-get -q \
        -o Dir::Etc::SourceList="$apt/sources.list" \
        -o Dir::Etc::SourceParts="$apt/sources.list.d" \
        -o Dir::Etc::Preferences="$apt/preferences" \
        -o Dir::Etc::PreferencesParts="$apt/preferences.d" \
        -o Dir::State::Lists="$apt/lists" \
        -o Dir::State::status="$apt/status" \
        -o Dir::Cache="$apt" \
        -o Dir::Cache::archives="$apt/archives" \
        -o Dir::Cache::pkgcache="" \
        -o Dir::Cache::srcpkgcache="" \
        -o Debug::NoLocking=true \
        -o APT::Sandbox::User=root \
        -o Acquire::Languages=none \
        "$@"
}

aptget update -qq >"$apt/update.log" 2>&1 || {
    cat "$apt/update.log" >&2
    die "apt-get update through the private configuration failed"
}

for pin in "${PINS[@]}"; do
    read -r suite pkg version debsum path fdsum <<< "$pin"
    file="$dest/$(basename "$path")"
    if [ -f "$file" ] && [ "$(sha256 "$file")" = "$fdsum" ]; then
        echo "fetch-firmware: $(basename "$file") ok"
        continue
    fi
    deb=$(ls "$apt/debs/${pkg}_"*.deb 2>/dev/null | head -n1 || true)
    if [ -z "$deb" ] || [ "$(sha256 "$deb")" != "$debsum" ]; then
        rm -f "$apt/debs/${pkg}_"*.deb
        (cd "$apt/debs" && aptget download "$pkg=$version" >/dev/null) || \
            die "cannot download $pkg=$version from $suite" \
                "(no longer in the archive? update the pins)"
        deb=$(ls "$apt/debs/${pkg}_"*.deb | head -n1)
    fi
    got=$(sha256 "$deb")
    [ "$got" = "$debsum" ] || die "SHA-256 mismatch for $(basename "$deb"):" \
        "got $got, pinned $debsum"
    unpacked="$apt/unpacked/$pkg"
    rm -rf "$unpacked"
    mkdir -p "$unpacked"
    dpkg-deb -x "$deb" "$unpacked"
    [ -f "$unpacked/$path" ] || die "$path not in $(basename "$deb")"
    got=$(sha256 "$unpacked/$path")
    [ "$got" = "$fdsum" ] || die "SHA-256 mismatch for $path of $pkg:" \
        "got $got, pinned $fdsum"
    cp "$unpacked/$path" "$file.tmp"
    mv "$file.tmp" "$file"
    rm -rf "$unpacked"
    echo "fetch-firmware: $(basename "$file") from $pkg $version ($suite)"
done
