#!/usr/bin/env bash
# Prepares the job image the cloud emulator's registry serves (local/cloud/registry.ts), with no
# internet beyond Debian's mirror: a Debian root file system made with debootstrap (minbase),
# imported with Podman and written as an OCI image layout, <registry dir>/ci/debian (tag
# bookworm). Cached: a second run with the same script is a no-op. Skips (exit 0, with a
# message) where Podman, runc or debootstrap is missing; the container tests then skip too.
#   CLOUD_REGISTRY_DIR  where the layouts go (default ~/.cache/compute-instances/registry)
#   CI_DEBIAN_MIRROR    the Debian mirror (default: the one apt uses, else deb.debian.org)
set -euo pipefail

CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/compute-instances"
REGISTRY_DIR="${CLOUD_REGISTRY_DIR:-$CACHE/registry}"
REPO="$REGISTRY_DIR/ci/debian"
TAG=bookworm
STAMP="$(sha256sum "$0" | cut -c1-16)"

if [ -f "$REPO/index.json" ] && [ "$(cat "$REPO/.built-by" 2>/dev/null)" = "$STAMP" ]; then
  echo "job image: $REPO is up to date"
  exit 0
fi
for tool in podman runc debootstrap; do
  if ! command -v "$tool" >/dev/null; then
    echo "job image: skipped, $tool is not installed (apt-get install podman runc debootstrap); container job tests will skip"
    exit 0
  fi
done
if [ "$(id -u)" != 0 ]; then
  echo "job image: skipped, debootstrap and the emulator's Podman need root; container job tests will skip"
  exit 0
fi

MIRROR="${CI_DEBIAN_MIRROR:-$(grep -hoE 'https?://[^ ]+/debian/?' /etc/apt/sources.list /etc/apt/sources.list.d/* 2>/dev/null | head -n1 || true)}"
MIRROR="${MIRROR:-http://deb.debian.org/debian}"

mkdir -p "$CACHE"
WORK="$(mktemp -d "$CACHE/work.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
ROOTFS="$CACHE/rootfs-$TAG"
if [ ! -f "$ROOTFS/.complete" ]; then
  rm -rf "$ROOTFS"
  echo "job image: debootstrap $TAG from $MIRROR (a few minutes, once)"
  debootstrap --variant=minbase "$TAG" "$ROOTFS" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 || { tail -n 20 "$WORK/debootstrap.log"; exit 1; }
  # Smaller layer, faster pulls: no docs, manuals, locales or package lists.
  rm -rf "$ROOTFS"/usr/share/{doc,man,info,locale}/* "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/var/cache/apt/*
  touch "$ROOTFS/.complete"
fi
# A file only the image has: tests tell the image's files from the host's by it.
echo "ci/debian:$TAG (debootstrap --variant=minbase)" >"$ROOTFS/etc/ci-job-image"

# A throw-away image store, so nothing is left in the machine's own.
P=(podman --root "$WORK/storage" --runroot "/run/ci-job-image-$$" --runtime runc --cgroup-manager cgroupfs --events-backend file)
tar --exclude=./.complete -C "$ROOTFS" -cf "$WORK/rootfs.tar" .
"${P[@]}" import --change 'CMD ["/bin/bash"]' "$WORK/rootfs.tar" "localhost/ci/debian:$TAG" >/dev/null
rm -rf "$REPO.new"
mkdir -p "$(dirname "$REPO")"
"${P[@]}" push --quiet "localhost/ci/debian:$TAG" "oci:$REPO.new:$TAG"
"${P[@]}" rmi --all --force >/dev/null 2>&1 || true
rm -rf "/run/ci-job-image-$$"
echo "$STAMP" >"$REPO.new/.built-by"
rm -rf "$REPO"
mv "$REPO.new" "$REPO"
echo "job image: $REPO ($(du -sh "$REPO" | cut -f1))"
