// Package loader reads model files into a Checkpoint: the model configuration, named
// tensors that are zero-copy views into a memory map of the file, and tokenizer data.
// One file per format: gguf.go, llama2c.go (and later safetensors, bnb, hf, peft).
//
// Tensor names follow GGUF's llama conventions whatever the source format
// ("token_embd.weight", "blk.N.attn_q.weight", ...), and shapes are outermost-first
// (a PyTorch [out, in] weight has Shape [out, in]; in GGUF dims that is [in, out]).
package loader

import (
	"github.com/edgerun/edgerun/int4"
	"github.com/edgerun/edgerun/tokenizer"
)

// Tensor is one named weight. Data is a view into the checkpoint's memory map (or, for
// tensors a loader had to convert, a heap buffer) and must not be written.
type Tensor struct {
	Name  string
	Type  int4.Type
	Shape []int // outermost first; the last dimension is contiguous
	Data  []byte
}

// Elems returns the number of elements of t.
func (t *Tensor) Elems() int {
	n := 1
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// Rows returns the product of all but the last dimension (1 for a vector).
func (t *Tensor) Rows() int {
	if len(t.Shape) == 0 {
		return 1
	}
	return t.Elems() / t.Cols()
}

// Cols returns the last (contiguous) dimension.
func (t *Tensor) Cols() int {
	if len(t.Shape) == 0 {
		return 1
	}
	return t.Shape[len(t.Shape)-1]
}

// Config holds the hyper-parameters of a LLaMA-family model.
type Config struct {
	Arch      string // "llama", "qwen2", ...
	Dim       int    // embedding / hidden size
	FFN       int    // feed-forward (intermediate) size
	Layers    int
	Heads     int
	KVHeads   int
	HeadDim   int // per-head size (Dim/Heads unless the file says otherwise)
	RopeDim   int // rotated dimensions per head (HeadDim unless the file says otherwise)
	Vocab     int
	Context   int     // trained context length
	RMSEps    float32 // RMSNorm epsilon
	RopeBase  float32 // RoPE frequency base (theta)
	RopeScale float32 // linear RoPE scaling factor (1 = none): positions are divided by it
	// RopeNeox selects rotate-half pairing (x[i], x[i+d/2]) instead of adjacent pairs
	// (x[2i], x[2i+1]). GGUF "llama" and llama2.c use adjacent pairs; HF checkpoints and
	// GGUF qwen2 use rotate-half.
	RopeNeox bool
	// Tied is true when the output projection is the token embedding.
	Tied bool
}

// Checkpoint is a loaded model file.
type Checkpoint struct {
	Path   string
	Format string // "gguf", "llama2c", ...
	// FormatVersion is the container version (GGUF 2 or 3; 0 for llama2.c's legacy format).
	FormatVersion int
	Config        Config
	Tensors       map[string]*Tensor
	Order         []string // tensor names in file order
	// Vocab is the tokenizer data found in or beside the file (nil when none).
	Vocab *tokenizer.Vocab
	// Meta holds the file's metadata key/values (GGUF KV pairs), for inspection.
	Meta map[string]any
	// MetaKeys lists Meta's keys in file order.
	MetaKeys []string

	closer func() error
}

// Close releases the memory map. Tensors must not be used afterwards.
func (c *Checkpoint) Close() error {
	if c == nil || c.closer == nil {
		return nil
	}
	err := c.closer()
	c.closer = nil
	return err
}

// WeightBytes returns the total byte size of all tensors.
func (c *Checkpoint) WeightBytes() int64 {
	var n int64
	for _, t := range c.Tensors {
		n += int64(len(t.Data))
	}
	return n
}

// Tensor returns the tensor called name, or an error matching ErrMissingTensor that
// names the file and the tensor.
func (c *Checkpoint) Tensor(name string) (*Tensor, error) {
	if t, ok := c.Tensors[name]; ok {
		return t, nil
	}
	return nil, errorf(c.Path, ErrMissingTensor, "tensor %q not found", name)
}

// MetaKVs returns the metadata as key/value pairs in file order, ready to be written
// back with WriteGGUF.
func (c *Checkpoint) MetaKVs() []KV {
	kvs := make([]KV, 0, len(c.MetaKeys))
	for _, k := range c.MetaKeys {
		kvs = append(kvs, KV{Key: k, Value: c.Meta[k]})
	}
	return kvs
}
