package int4

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
)

// QuantizeRows encodes the rows of src (rowLen elements each) as type t into dst
// (RowBytes(t, rowLen) bytes each), spreading the rows over one goroutine per CPU. The
// search-based encoders (IQ4_NL, Q4_K, Q6_K) run at a few MB/s of input per core, which
// is minutes for a billion weights; rows are independent, so the bytes equal those of
// QuantizeRow row by row whatever the split.
func QuantizeRows(t Type, src []float32, rowLen int, dst []byte) error {
	rb, err := RowBytes(t, rowLen)
	if err != nil {
		return err
	}
	if rowLen <= 0 || len(src)%rowLen != 0 || len(dst) != len(src)/rowLen*rb {
		return fmt.Errorf("%w: %d elements in rows of %d into %d bytes of %v", ErrBadLength, len(src), rowLen, len(dst), t)
	}
	rows := len(src) / rowLen
	workers := min(runtime.GOMAXPROCS(0), max(rows/16, 1))
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := w * rows / workers; r < (w+1)*rows/workers; r++ {
				if err := QuantizeRow(t, src[r*rowLen:(r+1)*rowLen], dst[r*rb:(r+1)*rb]); err != nil {
					errs[w] = err
					return
				}
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}
