//go:build race

package indexbench

// raceEnabled shrinks test datasets: the race detector slows the graph's
// atomic loads about thirtyfold.
const raceEnabled = true
