package adapters

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

type timeoutErr struct{}

func (timeoutErr) Error() string { return "i/o timeout" }
func (timeoutErr) Timeout() bool { return true }

// TestNetworkError moved here with NetworkError from adapters/meta.
func TestNetworkError(t *testing.T) {
	tests := []struct {
		err  error
		code string
	}{
		{fasthttp.ErrTimeout, "timeout"},
		{fasthttp.ErrDialTimeout, "timeout"},
		{context.DeadlineExceeded, "timeout"},
		{fmt.Errorf("calling: %w", context.DeadlineExceeded), "timeout"},
		{&net.OpError{Op: "read", Err: timeoutErr{}}, "timeout"},
		{context.Canceled, "canceled"},
		{fasthttp.ErrConnectionClosed, "network"},
		{&net.OpError{Op: "dial", Err: errors.New("connection refused")}, "network"},
	}
	for _, tt := range tests {
		ae := NetworkError(tt.err)
		if ae.Class != ClassTransient || ae.Code != tt.code {
			t.Errorf("NetworkError(%v) = %v %q, want transient %q", tt.err, ae.Class, ae.Code, tt.code)
		}
		if !ae.Class.Retryable() {
			t.Errorf("%v not retryable", tt.err)
		}
	}
}

// doer records how it was called.
type doer struct {
	calls    int
	deadline time.Time // of the last DoDeadline; zero after Do
}

func (d *doer) Do(*fasthttp.Request, *fasthttp.Response) error {
	d.calls++
	d.deadline = time.Time{}
	return nil
}

type deadlineDoer struct{ doer }

func (d *deadlineDoer) DoDeadline(_ *fasthttp.Request, _ *fasthttp.Response, dl time.Time) error {
	d.calls++
	d.deadline = dl
	return nil
}

func TestDo(t *testing.T) {
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	soon := time.Now().Add(time.Minute)
	sooner, later := soon.Add(-time.Second), soon.Add(time.Second)
	withDeadline, cancel := context.WithDeadline(context.Background(), soon)
	defer cancel()
	done, stop := context.WithCancel(context.Background())
	stop()

	tests := []struct {
		name     string
		ctx      context.Context
		limit    time.Time
		deadline bool // the client can take a deadline
		calls    int
		want     time.Time
		err      error
	}{
		{"no deadline", context.Background(), time.Time{}, true, 1, time.Time{}, nil},
		{"ctx deadline", withDeadline, time.Time{}, true, 1, soon, nil},
		{"ctx deadline, plain client", withDeadline, time.Time{}, false, 1, time.Time{}, nil},
		{"limit alone", context.Background(), soon, true, 1, soon, nil},
		{"limit before ctx's", withDeadline, sooner, true, 1, sooner, nil},
		{"limit after ctx's", withDeadline, later, true, 1, soon, nil},
		{"limit, plain client", context.Background(), soon, false, 1, time.Time{}, nil},
		{"done before", done, time.Time{}, true, 0, time.Time{}, context.Canceled},
	}
	for _, tt := range tests {
		var c Doer
		d := &deadlineDoer{}
		if tt.deadline {
			c = d
		} else {
			c = &d.doer
		}
		if err := DoBefore(tt.ctx, c, req, resp, tt.limit); !errors.Is(err, tt.err) {
			t.Errorf("%s: err %v, want %v", tt.name, err, tt.err)
		}
		if d.calls != tt.calls || !d.deadline.Equal(tt.want) {
			t.Errorf("%s: %d calls, deadline %v; want %d, %v", tt.name, d.calls, d.deadline, tt.calls, tt.want)
		}
		if tt.limit.IsZero() {
			d2 := &deadlineDoer{}
			if tt.deadline {
				c = d2
			} else {
				c = &d2.doer
			}
			if err := Do(tt.ctx, c, req, resp); !errors.Is(err, tt.err) || d2.calls != tt.calls || !d2.deadline.Equal(tt.want) {
				t.Errorf("%s: Do differs from DoBefore without a limit: %v, %d calls, deadline %v", tt.name, err, d2.calls, d2.deadline)
			}
		}
	}
}

func TestNewClient(t *testing.T) {
	c := NewClient(42 * time.Second)
	if c.Name != "switchboard" || c.ReadTimeout != 42*time.Second || c.WriteTimeout != 10*time.Second || c.MaxConnsPerHost != 512 ||
		c.MaxIdleConnDuration != time.Minute || c.MaxConnWaitTimeout != 5*time.Second || c.MaxResponseBodySize != 1<<20 {
		t.Errorf("NewClient = %+v", c)
	}
	if NewClient(time.Second) == NewClient(time.Second) {
		t.Error("NewClient shares one client")
	}
	var _ DeadlineDoer = c
}

// TestNewClientResumesTLS: a new connection to a host already visited
// resumes its TLS session (Graph closes the connection after each batch
// answer, so a batching connection reconnects often).
func TestNewClientResumesTLS(t *testing.T) {
	var mu sync.Mutex
	var resumed []bool
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Connection", "close") // as a Graph batch answer does
		w.Write([]byte(`{}`))
	}))
	srv.TLS = &tls.Config{VerifyConnection: func(cs tls.ConnectionState) error {
		mu.Lock()
		resumed = append(resumed, cs.DidResume)
		mu.Unlock()
		return nil
	}}
	srv.StartTLS()
	defer srv.Close()

	c := NewClient(5 * time.Second)
	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate())
	c.TLSConfig.RootCAs = roots
	for i := range 3 {
		req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
		req.SetRequestURI(srv.URL + "/")
		if err := c.Do(req, resp); err != nil || resp.StatusCode() != 200 {
			t.Fatalf("call %d: %v %d", i, err, resp.StatusCode())
		}
		fasthttp.ReleaseRequest(req)
		fasthttp.ReleaseResponse(resp)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(resumed) != 3 || resumed[0] || !resumed[1] || !resumed[2] {
		t.Fatalf("handshakes resumed %v, want [false true true]: three connections, the later two resumed", resumed)
	}
}
