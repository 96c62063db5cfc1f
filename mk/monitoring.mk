# Monitoring, included by the top-level Makefile. See deploy/monitoring/.
#
#   make monitoring-check  promtool check rules + promtool test rules (the
#                          unit tests of every alert, with synthetic series),
#                          promtool check config --syntax-only on the example
#                          scrape config (its certificate files exist only
#                          in the stack)

.PHONY: monitoring-check

monitoring-check:
	@./mk/deps.sh test
	cd deploy/monitoring && promtool check rules alerts.yml && \
		promtool test rules alerts.test.yml && \
		promtool check config --syntax-only prometheus.yml \
		    prometheus.local.yml
