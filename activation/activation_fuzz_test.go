package activation

import (
	"bytes"
	"math"
	"testing"
)

// FuzzReadActivation: any bytes give a validated activation or an error;
// an accepted one writes and reads back to the same coefficients.
func FuzzReadActivation(f *testing.F) {
	var buf bytes.Buffer
	if err := validActivation().WriteJSON(&buf); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	f.Add([]byte(`{"format":"krelu.activation/v1","target":"relu","kernel":"none","degree":2,"coefficients":[0,0.5,1e308]}`))
	f.Add([]byte(`{"coefficients":[NaN]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := Read(bytes.NewReader(b))
		if err != nil {
			return
		}
		for _, c := range a.Coefficients {
			if math.IsNaN(c) || math.IsInf(c, 0) {
				t.Fatalf("accepted a non-finite coefficient: %v", a.Coefficients)
			}
		}
		var out bytes.Buffer
		if err := a.WriteJSON(&out); err != nil {
			t.Fatalf("accepted activation does not write: %v", err)
		}
		b2, err := Read(&out)
		if err != nil {
			t.Fatalf("accepted activation does not read back: %v", err)
		}
		if len(b2.Coefficients) != len(a.Coefficients) {
			t.Fatalf("round trip changed the coefficients: %v → %v", a.Coefficients, b2.Coefficients)
		}
	})
}
