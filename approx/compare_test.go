package approx

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"strings"
	"testing"
)

func TestCompareRowsAndRenderers(t *testing.T) {
	c, err := Compare(CompareOptions{Bandwidth: 0.5, Calibration: Uniform{-4, 4}})
	if err != nil {
		t.Fatal(err)
	}
	names := []string{"kernel LS", "direct LS", "x²", "Faster CryptoNets", "HE-friendly", "uniform LS", "minimax deg 2",
		"Chebyshev interp deg 2", "minimax deg 4", "minimax deg 7", "composite sign"}
	if len(c.Rows) != len(names) {
		t.Fatalf("%d rows, want %d", len(c.Rows), len(names))
	}
	for i, n := range names {
		if !strings.HasPrefix(c.Rows[i].Name, n) {
			t.Errorf("row %d is %q, want %q", i, c.Rows[i].Name, n)
		}
	}
	// On uniform data the direct LS fit is the uniform LS fit, and
	// minimax deg 2 is the closed form with max error B/16.
	checkPoly(t, "direct", c.Rows[1].Coefficients, UniformLSReLU(4), 1e-9)
	if !near(c.Rows[6].Metrics.MaxAbs, 0.25, 1e-12) || !near(c.MinimaxOpt, 0.25, 1e-9) {
		t.Errorf("minimax row max %v, optimum %v", c.Rows[6].Metrics.MaxAbs, c.MinimaxOpt)
	}
	// The direct fit has the least RMSE of all rows of its depth: it
	// minimises exactly that on this data.
	if !c.Rows[1].isBest("rmse") {
		t.Errorf("direct LS not marked best RMSE: %+v", c.Rows[1].Best)
	}
	if !strings.Contains(c.KernelVerdict, "RMSE: kernel LOSES") {
		t.Errorf("verdict %q", c.KernelVerdict)
	}
	for _, r := range c.Rows {
		if r.Group == GroupReference && len(r.Best) > 0 {
			t.Errorf("reference %s marked best", r.Name)
		}
	}
	var md, cs, js bytes.Buffer
	if err := c.Write(&md, "md"); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(md.String(), "| direct LS (kernel none) | method | 0.375 + 0.5x + 0.1172x^2 | 1 | **0.1443** |") {
		t.Errorf("markdown:\n%s", md.String())
	}
	if err := c.Write(&cs, "csv"); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&cs).ReadAll()
	if err != nil || len(recs) != len(c.Rows)+1 {
		t.Errorf("csv: %d records, %v", len(recs), err)
	}
	if err := c.Write(&js, "json"); err != nil {
		t.Fatal(err)
	}
	var back Comparison
	if err := json.Unmarshal(js.Bytes(), &back); err != nil || len(back.Rows) != len(c.Rows) {
		t.Errorf("json: %v", err)
	}
	if err := c.Write(&js, "xml"); err == nil {
		t.Error("format xml accepted")
	}
}

func TestCompareErrors(t *testing.T) {
	if _, err := Compare(CompareOptions{Bandwidth: 1}); err == nil {
		t.Error("no calibration accepted")
	}
	if _, err := Compare(CompareOptions{Kernel: "none", Calibration: Normal{0, 1}}); err == nil {
		t.Error("kernel none accepted")
	}
	if _, err := Compare(CompareOptions{Bandwidth: -1, Calibration: Normal{0, 1}}); err == nil {
		t.Error("negative bandwidth accepted")
	}
}

func TestRelChange(t *testing.T) {
	for _, c := range []struct {
		kv, dv float64
		want   string
	}{
		{0.9, 1, "-10.0%"},
		{1.5, 1, "+50.0%"},
		{4e-4, 1e-24, "4e+20× the direct fit"},
		{1, 0, "direct fit exact"},
	} {
		if got := relChange(c.kv, c.dv); got != c.want {
			t.Errorf("relChange(%g, %g) = %q, want %q", c.kv, c.dv, got, c.want)
		}
	}
}
