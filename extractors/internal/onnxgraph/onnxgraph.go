// Package onnxgraph is a small builder for ONNX graphs written from Go with
// the protobuf types of github.com/advancedclimatesystems/gonnx/onnx. It owns
// naming, constants and deterministic serialisation; it knows nothing about
// any particular model.
package onnxgraph

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/advancedclimatesystems/gonnx/onnx"
	"google.golang.org/protobuf/proto"
)

// Element types used by the project's graphs.
const (
	Float = onnx.TensorProto_FLOAT
	Int64 = onnx.TensorProto_INT64
	Int8  = onnx.TensorProto_INT8
)

// IRVersion is the ONNX IR version matching opset 17.
const IRVersion = 8

// Graph accumulates nodes, initializers, inputs and outputs.
type Graph struct {
	g    *onnx.GraphProto
	next int
}

// New starts an empty graph.
func New(name string) *Graph {
	return &Graph{g: &onnx.GraphProto{Name: name}}
}

// Dim is one dimension of a declared input or output: an int (fixed) or a
// string (symbolic, e.g. "batch").
type Dim any

func valueInfo(name string, elem onnx.TensorProto_DataType, dims []Dim) *onnx.ValueInfoProto {
	shape := &onnx.TensorShapeProto{}
	for _, d := range dims {
		switch v := d.(type) {
		case int:
			shape.Dim = append(shape.Dim, &onnx.TensorShapeProto_Dimension{Value: &onnx.TensorShapeProto_Dimension_DimValue{DimValue: int64(v)}})
		case int64:
			shape.Dim = append(shape.Dim, &onnx.TensorShapeProto_Dimension{Value: &onnx.TensorShapeProto_Dimension_DimValue{DimValue: v}})
		case string:
			shape.Dim = append(shape.Dim, &onnx.TensorShapeProto_Dimension{Value: &onnx.TensorShapeProto_Dimension_DimParam{DimParam: v}})
		default:
			panic(fmt.Sprintf("onnxgraph: dimension of type %T", d)) // programming error in a graph builder
		}
	}
	return &onnx.ValueInfoProto{Name: name, Type: &onnx.TypeProto{Value: &onnx.TypeProto_TensorType{TensorType: &onnx.TypeProto_Tensor{ElemType: int32(elem), Shape: shape}}}}
}

// Input declares a graph input and returns its name.
func (g *Graph) Input(name string, elem onnx.TensorProto_DataType, dims ...Dim) string {
	g.g.Input = append(g.g.Input, valueInfo(name, elem, dims))
	return name
}

// Output declares value as the graph output name (adding an Identity when
// the names differ).
func (g *Graph) Output(value, name string, elem onnx.TensorProto_DataType, dims ...Dim) {
	if value != name {
		g.NodeOut("Identity", []string{value}, []string{name})
	}
	g.g.Output = append(g.g.Output, valueInfo(name, elem, dims))
}

func (g *Graph) fresh(prefix string) string {
	g.next++
	return fmt.Sprintf("%s_%d", prefix, g.next)
}

// Floats adds a float32 initializer and returns its name.
func (g *Graph) Floats(dims []int64, data []float32) string {
	raw := make([]byte, 4*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(v))
	}
	return g.Raw(Float, dims, raw)
}

// Scalar adds a float32 scalar initializer.
func (g *Graph) Scalar(v float32) string { return g.Floats(nil, []float32{v}) }

// Ints adds an int64 initializer and returns its name.
func (g *Graph) Ints(dims []int64, data []int64) string {
	raw := make([]byte, 8*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint64(raw[8*i:], uint64(v))
	}
	return g.Raw(Int64, dims, raw)
}

// IntScalar adds an int64 scalar initializer.
func (g *Graph) IntScalar(v int64) string { return g.Ints(nil, []int64{v}) }

// Raw adds an initializer from little-endian raw bytes.
func (g *Graph) Raw(elem onnx.TensorProto_DataType, dims []int64, raw []byte) string {
	name := g.fresh("const")
	g.g.Initializer = append(g.g.Initializer, &onnx.TensorProto{Name: name, DataType: int32(elem), Dims: dims, RawData: raw})
	return name
}

// Attr is a node attribute.
type Attr = *onnx.AttributeProto

// AInt is an int attribute.
func AInt(name string, v int64) Attr {
	return &onnx.AttributeProto{Name: name, Type: onnx.AttributeProto_INT, I: v}
}

// AInts is an ints attribute.
func AInts(name string, v ...int64) Attr {
	return &onnx.AttributeProto{Name: name, Type: onnx.AttributeProto_INTS, Ints: v}
}

// AFloat is a float attribute.
func AFloat(name string, v float32) Attr {
	return &onnx.AttributeProto{Name: name, Type: onnx.AttributeProto_FLOAT, F: v}
}

// AString is a string attribute.
func AString(name, v string) Attr {
	return &onnx.AttributeProto{Name: name, Type: onnx.AttributeProto_STRING, S: []byte(v)}
}

// Node adds a single-output node and returns the output's name.
func (g *Graph) Node(op string, inputs []string, attrs ...Attr) string {
	out := g.fresh(op)
	g.NodeOut(op, inputs, []string{out}, attrs...)
	return out
}

// NodeOut adds a node with named outputs.
func (g *Graph) NodeOut(op string, inputs, outputs []string, attrs ...Attr) {
	g.g.Node = append(g.g.Node, &onnx.NodeProto{
		Name: g.fresh("n_" + op), OpType: op, Input: inputs, Output: outputs, Attribute: attrs,
	})
}

// Op is a shorthand for Node with inputs as varargs.
func (g *Graph) Op(op string, inputs ...string) string { return g.Node(op, inputs) }

// Model serialises the graph deterministically as an ONNX model importing
// the default domain at opset.
func (g *Graph) Model(opset int64, producer, doc string) ([]byte, error) {
	m := &onnx.ModelProto{
		IrVersion:       IRVersion,
		OpsetImport:     []*onnx.OperatorSetIdProto{{Domain: "", Version: opset}},
		ProducerName:    producer,
		ProducerVersion: "1",
		DocString:       doc,
		Graph:           g.g,
	}
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("marshal onnx model %s: %w", g.g.Name, err)
	}
	return b, nil
}
