# Manual pages (mdoc), included by the top-level Makefile. See deploy/man/.
#
#   make man-lint   mandoc -T lint on every page (warnings fail), and
#                   every config key of config/*.c named in
#                   cotai-proxy.yaml(5)
#   make install    also installs them under $(MANDIR)

MANDIR ?= $(PREFIX)/share/man
MAN8 := deploy/man/cotai-proxy.8 deploy/man/cotai-ca.8
MAN5 := deploy/man/cotai-proxy.yaml.5

.PHONY: man-lint install-man
install: install-man

man-lint:
	@./mk/deps.sh test
	mandoc -T lint -W warning $(MAN8) $(MAN5)
	@words=$$(grep -E '^\.(It )?Ic ' $(MAN5) | \
	  sed -E 's/^\.(It )?Ic //; s/ Pq .*//' | tr ' .,:' '\n\n\n\n'); \
	missing=""; \
	for k in $$(sed -nE 's/^[[:space:]]*\{"([a-z_]+)", *CT_.*/\1/p' \
	    config/*.c | sort -u); do \
	  echo "$$words" | grep -qx "$$k" || missing="$$missing $$k"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "man-lint: config keys missing from $(MAN5):$$missing"; \
	  exit 1; fi

install-man:
	install -d $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(MANDIR)/man5
	install -m 0644 $(MAN8) $(DESTDIR)$(MANDIR)/man8/
	install -m 0644 $(MAN5) $(DESTDIR)$(MANDIR)/man5/
