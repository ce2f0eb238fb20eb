//go:build !purego

package kernels

// avx512Nib sets its AVX-512 kernels on i (see avx512Impl).
func avx512Nib(i *impl) {}
