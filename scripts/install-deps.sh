#!/usr/bin/env bash
# Installs what vipgate's demo and tests need on a fresh Debian 12 machine: Debian packages (the
# kernel-facing tools and the lab's daemons) and the locked npm packages. Idempotent and quiet when
# everything is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

# nftables: the dataplane (libnftables1 comes with it); iproute2: namespaces, links, routes;
# bird2: the lab's datacenter router; curl/wrk: the demo's clients and the benchmarks' load;
# conntrack: flushing flows to removed backends; ethtool: veth offload settings; procps: sysctl;
# clang/llvm/libbpf-dev/bpftool/libbpf1: building and loading the XDP program in bpf/;
# netsniff-ng: trafgen, the packet generator of the XDP ladder benchmark (bench/xdp-ladder.bench.ts);
# openssl: certificates for the TLS test of the Kubernetes client (test/kube-raw-tls.test.ts);
# mmdebstrap, buildah: the container image without a Docker daemon (`make image`); podman, runc:
# running it as Kubernetes would in the image lab test (runc, not crun: crun 1.8 refuses this
# kind of machine's hybrid cgroups); prometheus: its promtool checks and unit-tests the shipped
# alerting rules (test/monitoring.test.ts); keepalived: the VRRP reference that the L2 failover
# benchmark measures vipgate's L2 takeover against (bench/l2-failover.bench.ts; started only there,
# inside the lab's namespaces, never as a service of this machine).
debs=(nftables libnftables1 iproute2 bird2 curl wrk conntrack ethtool procps clang llvm libbpf-dev libbpf1 bpftool netsniff-ng openssl mmdebstrap buildah podman runc prometheus keepalived)

missing=()
for p in "${debs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "vipgate: missing Debian packages: ${missing[*]}; run as root (or: sudo apt-get install ${missing[*]})" >&2
    exit 1
  fi
  echo "vipgate: installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# npm ci only when the lockfile changed since the last install (it is slow and deletes node_modules).
stamp=node_modules/.vipgate-lock-stamp
if [ ! -f "$stamp" ] || ! cmp -s package-lock.json "$stamp"; then
  echo "vipgate: installing npm packages (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
  cp package-lock.json "$stamp"
fi

# buildah's and podman's configuration for this checkout (runc, no systemd, ulimits root may set,
# images under build/containers): written here once, refreshed by each script that uses it.
scripts/containers-env.sh >/dev/null

# The CLI bundle bin/vipgate runs (scripts/build.mjs, ~0.2 s): rebuilt when a source is newer.
if [ ! -f dist/BUILT ] || [ -n "$(find src lab package.json -newer dist/BUILT ! -name '*.test.ts' -print -quit)" ]; then
  node scripts/build.mjs
fi
