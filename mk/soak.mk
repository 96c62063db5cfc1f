# soak: tests/soak/soak.sh, mixed traffic through the two-sidecar chain
# with faults injected on a schedule (see the script's header). Bounded in
# time; not part of make check.
#
#   make soak                   SOAK_SECONDS=180 (default)
#   make soak SOAK_SECONDS=600  longer
#
# Prints one "soak: connections=... leaks=..." line; fails on an
# unexpected connection failure or a leak.

SOAK_SECONDS ?= 180

.PHONY: soak

soak: $(BINS) $(TOOLS)
	COTAI_BUILD=$(abspath $(BUILD)) SOAK_SECONDS=$(SOAK_SECONDS) \
		tests/soak/soak.sh
