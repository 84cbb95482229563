package mnist_test

import (
	"fmt"
	"log"

	"github.com/krelu/krelu/mnist"
)

func ExampleLoad() {
	test, err := mnist.Load(mnist.Fashion, "", false)
	if err != nil {
		log.Fatal(err)
	}
	r, c := test.X.Dims()
	fmt.Println(r, c, test.Y[:5])
	// Output: 10000 784 [9 2 1 1 6]
}
