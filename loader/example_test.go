package loader_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/edgerun/edgerun/int4"
	"github.com/edgerun/edgerun/loader"
)

// Write a tiny GGUF file and read it back.
func ExampleWriteGGUF() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "tiny.gguf")
	meta := []loader.KV{
		{Key: "general.architecture", Value: "llama"},
		{Key: "llama.embedding_length", Value: uint32(4)},
	}
	w := &loader.Tensor{Name: "output_norm.weight", Type: int4.F32, Shape: []int{4}, Data: make([]byte, 16)}
	if err := loader.WriteGGUF(path, meta, []*loader.Tensor{w}); err != nil {
		fmt.Println(err)
		return
	}
	c, err := loader.Open(path)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	t, _ := c.Tensor("output_norm.weight")
	fmt.Println(c.Format, c.Config.Arch, c.Config.Dim, t.Type, t.Shape)
	_, err = c.Tensor("token_embd.weight")
	fmt.Println(err != nil)
	// Output:
	// gguf llama 4 F32 [4]
	// true
}
