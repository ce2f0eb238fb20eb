package runtime_test

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgerun/edgerun/internal/testmodels"
	"github.com/edgerun/edgerun/loader"
	"github.com/edgerun/edgerun/runtime"
)

// TestModelsThatCannotRun rewrites stories260K with one defect each and checks that
// runtime.Open refuses it with an error naming the file and the problem.
func TestModelsThatCannotRun(t *testing.T) {
	src, err := loader.Open(filepath.Join(testmodels.Dir(t), "stories260K", "stories260K.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	cases := []struct {
		name   string
		edit   func(meta []loader.KV, tensors []*loader.Tensor) ([]loader.KV, []*loader.Tensor)
		errIs  error
		phrase string
	}{
		{"missing tensor", func(m []loader.KV, ts []*loader.Tensor) ([]loader.KV, []*loader.Tensor) {
			var out []*loader.Tensor
			for _, t := range ts {
				if t.Name != "blk.3.ffn_up.weight" {
					out = append(out, t)
				}
			}
			return m, out
		}, loader.ErrMissingTensor, "blk.3.ffn_up.weight"},
		{"wrong shape", func(m []loader.KV, ts []*loader.Tensor) ([]loader.KV, []*loader.Tensor) {
			for i, t := range ts {
				if t.Name == "blk.0.attn_k.weight" {
					c := *t
					c.Shape = []int{16, 64} // half the rows, half the bytes
					c.Data = t.Data[:len(t.Data)/2]
					ts[i] = &c
				}
			}
			return m, ts
		}, runtime.ErrBadModel, "blk.0.attn_k.weight"},
		{"unsupported architecture", func(m []loader.KV, ts []*loader.Tensor) ([]loader.KV, []*loader.Tensor) {
			var out []loader.KV
			for _, kv := range m {
				if strings.HasPrefix(kv.Key, "llama.") {
					kv.Key = "mamba." + strings.TrimPrefix(kv.Key, "llama.")
				}
				if kv.Key == "general.architecture" {
					kv.Value = "mamba"
				}
				out = append(out, kv)
			}
			return out, ts
		}, runtime.ErrBadModel, `architecture "mamba"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var ts []*loader.Tensor
			for _, name := range src.Order {
				ts = append(ts, src.Tensors[name])
			}
			meta, ts := c.edit(src.MetaKVs(), ts)
			path := filepath.Join(t.TempDir(), "broken.gguf")
			if err := loader.WriteGGUF(path, meta, ts); err != nil {
				t.Fatal(err)
			}
			e, err := runtime.Open(path)
			if err == nil {
				e.Close()
				t.Fatal("Open succeeded")
			}
			if !errors.Is(err, c.errIs) || !strings.Contains(err.Error(), "broken.gguf") || !strings.Contains(err.Error(), c.phrase) {
				t.Errorf("error %q: want %v naming broken.gguf and %q", err, c.errIs, c.phrase)
			}
		})
	}
}
