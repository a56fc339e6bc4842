# Every target works on a fresh machine: `make run` serves the embedded
# default index, `make test` runs every test.

MODULE := github.com/flakeresolve/flakeresolve
BUF_VERSION := v1.75.0
PROTOS := $(wildcard proto/flakeresolve/v1/*.proto)

.PHONY: run test build proto proto-lint default-index fuzz bench lock-example gophersat-patch

run:
	go run ./cmd/flakeresolve serve $(ARGS)

build:
	go build -o bin/flakeresolve ./cmd/flakeresolve

test:
	./.ci/deps
	go vet ./...
	go test -race -count=1 ./...

# Regenerates the committed Go code from proto/ (needs protoc; Debian's
# protobuf-compiler). The plugins' versions are pinned as tools in go.mod.
proto:
	protoc -I proto \
		--plugin=protoc-gen-go=$$(go tool -n protoc-gen-go) \
		--plugin=protoc-gen-go-grpc=$$(go tool -n protoc-gen-go-grpc) \
		--go_out=. --go_opt=module=$(MODULE) \
		--go-grpc_out=. --go-grpc_opt=module=$(MODULE) \
		$(PROTOS)

proto-lint:
	go run github.com/bufbuild/buf/cmd/buf@$(BUF_VERSION) lint

# Records the patched gophersat (internal/gophersat) as a diff against
# upstream v1.4.0, so every change to it is visible in one file.
gophersat-patch:
	internal/gophersat/diff.sh > internal/gophersat/PATCH.diff

# Rebuilds the embedded default index from the real-flake snapshot.
default-index:
	go run ./cmd/flakeresolve index import ../shared/data/real-flakes.json -o index/defaultindex/default.snap

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
	go test -run '^$$' -bench EcosystemLoad -benchtime 3x ./index
	go run ./cmd/benchsolv -bin bin/flakeresolve -gen hub -sizes 100,1000,5000,20000 -requests 3 -runs 3 -effort 200ms
	go run ./cmd/benchsolv -bin bin/flakeresolve -gen layered -sizes 100,2000 -requests 3 -runs 3
