package loader

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/edgerun/edgerun/int4"
	"github.com/edgerun/edgerun/internal/testmodels"
	"github.com/edgerun/edgerun/tokenizer"
)

// copyHFDir copies the files of the HF directory src into a new temporary directory,
// then writes the files in extra over them.
func copyHFDir(t *testing.T, src string, extra map[string]string) string {
	t.Helper()
	dst := t.TempDir()
	ents, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if e.IsDir() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for name, body := range extra {
		if err := os.WriteFile(filepath.Join(dst, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

func TestHFSeveralEOSIDs(t *testing.T) {
	src := filepath.Join(testmodels.Dir(t), "stories260K", "hf")
	// Three ids, as Llama 3.1 lists them; tokenizer_config.json's eos_token is </s> (2).
	dir := copyHFDir(t, src, map[string]string{"generation_config.json": `{"eos_token_id": [3, 5, 7], "do_sample": false}`})
	c, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	v := c.Vocab
	if v.EOS != 3 || v.EOT != 5 || !slices.Equal(v.EOG, []int{7, 2}) {
		t.Fatalf("EOS %d EOT %d EOG %v, want 3 5 [7 2]", v.EOS, v.EOT, v.EOG)
	}
	tk, err := tokenizer.New(v)
	if err != nil {
		t.Fatal(err)
	}
	for id := range 10 {
		want := id == 2 || id == 3 || id == 5 || id == 7
		if got := tk.IsEOG(id); got != want {
			t.Errorf("IsEOG(%d) = %v, want %v", id, got, want)
		}
	}

	// A single id equal to tokenizer_config's leaves no extra ids.
	dir = copyHFDir(t, src, map[string]string{"generation_config.json": `{"eos_token_id": 2}`})
	c2, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if c2.Vocab.EOS != 2 || len(c2.Vocab.EOG) != 0 {
		t.Errorf("single id: EOS %d EOG %v", c2.Vocab.EOS, c2.Vocab.EOG)
	}

	// An EOG id outside the vocabulary is refused by tokenizer.New.
	bad := *v
	bad.EOG = []int{len(v.Tokens)}
	if _, err := tokenizer.New(&bad); err == nil {
		t.Error("EOG id outside the vocabulary accepted")
	}
}

// TestGGUFKeepsEOG checks that the extra end-of-generation ids of an HF checkpoint
// survive conversion to GGUF: the first as llama.cpp's eom_token_id, all of them under
// edgerun's own key, read back into Vocab.EOG.
func TestGGUFKeepsEOG(t *testing.T) {
	src := filepath.Join(testmodels.Dir(t), "stories260K", "hf")
	dir := copyHFDir(t, src, map[string]string{"generation_config.json": `{"eos_token_id": [3, 5, 7, 9]}`})
	c, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	out := filepath.Join(t.TempDir(), "m.gguf")
	if err := WriteGGUFQuantized(out, c, GGUFQuantizeOptions{Type: int4.F32}); err != nil {
		t.Fatal(err)
	}
	g, err := Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if eom, _, _ := g.metaInt64("tokenizer.ggml.eom_token_id"); eom != int64(c.Vocab.EOG[0]) {
		t.Errorf("eom_token_id %d, want %d", eom, c.Vocab.EOG[0])
	}
	if v := g.Vocab; v.EOS != c.Vocab.EOS || v.EOT != c.Vocab.EOT || !slices.Equal(v.EOG, c.Vocab.EOG) {
		t.Fatalf("GGUF: EOS %d EOT %d EOG %v; HF: EOS %d EOT %d EOG %v", v.EOS, v.EOT, v.EOG, c.Vocab.EOS, c.Vocab.EOT, c.Vocab.EOG)
	}
}
