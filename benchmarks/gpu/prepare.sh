#!/usr/bin/env bash
# Stage the datasets the GPU call reads (MNIST, Fashion-MNIST, USPS: about 45 MB) into .gpu-data/,
# a git-ignored folder inside the repository, so that the device tool can carry it (carry=[".gpu-data"]).
# Reads ../shared/datasets (or $DEEPCLUST_DATA); never writes there.
set -euo pipefail
cd "$(dirname "$0")/../.."
src="${DEEPCLUST_DATA:-../shared/datasets}"
dst=.gpu-data
for f in MNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz \
         FashionMNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz USPS/usps.h5; do
  [ -f "$src/$f" ] || { echo "missing $src/$f: set DEEPCLUST_DATA to the datasets folder" >&2; exit 2; }
  mkdir -p "$dst/$(dirname "$f")"
  cp -u "$src/$f" "$dst/$f"
done
du -sh "$dst"
