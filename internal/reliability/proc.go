package reliability

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// ProcMemory is a process's resident memory from /proc/PID/status.
type ProcMemory struct {
	RSS  int64 // VmRSS, bytes
	Peak int64 // VmHWM: the peak resident set since the process started, bytes
}

// ReadMemory reads pid's VmRSS and VmHWM.
func ReadMemory(pid int) (ProcMemory, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return ProcMemory{}, fmt.Errorf("reliability: %w", err)
	}
	defer f.Close()
	var m ProcMemory
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok || (name != "VmRSS" && name != "VmHWM") {
			continue
		}
		fields := strings.Fields(rest) // "12345 kB"
		if len(fields) != 2 || fields[1] != "kB" {
			return m, fmt.Errorf("reliability: /proc/%d/status %s: %q", pid, name, rest)
		}
		kb, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil {
			return m, fmt.Errorf("reliability: /proc/%d/status %s: %w", pid, name, err)
		}
		if name == "VmRSS" {
			m.RSS = kb << 10
		} else {
			m.Peak = kb << 10
		}
	}
	if err := sc.Err(); err != nil {
		return m, fmt.Errorf("reliability: %w", err)
	}
	if m.RSS == 0 || m.Peak == 0 {
		return m, fmt.Errorf("reliability: /proc/%d/status has no VmRSS or VmHWM", pid)
	}
	return m, nil
}

// OpenFDs counts pid's open file descriptors.
func OpenFDs(pid int) (int, error) {
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return 0, fmt.Errorf("reliability: %w", err)
	}
	return len(ents), nil
}

// MiB formats bytes as mebibytes.
func MiB(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }
