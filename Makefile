# Every target works on a fresh machine: `make run` serves the embedded
# default index, `make test` runs every test.

MODULE := github.com/flakeresolve/flakeresolve
BUF_VERSION := v1.75.0
PROTOS := $(wildcard proto/flakeresolve/v1/*.proto)

.PHONY: run test build proto proto-lint proto-breaking default-index fuzz bench bench-http lock-example gophersat-patch k8s-validate

run:
	go run ./cmd/flakeresolve serve $(ARGS)

build:
	go build -o bin/flakeresolve ./cmd/flakeresolve

# Every test, then again under the race detector the tests where goroutines
# share state: solvers running in parallel, a server answering concurrent
# calls and reloading, callers over both faces. (The whole suite under
# -race is five times slower, mostly in sequential SAT and Nix tests that
# race nothing.) The hostile-request suite (internal/server, TestHostile*:
# a real server over loopback, each test under a heap ceiling it fails
# over) is part of ./... and skips nothing.
RACE_TESTS := Deterministic|Parallel|EndToEnd|Reload|Admission|HostileVisibility|AccessLog|HTTPCallers
RACE_PKGS := ./solver ./internal/pbopt ./internal/gophersat/... ./internal/cli ./internal/service ./internal/server ./internal/httpapi

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

# googleapis' HTTP annotations, which resolver.proto imports for its routes:
# taken from a pinned Go module that carries them (grpc-gateway v1's
# third_party/googleapis), so the Go module proxy and checksum database
# stand behind them like behind any module, and copied under proto/ where
# protoc and buf find them. Not committed (.gitignore): fetched again here.
GOOGLEAPIS_MODULE := github.com/grpc-ecosystem/grpc-gateway@v1.16.0
GOOGLEAPIS := proto/google/api/annotations.proto proto/google/api/http.proto

$(GOOGLEAPIS):
	mkdir -p proto/google/api
	dir=$$(go mod download -json $(GOOGLEAPIS_MODULE) | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$$/\1/p') && \
		test -n "$$dir" && install -m 644 "$$dir/third_party/googleapis/$(@:proto/%=%)" $@

# Regenerates the committed code from proto/ (needs protoc; Debian's
# protobuf-compiler): the messages, the gRPC service, its HTTP/JSON gateway
# (grpc-gateway) and the OpenAPI document of the HTTP routes. The plugins'
# versions are pinned as tools in go.mod.
proto: $(GOOGLEAPIS)
	protoc -I proto \
		--plugin=protoc-gen-go=$$(go tool -n protoc-gen-go) \
		--plugin=protoc-gen-go-grpc=$$(go tool -n protoc-gen-go-grpc) \
		--plugin=protoc-gen-grpc-gateway=$$(go tool -n protoc-gen-grpc-gateway) \
		--plugin=protoc-gen-openapiv2=$$(go tool -n protoc-gen-openapiv2) \
		--go_out=. --go_opt=module=$(MODULE) \
		--go-grpc_out=. --go-grpc_opt=module=$(MODULE) \
		--grpc-gateway_out=. --grpc-gateway_opt=module=$(MODULE) \
		--openapiv2_out=proto --openapiv2_opt=disable_default_errors=false \
		$(PROTOS)
	rm -f proto/flakeresolve/v1/index.swagger.json proto/flakeresolve/v1/snapshot.swagger.json
	test -e $(API_IMAGE) || $(BUF) build -o $(API_IMAGE)

proto-lint: $(GOOGLEAPIS)
	$(BUF) lint

# Fails on any change to the protos that breaks the released API: wire,
# JSON, generated code or file layout (buf's FILE rules).
proto-breaking: $(GOOGLEAPIS)
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
	go run ./cmd/flakeresolve index import ../shared/data/real-flakes.json -o index/defaultindex/default.snap

# The README's CI recipe end to end: git repositories, index build, lock,
# and Nix accepting the lock offline in an empty store (needs nix-bin).
lock-example: build
	./.ci/deps
	bash testdata/lock-example/run bin/flakeresolve

# The HTTP face's redirect route under load (wrk, from Debian), on
# loopback for 10 seconds: requests/s and latency percentiles.
bench-http: build
	command -v wrk >/dev/null || apt-get install -y -qq wrk
	bash testdata/bench-http/run bin/flakeresolve 10 32

fuzz:
	go test -run '^$$' -fuzz FuzzParse -fuzztime 60s ./internal/versionreq

# The benchmarks of BENCHMARKS.md: warm resolves on generated ecosystems of
# 100 to 20,000 flakes with the default strategy and fewest, how far limits
# overshoot, whole processes against aspcud and testsolv on both
# generators' problems, index loads, and the property test's count.
bench: build
	./.ci/deps
	go test -run '^$$' -bench 'Resolve/flakes=/strategy=newest' -benchtime 64x ./solver
	go test -run '^$$' -bench 'Resolve/flakes=/strategy=fewest' -benchtime 16x ./solver
	go test -run '^$$' -bench Limits ./solver
	go run ./cmd/benchsolv -bin bin/flakeresolve -gen hub -sizes 100,2000,20000 -requests 3 -runs 1
	go run ./cmd/benchsolv -bin bin/flakeresolve -gen layered -sizes 100,2000 -requests 3 -runs 1
	go test -run '^$$' -bench 'LoadMillion|EcosystemLoad' ./index
	go run ./cmd/benchload -bin bin/flakeresolve -runs 3
	go test -count=1 -run TestProperty -v ./solver | grep universes
