#!/usr/bin/env bash
# Prints the patch of internal/gophersat/solver against upstream gophersat
# v1.4.0's solver package (what PATCH.diff records), and fails if a copied
# test fixture differs from upstream's.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
mod=github.com/crillab/gophersat@v1.4.0
# Outside the main module, so its go.mod and go.sum stay untouched.
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && GOFLAGS=-mod=mod go mod download "$mod")
upstream="$(go env GOMODCACHE)/$mod/solver"
# Every copied fixture is upstream's, byte for byte (upstream has more).
bad="$(diff -rq "$here/solver/testcnf" "$upstream/testcnf" | grep -v "^Only in $upstream/testcnf: " || true)"
if [ -n "$bad" ]; then
	echo "$bad" >&2
	echo "copied test fixtures differ from upstream's" >&2
	exit 1
fi
ln -s "$upstream" "$work/a"
ln -s "$here/solver" "$work/b"
# diff exits 1 when the trees differ, which is the point; 2 is trouble.
cd "$work" && { diff -ruN -x testcnf a b || [ $? -eq 1 ]; } | sed -E 's/^((---|\+\+\+) [^\t]*)\t.*/\1/'
