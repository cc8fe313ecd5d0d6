#!/usr/bin/env bash
# Fetch libvirt's RelaxNG schemas of a version that knows SEV-SNP and TDX.
#
#   tools/fetch-libvirt-schema.sh [DEST]     (default .cache/libvirt-schemas)
#
# Debian bookworm's libvirt 9.0 rejects both SNP and TDX launch security,
# 11.3 rejects TDX; Debian sid's libvirt-common ships 12.x schemas. The
# package is downloaded with apt-get through a private apt configuration
# derived from the machine's own Debian sources (suite changed to sid, same
# keyring), so the system's apt state is left alone and nothing is
# installed. The .deb is checked against a pinned SHA-256 and only
# usr/share/libvirt/schemas/ is kept. Prints the directory holding
# domain.rng. Set BUCKYPAPER_LIBVIRT_COMMON_VERSION and
# BUCKYPAPER_LIBVIRT_COMMON_SHA256 together to move to another version.
set -euo pipefail
cd "$(dirname "$0")/.."

version=${BUCKYPAPER_LIBVIRT_COMMON_VERSION:-12.8.0-1}
sha256=${BUCKYPAPER_LIBVIRT_COMMON_SHA256:-f767250c1a7e7eba7971ed3807b9467e3f51a3cdf068a42c9ca2bc34f6dff150}
dest=${1:-.cache/libvirt-schemas}

if [ -f "$dest/domain.rng" ] && [ "$(cat "$dest/.sha256" 2>/dev/null)" = "$sha256" ]; then
    (cd "$dest" && pwd)
    exit 0
fi

# The Debian mirror and keyring the machine already uses (deb822 or
# one-line sources), falling back to deb.debian.org and the archive keyring.
mirror=
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    uri=$(awk '/^URIs:/ {for (i = 2; i <= NF; i++) if ($i ~ /\/debian\/?$/) {print $i; exit}}' "$f")
    if [ -n "$uri" ]; then
        mirror=$uri
        key=$(awk '/^Signed-By:/ {print $2; exit}' "$f")
        [ -n "$key" ] && [ -f "$key" ] && keyring=$key
        break
    fi
done
if [ -z "$mirror" ]; then
    mirror=$(grep -hs '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
        | grep -o 'https\?://[^ ]*/debian/\?' | head -n1 || true)
fi
mirror=${mirror:-http://deb.debian.org/debian}
arch=$(dpkg --print-architecture)

work=$(mktemp -d /tmp/buckypaper-libvirt-schema.XXXXXX)
trap 'rm -rf "$work"' EXIT
# apt drops privileges to _apt for downloads when run as root.
chmod 755 "$work"
mkdir -p "$work/lists/partial" "$work/cache/archives/partial" "$work/dl"
chown -R _apt "$work/lists" "$work/cache" "$work/dl" 2>/dev/null || true
echo "deb [signed-by=$keyring] $mirror sid main" > "$work/sources.list"
cat > "$work/apt.conf" <<EOF
Dir::State "$work";
Dir::State::Lists "$work/lists";
Dir::State::status "/dev/null";
Dir::Cache "$work/cache";
Dir::Etc::SourceList "$work/sources.list";
Dir::Etc::SourceParts "$work/none";
Dir::Etc::Preferences "/dev/null";
Dir::Etc::PreferencesParts "$work/none";
APT::Architecture "$arch";
APT::Architectures { "$arch"; };
EOF
mkdir -p "$work/none"
export APT_CONFIG=$work/apt.conf

apt-get -qq update >&2
(cd "$work/dl" && apt-get -qq download "libvirt-common=$version" >&2) || {
    echo "libvirt-common $version is no longer in sid; set" \
         "BUCKYPAPER_LIBVIRT_COMMON_VERSION and _SHA256 to a current one" >&2
    exit 1
}
deb=$(ls "$work"/dl/libvirt-common_*.deb)
echo "$sha256  $deb" | sha256sum --check --quiet - >&2

dpkg-deb -x "$deb" "$work/root"
rm -rf "$dest"
mkdir -p "$dest"
cp "$work"/root/usr/share/libvirt/schemas/*.rng "$dest"/
echo "$sha256" > "$dest/.sha256"
echo "$version" > "$dest/.version"
(cd "$dest" && pwd)
