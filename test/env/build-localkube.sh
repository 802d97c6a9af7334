#!/usr/bin/env bash
# Builds kube-apiserver, kubectl and etcd for the local control plane from the pinned
# k8s.io/kubernetes module (hack/localkube/go.mod) and caches them outside the repo.
# Rebuilds only when the pinned version (go.mod + go.sum + this script) changes.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
module="$here/localkube"
cache_root="${GATEWAY_ORCHESTRATOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/gateway-orchestrator}"

if ! command -v go >/dev/null 2>&1; then
  echo "error: Go is not installed; install Go 1.26+ (https://go.dev/dl) and run again" >&2
  exit 1
fi

k8s_version="$(awk '$1 == "k8s.io/kubernetes" && $2 ~ /^v/ {print $2; exit}' "$module/go.mod")"
if [[ -z "$k8s_version" ]]; then
  echo "error: cannot read the pinned k8s.io/kubernetes version from $module/go.mod" >&2
  exit 1
fi
# Bump when the build recipe below changes in a way that changes the binaries.
recipe_revision=1
fingerprint="$( (echo "$recipe_revision"; cat "$module/go.mod" "$module/go.sum" "$module"/cmd/*/main.go) | sha256sum | cut -c1-16)"
bin_dir="$cache_root/localkube-$k8s_version-$fingerprint/bin"

if [[ -x "$bin_dir/kube-apiserver" && -x "$bin_dir/kubectl" && -x "$bin_dir/etcd" ]]; then
  echo "$bin_dir"
  exit 0
fi

major_minor="${k8s_version#v}"; major="${major_minor%%.*}"; minor="$(cut -d. -f2 <<<"$major_minor")"
build_date="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags+=" -X $pkg.gitVersion=$k8s_version -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor"
  ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=$build_date"
done

echo ">> building kube-apiserver, kubectl and etcd $k8s_version into $bin_dir" >&2
echo ">> the first build downloads and compiles Kubernetes: expect 5-15 minutes on 2 cores" >&2
tmp_dir="$bin_dir.tmp.$$"
mkdir -p "$tmp_dir"
trap 'rm -rf "$tmp_dir"' EXIT
cd "$module"
export CGO_ENABLED=0
for cmd in etcd kubectl kube-apiserver; do
  started=$SECONDS
  echo ">> go build $cmd ..." >&2
  # -v lists packages as they compile, so a long first build shows progress.
  # -v names each package as it compiles: count them for progress, pass every other line (errors) through.
  if ! go build -v -trimpath -ldflags "$ldflags" -o "$tmp_dir/$cmd" "./cmd/$cmd" 2>&1 |
    awk -v c="$cmd" '/^[^ #]+$/ {n++; if (n % 100 == 0) printf ">>   %s: %d packages compiled\n", c, n; next} {print}' >&2; then
    echo "error: go build of $cmd failed (see above)" >&2
    exit 1
  fi
  echo ">> $cmd built in $((SECONDS - started))s" >&2
done
mkdir -p "$(dirname "$bin_dir")"
rm -rf "$bin_dir"
mv "$tmp_dir" "$bin_dir"
trap - EXIT
echo "$bin_dir"
