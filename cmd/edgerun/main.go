// Command edgerun runs fine-tuned LLMs on CPUs.
//
//	edgerun run     -m MODEL -p PROMPT -n N   generate text
//	edgerun inspect MODEL                     print a model's configuration and tensors
//
// Run `edgerun help` or `edgerun COMMAND -h` for the flags.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
)

type command struct {
	name, summary string
	run           func(args []string, stdout, stderr io.Writer) error
}

var commands = []command{
	{"run", "generate text from a prompt", cmdRun},
	{"inspect", "print a model's architecture, hyper-parameters, tokenizer and tensors", cmdInspect},
	{"quantize", "write a quantized copy of a model (bitsandbytes nf4/fp4 directory or GGUF)", cmdQuantize},
	{"bench", "measure speed (llama-bench compatible), latency and memory of models", cmdBench},
	{"convert-lora", "convert a PEFT LoRA adapter to a GGUF LoRA file for llama.cpp", cmdConvertLora},
	{"merge", "merge LoRA adapters into a GGUF model and write the result", cmdMerge},
	{"export", "write a model as ONNX for ONNX Runtime (MatMulNBits / MatMulBnb4 4-bit linears)", cmdExport},
	{"demo", "the demo model: adapter A, hot-swap to B, merge B, one bench line (make demo)", cmdDemo},
}

func main() {
	os.Exit(mainErr(os.Args[1:], os.Stdout, os.Stderr))
}

// mainErr runs the command line args and returns the process exit code.
func mainErr(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands {
		if c.name == args[0] {
			err := c.run(args[1:], stdout, stderr)
			switch {
			case err == nil:
				return 0
			case errors.Is(err, flag.ErrHelp):
				return 0
			case errors.Is(err, errUsage):
				return 2
			default:
				fmt.Fprintf(stderr, "edgerun %s: %v\n", c.name, err)
				return 1
			}
		}
	}
	fmt.Fprintf(stderr, "edgerun: unknown command %q\n\n", args[0])
	usage(stderr)
	return 2
}

// errUsage reports a command-line mistake that the flag set has already printed.
var errUsage = errors.New("usage")

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: edgerun COMMAND [flags]\n\ncommands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'edgerun COMMAND -h' for a command's flags.")
}

// newFlagSet returns a flag set that reports errors to stderr and returns them
// instead of exiting.
func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("edgerun "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// parse parses args, turning flag errors (already printed) into errUsage.
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	return nil
}
