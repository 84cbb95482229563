package llama2c

import (
	"strings"
	"testing"
)

// The first sentences of the greedy sample in llama2.c's doc/stories260K.md.
const knownSample = "Once upon a time, there was a little girl named Lily. She loved to play outside in the park."

// The whole greedy sample printed there by `./run stories260K.bin -z tok512.bin -t 0.0`
// (run.c's default of 256 steps).
const knownSampleFull = "Once upon a time, there was a little girl named Lily. She loved to play outside in the park. One day, she saw a big, red ball. She wanted to play with it, but it was too high.\n" +
	"Lily's mom said, \"Lily, let's go to the park.\" Lily was sad and didn't know what to do. She said, \"I want to play with your ball, but I can't find it.\"\n" +
	"Lily was sad and didn't know what to do. She said, \"I'm sorry, Lily. I didn't know what to do.\"\n" +
	"Lily didn't want to help her mom, so she said, \"I'm sorry, mom. I didn't know what to do.\" Her mom said, \"Don't worry, Lily. We can help you."

func TestGreedyReproducesKnownSample(t *testing.T) {
	m, tok, err := Embedded()
	if err != nil {
		t.Fatal(err)
	}
	text, _, err := Generate(m, tok, GenerateOptions{Steps: 40})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(text, knownSample) {
		t.Fatalf("greedy sample\n got %q\nwant prefix %q", text, knownSample)
	}
}

func TestGreedyFullSample(t *testing.T) {
	m, tok, err := Embedded()
	if err != nil {
		t.Fatal(err)
	}
	text, toks, err := Generate(m, tok, GenerateOptions{Steps: 256})
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimRight(text, "\n") != knownSampleFull {
		t.Fatalf("greedy 256-step sample (%d tokens)\n got %q\nwant %q", len(toks), text, knownSampleFull)
	}
}
