package reliability

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Build compiles `gatescope` from the module at root into dir and returns
// the binary's path.
func Build(ctx context.Context, root, dir string) (string, error) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		gobin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	bin := filepath.Join(dir, "gatescope")
	cmd := exec.CommandContext(ctx, gobin, "build", "-o", bin, "./cmd/gatescope")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("reliability: go build ./cmd/gatescope: %w\n%s", err, out)
	}
	return bin, nil
}

// ModuleRoot finds the directory holding go.mod, from the working
// directory up.
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("reliability: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("reliability: no go.mod above the working directory")
		}
		dir = parent
	}
}

// FreeAddr returns a loopback address with a port that was free a moment
// ago; a restarted server binds it again.
func FreeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("reliability: %w", err)
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// Log is the combined output of every run of a server, safe for
// concurrent writes.
type Log struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *Log) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// String returns everything written so far.
func (l *Log) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// Server runs `gatescope serve` as a child process on a fixed address and
// data directory, so that it can be killed and started again in place.
type Server struct {
	Bin, Dir, Addr, Token string
	// Args are extra serve flags.
	Args []string
	// Scheme is "http" or "https"; Client must trust the server then.
	Scheme string
	Client *http.Client
	// Log receives the output of every run.
	Log *Log

	cmd  *exec.Cmd
	done chan error
	// Starts counts runs begun.
	Starts int
}

// NewServer describes a server; Start runs it.
func NewServer(bin, dir, token string, args ...string) (*Server, error) {
	addr, err := FreeAddr()
	if err != nil {
		return nil, err
	}
	return &Server{Bin: bin, Dir: dir, Addr: addr, Token: token, Args: args, Scheme: "http",
		Client: &http.Client{Timeout: 30 * time.Second}, Log: &Log{}}, nil
}

// URL is the server's address for path.
func (s *Server) URL(path string) string { return s.Scheme + "://" + s.Addr + path }

// Launch starts the process without waiting for it to listen.
func (s *Server) Launch() error {
	if s.cmd != nil {
		return errors.New("reliability: server already running")
	}
	args := append([]string{"serve", "--data", s.Dir, "--addr", s.Addr, "--admin-token", s.Token, "--log-level", "debug"}, s.Args...)
	cmd := exec.Command(s.Bin, args...)
	cmd.Stdout, cmd.Stderr = s.Log, s.Log
	cmd.Env = append(os.Environ(), "GOTRACEBACK=all")
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("reliability: start %s: %w", s.Bin, err)
	}
	s.Starts++
	fmt.Fprintf(s.Log, "=== run %d, pid %d\n", s.Starts, cmd.Process.Pid)
	s.cmd = cmd
	s.done = make(chan error, 1)
	go func() { s.done <- cmd.Wait() }()
	return nil
}

// Start launches the process and waits until it answers /healthz (it binds
// its address only after replaying the spool).
func (s *Server) Start(timeout time.Duration) error {
	if err := s.Launch(); err != nil {
		return err
	}
	return s.WaitReady(timeout)
}

// WaitReady polls /healthz until it answers 200.
func (s *Server) WaitReady(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		select {
		case err := <-s.done:
			s.cmd = nil
			return fmt.Errorf("reliability: server exited while starting: %v\n%s", err, tail(s.Log.String(), 4000))
		default:
		}
		resp, err := s.Client.Get(s.URL("/healthz"))
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("reliability: server not ready after %v: %v", timeout, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// PID is the running process's id, 0 when none runs.
func (s *Server) PID() int {
	if s.cmd == nil {
		return 0
	}
	return s.cmd.Process.Pid
}

// Running reports whether the process has been started and not reaped.
func (s *Server) Running() bool { return s.cmd != nil }

// Kill sends SIGKILL and waits for the process to die.
func (s *Server) Kill() error {
	if s.cmd == nil {
		return nil
	}
	if err := s.cmd.Process.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("reliability: kill: %w", err)
	}
	<-s.done
	s.cmd = nil
	return nil
}

// Stop sends SIGTERM and waits up to timeout for a clean exit; it returns
// an error if the process exits non-zero or must be killed.
func (s *Server) Stop(timeout time.Duration) error {
	if s.cmd == nil {
		return nil
	}
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return fmt.Errorf("reliability: SIGTERM: %w", err)
	}
	return s.Wait(timeout)
}

// Wait waits for the process to exit (after a signal sent elsewhere).
func (s *Server) Wait(timeout time.Duration) error {
	select {
	case err := <-s.done:
		s.cmd = nil
		if err != nil {
			return fmt.Errorf("reliability: server exited with %v\n%s", err, tail(s.Log.String(), 4000))
		}
		return nil
	case <-time.After(timeout):
		s.Kill()
		return fmt.Errorf("reliability: server did not exit within %v of SIGTERM; killed", timeout)
	}
}

// Signal sends sig to the running process.
func (s *Server) Signal(sig os.Signal) error {
	if s.cmd == nil {
		return errors.New("reliability: no server running")
	}
	return s.cmd.Process.Signal(sig)
}

// LeakedSecrets returns the secrets that appear in the server's output.
func (s *Server) LeakedSecrets(secrets ...string) []string {
	out := s.Log.String()
	var leaked []string
	for _, sec := range secrets {
		if sec != "" && strings.Contains(out, sec) {
			leaked = append(leaked, sec)
		}
	}
	return leaked
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// Tail returns the last n bytes of the server's output.
func (s *Server) Tail(n int) string { return tail(s.Log.String(), n) }
