//go:build !race

package indexbench

const raceEnabled = false
