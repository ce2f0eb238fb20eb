package runtime

import (
	"fmt"

	"github.com/edgerun/edgerun/int4"
	"github.com/edgerun/edgerun/onnx"
)

// exportWeights serves the exporter the engine's current weights (merged ones while
// merged) and the checkpoint's other tensors (biases). Like WeightData without the
// lock: callers hold it or own the engine alone.
func (e *Engine) exportWeights(name string) (int4.Type, []byte, bool) {
	m := e.Model
	switch name {
	case "output.weight":
		return m.output.Type, m.output.Data, true
	case "token_embd.weight":
		return m.embed.Type, m.embed.Data, true
	case "output_norm.weight":
		return int4.F32, f32Bytes(m.outNorm), true
	}
	var li int
	var rest string
	if _, err := fmt.Sscanf(name, "blk.%d.%s", &li, &rest); err == nil && li >= 0 && li < len(m.layers) {
		for _, k := range []int{normAttn, normFFN} {
			if key := [2]int{li, k}; normName(key) == name {
				return int4.F32, f32Bytes(*m.normSlot(key)), true
			}
		}
		for pi := range projNames {
			if weightName(li, pi) == name {
				w := *m.slot(li, pi)
				return w.Type, w.Data, true
			}
		}
	}
	if tt, ok := m.Ckpt.Tensors[name]; ok {
		return tt.Type, tt.Data, true
	}
	return 0, nil, false
}

// ExportONNX writes the engine's model (with its current, possibly merged, weights) as
// an ONNX graph for ONNX Runtime.
func (e *Engine) ExportONNX(o onnx.ExportOptions) (*onnx.Model, *onnx.ExportReport, error) {
	if o.RopeFreq == nil {
		o.RopeFreq, o.RopeScale = e.Model.rope.Freq, e.Model.rope.Scale
	}
	if o.Context == 0 {
		o.Context = e.sessionContext()
	}
	m, rep, err := onnx.ExportLlama(e.Model.Config, e.exportWeights, o)
	if err != nil {
		return nil, nil, fmt.Errorf("runtime: %s: %w", e.Model.Ckpt.Path, err)
	}
	return m, rep, nil
}
