package he

import (
	"math"
	"testing"
)

// TestReLUReference runs the cheap composite (SignAlpha6) at LogN 14 and
// checks the decrypted result against the same circuit in plaintext.
func TestReLUReference(t *testing.T) {
	ref, err := NewReLUReference(4, SignAlpha6)
	if err != nil {
		t.Fatal(err)
	}
	if ref.Depth() != 8 {
		t.Fatalf("depth %d, want 8", ref.Depth())
	}
	f := getFixture(t, 14, ref.Depth())
	plan, owner, keys := f.plan, f.owner, f.keys
	// The conjugation key is added to the shared fixture; no other test
	// depends on its absence.
	if err := owner.AddConjugation(keys); err != nil {
		t.Fatal(err)
	}
	xs := testValues(256, -4, 4, 11)
	ct, err := owner.Encrypt(xs, plan.Level)
	if err != nil {
		t.Fatal(err)
	}
	out, err := ref.Eval(keys.NewEvaluator(), ct)
	if err != nil {
		t.Fatal(err)
	}
	if got := plan.Level - out.Level(); got != ref.Depth() {
		t.Errorf("consumed %d levels, want %d", got, ref.Depth())
	}
	got, err := owner.Decrypt(out)
	if err != nil {
		t.Fatal(err)
	}
	var worst float64
	for i, x := range xs {
		worst = math.Max(worst, math.Abs(got[i]-ref.Plain(x)))
	}
	// CKKS noise (fresh random keys each run) is amplified by the steep
	// slope of the composite sign near 0: across runs the worst error was
	// 2e-5 … 1.4e-4. 1e-3 still lies an order of magnitude below what the
	// α = 6 composite itself misses ReLU by near the kink.
	t.Logf("max |encrypted − plaintext circuit| = %.3g", worst)
	if worst > 1e-3 {
		t.Errorf("max |encrypted − plaintext circuit| = %g", worst)
	}
	if _, err := NewReLUReference(0, SignAlpha6); err == nil {
		t.Error("B = 0 accepted")
	}
	if _, err := NewReLUReference(1, [][]string{{"0", "x"}}); err == nil {
		t.Error("bad coefficient accepted")
	}
	low, _ := owner.Encrypt(xs, 3)
	if _, err := ref.Eval(keys.NewEvaluator(), low); err == nil {
		t.Error("level too low accepted")
	}
}
