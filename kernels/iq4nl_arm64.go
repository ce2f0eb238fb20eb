//go:build !purego

package kernels

// archKT sets the arm64 kernels on the "neon-dotprod" implementation.
func archKT(i *impl) {}
