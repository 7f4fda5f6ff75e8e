//go:build unix

// Package cputime reads the CPU time this process has used. Benchmarks
// report it per operation because, unlike wall time, it does not grow when
// other processes share the CPUs.
package cputime

import (
	"syscall"
	"time"
)

// Process is the CPU time (user and system, every thread) this process
// has used so far; 0 when the kernel does not say.
func Process() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
