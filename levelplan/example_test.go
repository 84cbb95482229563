package levelplan_test

import (
	"fmt"

	"github.com/krelu/krelu/levelplan"
)

// A residual block between two layers, with 3 levels per bootstrap: the
// planner bootstraps once, before the fork, so both branches share it.
func Example() {
	ops := []levelplan.Op{
		{Name: "conv0", Inputs: []int{levelplan.Input}, Depth: 1},
		{Name: "act0", Inputs: []int{0}, Depth: 1},
		{Name: "conv1", Inputs: []int{1}, Depth: 1}, // residual branch
		{Name: "act1", Inputs: []int{2}, Depth: 1},
		{Name: "add", Inputs: []int{3, 1}}, // joins the branch and the shortcut
		{Name: "fc", Inputs: []int{4}, Depth: 1},
	}
	res, err := levelplan.Plan(ops, levelplan.Config{MaxLevel: 3, BootLevel: 3, BootCost: 10})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("bootstraps:", res.NumBootstraps())
	for _, op := range res.Ops {
		fmt.Printf("%s at level %d\n", op.Name, op.Level)
	}
	// Output:
	// bootstraps: 1
	// conv0 at level 2
	// act0 at level 1
	// conv1 at level 3
	// act1 at level 2
	// add at level 1
	// fc at level 1
}
