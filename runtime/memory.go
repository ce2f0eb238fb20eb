package runtime

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/edgerun/edgerun/int4"
)

// ErrInsufficientMemory is returned by Open when the model and its context would not
// fit in the available memory. The error names the figures.
var ErrInsufficientMemory = errors.New("runtime: not enough memory")

// errBadHeader marks a file whose header EstimateMemory cannot read.
var errBadHeader = errors.New("runtime: cannot read the model header")

// MemoryEstimate is what running a model takes, in bytes, with one session at the full
// context size.
type MemoryEstimate struct {
	Weights     int64     // the model file, memory-mapped (resident once it has been read)
	KVCache     int64     // one session's keys and values for Context positions, stored as KVType
	KVType      int4.Type // the KV-cache precision (WithKVType): int4.F32, int4.F16 or int4.Q8_0
	Activations int64     // the scratch of one prefill batch, the logits and the norms
	Context     int       // the context size the KV cache is sized for
	Total       int64     // the sum of the above
}

// String formats the estimate as "1.2 GiB (weights ... + KV cache ... + activations ...)".
func (m MemoryEstimate) String() string {
	return fmt.Sprintf("%s (weights %s mapped from the file + KV cache %s for %d positions at %v + activations %s)",
		formatBytes(m.Total), formatBytes(m.Weights), formatBytes(m.KVCache), m.Context, strings.ToLower(m.KVType.String()), formatBytes(m.Activations))
}

// modelShape is the part of a model's configuration the estimate needs.
type modelShape struct {
	dim, ffn, layers, heads, kvHeads, headDim, vocab, context int
}

// EstimateMemory reads only the header of the model file at path (GGUF or llama2.c
// .bin) — nothing is mapped — and estimates the memory the model needs with the
// context size and KV-cache precision that opts (WithContext, WithKVType) select. It
// fails, wrapping ErrKVType, when the model cannot store its KV cache in that precision.
func EstimateMemory(path string, opts ...Option) (MemoryEstimate, error) {
	var o options
	for _, f := range opts {
		f(&o)
	}
	return estimateMemory(path, o)
}

func estimateMemory(path string, o options) (MemoryEstimate, error) {
	f, err := os.Open(path)
	if err != nil {
		return MemoryEstimate{}, fmt.Errorf("runtime: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return MemoryEstimate{}, fmt.Errorf("runtime: %w", err)
	}
	if fi.IsDir() {
		return MemoryEstimate{}, fmt.Errorf("runtime: %s: is a directory: %w", path, errBadHeader)
	}
	sh, err := peekShape(bufio.NewReaderSize(f, 64<<10), fi.Size(), strings.EqualFold(filepath.Ext(path), ".bin"))
	if err != nil {
		return MemoryEstimate{}, fmt.Errorf("runtime: %s: %w", path, err)
	}
	if err := checkKVType(o.mem.kvType, sh.headDimOrDefault(), path); err != nil {
		return MemoryEstimate{}, err
	}
	return estimateShape(sh, fi.Size(), o), nil
}

// headDimOrDefault is the head size: the GGUF key_length, else dim / heads.
func (sh modelShape) headDimOrDefault() int {
	if sh.headDim <= 0 && sh.heads > 0 {
		return sh.dim / sh.heads
	}
	return sh.headDim
}

// sessionContext is the context size NewSession gives a session (keep in step with it).
func sessionContext(modelCtx int, o options) int {
	ctx := modelCtx
	if o.context > 0 && (ctx <= 0 || o.context < ctx) {
		ctx = o.context
	}
	if ctx <= 0 {
		ctx = 2048
	}
	return ctx
}

func estimateShape(sh modelShape, fileSize int64, o options) MemoryEstimate {
	ctx := sessionContext(sh.context, o)
	hd := sh.headDimOrDefault()
	kvHeads := sh.kvHeads
	if kvHeads <= 0 {
		kvHeads = sh.heads
	}
	kvDim, qDim := int64(kvHeads*hd), int64(sh.heads*hd)
	e := MemoryEstimate{Weights: fileSize, Context: ctx, KVType: o.mem.kvType}
	rowBytes, err := int4.RowBytes(o.mem.kvType, int(kvDim))
	if err != nil { // not a type the cache stores (estimateMemory checks): count float32
		rowBytes = int(kvDim) * 4
	}
	e.KVCache = 2 * int64(sh.layers) * int64(ctx) * int64(rowBytes)
	batch := int64(min(ctx, maxBatch))
	perPos := int64(sh.dim) + max(int64(sh.dim), qDim) + 2*qDim + 2*kvDim + 2*int64(sh.ffn)
	e.Activations = 4 * (batch*perPos + int64(sh.vocab) + int64(2*sh.layers+1)*int64(sh.dim) + int64(ctx)*batch + int64(hd))
	e.Total = e.Weights + e.KVCache + e.Activations
	return e
}

// checkMemory refuses, before anything is mapped, a model that would not fit.
func checkMemory(path string, o options) error {
	if o.mem.noCheck {
		return nil
	}
	avail, source, ok := AvailableMemory()
	if o.mem.limit > 0 && (!ok || o.mem.limit < avail) {
		avail, source, ok = o.mem.limit, "the limit set with WithMemoryLimit", true
	}
	if !ok {
		return nil // nothing to compare with on this system
	}
	est, err := estimateMemory(path, o)
	if errors.Is(err, ErrKVType) {
		return err
	}
	if err != nil {
		return nil // not a header we can read: let the loader report the problem
	}
	if est.Total > avail {
		smaller := ""
		if o.mem.kvType != int4.Q8_0 {
			smaller = " or a smaller KV-cache type (--kv-type f16 or q8_0)"
		}
		return fmt.Errorf("%w for %s: the model needs %v, but only %s is available (%s); use a smaller context (-c)%s, a smaller model or quantization, or free memory",
			ErrInsufficientMemory, path, est, formatBytes(avail), source, smaller)
	}
	return nil
}

// AvailableMemory returns how many bytes the system can give a new allocation without
// swapping, and where the figure comes from. On Linux (and Android) it is MemAvailable
// from /proc/meminfo, lowered to the cgroup's memory.max minus memory.current when the
// process runs in a memory-limited cgroup v2. ok is false on systems where edgerun does
// not read the figure (the check in Open is then skipped).
func AvailableMemory() (bytes int64, source string, ok bool) {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0, "", false
	}
	avail, ok := parseMeminfo(string(b))
	if !ok {
		return 0, "", false
	}
	source = "MemAvailable in /proc/meminfo"
	if limit, ok := cgroupAvailable(); ok && limit < avail {
		avail, source = limit, "memory.max - memory.current of the process's cgroup"
	}
	return avail, source, true
}

// parseMeminfo returns MemAvailable in bytes from the text of /proc/meminfo.
func parseMeminfo(s string) (int64, bool) {
	for line := range strings.Lines(s) {
		rest, found := strings.CutPrefix(line, "MemAvailable:")
		if !found {
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) == 0 {
			return 0, false
		}
		var n int64
		if _, err := fmt.Sscan(fields[0], &n); err != nil || n < 0 {
			return 0, false
		}
		if len(fields) > 1 && fields[1] == "kB" {
			n *= 1024
		}
		return n, true
	}
	return 0, false
}

// cgroupAvailable returns memory.max - memory.current of the process's cgroup v2.
func cgroupAvailable() (int64, bool) {
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return 0, false
	}
	for line := range strings.Lines(string(b)) {
		p, found := strings.CutPrefix(strings.TrimSpace(line), "0::")
		if !found {
			continue
		}
		dir := filepath.Join("/sys/fs/cgroup", p)
		read := func(name string) (int64, bool) {
			b, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil {
				return 0, false
			}
			var n int64
			if _, err := fmt.Sscan(strings.TrimSpace(string(b)), &n); err != nil {
				return 0, false // "max": no limit
			}
			return n, true
		}
		limit, ok := read("memory.max")
		if !ok {
			return 0, false
		}
		cur, _ := read("memory.current")
		return max(0, limit-cur), true
	}
	return 0, false
}

func formatBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	v, i := float64(n), -1
	for v >= unit && i < 3 {
		v /= unit
		i++
	}
	return fmt.Sprintf("%.1f %ciB", v, "KMGT"[i])
}

// peekShape reads the configuration from the header of a GGUF or (llama2c set)
// llama2.c file of size bytes, without reading the tensor data.
func peekShape(r io.Reader, size int64, llama2c bool) (modelShape, error) {
	var magic [4]byte
	if _, err := io.ReadFull(r, magic[:]); err != nil {
		return modelShape{}, fmt.Errorf("%w: %v", errBadHeader, err)
	}
	if string(magic[:]) == "GGUF" {
		return peekGGUF(&headerReader{r: r, size: size})
	}
	if !llama2c {
		return modelShape{}, fmt.Errorf("%w: neither GGUF nor a llama2.c .bin", errBadHeader)
	}
	var rest [24]byte
	if _, err := io.ReadFull(r, rest[:]); err != nil {
		return modelShape{}, fmt.Errorf("%w: llama2.c header: %v", errBadHeader, err)
	}
	h := append(magic[:], rest[:]...)
	var f [7]int
	for i := range f {
		f[i] = int(int32(binary.LittleEndian.Uint32(h[4*i:])))
	}
	if f[5] < 0 {
		f[5] = -f[5]
	}
	for _, v := range f {
		if v <= 0 || v > 1<<24 {
			return modelShape{}, fmt.Errorf("%w: llama2.c header %v out of range", errBadHeader, f)
		}
	}
	return modelShape{dim: f[0], ffn: f[1], layers: f[2], heads: f[3], kvHeads: f[4], vocab: f[5], context: f[6]}, nil
}

// headerReader reads little-endian GGUF values, refusing lengths larger than the file.
type headerReader struct {
	r    io.Reader
	size int64
	buf  [8]byte
}

func (h *headerReader) u32() (uint32, error) {
	if _, err := io.ReadFull(h.r, h.buf[:4]); err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint32(h.buf[:4]), nil
}

func (h *headerReader) u64() (uint64, error) {
	if _, err := io.ReadFull(h.r, h.buf[:8]); err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint64(h.buf[:8]), nil
}

// length reads a count and checks that count items of at least minSize bytes fit in
// the file.
func (h *headerReader) length(minSize uint64) (uint64, error) {
	n, err := h.u64()
	if err != nil {
		return 0, err
	}
	if minSize == 0 {
		minSize = 1
	}
	if n > uint64(h.size)/minSize {
		return 0, fmt.Errorf("%w: count %d larger than the file", errBadHeader, n)
	}
	return n, nil
}

func (h *headerReader) skip(n uint64) error {
	_, err := io.CopyN(io.Discard, h.r, int64(n))
	return err
}

func (h *headerReader) str(keep bool) (string, error) {
	n, err := h.length(1)
	if err != nil {
		return "", err
	}
	if !keep || n > 1024 {
		return "", h.skip(n)
	}
	b := make([]byte, n)
	_, err = io.ReadFull(h.r, b)
	return string(b), err
}

// ggufScalarSize is the byte size of GGUF metadata scalar types (0: not a fixed-size scalar).
func ggufScalarSize(t uint32) uint64 {
	switch t {
	case 0, 1, 7: // u8, i8, bool
		return 1
	case 2, 3: // u16, i16
		return 2
	case 4, 5, 6: // u32, i32, f32
		return 4
	case 10, 11, 12: // u64, i64, f64
		return 8
	}
	return 0
}

// value reads a metadata value of type t; it returns integers (and the element count of
// arrays) as n.
func (h *headerReader) value(t uint32, depth int) (n int64, s string, err error) {
	switch t {
	case 8: // string
		s, err = h.str(true)
		return 0, s, err
	case 9: // array
		if depth > 4 {
			return 0, "", fmt.Errorf("%w: arrays nested too deep", errBadHeader)
		}
		et, err := h.u32()
		if err != nil {
			return 0, "", err
		}
		switch {
		case et == 8:
			cnt, err := h.length(8)
			if err != nil {
				return 0, "", err
			}
			for range cnt {
				if _, err := h.str(false); err != nil {
					return 0, "", err
				}
			}
			return int64(cnt), "", nil
		case et == 9:
			cnt, err := h.length(12)
			if err != nil {
				return 0, "", err
			}
			for range cnt {
				if _, _, err := h.value(9, depth+1); err != nil {
					return 0, "", err
				}
			}
			return int64(cnt), "", nil
		case ggufScalarSize(et) > 0:
			cnt, err := h.length(ggufScalarSize(et))
			if err != nil {
				return 0, "", err
			}
			return int64(cnt), "", h.skip(cnt * ggufScalarSize(et))
		}
		return 0, "", fmt.Errorf("%w: array of unknown type %d", errBadHeader, et)
	}
	size := ggufScalarSize(t)
	if size == 0 {
		return 0, "", fmt.Errorf("%w: unknown metadata type %d", errBadHeader, t)
	}
	if _, err := io.ReadFull(h.r, h.buf[:size]); err != nil {
		return 0, "", err
	}
	le := binary.LittleEndian
	switch t {
	case 0, 7:
		n = int64(h.buf[0])
	case 1:
		n = int64(int8(h.buf[0]))
	case 2:
		n = int64(le.Uint16(h.buf[:]))
	case 3:
		n = int64(int16(le.Uint16(h.buf[:])))
	case 4:
		n = int64(le.Uint32(h.buf[:]))
	case 5:
		n = int64(int32(le.Uint32(h.buf[:])))
	case 10, 11:
		n = int64(le.Uint64(h.buf[:]))
	}
	return n, "", nil
}

func peekGGUF(h *headerReader) (modelShape, error) {
	fail := func(err error) (modelShape, error) {
		if errors.Is(err, errBadHeader) {
			return modelShape{}, err
		}
		return modelShape{}, fmt.Errorf("%w: GGUF header: %v", errBadHeader, err)
	}
	version, err := h.u32()
	if err != nil {
		return fail(err)
	}
	if version != 2 && version != 3 {
		return fail(fmt.Errorf("GGUF version %d", version))
	}
	nTensors, err := h.length(24)
	if err != nil {
		return fail(err)
	}
	nKV, err := h.length(12)
	if err != nil {
		return fail(err)
	}
	ints := map[string]int64{}
	arch := ""
	for range nKV {
		key, err := h.str(true)
		if err != nil {
			return fail(err)
		}
		t, err := h.u32()
		if err != nil {
			return fail(err)
		}
		n, s, err := h.value(t, 0)
		if err != nil {
			return fail(err)
		}
		switch {
		case key == "general.architecture":
			arch = s
		case t != 6 && t != 12 && t != 8: // integers, and array lengths
			ints[key] = n
		}
	}
	get := func(k string) int {
		v := ints[arch+"."+k]
		if v < 0 || v > 1<<30 {
			return 0
		}
		return int(v)
	}
	sh := modelShape{
		dim: get("embedding_length"), ffn: get("feed_forward_length"), layers: get("block_count"),
		heads: get("attention.head_count"), kvHeads: get("attention.head_count_kv"),
		headDim: get("attention.key_length"), context: get("context_length"), vocab: get("vocab_size"),
	}
	if sh.vocab == 0 {
		if v := ints["tokenizer.ggml.tokens"]; v > 0 && v <= 1<<30 {
			sh.vocab = int(v)
		}
	}
	if sh.vocab == 0 { // from the shape of token_embd.weight
		for range nTensors {
			name, err := h.str(true)
			if err != nil {
				return fail(err)
			}
			nd, err := h.u32()
			if err != nil || nd > 4 {
				return fail(fmt.Errorf("tensor %q: %d dims (%v)", name, nd, err))
			}
			dims := make([]uint64, nd)
			for i := range dims {
				if dims[i], err = h.u64(); err != nil {
					return fail(err)
				}
			}
			if _, err := h.u32(); err != nil { // type
				return fail(err)
			}
			if _, err := h.u64(); err != nil { // offset
				return fail(err)
			}
			if name == "token_embd.weight" && nd == 2 && dims[1] <= 1<<30 {
				sh.vocab = int(dims[1])
				break
			}
		}
	}
	if sh.layers <= 0 || sh.dim <= 0 {
		return modelShape{}, fmt.Errorf("%w: GGUF metadata has no %s.block_count / embedding_length", errBadHeader, arch)
	}
	return sh, nil
}
