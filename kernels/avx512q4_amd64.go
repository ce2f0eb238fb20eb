//go:build !purego

package kernels

// avx512Q4 sets its AVX-512 kernels on i (see avx512Impl).
func avx512Q4(i *impl) {}
