//go:build unix

package ranker

import (
	"syscall"
	"time"
)

// processCPU is the CPU time (user and system) the process has used:
// benchmarks report it per operation because, unlike wall time, it does
// not grow when other processes share the CPUs.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
