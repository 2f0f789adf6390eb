# imgedge: `make run` serves the demo on http://localhost:8080,
# `make test` runs every test. Both install what is missing first.

SHELL := /bin/bash
GO    ?= go
SUDO  := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
export GOTOOLCHAIN := local

# Debian packages the build and the tests need.
APT_PACKAGES := libvips-dev libjpeg62-turbo-dev libpng-dev libwebp-dev pkg-config gcc postgresql chromium

.PHONY: all deps build run test test-unit test-integration vet fmt-check clean bench dashboard-vendor fuzz consul jaeger threadset-race clientlibs

all: build

## deps: install the system packages that are missing (Debian 12).
deps:
	@missing=""; \
	for p in $(APT_PACKAGES); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi
	@pkg-config --modversion vips | sed 's/^/libvips /'

## build: bin/caddy, Caddy with the standard modules and imgedge.
build: deps
	$(GO) build -o bin/caddy ./xcaddy

## consul: bin/consul, the Consul agent the zone tests start, built from
## the pinned tools/consul module (4-10 minutes the first time; only when
## bin/consul is missing or the pin changes).
consul: bin/consul
bin/consul: tools/consul/go.mod tools/consul/go.sum
	cd tools/consul && $(GO) build -o ../../bin/consul github.com/hashicorp/consul

## jaeger: bin/jaeger, the Jaeger all-in-one (v2, in-memory store) the
## tracing tests send spans to and read traces back from, built from the
## pinned tools/jaeger module (about 10 minutes the first time on 2 cores;
## only when bin/jaeger is missing or the pin changes).
jaeger: bin/jaeger
bin/jaeger: tools/jaeger/go.mod tools/jaeger/go.sum
	cd tools/jaeger && $(GO) build -o ../../bin/jaeger github.com/jaegertracing/jaeger/cmd/jaeger

## run: serve the demo site (examples/Caddyfile) on http://localhost:8080.
run: build
	cd examples && ../bin/caddy run --config Caddyfile --adapter caddyfile

## bench: end-to-end benchmark against bin/caddy (about 4 minutes); prints a
## table, writes bench/out/results.json, latency.png and caddy.log.
## -mod=readonly: measuring must never rewrite go.mod.
## IMGPROXY=/path/to/imgproxy (and IMAGINARY=...) adds the peers to scenario 8;
## bench/README.md says how to build them.
bench: build consul
	GOFLAGS=-mod=readonly $(GO) run ./bench -caddy bin/caddy -consul bin/consul -out bench/out -duration 8s -warmup 2s \
		-imgproxy "$(IMGPROXY)" -imaginary "$(IMAGINARY)" $(BENCH_FLAGS)

## clientlibs: the imgix and unpic client libraries the drop-in tests
## generate URLs with, from the npm registry at the versions locked in
## testdata/clientlibs/package-lock.json (Node and npm from Debian if missing).
clientlibs: testdata/clientlibs/node_modules/.package-lock.json
testdata/clientlibs/node_modules/.package-lock.json: testdata/clientlibs/package-lock.json
	@command -v npm >/dev/null || { $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null; }
	cd testdata/clientlibs && npm ci --no-audit --no-fund --loglevel=error

## threadset-race: the reproduction of libvips 8.14's threadset exit race
## (issue #18). Five runs with a 1 ms idle time (the race, usually a SIGSEGV
## or a hang) and five with imgedge's fix (idle workers never leave).
threadset-race: deps
	@mkdir -p bin && gcc -O1 -g -o bin/threadset-race tools/threadset-race/race.c $$(pkg-config --cflags --libs vips) -ldl -lpthread
	@for mode in 3 3 3 3 3 2 2 2 2 2; do \
		timeout 60 bin/threadset-race $$mode >/dev/null 2>&1; rc=$$?; \
		case $$rc in 0) r=clean;; 124) r="hung (a task handed to a freed worker)";; 139) r=SIGSEGV;; *) r="exit $$rc";; esac; \
		if [ $$mode = 2 ]; then m="fixed:       "; else m="1 ms idle:   "; fi; echo "$$m$$r"; \
	done

## test: every test: formatting, vet, unit and integration (race detector on).
FUZZTIME ?= 30s

test: build consul jaeger clientlibs fmt-check vet
	$(GO) test -race -count=1 -timeout 20m ./...
	$(MAKE) --no-print-directory fuzz

## fuzz: the parameter parser, the whole decode-resize-encode pipeline, the
## forwarding address and the request-target check, each for FUZZTIME (make fuzz FUZZTIME=10m for a longer run). Crashers are
## kept under */testdata/fuzz/ and replayed by every go test. The pipeline
## runs under AddressSanitizer (-asan: imgedge's own C, the decoders it
## drives), seeded with the hostile corpus of internal/testimages; leak
## reports are off, as libvips keeps its caches until the process ends.
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) ./transform/
	ASAN_OPTIONS=detect_leaks=0 $(GO) test -asan -run '^$$' -fuzz '^FuzzPipeline$$' -fuzztime $(FUZZTIME) ./imaging/
	$(GO) test -run '^$$' -fuzz '^FuzzPeerURL$$' -fuzztime $(FUZZTIME) ./balancer/
	$(GO) test -run '^$$' -fuzz '^FuzzCheckTarget$$' -fuzztime $(FUZZTIME) .

vet:
	$(GO) vet ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

## dashboard-vendor: refresh the dashboard's chart library from the npm
## registry (committed, embedded in the binary; the build needs no npm).
UPLOT_VERSION := 1.6.32
dashboard-vendor:
	tmp=$$(mktemp -d) && cd $$tmp && npm pack --silent uplot@$(UPLOT_VERSION) >/dev/null && tar xzf uplot-$(UPLOT_VERSION).tgz && \
	cp package/dist/uPlot.iife.min.js package/dist/uPlot.min.css package/LICENSE $(CURDIR)/dashboard/vendor/uplot/ && rm -rf $$tmp

clean:
	rm -rf bin
