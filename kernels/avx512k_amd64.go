//go:build !purego

package kernels

// avx512K sets its AVX-512 kernels on i (see avx512Impl).
func avx512K(i *impl) {}
