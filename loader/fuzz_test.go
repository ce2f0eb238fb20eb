package loader

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgerun/edgerun/int4"
)

// sentinels are the errors every parse failure must match.
var sentinels = []error{ErrBadMagic, ErrTruncated, ErrUnsupported, ErrCorrupt}

func checkParseError(t *testing.T, err error, name string) {
	t.Helper()
	for _, s := range sentinels {
		if errors.Is(err, s) {
			if !strings.Contains(err.Error(), name) {
				t.Fatalf("error %q does not name %s", err, name)
			}
			return
		}
	}
	t.Fatalf("error %q matches no sentinel", err)
}

func FuzzGGUF(f *testing.F) {
	for _, s := range ggufSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := parseGGUF("fuzz.gguf", data)
		if err != nil {
			checkParseError(t, err, "fuzz.gguf")
			return
		}
		var tensors []*Tensor
		for _, name := range c.Order {
			tt := c.Tensors[name]
			n, err := int4.RowBytes(tt.Type, tt.Cols())
			if err != nil || n*tt.Rows() != len(tt.Data) {
				t.Fatalf("tensor %s: %v %v has %d bytes (%v)", name, tt.Type, tt.Shape, len(tt.Data), err)
			}
			tensors = append(tensors, tt)
		}
		// Whatever was read can be written, and writing is a fixed point.
		b1, err := encodeGGUF(c.MetaKVs(), tensors)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		c2, err := parseGGUF("fuzz2.gguf", b1)
		if err != nil {
			t.Fatalf("re-parse: %v", err)
		}
		tensors = tensors[:0]
		for _, name := range c2.Order {
			tensors = append(tensors, c2.Tensors[name])
		}
		b2, err := encodeGGUF(c2.MetaKVs(), tensors)
		if err != nil || !bytes.Equal(b1, b2) {
			t.Fatalf("second encode differs (%v)", err)
		}
		if c2.Config != c.Config {
			t.Fatalf("config changed: %+v vs %+v", c.Config, c2.Config)
		}
	})
}

func FuzzLlama2c(f *testing.F) {
	for _, s := range llama2cSeeds() {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, model, tok []byte) {
		c, err := parseLlama2c("fuzz.bin", model)
		if err != nil {
			checkParseError(t, err, "fuzz.bin")
		} else {
			total := 0
			for _, tt := range c.Tensors {
				if len(tt.Data) != 4*tt.Elems() {
					t.Fatalf("tensor %s: %d bytes for %v", tt.Name, len(tt.Data), tt.Shape)
				}
				total += len(tt.Data)
			}
			if total > len(model) {
				t.Fatalf("tensors hold %d bytes of a %d-byte file", total, len(model))
			}
		}
		n := 512
		if c != nil {
			n = c.Config.Vocab
		}
		v, err := parseLlama2cTokenizer("fuzz-tok.bin", tok, n)
		if err != nil {
			checkParseError(t, err, "fuzz-tok.bin")
			return
		}
		if len(v.Tokens) != n || len(v.Scores) != n || len(v.Types) != n {
			t.Fatalf("vocab of %d/%d/%d for %d tokens", len(v.Tokens), len(v.Scores), len(v.Types), n)
		}
	})
}

// ggufSeeds returns small valid and damaged GGUF files.
func ggufSeeds() [][]byte {
	full, err := encodeGGUF(allKindsMeta(), smallTensors())
	if err != nil {
		panic(err)
	}
	small := smallGGUF().bytes()
	v2 := bytes.Clone(small)
	v2[4] = 2
	q := &rawGGUF{
		kvs: []rawKV{kv("general.alignment", uint32(64)), kv("general.architecture", "qwen2"), kv("qwen2.attention.head_count", uint32(2))},
		tensors: []rawTensor{
			{name: "q", dims: []uint64{32, 2}, typ: uint32(int4.Q4_0), offset: 0},
			{name: "k", dims: []uint64{256}, typ: uint32(int4.Q4_K), offset: 64},
		},
		align: 64,
		data:  make([]byte, 64+144),
	}
	seeds := [][]byte{full, small, v2, q.bytes(), {}, []byte("GGUF")}
	for _, n := range []int{8, 24, 40, 100, len(full) / 2, len(full) - 10} {
		seeds = append(seeds, full[:n])
	}
	return seeds
}

// llama2cSeeds returns (model, tokenizer) pairs.
func llama2cSeeds() [][2][]byte {
	pieces := make([]string, 4)
	scores := make([]float32, 4)
	for i := range pieces {
		pieces[i] = fmt.Sprintf(" p%d", i)
		scores[i] = float32(-i)
	}
	tok := llama2cTokenizer(pieces, scores)
	shared := llama2cModel(4, 4, 2, 2, 1, 4, 1, true)
	sep := llama2cModel(4, 4, 1, 2, 1, 4, 1, false)
	return [][2][]byte{
		{shared, tok}, {sep, tok}, {shared[:40], tok[:30]}, {nil, nil}, {shared[:28], tok[:4]}, {sep[:len(sep)-4], tok[:len(tok)-1]},
	}
}

// TestWriteFuzzSeeds regenerates the committed seed corpus under testdata/fuzz when
// EDGERUN_WRITE_SEEDS=1.
func TestWriteFuzzSeeds(t *testing.T) {
	if os.Getenv("EDGERUN_WRITE_SEEDS") != "1" {
		t.Skip("set EDGERUN_WRITE_SEEDS=1 to regenerate testdata/fuzz seeds")
	}
	write := func(fuzz, name string, args ...[]byte) {
		dir := filepath.Join("testdata", "fuzz", fuzz)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		b.WriteString("go test fuzz v1\n")
		for _, a := range args {
			fmt.Fprintf(&b, "[]byte(%q)\n", a)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for i, s := range ggufSeeds() {
		write("FuzzGGUF", fmt.Sprintf("seed-%02d", i), s)
	}
	for i, s := range llama2cSeeds() {
		write("FuzzLlama2c", fmt.Sprintf("seed-%02d", i), s[0], s[1])
	}
}
