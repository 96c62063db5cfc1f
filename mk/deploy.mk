# Deployment targets, included by the top-level Makefile. See deploy/README.md.
#
#   make certs            CA, certificates and DB password for deploy/compose.yaml (root)
#   make image            the cotai image from deploy/Dockerfile (docker, else podman)
#   make deploy-validate  compose files, manifests and sidecar configs, no engine
#   make compose-test     the compose stack on Docker Engine (ENGINE=podman: rootful
#                         podman), with proofs (root)
#   make swarm-test       deploy/swarm/stack.yaml on a single-node Docker Swarm,
#                         with a zero-failure rolling update (root)

# docker when a Docker engine answers, else podman (a docker CLI alone is not enough).
ENGINE ?= $(shell docker info >/dev/null 2>&1 && echo docker || echo podman)
IMAGE ?= cotai:dev

.PHONY: certs image deploy-validate compose-test swarm-test

certs: $(BUILD)/cotai-ca
	COTAI_CA=$(abspath $(BUILD))/cotai-ca deploy/certs.sh

image:
	$(ENGINE) build $(if $(filter podman,$(ENGINE)),--format docker) \
		--build-arg COTAI_COMMIT=$(or $(COTAI_COMMIT),unknown) \
		-f deploy/Dockerfile -t $(IMAGE) .

deploy-validate: $(BINS)
	COTAI_BUILD=$(abspath $(BUILD)) deploy/validate.sh

# compose-test runs on Docker Engine unless ENGINE is given (the ENGINE
# default above would pick podman on a machine where dockerd is not yet
# running; the test starts it).
compose-test:
	ENGINE=$(if $(filter command line environment,$(origin ENGINE)),$(ENGINE),docker) \
	    deploy/compose-test.sh

swarm-test:
	deploy/swarm-test.sh
