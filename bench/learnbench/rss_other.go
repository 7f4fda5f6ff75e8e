//go:build !linux

package learnbench

// peakRSSMB is 0 where the peak resident set is not measured.
func peakRSSMB() float64 { return 0 }
