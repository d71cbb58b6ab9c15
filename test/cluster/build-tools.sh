#!/usr/bin/env bash
# Builds the real tools the tests run, from the Go module proxy, into the cache outside the
# repository (beside the control plane's binaries), one folder per name and version; a binary
# already present at that version is not rebuilt:
#   kustomize                   sigs.k8s.io/kustomize/kustomize/v5   (renders knative/ in the tests)
#   scorecard (three versions)  github.com/ossf/scorecard/v5         (the CLI the Jobs run)
#   apiserver_receive_adapter,  knative.dev/eventing                 (ApiServerSource's and
#   mtping                                                            PingSource's data plane)
# `go install pkg@version` fails here (the proxy refuses the module list behind its deprecation
# check), so each is built inside a small wrapper module (test/cluster/tools/<name>/) whose go.mod
# requires the version; only those go.mod/go.sum are committed. The versions are those of
# test/cluster/tools.ts (POSTURE_KUSTOMIZE_VERSION, POSTURE_SCORECARD_VERSIONS,
# POSTURE_KNATIVE_EVENTING_VERSION override them). Prints one line per tool: name, version, path.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
KUSTOMIZE_VERSION="${POSTURE_KUSTOMIZE_VERSION:-v5.8.3}"
SCORECARD_VERSIONS="${POSTURE_SCORECARD_VERSIONS-v5.3.0 v5.4.0 v5.5.0}"
EVENTING_VERSION="${POSTURE_KNATIVE_EVENTING_VERSION:-v0.50.0}"
CACHE="${POSTURE_CACHE:-$HOME/.cache/posture}"
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-modcacherw

# wrapper <dir> <module> <version> <tool packages...>: the wrapper module at that version.
wrapper() {
  local dir="$1" mod="$2" ver="$3"; shift 3
  mkdir -p "$dir"; cd "$dir"
  if ! grep -q "^[[:space:]]*$mod $ver\( \|$\)" go.mod 2>/dev/null && ! grep -q "^require $mod $ver\( \|$\)" go.mod 2>/dev/null; then
    echo "preparing the wrapper module $dir for $mod $ver" >&2
    rm -f go.mod go.sum
    go mod init "posture.local/$(basename "$dir")" >/dev/null 2>&1
    local pkgs=()
    for p in "$@"; do pkgs+=("$p@$ver"); done
    go get -tool "${pkgs[@]}"
    go mod tidy
  fi
}

# build <out-binary> <ldflags> <package>: go build into a temporary name, then rename, so a
# build cut short never leaves a binary the next run would take as done.
build() {
  local out="$1" ld="$2" pkg="$3"
  mkdir -p "$(dirname "$out")"
  echo "building $pkg into $out" >&2
  go build -trimpath -ldflags="-s -w $ld" -o "$out.partial" "$pkg"
  mv "$out.partial" "$out"
}

# commit <module> <version>: the upstream commit of a released version (from the proxy's .info).
commit() { go mod download -json "$1@$2" | sed -n 's/.*"Hash": "\(.*\)",*/\1/p' | head -1; }

# --- kustomize ---------------------------------------------------------------------------------
KBIN="$CACHE/kustomize-$KUSTOMIZE_VERSION/bin/kustomize"
if [ ! -x "$KBIN" ]; then
  # kustomize v5.8 needs Go 1.27: only this build takes that toolchain, from the module proxy
  # (go1.27.3, the approved one); the rest of the project stays on the machine's Go.
  (
    export GOTOOLCHAIN="${POSTURE_KUSTOMIZE_GOTOOLCHAIN:-go1.27.3}"
    wrapper "$HERE/tools/kustomize" sigs.k8s.io/kustomize/kustomize/v5 "$KUSTOMIZE_VERSION" sigs.k8s.io/kustomize/kustomize/v5
    build "$KBIN" "-X sigs.k8s.io/kustomize/api/provenance.version=kustomize/$KUSTOMIZE_VERSION" sigs.k8s.io/kustomize/kustomize/v5
  )
fi
echo "kustomize $KUSTOMIZE_VERSION $KBIN"

# --- Scorecard ---------------------------------------------------------------------------------
for v in $SCORECARD_VERSIONS; do
  SBIN="$CACHE/scorecard-$v/bin/scorecard"
  if [ ! -x "$SBIN" ]; then
    wrapper "$HERE/tools/scorecard-$v" github.com/ossf/scorecard/v5 "$v" github.com/ossf/scorecard/v5
    # The version stamp Scorecard's own release build sets (scripts/version-ldflags), so the
    # results say which Scorecard produced them, as a released binary's do.
    P=sigs.k8s.io/release-utils/version
    build "$SBIN" "-X $P.gitVersion=$v -X $P.gitCommit=$(commit github.com/ossf/scorecard/v5 "$v") -X $P.gitTreeState=clean" github.com/ossf/scorecard/v5
  fi
  echo "scorecard $v $SBIN"
done

# --- Knative Eventing's source adapters --------------------------------------------------------
EDIR="$CACHE/knative-eventing-$EVENTING_VERSION/bin"
if [ ! -x "$EDIR/apiserver_receive_adapter" ] || [ ! -x "$EDIR/mtping" ]; then
  wrapper "$HERE/tools/knative-eventing" knative.dev/eventing "$EVENTING_VERSION" \
    knative.dev/eventing/cmd/apiserver_receive_adapter knative.dev/eventing/cmd/mtping
  build "$EDIR/apiserver_receive_adapter" "" knative.dev/eventing/cmd/apiserver_receive_adapter
  build "$EDIR/mtping" "" knative.dev/eventing/cmd/mtping
fi
echo "knative-eventing $EVENTING_VERSION $EDIR/apiserver_receive_adapter $EDIR/mtping"
