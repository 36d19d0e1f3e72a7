// Command switchboard is the Switchboard channel gateway.
//
//	switchboard [-config FILE]                      serve (embedded default without -config)
//	switchboard normalize -config FILE -connection NAME [-H 'Name: value']... < body
//
// main only wires: flags, config, logger, signals. The parts are built by
// gateway/app.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/switchboard-gw/switchboard/adapters/web"
	"github.com/switchboard-gw/switchboard/config"
	"github.com/switchboard-gw/switchboard/gateway/app"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "normalize" {
		return normalizeCmd(args[1:], stdin, stdout, stderr)
	}
	return serve(args, stdout, stderr)
}

// shutdownGrace bounds the drain of in-flight forwarding at shutdown.
const shutdownGrace = 15 * time.Second

func serve(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("switchboard", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "configuration file (YAML); the embedded default when empty")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	cfg, err := loadConfig(*path)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	log := newLogger(cfg.Log, stderr)
	a, err := app.New(cfg, log)
	if err != nil {
		log.Error("switchboard: start failed", "err", err)
		return 1
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		log.Error("switchboard: listen failed", "listen", cfg.Listen, "err", err)
		a.Shutdown(context.Background())
		return 1
	}
	printBanner(stdout, a, ln.Addr(), *path == "")
	errc := make(chan error, 1)
	go func() { errc <- a.Serve(ln) }()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	select {
	case s := <-sig:
		log.Info("switchboard: shutting down", "signal", s.String())
	case err := <-errc:
		log.Error("switchboard: server stopped", "err", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := a.Shutdown(ctx); err != nil {
		log.Warn("switchboard: shutdown incomplete; undelivered work stays spooled", "err", err)
	}
	log.Info("switchboard: stopped")
	return 0
}

func loadConfig(path string) (*config.Config, error) {
	if path == "" {
		return config.Default()
	}
	return config.Load(path)
}

func newLogger(c config.Log, w io.Writer) *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.Level)); err != nil {
		level = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// printBanner says where to point webhooks and, on the embedded default,
// how to try it.
func printBanner(w io.Writer, a *app.App, addr net.Addr, embedded bool) {
	base := "http://" + addr.String()
	if tcp, ok := addr.(*net.TCPAddr); ok && tcp.IP.IsUnspecified() {
		base = fmt.Sprintf("http://localhost:%d", tcp.Port)
	}
	fmt.Fprintf(w, "Switchboard listening on %s\nPoint each provider's webhook at:\n", addr)
	for _, line := range a.Webhooks(base) {
		fmt.Fprintln(w, "  "+line)
	}
	for _, name := range a.Web.Connections() {
		fmt.Fprintf(w, "Web widget: chat in a browser at %s/web/demo/%s (embed: %s/web/embed.js)\n", base, name, base)
	}
	if embedded {
		fmt.Fprintf(w, "Running on the embedded default (built-in echo backend, demo Messenger page, demo web widget).\n"+
			"Try it: %s\n", demoCurl(base, time.Now()))
		if c := a.Config.Connection("site"); c != nil && c.Web != nil {
			// The demo secret is public (it is in the embedded config).
			fmt.Fprintf(w, "On the demo page, identify as alice with user_hash %s\n", web.UserHash([]byte(c.Web.IdentitySecret), "alice"))
		}
	}
}
