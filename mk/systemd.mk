# The systemd unit, included by the top-level Makefile. See deploy/systemd/.
#
#   make systemd-verify   systemd-analyze verify of an instance of
#                         cotai-proxy@.service (its ExecStart the binary
#                         just built, its man: links the pages of
#                         deploy/man), any message fails; and `security
#                         --offline` must rate its exposure at most
#                         SYSTEMD_EXPOSURE (tenths: 20 = "2.0")
#   make install-systemd  the unit, sysusers.d and tmpfiles.d files

SYSTEMDUNITDIR ?= /lib/systemd/system
SYSUSERSDIR ?= /usr/lib/sysusers.d
TMPFILESDIR ?= /usr/lib/tmpfiles.d
SYSTEMD_EXPOSURE ?= 20
UNIT_IN := deploy/systemd/cotai-proxy@.service.in

.PHONY: systemd-verify install-systemd

systemd-verify: $(BINS)
	@./mk/deps.sh test
	@d=$$(mktemp -d) && trap 'rm -rf "$$d"' EXIT && \
	mkdir -p "$$d/man/man5" "$$d/man/man8" && \
	cp deploy/man/*.5 "$$d/man/man5/" && cp deploy/man/*.8 "$$d/man/man8/" && \
	sed 's|@BINDIR@|$(abspath $(BUILD))|g' $(UNIT_IN) \
		>"$$d/cotai-proxy@verify.service" && \
	cd "$$d" && out=$$(MANPATH="$$d/man" systemd-analyze verify \
		./cotai-proxy@verify.service 2>&1) && [ -z "$$out" ] || \
		{ echo "systemd-verify: $$out"; exit 1; }; \
	rc=0; systemd-analyze security --offline=yes \
		--threshold=$(SYSTEMD_EXPOSURE) ./cotai-proxy@verify.service \
		>"$$d/security.txt" 2>&1 || rc=$$?; \
	tail -n 1 "$$d/security.txt"; [ $$rc -eq 0 ] || \
		{ grep -F '✗' "$$d/security.txt"; \
		  echo "systemd-verify: exposure above $(SYSTEMD_EXPOSURE)"; exit 1; }; \
	echo "systemd-verify: ok"

install-systemd:
	install -d $(DESTDIR)$(SYSTEMDUNITDIR) $(DESTDIR)$(SYSUSERSDIR) \
		$(DESTDIR)$(TMPFILESDIR)
	sed 's|@BINDIR@|$(BINDIR)|g' $(UNIT_IN) \
		>$(DESTDIR)$(SYSTEMDUNITDIR)/cotai-proxy@.service
	chmod 0644 $(DESTDIR)$(SYSTEMDUNITDIR)/cotai-proxy@.service
	install -m 0644 deploy/systemd/cotai.sysusers \
		$(DESTDIR)$(SYSUSERSDIR)/cotai.conf
	install -m 0644 deploy/systemd/cotai.tmpfiles \
		$(DESTDIR)$(TMPFILESDIR)/cotai.conf
