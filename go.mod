module github.com/flakeresolve/flakeresolve

go 1.26.8

require (
	deps.dev/util/semver v0.0.0-20260727054525-2946ae4a6141
	github.com/Masterminds/semver/v3 v3.5.0
)
