#!/bin/sh
# The headline example in its --quick mode (a couple of epochs on a slice of
# Fashion-MNIST; it asserts that the model learned and that its checkpoint
# loads back). Skipped, and said so, when the dataset is not installed.
if [ "$TYCHO_SANITIZERS" = yes ]; then
    echo "SKIP: examples are not run under the sanitizers (the unit tests cover the same code)"
    exit 77
fi
dir=${TYCHO_DATA:-/usr/share/datasets/fashion-mnist}
if [ ! -e "$dir/train-images-idx3-ubyte.gz" ] && [ ! -e "$dir/train-images-idx3-ubyte" ]; then
    echo "SKIP: Fashion-MNIST not found (apt-get install dataset-fashion-mnist)"
    exit 77
fi
exec "${TYCHO_BIN:-lang/tycho}" --headless "${srcdir:-.}/examples/fashion_mnist_vit.lua" --quick --no-viz
