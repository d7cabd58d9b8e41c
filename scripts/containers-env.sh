#!/usr/bin/env bash
# Writes this checkout's own containers configuration for buildah and podman, and prints the
# variables that select it, for `eval "$(scripts/containers-env.sh)"` (the image build, the
# image lab test, docs/kubernetes.md). Nothing under /etc is edited, and the images live in this
# checkout's build/containers/storage, so two checkouts (or two engineers) building at once never
# overwrite each other's `ghcr.io/vipgate/vipgate:<version>`.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dir="$root/build/containers"
mkdir -p "$dir/storage"
# Run-time state (locks, mount points) belongs on tmpfs; one directory per checkout.
runroot="/run/vipgate-containers/$(printf '%s' "$root" | sha256sum | cut -c1-12)"

# runtime: crun 1.8 (Debian 12) refuses hybrid cgroup hierarchies, runc does not.
# cgroup_manager: no systemd as PID 1 on lab machines (and none needed for this use).
# events_logger: no journald either.
# default_ulimits: podman's defaults raise nofile/nproc above what root may without
# CAP_SYS_RESOURCE (absent on these VMs), and every `podman run` would fail.
cat >"$dir/containers.conf.new" <<CONF
# Written by scripts/containers-env.sh; edits are overwritten.
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
tmp_dir = "$runroot/libpod"
CONF
cat >"$dir/storage.conf.new" <<CONF
# Written by scripts/containers-env.sh; edits are overwritten.
[storage]
driver = "overlay"
graphroot = "$dir/storage"
runroot = "$runroot/storage"
CONF
# Replaced only when different, so a concurrent reader never sees a half-written file.
for f in containers.conf storage.conf; do
  if cmp -s "$dir/$f.new" "$dir/$f"; then rm "$dir/$f.new"; else mv "$dir/$f.new" "$dir/$f"; fi
done

printf "export CONTAINERS_CONF='%s'\n" "$dir/containers.conf"
printf "export CONTAINERS_STORAGE_CONF='%s'\n" "$dir/storage.conf"
