package runtime

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgerun/edgerun/internal/testmodels"
	"github.com/edgerun/edgerun/loader"
)

func stories260KPath(t *testing.T, name string) string {
	return filepath.Join(testmodels.Dir(t), "stories260K", name)
}

func TestEstimateMemoryStories260K(t *testing.T) {
	// stories260K: 5 layers, 4 KV heads of 8 dims: one position's keys and values take
	// 2 × 5 × 32 × 4 bytes. The llama2.c header says 512 positions, the GGUF 2048.
	const perPos = 2 * 5 * 32 * 4
	for _, tc := range []struct {
		file string
		opts []Option
		ctx  int
	}{
		{"stories260K.bin", nil, 512},
		{"stories260K.gguf", nil, 2048},
		{"stories260K.gguf", []Option{WithContext(64)}, 64},
		{"stories260K.bin", []Option{WithContext(4096)}, 512}, // never above the model's
	} {
		path := stories260KPath(t, tc.file)
		est, err := EstimateMemory(path, tc.opts...)
		if err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if est.Context != tc.ctx || est.KVCache != int64(tc.ctx*perPos) || est.Weights != fi.Size() {
			t.Errorf("%s %d opts: %+v, want context %d, KV %d, weights %d", tc.file, len(tc.opts), est, tc.ctx, tc.ctx*perPos, fi.Size())
		}
		if est.Activations <= 0 || est.Total != est.Weights+est.KVCache+est.Activations {
			t.Errorf("%s: bad activations or total: %+v", tc.file, est)
		}
		if tc.ctx > 64 {
			continue // filling 2048 positions is slow; one small context shows it
		}
		// The estimate must cover what a session really allocates at full context.
		e, err := Open(path, append(tc.opts, WithThreads(1))...)
		if err != nil {
			t.Fatal(err)
		}
		s := e.NewSession()
		ids := make([]int, s.KVCache().Context())
		for i := range ids {
			ids[i] = 1 + i%100
		}
		if _, err := s.Eval(ids); err != nil {
			t.Fatal(err)
		}
		if got := s.KVCache().Bytes(); got != est.KVCache {
			t.Errorf("%s: full KV cache holds %d bytes, estimate %d", tc.file, got, est.KVCache)
		}
		e.Close()
	}
}

// hugeHeader writes a GGUF file that has only metadata: a model that claims 4000
// layers and a million positions (a KV cache of petabytes), and no tensors at all.
func hugeHeader(t *testing.T) string {
	path := filepath.Join(t.TempDir(), "huge.gguf")
	meta := []loader.KV{
		{Key: "general.architecture", Value: "llama"},
		{Key: "llama.block_count", Value: uint32(4000)},
		{Key: "llama.embedding_length", Value: uint32(8192)},
		{Key: "llama.feed_forward_length", Value: uint32(28672)},
		{Key: "llama.attention.head_count", Value: uint32(64)},
		{Key: "llama.attention.head_count_kv", Value: uint32(8)},
		{Key: "llama.context_length", Value: uint32(1 << 20)},
		{Key: "tokenizer.ggml.tokens", Value: []string{"a", "b", "c"}},
	}
	if err := loader.WriteGGUF(path, meta, nil); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestOpenRefusesBeforeMapping(t *testing.T) {
	if _, _, ok := AvailableMemory(); !ok {
		t.Skip("this system reports no available memory; the check is skipped")
	}
	path := hugeHeader(t)
	_, err := Open(path)
	if !errors.Is(err, ErrInsufficientMemory) {
		t.Fatalf("Open(huge) = %v, want ErrInsufficientMemory", err)
	}
	// The file has no tensors: had it been loaded, the error would be a missing tensor.
	for _, want := range []string{path, "needs", "KV cache", "1048576 positions", "available", "MemAvailable"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	// Without the check, the loader is what fails.
	if _, err := Open(path, WithMemoryCheck(false)); err == nil || errors.Is(err, ErrInsufficientMemory) {
		t.Fatalf("Open(huge, no check) = %v, want the loader's error", err)
	}
}

func TestMemoryLimit(t *testing.T) {
	path := stories260KPath(t, "stories260K.bin")
	_, err := Open(path, WithMemoryLimit(100<<10))
	if !errors.Is(err, ErrInsufficientMemory) || !strings.Contains(err.Error(), "100.0 KiB is available (the limit set with WithMemoryLimit)") {
		t.Fatalf("Open with a 100 KiB budget = %v, want ErrInsufficientMemory naming the limit", err)
	}
	e, err := Open(path, WithMemoryLimit(64<<20))
	if err != nil {
		t.Fatalf("Open with a 64 MiB budget: %v", err)
	}
	e.Close()
}

func TestParseMeminfo(t *testing.T) {
	n, ok := parseMeminfo("MemTotal:       24684092 kB\nMemFree:        24042952 kB\nMemAvailable:   1000 kB\n")
	if !ok || n != 1000*1024 {
		t.Errorf("parseMeminfo = %d, %v", n, ok)
	}
	for _, bad := range []string{"", "MemTotal: 5 kB\n", "MemAvailable:\n", "MemAvailable: x kB\n", "MemAvailable: -5 kB\n"} {
		if _, ok := parseMeminfo(bad); ok {
			t.Errorf("parseMeminfo(%q) accepted", bad)
		}
	}
	if avail, src, ok := AvailableMemory(); ok && (avail <= 0 || src == "") {
		t.Errorf("AvailableMemory = %d, %q", avail, src)
	}
}

func TestMlock(t *testing.T) {
	e, err := Open(stories260KPath(t, "stories260K.gguf"), WithMlock(true), WithThreads(1))
	if err != nil {
		// Not permitted here (no CAP_IPC_LOCK, small RLIMIT_MEMLOCK) or no mlock: the
		// error must say so.
		if !errors.Is(err, ErrMlock) || !strings.Contains(err.Error(), "--mlock") {
			t.Fatalf("Open(WithMlock) = %v, want nil or ErrMlock", err)
		}
		t.Logf("mlock not permitted: %v", err)
		return
	}
	defer e.Close()
	res, err := e.NewSession().Generate(context.Background(), "Once upon a time", GenerateOptions{MaxTokens: 4}, nil)
	if err != nil || len(res.Tokens) != 4 {
		t.Fatalf("generate on a locked model: %v, %v", res, err)
	}
}

func TestMlockError(t *testing.T) {
	err := mlockError("m.gguf", 3<<20, errors.New("cannot allocate memory"), "8388608 bytes")
	for _, want := range []string{"m.gguf", "--mlock", "3.0 MiB", "cannot allocate memory", "8388608 bytes", "ulimit -l", "CAP_IPC_LOCK"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q does not mention %q", err, want)
		}
	}
	if !errors.Is(err, ErrMlock) {
		t.Error("not ErrMlock")
	}
}

func FuzzPeekShape(f *testing.F) {
	dir := f.TempDir()
	for i, meta := range [][]loader.KV{
		{{Key: "general.architecture", Value: "llama"}, {Key: "llama.block_count", Value: uint32(2)}, {Key: "llama.embedding_length", Value: uint32(16)}},
		{{Key: "general.architecture", Value: "qwen2"}, {Key: "qwen2.block_count", Value: uint64(1)}, {Key: "qwen2.embedding_length", Value: int32(8)},
			{Key: "x.f", Value: float32(1)}, {Key: "x.arr", Value: []uint16{1, 2}}, {Key: "tokenizer.ggml.tokens", Value: []string{"a", "bc"}}},
	} {
		p := filepath.Join(dir, "seed.gguf")
		if err := loader.WriteGGUF(p, meta, nil); err != nil {
			f.Fatal(err)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, i == 1)
	}
	f.Add([]byte{64, 0, 0, 0, 172, 0, 0, 0, 5, 0, 0, 0, 8, 0, 0, 0, 4, 0, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0}, true)
	f.Fuzz(func(t *testing.T, data []byte, llama2c bool) {
		sh, err := peekShape(bytes.NewReader(data), int64(len(data)), llama2c)
		if err != nil {
			return
		}
		for _, v := range []int{sh.dim, sh.ffn, sh.layers, sh.heads, sh.kvHeads, sh.headDim, sh.vocab, sh.context} {
			if v < 0 || v > 1<<30 {
				t.Fatalf("shape field %d out of range: %+v", v, sh)
			}
		}
		_ = estimateShape(sh, int64(len(data)), options{})
	})
}
