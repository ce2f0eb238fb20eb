//go:build ort

package ort

import (
	"errors"
	"fmt"
	"sync"

	ortgo "github.com/yalue/onnxruntime_go"
)

// Built reports whether this build has the ONNX Runtime backend.
const Built = true

var (
	initMu  sync.Mutex
	initLib string
)

// Init loads the ONNX Runtime shared library (FindLibrary(explicit)) and creates the
// process-wide environment. Later calls return the library already loaded, whatever
// they ask for: ONNX Runtime allows one environment per process.
func Init(explicit string) (string, error) {
	initMu.Lock()
	defer initMu.Unlock()
	if initLib != "" {
		return initLib, nil
	}
	lib, err := FindLibrary(explicit)
	if err != nil {
		return "", err
	}
	ortgo.SetSharedLibraryPath(lib)
	if err := ortgo.InitializeEnvironment(ortgo.WithLogLevelError()); err != nil {
		return "", fmt.Errorf("ort: loading %s: %w", lib, err)
	}
	initLib = lib
	return lib, nil
}

// Version returns the loaded ONNX Runtime's version string.
func Version() string { return ortgo.GetVersion() }

// Value is an ONNX Runtime tensor handle; Destroy releases it (never the Go slice it
// wraps).
type Value = ortgo.Value

// Float32 wraps data (not copied) as a float32 tensor of the given shape.
func Float32(shape []int64, data []float32) (*ortgo.Tensor[float32], error) {
	return ortgo.NewTensor(ortgo.NewShape(shape...), data)
}

// Int64 wraps data (not copied) as an int64 tensor of the given shape.
func Int64(shape []int64, data []int64) (*ortgo.Tensor[int64], error) {
	return ortgo.NewTensor(ortgo.NewShape(shape...), data)
}

// Uint8 wraps data (not copied) as a uint8 tensor of the given shape.
func Uint8(shape []int64, data []uint8) (*ortgo.Tensor[uint8], error) {
	return ortgo.NewTensor(ortgo.NewShape(shape...), data)
}

// Options configure a session.
type Options struct {
	// Threads is the number of intra-op threads (0: ONNX Runtime's default).
	Threads int
	// OptimizedPath, when set, makes ONNX Runtime write the optimized graph there.
	OptimizedPath string
}

// Session is an ONNX Runtime inference session with fixed input and output names.
// Run may be called from several goroutines at once.
type Session struct {
	s       *ortgo.DynamicAdvancedSession
	Inputs  []string
	Outputs []string
}

// NewSession creates a session for the encoded model with the given input and output
// names (all of the graph's inputs, any of its outputs).
func NewSession(model []byte, inputs, outputs []string, o Options) (*Session, error) {
	if initLib == "" {
		return nil, errors.New("ort: Init was not called")
	}
	opts, err := ortgo.NewSessionOptions()
	if err != nil {
		return nil, fmt.Errorf("ort: session options: %w", err)
	}
	defer opts.Destroy()
	if o.Threads > 0 {
		if err := opts.SetIntraOpNumThreads(o.Threads); err != nil {
			return nil, fmt.Errorf("ort: intra-op threads: %w", err)
		}
		if err := opts.SetInterOpNumThreads(1); err != nil {
			return nil, fmt.Errorf("ort: inter-op threads: %w", err)
		}
	}
	if o.OptimizedPath != "" {
		if err := opts.SetOptimizedModelFilePath(o.OptimizedPath); err != nil {
			return nil, err
		}
	}
	s, err := ortgo.NewDynamicAdvancedSessionWithONNXData(model, inputs, outputs, opts)
	if err != nil {
		return nil, fmt.Errorf("ort: creating session: %w", err)
	}
	return &Session{s: s, Inputs: inputs, Outputs: outputs}, nil
}

// IONames returns the input and output names of an encoded model, as ONNX Runtime
// reads them.
func IONames(model []byte) (inputs, outputs []string, err error) {
	ins, outs, err := ortgo.GetInputOutputInfoWithONNXData(model)
	if err != nil {
		return nil, nil, fmt.Errorf("ort: reading model inputs/outputs: %w", err)
	}
	for _, v := range ins {
		inputs = append(inputs, v.Name)
	}
	for _, v := range outs {
		outputs = append(outputs, v.Name)
	}
	return inputs, outputs, nil
}

// Run runs the session. inputs follow s.Inputs; outputs follow s.Outputs, and a nil
// entry is allocated by ONNX Runtime (and copied into a Go-backed tensor the caller
// must Destroy).
func (s *Session) Run(inputs, outputs []Value) error {
	if err := s.s.Run(inputs, outputs); err != nil {
		return fmt.Errorf("ort: run: %w", err)
	}
	return nil
}

// Close releases the session.
func (s *Session) Close() error { return s.s.Destroy() }

// Floats returns the data of a float32 tensor value (nil for another type).
func Floats(v Value) []float32 {
	if t, ok := v.(*ortgo.Tensor[float32]); ok {
		return t.GetData()
	}
	return nil
}

// Shape returns a value's shape.
func Shape(v Value) []int64 { return v.GetShape() }
