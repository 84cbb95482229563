package main

import (
	"slices"
	"strings"
	"testing"

	"github.com/krelu/krelu/llama2c"
)

// TestSampleStoriesMatchesCalibrate: the parallel sampler of krelu distill
// gives krelu calibrate's --text stories:N, in order.
func TestSampleStoriesMatchesCalibrate(t *testing.T) {
	m, tok, err := llama2c.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	want, err := calibUnits("stories:3", m, tok, 4)
	if err != nil {
		t.Fatal(err)
	}
	got, err := sampleStories(m, tok, 3, 4, 2)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("parallel sampling\n got %q\nwant %q", got, want)
	}
}

// TestLLMHERefusesSmallPreset: at --logn 13 the committed distilled model's
// last FFN outputs do not fit N13-L5's headroom, and llm-he says so (in
// about a second, before any key is made) instead of decrypting garbage.
func TestLLMHERefusesSmallPreset(t *testing.T) {
	p := "../../llama2c/model/stories260K-q2"
	var out, errb strings.Builder
	code := krelu([]string{"llm-he", "--model", p + ".bin", "--activation",
		p + ".L0.json," + p + ".L1.json," + p + ".L2.json," + p + ".L3.json," + p + ".L4.json", "--units", "40", "--logn", "13"}, &out, &errb)
	if code != 2 {
		t.Fatalf("exit %d, want 2 (usage); stderr:\n%s", code, errb.String())
	}
	for _, want := range []string{"--logn 13", "layer 4", "N13-L5", "use a larger --logn"} {
		if !strings.Contains(errb.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, errb.String())
		}
	}
	if out.Len() != 0 {
		t.Errorf("stdout not empty:\n%s", out.String())
	}
}
