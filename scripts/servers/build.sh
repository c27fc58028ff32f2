#!/usr/bin/env bash
# Builds the real servers the integration tests talk to, from package registries only:
# kube-apiserver, kube-controller-manager, etcd 3.6, SeaweedFS (S3), Helm, the Kubeflow training
# operator's controller, KServe's controller manager, Kubeflow Trainer v2's and JobSet's controllers (Go module proxy) and Apache Kafka (Maven Central jars); and fetches the upstream CRDs of the children's kinds
# (KServe's InferenceService, the training operator's PyTorchJob) from their Go modules. Everything is cached under $ONTASK_CACHE
# (default ~/.cache/ontask); a binary that exists is never rebuilt, so this is idempotent.
# Usage: build.sh [all|kube|etcd|weed|helm|kafka|crds|training-operator|kserve|trainer]...
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE="${ONTASK_CACHE:-$HOME/.cache/ontask}"
BIN="$CACHE/bin"
mkdir -p "$BIN"
export GOMODCACHE="${GOMODCACHE:-$CACHE/go/mod}"
export GOCACHE="${GOCACHE:-$CACHE/go/build}"
export GOFLAGS="-buildvcs=false -mod=mod"
export CGO_ENABLED=0

K8S_VERSION=v1.34.4
K8S_MINOR=34
ETCD_VERSION=v3.6.16
HELM_VERSION=v3.19.5
WEED_VERSION=v0.0.0-20261109003541-7506e5f91cd6
KAFKA_VERSION=4.0.1
KSERVE_VERSION=v0.20.0
TRAINING_OPERATOR_VERSION=v1.9.4
# Kubeflow Trainer v2 and the JobSet release its go.mod requires (both on k8s.io 0.34, as the
# API server here). Trainer v2.1.1/v2.1.2 and JobSet v0.10.0 are not served by the module proxy.
TRAINER_VERSION=v2.1.0
JOBSET_VERSION=v0.10.1

log() { echo "[servers/build] $*" >&2; }

# A scratch module per server: upstream main packages are wrapped, because
# `go install pkg@version` refuses modules with replace directives.
wrapper() {  # name -> prints a fresh module dir
  local d="$CACHE/src/$1"
  rm -rf "$d"; mkdir -p "$d"; echo "$d"
}

kube_module() {  # the wrapper module of k8s.io/kubernetes, made once
  local d="$CACHE/src/kube-$K8S_VERSION"
  if [[ ! -f "$d/.ready" ]]; then
    rm -rf "$d"; mkdir -p "$d"
    (
      cd "$d"
      go mod download -json "k8s.io/kubernetes@$K8S_VERSION" >/dev/null
      local modfile="$GOMODCACHE/cache/download/k8s.io/kubernetes/@v/$K8S_VERSION.mod"
      {
        echo "module ontask.dev/servers/kube"
        echo "go 1.24.0"
        echo "require k8s.io/kubernetes $K8S_VERSION"
        # Every staging module is required as v0.0.0 upstream; point each at its published tag.
        grep -E '^\s+k8s.io/[a-z0-9-]+ v0.0.0\s*$' "$modfile" | awk -v v="v0.$K8S_MINOR.${K8S_VERSION##*.}" '{print "replace " $1 " => " $1 " " v}'
      } > go.mod
      mkdir -p apiserver controllermanager kubectl
      # Each main mirrors upstream cmd/<name>/<name>.go.
      cat > apiserver/main.go <<'GO'
package main

import (
	"os"

	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"
	_ "k8s.io/component-base/metrics/prometheus/clientgo"
	_ "k8s.io/component-base/metrics/prometheus/version"
	"k8s.io/kubernetes/cmd/kube-apiserver/app"
)

func main() { os.Exit(cli.Run(app.NewAPIServerCommand())) }
GO
      cat > controllermanager/main.go <<'GO'
package main

import (
	"os"

	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"
	_ "k8s.io/component-base/metrics/prometheus/clientgo"
	_ "k8s.io/component-base/metrics/prometheus/version"
	"k8s.io/kubernetes/cmd/kube-controller-manager/app"
)

func main() { os.Exit(cli.Run(app.NewControllerManagerCommand())) }
GO
      cat > kubectl/main.go <<'GO'
package main

import (
	_ "k8s.io/client-go/plugin/pkg/client/auth"
	"k8s.io/component-base/cli"
	"k8s.io/kubectl/pkg/cmd"
	"k8s.io/kubectl/pkg/cmd/util"
)

func main() {
	command := cmd.NewDefaultKubectlCommand()
	if err := cli.RunNoErrOutput(command); err != nil {
		util.CheckErr(err)
	}
}
GO
      go mod tidy >/dev/null
      touch .ready
    )
  fi
  echo "$d"
}

build_kube() {
  local todo=()
  for b in kube-apiserver:apiserver kube-controller-manager:controllermanager kubectl:kubectl; do
    [[ -x "$BIN/${b%%:*}" ]] || todo+=("$b")
  done
  [[ ${#todo[@]} -eq 0 ]] && return 0
  log "building ${todo[*]} $K8S_VERSION (cold: ~20 min on 2 cores)"
  local d; d="$(kube_module)"
  cd "$d"
  local ld="-s -w -X k8s.io/component-base/version.gitVersion=$K8S_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$K8S_MINOR -X k8s.io/client-go/pkg/version.gitVersion=$K8S_VERSION -X k8s.io/client-go/pkg/version.gitMajor=1 -X k8s.io/client-go/pkg/version.gitMinor=$K8S_MINOR"
  for b in "${todo[@]}"; do
    go build -p 2 -ldflags "$ld" -o "$BIN/${b%%:*}.tmp" "./${b##*:}"
    mv "$BIN/${b%%:*}.tmp" "$BIN/${b%%:*}"
  done
}

build_etcd() {
  [[ -x "$BIN/etcd" ]] && return 0
  log "building etcd $ETCD_VERSION"
  local d; d="$(wrapper etcd)"
  cd "$d"
  cat > go.mod <<MOD
module ontask.dev/servers/etcd
go 1.24.0
require go.etcd.io/etcd/server/v3 $ETCD_VERSION
MOD
  cat > main.go <<'GO'
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
GO
  go mod tidy >/dev/null
  go build -p 2 -ldflags "-s -w" -o "$BIN/etcd.tmp" .
  mv "$BIN/etcd.tmp" "$BIN/etcd"
}

build_helm() {
  [[ -x "$BIN/helm" ]] && return 0
  log "building helm $HELM_VERSION"
  GOBIN="$BIN" go install -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION" "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
}

build_weed() {
  [[ -x "$BIN/weed" ]] && return 0
  log "building SeaweedFS (weed) $WEED_VERSION (cold: ~10 min on 2 cores)"
  local d; d="$(wrapper weed)"
  cd "$d"
  # weed's go.mod has a replace directive, so `go install ...@version` refuses it; building
  # its main package from a module that requires it (and repeats the replace) works.
  cat > go.mod <<MOD
module ontask.dev/servers/weed
go 1.26
require github.com/seaweedfs/seaweedfs $WEED_VERSION
replace github.com/tyler-smith/go-bip39 => github.com/cosmos/go-bip39 v1.0.0
MOD
  cat > tools.go <<'GO'
//go:build tools

package tools

import _ "github.com/seaweedfs/seaweedfs/weed"
GO
  go mod tidy >/dev/null
  go build -p 2 -ldflags "-s -w" -o "$BIN/weed.tmp" github.com/seaweedfs/seaweedfs/weed
  mv "$BIN/weed.tmp" "$BIN/weed"
}

build_training_operator() {
  # The real controller of PyTorchJobs, with the manifests it is installed with (its webhook
  # configuration and RBAC), so tests run it as a cluster does: no replace directives upstream,
  # so `go install` builds it as published.
  local dir="$CACHE/training-operator"
  [[ -x "$BIN/training-operator" && -f "$dir/.complete" && "$(cat "$dir/.complete")" == "$TRAINING_OPERATOR_VERSION" ]] && return 0
  log "building the Kubeflow training operator $TRAINING_OPERATOR_VERSION (cold: ~8 min on 2 cores)"
  local tmp; tmp="$(wrapper training-operator)"
  GOBIN="$tmp" go install -ldflags "-s -w" "github.com/kubeflow/training-operator/cmd/training-operator.v1@$TRAINING_OPERATOR_VERSION"
  mv "$tmp/training-operator.v1" "$BIN/training-operator"
  local src
  src="$(cd "$tmp" && go mod download -json "github.com/kubeflow/training-operator@$TRAINING_OPERATOR_VERSION" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')"
  rm -rf "$dir"; mkdir -p "$dir"
  cp "$src/manifests/base/webhook/manifests.yaml" "$dir/webhook.yaml"
  cp "$src/manifests/base/rbac/role.yaml" "$dir/role.yaml"
  echo "$TRAINING_OPERATOR_VERSION" > "$dir/.complete"
}

build_trainer() {
  # Kubeflow Trainer v2's controller manager (TrainJob, TrainingRuntime and
  # ClusterTrainingRuntime reconcilers and their validating webhook) and JobSet's controller
  # (which Trainer v2 runs every TrainJob as), with the manifests they are installed with: their
  # CRDs, ClusterRoles and webhook configurations. Neither module has replace directives: Trainer
  # v2 builds with `go install`; JobSet's main package is its module's root, and `go install
  # sigs.k8s.io/jobset@v` asks the proxy for the module's version list (to report deprecation),
  # which the proxy refuses, so it is built from a wrapper module that requires it.
  local dir="$CACHE/trainer" want="$TRAINER_VERSION jobset $JOBSET_VERSION"
  [[ -x "$BIN/trainer-controller-manager" && -x "$BIN/jobset-controller" && -f "$dir/.complete" && "$(cat "$dir/.complete")" == "$want" ]] && return 0
  log "building Kubeflow Trainer $TRAINER_VERSION and JobSet $JOBSET_VERSION (cold: ~10 min on 2 cores)"
  local tmp trainer jobset; tmp="$(wrapper trainer)"
  GOBIN="$tmp" go install -ldflags "-s -w" "github.com/kubeflow/trainer/v2/cmd/trainer-controller-manager@$TRAINER_VERSION"
  mkdir -p "$tmp/jobset"
  cat > "$tmp/jobset/go.mod" <<MOD
module ontask.dev/servers/jobset
go 1.24.0
require sigs.k8s.io/jobset $JOBSET_VERSION
MOD
  cat > "$tmp/jobset/tools.go" <<'GO'
//go:build tools

package tools

import _ "sigs.k8s.io/jobset"
GO
  (cd "$tmp/jobset" && go mod tidy >/dev/null && go build -ldflags "-s -w" -o "$tmp/jobset-controller" sigs.k8s.io/jobset)
  mv "$tmp/trainer-controller-manager" "$BIN/trainer-controller-manager"
  mv "$tmp/jobset-controller" "$BIN/jobset-controller"
  trainer="$(cd "$tmp" && go mod download -json "github.com/kubeflow/trainer/v2@$TRAINER_VERSION" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')"
  jobset="$(cd "$tmp" && go mod download -json "sigs.k8s.io/jobset@$JOBSET_VERSION" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')"
  rm -rf "$dir"; mkdir -p "$dir/crds" "$dir/jobset"
  cp "$trainer"/manifests/base/crds/trainer.kubeflow.org_*.yaml "$dir/crds/"
  cp "$trainer/manifests/base/webhook/manifests.yaml" "$dir/webhook.yaml"
  cp "$trainer/manifests/base/rbac/role.yaml" "$dir/role.yaml"
  cp "$trainer/manifests/base/runtimes/torch_distributed.yaml" "$dir/torch_distributed.yaml"
  cp "$jobset/config/components/crd/bases/jobset.x-k8s.io_jobsets.yaml" "$dir/crds/"
  cp "$jobset/config/components/webhook/manifests.yaml" "$dir/jobset/webhook.yaml"
  cp "$jobset"/config/components/webhook/patches/*.yaml "$dir/jobset/"
  cp "$jobset/config/components/rbac/role.yaml" "$dir/jobset/role.yaml"
  chmod -R u+w,a+r "$dir"
  rm -rf "$tmp"
  echo "$want" > "$dir/.complete"
}

build_kserve() {
  # KServe's real controller manager (InferenceService reconciler and webhooks), built from its
  # module as published: upstream pins dependencies with replace directives, which `go install`
  # refuses, so it is built inside a copy of its own module. With it, the manifests it is
  # installed with (every CRD it watches, its ConfigMap, webhook configuration and ClusterRole).
  local dir="$CACHE/kserve"
  [[ -x "$BIN/kserve-manager" && -f "$dir/.complete" && "$(cat "$dir/.complete")" == "$KSERVE_VERSION" ]] && return 0
  log "building KServe's controller manager $KSERVE_VERSION (cold: ~3 min on 2 cores)"
  local tmp src; tmp="$(wrapper kserve)"
  src="$(cd "$tmp" && go mod download -json "github.com/kserve/kserve@$KSERVE_VERSION" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')"
  cp -r "$src" "$tmp/kserve"; chmod -R u+w "$tmp/kserve"
  (cd "$tmp/kserve" && go build -ldflags "-s -w" -o "$BIN/kserve-manager.tmp" ./cmd/manager)
  mv "$BIN/kserve-manager.tmp" "$BIN/kserve-manager"
  rm -rf "$dir"; mkdir -p "$dir/crds"
  find "$src/config/crd/full" -name 'serving.kserve.io_*.yaml' -exec cp {} "$dir/crds/" \;
  cp "$src/config/configmap/inferenceservice.yaml" "$dir/configmap.yaml"
  cp "$src/config/webhook/manifests.yaml" "$dir/webhook.yaml"
  cp "$src/config/rbac/role.yaml" "$dir/role.yaml"
  chmod 644 "$dir"/*.yaml "$dir"/crds/*.yaml
  rm -rf "$tmp"
  echo "$KSERVE_VERSION" > "$dir/.complete"
}

build_kafka() {
  local dir="$CACHE/kafka-$KAFKA_VERSION"
  [[ -f "$dir/.complete" ]] && return 0
  log "fetching Apache Kafka $KAFKA_VERSION jars from Maven Central"
  rm -rf "$dir"; mkdir -p "$dir/libs"
  sed "s/@KAFKA_VERSION@/$KAFKA_VERSION/" "$HERE/kafka-pom.xml" > "$dir/pom.xml"
  mvn -q -B -f "$dir/pom.xml" -Dmaven.repo.local="$CACHE/m2" \
      dependency:copy-dependencies -DoutputDirectory="$dir/libs" -DincludeScope=runtime
  touch "$dir/.complete"
}

fetch_crds() {  # the real CRDs, so the API server validates children against upstream schemas
  local dir="$CACHE/crds" want="kserve $KSERVE_VERSION training-operator $TRAINING_OPERATOR_VERSION runtimes"
  [[ -f "$dir/.complete" && "$(cat "$dir/.complete")" == "$want" ]] && return 0
  log "fetching the InferenceService, ServingRuntime and PyTorchJob CRDs and KServe's Hugging Face runtime ($want)"
  rm -rf "$dir"; mkdir -p "$dir"
  local kserve training
  kserve="$(cd "$dir" && go mod download -json "github.com/kserve/kserve@$KSERVE_VERSION" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')"
  training="$(cd "$dir" && go mod download -json "github.com/kubeflow/training-operator@$TRAINING_OPERATOR_VERSION" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')"
  cp "$kserve/config/crd/full/serving.kserve.io_inferenceservices.yaml" "$dir/"
  cp "$kserve/config/crd/full/serving.kserve.io_servingruntimes.yaml" "$dir/"
  cp "$kserve/config/crd/full/serving.kserve.io_clusterservingruntimes.yaml" "$dir/"
  cp "$training/manifests/base/crds/kubeflow.org_pytorchjobs.yaml" "$dir/"
  # The runtime a judge with `runtime: vllm` is served by (apart: it needs its CRD first).
  mkdir -p "$dir/runtimes"
  cp "$kserve/config/runtimes/kserve-huggingfaceserver.yaml" "$dir/runtimes/"
  chmod 644 "$dir"/*.yaml "$dir"/runtimes/*.yaml
  echo "$want" > "$dir/.complete"
}

targets=("$@"); [[ ${#targets[@]} -eq 0 ]] && targets=(all)
for t in "${targets[@]}"; do
  case "$t" in
    all) build_kafka; build_etcd; build_helm; build_kube; build_weed; fetch_crds; build_training_operator; build_kserve; build_trainer ;;
    crds) fetch_crds ;;
    training-operator) build_training_operator ;;
    kserve) build_kserve ;;
    trainer) build_trainer ;;
    kube) build_kube ;; etcd) build_etcd ;; helm) build_helm ;; weed) build_weed ;; kafka) build_kafka ;;
    *) echo "unknown target $t" >&2; exit 2 ;;
  esac
done
log "done: $(ls "$BIN" | tr '\n' ' ')"
