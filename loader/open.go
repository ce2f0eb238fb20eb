package loader

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Option configures Open.
type Option func(*options)

type options struct {
	tokenizer string
	inRAM     bool
}

// WithoutMmap reads the weights into memory instead of mapping the file (llama.cpp's
// --no-mmap): the process then owns anonymous pages that the kernel cannot drop and
// re-read under memory pressure, and on some systems they stream faster than the page
// cache (see bench). It costs the load time of reading the whole file, and processes
// no longer share one copy of the weights.
func WithoutMmap() Option {
	return func(o *options) { o.inRAM = true }
}

// WithTokenizer names the tokenizer file for formats that keep it outside the model
// (llama2.c's tokenizer.bin). Without it, Open looks beside the model for
// tok<vocab>.bin, then tokenizer.bin, and leaves Vocab nil when neither exists.
func WithTokenizer(path string) Option {
	return func(o *options) { o.tokenizer = path }
}

// Open loads the checkpoint at path, detecting the format: GGUF by its magic, llama2.c
// by the .bin extension, a Hugging Face model directory (config.json + safetensors,
// possibly sharded, possibly bitsandbytes 4-bit) when path is a directory or its
// model.safetensors, and a lone .safetensors file as raw tensors without a
// configuration. Tensors are zero-copy views into a read-only memory map of the file
// (bitsandbytes weights are repacked to heap buffers); Close the checkpoint to release it. Errors match the package's sentinel errors
// (ErrBadMagic, ErrTruncated, ErrCorrupt, ErrUnsupported, ErrNotFound) and name the file.
func Open(path string, opts ...Option) (*Checkpoint, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	fi, err := os.Stat(path)
	if err != nil {
		if os.IsNotExist(err) {
			return nil, wrapf(path, ErrNotFound, err, "cannot open")
		}
		return nil, fmt.Errorf("loader: %s: %w", path, err)
	}
	if fi.IsDir() {
		return openHF(path, o.inRAM)
	}
	if strings.EqualFold(filepath.Ext(path), ".safetensors") {
		// A model.safetensors beside its config.json is the directory's checkpoint.
		if _, err := os.Stat(filepath.Join(filepath.Dir(path), "config.json")); err == nil && isHFWeightFile(path) {
			return openHF(filepath.Dir(path), o.inRAM)
		}
	}
	data, unmap, err := mapFile(path, o.inRAM)
	if err != nil {
		return nil, err
	}
	ext := strings.ToLower(filepath.Ext(path))
	var c *Checkpoint
	switch {
	case len(data) >= 4 && string(data[:4]) == ggufMagic, ext == ".gguf":
		c, err = parseGGUF(path, data)
	case ext == ".bin":
		c, err = parseLlama2c(path, data)
		if err == nil {
			if tok := findLlama2cTokenizer(path, o.tokenizer, c.Config.Vocab); tok != "" {
				c.Vocab, err = loadLlama2cTokenizer(tok, c.Config.Vocab)
			}
		}
	case ext == ".safetensors":
		c, err = parseSafetensorsFile(path, data)
	default:
		err = errorf(path, ErrBadMagic, "unknown format: not GGUF (no %q magic) and not a llama2.c .bin checkpoint", ggufMagic)
	}
	if err != nil {
		unmap()
		return nil, err
	}
	c.closer = unmap
	return c, nil
}

// isHFWeightFile reports whether path is named like a (sharded) HF model weight file.
func isHFWeightFile(path string) bool {
	b := filepath.Base(path)
	return b == "model.safetensors" || strings.HasPrefix(b, "model-")
}
