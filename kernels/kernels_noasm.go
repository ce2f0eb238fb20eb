//go:build purego || !(amd64 || arm64)

package kernels

// Without assembly (purego tag, or an architecture without kernels yet) only the
// generic implementation is registered.
