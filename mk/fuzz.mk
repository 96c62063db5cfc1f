# fuzz: libFuzzer targets under tests/fuzz (see tests/fuzz/README.md).
#
#   make fuzz           build every target with clang and run each for
#                       FUZZ_SECONDS (default 30) over a scratch copy of its
#                       committed seed corpus; fails if any target crashes
#   make fuzz FUZZ_TARGETS=pgwire   only that target (or several)
#   make fuzz-regress   replay tests/fuzz/corpus/<t>/* and
#                       tests/fuzz/regress/<t>/* once each (a few seconds)
#   make fuzz-build     only build $(BUILD)/fuzz/fuzz_<t>
#
# The fuzz builds are separate: every source is compiled again by clang with
# -fsanitize=fuzzer-no-link,address,undefined into $(BUILD)/fuzz/obj, and a
# target links only the modules it exercises. New inputs go to
# $(BUILD)/fuzz/corpus/<t> and crashes to $(BUILD)/fuzz/artifacts/<t>,
# never into the repository.

FUZZ_CC ?= clang
FUZZ_SECONDS ?= 30
# Extra libFuzzer flags, e.g. FUZZ_FLAGS=-fork=2 (not -jobs: it writes
# fuzz-N.log into the current directory).
FUZZ_FLAGS ?=
FUZZ_DIR := $(BUILD)/fuzz
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=undefined \
	-fno-omit-frame-pointer
FUZZ_CFLAGS = -std=c11 $(filter-out -Werror,$(WARN)) -fno-strict-aliasing \
	-pthread -g -O1 $(FUZZ_SAN) $(PKG_CFLAGS)
FUZZ_ALL := config pgwire policy identity httpreq ca_name spool est spiffe \
	mux
# Not T=: make check passes T= on to the integration tests.
FUZZ_TARGETS ?= $(FUZZ_ALL)

# What each target links besides its harness.
FUZZ_SRC_config := $(CONFIG_SRC) lib/spiffe.c lib/identity.c lib/duration.c lib/log.c
FUZZ_SRC_pgwire := proxy/proto/pgwire.c
FUZZ_SRC_policy := lib/policy.c lib/identity.c lib/spiffe.c
FUZZ_SRC_identity := lib/identity.c lib/policy.c lib/spiffe.c
FUZZ_SRC_httpreq := proxy/control/httpreq.c
FUZZ_SRC_ca_name := ca/ca_name.c lib/duration.c lib/spiffe.c
FUZZ_SRC_spool := proxy/audit/spool.c lib/log.c
FUZZ_SRC_est := ca/ca_csr.c ca/ca_token.c ca/ca_key.c ca/ca_name.c \
	ca/ca_store.c ca/ca_util.c lib/spiffe.c
FUZZ_SRC_spiffe := lib/spiffe.c ca/ca_name.c
# The tunnel code and what it needs, without the conn layer (the harness
# stands in for conn_mux_accept, conn_now and conn_ticket_poll).
FUZZ_SRC_mux := proxy/relay/mux.c proxy/relay/mux_flow.c proxy/relay/mux_pool.c proxy/relay/mux_stream.c proxy/transport/leg.c \
	proxy/transport/pump.c \
	proxy/audit/audit.c proxy/audit/audit_syslog.c proxy/audit/audit_syslog_conn.c \
	proxy/audit/reason.c proxy/relay/recheck.c \
	proxy/relay/route.c proxy/transport/tls.c proxy/transport/tls_ctx.c proxy/relay/upstream.c \
	proxy/relay/resolver.c lib/policy.c proxy/audit/spool.c proxy/proto/pgconn.c \
	proxy/proto/pgconn_term.c proxy/proto/rolemap.c proxy/proto/pgwire.c \
	proxy/proto/proto.c $(CONFIG_SRC) \
	$(LIB_SRC)

# Per-target libFuzzer options (the largest input worth trying).
FUZZ_OPT_config := -max_len=8192 -dict=tests/fuzz/config.dict
FUZZ_OPT_pgwire := -max_len=10240 -dict=tests/fuzz/pgwire.dict
FUZZ_OPT_policy := -max_len=1024
FUZZ_OPT_identity := -max_len=4096
FUZZ_OPT_httpreq := -max_len=5000 -dict=tests/fuzz/httpreq.dict
FUZZ_OPT_ca_name := -max_len=1024
FUZZ_OPT_spool := -max_len=8192
FUZZ_OPT_est := -max_len=8192
FUZZ_OPT_spiffe := -max_len=4200 -dict=tests/fuzz/spiffe.dict
FUZZ_OPT_mux := -max_len=16384 -dict=tests/fuzz/mux.dict

fuzz_obj = $(patsubst %.c,$(FUZZ_DIR)/obj/%.o,$(1))
FUZZ_BINS := $(patsubst %,$(FUZZ_DIR)/fuzz_%,$(FUZZ_TARGETS))

.PHONY: fuzz fuzz-build fuzz-regress

$(FUZZ_DIR)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(CPPFLAGS) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link \
		-MMD -MP -c -o $@ $<

# One link rule per target: its harness plus FUZZ_SRC_<t>.
define FUZZ_LINK
$(FUZZ_DIR)/fuzz_$(1): $(call fuzz_obj,tests/fuzz/fuzz_$(1).c \
		$(FUZZ_SRC_$(1)))
	$$(FUZZ_CC) $$(FUZZ_CFLAGS) -fsanitize=fuzzer -o $$@ $$^ \
		$$(PKG_LIBS) -pthread
endef
$(foreach t,$(FUZZ_ALL),$(eval $(call FUZZ_LINK,$(t))))

-include $(shell find $(FUZZ_DIR)/obj -name '*.d' 2>/dev/null)

fuzz-build:
	@./mk/deps.sh build test
	$(MAKE) $(FUZZ_BINS)

# Each target runs even if an earlier one crashed; the summary names the
# targets that failed (tests/fuzz/run.sh shows where their inputs are).
fuzz: fuzz-build
	@failed=""; $(foreach t,$(FUZZ_TARGETS),tests/fuzz/run.sh $(FUZZ_DIR) \
	  $(t) $(FUZZ_SECONDS) $(FUZZ_OPT_$(t)) $(FUZZ_FLAGS) || \
	  failed="$$failed $(t)";) \
	if [ -n "$$failed" ]; then echo "fuzz: FAILED:$$failed"; exit 1; fi; \
	echo "fuzz: all targets passed"

# Replay only: files as arguments make libFuzzer run each once and exit.
fuzz-regress: fuzz-build
	@for t in $(FUZZ_TARGETS); do \
	  files=$$(ls -d tests/fuzz/corpus/$$t/* tests/fuzz/regress/$$t/* \
	    2>/dev/null | grep -v '/README' ); \
	  n=$$(echo "$$files" | wc -w); \
	  $(FUZZ_DIR)/fuzz_$$t $$files < /dev/null \
	    > $(FUZZ_DIR)/$$t-regress.log 2>&1 || \
	    { tail -n 40 $(FUZZ_DIR)/$$t-regress.log; \
	      echo "fuzz-regress: $$t FAILED"; exit 1; }; \
	  echo "fuzz-regress: $$t: $$n inputs ok"; \
	done
