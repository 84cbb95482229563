package approx

import "testing"

// FuzzParseSource: any --data specification parses to a source or an
// error, never a panic.
func FuzzParseSource(f *testing.F) {
	for _, s := range []string{"normal", "normal:0,1", "uniform:-1,1", "laplace:1", "t:3", "mix:0.5*normal:0,1+0.5*laplace:2", "t:0", "uniform:1,-1", "normal:NaN,1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		_, _ = ParseSource(s)
	})
}
