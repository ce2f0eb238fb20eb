// Command mkadapter writes the LoRA adapter the C ABI test (capi/test/capi_test.c)
// switches to: a PEFT directory for stories260K from a fixed seed (internal/testadapter).
//
//	go run ./capi/test/mkadapter ../shared/models/stories260K/stories260K.gguf OUTDIR
package main

import (
	"fmt"
	"os"

	"github.com/edgerun/edgerun/internal/testadapter"
	"github.com/edgerun/edgerun/loader"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: mkadapter MODEL OUTDIR")
		os.Exit(2)
	}
	ckpt, err := loader.Open(os.Args[1])
	if err == nil {
		cfg := ckpt.Config
		ckpt.Close()
		err = testadapter.WritePEFT(cfg, os.Args[2], 2026)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "mkadapter:", err)
		os.Exit(1)
	}
}
