//go:build !purego

package kernels

import "golang.org/x/sys/cpu"

// hasAVX512 reports whether the CPU and the OS support the AVX-512 subsets the avx512
// kernels use besides the AVX2 baseline: F, BW, VL and VNNI (Ice Lake, Tiger Lake,
// Cascade Lake, Sapphire Rapids, Zen 4 and later).
func hasAVX512() bool {
	return cpu.X86.HasAVX512F && cpu.X86.HasAVX512BW && cpu.X86.HasAVX512VL && cpu.X86.HasAVX512VNNI
}

// avx512Impl returns the "avx512" implementation: prev (the avx2 one) with the kernels
// that have AVX-512 versions replaced. Each avx512 kernel gives bit for bit the result
// of the AVX2 kernel it replaces, so the Go code around them (row splitting, tails,
// tiles) is the code the AVX2 tests run natively, and decode and prefill still agree.
// This machine's CPUs may lack AVX-512: the kernels are tested under Bochs
// (bochs_amd64_test.go), one assembly call at a time.
func avx512Impl(prev *impl) *impl {
	i := *prev
	i.name = "avx512"
	i.kt = ktKernels{} // register inherits the kernels left unset from prev
	avx512Q4(&i)
	avx512Nib(&i)
	avx512K(&i)
	return &i
}
