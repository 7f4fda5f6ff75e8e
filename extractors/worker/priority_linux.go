package worker

import (
	"runtime"
	"syscall"
)

// inBackground runs f on an OS thread of its own at nice value nice (0:
// on the calling goroutine, unchanged) and waits for it. The thread is
// never handed back to the Go scheduler: a goroutine that exits while
// locked to its thread takes the thread with it, so no other goroutine
// ever runs at the lowered priority. Raising the nice value needs no
// privilege; a failure leaves the thread at its priority, which is only
// slower for live work, never wrong.
func inBackground(nice int, f func()) {
	if nice == 0 {
		f()
		return
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread() // never unlocked: the thread ends with this goroutine
		_ = syscall.Setpriority(syscall.PRIO_PROCESS, syscall.Gettid(), nice)
		f()
	}()
	<-done
}
