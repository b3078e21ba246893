package app

import (
	"syscall"
	"testing"
)

// cpuSeconds is the CPU time this process has used, user and system.
// Windows has no getrusage; GetProcessTimes counts in 100 ns ticks.
func cpuSeconds(b *testing.B) float64 {
	h, err := syscall.GetCurrentProcess()
	if err != nil {
		b.Fatal(err)
	}
	var created, exited, kernel, user syscall.Filetime
	if err := syscall.GetProcessTimes(h, &created, &exited, &kernel, &user); err != nil {
		b.Fatal(err)
	}
	ticks := func(t syscall.Filetime) float64 {
		return float64(uint64(t.HighDateTime)<<32 | uint64(t.LowDateTime))
	}
	return (ticks(kernel) + ticks(user)) / 1e7
}
