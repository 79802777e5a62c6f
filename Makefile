# Athanor's developer entry points. `make test` is what CI runs.

GO       ?= go
FUZZTIME ?= 10s
# package:target pairs, each fuzzed for FUZZTIME by `make fuzz`.
FUZZ_TARGETS := \
	./schema:FuzzParse \
	./schema:FuzzParseIdentifier \
	./schema:FuzzValidate \
	./emulator:FuzzCloudControlRequest \
	./emulator:FuzzIdentifier \
	./emulator:FuzzPatch \
	./emulator:FuzzAuthorization \
	./state:FuzzDecodeRecord \
	./state:FuzzParseURL \
	./state/file:FuzzKeyEncoding \
	./state/file:FuzzDecodeKey \
	./internal/gen:FuzzParseDocument \
	./internal/engine:FuzzToModel \
	./internal/engine:FuzzPointer

.PHONY: test check fmt vet unit fuzz bench-smoke generate

## test: formatting, vet, a short fuzz run of every parser, a small benchmark run that fails if
## anything is lost or duplicated, and last the whole test suite under the race detector
test: check fuzz bench-smoke unit

check: fmt vet

fmt:
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

unit:
	$(GO) test -race -timeout 60m ./...

fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; fn=$${t##*:}; \
		echo "fuzz $$pkg $$fn ($(FUZZTIME))"; \
		$(GO) test $$pkg -run '^$$' -fuzz "^$$fn\$$" -fuzztime $(FUZZTIME); \
	done

bench-smoke:
	$(GO) run ./cmd/athanor bench --smoke

## generate: regenerate the embedded schema tables and the typed packages from ../shared/schemas
generate:
	$(GO) generate ./...
