package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/krelu/krelu/transformer"
)

// sst2Export writes an SST-2 transformer as an ONNX graph
// (transformer.ExportONNX) or, with --client, its client tables
// (transformer.ExportClient).
func sst2Export(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("sst2 export", stderr)
	model := modelFlag(fs, "model file (required)")
	tokens := fs.Int("tokens", 0, "sentence length the graph takes, in tokens (ONNX shapes are static): 0 for the model's maximum length, or 1..4096 (at most the model's)")
	client := fs.Bool("client", false, "write the client tables of an HE-friendly model instead (vocabulary, embedding lookup, shape, encoder fingerprint; no layer weight) for krelu client --task sst2 --model")
	out := fs.String("o", "", "output file (required): MODEL.onnx, or with --client CLIENT.gob")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	setUsage(fs, stderr, "krelu sst2 export --model MODEL [--tokens N] -o MODEL.onnx [--json]\n"+
		"       krelu sst2 export --model MODEL --client -o CLIENT.gob [--json]",
		"--client writes what a client of krelu serve needs to encrypt sentences for this model and\n"+
			"nothing else: the vocabulary, the token table E·P + b and the position table, the encoder's\n"+
			"shape and the SHA-256 of its weights (which the server publishes), no layer weight.\n")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *client {
		if err := firstErr(needs(fs, "tokens", false, "an ONNX export (without --client)"),
			required("model", *model, "MODEL"), required("o", *out, "CLIENT.gob")); err != nil {
			return err
		}
		if !strings.HasSuffix(*out, ".gob") {
			return fmt.Errorf("%w: -o %q: --client writes a .gob file; want an output path ending in .gob", errUsage, *out)
		}
		rep, err := transformer.ExportClient(*model, *out)
		if err != nil {
			return err
		}
		if *asJSON {
			return writeJSON(stdout, rep)
		}
		fmt.Fprintf(stdout, "%s: client tables for %d words, width %d, ≤ %d tokens, %d layer(s); encoder weights sha256 %s\n",
			*model, rep.Words, rep.Dim, rep.MaxTokens, rep.Layers, rep.Encoder)
		fmt.Fprintf(stdout, "wrote %s (%d bytes; the whole model is %d bytes)\n", rep.Output, rep.Bytes, rep.ModelBytes)
		return nil
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
