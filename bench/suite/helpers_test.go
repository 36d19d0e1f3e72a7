package suite

import (
	"context"
	"io"
	"sync"
	"testing"
	"time"
)

// syncWriter serializes writes from the progress ticker and the phases.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

func (s *syncWriter) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.(interface{ String() string }).String()
}

// inProcessEnv starts the suite's environment (gateway, mocks) in-process
// with the default options, stopped when the test ends; ctx bounds it.
func inProcessEnv(t *testing.T) (context.Context, *env) {
	t.Helper()
	o := Options{Mode: ModeInProcess}
	if err := o.normalize(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	e, err := startEnv(ctx, &o, o.pages(), io.Discard, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.close)
	return ctx, e
}
