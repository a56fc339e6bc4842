//go:build unix

package pbopt

import (
	"context"
	"slices"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// BenchmarkStopLatency: how long Solve takes to return once Stop starts
// returning true, the stop coming at one of eight moments from 5 ms to
// 1.3 s into the search. Reports the worst and the median wall time, and
// the worst CPU time the process spent meanwhile, which on a loaded
// machine says what the search itself took to notice.
//
//	go test -run '^$' -bench StopLatency -benchtime 1x ./internal/pbopt
func BenchmarkStopLatency(b *testing.B) {
	for _, bi := range instances(b) {
		b.Run(bi.name, func(b *testing.B) {
			var wall, cpu []time.Duration
			for b.Loop() {
				for _, after := range []time.Duration{5, 10, 20, 40, 80, 160, 320, 1280} {
					var stopAt, cpuAt atomic.Int64
					timer := time.AfterFunc(after*time.Millisecond, func() {
						cpuAt.Store(int64(processCPU()))
						stopAt.Store(time.Now().UnixNano())
					})
					Solve(context.Background(), bi.in.p, Options{Stop: func() bool { return stopAt.Load() != 0 }})
					end, endCPU := time.Now(), processCPU()
					if !timer.Stop() {
						for stopAt.Load() == 0 { // the timer fired: wait for its stores
						}
						wall = append(wall, end.Sub(time.Unix(0, stopAt.Load())))
						cpu = append(cpu, endCPU-time.Duration(cpuAt.Load()))
					}
				}
			}
			if len(wall) == 0 {
				return // solved before the first stop
			}
			slices.Sort(wall)
			b.ReportMetric(float64(wall[len(wall)-1].Microseconds())/1000, "max-ms")
			b.ReportMetric(float64(wall[len(wall)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(slices.Max(cpu).Microseconds())/1000, "cpu-max-ms")
		})
	}
}

// processCPU is the CPU time the process has used, user and system.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		panic(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
