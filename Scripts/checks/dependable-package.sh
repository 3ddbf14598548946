#!/usr/bin/env bash
# Issue 9, item 1: Corral works as a versioned dependency. A fresh clone of the committed HEAD is
# tagged 0.1.0 in a temporary directory, and Fixtures/VersionedDependent (which depends on it
# with `.package(url: "file://…", from: "0.1.0")`) must resolve, build and run. SwiftPM refuses
# such a dependency if any of its targets has unsafe flags. Tags of the working repository are
# never used or created. About 3 minutes on 2 CPUs (the runtime and its dependencies are built
# from scratch, in debug).
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
work=$(mktemp -d "${TMPDIR:-/tmp}/corral-dependable.XXXXXX")
trap 'rm -rf "$work"' EXIT
if [ -n "$(git status --porcelain --untracked-files=no)" ]; then
  echo "NOTE: uncommitted changes are not part of this check (it clones the committed HEAD)"
fi
git clone -q --no-local "$root" "$work/corral"
git -C "$work/corral" checkout -q --detach "$(git rev-parse HEAD)"
git -C "$work/corral" tag 0.1.0
cp -R Fixtures/VersionedDependent "$work/dependent"
rm -rf "$work/dependent/.build" "$work/dependent/Package.resolved"
cd "$work/dependent"
export CORRAL_PACKAGE_URL="file://$work/corral"
swift package resolve
grep -q '"version" : "0.1.0"' Package.resolved || { echo "FAIL: corral was not resolved at version 0.1.0"; cat Package.resolved; exit 1; }
swift build --product VersionedDependent
out=$(swift run --skip-build VersionedDependent)
echo "$out"
[ "$out" = "ok" ] || { echo "FAIL: the dependent package did not run"; exit 1; }
echo "ok - a package depending on corral 0.1.0 by URL resolves, builds and runs"
