# ifmon -- real-time interface traffic monitor.
# This Makefile only delegates to the parts; see README.md.

PARTS = common config collector gateway
ASAN_DIR = build/asan

# Everything the daemons run and serve: both binaries and the page's
# vendored chart library (web/vendor/, from npm with package-lock.json).
all:
	@for p in $(PARTS); do $(MAKE) -C $$p || exit 1; done
	@web/build.sh >/dev/null

# Sanitizer build (ASan + UBSan) of everything, under build/asan.
asan:
	@for p in $(PARTS) tests; do $(MAKE) -C $$p O=$(CURDIR)/$(ASAN_DIR) SAN=1 || exit 1; done

deps:
	@scripts/install-deps.sh run

test-deps:
	@scripts/install-deps.sh test

# Builds both variants and runs the whole suite on each; the last line of
# output is "N passed, N failed".
test: test-deps
	@$(MAKE) all
	@$(MAKE) -C tests
	@$(MAKE) -s -C tests/sim
	@$(MAKE) -s -C tests/fuzz
	@$(MAKE) asan
	@tests/run.sh

# The page's vendored chart library (web/vendor/, from npm; no CDN).
web: deps
	@web/build.sh

# Run the system on embedded defaults (private Redis, simulated sites).
run: deps all web
	@scripts/run.sh $(if $(CONFIG),--config $(CONFIG))

# 100 devices x 50 interfaces at 1 s, 60 s measured, three runs; see
# docs/BENCHMARKS.md. BENCH_ARGS="--devices 200" etc. to change the load.
bench-collector: test-deps all
	@$(MAKE) -s -C tests/sim
	@/usr/bin/python3 tests/bench/collector.py --runs 3 --markdown $(BENCH_ARGS)

# One device of 20,000 interfaces among 20 small ones: what a large
# interface table costs the others (docs/RELIABILITY.md). BENCH_ARGS to
# change it, --collector to compare binaries.
bench-discovery: test-deps all
	@$(MAKE) -s -C tests/sim
	@/usr/bin/python3 tests/bench/discovery.py $(BENCH_ARGS)

# 5,000 WebSocket clients x 20 of 1,000 channels published once a second;
# see docs/BENCHMARKS.md.
bench-gateway: test-deps all
	@$(MAKE) -s -C tests/bench
	@/usr/bin/python3 tests/bench/gateway.py --runs 3 --markdown $(BENCH_ARGS)

# Side by side with what operators would use instead: the collector against
# Prometheus' snmp_exporter and collectd's snmp plugin on the same agents,
# the gateway against a typical Node.js relay (ws + ioredis), a relay on
# Bun's uWebSockets pub/sub and the kernel's floor (tests/bench/floor.c)
# under the load of bench-gateway and under a fifth of it, and Redis' own
# ceiling for one sample (RPUSH + LTRIM + PUBLISH). Each writes its tables
# into docs/BENCHMARKS.md (between the <!-- bench:NAME --> lines); the prose
# around them is written by hand.
bench-compare: all
	@scripts/install-deps.sh bench
	@$(MAKE) -s -C tests/sim
	@$(MAKE) -s -C tests/bench
	@/usr/bin/python3 tests/bench/compare_collector.py --runs 3 --doc collector
	@/usr/bin/python3 tests/bench/gateway.py --compare --runs 3 --doc gateway
	@/usr/bin/python3 tests/bench/gateway.py --compare --runs 3 --slices 20 \
		--peers bun,floor-coalesced,floor-uring,floor-uring50,flush50,flush100 --doc gateway-burst
	@/usr/bin/python3 tests/bench/gateway.py --compare --runs 3 --clients 1000 --duration 20 \
		--doc gateway-light
	@/usr/bin/python3 tests/bench/redis_ceiling.py --runs 3 --doc redis

# The whole system raised until something gives: two collectors sharing
# the inventory, Redis, a gateway and gwload's clients (a site's channels
# each), 10,000 to 60,000 interfaces at 1 s; see docs/BENCHMARKS.md.
# BENCH_ARGS="--levels 50000 --duration 60" etc.
bench-scale: test-deps all
	@$(MAKE) -s -C tests/sim
	@$(MAKE) -s -C tests/bench
	@/usr/bin/python3 tests/bench/scale.py --doc scale $(BENCH_ARGS)

# 64 live panels in headless Chromium: main-thread busy share (docs/BENCHMARKS.md).
bench-web: test-deps all web
	@node tests/bench/web.js

# Every fuzz target for FUZZ_SECONDS (default 300) each; the test suite
# runs them for 10 s each.
FUZZ_SECONDS ?= 300
fuzz: test-deps
	@$(MAKE) -s -C tests/fuzz
	@tests/fuzz/run.sh $(FUZZ_SECONDS)

# The whole system for SOAK_SECONDS (default 3600): 300 interfaces at 1 s,
# two gateways, steady and churning clients; flat RSS and descriptors
# (docs/RELIABILITY.md).
soak: test-deps all web
	@$(MAKE) -s -C tests/sim
	@node tests/soak/soak.js --markdown $(SOAK_ARGS)

# Both daemons under Valgrind memcheck through a short soak
# (VALGRIND_SECONDS, default 120): no memory error, no definite or
# indirect leak at exit. The test suite runs it for 30 s.
VALGRIND_SECONDS ?= 120
valgrind: test-deps all
	@$(MAKE) -s -C tests/sim
	@IFMON_WRAP=tests/valgrind/memcheck.sh node tests/soak/soak.js --seconds $(VALGRIND_SECONDS) \
	    --every 10 --devices 10 --clients 10 --churn 2

# The gateway's integration tests REPEAT times in a row (default 20) on the
# ASan build, stopping at the first failure; the last line is "N of N
# passed" (the log of a failed run is kept in build/asan/repeat-gateway.log).
REPEAT ?= 20
repeat-gateway: test-deps
	@for p in common config gateway; do $(MAKE) -s -C $$p O=$(CURDIR)/$(ASAN_DIR) SAN=1 || exit 1; done
	@passed=0; log=$(ASAN_DIR)/repeat-gateway.log; \
	for i in $$(seq 1 $(REPEAT)); do \
		if IFMON_SAN=1 IFMON_GATEWAY=$(ASAN_DIR)/gateway/ifmon-gateway \
		   ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:exitcode=23 \
		   UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		   tests/gateway/run.sh > $$log 2>&1; then \
			passed=$$((passed + 1)); echo "run $$i of $(REPEAT): passed"; \
		else \
			echo "run $$i of $(REPEAT): FAILED"; grep -E '^not ok|^# (pass|fail)' $$log; \
			echo "(whole log: $$log)"; break; \
		fi; \
	done; \
	echo "$$passed of $(REPEAT) passed"; [ $$passed -eq $(REPEAT) ]

# Every attack of docs/RELIABILITY.md's "The gateway under hostile
# clients", at full scale, one after another against the ASan build, while
# a well-behaved client measures its live lag (p99 under 50 ms) and its
# `list` time (under 200 ms); the last line is "N of N held" (about ten
# minutes). ATTACK_ARGS="--only list,cap" to run some of them.
attack: test-deps
	@for p in common config gateway; do $(MAKE) -s -C $$p O=$(CURDIR)/$(ASAN_DIR) SAN=1 || exit 1; done
	@IFMON_SAN=1 ASAN_OPTIONS=detect_leaks=1 node tests/gateway/attack.js \
		--gateway $(ASAN_DIR)/gateway/ifmon-gateway $(ATTACK_ARGS)

check-config: all
	@collector/ifmon-collector --config config/examples/ifmon.example.yml --check

# make install [PREFIX=/usr/local] [DESTDIR=]: both daemons, the web page,
# example configurations and systemd units (running as a dynamic,
# unprivileged user; the configuration goes in /etc/ifmon/ifmon.yml).
PREFIX ?= /usr/local
BINDIR = $(PREFIX)/bin
DATADIR = $(PREFIX)/share/ifmon
DOCDIR = $(PREFIX)/share/doc/ifmon
UNITDIR = $(PREFIX)/lib/systemd/system

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(DATADIR)/examples $(DESTDIR)$(DATADIR)/web \
		$(DESTDIR)$(DOCDIR) \
		$(DESTDIR)$(UNITDIR)
	install -m 755 collector/ifmon-collector gateway/ifmon-gateway $(DESTDIR)$(BINDIR)
	install -m 644 config/examples/*.yml $(DESTDIR)$(DATADIR)/examples
	install -m 644 README.md docs/*.md $(DESTDIR)$(DOCDIR)
	if [ -d web ]; then cp -R web $(DESTDIR)$(DATADIR)/ && rm -f $(DESTDIR)$(DATADIR)/web/*.sh; fi
	for u in ifmon-collector ifmon-gateway; do \
		sed -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@DATADIR@|$(DATADIR)|g' -e 's|@DOCDIR@|$(DOCDIR)|g' \
			config/systemd/$$u.service.in > $(DESTDIR)$(UNITDIR)/$$u.service; \
	done

clean:
	@for p in $(PARTS) tests tests/sim; do $(MAKE) -C $$p clean; done
	rm -rf build web/vendor

.PHONY: all web asan deps test-deps test run bench-collector bench-discovery check-config install bench-gateway bench-web fuzz soak valgrind bench-compare bench-scale clean repeat-gateway attack
