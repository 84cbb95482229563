package he

import (
	"bytes"
	"errors"
	"runtime"
	"testing"
)

// TestEvaluationKeysHostileParameters sends a few hundred bytes naming the
// LogN 16 preset as evaluation keys: the decoder must reject them from the
// size before building the preset's key templates (which take gigabytes).
func TestEvaluationKeysHostileParameters(t *testing.T) {
	var p16 Preset
	for _, p := range Presets() {
		if p.Literal.LogN == 16 {
			p16 = p
		}
	}
	params, err := NewParameters(p16.Literal)
	if err != nil {
		t.Fatal(err)
	}
	pj, err := params.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	var payload bytes.Buffer
	putBlob(&payload, pj)
	putBlob(&payload, make([]byte, 64))
	var frame bytes.Buffer
	if _, err := writeFrame(&frame, KindEvaluationKeys, Fingerprint(params), payload.Bytes()); err != nil {
		t.Fatal(err)
	}
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	_, err = ReadEvaluationKeys(bytes.NewReader(frame.Bytes()))
	runtime.ReadMemStats(&m1)
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("tiny key set for LogN 16: %v; want ErrCorrupt", err)
	}
	if a := m1.TotalAlloc - m0.TotalAlloc; a > 256<<20 {
		t.Errorf("rejecting %d bytes allocated %d MB", frame.Len(), a>>20)
	}
}

// TestReadEvaluationKeysFor checks that keys for other parameters are
// refused from the header, and that the template cache stays small
// (structure runs, not key-sized copies) after reading keys with rotations.
func TestReadEvaluationKeysFor(t *testing.T) {
	f := getFixture(t, 13, 1)
	keys, err := f.owner.EvaluationKeys(1, 2, 3)
	if err != nil {
		t.Fatal(err)
	}
	var kb bytes.Buffer
	if _, err := keys.WriteTo(&kb); err != nil {
		t.Fatal(err)
	}
	ek, err := ReadEvaluationKeysFor(bytes.NewReader(kb.Bytes()), f.plan.Params)
	if err != nil {
		t.Fatal(err)
	}
	if !ek.HasRotation(3) || ek.Size() != keys.Size() {
		t.Errorf("read back %d bytes of keys (want %d), rotation 3: %v", ek.Size(), keys.Size(), ek.HasRotation(3))
	}
	if n := ek.Retain(1, 3); n != 1 || ek.HasRotation(2) || !ek.HasRotation(1) {
		t.Errorf("Retain(1, 3) dropped %d keys; rotation 2 kept: %v", n, ek.HasRotation(2))
	}
	tpl := templatesFor(f.plan.Params)
	var held int
	for _, tp := range []template{tpl.pk, tpl.rlk, tpl.gal} {
		for _, r := range tp.runs {
			held += len(r.b)
		}
	}
	if held > 64<<10 {
		t.Errorf("templates hold %d bytes of structure for keys of %d bytes", held, tpl.rlk.size)
	}
	other := getFixture(t, 14, 1)
	_, err = ReadEvaluationKeysFor(bytes.NewReader(kb.Bytes()), other.plan.Params)
	if !errors.Is(err, ErrOtherParameters) {
		t.Errorf("keys for LogN 13 read as LogN 14: %v; want ErrOtherParameters", err)
	}
}
