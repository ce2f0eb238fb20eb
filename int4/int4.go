// Package int4 defines the block-quantized weight formats edgerun reads and writes
// (ggml's F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q4_K, Q6_K, IQ4_NL; bitsandbytes' NF4 and FP4
// codes in edgerun's row layouts NF4/FP4 and NF4_64/FP4_64, see nf4.go),
// with row-wise dequantization and quantization. It is the specification every kernel
// in package kernels is tested against.
//
// A "row" is a contiguous run of elements whose length is a multiple of the type's block
// size; blocks never straddle rows.
package int4

import (
	"errors"
	"fmt"
)

// Type is a weight element format. The numeric values of the ggml types equal ggml's
// type ids, so a GGUF tensor-info type field converts directly.
type Type uint32

// The ggml tensor types edgerun supports (ids from ggml.h).
const (
	F32    Type = 0
	F16    Type = 1
	Q4_0   Type = 2
	Q4_1   Type = 3
	Q8_0   Type = 8
	Q4_K   Type = 12
	Q6_K   Type = 14
	IQ4_NL Type = 20
	BF16   Type = 30
)

// ErrUnsupportedType is returned for a type id edgerun cannot decode.
var ErrUnsupportedType = errors.New("int4: unsupported tensor type")

// ErrBadLength is returned when a row length is not a multiple of the type's block size
// or a buffer has the wrong size.
var ErrBadLength = errors.New("int4: bad length")

type typeInfo struct {
	name       string
	blockElems int
	blockBytes int
}

var types = map[Type]typeInfo{
	F32:    {"F32", 1, 4},
	F16:    {"F16", 1, 2},
	BF16:   {"BF16", 1, 2},
	Q8_0:   {"Q8_0", 32, 34},
	Q4_0:   {"Q4_0", 32, 18},
	Q4_1:   {"Q4_1", 32, 20},
	Q4_K:   {"Q4_K", 256, 144},
	Q6_K:   {"Q6_K", 256, 210},
	IQ4_NL: {"IQ4_NL", 32, 18},
}

// ggmlNames names ggml types edgerun does not decode, for error messages.
var ggmlNames = map[Type]string{
	6: "Q5_0", 7: "Q5_1", 9: "Q8_1", 10: "Q2_K", 11: "Q3_K", 13: "Q5_K", 15: "Q8_K",
	16: "IQ2_XXS", 17: "IQ2_XS", 18: "IQ3_XXS", 19: "IQ1_S", 21: "IQ3_S", 22: "IQ2_S",
	23: "IQ4_XS", 24: "I8", 25: "I16", 26: "I32", 27: "I64", 28: "F64", 29: "IQ1_M",
	34: "TQ1_0", 35: "TQ2_0", 39: "MXFP4",
}

// String returns the ggml name of the type, e.g. "Q4_0".
func (t Type) String() string {
	if ti, ok := types[t]; ok {
		return ti.name
	}
	if n, ok := ggmlNames[t]; ok {
		return n
	}
	return fmt.Sprintf("type(%d)", uint32(t))
}

// Supported reports whether edgerun can decode t.
func (t Type) Supported() bool { _, ok := types[t]; return ok }

// BlockElems returns the number of elements in one block of t (1 for float types),
// or 0 for an unsupported type.
func (t Type) BlockElems() int { return types[t].blockElems }

// BlockBytes returns the byte size of one block of t, or 0 for an unsupported type.
func (t Type) BlockBytes() int { return types[t].blockBytes }

// Quantized reports whether t is a block-quantized (not plain float) type.
func (t Type) Quantized() bool { return t.Supported() && types[t].blockElems > 1 }

// ParseType returns the type whose name is s (case-insensitive), e.g. "q4_0".
func ParseType(s string) (Type, error) {
	for t, ti := range types {
		if equalFold(ti.name, s) {
			return t, nil
		}
	}
	return 0, fmt.Errorf("%w: %q", ErrUnsupportedType, s)
}

func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// RowBytes returns the byte size of n elements of type t. It fails when t is
// unsupported or n is not a multiple of the block size.
func RowBytes(t Type, n int) (int, error) {
	ti, ok := types[t]
	if !ok {
		return 0, fmt.Errorf("%w: %v", ErrUnsupportedType, t)
	}
	if n < 0 || n%ti.blockElems != 0 {
		return 0, fmt.Errorf("%w: %d elements is not a multiple of the %v block size %d", ErrBadLength, n, t, ti.blockElems)
	}
	return n / ti.blockElems * ti.blockBytes, nil
}
