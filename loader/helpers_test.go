package loader

import (
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgerun/edgerun/int4"
)

// rawGGUF builds GGUF bytes field by field, with no validation, so tests can make
// files the writer refuses to produce.
type rawGGUF struct {
	version  uint32
	kvs      []rawKV
	tensors  []rawTensor
	align    uint64 // padding before the data section (default 32)
	data     []byte // the data section
	tensorN  *uint64
	kvN      *uint64
	noPadEnd bool
}

type rawKV struct {
	key string
	typ ggufType
	val []byte // encoded value (after the type)
}

type rawTensor struct {
	name   string
	dims   []uint64
	typ    uint32
	offset uint64
}

func (g *rawGGUF) bytes() []byte {
	le := binary.LittleEndian
	var b []byte
	b = append(b, "GGUF"...)
	v := g.version
	if v == 0 {
		v = 3
	}
	b = le.AppendUint32(b, v)
	nt, nk := uint64(len(g.tensors)), uint64(len(g.kvs))
	if g.tensorN != nil {
		nt = *g.tensorN
	}
	if g.kvN != nil {
		nk = *g.kvN
	}
	b = le.AppendUint64(b, nt)
	b = le.AppendUint64(b, nk)
	for _, kv := range g.kvs {
		b = appendString(b, kv.key)
		b = le.AppendUint32(b, uint32(kv.typ))
		b = append(b, kv.val...)
	}
	for _, t := range g.tensors {
		b = appendString(b, t.name)
		b = le.AppendUint32(b, uint32(len(t.dims)))
		for _, d := range t.dims {
			b = le.AppendUint64(b, d)
		}
		b = le.AppendUint32(b, t.typ)
		b = le.AppendUint64(b, t.offset)
	}
	align := g.align
	if align == 0 {
		align = 32
	}
	for uint64(len(b))%align != 0 {
		b = append(b, 0)
	}
	return append(b, g.data...)
}

// kv encodes a typed Go value as a raw KV with the writer's encoder.
func kv(key string, v any) rawKV {
	t, err := valueType(v)
	if err != nil {
		panic(err)
	}
	return rawKV{key: key, typ: t, val: appendValue(nil, v)}
}

// f32s returns n float32s i*scale+off as little-endian bytes.
func f32s(n int, scale, off float32) []byte {
	b := make([]byte, 0, 4*n)
	for i := 0; i < n; i++ {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(float32(i)*scale+off))
	}
	return b
}

// smallGGUF returns a valid raw GGUF with two F32 tensors "a" [2,4] and "b" [8].
func smallGGUF() *rawGGUF {
	return &rawGGUF{
		kvs: []rawKV{
			kv("general.architecture", "llama"),
			kv("llama.embedding_length", uint32(8)),
			kv("tokenizer.ggml.tokens", []string{"<unk>", "<s>", "</s>", "a"}),
		},
		tensors: []rawTensor{
			{name: "a", dims: []uint64{4, 2}, typ: 0, offset: 0},
			{name: "b", dims: []uint64{8}, typ: 0, offset: 32},
		},
		data: f32s(16, 1, 0),
	}
}

// smallTensors returns tensors of several types with deterministic contents.
func smallTensors() []*Tensor {
	mk := func(name string, typ int4.Type, shape ...int) *Tensor {
		t := &Tensor{Name: name, Type: typ, Shape: shape}
		n, err := int4.RowBytes(typ, t.Cols())
		if err != nil {
			panic(err)
		}
		t.Data = make([]byte, n*t.Rows())
		for i := range t.Data {
			t.Data[i] = byte(i*7 + len(name))
		}
		return t
	}
	return []*Tensor{
		mk("token_embd.weight", int4.F32, 6, 4),
		mk("blk.0.attn_q.weight", int4.F16, 3, 5),
		mk("blk.0.ffn_up.weight", int4.Q4_0, 2, 64),
		mk("blk.0.ffn_down.weight", int4.Q8_0, 1, 32),
		mk("blk.0.ffn_gate.weight", int4.Q4_K, 2, 256),
		mk("output.weight", int4.Q6_K, 1, 256),
		mk("x.bf16", int4.BF16, 3),
		mk("x.iq4nl", int4.IQ4_NL, 2, 1, 32),
		mk("x.q41", int4.Q4_1, 1, 1, 1, 32),
	}
}

// allKindsMeta returns metadata with one value of every GGUF type.
func allKindsMeta() []KV {
	return []KV{
		{"general.architecture", "llama"},
		{"general.name", "tiny ✓"},
		{"llama.embedding_length", uint32(4)},
		{"llama.block_count", uint64(1)},
		{"llama.attention.head_count", int32(2)},
		{"llama.feed_forward_length", uint16(8)},
		{"llama.context_length", int64(16)},
		{"llama.rope.freq_base", float64(500000)},
		{"llama.attention.layer_norm_rms_epsilon", float32(1e-6)},
		{"x.u8", uint8(200)},
		{"x.i8", int8(-5)},
		{"x.i16", int16(-300)},
		{"x.bool", true},
		{"x.empty", ""},
		{"x.arr.u8", []uint8{1, 2, 3}},
		{"x.arr.i8", []int8{-1, 2}},
		{"x.arr.u16", []uint16{1, 65535}},
		{"x.arr.i16", []int16{-1, 2}},
		{"x.arr.u32", []uint32{7}},
		{"x.arr.i32", []int32{-7, 8}},
		{"x.arr.f32", []float32{0.5, -1}},
		{"x.arr.bool", []bool{true, false, true}},
		{"x.arr.u64", []uint64{1 << 40}},
		{"x.arr.i64", []int64{-1 << 40}},
		{"x.arr.f64", []float64{3.25}},
		{"x.arr.str", []string{"a", "", "▁b"}},
		{"x.arr.empty", []string{}},
		{"x.arr.nested", []any{[]int32{1, 2}, []string{"x"}, []any{[]uint8{9}}, []float32{}}},
		{"tokenizer.ggml.model", "gpt2"},
		{"tokenizer.ggml.pre", "llama-bpe"},
		{"tokenizer.ggml.tokens", []string{"a", "b", "ab", "<|eot|>"}},
		{"tokenizer.ggml.merges", []string{"a b"}},
		{"tokenizer.ggml.eot_token_id", uint32(3)},
	}
}

// writeTemp writes data to a file called name in a fresh temporary directory.
func writeTemp(t testing.TB, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// wantErr checks that err matches kind and names the file.
func wantErr(t testing.TB, err, kind error, file string, contains ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: got no error, want %v", file, kind)
	}
	if !errors.Is(err, kind) {
		t.Fatalf("%s: error %q does not match %v", file, err, kind)
	}
	if !strings.Contains(err.Error(), filepath.Base(file)) {
		t.Fatalf("error %q does not name the file %s", err, file)
	}
	for _, s := range contains {
		if !strings.Contains(err.Error(), s) {
			t.Fatalf("error %q does not contain %q", err, s)
		}
	}
}
