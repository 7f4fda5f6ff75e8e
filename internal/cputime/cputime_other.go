//go:build !unix

// Package cputime reads the CPU time this process has used. Benchmarks
// report it per operation because, unlike wall time, it does not grow when
// other processes share the CPUs.
package cputime

import "time"

// Process is not measured on this platform: always 0.
func Process() time.Duration { return 0 }
