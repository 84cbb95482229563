package he

import "testing"

func TestMeasureOpCosts(t *testing.T) {
	plan, err := NewPlan(3, 0, 13)
	if err != nil {
		t.Fatal(err)
	}
	c, err := MeasureOpCosts(plan.Params, plan.Preset.Name, 3)
	if err != nil {
		t.Fatal(err)
	}
	L := plan.Params.MaxLevel()
	for _, s := range [][]float64{c.Square, c.PlainMul, c.Rotate, c.Add} {
		if len(s) != L+1 {
			t.Fatalf("%d levels, want %d", len(s), L+1)
		}
		for lvl, v := range s {
			if !(v > 0) {
				t.Fatalf("level %d cost %v, want > 0", lvl, v)
			}
		}
	}
	if _, err := MeasureOpCosts(plan.Params, "x", 0); err == nil {
		t.Fatal("0 repetitions accepted")
	}
}
