//go:build race

package nn

// raceEnabled is set under the race detector, which makes the real-data
// training in the tests ~10× slower.
const raceEnabled = true
