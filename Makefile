# Athanor's developer entry points. `make test` is what CI runs.

GO       ?= go
# How much `make fuzz` runs each target: a count of executions, about 1 to 5
# s per target on 2 cores, not a duration: Go 1.26's fuzzing coordinator can
# fail a duration-bounded run with a bare "context deadline exceeded" when
# the time runs out under load (golang/go#75804, fixed in Go 1.27).
FUZZTIME ?= 30000x
# Executions spent minimising each new interesting input. Go's default (60 s
# per input) let a target spend its whole run minimising one input: that is
# why FuzzParseDocument made 8 executions in 30 s.
FUZZMINIMIZETIME ?= 100x
# staticcheck, pinned; `make STATICCHECK=staticcheck` uses an installed one.
STATICCHECK ?= $(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2
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

.PHONY: test check fmt vet staticcheck tidy unit fuzz bench-smoke generate

## test: formatting, vet, staticcheck, go.mod tidiness, a short fuzz run of every parser, a
## small benchmark run that fails if anything is lost or duplicated, and last the whole test
## suite under the race detector, ending with the skipped tests and the count of tests run
test: check fuzz bench-smoke unit

check: fmt vet staticcheck tidy

fmt:
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

staticcheck:
	$(STATICCHECK) ./...

tidy:
	$(GO) mod tidy -diff

# internal/tools/testrun prints what go test does, then the skipped tests with their
# reasons and a closing "N passed, N failed" line; it exits with go test's status.
unit:
	GO=$(GO) $(GO) run ./internal/tools/testrun -race -timeout 60m ./...

fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; fn=$${t##*:}; \
		echo "fuzz $$pkg $$fn ($(FUZZTIME))"; \
		$(GO) test $$pkg -run '^$$' -fuzz "^$$fn\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZETIME); \
	done

bench-smoke:
	$(GO) run ./cmd/athanor bench --smoke

## generate: regenerate the embedded schema tables and the typed packages from the registry
## schemas: $$ATHANOR_SCHEMAS, else ../shared/schemas/cloudformation beside the repository.
## Without them, fetch AWS's published archive first:
##   go run ./internal/tools/fetchschemas -region us-east-1 -out DIR && ATHANOR_SCHEMAS=DIR make generate
generate:
	$(GO) generate ./...
