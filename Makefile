# imgedge: `make run` serves the demo on http://localhost:8080,
# `make test` runs every test. Both install what is missing first.

SHELL := /bin/bash
GO    ?= go
SUDO  := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
export GOTOOLCHAIN := local

# Debian packages the build and the tests need (libvips-tools: the vips
# command makes bench's HEIC source; python3-skimage: the portrait the face
# tests use; the fonts: what text overlays draw with).
APT_PACKAGES := libvips-dev libvips-tools libjpeg62-turbo-dev libpng-dev libwebp-dev pkg-config gcc postgresql chromium python3-skimage fonts-dejavu-core fonts-liberation2

.PHONY: all deps build run test test-unit test-integration vet fmt-check clean bench dashboard-vendor fuzz consul jaeger threadset-race clientlibs imgproxy

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
## Scenario 8 runs imgproxy beside imgedge: bin/imgproxy (make imgproxy),
## built first when missing; IMGPROXY=/path/to/imgproxy runs another build,
## IMGPROXY=none none. IMAGINARY=... adds imaginary (bench/README.md).
IMGPROXY ?=
bench: build consul
	@imgproxy="$(IMGPROXY)"; \
	if [ -z "$$imgproxy" ]; then \
		if $(MAKE) --no-print-directory imgproxy; then imgproxy=bin/imgproxy; \
		else echo "imgproxy could not be built: scenario 8 runs without it"; fi; \
	fi; \
	[ "$$imgproxy" = none ] && imgproxy=; \
	set -x; GOFLAGS=-mod=readonly $(GO) run ./bench -caddy bin/caddy -consul bin/consul -out bench/out -duration 8s -warmup 2s \
		-imgproxy "$$imgproxy" -imaginary "$(IMAGINARY)" $(BENCH_FLAGS)

## imgproxy: bin/imgproxy, the peer of bench scenario 8: imgproxy
## IMGPROXY_VERSION built against the system libvips from its exact release
## (about 3 minutes). The source is the Go module from the module proxy,
## checked against the checksum database; where the proxy does not serve
## it, the release tag of IMGPROXY_GIT (GitHub, or a mirror of it: make
## imgproxy IMGPROXY_GIT=/path/to/imgproxy.git), checked to be commit
## IMGPROXY_COMMIT.
IMGPROXY_VERSION := v3.30.1
IMGPROXY_COMMIT  := 62224b4414db836d3e61359e2beeb0cc25b13861
IMGPROXY_GIT     ?= https://github.com/imgproxy/imgproxy
imgproxy: bin/imgproxy
bin/imgproxy:
	@set -e; tmp=$$(mktemp -d); trap 'chmod -R u+w $$tmp; rm -rf $$tmp' EXIT; \
	dir=$$(cd $$tmp && $(GO) mod download -json github.com/imgproxy/imgproxy/v3@$(IMGPROXY_VERSION) 2>/dev/null | \
		sed -n 's/^\t"Dir": "\(.*\)",$$/\1/p'); \
	if [ -n "$$dir" ]; then \
		echo "imgproxy $(IMGPROXY_VERSION) from the module proxy"; cp -r $$dir $$tmp/src; chmod -R u+w $$tmp/src; \
	else \
		echo "imgproxy $(IMGPROXY_VERSION): the module proxy does not serve it; its tag from $(IMGPROXY_GIT)"; \
		git -c advice.detachedHead=false clone -q --depth 1 --branch $(IMGPROXY_VERSION) $(IMGPROXY_GIT) $$tmp/src 2>&1 | grep -v 'depth is ignored' || true; \
		test "$$(git -C $$tmp/src rev-parse HEAD)" = $(IMGPROXY_COMMIT) || { echo "imgproxy $(IMGPROXY_VERSION) is not commit $(IMGPROXY_COMMIT)"; exit 1; }; \
	fi; \
	mkdir -p bin; cd $$tmp/src && $(GO) build -trimpath -o $(CURDIR)/bin/imgproxy . && echo "built bin/imgproxy"

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
