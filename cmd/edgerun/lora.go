package main

import (
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/edgerun/edgerun/loader"
	"github.com/edgerun/edgerun/runtime"
)

// adapterFlag is one --adapter PATH[:SCALE].
type adapterFlag struct {
	path  string
	scale float32
}

// adapterList collects repeated --adapter flags.
type adapterList []adapterFlag

func (l *adapterList) String() string {
	var parts []string
	for _, a := range *l {
		parts = append(parts, fmt.Sprintf("%s:%g", a.path, a.scale))
	}
	return strings.Join(parts, ",")
}

// Set parses PATH[:SCALE]; a suffix after the last colon that is not a number is part
// of the path.
func (l *adapterList) Set(v string) error {
	a := adapterFlag{path: v, scale: 1}
	if i := strings.LastIndexByte(v, ':'); i > 0 {
		if s, err := strconv.ParseFloat(v[i+1:], 32); err == nil {
			a.path, a.scale = v[:i], float32(s)
		}
	}
	if a.path == "" {
		return fmt.Errorf("empty adapter path")
	}
	*l = append(*l, a)
	return nil
}

// applyAdapters loads the adapters into eng and either activates them on sess or,
// with merge, merges them into the weights (in each weight's own format).
func applyAdapters(eng *runtime.Engine, sess *runtime.Session, adapters adapterList, merge bool, stderr io.Writer, quiet bool) error {
	if len(adapters) == 0 {
		if merge {
			return fmt.Errorf("--merge needs at least one --adapter")
		}
		return nil
	}
	var set []runtime.AdapterScale
	for i, a := range adapters {
		name := fmt.Sprintf("%d:%s", i, filepath.Base(a.path))
		info, err := eng.LoadAdapter(name, a.path)
		if err != nil {
			return err
		}
		if !quiet {
			fmt.Fprintf(stderr, "edgerun: adapter %s (%s, rank %d, %d modules, %.1f MiB) scale %g\n",
				a.path, info.Format, info.Rank, len(info.Targets), float64(info.Bytes)/(1<<20), a.scale)
		}
		set = append(set, runtime.AdapterScale{Name: name, Scale: a.scale})
	}
	if !merge {
		return sess.SetAdapters(set)
	}
	rep, err := eng.Merge(set, runtime.MergeOptions{})
	if err != nil {
		return err
	}
	if !quiet {
		fmt.Fprintf(stderr, "edgerun: merged into %d weights (%.1f MiB); requantization error: max %.3g, rms %.3g, relative %.3g\n",
			rep.Tensors, float64(rep.Bytes)/(1<<20), rep.MaxAbsErr, rep.RMSErr, rep.RelErr)
		if len(rep.Fallback) > 0 {
			fmt.Fprintf(stderr, "edgerun: %d weights kept as F32 (row length not a multiple of the block size)\n", len(rep.Fallback))
		}
	}
	return nil
}

// cmdConvertLora writes a PEFT adapter as a GGUF LoRA file for a GGUF base.
func cmdConvertLora(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("convert-lora", stderr)
	base := fs.String("m", "", "base model (GGUF or other format edgerun reads): its architecture and head layout decide the q/k permutation")
	out := fs.String("o", "", "output GGUF LoRA file")
	// Accept flags after the positional directory too.
	var dir string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		dir, args = args[0], args[1:]
	}
	if err := parse(fs, args); err != nil {
		return err
	}
	if dir == "" && fs.NArg() == 1 {
		dir = fs.Arg(0)
	}
	if dir == "" || *out == "" || *base == "" {
		fmt.Fprintln(stderr, "usage: edgerun convert-lora PEFT_DIR -m BASE -o OUT.gguf")
		return errUsage
	}
	a, err := loader.OpenAdapter(dir)
	if err != nil {
		return err
	}
	ckpt, err := loader.Open(*base)
	if err != nil {
		return err
	}
	defer ckpt.Close()
	cfg := ckpt.Config
	if err := a.Validate(cfg); err != nil {
		return err
	}
	// The GGUF file follows the layout a GGUF base of this architecture has, whatever
	// format the base given here is in.
	gcfg := cfg
	gcfg.RopeNeox = loader.GGUFRopeNeox(cfg.Arch)
	if err := loader.WriteGGUFAdapter(*out, a, cfg.Arch, gcfg); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s: %d modules, rank %d\n", *out, len(a.Modules), a.MaxRank())
	return nil
}

// cmdMerge merges adapters into a GGUF base and writes the result as a GGUF file.
func cmdMerge(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("merge", stderr)
	base := fs.String("m", "", "base model (GGUF)")
	out := fs.String("o", "", "output GGUF file")
	typ := fs.String("type", "base", "format of the merged weights: base (each weight's own), f32, f16, q8_0, q4_0, ...")
	var adapters adapterList
	fs.Var(&adapters, "adapter", "LoRA adapter PATH[:SCALE] (repeatable)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *base == "" || *out == "" || len(adapters) == 0 || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "usage: edgerun merge -m BASE.gguf --adapter PATH[:SCALE]... -o OUT.gguf [--type base|f32|f16|q8_0|...]")
		return errUsage
	}
	eng, err := runtime.Open(*base)
	if err != nil {
		return err
	}
	defer eng.Close()
	ckpt := eng.Model.Ckpt
	if ckpt.Format != "gguf" {
		return fmt.Errorf("%s: merge writes GGUF and needs a GGUF base (this one is %s)", *base, ckpt.Format)
	}
	var set []runtime.AdapterScale
	for i, a := range adapters {
		name := fmt.Sprint(i)
		if _, err := eng.LoadAdapter(name, a.path); err != nil {
			return err
		}
		set = append(set, runtime.AdapterScale{Name: name, Scale: a.scale})
	}
	rep, err := eng.Merge(set, runtime.MergeOptions{Type: *typ})
	if err != nil {
		return err
	}
	var tensors []*loader.Tensor
	seen := map[string]bool{}
	for _, name := range ckpt.Order {
		t := *ckpt.Tensors[name]
		if typ, data, ok := eng.WeightData(name); ok {
			t.Type, t.Data = typ, data
		}
		seen[name] = true
		tensors = append(tensors, &t)
	}
	// A tied output head stays tied only while it still shares the (possibly merged)
	// embedding's buffer: merged embedding LoRA must not leak into the head.
	_, embData, _ := eng.WeightData("token_embd.weight")
	if typ, data, _ := eng.WeightData("output.weight"); !seen["output.weight"] && &data[0] != &embData[0] {
		cfg := eng.Model.Config
		tensors = append(tensors, &loader.Tensor{Name: "output.weight", Type: typ, Shape: []int{cfg.Vocab, cfg.Dim}, Data: data})
	}
	if err := loader.WriteGGUF(*out, ckpt.MetaKVs(), tensors); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s: %d weights merged; requantization error max %.3g, rms %.3g, relative %.3g\n",
		*out, rep.Tensors, rep.MaxAbsErr, rep.RMSErr, rep.RelErr)
	return nil
}
