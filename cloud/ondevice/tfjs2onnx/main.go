// Command tfjs2onnx converts a TensorFlow.js graph model (model.json plus its
// weight shards) into an ONNX model that ONNX Runtime can run.
//
// It exists so that the on-device labeller can use the MobileNetV3-CenterNet
// COCO detector that ships (MIT) in the @vladmandic/human npm package: that
// package only carries the TF.js format, and there is no TF.js runtime for Go.
// `make assets` runs it once; nothing converts at application run time.
//
// It is deliberately not a general converter: it knows only the ops that
// model uses and stops with the op's name on anything else, so a model change
// cannot silently produce a wrong graph.
//
// Layout: TF.js graphs are NHWC, ONNX convolutions are NCHW. The ONNX model's
// input is NCHW ([1,3,H,W], RGB, 0..255) so that the Go side writes planes
// directly and no transpose runs at inference time. Every 4-D tensor produced
// by a layout-aware op (conv, pooling, resize, elementwise) stays NCHW; a
// Transpose back to NHWC is inserted only in front of ops whose meaning
// depends on the element order (Reshape, TopK, Gather, ...). Constants that
// meet NCHW tensors are permuted at conversion time.
//
// The whole graph is converted, including the CenterNet decoding tail (3x3
// max-pool peak finding, TopK over all classes, box decoding), so the model's
// single output is TF.js's tower_0/detections: [1, K, 6] rows of
// (x1, y1, x2, y2, score, class) in input pixels. Only the final
// class-agnostic non-max suppression is left to Go.
//
// Checked against TF.js itself (tfjs-core, -converter and -backend-cpu 4.22
// running the original model.json on the same input tensors from
// chelsea.png and coffee.png): the detections agree within 2.2e-4.
package main

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/advancedclimatesystems/gonnx/onnx"
	"google.golang.org/protobuf/proto"
)

// opset is the ONNX operator set the output targets. 17 is well inside what
// ONNX Runtime 1.30 runs, and still takes ReduceMean's axes as an attribute.
const (
	opset     = 17
	irVersion = 8
)

func main() {
	in := flag.String("in", "", "TF.js graph model JSON (weights are read from beside it)")
	out := flag.String("out", "", "ONNX file to write")
	outputs := flag.String("outputs", "tower_0/detections",
		"comma-separated TF tensor names to expose as model outputs")
	inputName := flag.String("input-name", "images", "name of the ONNX input")
	flag.Parse()
	if *in == "" || *out == "" {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(*in, *out, strings.Split(*outputs, ","), *inputName); err != nil {
		fmt.Fprintln(os.Stderr, "tfjs2onnx:", err)
		os.Exit(1)
	}
}

func run(in, out string, outputs []string, inputName string) error {
	m, err := readModel(in)
	if err != nil {
		return err
	}
	model, err := convert(m, outputs, inputName)
	if err != nil {
		return err
	}
	b, err := proto.Marshal(model)
	if err != nil {
		return err
	}
	// Write beside the target and rename, so an interrupted run never
	// leaves a truncated model that make would then consider up to date.
	tmp := out + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp, out); err != nil {
		return err
	}
	fmt.Printf("tfjs2onnx: wrote %s (%d nodes, %d initializers, %d bytes)\n",
		out, len(model.Graph.Node), len(model.Graph.Initializer), len(b))
	return nil
}

// ---- TF.js model file ----

type tfModel struct {
	Format        string `json:"format"`
	ModelTopology struct {
		Node []*tfNode `json:"node"`
	} `json:"modelTopology"`
	WeightsManifest []struct {
		Paths   []string   `json:"paths"`
		Weights []tfWeight `json:"weights"`
	} `json:"weightsManifest"`

	weights map[string]*constant
}

type tfWeight struct {
	Name         string  `json:"name"`
	Shape        []int64 `json:"shape"`
	Dtype        string  `json:"dtype"`
	Quantization *struct {
		Dtype         string   `json:"dtype"`
		OriginalDtype string   `json:"original_dtype"`
		Min           *float32 `json:"min"`
		Scale         *float32 `json:"scale"`
	} `json:"quantization"`
}

type tfNode struct {
	Name  string            `json:"name"`
	Op    string            `json:"op"`
	Input []string          `json:"input"`
	Attr  map[string]tfAttr `json:"attr"`
}

// tfAttr is a GraphDef AttrValue as TF.js serialises it: int64 as strings,
// bytes as base64 (which encoding/json decodes into []byte for us).
type tfAttr struct {
	S    []byte  `json:"s"`
	I    string  `json:"i"`
	F    float32 `json:"f"`
	B    bool    `json:"b"`
	Type string  `json:"type"`
	List *struct {
		I []string `json:"i"`
		S [][]byte `json:"s"`
	} `json:"list"`
}

func readModel(path string) (*tfModel, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var m tfModel
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if m.Format != "graph-model" {
		return nil, fmt.Errorf("%s: format %q, want graph-model", path, m.Format)
	}
	m.weights = map[string]*constant{}
	dir := filepath.Dir(path)
	for _, g := range m.WeightsManifest {
		// A group's shards are one byte stream cut into files; the weights
		// follow each other in manifest order.
		var buf []byte
		for _, p := range g.Paths {
			shard, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(p)))
			if err != nil {
				return nil, err
			}
			buf = append(buf, shard...)
		}
		for _, w := range g.Weights {
			c, n, err := decodeWeight(w, buf)
			if err != nil {
				return nil, fmt.Errorf("weight %s: %w", w.Name, err)
			}
			buf = buf[n:]
			m.weights[w.Name] = c
		}
		if len(buf) != 0 {
			return nil, fmt.Errorf("%d bytes left over after the weights of %v", len(buf), g.Paths)
		}
	}
	return &m, nil
}

func numElements(shape []int64) int {
	n := 1
	for _, d := range shape {
		n *= int(d)
	}
	return n
}

// decodeWeight reads one weight from the front of buf, undoing TF.js
// quantization, and says how many bytes it used.
func decodeWeight(w tfWeight, buf []byte) (*constant, int, error) {
	n := numElements(w.Shape)
	c := &constant{shape: append([]int64(nil), w.Shape...)}
	need := func(size int) error {
		if len(buf) < n*size {
			return fmt.Errorf("needs %d bytes, %d left", n*size, len(buf))
		}
		return nil
	}
	if q := w.Quantization; q != nil {
		if w.Dtype != "float32" {
			return nil, 0, fmt.Errorf("quantized %s weights are not supported", w.Dtype)
		}
		c.dtype = onnx.TensorProto_FLOAT
		c.f = make([]float32, n)
		switch q.Dtype {
		case "float16":
			if err := need(2); err != nil {
				return nil, 0, err
			}
			for i := range c.f {
				c.f[i] = halfToFloat(binary.LittleEndian.Uint16(buf[2*i:]))
			}
			return c, 2 * n, nil
		case "uint8", "uint16":
			if q.Min == nil || q.Scale == nil {
				return nil, 0, fmt.Errorf("%s quantization without min/scale", q.Dtype)
			}
			size := 1
			if q.Dtype == "uint16" {
				size = 2
			}
			if err := need(size); err != nil {
				return nil, 0, err
			}
			for i := range c.f {
				v := uint32(buf[i])
				if size == 2 {
					v = uint32(binary.LittleEndian.Uint16(buf[2*i:]))
				}
				c.f[i] = float32(v)*(*q.Scale) + *q.Min
			}
			return c, size * n, nil
		}
		return nil, 0, fmt.Errorf("quantization dtype %q is not supported", q.Dtype)
	}
	switch w.Dtype {
	case "float32":
		if err := need(4); err != nil {
			return nil, 0, err
		}
		c.dtype = onnx.TensorProto_FLOAT
		c.f = make([]float32, n)
		for i := range c.f {
			c.f[i] = math.Float32frombits(binary.LittleEndian.Uint32(buf[4*i:]))
		}
		return c, 4 * n, nil
	case "int32":
		if err := need(4); err != nil {
			return nil, 0, err
		}
		c.dtype = onnx.TensorProto_INT32
		c.i = make([]int64, n)
		for i := range c.i {
			c.i[i] = int64(int32(binary.LittleEndian.Uint32(buf[4*i:])))
		}
		return c, 4 * n, nil
	}
	return nil, 0, fmt.Errorf("dtype %q is not supported", w.Dtype)
}

// halfToFloat widens an IEEE 754 binary16 value.
func halfToFloat(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	frac := uint32(h) & 0x3ff
	switch {
	case exp == 0 && frac == 0:
		return math.Float32frombits(sign)
	case exp == 0: // subnormal: normalise it
		e := uint32(127 - 15 + 1)
		for frac&0x400 == 0 {
			frac <<= 1
			e--
		}
		frac &= 0x3ff
		return math.Float32frombits(sign | e<<23 | frac<<13)
	case exp == 0x1f:
		return math.Float32frombits(sign | 0xff<<23 | frac<<13)
	}
	return math.Float32frombits(sign | (exp+127-15)<<23 | frac<<13)
}

// ---- conversion ----

// constant is a tensor known at conversion time. Integers are kept as int64
// whatever their TF type, since ONNX wants int64 for shapes, axes and k.
type constant struct {
	dtype onnx.TensorProto_DataType
	shape []int64
	f     []float32
	i     []int64
}

func (c *constant) ints() []int64 {
	if c.i != nil {
		return c.i
	}
	out := make([]int64, len(c.f))
	for k, v := range c.f {
		out[k] = int64(v)
	}
	return out
}

// value is a converted TF tensor.
type value struct {
	name  string // ONNX tensor name; "" for a constant not yet emitted
	dtype onnx.TensorProto_DataType
	rank  int  // -1 when unknown
	nchw  bool // a 4-D tensor held as NCHW while TF sees it as NHWC
	konst *constant
}

type converter struct {
	nodes   map[string]*tfNode
	weights map[string]*constant
	values  map[string]*value
	graph   *onnx.GraphProto
	inits   map[string]bool
	seq     int
	input   string
}

func convert(m *tfModel, outputs []string, inputName string) (*onnx.ModelProto, error) {
	c := &converter{
		nodes:   map[string]*tfNode{},
		weights: m.weights,
		values:  map[string]*value{},
		graph:   &onnx.GraphProto{Name: "tfjs2onnx"},
		inits:   map[string]bool{},
		input:   inputName,
	}
	for _, n := range m.ModelTopology.Node {
		c.nodes[n.Name] = n
	}
	for _, o := range outputs {
		v, err := c.tensor(o)
		if err != nil {
			return nil, err
		}
		v, err = c.native(v)
		if err != nil {
			return nil, err
		}
		name := o[strings.LastIndex(o, "/")+1:]
		name = strings.ReplaceAll(name, ":", "_")
		src, err := c.emitted(v)
		if err != nil {
			return nil, err
		}
		c.node("Identity", []string{src}, []string{name})
		c.graph.Output = append(c.graph.Output, valueInfo(name, v.dtype, nil))
	}
	return &onnx.ModelProto{
		IrVersion:    irVersion,
		ProducerName: "multicloud tfjs2onnx",
		OpsetImport:  []*onnx.OperatorSetIdProto{{Domain: "", Version: opset}},
		Graph:        c.graph,
		DocString:    "converted from a TF.js graph model; input NCHW RGB 0..255",
	}, nil
}

func valueInfo(name string, dt onnx.TensorProto_DataType, shape []int64) *onnx.ValueInfoProto {
	tt := &onnx.TypeProto_Tensor{ElemType: int32(dt)}
	if shape != nil {
		tt.Shape = &onnx.TensorShapeProto{}
		for _, d := range shape {
			tt.Shape.Dim = append(tt.Shape.Dim, &onnx.TensorShapeProto_Dimension{
				Value: &onnx.TensorShapeProto_Dimension_DimValue{DimValue: d},
			})
		}
	}
	return &onnx.ValueInfoProto{
		Name: name,
		Type: &onnx.TypeProto{Value: &onnx.TypeProto_TensorType{TensorType: tt}},
	}
}

func (c *converter) fresh(hint string) string {
	c.seq++
	return fmt.Sprintf("%s__%d", hint, c.seq)
}

func (c *converter) node(op string, in, out []string, attrs ...*onnx.AttributeProto) {
	c.graph.Node = append(c.graph.Node, &onnx.NodeProto{
		Name:      c.fresh(op),
		OpType:    op,
		Input:     in,
		Output:    out,
		Attribute: attrs,
	})
}

// op1 emits a single-output node and returns its output name.
func (c *converter) op1(op, hint string, in []string, attrs ...*onnx.AttributeProto) string {
	out := c.fresh(hint)
	c.node(op, in, []string{out}, attrs...)
	return out
}

func attrInt(name string, v int64) *onnx.AttributeProto {
	return &onnx.AttributeProto{Name: name, Type: onnx.AttributeProto_INT, I: v}
}

func attrInts(name string, v []int64) *onnx.AttributeProto {
	return &onnx.AttributeProto{Name: name, Type: onnx.AttributeProto_INTS, Ints: v}
}

func attrString(name, v string) *onnx.AttributeProto {
	return &onnx.AttributeProto{Name: name, Type: onnx.AttributeProto_STRING, S: []byte(v)}
}

func attrFloat(name string, v float32) *onnx.AttributeProto {
	return &onnx.AttributeProto{Name: name, Type: onnx.AttributeProto_FLOAT, F: v}
}

// initializer adds a constant to the graph and returns its name.
func (c *converter) initializer(hint string, k *constant) string {
	name := c.fresh(hint)
	t := &onnx.TensorProto{Name: name, Dims: k.shape, DataType: int32(k.dtype)}
	switch k.dtype {
	case onnx.TensorProto_FLOAT:
		raw := make([]byte, 4*len(k.f))
		for i, v := range k.f {
			binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(v))
		}
		t.RawData = raw
	case onnx.TensorProto_INT32:
		raw := make([]byte, 4*len(k.i))
		for i, v := range k.i {
			binary.LittleEndian.PutUint32(raw[4*i:], uint32(int32(v)))
		}
		t.RawData = raw
	case onnx.TensorProto_INT64:
		raw := make([]byte, 8*len(k.i))
		for i, v := range k.i {
			binary.LittleEndian.PutUint64(raw[8*i:], uint64(v))
		}
		t.RawData = raw
	default:
		panic(fmt.Sprintf("initializer of type %v", k.dtype))
	}
	c.graph.Initializer = append(c.graph.Initializer, t)
	return name
}

func int64s(v ...int64) *constant {
	return &constant{dtype: onnx.TensorProto_INT64, shape: []int64{int64(len(v))}, i: v}
}

// emitted makes sure a value exists as a tensor in the ONNX graph.
func (c *converter) emitted(v *value) (string, error) {
	if v.name != "" {
		return v.name, nil
	}
	if v.konst == nil {
		return "", errors.New("internal: value without name or constant")
	}
	v.name = c.initializer("const", v.konst)
	return v.name, nil
}

// tensor converts (once) whatever produces the TF tensor ref ("node" or
// "node:k") and returns it.
func (c *converter) tensor(ref string) (*value, error) {
	if v, ok := c.values[ref]; ok {
		return v, nil
	}
	name := ref
	if i := strings.LastIndexByte(ref, ':'); i >= 0 {
		if _, err := strconv.Atoi(ref[i+1:]); err == nil {
			name = ref[:i]
		}
	}
	if name != ref {
		if _, err := c.tensor(name); err != nil {
			return nil, err
		}
		if v, ok := c.values[ref]; ok {
			return v, nil
		}
		return nil, fmt.Errorf("node %s has no output %s", name, ref)
	}
	n, ok := c.nodes[name]
	if !ok {
		return nil, fmt.Errorf("no node named %q", name)
	}
	if err := c.convertNode(n); err != nil {
		return nil, fmt.Errorf("node %s (%s): %w", n.Name, n.Op, err)
	}
	v, ok := c.values[ref]
	if !ok {
		return nil, fmt.Errorf("internal: node %s produced no value", name)
	}
	return v, nil
}

// inputs converts the node's data inputs (TF control inputs start with '^').
func (c *converter) inputs(n *tfNode) ([]*value, error) {
	var vs []*value
	for _, in := range n.Input {
		if strings.HasPrefix(in, "^") {
			continue
		}
		v, err := c.tensor(in)
		if err != nil {
			return nil, err
		}
		vs = append(vs, v)
	}
	return vs, nil
}

func (c *converter) set(n *tfNode, v *value) { c.values[n.Name] = v }

func attrStr(n *tfNode, key string) string { return string(n.Attr[key].S) }

func attrListInts(n *tfNode, key string) ([]int64, error) {
	a, ok := n.Attr[key]
	if !ok || a.List == nil {
		return nil, nil
	}
	out := make([]int64, len(a.List.I))
	for i, s := range a.List.I {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("attr %s: %w", key, err)
		}
		out[i] = v
	}
	return out, nil
}

func attrI(n *tfNode, key string) int64 {
	v, _ := strconv.ParseInt(n.Attr[key].I, 10, 64)
	return v
}

var tfTypes = map[string]onnx.TensorProto_DataType{
	"DT_FLOAT": onnx.TensorProto_FLOAT,
	"DT_INT32": onnx.TensorProto_INT32,
	"DT_INT64": onnx.TensorProto_INT64,
	"DT_BOOL":  onnx.TensorProto_BOOL,
}

func (c *converter) convertNode(n *tfNode) error {
	switch n.Op {
	case "Placeholder":
		return c.placeholder(n)
	case "Const":
		k, ok := c.weights[n.Name]
		if !ok {
			return errors.New("constant has no data in the weights manifest")
		}
		c.set(n, &value{dtype: k.dtype, rank: len(k.shape), konst: k})
		return nil
	case "Identity":
		vs, err := c.inputs(n)
		if err != nil {
			return err
		}
		c.set(n, vs[0])
		return nil
	case "Conv2D", "_FusedConv2D", "DepthwiseConv2dNative", "FusedDepthwiseConv2dNative":
		return c.conv(n)
	case "Add", "AddV2", "Mul", "Sub", "RealDiv", "Equal":
		return c.binary(n)
	case "Relu", "Sigmoid":
		return c.unary(n, n.Op)
	case "Relu6":
		return c.relu6(n)
	case "Cast":
		return c.cast(n)
	case "Mean":
		return c.mean(n)
	case "ConcatV2":
		return c.concat(n)
	case "ResizeBilinear":
		return c.resize(n)
	case "MaxPool":
		return c.maxPool(n)
	case "Reshape":
		return c.reshape(n)
	case "TopKV2":
		return c.topK(n)
	case "FloorDiv", "FloorMod":
		return c.floorDivMod(n)
	case "ExpandDims":
		return c.expandDims(n)
	case "GatherV2":
		return c.gather(n)
	case "StridedSlice":
		return c.stridedSlice(n)
	}
	return fmt.Errorf("unsupported TF op %q", n.Op)
}

func (c *converter) placeholder(n *tfNode) error {
	if t := n.Attr["dtype"].Type; t != "DT_FLOAT" {
		return fmt.Errorf("input type %s, only DT_FLOAT is supported", t)
	}
	// The shape attr is nested ({"shape":{"dim":[...]}}) and not part of
	// tfAttr; the input is declared with symbolic N, H, W instead, which
	// also lets callers feed other sizes if the model allows it.
	in := &onnx.ValueInfoProto{
		Name: c.input,
		Type: &onnx.TypeProto{Value: &onnx.TypeProto_TensorType{TensorType: &onnx.TypeProto_Tensor{
			ElemType: int32(onnx.TensorProto_FLOAT),
			Shape: &onnx.TensorShapeProto{Dim: []*onnx.TensorShapeProto_Dimension{
				{Value: &onnx.TensorShapeProto_Dimension_DimParam{DimParam: "N"}},
				{Value: &onnx.TensorShapeProto_Dimension_DimValue{DimValue: 3}},
				{Value: &onnx.TensorShapeProto_Dimension_DimParam{DimParam: "H"}},
				{Value: &onnx.TensorShapeProto_Dimension_DimParam{DimParam: "W"}},
			}},
		}}},
	}
	c.graph.Input = append(c.graph.Input, in)
	c.set(n, &value{name: c.input, dtype: onnx.TensorProto_FLOAT, rank: 4, nchw: true})
	return nil
}

// native returns v in TF's own element order.
func (c *converter) native(v *value) (*value, error) {
	if !v.nchw {
		return v, nil
	}
	out := c.op1("Transpose", "to_nhwc", []string{v.name}, attrInts("perm", []int64{0, 2, 3, 1}))
	return &value{name: out, dtype: v.dtype, rank: 4}, nil
}

// toNCHW returns v in the NCHW order. Constants are permuted here, after
// TF's right-aligned broadcasting has been made explicit.
func (c *converter) toNCHW(v *value) (*value, error) {
	if v.nchw {
		return v, nil
	}
	if k := v.konst; k != nil {
		if numElements(k.shape) == 1 {
			return v, nil // a scalar broadcasts the same in any layout
		}
		if len(k.shape) > 4 {
			return nil, fmt.Errorf("constant of rank %d meets an NCHW tensor", len(k.shape))
		}
		s := append(make([]int64, 4-len(k.shape)), k.shape...)
		for i := 0; i < 4-len(k.shape); i++ {
			s[i] = 1
		}
		nk := &constant{dtype: k.dtype, shape: []int64{s[0], s[3], s[1], s[2]}}
		perm := func(dst, src int) {
			if k.f != nil {
				nk.f[dst] = k.f[src]
			} else {
				nk.i[dst] = k.i[src]
			}
		}
		total := numElements(s)
		if k.f != nil {
			nk.f = make([]float32, total)
		} else {
			nk.i = make([]int64, total)
		}
		N, H, W, C := int(s[0]), int(s[1]), int(s[2]), int(s[3])
		for b := 0; b < N; b++ {
			for y := 0; y < H; y++ {
				for x := 0; x < W; x++ {
					for ch := 0; ch < C; ch++ {
						perm(((b*C+ch)*H+y)*W+x, ((b*H+y)*W+x)*C+ch)
					}
				}
			}
		}
		return &value{dtype: v.dtype, rank: 4, nchw: true, konst: nk}, nil
	}
	if v.rank != 4 {
		return nil, fmt.Errorf("tensor %s of rank %d meets an NCHW tensor", v.name, v.rank)
	}
	out := c.op1("Transpose", "to_nchw", []string{v.name}, attrInts("perm", []int64{0, 3, 1, 2}))
	return &value{name: out, dtype: v.dtype, rank: 4, nchw: true}, nil
}

func (c *converter) checkNHWC(n *tfNode) error {
	if f := attrStr(n, "data_format"); f != "" && f != "NHWC" {
		return fmt.Errorf("data_format %s is not supported", f)
	}
	return nil
}

// spatial reads a TF NHWC 4-vector attribute (strides, ksize, dilations)
// and returns its H, W entries.
func spatial(n *tfNode, key string) ([]int64, error) {
	v, err := attrListInts(n, key)
	if err != nil {
		return nil, err
	}
	if v == nil {
		return []int64{1, 1}, nil
	}
	if len(v) != 4 || v[0] != 1 || v[3] != 1 {
		return nil, fmt.Errorf("attr %s = %v, want [1 h w 1]", key, v)
	}
	return []int64{v[1], v[2]}, nil
}

// padAttr maps TF's padding mode onto ONNX's auto_pad. TF's SAME puts the
// odd pixel at the end, which is ONNX's SAME_UPPER.
func padAttr(n *tfNode) (*onnx.AttributeProto, error) {
	switch p := attrStr(n, "padding"); p {
	case "SAME":
		return attrString("auto_pad", "SAME_UPPER"), nil
	case "VALID":
		return attrString("auto_pad", "VALID"), nil
	default:
		return nil, fmt.Errorf("padding %q is not supported", p)
	}
}

func (c *converter) conv(n *tfNode) error {
	if err := c.checkNHWC(n); err != nil {
		return err
	}
	vs, err := c.inputs(n)
	if err != nil {
		return err
	}
	depthwise := strings.Contains(n.Op, "Depthwise")
	fused := strings.HasPrefix(n.Op, "Fused") || strings.HasPrefix(n.Op, "_Fused")
	var fusedOps []string
	if fused {
		if a := n.Attr["fused_ops"].List; a != nil {
			for _, s := range a.S {
				fusedOps = append(fusedOps, string(s))
			}
		}
		if len(fusedOps) == 0 || fusedOps[0] != "BiasAdd" || attrI(n, "num_args") != 1 {
			return fmt.Errorf("fused ops %v with %d args are not supported",
				fusedOps, attrI(n, "num_args"))
		}
		if len(vs) != 3 {
			return fmt.Errorf("fused conv with %d inputs", len(vs))
		}
	} else if len(vs) != 2 {
		return fmt.Errorf("conv with %d inputs", len(vs))
	}
	x, err := c.toNCHW(vs[0])
	if err != nil {
		return err
	}
	f := vs[1].konst
	if f == nil || len(f.shape) != 4 || f.f == nil {
		return errors.New("filter is not a constant 4-D float tensor")
	}
	kh, kw, ci, co := f.shape[0], f.shape[1], f.shape[2], f.shape[3]
	var w *constant
	group := int64(1)
	if depthwise {
		// TF [kh, kw, in, mult] -> ONNX [in*mult, 1, kh, kw] with one group
		// per input channel; TF numbers the outputs in*mult + m, as ONNX does.
		group = ci
		w = &constant{dtype: f.dtype, shape: []int64{ci * co, 1, kh, kw}}
		w.f = make([]float32, len(f.f))
		for y := int64(0); y < kh; y++ {
			for xx := int64(0); xx < kw; xx++ {
				for i := int64(0); i < ci; i++ {
					for m := int64(0); m < co; m++ {
						w.f[((i*co+m)*kh+y)*kw+xx] = f.f[((y*kw+xx)*ci+i)*co+m]
					}
				}
			}
		}
	} else {
		// TF HWIO -> ONNX OIHW.
		w = &constant{dtype: f.dtype, shape: []int64{co, ci, kh, kw}}
		w.f = make([]float32, len(f.f))
		for y := int64(0); y < kh; y++ {
			for xx := int64(0); xx < kw; xx++ {
				for i := int64(0); i < ci; i++ {
					for o := int64(0); o < co; o++ {
						w.f[((o*ci+i)*kh+y)*kw+xx] = f.f[((y*kw+xx)*ci+i)*co+o]
					}
				}
			}
		}
	}
	strides, err := spatial(n, "strides")
	if err != nil {
		return err
	}
	dil, err := spatial(n, "dilations")
	if err != nil {
		return err
	}
	pad, err := padAttr(n)
	if err != nil {
		return err
	}
	ins := []string{x.name, c.initializer(n.Name+"/W", w)}
	if fused {
		b := vs[2].konst
		if b == nil || len(b.shape) != 1 {
			return errors.New("bias is not a constant vector")
		}
		ins = append(ins, c.initializer(n.Name+"/B", b))
	}
	out := c.op1("Conv", n.Name, ins,
		attrInts("kernel_shape", []int64{kh, kw}),
		attrInts("strides", strides),
		attrInts("dilations", dil),
		attrInt("group", group),
		pad)
	for _, op := range fusedOps[min(1, len(fusedOps)):] {
		switch op {
		case "Relu":
			out = c.op1("Relu", n.Name+"/relu", []string{out})
		case "Relu6":
			out = c.clip(out, 0, 6)
		default:
			return fmt.Errorf("fused activation %q is not supported", op)
		}
	}
	c.set(n, &value{name: out, dtype: onnx.TensorProto_FLOAT, rank: 4, nchw: true})
	return nil
}

func (c *converter) clip(in string, lo, hi float32) string {
	loName := c.initializer("clip_min", &constant{dtype: onnx.TensorProto_FLOAT, f: []float32{lo}})
	hiName := c.initializer("clip_max", &constant{dtype: onnx.TensorProto_FLOAT, f: []float32{hi}})
	return c.op1("Clip", "relu6", []string{in, loName, hiName})
}

var binaryOps = map[string]string{
	"Add": "Add", "AddV2": "Add", "Mul": "Mul", "Sub": "Sub", "RealDiv": "Div", "Equal": "Equal",
}

func (c *converter) binary(n *tfNode) error {
	vs, err := c.inputs(n)
	if err != nil {
		return err
	}
	if len(vs) != 2 {
		return fmt.Errorf("%d inputs", len(vs))
	}
	a, b := vs[0], vs[1]
	nchw := a.nchw || b.nchw
	if nchw {
		if a, err = c.toNCHW(a); err != nil {
			return err
		}
		if b, err = c.toNCHW(b); err != nil {
			return err
		}
	}
	an, err := c.emitted(a)
	if err != nil {
		return err
	}
	bn, err := c.emitted(b)
	if err != nil {
		return err
	}
	dt := a.dtype
	if n.Op == "Equal" {
		dt = onnx.TensorProto_BOOL
	}
	out := c.op1(binaryOps[n.Op], n.Name, []string{an, bn})
	c.set(n, &value{name: out, dtype: dt, rank: max(a.rank, b.rank), nchw: nchw})
	return nil
}

// unary handles ops that act elementwise and so keep any layout.
func (c *converter) unary(n *tfNode, op string) error {
	vs, err := c.inputs(n)
	if err != nil {
		return err
	}
	x := vs[0]
	in, err := c.emitted(x)
	if err != nil {
		return err
	}
	out := c.op1(op, n.Name, []string{in})
	c.set(n, &value{name: out, dtype: x.dtype, rank: x.rank, nchw: x.nchw})
	return nil
}

func (c *converter) relu6(n *tfNode) error {
	vs, err := c.inputs(n)
	if err != nil {
		return err
	}
	x := vs[0]
	in, err := c.emitted(x)
	if err != nil {
		return err
	}
	c.set(n, &value{name: c.clip(in, 0, 6), dtype: x.dtype, rank: x.rank, nchw: x.nchw})
	return nil
}

func (c *converter) cast(n *tfNode) error {
	vs, err := c.inputs(n)
	if err != nil {
		return err
	}
	dt, ok := tfTypes[n.Attr["DstT"].Type]
	if !ok {
		return fmt.Errorf("cast to %s is not supported", n.Attr["DstT"].Type)
	}
	x := vs[0]
	in, err := c.emitted(x)
	if err != nil {
		return err
	}
	out := c.op1("Cast", n.Name, []string{in}, attrInt("to", int64(dt)))
	c.set(n, &value{name: out, dtype: dt, rank: x.rank, nchw: x.nchw})
	return nil
}

// nchwAxis maps a TF axis of a 4-D NHWC tensor onto the NCHW one.
func nchwAxis(a int64) int64 {
	if a < 0 {
		a += 4
	}
	return [...]int64{0, 2, 3, 1}[a]
}

func (c *converter) mean(n *tfNode) error {
	vs, err := c.inputs(n)
	if err != nil {
		return err
	}
	x, axes := vs[0], vs[1].konst
	if axes == nil {
		return errors.New("reduction axes are not constant")
	}
	keep := n.Attr["keep_dims"].B
	ax := append([]int64(nil), axes.ints()...)
	nchw := x.nchw && keep
	if x.nchw && !keep {
		if x, err = c.native(x); err != nil {
			return err
		}
	}
	if nchw {
		for i := range ax {
			ax[i] = nchwAxis(ax[i])
		}
	}
	keepI := int64(0)
	rank := x.rank - len(ax)
	if keep {
		keepI, rank = 1, x.rank
	}
	out := c.op1("ReduceMean", n.Name, []string{x.name}, attrInts("axes", ax),
		attrInt("keepdims", keepI))
	c.set(n, &value{name: out, dtype: x.dtype, rank: rank, nchw: nchw})
	return nil
}

func (c *converter) concat(n *tfNode) error {
	vs, err := c.inputs(n)
	if err != nil {
		return err
	}
	axisV := vs[len(vs)-1].konst
	if axisV == nil {
		return errors.New("axis is not constant")
	}
	axis := axisV.ints()[0]
	vs = vs[:len(vs)-1]
	nchw := false
	for _, v := range vs {
		nchw = nchw || v.nchw
	}
	var names []string
	for _, v := range vs {
		if nchw {
			if v, err = c.toNCHW(v); err != nil {
				return err
			}
		}
		name, err := c.emitted(v)
		if err != nil {
			return err
		}
		names = append(names, name)
	}
	if nchw {
		axis = nchwAxis(axis)
	}
	out := c.op1("Concat", n.Name, names, attrInt("axis", axis))
	c.set(n, &value{name: out, dtype: vs[0].dtype, rank: vs[0].rank, nchw: nchw})
	return nil
}

func (c *converter) resize(n *tfNode) error {
	vs, err := c.inputs(n)
	if err != nil {
		return err
	}
	x, err := c.toNCHW(vs[0])
	if err != nil {
		return err
	}
	size := vs[1].konst
	if size == nil || len(size.ints()) != 2 {
		return errors.New("size is not a constant [h, w]")
	}
	// TF's flags name the coordinate mapping; with neither set, TF maps an
	// output pixel x to the source position x*in/out, ONNX's "asymmetric".
	mode := "asymmetric"
	switch {
	case n.Attr["align_corners"].B && n.Attr["half_pixel_centers"].B:
		return errors.New("align_corners with half_pixel_centers")
	case n.Attr["align_corners"].B:
		mode = "align_corners"
	case n.Attr["half_pixel_centers"].B:
		mode = "half_pixel"
	}
	// Resize wants sizes for all four dimensions; N and C come from the
	// input's own shape so that no static shape inference is needed here.
	shape := c.op1("Shape", n.Name+"/shape", []string{x.name})
	nc := c.op1("Slice", n.Name+"/nc", []string{shape,
		c.initializer("starts", int64s(0)), c.initializer("ends", int64s(2))})
	sizes := c.op1("Concat", n.Name+"/sizes",
		[]string{nc, c.initializer("hw", int64s(size.ints()...))}, attrInt("axis", 0))
	out := c.op1("Resize", n.Name, []string{x.name, "", "", sizes},
		attrString("mode", "linear"),
		attrString("coordinate_transformation_mode", mode))
	c.set(n, &value{name: out, dtype: x.dtype, rank: 4, nchw: true})
	return nil
}

func (c *converter) maxPool(n *tfNode) error {
	if err := c.checkNHWC(n); err != nil {
		return err
	}
	vs, err := c.inputs(n)
	if err != nil {
		return err
	}
	x, err := c.toNCHW(vs[0])
	if err != nil {
		return err
	}
	k, err := spatial(n, "ksize")
	if err != nil {
		return err
	}
	s, err := spatial(n, "strides")
	if err != nil {
		return err
	}
	pad, err := padAttr(n)
	if err != nil {
		return err
	}
	out := c.op1("MaxPool", n.Name, []string{x.name},
		attrInts("kernel_shape", k), attrInts("strides", s), pad)
	c.set(n, &value{name: out, dtype: x.dtype, rank: 4, nchw: true})
	return nil
}

func (c *converter) reshape(n *tfNode) error {
	vs, err := c.inputs(n)
	if err != nil {
		return err
	}
	x, err := c.native(vs[0])
	if err != nil {
		return err
	}
	shape := vs[1].konst
	if shape == nil {
		return errors.New("shape is not constant")
	}
	in, err := c.emitted(x)
	if err != nil {
		return err
	}
	s := shape.ints()
	out := c.op1("Reshape", n.Name, []string{in, c.initializer("shape", int64s(s...))})
	c.set(n, &value{name: out, dtype: x.dtype, rank: len(s)})
	return nil
}

func (c *converter) topK(n *tfNode) error {
	vs, err := c.inputs(n)
	if err != nil {
		return err
	}
	x, err := c.native(vs[0])
	if err != nil {
		return err
	}
	k := vs[1].konst
	if k == nil {
		return errors.New("k is not constant")
	}
	vals, idx := c.fresh(n.Name+"/values"), c.fresh(n.Name+"/indices")
	// ONNX always sorts when asked to; TF's sorted=false allows any order,
	// so sorting is correct either way.
	c.node("TopK", []string{x.name, c.initializer("k", int64s(k.ints()[0]))},
		[]string{vals, idx}, attrInt("axis", -1), attrInt("largest", 1), attrInt("sorted", 1))
	// TF's indices are int32 and the graph does int32 arithmetic on them.
	idx32 := c.op1("Cast", n.Name+"/indices32", []string{idx},
		attrInt("to", int64(onnx.TensorProto_INT32)))
	c.values[n.Name] = &value{name: vals, dtype: x.dtype, rank: x.rank}
	c.values[n.Name+":0"] = c.values[n.Name]
	c.values[n.Name+":1"] = &value{name: idx32, dtype: onnx.TensorProto_INT32, rank: x.rank}
	return nil
}

// floorDivMod converts TF's flooring division and modulo. ONNX Div on
// integers truncates, so FloorDiv is built exactly as (a - mod(a, b)) / b,
// where ONNX Mod with fmod=0 takes the divisor's sign just as TF's FloorMod.
func (c *converter) floorDivMod(n *tfNode) error {
	vs, err := c.inputs(n)
	if err != nil {
		return err
	}
	a, b := vs[0], vs[1]
	if a.nchw || b.nchw {
		if a, err = c.native(a); err != nil {
			return err
		}
		if b, err = c.native(b); err != nil {
			return err
		}
	}
	an, err := c.emitted(a)
	if err != nil {
		return err
	}
	bn, err := c.emitted(b)
	if err != nil {
		return err
	}
	var out string
	switch {
	case a.dtype == onnx.TensorProto_FLOAT && n.Op == "FloorDiv":
		out = c.op1("Floor", n.Name, []string{c.op1("Div", n.Name+"/div", []string{an, bn})})
	case a.dtype == onnx.TensorProto_FLOAT: // a - floor(a/b)*b
		q := c.op1("Floor", n.Name+"/q", []string{c.op1("Div", n.Name+"/div", []string{an, bn})})
		out = c.op1("Sub", n.Name, []string{an, c.op1("Mul", n.Name+"/qb", []string{q, bn})})
	case n.Op == "FloorMod":
		out = c.op1("Mod", n.Name, []string{an, bn}, attrInt("fmod", 0))
	default:
		m := c.op1("Mod", n.Name+"/mod", []string{an, bn}, attrInt("fmod", 0))
		out = c.op1("Div", n.Name, []string{c.op1("Sub", n.Name+"/sub", []string{an, m}), bn})
	}
	c.set(n, &value{name: out, dtype: a.dtype, rank: max(a.rank, b.rank)})
	return nil
}

func (c *converter) expandDims(n *tfNode) error {
	vs, err := c.inputs(n)
	if err != nil {
		return err
	}
	x, err := c.native(vs[0])
	if err != nil {
		return err
	}
	dim := vs[1].konst
	if dim == nil {
		return errors.New("dim is not constant")
	}
	in, err := c.emitted(x)
	if err != nil {
		return err
	}
	// TF's dim and ONNX's axes agree for negative values too: both count
	// from the end of the expanded shape.
	out := c.op1("Unsqueeze", n.Name,
		[]string{in, c.initializer("axes", int64s(dim.ints()[0]))})
	c.set(n, &value{name: out, dtype: x.dtype, rank: x.rank + 1})
	return nil
}

func (c *converter) gather(n *tfNode) error {
	if attrI(n, "batch_dims") != 0 {
		return errors.New("batch_dims != 0 is not supported")
	}
	vs, err := c.inputs(n)
	if err != nil {
		return err
	}
	x, err := c.native(vs[0])
	if err != nil {
		return err
	}
	idx, err := c.native(vs[1])
	if err != nil {
		return err
	}
	axis := vs[2].konst
	if axis == nil {
		return errors.New("axis is not constant")
	}
	xn, err := c.emitted(x)
	if err != nil {
		return err
	}
	in, err := c.emitted(idx)
	if err != nil {
		return err
	}
	out := c.op1("Gather", n.Name, []string{xn, in}, attrInt("axis", axis.ints()[0]))
	c.set(n, &value{name: out, dtype: x.dtype, rank: x.rank - 1 + idx.rank})
	return nil
}

func (c *converter) stridedSlice(n *tfNode) error {
	for _, m := range []string{"ellipsis_mask", "new_axis_mask", "shrink_axis_mask"} {
		if attrI(n, m) != 0 {
			return fmt.Errorf("%s is not supported", m)
		}
	}
	vs, err := c.inputs(n)
	if err != nil {
		return err
	}
	x, err := c.native(vs[0])
	if err != nil {
		return err
	}
	if vs[1].konst == nil || vs[2].konst == nil || vs[3].konst == nil {
		return errors.New("begin, end or strides are not constant")
	}
	begin, end, steps := vs[1].konst.ints(), vs[2].konst.ints(), vs[3].konst.ints()
	bm, em := attrI(n, "begin_mask"), attrI(n, "end_mask")
	var starts, ends, axes []int64
	for i := range begin {
		s, e := begin[i], end[i]
		// A set mask bit means "from the very start / to the very end" in
		// the direction of the step.
		if bm&(1<<i) != 0 {
			s = 0
			if steps[i] < 0 {
				s = math.MaxInt64
			}
		}
		if em&(1<<i) != 0 {
			e = math.MaxInt64
			if steps[i] < 0 {
				e = math.MinInt64
			}
		}
		starts, ends, axes = append(starts, s), append(ends, e), append(axes, int64(i))
	}
	in, err := c.emitted(x)
	if err != nil {
		return err
	}
	out := c.op1("Slice", n.Name, []string{in,
		c.initializer("starts", int64s(starts...)),
		c.initializer("ends", int64s(ends...)),
		c.initializer("axes", int64s(axes...)),
		c.initializer("steps", int64s(steps...))})
	c.set(n, &value{name: out, dtype: x.dtype, rank: x.rank})
	return nil
}
