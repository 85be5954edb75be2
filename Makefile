# The two set-up commands of the README: `make demo` and `make test`.
# Both install the Debian packages Cairn needs when they are missing.

APT_PACKAGES := libpcap-dev zlib1g-dev libisal-dev libsqlite3-dev libbrotli-dev libzstd-dev publicsuffix
# The peers and floors `make bench` measures Cairn against.
BENCH_PACKAGES := gcc tcpdump tshark ripgrep libdeflate-dev openssl isal
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
DB ?= cairn.sqlite

.PHONY: deps build demo test sample-data bench bench-data

deps:
	@missing=""; for p in $(APT_PACKAGES) $(EXTRA_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) apt-get update && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y $$missing; \
	fi

build: deps
	swift build -c release

# Ingest the sample captures and logs with the example rules, then list the incidents
# (then `cairn serve` shows them in a browser).
demo: build
	.build/release/cairn ingest --rules Rules --db $(DB) SampleData
	.build/release/cairn incidents --db $(DB)
	@echo "to triage in a browser: .build/release/cairn serve --db $(DB)"

test: deps
	swift test

# Regenerate SampleData/ (deterministic: the committed files do not change).
sample-data:
	python3 scripts/make-sample-data.py

# End-to-end benchmark against tcpdump, zcat and others (see Benchmarks/run.py --help).
# Its inputs come from `make bench-data` (deterministic, about 4 GB in ../bench-data).
BENCH_DATA ?= ../bench-data
bench:
	$(MAKE) deps EXTRA_PACKAGES="$(BENCH_PACKAGES)"
	python3 Benchmarks/run.py --data $(BENCH_DATA)

bench-data:
	mkdir -p $(BENCH_DATA)
	python3 Benchmarks/gen/gen_indicators.py --out $(BENCH_DATA)
	python3 Benchmarks/gen/gen_pcap.py --data $(BENCH_DATA)
	python3 Benchmarks/gen/gen_syslog.py --data $(BENCH_DATA)
