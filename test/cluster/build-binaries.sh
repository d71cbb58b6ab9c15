#!/usr/bin/env bash
# Builds the local control plane's binaries from the Go module proxy into a cache outside the
# repository, keyed by version; a binary already present at the right version is not rebuilt.
#   kube-apiserver, kube-controller-manager, kube-scheduler, kubelet (k8s.io/kubernetes), etcd, kwok.
# The kubelet is only run by the real-node tier (test/cluster/node.ts); it shares the build.
# Only the wrapper modules' go.mod/go.sum (test/cluster/tools/*) are committed.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
K8S_VERSION="${POSTURE_K8S_VERSION:-v1.37.2}"
ETCD_VERSION="${POSTURE_ETCD_VERSION:-v3.6.16}"
KWOK_VERSION="${POSTURE_KWOK_VERSION:-v0.8.0}"
CACHE="${POSTURE_CACHE:-$HOME/.cache/posture}"
BIN="$CACHE/cp-$K8S_VERSION-etcd-$ETCD_VERSION-kwok-$KWOK_VERSION/bin"
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-modcacherw
mkdir -p "$BIN"

has() { [ -x "$BIN/$1" ] && "$BIN/$1" --version 2>/dev/null | grep -q -- "$2"; }

if ! has kube-apiserver "${K8S_VERSION}" || ! has kube-controller-manager "${K8S_VERSION}" || ! has kube-scheduler "${K8S_VERSION}" || ! has kubelet "${K8S_VERSION}"; then
  cd "$HERE/tools/k8s"
  SV="v0.${K8S_VERSION#v1.}"
  if ! grep -q "k8s.io/kubernetes $K8S_VERSION" go.mod 2>/dev/null || ! grep -q "k8s.io/kubernetes/cmd/kubelet$" go.mod; then
    # The replace list is generated from the real go.mod of k8s.io/kubernetes, never hand-written.
    KMOD=$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/.*"GoMod": "\(.*\)",*/\1/p')
    GOLINE=$(sed -n 's/^go \(.*\)/\1/p' "$KMOD" | head -1)
    GODEBUG_LINE=$(sed -n 's/^godebug \(.*\)/\1/p' "$KMOD" | head -1)
    go mod edit -go="$GOLINE"
    [ -n "$GODEBUG_LINE" ] && go mod edit -godebug="$GODEBUG_LINE"
    for m in $(sed -n 's#^[[:space:]]*\(k8s\.io/[^ ]*\) => \./staging/src/.*#\1#p' "$KMOD"); do
      go mod edit -replace="$m=$m@$SV"
    done
    go get -tool "k8s.io/kubernetes/cmd/kube-apiserver@$K8S_VERSION" \
      "k8s.io/kubernetes/cmd/kube-controller-manager@$K8S_VERSION" \
      "k8s.io/kubernetes/cmd/kube-scheduler@$K8S_VERSION" \
      "k8s.io/kubernetes/cmd/kubelet@$K8S_VERSION"
    go mod tidy
  fi
  MIN=$(echo "$K8S_VERSION" | cut -d. -f2)
  D=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  LD="-s -w"
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    LD="$LD -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$MIN -X $p.gitTreeState=clean -X $p.buildDate=$D"
  done
  echo "building kube-apiserver, kube-controller-manager, kube-scheduler, kubelet $K8S_VERSION into $BIN" >&2
  go build -p 2 -trimpath -tags=selinux,notest,grpcnotrace -ldflags="$LD" -o "$BIN/" \
    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager k8s.io/kubernetes/cmd/kube-scheduler \
    k8s.io/kubernetes/cmd/kubelet
fi

if ! has etcd "${ETCD_VERSION#v}"; then
  cd "$HERE/tools/etcd"
  if ! grep -q "go.etcd.io/etcd/server/v3 $ETCD_VERSION" go.mod 2>/dev/null; then
    go get -tool "go.etcd.io/etcd/server/v3@$ETCD_VERSION"
    go mod tidy
  fi
  echo "building etcd $ETCD_VERSION into $BIN" >&2
  go build -trimpath -ldflags="-s -w" -o "$BIN/etcd" go.etcd.io/etcd/server/v3
fi

if ! has kwok "$KWOK_VERSION"; then
  echo "building kwok $KWOK_VERSION into $BIN" >&2
  GOBIN="$BIN" go install "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION"
fi

echo "$BIN"
