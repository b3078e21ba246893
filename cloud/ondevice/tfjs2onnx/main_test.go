package main

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/advancedclimatesystems/gonnx/onnx"
)

func TestHalfToFloat(t *testing.T) {
	for _, c := range []struct {
		h    uint16
		want float32
	}{
		{0x0000, 0}, {0x3c00, 1}, {0xc000, -2}, {0x3555, 0.33325195},
		{0x7bff, 65504}, {0x0001, 5.9604645e-08}, {0x03ff, 6.097555e-05},
	} {
		if got := halfToFloat(c.h); got != c.want {
			t.Errorf("halfToFloat(%#04x) = %v, want %v", c.h, got, c.want)
		}
	}
	if got := halfToFloat(0x7c00); !math.IsInf(float64(got), 1) {
		t.Errorf("halfToFloat(+inf) = %v", got)
	}
}

// writeModel writes a TF.js graph model of the given nodes, with one weight
// shard holding data as the manifest entries describe it.
func writeModel(t *testing.T, nodes []map[string]any, weights []tfWeight, data []byte) string {
	t.Helper()
	dir := t.TempDir()
	m := map[string]any{
		"format":        "graph-model",
		"modelTopology": map[string]any{"node": nodes},
		"weightsManifest": []any{map[string]any{
			"paths": []string{"w.bin"}, "weights": weights,
		}},
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "w.bin"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "model.json")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

var placeholder = map[string]any{
	"name": "x", "op": "Placeholder",
	"attr": map[string]any{"dtype": map[string]any{"type": "DT_FLOAT"}},
}

func TestUnsupportedOpIsNamed(t *testing.T) {
	path := writeModel(t, []map[string]any{placeholder,
		{"name": "y", "op": "Softplus", "input": []string{"x"}},
	}, nil, nil)
	m, err := readModel(path)
	if err != nil {
		t.Fatal(err)
	}
	_, err = convert(m, []string{"y"}, "images")
	if err == nil || !strings.Contains(err.Error(), `"Softplus"`) ||
		!strings.Contains(err.Error(), "node y") {
		t.Errorf("converting an unknown op: %v; want an error naming the op and node", err)
	}
}

// TestConvLayout converts a 1×1 convolution with bias and ReLU followed by a
// Reshape, and checks the NHWC→NCHW bookkeeping: the filter is transposed
// to OIHW, and a Transpose back to NHWC comes before the Reshape.
func TestConvLayout(t *testing.T) {
	// Filter HWIO [1,1,2,3] = 0..5 and bias [3] = 1,2,3, as float16.
	var data []byte
	for _, h := range []uint16{0x0000, 0x3c00, 0x4000, 0x4200, 0x4400, 0x4500,
		0x3c00, 0x4000, 0x4200} {
		data = append(data, byte(h), byte(h>>8))
	}
	data = append(data, 0xff, 0xff, 0xff, 0xff) // int32 -1: the Reshape shape
	q := &struct {
		Dtype         string   `json:"dtype"`
		OriginalDtype string   `json:"original_dtype"`
		Min           *float32 `json:"min"`
		Scale         *float32 `json:"scale"`
	}{Dtype: "float16", OriginalDtype: "float32"}
	weights := []tfWeight{
		{Name: "w", Shape: []int64{1, 1, 2, 3}, Dtype: "float32", Quantization: q},
		{Name: "b", Shape: []int64{3}, Dtype: "float32", Quantization: q},
		{Name: "shape", Shape: []int64{1}, Dtype: "int32"},
	}
	// GraphDef strings are bytes, which JSON carries as base64.
	b64 := func(s string) string { return string(mustJSON(t, []byte(s))) }
	attrS := func(s string) map[string]any {
		return map[string]any{"s": json.RawMessage(b64(s))}
	}
	ones := map[string]any{"list": map[string]any{"i": []string{"1", "1", "1", "1"}}}
	path := writeModel(t, []map[string]any{placeholder,
		{"name": "w", "op": "Const"}, {"name": "b", "op": "Const"},
		{"name": "shape", "op": "Const"},
		{"name": "conv", "op": "_FusedConv2D", "input": []string{"x", "w", "b"},
			"attr": map[string]any{
				"padding": attrS("SAME"), "data_format": attrS("NHWC"),
				"strides": ones, "dilations": ones, "num_args": map[string]any{"i": "1"},
				"fused_ops": map[string]any{"list": map[string]any{"s": []json.RawMessage{
					json.RawMessage(b64("BiasAdd")), json.RawMessage(b64("Relu"))}}},
			}},
		{"name": "flat", "op": "Reshape", "input": []string{"conv", "shape"}},
	}, weights, data)
	m, err := readModel(path)
	if err != nil {
		t.Fatal(err)
	}
	model, err := convert(m, []string{"flat"}, "images")
	if err != nil {
		t.Fatal(err)
	}
	var ops []string
	for _, n := range model.Graph.Node {
		ops = append(ops, n.OpType)
	}
	if got := strings.Join(ops, " "); got != "Conv Relu Transpose Reshape Identity" {
		t.Errorf("ops %q", got)
	}
	var w *onnx.TensorProto
	for _, in := range model.Graph.Initializer {
		if strings.HasPrefix(in.Name, "conv/W") {
			w = in
		}
	}
	if w == nil {
		t.Fatal("no filter initializer")
	}
	if got := w.Dims; len(got) != 4 || got[0] != 3 || got[1] != 2 {
		t.Fatalf("filter dims %v, want [3 2 1 1]", got)
	}
	// OIHW[o][i] = HWIO[i][o] = i*3+o.
	want := []float32{0, 3, 1, 4, 2, 5}
	for k, v := range want {
		bits := uint32(w.RawData[4*k]) | uint32(w.RawData[4*k+1])<<8 |
			uint32(w.RawData[4*k+2])<<16 | uint32(w.RawData[4*k+3])<<24
		if got := math.Float32frombits(bits); got != v {
			t.Errorf("filter[%d] = %v, want %v", k, got, v)
		}
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
