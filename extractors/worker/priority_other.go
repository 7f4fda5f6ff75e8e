//go:build !linux

package worker

// inBackground runs f. Only Linux sets a nice value per thread; elsewhere
// backfill batches run at the process's priority.
func inBackground(_ int, f func()) { f() }
