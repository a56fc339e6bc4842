# Every target works on a fresh machine: `make run` serves the embedded
# default index, `make test` runs every test.

MODULE := github.com/flakeresolve/flakeresolve
BUF_VERSION := v1.75.0
PROTOS := $(wildcard proto/flakeresolve/v1/*.proto)

.PHONY: run test build proto proto-lint proto-breaking default-index fuzz bench lock-example gophersat-patch k8s-validate

run:
	go run ./cmd/flakeresolve serve $(ARGS)

build:
	go build -o bin/flakeresolve ./cmd/flakeresolve

# Every test, then again under the race detector the tests where goroutines
# share state: solvers running in parallel, a server answering concurrent
# calls and reloading. (The whole suite under -race is five times slower,
# mostly in sequential SAT and Nix tests that race nothing.)
RACE_TESTS := Deterministic|Parallel|EndToEnd|Reload|Admission|HostileVisibility|AccessLog
RACE_PKGS := ./solver ./internal/pbopt ./internal/gophersat/... ./internal/cli ./internal/service ./internal/server

test:
	./.ci/deps
	go vet ./...
	go test -count=1 ./...
	go test -race -count=1 -run '$(RACE_TESTS)' $(RACE_PKGS)

BUF := go run github.com/bufbuild/buf/cmd/buf@$(BUF_VERSION)
# The released API: a buf image of flakeresolve.v1 as it was frozen. It is
# written once, when missing; after that it is what every change is checked
# against (make proto-breaking), and a change it refuses needs a v2.
API_IMAGE := proto/api-v1.binpb

# Regenerates the committed Go code from proto/ (needs protoc; Debian's
# protobuf-compiler). The plugins' versions are pinned as tools in go.mod.
proto:
	protoc -I proto \
		--plugin=protoc-gen-go=$$(go tool -n protoc-gen-go) \
		--plugin=protoc-gen-go-grpc=$$(go tool -n protoc-gen-go-grpc) \
		--go_out=. --go_opt=module=$(MODULE) \
		--go-grpc_out=. --go-grpc_opt=module=$(MODULE) \
		$(PROTOS)
	test -e $(API_IMAGE) || $(BUF) build -o $(API_IMAGE)

proto-lint:
	$(BUF) lint

# Fails on any change to the protos that breaks the released API: wire,
# JSON, generated code or file layout (buf's FILE rules).
proto-breaking:
	$(BUF) breaking --against $(API_IMAGE)

# Records the patched gophersat (internal/gophersat) as a diff against
# upstream v1.4.0, so every change to it is visible in one file.
gophersat-patch:
	internal/gophersat/diff.sh > internal/gophersat/PATCH.diff

# Validates deploy/k8s strictly against the Kubernetes API's schemas,
# made from the k8s.io/kubernetes module's OpenAPI document (no network
# beyond the Go module proxy).
k8s-validate:
	.ci/kubeconform

# Rebuilds the embedded default index from the real-flake snapshot.
default-index:
	go run ./cmd/flakeresolve index import ../shared/data/real-flakes.json -o index/defaultindex/default.binpb

# The README's CI recipe end to end: git repositories, index build, lock,
# and Nix accepting the lock offline in an empty store (needs nix-bin).
lock-example: build
	./.ci/deps
	bash testdata/lock-example/run bin/flakeresolve

fuzz:
	go test -run '^$$' -fuzz FuzzParse -fuzztime 60s ./internal/versionreq

# The benchmarks of BENCHMARKS.md: warm resolves on generated ecosystems of
# 100 to 20,000 flakes, then whole processes against testsolv and aspcud on
# both generators' problems.
bench: build
	./.ci/deps
	go test -run '^$$' -bench 'Resolve/flakes=/effort=first' -benchtime 200x ./solver
	go test -run '^$$' -bench 'Resolve/flakes=/effort=200ms' -benchtime 32x ./solver
	go test -run '^$$' -bench EcosystemLoad -benchtime 3x ./solver
	go run ./cmd/benchsolv -bin bin/flakeresolve -gen hub -sizes 100,1000,5000,20000 -requests 3 -runs 3 -effort 200ms
	go run ./cmd/benchsolv -bin bin/flakeresolve -gen layered -sizes 100,2000 -requests 3 -runs 3
