package he

import (
	"os/exec"
	"strings"
	"testing"
)

// The CKKS layer must not depend on the fitting engine (nor anything above
// it): activations reach it through package activation.
func TestHeDoesNotImportFitter(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	for _, p := range strings.Fields(string(out)) {
		for _, banned := range []string{"/approx", "/calib", "/nn", "/transformer", "/henn", "/serve"} {
			if strings.HasPrefix(p, "github.com/krelu/krelu") && strings.HasSuffix(p, banned) {
				t.Errorf("package he depends on %s", p)
			}
		}
	}
}
