//go:build purego || !(amd64 || arm64)

package kernels

// archKT adds nothing without assembly.
func archKT(*impl) {}
