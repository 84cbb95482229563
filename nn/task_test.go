package nn

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"strings"
	"testing"
)

// TestCheckTask: a checkpoint records its task, input shape and
// preprocessing; using it for another task is ErrTaskMismatch, and an old
// checkpoint without a task needs the caller to name one.
func TestCheckTask(t *testing.T) {
	n, err := NewMLP([]int{4, 3, 2}, nil, 1)
	if err != nil {
		t.Fatal(err)
	}
	n.Task, n.InputShape, n.Preprocess = "digits", []int{2, 2}, "x/255"
	var buf bytes.Buffer
	if err := n.Save(&buf); err != nil {
		t.Fatal(err)
	}
	m, err := Load(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if m.Task != "digits" || m.Preprocess != "x/255" || len(m.InputShape) != 2 || m.Clone().Preprocess != "x/255" {
		t.Fatalf("reloaded task %q shape %v preprocess %q", m.Task, m.InputShape, m.Preprocess)
	}
	for _, c := range []struct {
		task       string
		explicit   bool
		shape      []int
		preprocess string
		want       string // "" = accepted
	}{
		{"digits", false, []int{2, 2}, "x/255", ""},
		{"digits", true, []int{2, 2}, "x/255", ""},
		{"clothes", true, []int{2, 2}, "x/255", "trained for digits, not clothes"},
		{"digits", false, []int{4}, "x/255", "inputs of shape [2 2]"},
		{"digits", false, []int{3, 3}, "x/255", "takes 4 inputs"},
		{"digits", false, []int{2, 2}, "x/127.5-1", `preprocessed as "x/255"`},
	} {
		err := m.CheckTask(c.task, c.explicit, c.shape, c.preprocess)
		if c.want == "" {
			if err != nil {
				t.Errorf("%+v: %v", c, err)
			}
			continue
		}
		if !errors.Is(err, ErrTaskMismatch) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: error %v, want ErrTaskMismatch containing %q", c, err, c.want)
		}
	}
	// A version-1 checkpoint, written before tasks were recorded.
	n.Task, n.InputShape, n.Preprocess = "", nil, ""
	buf.Reset()
	if err := n.Save(&buf); err != nil {
		t.Fatal(err)
	}
	v1 := buf.Bytes()
	binary.LittleEndian.PutUint32(v1[len(Magic):], 1)
	binary.LittleEndian.PutUint32(v1[len(v1)-4:], crc32.ChecksumIEEE(v1[:len(v1)-4]))
	if n, err = Load(bytes.NewReader(v1)); err != nil || n.Task != "" {
		t.Fatalf("version 1: task %q, %v", n.Task, err)
	}
	if err := n.CheckTask("digits", false, []int{2, 2}, "x/255"); !errors.Is(err, ErrTaskMismatch) || !strings.Contains(err.Error(), "explicitly") {
		t.Errorf("old checkpoint without --task: %v", err)
	}
	if err := n.CheckTask("digits", true, []int{2, 2}, "x/255"); err != nil {
		t.Errorf("old checkpoint with --task: %v", err)
	}
}
