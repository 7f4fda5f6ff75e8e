package indexbench

import (
	"syscall"
	"time"
)

// threadCPU returns the CPU time consumed by the calling OS thread, or
// ok=false when it cannot be read.
func threadCPU() (time.Duration, bool) {
	const rusageThread = 1 // RUSAGE_THREAD
	var ru syscall.Rusage
	if err := syscall.Getrusage(rusageThread, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
