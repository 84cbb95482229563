package graph

import (
	"fmt"
	"sort"
	"strings"
)

// NodeSummary describes one node for inspection.
type NodeSummary struct {
	Name    string   `json:"name"`
	Op      string   `json:"op"`
	Inputs  []string `json:"inputs"`
	Outputs []string `json:"outputs"`
	// OutShapes are the static shapes of Outputs.
	OutShapes [][]int `json:"out_shapes"`
	// Params counts the elements of the initializers the node reads.
	Params int `json:"params"`
	// Activation is true for ops an HE compiler must replace by a
	// polynomial (ActivationOps).
	Activation bool `json:"activation"`
}

// Summary is what `krelu inspect` prints about a graph.
type Summary struct {
	Name    string      `json:"name"`
	Opset   int         `json:"opset"`
	Inputs  []ValueInfo `json:"inputs"`
	Outputs []ValueInfo `json:"outputs"`
	// Params counts the elements of all initializers: weights, biases,
	// BatchNorm statistics and constant tensors.
	Params      int            `json:"params"`
	OpCounts    map[string]int `json:"op_counts"`
	Nodes       []NodeSummary  `json:"nodes"`
	Activations int            `json:"activations"`
}

// Summarize validates the graph, infers its shapes and returns a summary.
func (g *Graph) Summarize() (*Summary, error) {
	shapes, err := g.InferShapes()
	if err != nil {
		return nil, err
	}
	s := &Summary{Name: g.Name, Opset: g.Opset, Inputs: append([]ValueInfo(nil), g.Inputs...),
		Outputs: append([]ValueInfo(nil), g.Outputs...), OpCounts: map[string]int{}}
	for _, t := range g.Initializers {
		s.Params += t.Size()
	}
	for i := range s.Outputs {
		s.Outputs[i].Shape = shapes[s.Outputs[i].Name]
	}
	for _, n := range g.Nodes {
		ns := NodeSummary{Name: n.Name, Op: n.Op, Inputs: n.Inputs, Outputs: n.Outputs, Activation: ActivationOps[n.Op]}
		for _, o := range n.Outputs {
			ns.OutShapes = append(ns.OutShapes, shapes[o])
		}
		for _, in := range n.Inputs {
			if t, ok := g.Initializers[in]; ok {
				ns.Params += t.Size()
			}
		}
		if ns.Activation {
			s.Activations++
		}
		s.OpCounts[n.Op]++
		s.Nodes = append(s.Nodes, ns)
	}
	return s, nil
}

// String renders the summary as a text table.
func (s *Summary) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "graph %q (opset %d): %d nodes, %d parameters, %d activations to replace\n", s.Name, s.Opset, len(s.Nodes), s.Params, s.Activations)
	for _, in := range s.Inputs {
		fmt.Fprintf(&b, "input  %s %s %s\n", in.Name, shapeString(in.Shape), in.DType)
	}
	for _, out := range s.Outputs {
		fmt.Fprintf(&b, "output %s %s\n", out.Name, shapeString(out.Shape))
	}
	ops := make([]string, 0, len(s.OpCounts))
	for k := range s.OpCounts {
		ops = append(ops, k)
	}
	sort.Strings(ops)
	b.WriteString("ops:")
	for _, k := range ops {
		fmt.Fprintf(&b, " %s×%d", k, s.OpCounts[k])
	}
	b.WriteString("\n")
	for i, n := range s.Nodes {
		mark := " "
		if n.Activation {
			mark = "*"
		}
		sh := make([]string, len(n.OutShapes))
		for j, o := range n.OutShapes {
			sh[j] = shapeString(o)
		}
		fmt.Fprintf(&b, "%3d %s %-20s %-24s → %s params=%d\n", i, mark, n.Op, n.Name, strings.Join(sh, ","), n.Params)
	}
	return b.String()
}
