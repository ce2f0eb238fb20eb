package loader

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"

	"github.com/edgerun/edgerun/int4"
)

// Safetensors container (formats.md §0): u64 LE header length H, H bytes of JSON
// {name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {str: str}},
// then the tensor bytes; offsets are relative to byte 8+H.

// maxSafetensorsHeader bounds the JSON header (the reference implementation uses 100 MB).
const maxSafetensorsHeader = 100 << 20

// safetensorsDTypes maps each safetensors dtype string to its element size in bytes.
var safetensorsDTypes = map[string]int{
	"BOOL": 1, "U8": 1, "I8": 1, "F8_E4M3": 1, "F8_E5M2": 1,
	"I16": 2, "U16": 2, "F16": 2, "BF16": 2,
	"I32": 4, "U32": 4, "F32": 4,
	"I64": 8, "U64": 8, "F64": 8,
}

// SafeTensor is one tensor of a safetensors file: Data is a zero-copy view into the
// file's memory map (len(Data) == elements × DTypeSize(DType)).
type SafeTensor struct {
	Name  string
	DType string // "F32", "F16", "BF16", "U8", ...
	Shape []int  // outermost first
	Data  []byte
}

// Elems returns the number of elements (1 for a scalar).
func (t *SafeTensor) Elems() int {
	n := 1
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// DTypeSize returns the element size of a safetensors dtype string, or 0 when unknown.
func DTypeSize(dtype string) int { return safetensorsDTypes[dtype] }

// SafetensorsFile is a parsed safetensors file.
type SafetensorsFile struct {
	Path     string
	Metadata map[string]string
	Tensors  []*SafeTensor // in data-offset order
	byName   map[string]*SafeTensor
	closer   func() error
}

// Tensor returns the tensor called name.
func (f *SafetensorsFile) Tensor(name string) (*SafeTensor, bool) {
	t, ok := f.byName[name]
	return t, ok
}

// Close releases the file's memory map; its tensors must not be used afterwards.
func (f *SafetensorsFile) Close() error {
	if f == nil || f.closer == nil {
		return nil
	}
	err := f.closer()
	f.closer = nil
	return err
}

// OpenSafetensors maps the file at path and parses its header. Errors match
// ErrTruncated, ErrCorrupt or ErrUnsupported and name the file (and the tensor).
func OpenSafetensors(path string) (*SafetensorsFile, error) { return openSafetensors(path, false) }

// openSafetensors is OpenSafetensors, reading the file into memory when inRAM is set.
func openSafetensors(path string, inRAM bool) (*SafetensorsFile, error) {
	data, unmap, err := mapFile(path, inRAM)
	if err != nil {
		return nil, err
	}
	f, err := ParseSafetensors(path, data)
	if err != nil {
		unmap()
		return nil, err
	}
	f.closer = unmap
	return f, nil
}

// ParseSafetensors parses a safetensors file held in data (path is used in errors). It
// checks that the header fits in the file and is one JSON object without duplicate
// names, that every dtype is known, every shape's element count times the dtype size
// equals its byte range, and that the ranges lie inside the data area and do not
// overlap. The tensors are views into data.
func ParseSafetensors(path string, data []byte) (*SafetensorsFile, error) {
	if len(data) < 8 {
		return nil, errorf(path, ErrTruncated, "safetensors: %d bytes, too short for the 8-byte header length", len(data))
	}
	h := binary.LittleEndian.Uint64(data)
	if h > uint64(len(data)-8) {
		return nil, wrapf(path, errCountTooLarge, nil, "safetensors: header length %d is beyond the end of the %d-byte file", h, len(data))
	}
	if h > maxSafetensorsHeader {
		return nil, errorf(path, ErrUnsupported, "safetensors: header of %d bytes exceeds the %d-byte limit", h, maxSafetensorsHeader)
	}
	header := data[8 : 8+h]
	body := data[8+h:]
	f := &SafetensorsFile{Path: path, byName: map[string]*SafeTensor{}}
	dec := json.NewDecoder(bytes.NewReader(header))
	dec.UseNumber()
	bad := func(format string, args ...any) error {
		return errorf(path, ErrCorrupt, "safetensors header: "+format, args...)
	}
	tok, err := dec.Token()
	if err != nil || tok != json.Delim('{') {
		return nil, bad("not a JSON object (%v)", jsonErr(err, tok))
	}
	type span struct {
		begin, end uint64
		t          *SafeTensor
	}
	var spans []span
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, bad("%v", err)
		}
		name, ok := tok.(string)
		if !ok {
			return nil, bad("key %v is not a string", tok)
		}
		if name == "__metadata__" {
			if f.Metadata != nil {
				return nil, bad("duplicate __metadata__")
			}
			var raw map[string]any
			if err := dec.Decode(&raw); err != nil {
				return nil, bad("__metadata__: %v", err)
			}
			f.Metadata = make(map[string]string, len(raw))
			for k, v := range raw {
				s, ok := v.(string)
				if !ok {
					return nil, bad("__metadata__ value of %q is not a string", k)
				}
				f.Metadata[k] = s
			}
			continue
		}
		if _, dup := f.byName[name]; dup {
			return nil, bad("tensor %q appears twice", name)
		}
		var e struct {
			DType   *string       `json:"dtype"`
			Shape   []json.Number `json:"shape"`
			Offsets []json.Number `json:"data_offsets"`
		}
		if err := dec.Decode(&e); err != nil {
			return nil, bad("tensor %q: %v", name, err)
		}
		if e.DType == nil || e.Shape == nil || e.Offsets == nil {
			return nil, bad("tensor %q lacks dtype, shape or data_offsets", name)
		}
		size := DTypeSize(*e.DType)
		if size == 0 {
			return nil, errorf(path, ErrUnsupported, "safetensors: tensor %q has unknown dtype %q", name, *e.DType)
		}
		t := &SafeTensor{Name: name, DType: *e.DType, Shape: make([]int, len(e.Shape))}
		nbytes := uint64(size)
		for i, d := range e.Shape {
			v, err := strconv.ParseUint(string(d), 10, 63)
			if err != nil || v > uint64(math.MaxInt) {
				return nil, bad("tensor %q: shape %v: dimension %s is not a non-negative integer", name, e.Shape, d)
			}
			if v != 0 && nbytes > math.MaxInt64/v {
				return nil, bad("tensor %q: shape %v overflows", name, e.Shape)
			}
			nbytes *= v
			t.Shape[i] = int(v)
		}
		if len(e.Offsets) != 2 {
			return nil, bad("tensor %q: data_offsets %v must be [begin, end]", name, e.Offsets)
		}
		var off [2]uint64
		for i, o := range e.Offsets {
			v, err := strconv.ParseUint(string(o), 10, 64)
			if err != nil {
				return nil, bad("tensor %q: data_offsets %v: %s is not a non-negative integer", name, e.Offsets, o)
			}
			off[i] = v
		}
		if off[0] > off[1] {
			return nil, bad("tensor %q: data_offsets [%d, %d] end before they begin", name, off[0], off[1])
		}
		if off[1] > uint64(len(body)) {
			return nil, wrapf(path, errCountTooLarge, nil, "safetensors: tensor %q: data_offsets [%d, %d] go past the %d bytes of data", name, off[0], off[1], len(body))
		}
		if off[1]-off[0] != nbytes {
			return nil, bad("tensor %q: dtype %s and shape %v need %d bytes but data_offsets [%d, %d] hold %d", name, t.DType, t.Shape, nbytes, off[0], off[1], off[1]-off[0])
		}
		t.Data = body[off[0]:off[1]:off[1]]
		f.byName[name] = t
		spans = append(spans, span{off[0], off[1], t})
	}
	if _, err := dec.Token(); err != nil {
		return nil, bad("%v", err)
	}
	if off := dec.InputOffset(); off < 0 || off > int64(len(header)) || len(bytes.TrimSpace(header[off:])) != 0 {
		return nil, bad("trailing bytes after the JSON object")
	}
	sort.SliceStable(spans, func(i, j int) bool {
		if spans[i].begin != spans[j].begin {
			return spans[i].begin < spans[j].begin
		}
		return spans[i].end < spans[j].end
	})
	for i, s := range spans {
		if i > 0 && s.begin < spans[i-1].end {
			return nil, bad("tensors %q [%d, %d] and %q [%d, %d] overlap", spans[i-1].t.Name, spans[i-1].begin, spans[i-1].end, s.t.Name, s.begin, s.end)
		}
		f.Tensors = append(f.Tensors, s.t)
	}
	return f, nil
}

func jsonErr(err error, tok json.Token) any {
	if err != nil {
		return err
	}
	return tok
}

// SafetensorsWriter streams a safetensors file: NewSafetensorsWriter writes the header
// (every tensor's dtype, shape and offsets, in the given order), then each tensor's
// data is written in that order with WriteTensor. The file appears at its path only when
// Close succeeds (it is written to a temporary file in the same directory and renamed).
type SafetensorsWriter struct {
	path    string
	f       *atomicFile
	infos   []SafeTensor
	cur     int
	done    bool
	failure error
}

// NewSafetensorsWriter starts a safetensors file at path. Only Name, DType and Shape of
// each tensor are used. The header is padded with spaces to a multiple of 8 bytes, as
// the reference writer does, so the data area starts aligned.
func NewSafetensorsWriter(path string, metadata map[string]string, tensors []*SafeTensor) (*SafetensorsWriter, error) {
	header, err := encodeSafetensorsHeader(path, metadata, tensors)
	if err != nil {
		return nil, err
	}
	f, err := createAtomic(path)
	if err != nil {
		return nil, fmt.Errorf("loader: %s: %w", path, err)
	}
	w := &SafetensorsWriter{path: path, f: f}
	for _, t := range tensors {
		w.infos = append(w.infos, SafeTensor{Name: t.Name, DType: t.DType, Shape: t.Shape})
	}
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(len(header)))
	if _, err := f.Write(n[:]); err == nil {
		_, err = f.Write(header)
	}
	if err != nil {
		w.Abort()
		return nil, fmt.Errorf("loader: %s: %w", path, err)
	}
	return w, nil
}

func encodeSafetensorsHeader(path string, metadata map[string]string, tensors []*SafeTensor) ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	first := true
	if len(metadata) > 0 {
		m, err := json.Marshal(metadata)
		if err != nil {
			return nil, errorf(path, ErrInvalid, "metadata: %v", err)
		}
		b.WriteString(`"__metadata__":`)
		b.Write(m)
		first = false
	}
	seen := map[string]bool{}
	var off uint64
	for _, t := range tensors {
		size := DTypeSize(t.DType)
		if size == 0 {
			return nil, errorf(path, ErrInvalid, "tensor %q: unknown dtype %q", t.Name, t.DType)
		}
		if seen[t.Name] || t.Name == "__metadata__" {
			return nil, errorf(path, ErrInvalid, "tensor name %q is duplicated or reserved", t.Name)
		}
		seen[t.Name] = true
		n := uint64(size)
		for _, d := range t.Shape {
			if d < 0 {
				return nil, errorf(path, ErrInvalid, "tensor %q: negative dimension in %v", t.Name, t.Shape)
			}
			n *= uint64(d)
		}
		if !first {
			b.WriteByte(',')
		}
		first = false
		name, _ := json.Marshal(t.Name)
		shape := t.Shape
		if shape == nil {
			shape = []int{}
		}
		s, _ := json.Marshal(shape)
		fmt.Fprintf(&b, `%s:{"dtype":%q,"shape":%s,"data_offsets":[%d,%d]}`, name, t.DType, s, off, off+n)
		off += n
	}
	b.WriteByte('}')
	for b.Len()%8 != 0 {
		b.WriteByte(' ')
	}
	return b.Bytes(), nil
}

// WriteTensor writes the whole data of the next tensor, which must be called name and
// hold exactly the bytes its dtype and shape need.
func (w *SafetensorsWriter) WriteTensor(name string, data []byte) error {
	if w.failure != nil {
		return w.failure
	}
	if w.done || w.cur >= len(w.infos) || w.infos[w.cur].Name != name {
		return errorf(w.path, ErrInvalid, "tensor %q written out of order", name)
	}
	t := &w.infos[w.cur]
	if want := t.Elems() * DTypeSize(t.DType); len(data) != want {
		return errorf(w.path, ErrInvalid, "tensor %q: %d bytes of data, want %d", name, len(data), want)
	}
	if _, err := w.f.Write(data); err != nil {
		w.failure = fmt.Errorf("loader: %s: %w", w.path, err)
		return w.failure
	}
	w.cur++
	return nil
}

// Close checks that every tensor was written, flushes and syncs the file and renames it
// into place; after a failure it removes the temporary file and returns the error.
func (w *SafetensorsWriter) Close() error {
	if w.done {
		return w.failure
	}
	err := w.failure
	if err == nil && w.cur < len(w.infos) {
		err = errorf(w.path, ErrInvalid, "closed before tensor %q was written", w.infos[w.cur].Name)
	}
	if err == nil {
		err = w.f.commit()
	} else {
		w.f.abort()
	}
	w.done = true
	if err != nil {
		w.failure = err
	}
	return err
}

// Abort discards the file being written.
func (w *SafetensorsWriter) Abort() {
	if w.done {
		return
	}
	w.done = true
	w.f.abort()
}

// WriteSafetensors writes tensors (with their Data) to a safetensors file at path,
// atomically.
func WriteSafetensors(path string, metadata map[string]string, tensors []*SafeTensor) error {
	w, err := NewSafetensorsWriter(path, metadata, tensors)
	if err != nil {
		return err
	}
	for _, t := range tensors {
		if err := w.WriteTensor(t.Name, t.Data); err != nil {
			w.Abort()
			return err
		}
	}
	return w.Close()
}

// safeTensorType maps a float safetensors dtype to the int4 row type that reads it.
func safeTensorType(dtype string) (int4.Type, bool) {
	switch dtype {
	case "F32":
		return int4.F32, true
	case "F16":
		return int4.F16, true
	case "BF16":
		return int4.BF16, true
	}
	return 0, false
}

// SafeTensorDType returns the safetensors dtype string of a float int4 type (F32, F16,
// BF16), or "" for other types.
func SafeTensorDType(t int4.Type) string {
	switch t {
	case int4.F32:
		return "F32"
	case int4.F16:
		return "F16"
	case int4.BF16:
		return "BF16"
	}
	return ""
}

// parseSafetensorsFile opens a lone .safetensors file as a checkpoint of raw tensors
// under their own names (no configuration): useful for inspection.
func parseSafetensorsFile(path string, data []byte) (*Checkpoint, error) {
	f, err := ParseSafetensors(path, data)
	if err != nil {
		return nil, err
	}
	c := &Checkpoint{Path: path, Format: "safetensors", Tensors: map[string]*Tensor{}, Meta: map[string]any{}}
	for k, v := range f.Metadata {
		c.Meta[k] = v
		c.MetaKeys = append(c.MetaKeys, k)
	}
	sort.Strings(c.MetaKeys)
	for _, t := range f.Tensors {
		typ, ok := safeTensorType(t.DType)
		if !ok {
			continue // integer tensors (quant states, ids) have no int4 row type
		}
		c.Tensors[t.Name] = &Tensor{Name: t.Name, Type: typ, Shape: t.Shape, Data: t.Data}
		c.Order = append(c.Order, t.Name)
	}
	return c, nil
}
