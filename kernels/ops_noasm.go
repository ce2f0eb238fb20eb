//go:build purego || !amd64

package kernels

// Without assembly for the element-wise kernels (purego, or not amd64) the generic
// versions in ops.go run.
