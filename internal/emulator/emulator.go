// Package emulator starts the local stand-ins for the clouds (an S3-compatible
// server, a Cosmos DB-compatible server, Multi-Cloud's own Vision server) as
// real processes on 127.0.0.1 for the duration of a test, so that providers
// are tested over the network exactly as a person's copy talks to the cloud.
//
// The npm servers are installed into .ci/emulators by `make emulators`, which
// `make test` runs first. A test that needs one fails in CI when it is
// missing and is skipped, with the command to run, elsewhere.
package emulator

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// Root is the repository's top folder.
func Root() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(filepath.Dir(filepath.Dir(file)))
}

// NodeBin is the path of an npm package's command installed by
// `make emulators`. It skips (or, in CI, fails) the test when it is missing.
func NodeBin(tb testing.TB, name string) string {
	tb.Helper()
	p, err := NodeBinPath(name)
	if err != nil {
		Missing(tb, err.Error())
	}
	return p
}

// NodeBinPath is NodeBin outside tests.
func NodeBinPath(name string) (string, error) {
	p := filepath.Join(Root(), ".ci", "emulators", "node_modules", ".bin", name)
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("%s is not installed; run `make emulators`", name)
	}
	return p, nil
}

// Missing skips the test, or fails it in CI where everything must be there.
func Missing(tb testing.TB, why string) {
	tb.Helper()
	if os.Getenv("CI") != "" {
		tb.Fatal(why)
	}
	tb.Skip(why)
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(tb testing.TB) int {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Server is a started process.
type Server struct {
	Addr string // 127.0.0.1:PORT
	Port int
	cmd  *exec.Cmd
	out  *syncBuffer

	exited  chan struct{}
	waitErr error
}

// Output is what the server printed so far, for failure messages.
func (s *Server) Output() string { return s.out.String() }

// Spec describes a server to start. In Args and Env, {port} is replaced by the
// chosen port.
type Spec struct {
	Name string
	Path string
	Args []string
	Env  []string
	// Ready, if set, is called until it returns nil (the default waits for
	// the port to accept connections).
	Ready func(addr string) error
	// Timeout for the server to become ready; default 30 s.
	Timeout time.Duration
}

// Start runs the server on a free loopback port and stops it when the test
// (or benchmark) ends.
func Start(tb testing.TB, spec Spec) *Server {
	tb.Helper()
	s, err := Launch(spec)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(s.Stop)
	return s
}

// Launch runs the server on a free loopback port and waits until it is
// ready. The caller stops it with Stop.
func Launch(spec Spec) (*Server, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	sub := func(s string) string { return strings.ReplaceAll(s, "{port}", fmt.Sprint(port)) }
	args := make([]string, len(spec.Args))
	for i, a := range spec.Args {
		args[i] = sub(a)
	}
	cmd := exec.Command(spec.Path, args...)
	cmd.Env = os.Environ()
	for _, e := range spec.Env {
		cmd.Env = append(cmd.Env, sub(e))
	}
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", spec.Name, err)
	}
	s := &Server{Addr: fmt.Sprintf("127.0.0.1:%d", port), Port: port, cmd: cmd, out: out,
		exited: make(chan struct{})}
	go func() {
		s.waitErr = cmd.Wait()
		close(s.exited)
	}()

	ready := spec.Ready
	if ready == nil {
		ready = func(addr string) error {
			c, err := net.DialTimeout("tcp", addr, time.Second)
			if err == nil {
				c.Close()
			}
			return err
		}
	}
	timeout := spec.Timeout
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for {
		err := ready(s.Addr)
		if err == nil {
			return s, nil
		}
		select {
		case <-s.exited:
			return nil, fmt.Errorf("%s exited before it was ready (%v):\n%s", spec.Name,
				s.waitErr, out.String())
		case <-ctx.Done():
			s.Stop()
			return nil, fmt.Errorf("%s not ready after %v: %v\n%s", spec.Name, timeout, err,
				out.String())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Stop kills the server and waits for it to exit.
func (s *Server) Stop() {
	s.cmd.Process.Kill()
	<-s.exited
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.b.Len() > 1<<20 { // keep the start; a chatty server must not eat memory
		return len(p), nil
	}
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
