// Package app wires Switchboard's parts from a configuration: the store,
// identity, the inbound pipeline, outbound dispatch and the HTTP server.
// The switchboard command and the end-to-end tests both start the gateway
// through it, so what is tested is what runs.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	vm "github.com/VictoriaMetrics/metrics"

	"github.com/switchboard-gw/switchboard/config"
	"github.com/switchboard-gw/switchboard/gateway/backend"
	"github.com/switchboard-gw/switchboard/gateway/connections"
	"github.com/switchboard-gw/switchboard/gateway/dispatch"
	"github.com/switchboard-gw/switchboard/gateway/identity"
	"github.com/switchboard-gw/switchboard/gateway/pipeline"
	"github.com/switchboard-gw/switchboard/gateway/server"
	"github.com/switchboard-gw/switchboard/gateway/store"
	"github.com/switchboard-gw/switchboard/gateway/store/bolt"
	"github.com/switchboard-gw/switchboard/gateway/webchat"
)

// App is a running gateway.
type App struct {
	Config   *config.Config
	Log      *slog.Logger
	Store    store.Store
	Conns    *connections.Set
	Identity *identity.Resolver
	Pipeline *pipeline.Pipeline
	Dispatch *dispatch.Dispatcher
	// Web serves the web channel; nil without a web connection.
	Web    *webchat.Service
	Server *server.Server

	metrics *vm.Set          // this App's gauges on /metrics
	batcher *backend.Batcher // nil unless backend.batch > 1
}

// New builds every part from cfg, opens the store and replays its spool.
// Nothing listens until Serve.
func New(cfg *config.Config, log *slog.Logger) (*App, error) {
	a := &App{Config: cfg, Log: log}
	conns, err := connections.Build(cfg)
	if err != nil {
		return nil, err
	}
	a.Conns = conns
	a.metrics = vm.NewSet() // registered by registerMetrics once New succeeds
	commits := a.metrics.NewHistogram("switchboard_store_commit_duration_seconds")
	st, err := bolt.Open(cfg.Store.Path, store.Options{DedupTTL: cfg.Store.DedupTTL, CommitInterval: commitInterval(cfg.Store),
		ObserveCommit: func(d time.Duration) { commits.Update(d.Seconds()) }})
	if err != nil {
		return nil, err
	}
	a.Store = st
	a.Identity, err = identity.New(st, identity.Options{CacheItems: cfg.Store.CacheItems, Key: []byte(cfg.Identity.Key)})
	if err != nil {
		st.Close()
		return nil, err
	}
	var be backend.Client = backend.Echo{}
	if cfg.Backend.URL != config.BuiltinEcho {
		h := backend.NewHTTP(cfg.Backend.URL, []byte(cfg.Backend.Secret), cfg.Backend.Timeout, cfg.Backend.Concurrency)
		be = h
		if cfg.Backend.Batch > 1 {
			// A few senders keep POSTs overlapping; each batch holds
			// up to Batch lanes' heads.
			a.batcher = backend.NewBatcher(h, cfg.Backend.Batch, cfg.Backend.BatchWait, 4, log)
			be = a.batcher
		}
	}
	a.Dispatch = &dispatch.Dispatcher{
		Store:         st,
		Conns:         conns,
		People:        a.Identity,
		Log:           log,
		Workers:       cfg.Outbound.Concurrency,
		EnforceWindow: *cfg.Outbound.EnforceWindow,
		Timeout:       cfg.Outbound.Timeout,
		Breaker:       cfg.Outbound.Breaker,
		RetryMin:      cfg.Backend.RetryMin,
		RetryMax:      cfg.Backend.RetryMax,
	}
	if err := a.Dispatch.Start(); err != nil {
		a.close(context.Background())
		return nil, err
	}
	a.Pipeline = &pipeline.Pipeline{
		Store:    st,
		Identity: a.Identity,
		Backend:  be,
		Replies:  a.Dispatch,
		Log:      log,
		Workers:  cfg.Backend.Concurrency,
		RetryMin: cfg.Backend.RetryMin,
		RetryMax: cfg.Backend.RetryMax,
		DedupTTL: make(map[string]time.Duration, len(cfg.Connections)),
	}
	for i := range cfg.Connections {
		cn := &cfg.Connections[i]
		a.Pipeline.DedupTTL[cn.Name] = cfg.DedupTTLFor(cn)
	}
	// The window check of a reply reads what the pipeline just wrote from
	// its memory, not from the store (a read transaction per reply).
	a.Dispatch.Windows = a.Pipeline
	// The web channel's transport must be in place before the pipeline
	// replays spooled replies to web conversations into dispatch.
	a.Web, err = webchat.New(cfg, conns, st, a.Identity, a.Pipeline, log)
	if err != nil {
		a.close(context.Background())
		return nil, err
	}
	if err := a.Pipeline.Start(); err != nil {
		a.close(context.Background())
		return nil, err
	}
	a.Server = &server.Server{
		Conns:        conns,
		Pipeline:     a.Pipeline,
		Dispatch:     a.Dispatch,
		Identity:     a.Identity,
		APITokens:    cfg.APITokens,
		MaxBodyBytes: cfg.Limits.MaxBodyBytes,
		Log:          log,
	}
	if a.Web != nil {
		a.Server.Web = a.Web
	}
	if usesDemoGraph(cfg) {
		a.Server.Extra = demoGraph(log)
	}
	a.registerMetrics()
	return a, nil
}

// Serve serves HTTP on ln until Shutdown.
func (a *App) Serve(ln net.Listener) error { return a.Server.Serve(ln) }

// Shutdown stops taking requests, lets forwarding and sending in flight
// finish until ctx is done, and closes the store. What was not delivered
// stays spooled for the next start.
func (a *App) Shutdown(ctx context.Context) error {
	a.Web.Close() // ends the live streams, which would hold the server open
	err := a.Server.Shutdown(ctx)
	return errors.Join(err, a.close(ctx))
}

func (a *App) close(ctx context.Context) error {
	a.Web.Close()
	a.unregisterMetrics()
	var errs []error
	if a.Pipeline != nil {
		errs = append(errs, a.Pipeline.Close(ctx))
	}
	if a.Dispatch != nil {
		errs = append(errs, a.Dispatch.Close(ctx))
	}
	if a.batcher != nil {
		a.batcher.Close()
	}
	if a.Identity != nil {
		a.Identity.Close()
	}
	if a.Store != nil {
		errs = append(errs, a.Store.Close())
	}
	return errors.Join(errs...)
}

// Webhooks returns, for printing at start, the webhook route of every
// connection on base (e.g. http://localhost:8080).
func (a *App) Webhooks(base string) []string {
	var out []string
	for _, c := range a.Conns.All() {
		if c.Inbound == nil {
			continue // the web channel takes no webhooks
		}
		out = append(out, fmt.Sprintf("%-10s %-12s %s/webhooks/%s/%s", c.Name, c.Channel, base, c.Channel, c.Name))
	}
	return out
}

// commitInterval is the configured store.commit_interval (SetDefaults
// fills it; a Config built by hand may leave it nil: no pacing).
func commitInterval(s config.Store) time.Duration {
	if s.CommitInterval == nil {
		return 0
	}
	return *s.CommitInterval
}
