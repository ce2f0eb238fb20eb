//go:build purego || (!amd64 && !arm64)

package kernels

// Without assembly for the element-wise kernels (purego, or neither amd64 nor arm64) the
// generic versions in ops.go run.
