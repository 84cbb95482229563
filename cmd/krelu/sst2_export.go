package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/krelu/krelu/transformer"
)

// sst2Export writes an SST-2 transformer as an ONNX graph (transformer.ExportONNX).
func sst2Export(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("sst2 export", stderr)
	model := modelFlag(fs, "model file (required)")
	tokens := fs.Int("tokens", 0, "sentence length the graph takes, in tokens (ONNX shapes are static): 0 for the model's maximum length, or 1..4096 (at most the model's)")
	out := fs.String("o", "", "output ONNX file (required, .onnx)")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	setUsage(fs, stderr, "krelu sst2 export --model MODEL [--tokens N] -o MODEL.onnx [--json]", "")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := firstErr(intRangeOrZero("tokens", *tokens, 1, 4096, "the model's maximum length"),
		required("model", *model, "MODEL"), required("o", *out, "MODEL.onnx")); err != nil {
		return err
	}
	if !strings.HasSuffix(*out, ".onnx") {
		return fmt.Errorf("%w: -o %q: want an output path ending in .onnx", errUsage, *out)
	}
	rep, err := transformer.ExportONNX(*model, *tokens, *out)
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(stdout, rep)
	}
	fmt.Fprintf(stdout, "%s: %d-token input (ids), activation %s, opset %d, %d nodes, %d parameters; graph runtime matches the model to %.2g\n",
		*model, rep.Tokens, rep.Activation, rep.Opset, rep.Nodes, rep.Params, rep.CheckMaxDiff)
	fmt.Fprintf(stdout, "wrote %s\n", rep.Output)
	return nil
}
