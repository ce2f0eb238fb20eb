package loader

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
	"sort"

	"github.com/edgerun/edgerun/int4"
)

// GGUF container constants (ggml's gguf.h).
const (
	ggufMagic            = "GGUF"
	ggufVersion          = 3 // the version the writer produces
	ggufDefaultAlignment = 32
	ggufMaxDims          = 4  // GGML_MAX_DIMS
	ggufMaxNesting       = 16 // deepest array-of-array nesting accepted
	ggufMaxElems         = 1 << 52
)

// ggufType is a GGUF metadata value type.
type ggufType uint32

// GGUF metadata value types, as stored in the file.
const (
	ggufU8 ggufType = iota
	ggufI8
	ggufU16
	ggufI16
	ggufU32
	ggufI32
	ggufF32
	ggufBool
	ggufString
	ggufArray
	ggufU64
	ggufI64
	ggufF64
	ggufTypeCount
)

var ggufTypeNames = [...]string{"u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool", "string", "array", "u64", "i64", "f64"}

func (t ggufType) String() string {
	if t < ggufTypeCount {
		return ggufTypeNames[t]
	}
	return fmt.Sprintf("type(%d)", uint32(t))
}

// minSize returns the smallest number of bytes a value of type t occupies in a file.
func (t ggufType) minSize() uint64 {
	switch t {
	case ggufU8, ggufI8, ggufBool:
		return 1
	case ggufU16, ggufI16:
		return 2
	case ggufU32, ggufI32, ggufF32:
		return 4
	case ggufU64, ggufI64, ggufF64, ggufString:
		return 8
	case ggufArray:
		return 12
	}
	return 0
}

// ggufReader decodes little-endian GGUF structures from a byte slice, reporting
// truncation with the offset and the item being read.
type ggufReader struct {
	path string
	b    []byte
	off  int
}

func (r *ggufReader) remaining() uint64 { return uint64(len(r.b) - r.off) }

// take returns the next n bytes.
func (r *ggufReader) take(n uint64, what string) ([]byte, error) {
	if n > r.remaining() {
		return nil, errorf(r.path, ErrTruncated, "truncated at offset %d reading %s: need %d bytes, %d remain", r.off, what, n, r.remaining())
	}
	p := r.b[r.off : r.off+int(n)]
	r.off += int(n)
	return p, nil
}

func (r *ggufReader) u32(what string) (uint32, error) {
	p, err := r.take(4, what)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint32(p), nil
}

func (r *ggufReader) u64(what string) (uint64, error) {
	p, err := r.take(8, what)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint64(p), nil
}

// count reads a u64 item count and checks that count items of at least minSize bytes
// each can fit in the rest of the file, so nothing is allocated from an unchecked count.
func (r *ggufReader) count(what string, minSize uint64) (int, error) {
	at := r.off
	n, err := r.u64(what)
	if err != nil {
		return 0, err
	}
	if minSize > 0 && n > r.remaining()/minSize {
		return 0, errorf(r.path, errCountTooLarge, "%s %d at offset %d needs at least %d bytes per item but only %d bytes remain", what, n, at, minSize, r.remaining())
	}
	return int(n), nil
}

func (r *ggufReader) str(what string) (string, error) {
	n, err := r.count(what+" length", 1)
	if err != nil {
		return "", err
	}
	p, err := r.take(uint64(n), what)
	if err != nil {
		return "", err
	}
	return string(p), nil
}

// value reads one metadata value of type t.
func (r *ggufReader) value(t ggufType, what string, depth int) (any, error) {
	switch t {
	case ggufArray:
		if depth >= ggufMaxNesting {
			return nil, errorf(r.path, ErrCorrupt, "%s: arrays nested more than %d deep", what, ggufMaxNesting)
		}
		et, err := r.u32(what + " element type")
		if err != nil {
			return nil, err
		}
		return r.array(ggufType(et), what, depth+1)
	case ggufString:
		return r.str(what)
	}
	size := t.minSize()
	if size == 0 {
		return nil, errorf(r.path, ErrCorrupt, "%s: unknown value type %d at offset %d", what, uint32(t), r.off-4)
	}
	p, err := r.take(size, what)
	if err != nil {
		return nil, err
	}
	le := binary.LittleEndian
	switch t {
	case ggufU8:
		return p[0], nil
	case ggufI8:
		return int8(p[0]), nil
	case ggufU16:
		return le.Uint16(p), nil
	case ggufI16:
		return int16(le.Uint16(p)), nil
	case ggufU32:
		return le.Uint32(p), nil
	case ggufI32:
		return int32(le.Uint32(p)), nil
	case ggufF32:
		return math.Float32frombits(le.Uint32(p)), nil
	case ggufBool:
		return p[0] != 0, nil
	case ggufU64:
		return le.Uint64(p), nil
	case ggufI64:
		return int64(le.Uint64(p)), nil
	default: // ggufF64
		return math.Float64frombits(le.Uint64(p)), nil
	}
}

// array reads count and elements of an array whose element type is et. Numeric arrays
// become typed slices, string arrays []string, arrays of arrays []any.
func (r *ggufReader) array(et ggufType, what string, depth int) (any, error) {
	size := et.minSize()
	if size == 0 {
		return nil, errorf(r.path, ErrCorrupt, "%s: unknown array element type %d at offset %d", what, uint32(et), r.off-4)
	}
	n, err := r.count(what+" array length", size)
	if err != nil {
		return nil, err
	}
	switch et {
	case ggufString:
		out := make([]string, n)
		for i := range out {
			if out[i], err = r.str(what); err != nil {
				return nil, err
			}
		}
		return out, nil
	case ggufArray:
		out := make([]any, n)
		for i := range out {
			if out[i], err = r.value(ggufArray, what, depth); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	p, err := r.take(uint64(n)*size, what)
	if err != nil {
		return nil, err
	}
	le := binary.LittleEndian
	switch et {
	case ggufU8:
		return append([]uint8(nil), p...), nil
	case ggufI8:
		out := make([]int8, n)
		for i := range out {
			out[i] = int8(p[i])
		}
		return out, nil
	case ggufBool:
		out := make([]bool, n)
		for i := range out {
			out[i] = p[i] != 0
		}
		return out, nil
	case ggufU16:
		out := make([]uint16, n)
		for i := range out {
			out[i] = le.Uint16(p[2*i:])
		}
		return out, nil
	case ggufI16:
		out := make([]int16, n)
		for i := range out {
			out[i] = int16(le.Uint16(p[2*i:]))
		}
		return out, nil
	case ggufU32:
		out := make([]uint32, n)
		for i := range out {
			out[i] = le.Uint32(p[4*i:])
		}
		return out, nil
	case ggufI32:
		out := make([]int32, n)
		for i := range out {
			out[i] = int32(le.Uint32(p[4*i:]))
		}
		return out, nil
	case ggufF32:
		out := make([]float32, n)
		for i := range out {
			out[i] = math.Float32frombits(le.Uint32(p[4*i:]))
		}
		return out, nil
	case ggufU64:
		out := make([]uint64, n)
		for i := range out {
			out[i] = le.Uint64(p[8*i:])
		}
		return out, nil
	case ggufI64:
		out := make([]int64, n)
		for i := range out {
			out[i] = int64(le.Uint64(p[8*i:]))
		}
		return out, nil
	default: // ggufF64
		out := make([]float64, n)
		for i := range out {
			out[i] = math.Float64frombits(le.Uint64(p[8*i:]))
		}
		return out, nil
	}
}

// ggufTensor is a tensor info as read, before its data is located.
type ggufTensor struct {
	t      *Tensor
	offset uint64 // relative to the data section
	size   uint64 // bytes
	start  uint64 // absolute, set once the data section is known
}

// parseGGUF reads a GGUF v2/v3 file held in data. path is used in error messages and
// recorded in the checkpoint. Tensors are views into data.
func parseGGUF(path string, data []byte) (*Checkpoint, error) {
	c, err := parseGGUFContainer(path, data)
	if err != nil {
		return nil, err
	}
	if err := ggufConfig(c); err != nil {
		return nil, err
	}
	if err := ggufVocab(c); err != nil {
		return nil, err
	}
	return c, nil
}

// parseGGUFContainer reads the metadata and tensor table of a GGUF file without
// interpreting them as a model (GGUF LoRA adapters use it too).
func parseGGUFContainer(path string, data []byte) (*Checkpoint, error) {
	r := &ggufReader{path: path, b: data}
	if len(data) < 4 {
		if len(data) == 0 {
			return nil, errorf(path, ErrTruncated, "file is empty")
		}
		if string(data) == ggufMagic[:len(data)] {
			return nil, errorf(path, ErrTruncated, "truncated in the GGUF magic (%d bytes)", len(data))
		}
		return nil, errorf(path, ErrBadMagic, "not a GGUF file (starts with %q)", data)
	}
	if string(data[:4]) != ggufMagic {
		return nil, errorf(path, ErrBadMagic, "not a GGUF file (magic %q, want %q)", data[:4], ggufMagic)
	}
	r.off = 4
	version, err := r.u32("version")
	if err != nil {
		return nil, err
	}
	switch {
	case version == 2 || version == 3:
	case version != 0 && version&0xffff == 0 && bits.ReverseBytes32(version) <= 3:
		return nil, errorf(path, ErrUnsupported, "big-endian GGUF (version %d byte-swapped) is not supported", bits.ReverseBytes32(version))
	default:
		return nil, errorf(path, ErrUnsupported, "GGUF version %d is not supported (want 2 or 3)", version)
	}
	nTensors, err := r.count("tensor_count", 8+4+8+4+8) // name, n_dims, one dim, type, offset
	if err != nil {
		return nil, err
	}
	nKV, err := r.count("kv_count", 8+4+1) // key, type, smallest value
	if err != nil {
		return nil, err
	}

	// Counts are bounded by the file size, but a map per count would still cost several
	// times the file: preallocate only up to a modest size and let the rest grow.
	const prealloc = 4096
	c := &Checkpoint{
		Path:          path,
		Format:        "gguf",
		FormatVersion: int(version),
		Meta:          make(map[string]any, min(nKV, prealloc)),
		MetaKeys:      make([]string, 0, min(nKV, prealloc)),
		Tensors:       make(map[string]*Tensor, min(nTensors, prealloc)),
		Order:         make([]string, 0, min(nTensors, prealloc)),
	}
	for i := 0; i < nKV; i++ {
		at := r.off
		key, err := r.str(fmt.Sprintf("key of metadata pair %d", i))
		if err != nil {
			return nil, err
		}
		if _, dup := c.Meta[key]; dup {
			return nil, errorf(path, ErrCorrupt, "duplicate metadata key %q at offset %d", key, at)
		}
		what := fmt.Sprintf("metadata %q", key)
		vt, err := r.u32(what + " type")
		if err != nil {
			return nil, err
		}
		v, err := r.value(ggufType(vt), what, 0)
		if err != nil {
			return nil, err
		}
		c.Meta[key] = v
		c.MetaKeys = append(c.MetaKeys, key)
	}

	align := uint64(ggufDefaultAlignment)
	if v, ok := c.Meta["general.alignment"]; ok {
		a, ok := v.(uint32)
		if !ok {
			return nil, errorf(path, ErrCorrupt, "general.alignment has type %T, want u32", v)
		}
		if a == 0 || a&(a-1) != 0 {
			return nil, errorf(path, ErrCorrupt, "general.alignment %d is not a power of two", a)
		}
		align = uint64(a)
	}

	infos := make([]ggufTensor, 0, min(nTensors, prealloc))
	for i := 0; i < nTensors; i++ {
		gt, err := r.tensorInfo(i, align)
		if err != nil {
			return nil, err
		}
		name := gt.t.Name
		if _, dup := c.Tensors[name]; dup {
			return nil, errorf(path, ErrCorrupt, "duplicate tensor name %q", name)
		}
		c.Tensors[name] = gt.t
		c.Order = append(c.Order, name)
		infos = append(infos, gt)
	}

	dataStart := (uint64(r.off) + align - 1) / align * align
	fileSize := uint64(len(data))
	for i := range infos {
		gt := &infos[i]
		start := dataStart + gt.offset // both < 2^63: offset was checked against the file size
		end := start + gt.size
		if gt.offset > fileSize || end > fileSize || end < start {
			return nil, errorf(path, errCountTooLarge, "tensor %q: data at offset %d (+%d bytes) extends past the end of the file (%d bytes)", gt.t.Name, dataStart+gt.offset, gt.size, fileSize)
		}
		gt.start = start
		gt.t.Data = data[start:end:end]
	}
	byStart := make([]*ggufTensor, len(infos))
	for i := range infos {
		byStart[i] = &infos[i]
	}
	sort.Slice(byStart, func(i, j int) bool { return byStart[i].start < byStart[j].start })
	for i := 1; i < len(byStart); i++ {
		a, b := byStart[i-1], byStart[i]
		if a.start+a.size > b.start {
			return nil, errorf(path, ErrCorrupt, "tensors %q and %q overlap (data offsets %d+%d and %d)", a.t.Name, b.t.Name, a.offset, a.size, b.offset)
		}
	}

	return c, nil
}

// tensorInfo reads and validates the i-th tensor info.
func (r *ggufReader) tensorInfo(i int, align uint64) (ggufTensor, error) {
	path := r.path
	name, err := r.str(fmt.Sprintf("name of tensor %d", i))
	if err != nil {
		return ggufTensor{}, err
	}
	what := fmt.Sprintf("tensor %q", name)
	nDims, err := r.u32(what + " n_dims")
	if err != nil {
		return ggufTensor{}, err
	}
	if nDims == 0 || nDims > ggufMaxDims {
		return ggufTensor{}, errorf(path, ErrCorrupt, "%s: n_dims %d is not in 1..%d", what, nDims, ggufMaxDims)
	}
	var dims [ggufMaxDims]uint64
	for d := 0; d < int(nDims); d++ {
		if dims[d], err = r.u64(what + " dims"); err != nil {
			return ggufTensor{}, err
		}
	}
	typ, err := r.u32(what + " type")
	if err != nil {
		return ggufTensor{}, err
	}
	offset, err := r.u64(what + " offset")
	if err != nil {
		return ggufTensor{}, err
	}
	tt := int4.Type(typ)
	if !tt.Supported() {
		if tt.String() == fmt.Sprintf("type(%d)", typ) {
			return ggufTensor{}, errorf(path, ErrUnsupported, "%s: unknown type id %d", what, typ)
		}
		return ggufTensor{}, errorf(path, ErrUnsupported, "%s: type %v is not supported", what, tt)
	}
	elems := uint64(1)
	for d := 0; d < int(nDims); d++ {
		if dims[d] == 0 {
			return ggufTensor{}, errorf(path, ErrCorrupt, "%s: dimension %d is zero (dims %v)", what, d, dims[:nDims])
		}
		hi, lo := bits.Mul64(elems, dims[d])
		if hi != 0 || lo > ggufMaxElems {
			return ggufTensor{}, errorf(path, ErrCorrupt, "%s: dims %v: element count overflows", what, dims[:nDims])
		}
		elems = lo
	}
	be := uint64(tt.BlockElems())
	if dims[0]%be != 0 {
		return ggufTensor{}, errorf(path, ErrCorrupt, "%s: row length %d is not a multiple of the %v block size %d", what, dims[0], tt, be)
	}
	size := elems / be * uint64(tt.BlockBytes())
	if offset%align != 0 {
		return ggufTensor{}, errorf(path, ErrCorrupt, "%s: data offset %d is not a multiple of the alignment %d", what, offset, align)
	}
	if size > uint64(len(r.b)) || offset > uint64(len(r.b)) {
		return ggufTensor{}, errorf(path, errCountTooLarge, "%s: %d bytes of data at offset %d cannot fit in a file of %d bytes", what, size, offset, len(r.b))
	}
	if elems > uint64(math.MaxInt) {
		return ggufTensor{}, errorf(path, ErrUnsupported, "%s: %d elements do not fit in an int on this platform", what, elems)
	}
	shape := make([]int, nDims)
	for d := range shape {
		shape[d] = int(dims[int(nDims)-1-d])
	}
	return ggufTensor{t: &Tensor{Name: name, Type: tt, Shape: shape}, offset: offset, size: size}, nil
}
