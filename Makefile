# memcached-operator: the one entry point. `make help` lists every target.

# VERSION is the operator's version: the CSV's, the bundle's and the images' tag.
VERSION ?= 0.4.0
# IMAGE_TAG_BASE is the registry and repository the images are pushed to.
IMAGE_TAG_BASE ?= quay.io/example-inc/memcached-operator
# IMG is the operator image.
IMG ?= $(IMAGE_TAG_BASE):v$(VERSION)
# BUNDLE_IMG is the bundle image.
BUNDLE_IMG ?= $(IMAGE_TAG_BASE)-bundle:v$(VERSION)
# CATALOG_IMG is the catalog image.
CATALOG_IMG ?= $(IMAGE_TAG_BASE)-catalog:v$(VERSION)

# CONTAINER_TOOL builds and pushes images where a daemon exists: docker or podman.
CONTAINER_TOOL ?= docker
# PLATFORMS are the platforms docker-buildx builds the operator image for.
PLATFORMS ?= linux/arm64,linux/amd64,linux/s390x,linux/ppc64le

SHELL = /usr/bin/env bash -o pipefail
.SHELLFLAGS = -ec

ROOT := $(abspath .)
BIN := $(ROOT)/bin
# K8S_BIN holds kube-apiserver, etcd, kubectl, ... built by `make k8s-binaries`.
K8S_BIN := $(BIN)/k8s
# K8S_VERSION is the Kubernetes of K8S_BIN, the newest the tests run on: hack/k8s-binaries.sh pins it.
K8S_VERSION := $(shell sed -n 's/^KUBERNETES_VERSION=.*:-\(v[0-9.]*\)}$$/\1/p' hack/k8s-binaries.sh)
# LOCAL_DIR holds the local cluster's state, logs and kubeconfig.
LOCAL_DIR := $(BIN)/local
LOCAL_KUBECONFIG := $(LOCAL_DIR)/kubeconfig

# KUBECTL talks to the cluster of KUBECONFIG (your own, for install/deploy): the
# kubectl built with the control plane (bin/k8s, the newest Kubernetes) when it
# is there, else the one on PATH.
KUBECTL ?= $(shell test -x $(K8S_BIN)/kubectl && echo $(K8S_BIN)/kubectl || command -v kubectl 2>/dev/null || echo $(K8S_BIN)/kubectl)

# Pinned tool versions; each is built from the Go module proxy into bin/ when missing.
CONTROLLER_TOOLS_VERSION ?= v0.23.0
CONTROLLER_GEN ?= $(BIN)/controller-gen-$(CONTROLLER_TOOLS_VERSION)
TOOLS := $(BIN)/tools

GO_TEST_FLAGS ?= -count=1 -timeout 60m

.PHONY: all
all: build

##@ General

.PHONY: help
help: ## Display this help.
	@awk 'BEGIN {FS = ":.*##"; printf "\nUsage:\n  make \033[36m<target>\033[0m\n"} /^[a-zA-Z_0-9-]+:.*?##/ { printf "  \033[36m%-24s\033[0m %s\n", $$1, $$2 } /^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) } ' $(MAKEFILE_LIST)

##@ Development

.PHONY: manifests
manifests: $(CONTROLLER_GEN) ## Generate the CRD and the ClusterRole (config/crd, config/rbac/role.yaml) from operator/.
	cd operator && $(CONTROLLER_GEN) rbac:roleName=manager-role crd paths="./..." output:crd:artifacts:config=../config/crd/bases output:rbac:artifacts:config=../config/rbac

.PHONY: generate
generate: $(CONTROLLER_GEN) ## Generate DeepCopy methods of the API types.
	cd operator && $(CONTROLLER_GEN) object:headerFile="../hack/boilerplate.go.txt" paths="./..."

.PHONY: fmt
fmt: ## Run gofmt on both modules (`go fmt` does not take workspace patterns).
	gofmt -w operator tools

.PHONY: vet
vet: ## Run go vet on both modules (e2e code included).
	go vet -tags e2e ./operator/... ./tools/...

.PHONY: test
test: manifests generate fmt vet real-node-preflight k8s-binaries olm-binaries debs testbed-image-binaries tools node-binaries operator-sdk ## Run every test: unit, envtest (real kube-apiserver), e2e (local cluster, real OLM, the real node: root on Linux).
	KUBEBUILDER_ASSETS=$(K8S_BIN) K8S_BIN_DIR=$(K8S_BIN) OLM_BIN_DIR=$(BIN)/olm NODE_BIN_DIR=$(NODE_BIN) TOOLS_BIN=$(TOOLS) OPERATOR_SDK=$(OPERATOR_SDK) go test $(GO_TEST_FLAGS) -tags e2e ./operator/... ./tools/...

.PHONY: test-compat
test-compat: manifests generate k8s-compat-binaries debs ## On every K8S_COMPAT_VERSIONS: the envtest suite against its kube-apiserver and the tutorial's walk-through on a local cluster of its control plane.
	@GO_TEST_FLAGS="$(GO_TEST_FLAGS)" bash hack/test-compat.sh $(BIN) $(K8S_COMPAT_VERSIONS)

.PHONY: test-hack
test-hack: k8s-binaries ## Check that hack/k8s-compat-binaries.sh refuses a version the Go module proxy does not serve in seconds, naming module and version.
	@bash hack/k8s-compat-binaries_test.sh $(BIN)

.PHONY: test-unit
test-unit: k8s-binaries debs testbed-image-binaries ## Run the tests without the e2e ones.
	KUBEBUILDER_ASSETS=$(K8S_BIN) K8S_BIN_DIR=$(K8S_BIN) go test $(GO_TEST_FLAGS) ./operator/... ./tools/...

.PHONY: verify
verify: ## Regenerate every generated file and fail if anything differs from what is committed.
	$(MAKE) manifests generate fmt bundle
	$(TOOLS) catalog render --check
	$(TOOLS) catalog validate --dir catalog --bundle-dir bundle --platforms $(PLATFORMS)
	@changed=$$(git status --porcelain --untracked-files=all -- operator config bundle bundle.Dockerfile catalog releases); \
	if [ -n "$$changed" ]; then \
		git --no-pager diff --stat; echo "$$changed" >&2; \
		echo "error: the files above differ from what is committed once regenerated: commit them (bundle/ is regenerated at the Makefile's VERSION ?= $(VERSION): set it first when cutting a release)" >&2; exit 1; \
	fi
	@cd operator && GOWORK=off go build ./... && cd ../tools && GOWORK=off go build ./...
	@echo "verify: generated files are up to date; each module builds alone"

##@ Build

.PHONY: build
build: manifests generate fmt vet ## Build the manager binary into bin/manager.
	go build -o $(BIN)/manager ./operator/cmd

.PHONY: run
# RUN_HEALTH_PROBE_ADDR is where `make run` serves /healthz and /readyz: loopback only.
RUN_HEALTH_PROBE_ADDR ?= 127.0.0.1:8081
run: manifests generate fmt vet ## Run the operator out of cluster against KUBECONFIG (probes on RUN_HEALTH_PROBE_ADDR).
	go run ./operator/cmd --health-probe-bind-address=$(RUN_HEALTH_PROBE_ADDR)

.PHONY: docker-build
docker-build: ## Build the operator image with CONTAINER_TOOL.
	$(CONTAINER_TOOL) build -t $(IMG) .

.PHONY: docker-push
docker-push: ## Push the operator image with CONTAINER_TOOL.
	$(CONTAINER_TOOL) push $(IMG)

.PHONY: docker-buildx
docker-buildx: ## Build and push the operator image for every PLATFORMS with docker buildx.
	- $(CONTAINER_TOOL) buildx create --name memcached-operator-builder
	$(CONTAINER_TOOL) buildx use memcached-operator-builder
	- $(CONTAINER_TOOL) buildx build --push --platform=$(PLATFORMS) --tag $(IMG) -f Dockerfile .
	- $(CONTAINER_TOOL) buildx rm memcached-operator-builder

# The build's output (a first build prints a line per module downloaded) goes to
# bin/tools-build.log; a failure shows it without the download lines.
.PHONY: tools
tools: ## Build the release tooling into bin/tools.
	@mkdir -p $(BIN)
	@echo "go build -o $(TOOLS) ./tools/cmd/tools"
	@go build -o $(TOOLS) ./tools/cmd/tools >$(BIN)/tools-build.log 2>&1 || { grep -v '^go: downloading' $(BIN)/tools-build.log | tail -n 20 >&2; exit 1; }

##@ Deployment

.PHONY: install
install: manifests tools ## Install the CRDs into the cluster of KUBECONFIG (as its Kubernetes version stores them).
	$(TOOLS) render config/crd --for-cluster | $(KUBECTL) apply --server-side -f -

.PHONY: uninstall
uninstall: manifests tools ## Uninstall the CRDs from the cluster of KUBECONFIG.
	$(TOOLS) render config/crd | $(KUBECTL) delete --ignore-not-found -f -

# DEPLOY_CONFIG is what deploy installs: config/default (the operator watches
# every namespace, its role bound cluster-wide) or config/namespaced (it watches
# its own namespace, its role bound there only; see that kustomization to add
# namespaces).
DEPLOY_CONFIG ?= config/default

.PHONY: deploy
deploy: manifests tools ## Deploy the operator (IMG) to the cluster of KUBECONFIG, in memcached-operator-system (DEPLOY_CONFIG=config/namespaced: watching that namespace only).
	$(TOOLS) render $(DEPLOY_CONFIG) --image controller=$(IMG) | $(KUBECTL) apply --server-side -f -

.PHONY: undeploy
undeploy: tools ## Remove what deploy created from the cluster of KUBECONFIG.
	$(TOOLS) render $(DEPLOY_CONFIG) --image controller=$(IMG) | $(KUBECTL) delete --ignore-not-found -f -

##@ Bundle

# CHANNELS (comma-separated) and DEFAULT_CHANNEL of the bundle. OLM's naming
# convention (candidate, fast, stable): other names make the good-practices
# validator warn, and a warning fails the bundle.
CHANNELS ?= candidate
DEFAULT_CHANNEL ?= candidate
# USE_IMAGE_DIGESTS=true pins every image by digest (asks the registries); needed
# for features.operators.openshift.io/disconnected "true".
USE_IMAGE_DIGESTS ?= false

# KUBE_VERSIONS are the Kubernetes versions the tests pass on (`make test` on the newest,
# `make test-compat` on K8S_COMPAT_VERSIONS): the lowest becomes the CSV's minKubeVersion
# and its OpenShift release the bundle's com.redhat.openshift.versions.
KUBE_VERSIONS = $(K8S_COMPAT_VERSIONS) $(or $(K8S_VERSION),$(error cannot read KUBERNETES_VERSION's default from hack/k8s-binaries.sh))

.PHONY: bundle
bundle: manifests tools ## Generate bundle/ and bundle.Dockerfile for VERSION and IMG from config/, validated (no error, no warning).
	$(TOOLS) bundle generate --version $(VERSION) --image $(IMG) --channels $(CHANNELS) --default-channel $(DEFAULT_CHANNEL) --use-image-digests=$(USE_IMAGE_DIGESTS) --platforms $(PLATFORMS) --kube-versions "$(KUBE_VERSIONS)"
	$(TOOLS) bundle validate --dir bundle --platforms $(PLATFORMS) --kube-versions "$(KUBE_VERSIONS)"

.PHONY: bundle-build
bundle-build: ## Build the bundle image BUNDLE_IMG with CONTAINER_TOOL.
	$(CONTAINER_TOOL) build -f bundle.Dockerfile -t $(BUNDLE_IMG) .

.PHONY: bundle-push
bundle-push: ## Push the bundle image BUNDLE_IMG with CONTAINER_TOOL.
	$(CONTAINER_TOOL) push $(BUNDLE_IMG)

.PHONY: scorecard-offline
scorecard-offline: tools ## The checks of the six default scorecard tests against bundle/, offline (no cluster needed).
	$(TOOLS) bundle scorecard --dir bundle

##@ Catalog

# CATALOG_CHANNELS are the semver template archetypes `make catalog` lists VERSION in
# (comma-separated: candidate, fast, stable); it generates the channels (stable-v0, ...).
CATALOG_CHANNELS ?= candidate,fast,stable
# CATALOG_DEFAULT_CHANNEL, when set, must be the default channel the semver template
# computes (the newest channel of the most stable archetype, stable-v0 now).
CATALOG_DEFAULT_CHANNEL ?=
# CATALOG_PORT is the loopback port `make catalog-serve` listens on.
CATALOG_PORT ?= 50051

.PHONY: catalog
catalog: tools ## Release bundle/ as VERSION (BUNDLE_IMG) into releases/ and the semver template catalog/template.yaml; re-render and validate catalog/.
	$(TOOLS) catalog release --version $(VERSION) --bundle-dir bundle --platforms $(PLATFORMS) --image $(BUNDLE_IMG) --channels $(CATALOG_CHANNELS) $(if $(CATALOG_DEFAULT_CHANNEL),--default-channel $(CATALOG_DEFAULT_CHANNEL))

.PHONY: catalog-build
catalog-build: tools ## Build the catalog image (CATALOG_IMG) from catalog/ with CONTAINER_TOOL, after checking catalog/ is a valid, fresh render.
	$(TOOLS) catalog render --check
	$(CONTAINER_TOOL) build -f catalog.Dockerfile -t $(CATALOG_IMG) .

.PHONY: catalog-push
catalog-push: ## Push the catalog image (CATALOG_IMG) with CONTAINER_TOOL.
	$(CONTAINER_TOOL) push $(CATALOG_IMG)

.PHONY: catalog-serve
catalog-serve: tools ## Serve catalog/ over gRPC on 127.0.0.1:CATALOG_PORT like a CatalogSource's registry pod (Ctrl-C stops).
	$(TOOLS) catalog serve --dir catalog --port $(CATALOG_PORT)

##@ OLM (operator-sdk run bundle, scorecard; needs a cluster with OLM in KUBECONFIG)

OPERATOR_SDK_VERSION ?= v1.42.2
OPERATOR_SDK ?= $(BIN)/operator-sdk
# INSTALL_NAMESPACE is where run-bundle installs the operator.
INSTALL_NAMESPACE ?= memcached-operator-system
# RUN_BUNDLE_FLAGS are further flags of run-bundle and run-bundle-upgrade, e.g.
# --timeout 5m, or --use-http for a bundle image in a plain-HTTP registry.
RUN_BUNDLE_FLAGS ?=
# SCORECARD_FLAGS are further flags of scorecard, e.g. -o json, or --untar-image
# and --storage-image where operator-sdk's own (pinned by digest) cannot be pulled.
SCORECARD_FLAGS ?=

.PHONY: operator-sdk
operator-sdk: ## Build operator-sdk (OPERATOR_SDK_VERSION) from the Go module proxy into bin/.
	@OPERATOR_SDK_VERSION=$(OPERATOR_SDK_VERSION) bash hack/operator-sdk.sh $(OPERATOR_SDK)

.PHONY: run-bundle
run-bundle: operator-sdk ## Install BUNDLE_IMG into the cluster of KUBECONFIG with `operator-sdk run bundle`.
	$(OPERATOR_SDK) run bundle $(BUNDLE_IMG) --namespace $(INSTALL_NAMESPACE) --install-mode AllNamespaces $(RUN_BUNDLE_FLAGS)

.PHONY: run-bundle-upgrade
run-bundle-upgrade: operator-sdk ## Upgrade the operator installed by run-bundle to BUNDLE_IMG.
	$(OPERATOR_SDK) run bundle-upgrade $(BUNDLE_IMG) --namespace $(INSTALL_NAMESPACE) $(RUN_BUNDLE_FLAGS)

.PHONY: cleanup
cleanup: operator-sdk ## Remove what run-bundle installed (`operator-sdk cleanup memcached-operator`).
	$(OPERATOR_SDK) cleanup memcached-operator --namespace $(INSTALL_NAMESPACE)

.PHONY: scorecard
scorecard: operator-sdk ## Run `operator-sdk scorecard bundle` against the cluster of KUBECONFIG (its tests run as pods).
	$(OPERATOR_SDK) scorecard bundle --namespace $(INSTALL_NAMESPACE) --wait-time 120s $(SCORECARD_FLAGS)

##@ Images without a container engine (go-containerregistry; credentials from the docker config file)

# CATALOG_PLATFORMS are the catalog image's platforms (opm and grpc_health_probe are built for each).
CATALOG_PLATFORMS ?= $(PLATFORMS)
OPM_IMAGE_DIR := $(BIN)/opm-image
IMAGES_LAYOUT_DIR := $(BIN)/images

.PHONY: opm-image-binaries
opm-image-binaries: ## Build static opm and grpc_health_probe for every CATALOG_PLATFORMS into bin/opm-image (skipped when up to date).
	@PLATFORMS=$(CATALOG_PLATFORMS) bash hack/opm-image-binaries.sh $(OPM_IMAGE_DIR)

# TESTBED_IMAGES_DIR holds the programs of the testbed's images (exporter, cpb, scorecard-test, opm).
TESTBED_IMAGES_DIR := $(BIN)/testbed-images

.PHONY: testbed-image-binaries
testbed-image-binaries: ## Build the testbed images' programs for linux/<host arch> into bin/testbed-images: memcached_exporter, OLM's cpb, scorecard-test, opm, grpc_health_probe.
	@bash hack/testbed-image-binaries.sh $(TESTBED_IMAGES_DIR) $(OPM_IMAGE_DIR)

.PHONY: testbed-images
testbed-images: tools debs testbed-image-binaries ## Build the real node's images (operator, bundles, catalog, stand-ins; docs/registry-mirrors.md) into bin/testbed-images/layouts and list them (cached by input stamps).
	$(TOOLS) images node --repo-root $(ROOT) --bin-dir $(TESTBED_IMAGES_DIR) --debs-dir $(BIN)/debs

.PHONY: images-build
images-build: tools opm-image-binaries ## Build the operator, bundle and catalog images into OCI layouts under bin/images (no registry, no Docker).
	$(TOOLS) images operator --image $(IMG) --version $(VERSION) --platforms $(PLATFORMS) --oci-layout $(IMAGES_LAYOUT_DIR)/operator
	$(TOOLS) images bundle --image $(BUNDLE_IMG) --dir bundle --dockerfile bundle.Dockerfile --oci-layout $(IMAGES_LAYOUT_DIR)/bundle
	$(TOOLS) images catalog --image $(CATALOG_IMG) --dir catalog --platforms $(CATALOG_PLATFORMS) --opm-dir $(OPM_IMAGE_DIR) --oci-layout $(IMAGES_LAYOUT_DIR)/catalog

.PHONY: image-push
image-push: tools ## Build the manager for every PLATFORMS and push the operator image IMG (an OCI index), without Docker.
	$(TOOLS) images operator --image $(IMG) --version $(VERSION) --platforms $(PLATFORMS)

.PHONY: bundle-image-push
bundle-image-push: tools ## Push bundle/ as the bundle image BUNDLE_IMG, without Docker.
	$(TOOLS) images bundle --image $(BUNDLE_IMG) --dir bundle --dockerfile bundle.Dockerfile

.PHONY: catalog-image-push
catalog-image-push: tools opm-image-binaries ## Push catalog/ as the catalog image CATALOG_IMG (opm, pre-built serve cache), without Docker.
	$(TOOLS) catalog render --check
	$(TOOLS) images catalog --image $(CATALOG_IMG) --dir catalog --platforms $(CATALOG_PLATFORMS) --opm-dir $(OPM_IMAGE_DIR)

.PHONY: release
release: manifests tools opm-image-binaries ## Release VERSION: operator image, bundle (digests with USE_IMAGE_DIGESTS=true), bundle image, catalog release, catalog image. Re-running is a no-op.
	$(TOOLS) images release --version $(VERSION) --image $(IMG) --bundle-image $(BUNDLE_IMG) --catalog-image $(CATALOG_IMG) \
		--use-image-digests=$(USE_IMAGE_DIGESTS) --platforms $(PLATFORMS) --catalog-platforms $(CATALOG_PLATFORMS) --opm-dir $(OPM_IMAGE_DIR) \
		--channels $(CHANNELS) --default-channel $(DEFAULT_CHANNEL) --catalog-channels $(CATALOG_CHANNELS) --kube-versions "$(KUBE_VERSIONS)" \
		$(if $(CATALOG_DEFAULT_CHANNEL),--catalog-default-channel $(CATALOG_DEFAULT_CHANNEL)) --summary-file $(BIN)/release-$(VERSION).env

##@ Performance and fault tolerance

BENCH_FLAGS ?= --crs 100,500 --idle 60s --unrelated 10000
# BASELINE is another manager binary measured side by side with ours, on a
# fresh cluster, with the issue-16 workload (size 3 over 10 namespaces);
# BASELINE_ARGS are its flags (default: the scaffold's --leader-elect=false).
# See docs/performance.md for building the tutorial's controller as one.
BASELINE ?=
BASELINE_ARGS ?=
BASELINE_WORKLOAD ?= --namespaces 10 --size 3
# BENCH_DIR keeps the managers' logs, the clusters' state and audit logs, and the report.
BENCH_DIR ?= $(BIN)/bench
BENCH_BASELINE_FLAGS = $(if $(BASELINE),--baseline $(BASELINE) $(BASELINE_WORKLOAD) $(if $(BASELINE_ARGS),--baseline-args '$(BASELINE_ARGS)'))

.PHONY: bench
bench: k8s-binaries tools ## Measure convergence, API writes and memory on the local cluster (~8 min; BASELINE=<manager> adds it side by side); report in BENCH_DIR/report.{md,json}.
	$(TOOLS) bench --repo-root $(ROOT) --bin-dir $(K8S_BIN) --work-dir $(BENCH_DIR) $(BENCH_BASELINE_FLAGS) $(BENCH_FLAGS) \
		--output - --output $(BENCH_DIR)/report.md --output $(BENCH_DIR)/report.json

.PHONY: test-faults
test-faults: k8s-binaries ## Fault and security tests: operator SIGKILLed mid-rollout, API server restart, frozen leader, drift, hostile input, idle writes, metrics auth, namespaced RBAC.
	K8S_BIN_DIR=$(K8S_BIN) go test $(GO_TEST_FLAGS) -tags e2e -v ./tools/internal/faults/...

FUZZTIME ?= 60s
.PHONY: fuzz
fuzz: ## Run each fuzz test for FUZZTIME (a plain `go test` runs only their seeds).
	go test ./operator/internal/controller -run '^$$' -fuzz '^FuzzDesiredDeployment$$' -fuzztime $(FUZZTIME)
	go test ./tools/internal/render -run '^$$' -fuzz '^FuzzParseImage$$' -fuzztime $(FUZZTIME)
	go test ./tools/internal/render -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME)

##@ Demo

# KWOK=1 makes demo and demo-olm run on kwok's nodes even where a real node could run.
KWOK ?=

.PHONY: demo
demo: k8s-binaries tools ## The tutorial's walk-through on the embedded local cluster, its pods on a real node where it can run (Linux, root; KWOK=1: kwok only), else kwok's (KEEP=1 leaves it running).
	$(TOOLS) demo --repo-root $(ROOT) --bin-dir $(K8S_BIN) --state-dir $(LOCAL_DIR) --work-dir $(BIN)/demo $(if $(KEEP),--keep) \
		$(if $(KWOK),,--node-bin-dir $(NODE_BIN) --debs-dir $(BIN)/debs --images-dir $(BIN)/testbed-images)

##@ OLM on the local cluster

.PHONY: olm-binaries
olm-binaries: ## Build OLM's olm and catalog operators and opm from the Go module proxy into bin/olm (skipped when up to date).
	@bash hack/olm-binaries.sh $(BIN)/olm

.PHONY: olmv1-binaries
olmv1-binaries: ## Build OLM v1 (catalogd, operator-controller) with its CRDs and manifests from the Go module proxy into bin/olmv1.
	@bash hack/olmv1-binaries.sh $(BIN)/olmv1

.PHONY: demo-olm
demo-olm: k8s-binaries olm-binaries tools ## Install the oldest release through OLM on a local cluster and watch OLM upgrade it to the newest: from the shipped images on a real node where it can run (Linux, root; KWOK=1: kwok only, with a held upgrade), else on kwok's nodes.
	$(TOOLS) demo-olm --repo-root $(ROOT) --bin-dir $(K8S_BIN) --olm-bin-dir $(BIN)/olm --work-dir $(BIN)/demo-olm \
		$(if $(KWOK),,--node-bin-dir $(NODE_BIN) --debs-dir $(BIN)/debs --images-dir $(TESTBED_IMAGES_DIR) --opm-image-dir $(OPM_IMAGE_DIR))

##@ Local cluster (etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok; loopback only)

.PHONY: debs
debs: ## Fetch Debian's memcached (with every library it links) and busybox-static, unpacked (never installed), into bin/debs for the extraArgs test and the testbed's images (skipped when up to date).
	@bash hack/debs.sh $(BIN)/debs

.PHONY: k8s-binaries
k8s-binaries: ## Build the control-plane binaries from the Go module proxy into bin/k8s (skipped when up to date).
	@bash hack/k8s-binaries.sh $(K8S_BIN)

# K8S_COMPAT_VERSIONS are the older control planes the operator is tested on (issue 14):
# the floor (v1.25.16's staging modules are not all on the proxy) and one in the middle.
# `make test-compat` runs envtest and the walk-through on each; the lowest of them and
# K8S_VERSION is the CSV's minKubeVersion (KUBE_VERSIONS, `make bundle`).
K8S_COMPAT_VERSIONS ?= v1.25.15 v1.30.14

.PHONY: k8s-compat-binaries
k8s-compat-binaries: k8s-binaries ## Build kube-apiserver, kcm, scheduler of each K8S_COMPAT_VERSIONS into bin/k8s-<version> (etcd, kubectl, kwok linked from bin/k8s).
	@bash hack/k8s-compat-binaries.sh $(BIN) $(K8S_COMPAT_VERSIONS)

# REAL_NODE=1 makes local-up add a real node (kubelet, containerd, kube-proxy, CoreDNS,
# a loopback registry) beside the kwok nodes: Linux and root only, see docs/real-node.md.
REAL_NODE ?=
NODE_BIN := $(BIN)/node

.PHONY: node-binaries
node-binaries: ## Build a real node's kubelet, kube-proxy, containerd (+ runc shim) and a forward-less CoreDNS into bin/node.
	@bash hack/node-binaries.sh $(NODE_BIN)

.PHONY: local-up
local-up: $(if $(REAL_NODE),real-node-preflight) k8s-binaries tools $(if $(REAL_NODE),node-binaries) ## Start the local cluster in the background (REAL_NODE=1 adds a real node); kubeconfig in bin/local/kubeconfig.
	$(TOOLS) local up --bin-dir $(K8S_BIN) --state-dir $(LOCAL_DIR) $(if $(REAL_NODE),--real-node --node-bin-dir $(NODE_BIN))

.PHONY: real-node-preflight
real-node-preflight: tools ## Check, before any long build, that a real node can run here (Linux, root, Debian packages; installs missing ones with apt-get).
	$(TOOLS) local preflight

.PHONY: local-down
local-down: tools ## Stop the local cluster and every process it started; with a real node, put the host back as it was (also after a crash).
	$(TOOLS) local down --state-dir $(LOCAL_DIR)

$(CONTROLLER_GEN):
	@mkdir -p $(BIN)
	@echo "building controller-gen $(CONTROLLER_TOOLS_VERSION)"
	@GOBIN=$(BIN) GOWORK=off GOFLAGS=-mod=mod go install sigs.k8s.io/controller-tools/cmd/controller-gen@$(CONTROLLER_TOOLS_VERSION)
	@mv $(BIN)/controller-gen $(CONTROLLER_GEN)
