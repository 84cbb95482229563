package main

import (
	"slices"
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
