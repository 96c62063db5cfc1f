# cotai: one non-recursive GNU Makefile for cotai-proxy, cotai-ca and tests.
#
#   make            build bin: $(BUILD)/cotai-proxy, $(BUILD)/cotai-ca
#   make check      install missing Debian packages (as root), then run
#                   lint, unit tests, the fuzz corpus, integration tests,
#                   the deploy files' validation, the alert rules' promtool
#                   tests, the man pages' lint, the systemd unit's check,
#                   and all tests again under ASan/UBSan
#   make unit       Check unit tests        make itest   integration tests
#   make itest-nomux  the relay tests (20-23) again with mux: off
#   make asan       unit + integration tests under ASan/UBSan
#   make demo       the two-sidecar demo    make bench   benchmarks
#   make bench-regress [BASE=commit]  this cotai-proxy against BASE's
#   make install    PREFIX=/usr/local DESTDIR= (programs, man pages)
#   make man-lint   the man pages (mk/man.mk)
#   make systemd-verify  the systemd unit (mk/systemd.mk)
#   make scan       SBOM, CVE and hardening checks of the images (mk/scan.mk)
#
# Sources are found by wildcard: lib/*.c is linked into both programs,
# ca/*.c into cotai-ca, config/*.c and proxy/*/*.c into cotai-proxy,
# tests/unit/check_<name>.c must define `Suite *<name>_suite(void)`, and each
# tests/tools/<tool>.c is a standalone test helper program.

VERSION := 0.2.0
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
BUILD ?= build
CC ?= cc
PKG_CONFIG ?= pkg-config

PKGS := openssl libevent libevent_openssl libevent_pthreads yaml-0.1 libnghttp2
PKG_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(PKGS) check 2>/dev/null)
PKG_LIBS := $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null)
CHECK_LIBS := $(shell $(PKG_CONFIG) --libs check 2>/dev/null)

OPT ?= -O2
CFLAGS ?= $(OPT) -g
WARN := -Wall -Wextra -Werror -Wshadow -Wpointer-arith -Wformat=2 \
	-Wstrict-prototypes -Wmissing-prototypes -Wvla -Wno-unused-parameter
CPPFLAGS += -D_GNU_SOURCE -DOPENSSL_API_COMPAT=30000 -DOPENSSL_NO_DEPRECATED \
	$(addprefix -I,lib config $(PROXY_DIRS) ca) -I$(BUILD)
ALL_CFLAGS = -std=c11 $(WARN) -fno-strict-aliasing -pthread $(CFLAGS) \
	$(PKG_CFLAGS) $(SANFLAGS)
LDLIBS += $(PKG_LIBS) -pthread

ifeq ($(SAN),1)
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer \
	-fno-sanitize-recover=undefined
endif

# proxy/'s folders, lowest layer first (see "The layers" below).
PROXY_DIRS := proxy/audit proxy/transport proxy/proto proxy/relay \
	proxy/process proxy/control
LIB_SRC := $(wildcard lib/*.c)
CA_SRC := $(filter-out ca/main.c,$(wildcard ca/*.c))
CONFIG_SRC := $(wildcard config/*.c)
PROXY_SRC := $(wildcard $(addsuffix /*.c,$(PROXY_DIRS)))
UNIT_SRC := $(sort $(wildcard tests/unit/check_*.c))
TOOL_SRC := $(wildcard tests/tools/*.c)

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))
LIB_OBJ := $(call obj,$(LIB_SRC))
CA_OBJ := $(call obj,$(CA_SRC))
CONFIG_OBJ := $(call obj,$(CONFIG_SRC))
PROXY_OBJ := $(call obj,$(PROXY_SRC))
UNIT_OBJ := $(call obj,$(UNIT_SRC) tests/unit/runner.c)
TOOLS := $(patsubst tests/tools/%.c,$(BUILD)/tools/%,$(TOOL_SRC))

BINS := $(BUILD)/cotai-proxy $(BUILD)/cotai-ca

.PHONY: FORCE all check unit itest itest-nomux asan valgrind demo bench bench-regress \
	install clean deps \
	lint format tools
.DEFAULT_GOAL := all

all: $(BINS) tools
tools: $(TOOLS)

# build/version.h: VERSION and the commit (COTAI_COMMIT when given, as in
# the Docker build where there is no .git; else git's HEAD, "-dirty" with
# uncommitted changes; else "unknown"). Rewritten only when it changes, so
# only the two main.c files are rebuilt after a commit.
COTAI_COMMIT ?= $(shell git rev-parse --short=12 HEAD 2>/dev/null | \
	sed "s/$$/$$(git diff --quiet HEAD 2>/dev/null || echo -dirty)/")
$(BUILD)/version.h: FORCE
	@mkdir -p $(dir $@)
	@printf '#define COTAI_VERSION "%s"\n#define COTAI_COMMIT "%s"\n' \
	  '$(VERSION)' '$(or $(COTAI_COMMIT),unknown)' >$@.tmp
	@cmp -s $@.tmp $@ && rm -f $@.tmp || mv $@.tmp $@
$(call obj,ca/main.c proxy/main.c): $(BUILD)/version.h
FORCE:

$(BUILD)/cotai-ca: $(call obj,ca/main.c) $(CA_OBJ) $(LIB_OBJ)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/cotai-proxy: $(call obj,proxy/main.c) $(PROXY_OBJ) $(CONFIG_OBJ) \
		$(LIB_OBJ)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tools/%: $(BUILD)/obj/tests/tools/%.o $(LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/check_runner: $(UNIT_OBJ) $(CA_OBJ) $(PROXY_OBJ) $(CONFIG_OBJ) \
		$(LIB_OBJ)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(CHECK_LIBS) $(LDLIBS)

# The runner's list of suites, one X(name) per tests/unit/check_<name>.c.
# Made at every build (a deleted check_*.c leaves no newer prerequisite)
# and replaced only when the list changed (no needless rebuild of runner.o).
$(BUILD)/unit_suites.h: FORCE
	@mkdir -p $(dir $@)
	@{ printf '#define UNIT_SUITES'; \
	  for f in $(UNIT_SRC); do n=$${f##*/check_}; printf ' X(%s)' "$${n%.c}"; \
	  done; echo; } > $@.tmp && \
	  if cmp -s $@.tmp $@; then rm -f $@.tmp; else mv $@.tmp $@; fi
$(BUILD)/obj/tests/unit/runner.o: $(BUILD)/unit_suites.h

# The layers, lowest first. A folder's files see their own folder and the
# ones below it, never one above (its -I flags say so), so a header from a
# higher layer is a compile error and the folders have no cycles:
#   lib/               log, duration, SPIFFE, identity, allow/expect policy
#   config/            the YAML file, validated (file:line errors)
#   ca/                cotai-ca (lib/ only)
#   proxy/audit/       close reasons, audit records and their shipping
#   proxy/transport/   a leg (TCP or TLS socket), a pump, TLS contexts
#   proxy/proto/       the protocol table; PostgreSQL's negotiation
#   proxy/relay/       connections (conn*), mux tunnels, routes, upstreams
#   proxy/process/     workers, listeners, reload, file watch, sandbox
#   proxy/control/     admin endpoint, metrics, probe, renewal
#   proxy/main.c       cotai-proxy's main
# The -I flags of layer $(1) (a folder): itself and every layer below.
layer_inc = $(addprefix -I,lib $(if $(filter lib,$(1)),,config \
	$(wordlist 1,$(call layer_pos,$(1)),$(PROXY_DIRS))))
layer_pos = $(words $(call upto,$(1),$(PROXY_DIRS)))
upto = $(if $(2),$(if $(filter $(1),$(firstword $(2))),$(1),$(firstword \
	$(2)) $(call upto,$(1),$(wordlist 2,$(words $(2)),$(2)))))
LAYER_CPPFLAGS = -D_GNU_SOURCE -DOPENSSL_API_COMPAT=30000 \
	-DOPENSSL_NO_DEPRECATED -I$(BUILD)
$(LIB_OBJ): CPPFLAGS := $(LAYER_CPPFLAGS) -Ilib
$(CA_OBJ) $(call obj,ca/main.c): CPPFLAGS := $(LAYER_CPPFLAGS) -Ilib -Ica
$(CONFIG_OBJ): CPPFLAGS := $(LAYER_CPPFLAGS) -Ilib -Iconfig
$(foreach d,$(PROXY_DIRS),$(eval $(call obj,$(wildcard $(d)/*.c)): \
	CPPFLAGS := $(LAYER_CPPFLAGS) $(call layer_inc,$(d))))

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)

# Optional fragments (fuzzing, deployment): mk/<topic>.mk.
include $(wildcard mk/*.mk)

deps:
	@./mk/deps.sh build test

# Check's default of 4 s per test is for a quiet machine; under ASan with
# other work running, key generation and scrypt overran it (tests that
# need more set their own tcase timeouts).
unit: $(BUILD)/check_runner
	CK_FORK=yes CK_DEFAULT_TIMEOUT=$${CK_DEFAULT_TIMEOUT:-20} \
		$(BUILD)/check_runner

itest: $(BINS) $(TOOLS)
	COTAI_BUILD=$(abspath $(BUILD)) tests/integration/run.sh $(T)

# The relay tests again with mux: off (itest runs them with the default,
# mux: auto, where the two sidecars carry connections as streams): both
# transports stay tested. About 55 s on 2 cores.
itest-nomux: $(BINS) $(TOOLS)
	COTAI_BUILD=$(abspath $(BUILD)) COTAI_MUX=off \
		tests/integration/run.sh 20- 21- 22- 23-

check:
	@./mk/deps.sh build test
	$(MAKE) lint
	$(MAKE) all
	$(MAKE) unit
	$(MAKE) fuzz-regress
	$(MAKE) itest
	$(MAKE) itest-nomux
	$(MAKE) deploy-validate
	$(MAKE) monitoring-check
	$(MAKE) man-lint
	$(MAKE) systemd-verify
	$(MAKE) asan

# Sanitizer reports go to files the tests look for (lib.sh fails a test
# that leaves one), and a distinct exit status keeps them from passing for
# an ordinary error exit.
asan:
	@./mk/deps.sh build test
	ASAN_OPTIONS=exitcode=98:abort_on_error=0:detect_leaks=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:exitcode=98 \
	COTAI_ITEST_SANITIZER=1 \
		$(MAKE) BUILD=build-asan SAN=1 OPT=-O1 unit itest

valgrind: $(BINS) $(TOOLS)
	COTAI_BUILD=$(abspath $(BUILD)) COTAI_VALGRIND=1 \
		tests/integration/run.sh $(T)

demo:
	@./mk/deps.sh build test
	$(MAKE) all
	COTAI_BUILD=$(abspath $(BUILD)) ./mk/demo.sh

bench:
	@./mk/deps.sh build test bench
	$(MAKE) all
	COTAI_BUILD=$(abspath $(BUILD)) bench/run.sh $(B)

# This tree's cotai-proxy against BASE's (default: main before issue 12's
# refactoring), same loads, interleaved; ratios new/base (bench/regress.sh).
bench-regress: $(BINS)
	COTAI_BUILD=$(abspath $(BUILD)) bench/regress.sh $(BASE)

C_FILES = $(shell git ls-files '*.c' '*.h' 2>/dev/null || \
	find lib ca config proxy tests -name '*.[ch]')

lint:
	@out=$$(for f in $(C_FILES); do clang-format --dry-run --Werror \
	  "$$f" 2>&1 >/dev/null || echo "$$f"; done); \
	if [ -n "$$out" ]; then echo "lint: not clang-formatted (make format):"; \
	  echo "$$out"; exit 1; fi
	@command -v cppcheck >/dev/null || { echo "lint: cppcheck missing"; exit 1; }
	cppcheck --quiet --error-exitcode=1 --std=c11 --inline-suppr \
		--enable=warning,portability,performance \
		$(addprefix -I,lib config $(PROXY_DIRS) ca) -D__GNUC__ \
		lib ca config proxy tests

format:
	clang-format -i $(C_FILES)

install: $(BINS)
	install -d $(DESTDIR)$(BINDIR)
	install -m 0755 $(BINS) $(DESTDIR)$(BINDIR)/

clean:
	rm -rf build build-asan
