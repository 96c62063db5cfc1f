# Container scanning, included by the top-level Makefile. See deploy/scan/.
#
#   make scan   for each image of the stack (SCAN_IMAGES; else the images
#               deploy/test/images.sh recorded it built for the last
#               `make compose-test`, SCAN_RECORD, default
#               $COTAI_CACHE/images-ENGINE-compose-test.env; else the
#               image: names of deploy/compose.yaml): a CycloneDX SBOM of
#               its Debian packages, the packages older than in
#               bookworm-security, debsecan's CVEs (tracker data, or
#               SCAN_DEBSECAN_SOURCE=URL), hardening checks; report in
#               SCAN_OUT (report.txt, report.json, sbom/). Fails on a
#               finding at or above SCAN_THRESHOLD (default high); an
#               image that does not exist is a failure (exit 2).
#               SCAN_STRICT=1: a check not done (the CVE check when the
#               tracker is unreachable and no SCAN_DEBSECAN_SOURCE, the
#               security-update check when the archive is) fails (exit 3).
#               ENGINE=podman reads the images from podman instead.

SCAN_OUT ?= $(BUILD)/scan
SCAN_THRESHOLD ?= high
# The images that must hold no shell (make-scan.sh's default: the cotai
# image, COTAI_IMAGE of the record, else COTAI_IMAGE or cotai:dev).
SCAN_NO_SHELL ?=
# docker unless ENGINE is given (mk/deploy.mk's default picks podman when
# no Docker Engine answers; the scan starts one instead).
SCAN_ENGINE = $(if $(filter command line environment,$(origin ENGINE)),$(ENGINE),docker)

.PHONY: scan

scan:
	@./mk/deps.sh test
	ENGINE=$(SCAN_ENGINE) SCAN_NO_SHELL="$(SCAN_NO_SHELL)" \
		deploy/scan/make-scan.sh --out $(SCAN_OUT) \
		--threshold $(SCAN_THRESHOLD) \
		$(if $(SCAN_DEBSECAN_SOURCE),--debsecan-source $(SCAN_DEBSECAN_SOURCE)) \
		$(if $(SCAN_SECURITY_INDEX),--security-index $(SCAN_SECURITY_INDEX)) \
		$(if $(filter 1,$(SCAN_STRICT)),--strict)
