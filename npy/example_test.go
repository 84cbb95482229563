package npy_test

import (
	"bytes"
	"fmt"

	"github.com/krelu/krelu/npy"
)

func Example() {
	var buf bytes.Buffer
	if err := npy.Write(&buf, []float64{1, 2, 3, 4, 5, 6}, []int{2, 3}); err != nil {
		fmt.Println(err)
		return
	}
	data, shape, err := npy.Read(&buf)
	fmt.Println(data, shape, err)
	// Output: [1 2 3 4 5 6] [2 3] <nil>
}
