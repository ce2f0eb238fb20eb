package main

import (
	"encoding/json"
	"fmt"
	"io"
	"reflect"

	"github.com/edgerun/edgerun/loader"
	"github.com/edgerun/edgerun/runtime"
)

func cmdInspect(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("inspect", stderr)
	asJSON := fs.Bool("json", false, "print JSON")
	meta := fs.Bool("meta", false, "also print the file's metadata key/values (long arrays abbreviated)")
	tokPath := fs.String("tokenizer", "", "separate tokenizer file (llama2.c tokenizer.bin)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: edgerun inspect [-json] [-meta] MODEL")
		fs.PrintDefaults()
	}
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return errUsage
	}
	var ck *loader.Checkpoint
	var err error
	if fs.Arg(0) == runtime.DemoName {
		ck = runtime.DemoCheckpoint()
	} else {
		var opts []loader.Option
		if *tokPath != "" {
			opts = append(opts, loader.WithTokenizer(*tokPath))
		}
		if ck, err = loader.Open(fs.Arg(0), opts...); err != nil {
			return err
		}
	}
	defer ck.Close()
	info := describe(ck, *meta)
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(info)
	}
	printInfo(stdout, info)
	return nil
}

type tensorInfo struct {
	Name  string `json:"name"`
	Shape []int  `json:"shape"`
	Type  string `json:"type"`
	Bytes int    `json:"bytes"`
}

type modelInfo struct {
	Path         string         `json:"path"`
	Format       string         `json:"format"`
	Config       loader.Config  `json:"config"`
	Params       int64          `json:"params"`
	WeightBytes  int64          `json:"weight_bytes"`
	Tokenizer    *tokenizerInfo `json:"tokenizer,omitempty"`
	Tensors      []tensorInfo   `json:"tensors"`
	TypeCounts   map[string]int `json:"type_counts"`
	Meta         map[string]any `json:"metadata,omitempty"`
	metaKeyOrder []string
}

type tokenizerInfo struct {
	Model  string `json:"model"`
	Pre    string `json:"pre,omitempty"`
	Tokens int    `json:"tokens"`
	Merges int    `json:"merges"`
	BOS    int    `json:"bos"`
	EOS    int    `json:"eos"`
	AddBOS bool   `json:"add_bos"`
}

func describe(ck *loader.Checkpoint, withMeta bool) *modelInfo {
	info := &modelInfo{Path: ck.Path, Format: ck.Format, Config: ck.Config, WeightBytes: ck.WeightBytes(), TypeCounts: map[string]int{}}
	for _, name := range ck.Order {
		t := ck.Tensors[name]
		info.Tensors = append(info.Tensors, tensorInfo{name, t.Shape, t.Type.String(), len(t.Data)})
		info.Params += int64(t.Elems())
		info.TypeCounts[t.Type.String()]++
	}
	if v := ck.Vocab; v != nil {
		info.Tokenizer = &tokenizerInfo{Model: v.Model, Pre: v.Pre, Tokens: len(v.Tokens), Merges: len(v.Merges), BOS: v.BOS, EOS: v.EOS, AddBOS: v.AddBOS}
	}
	if withMeta {
		info.Meta = map[string]any{}
		for _, k := range ck.MetaKeys {
			info.Meta[k] = abbreviate(ck.Meta[k])
		}
		info.metaKeyOrder = ck.MetaKeys
	}
	return info
}

// abbreviate shortens long arrays (token lists) to their first few elements.
func abbreviate(v any) any {
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Slice && rv.Len() > 8 {
		return fmt.Sprintf("%v … (%d elements)", rv.Slice(0, 8).Interface(), rv.Len())
	}
	return v
}

func printInfo(w io.Writer, info *modelInfo) {
	c := info.Config
	fmt.Fprintf(w, "file:          %s (%s)\n", info.Path, info.Format)
	fmt.Fprintf(w, "architecture:  %s\n", c.Arch)
	fmt.Fprintf(w, "dim %d, ffn %d, layers %d, heads %d, kv heads %d, head dim %d, rope dim %d, vocab %d, context %d\n",
		c.Dim, c.FFN, c.Layers, c.Heads, c.KVHeads, c.HeadDim, c.RopeDim, c.Vocab, c.Context)
	pairing := "adjacent pairs"
	if c.RopeNeox {
		pairing = "rotate-half (neox)"
	}
	fmt.Fprintf(w, "rms eps %g, rope base %g, rope scale %g, rope %s, tied embeddings %v\n", c.RMSEps, c.RopeBase, c.RopeScale, pairing, c.Tied)
	if t := info.Tokenizer; t != nil {
		kind := map[string]string{"llama": "SentencePiece-style BPE", "gpt2": "byte-level BPE"}[t.Model]
		fmt.Fprintf(w, "tokenizer:     %s (%s) pre %q, %d tokens, %d merges, BOS %d, EOS %d, add BOS %v\n", t.Model, kind, t.Pre, t.Tokens, t.Merges, t.BOS, t.EOS, t.AddBOS)
	} else {
		fmt.Fprintln(w, "tokenizer:     none")
	}
	if info.Meta != nil {
		fmt.Fprintln(w, "metadata:")
		for _, k := range info.metaKeyOrder {
			fmt.Fprintf(w, "  %-40s %v\n", k, info.Meta[k])
		}
	}
	fmt.Fprintf(w, "tensors (%d):\n", len(info.Tensors))
	for _, t := range info.Tensors {
		fmt.Fprintf(w, "  %-32s %-8s %-16s %d bytes\n", t.Name, t.Type, fmt.Sprint(t.Shape), t.Bytes)
	}
	fmt.Fprintf(w, "total: %d parameters, %d weight bytes (%.2f MiB); types %v\n", info.Params, info.WeightBytes, float64(info.WeightBytes)/(1<<20), info.TypeCounts)
}
