package henn

import (
	"reflect"
	"strings"
	"testing"
)

// NewEncoderLayout, given only the public shape, rebuilds exactly the
// layout CompileEncoder made, and refuses shapes the parameters cannot
// hold.
func TestNewEncoderLayoutMatchesCompile(t *testing.T) {
	for _, c := range []struct{ dim, heads, hidden, tokens, layers, classes int }{
		{8, 2, 8, 4, 1, 2}, {16, 4, 32, 7, 1, 3}, {8, 1, 16, 1, 2, 2},
	} {
		m, err := CompileEncoder(randEncoder(1, c.dim, c.heads, c.hidden, c.tokens, c.layers, c.classes), Options{})
		if err != nil {
			t.Fatal(err)
		}
		l, err := NewEncoderLayout(m.Params(), c.dim, c.heads, c.tokens, c.classes, c.layers)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(l, m.Layout()) {
			t.Errorf("%+v: rebuilt layout %+v, compiled %+v", c, l, m.Layout())
		}
	}
	m, err := CompileEncoder(randEncoder(1, 8, 2, 8, 4, 1, 2), Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		dim, heads, tokens, classes, layers int
		want                                string
	}{
		{8, 3, 4, 2, 1, "multiple of the head count"},
		{12, 2, 4, 2, 1, "power-of-two head width"},
		{8, 2, 0, 2, 1, "want all > 0"},
		{8, 2, 4, 2, 2, "levels"},
		{8, 2, 4, 17, 1, "classes exceed"},
		{8, 2, 1 << 20, 2, 1, "slots"},
	} {
		if _, err := NewEncoderLayout(m.Params(), c.dim, c.heads, c.tokens, c.classes, c.layers); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want an error mentioning %q", c, err, c.want)
		}
	}
}
