package loader

import (
	"bytes"
	"path/filepath"
	"testing"

	"github.com/edgerun/edgerun/internal/testmodels"
)

// TestOpenWithoutMmap checks that reading the weights into memory gives the same
// checkpoint as mapping the file, for GGUF, llama2.c and HF directories.
func TestOpenWithoutMmap(t *testing.T) {
	dir := filepath.Join(testmodels.Dir(t), "stories260K")
	for _, p := range []string{"stories260K.gguf", "stories260K.bin", "hf"} {
		path := filepath.Join(dir, p)
		mapped, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		inRAM, err := Open(path, WithoutMmap())
		if err != nil {
			t.Fatal(err)
		}
		if len(mapped.Tensors) == 0 || len(mapped.Tensors) != len(inRAM.Tensors) {
			t.Fatalf("%s: %d tensors mapped, %d read", p, len(mapped.Tensors), len(inRAM.Tensors))
		}
		for name, a := range mapped.Tensors {
			b := inRAM.Tensors[name]
			if b == nil || a.Type != b.Type || !bytes.Equal(a.Data, b.Data) {
				t.Fatalf("%s: tensor %s differs between the mapped and the read checkpoint", p, name)
			}
		}
		if err := mapped.Close(); err != nil {
			t.Fatal(err)
		}
		if err := inRAM.Close(); err != nil {
			t.Fatal(err)
		}
	}
}
