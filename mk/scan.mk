# Container scanning, included by the top-level Makefile. See deploy/scan/.
#
#   make scan   for each image of the stack (SCAN_IMAGES, default the
#               image: names of deploy/compose.yaml): a CycloneDX SBOM of
#               its Debian packages, the packages older than in
#               bookworm-security, debsecan's CVEs (tracker data, or
#               SCAN_DEBSECAN_SOURCE=URL), hardening checks; report in
#               SCAN_OUT (report.txt, report.json, sbom/). Fails on a
#               finding at or above SCAN_THRESHOLD (default high).
#               ENGINE=podman reads the images from podman instead.

SCAN_OUT ?= $(BUILD)/scan
SCAN_THRESHOLD ?= high
# The images that must hold no shell: the cotai image.
SCAN_NO_SHELL ?= $(or $(COTAI_IMAGE),cotai:dev)
# docker unless ENGINE is given (mk/deploy.mk's default picks podman when
# no Docker Engine answers; the scan starts one instead).
SCAN_ENGINE = $(if $(filter command line environment,$(origin ENGINE)),$(ENGINE),docker)

.PHONY: scan

scan:
	@./mk/deps.sh test
	ENGINE=$(SCAN_ENGINE) deploy/scan/make-scan.sh --out $(SCAN_OUT) \
		--threshold $(SCAN_THRESHOLD) \
		$(foreach i,$(SCAN_NO_SHELL),--no-shell $(i)) \
		$(if $(SCAN_DEBSECAN_SOURCE),--debsecan-source $(SCAN_DEBSECAN_SOURCE)) \
		$(if $(SCAN_SECURITY_INDEX),--security-index $(SCAN_SECURITY_INDEX)) \
		$(if $(filter 1,$(SCAN_STRICT)),--strict)
