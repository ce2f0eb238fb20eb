//go:build !purego

package kernels

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/edgerun/edgerun/int4"
	"golang.org/x/sys/cpu"
)

// TestKQuantRows8 runs the Q4_K/Q6_K 8-row decode kernels (NEON and, when the CPU has
// it, SDOT) against the generic spec on many shapes (every tail length, a row stride
// longer than the row, NaN guards around y), checks that the NEON and SDOT kernels
// agree bit for bit, and that a row's result does not depend on where it falls (tail
// rows with a zero stride against the same rows inside a full group).
func TestKQuantRows8(t *testing.T) {
	r := rand.New(rand.NewPCG(91, 92))
	sdot := cpu.ARM64.HasASIMDDP && cpu.ARM64.HasFPHP
	type kern struct {
		typ        int4.Type
		neon, sdot rowsKernel
	}
	for _, kk := range []kern{{int4.Q4_K, q4kRowsNEON8Go, q4kRowsSDOT8Go}, {int4.Q6_K, q6kRowsNEON8Go, q6kRowsSDOT8Go}} {
		rowsList := []int{1, 3, 7, 8, 9, 15, 16, 17, 24, 31}
		if testing.Short() {
			rowsList = []int{1, 7, 9, 16, 17}
		}
		for _, rows := range rowsList {
			for _, cols := range []int{256, 512, 2304} {
				nb := cols / qBlock
				bs := kk.typ.BlockBytes()
				rb := nb/8*bs + bs*(rows%2) // padded stride on odd row counts
				data := paddedRows(r, kk.typ, rows, cols, rb)
				var a q8Act
				a.quantize(randActs(r, 1, cols), 1, cols)
				q, d, c := a.row(0)
				want := make([]float32, rows)
				ktSpec.rows(kk.typ)(data, rb, q, d, c, want)
				const g = 4
				got := nanGuarded(rows, g)
				kk.neon(data, rb, q, d, c, got[g:g+rows])
				checkNaNGuards(t, got, g, rows, kk.typ.String())
				for i := 0; i < rows; i++ {
					bound := ktBound(kk.typ, data[i*rb:i*rb+nb/8*bs], q, d)
					tol := 4e-7*float64(nb+16)*bound + 1e-30
					if diff := math.Abs(float64(got[g+i]) - float64(want[i])); !(diff <= tol) {
						t.Fatalf("%v neon rows=%d cols=%d row %d: got %g, generic %g (tol %g)", kk.typ, rows, cols, i, got[g+i], want[i], tol)
					}
				}
				// each row alone (zero stride) gives what it gets in its group
				for _, i := range []int{0, rows - 1} {
					var one [1]float32
					kk.neon(data[i*rb:], rb, q, d, c, one[:])
					if math.Float32bits(one[0]) != math.Float32bits(got[g+i]) {
						t.Fatalf("%v neon rows=%d cols=%d row %d: alone %g, in its group %g", kk.typ, rows, cols, i, one[0], got[g+i])
					}
				}
				if !sdot {
					continue
				}
				got2 := nanGuarded(rows, g)
				kk.sdot(data, rb, q, d, c, got2[g:g+rows])
				checkNaNGuards(t, got2, g, rows, kk.typ.String()+" sdot")
				for i := 0; i < rows; i++ {
					if math.Float32bits(got2[g+i]) != math.Float32bits(got[g+i]) {
						t.Fatalf("%v rows=%d cols=%d row %d: sdot %g, neon %g", kk.typ, rows, cols, i, got2[g+i], got[g+i])
					}
				}
			}
		}
	}
}

// TestKQuantRows8x4 checks the Q4_K/Q6_K 8×4 prefill kernels (NEON and, when the CPU
// has it, SDOT) against their decode kernels token by token, bit for bit, with guards
// around each token's outputs, on every tail length and padded strides.
func TestKQuantRows8x4(t *testing.T) {
	r := rand.New(rand.NewPCG(93, 94))
	type kern struct {
		typ int4.Type
		k   rowsKernel
		k4  rows4Kernel
	}
	kerns := []kern{{int4.Q4_K, q4kRowsNEON8Go, q4kRows4NEON8Go}, {int4.Q6_K, q6kRowsNEON8Go, q6kRows4NEON8Go}}
	if cpu.ARM64.HasASIMDDP && cpu.ARM64.HasFPHP {
		kerns = append(kerns, kern{int4.Q4_K, q4kRowsSDOT8Go, q4kRows4SDOT8Go}, kern{int4.Q6_K, q6kRowsSDOT8Go, q6kRows4SDOT8Go})
	}
	for _, kk := range kerns {
		for _, rows := range []int{1, 5, 8, 9, 16, 23} {
			for _, cols := range []int{256, 768} {
				nb := cols / qBlock
				rb := nb/8*kk.typ.BlockBytes() + 48*(rows%3) // sometimes a longer stride
				data := paddedRows(r, kk.typ, rows, cols, rb)
				checkRows4MatchesRows(t, funcName(kk.k4), r, kk.k, kk.k4, data, rb, rows, cols)
			}
		}
	}
}
